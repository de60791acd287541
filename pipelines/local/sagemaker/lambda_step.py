"""The Lambda step (SageMaker's LambdaStep): its function invoked with the step's Arguments,
resolved, as the event, through the home's `lambda` client (the Lambda twin the workspace
attaches, backend.functions); its OutputParameters the keys of the dict the function returns,
each converted to its declared OutputType (String, Integer, Boolean, Float) and readable by
later steps as Steps.<name>.OutputParameters['<output>'].

The function is found by the name in its FunctionArn: a local function stands in for the
function of that name on AWS, whatever the ARN's region and account, and a definition naming
one the home does not have is refused before anything runs (refusal()).

Where SageMaker's wording of a failure could not be verified (a missing or mistyped output, a
function that fails), the messages are ours; docs/architecture.md lists them. A Lambda step
has no cache in SageMaker (its default cache keys name no Lambda step), so it runs every time.
"""

import json
import re
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Protocol, Tuple

from pipelines.local.sagemaker import expressions
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.failure import StepFailure

Step = Dict[str, Any]
Entry = Dict[str, Any]
FUNCTION_ARN = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?(?P<name>[a-zA-Z0-9_-]{1,64})"
    r"(?::(?P<qualifier>[a-zA-Z0-9$_-]+))?"
)
# SageMaker stops waiting for a Lambda step's function after 10 minutes (the Developer Guide's
# Lambda step section, as recalled: not verified here); the function's own Timeout (at most
# 15 minutes) is enforced by the twin.
STEP_TIMEOUT_SECONDS = 600.0
REGISTER = "churn lambda create --name %s --handler <module>.<function> --code <folder or .zip>"


class RunningExecution(Protocol):
    """What the Lambda step uses of the execution running it (engine.py's Execution)."""

    folder: Path
    backend: SageMakerBackend
    ctx: expressions.Context

    def save_step(self, entry: Entry, **details: Any) -> None: ...


def function_name(step: Step) -> Tuple[str, Optional[str]]:
    """The function's name and qualifier in the step's FunctionArn."""
    arn = step.get("FunctionArn")
    found = FUNCTION_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if not found:
        raise StepFailure("FunctionArn %r is not a Lambda function's ARN" % (arn,))
    return found.group("name"), found.group("qualifier")


def refusal(step: Step, backend: SageMakerBackend) -> Optional[str]:
    """Why the local engine cannot run this Lambda step (saying how to make it runnable), or
    None when the home has its function."""
    try:
        name, qualifier = function_name(step)
    except StepFailure as e:
        return e.reason
    if qualifier not in (None, "$LATEST"):
        return (
            "it invokes version or alias %s of Lambda function %s; the local Lambda twin has "
            "$LATEST only" % (qualifier, name)
        )
    if backend.functions is None:
        return (
            "it invokes a Lambda function, and this engine has no Lambda twin attached (run the "
            "definition on a workspace's backend, as `churn run` does)"
        )
    from botocore.exceptions import ClientError

    try:
        backend.functions().get_function(FunctionName=name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return (
            "it invokes Lambda function %s, which exists only on AWS: register it locally "
            "with `%s`" % (name, REGISTER % name)
        )
    return None


def lambda_step(execution: RunningExecution, step: Step, entry: Entry) -> None:
    arguments = expressions.resolve(step.get("Arguments") or {}, execution.ctx)
    execution.save_step(entry, Arguments=arguments)
    name, _ = function_name(step)
    client = execution.backend.functions() if execution.backend.functions else None
    if client is None:
        raise StepFailure("no Lambda twin is attached to this engine")
    answer = _invoke(client, name, json.dumps(arguments).encode("utf-8"))
    payload = answer["Payload"].read()
    log = execution.folder / step["Name"] / "function.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if answer.get("LogResult"):
        import base64

        log.write_bytes(base64.b64decode(answer["LogResult"]))
        entry["Log"] = str(log)
    if answer.get("FunctionError"):
        raise StepFailure("Lambda function %s failed: %s" % (name, _error_text(payload)), log)
    try:
        result = json.loads(payload or b"null")
    except ValueError:
        result = None
    outputs = typed_outputs(step.get("OutputParameters") or [], result, name)
    properties = {"OutputParameters": outputs}
    execution.ctx.properties[step["Name"]] = properties
    execution.save_step(entry, Arguments=arguments, Properties=properties)
    entry["Metadata"] = {
        "Lambda": {
            "Arn": step["FunctionArn"],
            "OutputParameters": [
                {"Name": k, "Value": expressions.as_text(v)} for k, v in outputs.items()
            ],
        }
    }


def _invoke(client: Any, name: str, event: bytes) -> Dict[str, Any]:
    """Invoke and wait, at most STEP_TIMEOUT_SECONDS (the invocation itself runs on to its own
    Timeout, as a function does on AWS once the step stopped waiting)."""
    done: Dict[str, Any] = {}

    def call() -> None:
        try:
            done["answer"] = client.invoke(FunctionName=name, Payload=event, LogType="Tail")
        except Exception as e:  # handed to the step's thread below
            done["error"] = e

    thread = threading.Thread(target=call, name="lambda-step-%s" % name, daemon=True)
    thread.start()
    thread.join(STEP_TIMEOUT_SECONDS)
    if thread.is_alive():
        raise StepFailure(
            "Lambda function %s did not return within %d seconds" % (name, STEP_TIMEOUT_SECONDS)
        )
    if "error" in done:
        raise StepFailure("invoking Lambda function %s failed: %s" % (name, done["error"]))
    answer: Dict[str, Any] = done["answer"]
    return answer


def _error_text(payload: bytes) -> str:
    try:
        error = json.loads(payload)
        return "%s: %s" % (error.get("errorType", "Error"), error.get("errorMessage", ""))
    except (ValueError, AttributeError):
        return payload.decode("utf-8", "replace")[:500]


def typed_outputs(declared: List[Dict[str, Any]], result: Any, function: str) -> Dict[str, Any]:
    """The declared outputs from the function's answer, each converted to its OutputType;
    StepFailure naming the first that is missing or is not of its type."""
    if declared and not isinstance(result, dict):
        raise StepFailure(
            "Lambda function %s returned %s, not a JSON object with the step's outputs (%s)"
            % (function, _shown(result), ", ".join(d["OutputName"] for d in declared))
        )
    outputs: Dict[str, Any] = {}
    for output in declared:
        key, kind = output["OutputName"], output.get("OutputType", "String")
        if key not in result or result[key] is None:
            raise StepFailure(
                "output %s is missing from what Lambda function %s returned (it returned %s)"
                % (key, function, ", ".join(sorted(result)) or "no keys")
            )
        value = converted(result[key], kind)
        if value is None:
            raise StepFailure(
                "output %s is declared %s; Lambda function %s returned %s"
                % (key, kind, function, _shown(result[key]))
            )
        outputs[key] = value
    return outputs


def converted(value: Any, kind: str) -> Any:
    """`value` as an output of type `kind`, or None when it is not one: a JSON string, number or
    boolean of that type, or a string that reads as one ("3" for an Integer, "true")."""
    if isinstance(value, (dict, list)):
        return None
    if kind == "String":
        return value if isinstance(value, str) else expressions.as_text(value)
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return None
    if isinstance(value, bool):
        return None
    try:
        if kind == "Integer":
            number = float(value) if isinstance(value, str) else value
            return int(number) if float(number).is_integer() else None
        if kind == "Float":
            return float(value)
    except (TypeError, ValueError):
        return None
    return None


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
