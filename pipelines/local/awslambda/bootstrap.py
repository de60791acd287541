"""The runtime inside a local Lambda function's process (what Lambda's Python runtime
interface client is on AWS): imports the handler from the function's code folder, calls it
once with the event and a context object, and writes the outcome for the twin to read.

Run as a script, standard library only: `python bootstrap.py <code folder> <handler> <result
file>`, the event (JSON) on standard input, the function's settings in the environment
Lambda sets (AWS_LAMBDA_FUNCTION_NAME, ...). Standard output and error are the function's log.
The outcome file holds {"payload": <the handler's answer as JSON text>} or {"error": <the
payload Lambda answers for an unhandled error>}. Errors and their wording follow Lambda's
Python runtime (errorType Runtime.ImportModuleError, Runtime.HandlerNotFound,
Runtime.MarshalError, or the exception's class; https://docs.aws.amazon.com/lambda/latest/dg/
python-exceptions.html)."""

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple


class LambdaContext(object):
    """The handler's `context`, with the members Lambda's Python runtime documents
    (https://docs.aws.amazon.com/lambda/latest/dg/python-context.html)."""

    def __init__(self, request_id: str, deadline_ms: float) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = env["_CHURN_INVOKED_ARN"]
        self.memory_limit_in_mb = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request_id
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def error(
    request_id: str, kind: str, message: str, stack: Optional[List[str]] = None
) -> Dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": kind,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def load(
    handler: str, request_id: str
) -> Tuple[Optional[Callable[..., Any]], Optional[Dict[str, Any]]]:
    """The handler function, or the error payload saying why there is none."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        return None, error(
            request_id,
            "Runtime.MalformedHandlerName",
            "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % handler,
        )
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        return None, error(
            request_id,
            "Runtime.ImportModuleError",
            "Unable to import module '%s': %s" % (module_name, e),
        )
    except Exception as e:
        stack = traceback.format_list(traceback.extract_tb(e.__traceback__))
        return None, error(
            request_id, "Runtime.UserCodeSyntaxError" if isinstance(e, SyntaxError) else
            type(e).__name__, "%s" % e, stack,
        )  # fmt: skip
    function = getattr(module, function_name, None)
    if function is None:
        return None, error(
            request_id,
            "Runtime.HandlerNotFound",
            "Handler '%s' missing on module '%s'" % (function_name, module_name),
        )
    return function, None


def main() -> None:
    code, handler, result_file = sys.argv[1:4]
    request_id = os.environ["_CHURN_REQUEST_ID"]
    deadline_ms = float(os.environ["_CHURN_DEADLINE_MS"])
    os.chdir(code)
    sys.path.insert(0, code)
    event = json.loads(sys.stdin.read() or "null")
    function, failure = load(handler, request_id)
    outcome: Optional[Dict[str, Any]] = None
    if function is not None:
        try:
            answer = function(event, LambdaContext(request_id, deadline_ms))
        except Exception as e:
            stack = traceback.format_list(traceback.extract_tb(e.__traceback__)[1:])
            failure = error(request_id, type(e).__name__, str(e), stack)
        else:
            try:
                outcome = {"payload": json.dumps(answer)}
            except (TypeError, ValueError) as e:
                failure = error(
                    request_id, "Runtime.MarshalError", "Unable to marshal response: %s" % e
                )
    if failure is not None:
        # As the runtime logs an unhandled error: one line, then the trace.
        sys.stderr.write(
            "[ERROR] %s: %s\n%s"
            % (failure["errorType"], failure["errorMessage"], "".join(failure["stackTrace"]))
        )
        outcome = {"error": failure}
    sys.stdout.flush()
    sys.stderr.flush()
    with open(result_file, "w", encoding="utf-8") as f:
        json.dump(outcome, f)


if __name__ == "__main__":
    main()
