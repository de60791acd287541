"""The Lambda twin is boto3's `lambda` client (docs/adr/0011). Written from the AWS Lambda API
reference (https://docs.aws.amazon.com/lambda/latest/api/): API_CreateFunction.html,
API_GetFunction.html, API_ListFunctions.html, API_UpdateFunctionCode.html,
API_DeleteFunction.html and API_Invoke.html; and the Python runtime's guide: the handler and
its context (https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html,
python-context.html), errors (python-exceptions.html), the log (python-logging.html) and the
quotas (gettingstarted-limits.html). Every answer is checked against botocore's output shape
while the suite runs (CHURN_CHECK_ANSWERS). Handlers run for real, each in its own process.
The function lifecycle runs against a moto server too, and must look the same there."""

import base64
import io
import json
import stat
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from pipelines.local.awslambda.service import LambdaClient
from pipelines.workspace.home import Home

from conftest import aws_client

ROLE = "arn:aws:iam::123456789012:role/churn-lambda"
APP = """
import os, time

def handler(event, context):
    print("event", event)
    if event.get("boom"):
        raise ValueError("the threshold is not set")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("write"):
        with open(event["write"], "w") as f:
            f.write("ran")
    return {
        "ok": True,
        "threshold": 0.7,
        "echo": event,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "stage": os.environ.get("STAGE"),
        "version": context.function_version,
    }

def unserialisable(event, context):
    return {1, 2}
"""


def package(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buf.getvalue()


def code_of(call):
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def client(tmp_path):
    return LambdaClient(tmp_path / "home")


def create(client, name="decide", files=None, **extra):
    request = dict(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": package(files or {"app.py": APP})},
    )
    request.update(extra)
    return client.create_function(**request)


def invoke(client, event, name="decide", **extra):
    answer = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    return answer, json.loads(answer["Payload"].read() or b"null")


def test_lifecycle_as_the_api_reference_has_it(client):
    """CreateFunction answers the configuration (Timeout 3 and MemorySize 128 by default,
    Version $LATEST, CodeSha256 the package's base64 SHA-256); a second function of the name is
    ResourceConflictException (409); GetFunction adds Code; ListFunctions pages with Marker and
    MaxItems; DeleteFunction, then GetFunction is ResourceNotFoundException (404)."""
    import hashlib

    data = package({"app.py": APP})
    made = client.create_function(
        FunctionName="decide", Runtime="python3.11", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": data}, Environment={"Variables": {"STAGE": "dev"}},
        Tags={"team": "churn"},
    )  # fmt: skip
    assert made["FunctionArn"].endswith(":function:decide")
    assert (made["Timeout"], made["MemorySize"], made["Version"]) == (3, 128, "$LATEST")
    assert made["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert made["CodeSize"] == len(data) and made["State"] == "Active"
    assert code_of(lambda: create(client)) == ("ResourceConflictException", 409)
    got = client.get_function(FunctionName="decide")
    assert got["Configuration"] == made and got["Tags"] == {"team": "churn"}
    assert got["Code"]["RepositoryType"] == "S3"
    assert client.get_function(FunctionName=made["FunctionArn"])["Configuration"] == made
    for name in ("a", "b", "c"):
        create(client, name)
    pages = list(client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}))
    assert [[f["FunctionName"] for f in p["Functions"]] for p in pages] == [
        ["a", "b"], ["c", "decide"],
    ]  # fmt: skip
    client.delete_function(FunctionName="decide")
    assert code_of(lambda: client.get_function(FunctionName="decide")) == (
        "ResourceNotFoundException", 404,
    )  # fmt: skip
    assert code_of(lambda: client.delete_function(FunctionName="decide"))[0] == (
        "ResourceNotFoundException"
    )


def test_what_the_home_cannot_run_is_refused(client):
    """Runtime and Handler are mandatory for a .zip package; the twin runs python3.x only, .zip
    packages only and $LATEST only, and says so as InvalidParameterValueException (400); a
    request the model refuses is refused as boto3 or the service would."""
    assert code_of(lambda: create(client, Runtime="nodejs20.x")) == (
        "InvalidParameterValueException", 400,
    )  # fmt: skip
    assert code_of(lambda: client.create_function(
        FunctionName="f", Role=ROLE, Code={"ZipFile": package({"a.py": ""})}
    ))[0] == "InvalidParameterValueException"  # fmt: skip
    assert code_of(lambda: create(client, Code={"ImageUri": "x"}))[0] == (
        "InvalidParameterValueException"
    )
    assert code_of(lambda: create(client, Code={}))[0] == "InvalidParameterValueException"
    assert code_of(lambda: create(client, Timeout=901 * 10))[0] == "ValidationException"
    assert code_of(lambda: create(client, name="a b"))[0] == "ValidationException"
    create(client)
    assert code_of(lambda: client.get_function(FunctionName="decide", Qualifier="1"))[0] == (
        "ResourceNotFoundException"
    )
    other_region = "arn:aws:lambda:us-east-1:123456789012:function:decide"
    assert code_of(lambda: client.get_function(FunctionName=other_region))[0] == (
        "ResourceNotFoundException"
    )


def test_unsafe_packages_are_refused_and_leave_nothing(client, tmp_path):
    """A package that is not a zip, or whose member climbs out ('../x'), is absolute or is a
    symbolic link, is refused before anything is unpacked."""
    assert code_of(lambda: create(client, Code={"ZipFile": b"not a zip"}))[0] == (
        "InvalidParameterValueException"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", APP)
        link = zipfile.ZipInfo("link.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    for data in (package({"../escape.py": "x"}), package({"/abs.py": "x"}), buf.getvalue()):
        with pytest.raises(ClientError) as refused:
            create(client, Code={"ZipFile": data})
        assert "unsafe" in refused.value.response["Error"]["Message"]
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "home" / "escape.py").exists()
    assert client.list_functions()["Functions"] == []


def test_invoke_runs_the_handler_with_the_event_and_a_context(client):
    """Invoke (RequestResponse): the handler gets the Payload as its event and a context with
    the function's name, ARN, memory (a string, as the runtime gives it), request id and
    remaining time; the Environment's variables; the answer is StatusCode 200, the result as
    JSON Payload and ExecutedVersion $LATEST; LogType Tail adds the base64 log tail."""
    create(client, Environment={"Variables": {"STAGE": "dev"}}, MemorySize=256, Timeout=30)
    answer, result = invoke(client, {"x": 1}, LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    assert result["echo"] == {"x": 1} and result["ok"] is True and result["threshold"] == 0.7
    assert result["function_name"] == "decide" and result["memory"] == "256"
    assert result["arn"].endswith(":function:decide") and result["stage"] == "dev"
    assert 0 < result["remaining"] <= 30000 and result["version"] == "$LATEST"
    log = base64.b64decode(answer["LogResult"]).decode()
    request_id = result["request_id"]
    assert log.startswith("START RequestId: %s Version: $LATEST\n" % request_id)
    assert "event {'x': 1}\n" in log and "END RequestId: %s\n" % request_id in log
    assert "REPORT RequestId: %s\tDuration: " % request_id in log
    big = "y" * 6000  # printed: the tail is the last 4 KB only
    answer, _ = invoke(client, {"pad": big}, LogType="Tail")
    assert len(base64.b64decode(answer["LogResult"])) == 4096
    # A function's ARN, as CreateFunction answered it, names it too.
    arn = client.get_function_configuration(FunctionName="decide")["FunctionArn"]
    assert invoke(client, {}, name=arn)[1]["ok"] is True


def test_a_raising_handler_answers_function_error_unhandled(client):
    """An exception in the handler: StatusCode 200, FunctionError Unhandled, and the Payload
    the Python runtime writes: errorMessage, errorType, requestId, stackTrace (python-exceptions
    .html); the same in the log as an [ERROR] line."""
    create(client)
    answer, error = invoke(client, {"boom": True}, LogType="Tail")
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the threshold is not set"
    assert any("in handler" in line for line in error["stackTrace"])
    log = base64.b64decode(answer["LogResult"]).decode()
    assert "[ERROR] ValueError: the threshold is not set" in log


def test_runtime_errors_are_worded_as_the_python_runtime_words_them(client):
    create(client, "nomodule", Handler="missing.handler")
    create(client, "nofunction", Handler="app.nothing")
    create(client, "marshal", Handler="app.unserialisable")
    create(client, "exits", files={"app.py": "import os\ndef handler(e, c):\n    os._exit(3)\n"})
    _, error = invoke(client, {}, "nomodule")
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"].startswith("Unable to import module 'missing': ")
    _, error = invoke(client, {}, "nofunction")
    assert error == dict(error, errorType="Runtime.HandlerNotFound",
                         errorMessage="Handler 'nothing' missing on module 'app'")  # fmt: skip
    _, error = invoke(client, {}, "marshal")
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"].startswith("Unable to marshal response: ")
    answer, error = invoke(client, {}, "exits")
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Runtime exited with error: exit status 3")


def test_the_timeout_stops_the_handler(client):
    """A handler running past the function's Timeout is stopped: FunctionError Unhandled and
    "Task timed out after 1.00 seconds", in the Payload and in the log."""
    create(client, Timeout=1)
    started = time.monotonic()
    answer, error = invoke(client, {"sleep": 30}, LogType="Tail")
    assert time.monotonic() - started < 10
    assert answer["FunctionError"] == "Unhandled" and error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in base64.b64decode(answer["LogResult"]).decode()


def test_event_and_dry_run_invocations(client, tmp_path):
    """InvocationType Event answers 202 at once and runs the handler; DryRun answers 204 and runs
    nothing; a Payload that is not JSON is InvalidRequestContentException (400)."""
    create(client)
    marker = tmp_path / "ran.txt"
    answer = client.invoke(
        FunctionName="decide", InvocationType="Event", Payload=json.dumps({"write": str(marker)})
    )
    assert answer["StatusCode"] == 202 and answer["Payload"].read() == b""
    client.wait_for_events()
    assert marker.read_text() == "ran"
    dry = client.invoke(FunctionName="decide", InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204
    assert code_of(lambda: client.invoke(FunctionName="decide", Payload=b"{not json")) == (
        "InvalidRequestContentException", 400,
    )  # fmt: skip
    assert code_of(lambda: client.invoke(FunctionName="nothing"))[0] == (
        "ResourceNotFoundException"
    )


def test_update_function_code_runs_the_new_code(client):
    """UpdateFunctionCode: the new package runs from then on, with a new CodeSha256 and
    RevisionId; DryRun changes nothing; a stale RevisionId is PreconditionFailedException."""
    made = create(client)
    new = package({"app.py": "def handler(event, context):\n    return {'v': 2}\n"})
    dry = client.update_function_code(FunctionName="decide", ZipFile=new, DryRun=True)
    assert dry["CodeSha256"] == made["CodeSha256"]
    updated = client.update_function_code(FunctionName="decide", ZipFile=new)
    assert updated["CodeSha256"] != made["CodeSha256"]
    assert updated["RevisionId"] != made["RevisionId"]
    assert invoke(client, {})[1] == {"v": 2}
    assert code_of(lambda: client.update_function_code(
        FunctionName="decide", ZipFile=new, RevisionId=made["RevisionId"]
    ))[0] == "PreconditionFailedException"  # fmt: skip


def test_the_home_session_has_the_lambda_twin(tmp_path):
    home = Home(tmp_path / "home")
    try:
        client = home.session.client("lambda")
        assert client is home.session.client("lambda")
        create(client)
        assert home.sagemaker.functions is not None
        assert home.sagemaker.functions().list_functions()["Functions"][0]["FunctionName"] == (
            "decide"
        )
    finally:
        home.close()


def lifecycle(client):
    """What a user sees of a function's life, on any `lambda` client."""
    made = create(client, "churn-decide", Timeout=60, MemorySize=256)
    seen = {
        "made": {
            k: made[k]
            for k in ("FunctionName", "Handler", "Runtime", "Timeout", "MemorySize", "Version")
        },  # fmt: skip
        "listed": [f["FunctionName"] for f in client.list_functions()["Functions"]],
        "duplicate": code_of(lambda: create(client, "churn-decide")),
        "sha_matches": client.get_function(FunctionName="churn-decide")["Configuration"][
            "CodeSha256"
        ]
        == made["CodeSha256"],
    }
    client.delete_function(FunctionName="churn-decide")
    seen["after_delete"] = code_of(lambda: client.get_function(FunctionName="churn-decide"))
    seen["left"] = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    return seen


def test_the_lifecycle_matches_moto(aws_env, tmp_path):
    """The same calls against a moto server and against the twin see the same thing (moto's
    Invoke needs Docker, so invoking is checked above, from the API reference alone)."""
    iam = aws_client("iam", aws_env)
    iam.create_role(
        RoleName="churn-lambda",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    on_moto = lifecycle(aws_client("lambda", aws_env))
    assert on_moto == lifecycle(LambdaClient(tmp_path / "home"))
    assert on_moto["duplicate"] == ("ResourceConflictException", 409)
