"""One invocation of a local function: its handler in a Python process of its own (bootstrap.py,
by the interpreter running the twin), the event on its standard input, its standard output and
error as the invocation's log, its Timeout enforced by killing the process group, as Lambda
stops a function that runs too long.

The log is framed as Lambda frames it in CloudWatch Logs (START, END, REPORT lines;
https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html) and appended to the function's
log file; the invocation answers its own part."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from pipelines.local.arns import REGION

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
# Lambda's payload bound for a synchronous response (6 MB); Lambda's error message names the
# bound it checks (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024


@dataclass
class Outcome:
    payload: bytes  # what Invoke answers as Payload
    error: bool  # whether Invoke answers FunctionError: Unhandled
    log: str  # this invocation's log, framed


def invoke(configuration: Dict[str, Any], code: Path, event: bytes, log_file: Path) -> Outcome:
    """Run the function of `configuration` (its code unpacked in `code`) on `event` (JSON)."""
    request_id = str(uuid.uuid4())
    timeout = int(configuration["Timeout"])
    started = time.time()
    env = environment(configuration, request_id, started + timeout)
    with tempfile.TemporaryDirectory(prefix="churn-lambda-") as scratch:
        result_file = Path(scratch) / "outcome.json"
        output_file = Path(scratch) / "output.log"
        env["TMPDIR"] = scratch
        with open(output_file, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, str(BOOTSTRAP), str(code), configuration["Handler"],
                 str(result_file)],
                stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT, env=env,
                cwd=str(code), start_new_session=True,
            )  # fmt: skip
            timed_out = False
            try:
                process.communicate(event, timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill(process)
        seconds = time.time() - started
        body = output_file.read_text("utf-8", "replace")
        outcome = _outcome(result_file, request_id, process.returncode, timed_out, timeout)
    log = _framed(request_id, body, seconds, configuration, timed_out)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a", encoding="utf-8") as f:
        f.write(log)
    return Outcome(outcome[0], outcome[1], log)


def environment(configuration: Dict[str, Any], request_id: str, deadline: float) -> Dict[str, str]:
    """What a function's process sees: its Environment variables and the ones Lambda reserves
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
    nothing of the caller's but PATH (and no credentials: a local function reaching AWS must be
    given them, as its role would)."""
    name = configuration["FunctionName"]
    env = dict((configuration.get("Environment") or {}).get("Variables") or {})
    env.update(
        {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EXECUTION_ENV": "AWS_Lambda_%s" % configuration["Runtime"],
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configuration["MemorySize"]),
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/%s" % name,
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]")
            + request_id.replace("-", ""),
            "LAMBDA_TASK_ROOT": "",
            "_HANDLER": configuration["Handler"],
            "_CHURN_REQUEST_ID": request_id,
            "_CHURN_DEADLINE_MS": "%d" % (deadline * 1000),
            "_CHURN_INVOKED_ARN": configuration["FunctionArn"],
        }
    )
    return env


def _kill(process: "subprocess.Popen[bytes]") -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _outcome(
    result_file: Path, request_id: str, code: Optional[int], timed_out: bool, timeout: int
) -> "tuple[bytes, bool]":
    if timed_out:
        # Lambda's answer to a function stopped at its Timeout.
        return _error(
            "Sandbox.Timedout",
            "RequestId: %s Error: Task timed out after %.2f seconds" % (request_id, timeout),
        )
    try:
        outcome = json.loads(result_file.read_text("utf-8"))
    except (OSError, ValueError):
        return _error(
            "Runtime.ExitError",
            "RequestId: %s Error: Runtime exited with error: %s" % (request_id, _exit(code)),
        )
    if "error" in outcome:
        return json.dumps(outcome["error"]).encode("utf-8"), True
    payload = outcome["payload"].encode("utf-8")
    if len(payload) > MAX_RESPONSE_BYTES:
        return _error(
            "Function.ResponseSizeTooLarge",
            "Response payload size exceeded maximum allowed payload size (%d bytes)."
            % MAX_RESPONSE_BYTES,
        )
    return payload, False


def _error(kind: str, message: str) -> "tuple[bytes, bool]":
    return json.dumps({"errorType": kind, "errorMessage": message}).encode("utf-8"), True


def _exit(code: Optional[int]) -> str:
    if code is not None and code < 0:
        return "signal: %s" % signal.Signals(-code).name.lower().replace("sig", "")
    return "exit status %s" % code


def _framed(
    request_id: str, body: str, seconds: float, configuration: Dict[str, Any], timed_out: bool
) -> str:
    if body and not body.endswith("\n"):
        body += "\n"
    milliseconds = seconds * 1000
    ended = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
    timeout_line = (
        "%s %s Task timed out after %.2f seconds\n"
        % (ended, request_id, float(configuration["Timeout"]))
        if timed_out
        else ""
    )
    return (
        "START RequestId: %s Version: $LATEST\n%s%sEND RequestId: %s\n"
        "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %s MB\t\n"
        % (
            request_id, body, timeout_line, request_id, request_id, milliseconds,
            int(milliseconds) + 1, configuration["MemorySize"],
        )
    )  # fmt: skip
