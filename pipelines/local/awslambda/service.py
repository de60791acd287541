"""boto3's `lambda` client for one home (docs/adr/0011): CreateFunction, GetFunction,
GetFunctionConfiguration, ListFunctions, UpdateFunctionCode, DeleteFunction and Invoke, as the
AWS Lambda API reference documents them
(https://docs.aws.amazon.com/lambda/latest/api/API_Operations.html), over the functions kept
in the home (functions.py), each invocation a process of its own (runtime.py).

What the home cannot do is refused, never pretended: only Python runtimes run (by the
interpreter running the twin, whatever python3.x the function names), only .zip packages
(ZipFile, or S3Bucket/S3Key in the home's store), only the unpublished version $LATEST. An
Event invocation runs on a thread of the process that asked for it (it lives as long as that
process) and is not retried; MemorySize is recorded, not enforced. GetFunction's Code.Location
is a file:// URL of the package in the home where AWS gives a presigned HTTPS URL."""

import base64
import re
import threading
import uuid
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional

from botocore.exceptions import ClientError

from pipelines.local.api import Answer, Request, TwinClient, client_error
from pipelines.local.arns import ACCOUNT, REGION
from pipelines.local.awslambda import runtime
from pipelines.local.awslambda.functions import Configuration, Functions, last_modified
from pipelines.local.awslambda.package import PackageError
from pipelines.local.parameters import error_status
from pipelines.local.s3 import Store, StoreError

# A function named by name, partial ARN (123456789012:function:f) or ARN, with a qualifier.
FUNCTION_REF = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?(?:(?P<account>\d{12}):)?"
    r"(?:function:)?(?P<name>[a-zA-Z0-9_.-]+)(?::(?P<qualifier>[a-zA-Z0-9$_.-]+))?"
)
OWN_ARN = "arn:aws:lambda:%s:%s:function:" % (REGION, ACCOUNT)
# Invoke's payload bounds (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)
MAX_SYNC_REQUEST = 6 * 1024 * 1024
MAX_ASYNC_REQUEST = 256 * 1024
LOG_TAIL_BYTES = 4096  # LogType Tail: "the last 4 KB of the execution log" (API_Invoke.html)
UNSUPPORTED = (
    "VpcConfig", "DeadLetterConfig", "KMSKeyArn", "Layers", "FileSystemConfigs",
    "CodeSigningConfigArn", "ImageConfig", "CapacityProviderConfig", "DurableConfig",
)  # fmt: skip


class LambdaClient(TwinClient):
    service = "lambda"

    def __init__(self, home: Path) -> None:
        self.home = Path(home).resolve()
        self.functions = Functions(self.home)
        self._threads: List[threading.Thread] = []

    def _request(self, operation: str, request: Request) -> Request:
        """The model's checks, with the twin's own ARNs read as AWS reads an ARN of its region
        (the model's pattern knows only AWS's region names, not the twin's `local`)."""
        checked = dict(request)
        name = checked.get("FunctionName")
        if isinstance(name, str) and name.startswith(OWN_ARN):
            checked["FunctionName"] = name[len(OWN_ARN) :]
        super()._request(operation, checked)
        return request

    # ------------------------------------------------------------------ functions

    def create_function(self, **request: Any) -> Answer:
        op = "CreateFunction"
        self._request(op, request)
        name = request["FunctionName"]
        name = self._reference(op, name)["name"] or ""
        if request.get("PackageType", "Zip") != "Zip" or "ImageUri" in request["Code"]:
            self._invalid(op, "the local Lambda twin runs .zip packages only (PackageType Zip)")
        if "Runtime" not in request or "Handler" not in request:
            self._invalid(
                op,
                "Runtime and Handler are mandatory parameters for functions created with "
                "deployment packages.",
            )
        if not request["Runtime"].startswith("python3"):
            self._invalid(
                op,
                "the local Lambda twin runs Python functions only (python3.x); %s runs on AWS"
                % request["Runtime"],
            )
        for key in UNSUPPORTED:
            if request.get(key):
                self._invalid(op, "the local Lambda twin does not support %s" % key)
        if request.get("Publish"):
            self._invalid(op, "the local Lambda twin keeps $LATEST only: Publish is not supported")
        if self.functions.get(name) is not None:
            raise self._error(op, "ResourceConflictException", "Function already exist: %s" % name)
        code = self._put_code(op, name, request["Code"])
        configuration: Configuration = {
            "FunctionName": name,
            "FunctionArn": OWN_ARN + name,
            "Runtime": request["Runtime"],
            "Role": request["Role"],
            "Handler": request["Handler"],
            "Description": request.get("Description", ""),
            "Timeout": request.get("Timeout", 3),
            "MemorySize": request.get("MemorySize", 128),
            "LastModified": last_modified(),
            "Version": "$LATEST",
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": str(uuid.uuid4()),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": request.get("Architectures") or ["x86_64"],
            "EphemeralStorage": request.get("EphemeralStorage") or {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/aws/lambda/%s" % name},
            **code,
        }
        if "Environment" in request:
            configuration["Environment"] = {
                "Variables": dict(request["Environment"].get("Variables") or {})
            }
        if request.get("Tags"):
            configuration["_Tags"] = dict(request["Tags"])
        self.functions.save(configuration)
        return self._answer(op, _public(configuration))

    def get_function(self, **request: Any) -> Answer:
        op = "GetFunction"
        self._request(op, request)
        configuration = self._function(op, request["FunctionName"], request.get("Qualifier"))
        name = configuration["FunctionName"]
        answer: Answer = {
            "Configuration": _public(configuration),
            "Code": {
                "RepositoryType": "S3",
                "Location": self.functions.package(name).as_uri(),
            },
        }
        if configuration.get("_Tags"):
            answer["Tags"] = configuration["_Tags"]
        return self._answer(op, answer)

    def get_function_configuration(self, **request: Any) -> Answer:
        op = "GetFunctionConfiguration"
        self._request(op, request)
        configuration = self._function(op, request["FunctionName"], request.get("Qualifier"))
        return self._answer(op, _public(configuration))

    def list_functions(self, **request: Any) -> Answer:
        op = "ListFunctions"
        self._request(op, request)
        if request.get("MasterRegion") or request.get("FunctionVersion"):
            self._invalid(op, "the local Lambda twin lists $LATEST in its one region only")
        names = self.functions.names()
        start = 0
        if request.get("Marker"):
            marker = request["Marker"]
            start = sum(1 for n in names if n <= marker)
        size = request.get("MaxItems", 50)
        page = names[start : start + size]
        answer: Answer = {"Functions": []}
        for name in page:
            configuration = self.functions.get(name)
            if configuration is not None:
                answer["Functions"].append(_public(configuration))
        if start + size < len(names):
            answer["NextMarker"] = page[-1]
        return self._answer(op, answer)

    def update_function_code(self, **request: Any) -> Answer:
        op = "UpdateFunctionCode"
        self._request(op, request)
        configuration = self._function(op, request["FunctionName"], None)
        name = configuration["FunctionName"]
        if request.get("ImageUri"):
            self._invalid(op, "the local Lambda twin runs .zip packages only (PackageType Zip)")
        if request.get("Publish"):
            self._invalid(op, "the local Lambda twin keeps $LATEST only: Publish is not supported")
        if request.get("RevisionId") and request["RevisionId"] != configuration["RevisionId"]:
            raise self._error(
                op,
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id",
            )
        source: Dict[str, Any] = {
            k: request[k] for k in ("ZipFile", "S3Bucket", "S3Key") if k in request
        }
        if request.get("DryRun"):
            return self._answer(op, _public(configuration))
        code = self._put_code(op, name, source)
        configuration.update(code, LastModified=last_modified(), RevisionId=str(uuid.uuid4()))
        self.functions.save(configuration)
        self.functions.drop_old_code(name, configuration["CodeSha256"])
        return self._answer(op, _public(configuration))

    def delete_function(self, **request: Any) -> Answer:
        op = "DeleteFunction"
        self._request(op, request)
        configuration = self._function(op, request["FunctionName"], request.get("Qualifier"))
        self.functions.delete(configuration["FunctionName"])
        return self._answer(op, {})

    # ------------------------------------------------------------------ invoking

    def invoke(self, **request: Any) -> Answer:
        """API_Invoke: RequestResponse runs the handler and answers its result (200, with
        FunctionError Unhandled and the error as Payload when it fails or times out); Event
        answers 202 at once and runs it on a thread; DryRun answers 204."""
        op = "Invoke"
        self._request(op, request)
        configuration = self._function(op, request["FunctionName"], request.get("Qualifier"))
        kind = request.get("InvocationType", "RequestResponse")
        payload = request.get("Payload", b"")
        if hasattr(payload, "read"):
            payload = payload.read()
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        bound = MAX_ASYNC_REQUEST if kind == "Event" else MAX_SYNC_REQUEST
        if len(payload) > bound:
            raise self._error(
                op,
                "RequestTooLargeException",
                "Request must be smaller than %d bytes for the Invoke operation" % bound,
            )
        _parsed(op, payload)
        if kind == "DryRun":
            return self._answer(op, {"StatusCode": 204, "Payload": _body(b"")})
        name = configuration["FunctionName"]
        code = self.functions.code_folder(name, configuration["CodeSha256"])
        log_file = self.functions.log_file(name)
        if kind == "Event":
            thread = threading.Thread(
                target=runtime.invoke,
                args=(configuration, code, payload or b"{}", log_file),
                name="lambda-%s" % name,
                daemon=True,
            )
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            return self._answer(op, {"StatusCode": 202, "Payload": _body(b"")})
        outcome = runtime.invoke(configuration, code, payload or b"{}", log_file)
        answer: Answer = {
            "StatusCode": 200,
            "Payload": _body(outcome.payload),
            "ExecutedVersion": "$LATEST",
        }
        if outcome.error:
            answer["FunctionError"] = "Unhandled"
        if request.get("LogType") == "Tail":
            tail = outcome.log.encode("utf-8")[-LOG_TAIL_BYTES:]
            answer["LogResult"] = base64.b64encode(tail).decode("ascii")
        return self._answer(op, answer)

    def wait_for_events(self, timeout: float = 30.0) -> None:
        """Wait for this client's Event invocations to end (a caller about to exit)."""
        for thread in list(self._threads):
            thread.join(timeout)

    # ------------------------------------------------------------------ helpers

    def _reference(self, op: str, function: str) -> Dict[str, Optional[str]]:
        found = FUNCTION_REF.fullmatch(function)
        if not found:
            self._invalid(op, "not a function name or ARN: %r" % function)
        return found.groupdict()

    def _function(self, op: str, function: str, qualifier: Optional[str]) -> Configuration:
        """The stored function a FunctionName (and Qualifier) names; ResourceNotFoundException
        as Lambda answers it for one it does not have."""
        ref = self._reference(op, function)
        qualifier = qualifier or ref["qualifier"]
        name = ref["name"] or ""
        configuration = None
        if ref["region"] in (None, REGION) and ref["account"] in (None, ACCOUNT):
            configuration = self.functions.get(name)
        if configuration is None or qualifier not in (None, "$LATEST"):
            missing = OWN_ARN + name + (":%s" % qualifier if qualifier else "")
            raise self._error(op, "ResourceNotFoundException", "Function not found: %s" % missing)
        return configuration

    def _put_code(self, op: str, name: str, code: Dict[str, Any]) -> Dict[str, Any]:
        data = code.get("ZipFile")
        if data is None and code.get("S3Bucket") and code.get("S3Key"):
            try:
                data = Store(self.home).read_bytes("s3://%s/%s" % (code["S3Bucket"], code["S3Key"]))
            except (StoreError, OSError):
                self._invalid(
                    op,
                    "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: "
                    "The specified key does not exist.",
                )
        if data is None:
            self._invalid(op, "Please provide a source for function code.")
        if hasattr(data, "read"):
            data = data.read()
        try:
            return self.functions.put_code(name, bytes(data))
        except PackageError as e:
            self._invalid(op, str(e))

    def _invalid(self, op: str, message: str) -> NoReturn:
        raise self._error(op, "InvalidParameterValueException", message)

    def _error(self, op: str, code: str, message: str) -> ClientError:
        return client_error(op, code, message, error_status(self.service, code))


def _public(configuration: Configuration) -> Configuration:
    return {k: v for k, v in configuration.items() if not k.startswith("_")}


def _body(data: bytes) -> Any:
    """Invoke's Payload as boto3 hands it over: a StreamingBody."""
    import io

    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))


def _parsed(op: str, payload: bytes) -> None:
    """Lambda refuses a payload that is not JSON before it runs anything."""
    import json

    if not payload:
        return
    try:
        json.loads(payload)
    except ValueError as e:
        raise client_error(
            op,
            "InvalidRequestContentException",
            "Could not parse request body into json: %s" % e,
            error_status("lambda", "InvalidRequestContentException"),
        )
