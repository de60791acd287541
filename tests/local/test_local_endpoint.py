"""One loopback endpoint serving every twin over its AWS wire protocol (pipelines/local/endpoint/,
docs/adr/0015): unchanged boto3 (and the AWS CLI, and `churn local` as a user starts it) reach
the home's twins over real HTTP on 127.0.0.1 with dummy credentials.

What each test checks is the protocols as AWS documents them:
- awsJson1_1 (sagemaker) and awsJson1_0 (stepfunctions): a POST to / naming the operation in
  `X-Amz-Target: <prefix>.<Operation>`, the input shape as the JSON body, timestamps as epoch
  seconds, errors as {"__type", "message"} with `x-amzn-ErrorType`
  (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html,
  https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html);
- restJson1 (databrew, lambda, sagemaker-runtime, sagemaker-featurestore-runtime): members in
  the URI, query, headers and payload, a blob payload as the raw body, the answer's headers
  and status code from the output shape (https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html);
- one `AWS_ENDPOINT_URL` for every service, as every AWS SDK and the CLI read it
  (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).

Over the wire boto3 must hand back what the in-process twin hands back (the same keys and
values), and a twin's ClientError must come back with its code, message and status."""

import base64
import concurrent.futures
import hashlib
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipelines.local.endpoint import EndpointServer
from pipelines.local.s3 import Store
from pipelines.local.s3_api import S3Client
from pipelines.workspace.home import Home

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/LocalRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
# A model's container for a local endpoint: the hosting contract (GET /ping, POST
# /invocations) answering the body back upper-cased, or 500 for the body "fail".
ECHO = r"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status, out = (500, b"it failed") if body == b"fail" else (200, body.upper())
        self.send_response(status)
        self.send_header("Content-Type", self.headers.get("Accept") or "text/plain")
        self.send_header("Content-Length", str(len(out))); self.end_headers()
        self.wfile.write(out)
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def echo_launcher(home, model, port, endpoint, capture, log):
    return [sys.executable, "-c", ECHO, str(port)]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    opened = Home(tmp_path_factory.mktemp("endpoint-home"), launcher=echo_launcher)
    yield opened
    for name in [e["EndpointName"] for e in opened.hosting.list_endpoints()]:
        opened.hosting.delete_endpoint(name)
    opened.close()


@pytest.fixture(scope="module")
def server(home):
    with EndpointServer(home.session) as served:
        yield served


def wire(server, service):
    """boto3's client of `service` pointed at the endpoint, as AWS_ENDPOINT_URL points it."""
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )


def same(over_wire, in_process):
    """What boto3 handed back over HTTP is what the twin hands back in-process."""
    over_wire = dict(over_wire)
    over_wire.pop("ResponseMetadata")
    assert over_wire == in_process


def refusal(call, **request):
    with pytest.raises(ClientError) as e:
        call(**request)
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def raw(server, method, path, body=b"", headers=None):
    """A request as bytes on the wire: what no SDK would send."""
    host, port = server.url[len("http://") :].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def signed_as(service):
    return {
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261207/us-east-1/%s/aws4_request, "
        "SignedHeaders=host, Signature=00" % service
    }


# -- awsJson1_1: sagemaker -------------------------------------------------------------------


def test_sagemaker_registry_calls_answer_as_in_process(server, home):
    """CreateModelPackageGroup, CreateModelPackage, List/Describe of both and
    ListPipelineExecutions (awsJson1_1): the datetimes and nested structures come back equal."""
    sm, twin = wire(server, "sagemaker"), home.session.client("sagemaker")
    created = sm.create_model_package_group(
        ModelPackageGroupName="wire-group", ModelPackageGroupDescription="over HTTP"
    )
    assert created["ModelPackageGroupArn"].endswith(":model-package-group/wire-group")
    arn = sm.create_model_package(
        ModelPackageGroupName="wire-group",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={"source": "wire"},
    )["ModelPackageArn"]
    same(
        sm.describe_model_package_group(ModelPackageGroupName="wire-group"),
        twin.describe_model_package_group(ModelPackageGroupName="wire-group"),
    )
    same(sm.list_model_package_groups(), twin.list_model_package_groups())
    same(
        sm.list_model_packages(ModelPackageGroupName="wire-group"),
        twin.list_model_packages(ModelPackageGroupName="wire-group"),
    )
    since = {"ModelPackageGroupName": "wire-group", "CreationTimeAfter": datetime(2020, 1, 1,
             tzinfo=timezone.utc)}  # fmt: skip
    same(sm.list_model_packages(**since), twin.list_model_packages(**since))  # epoch seconds in
    described = sm.describe_model_package(ModelPackageName=arn)
    same(described, twin.describe_model_package(ModelPackageName=arn))
    assert described["CreationTime"].tzinfo is not None
    assert len(described["ResponseMetadata"]["RequestId"]) == 36
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    assert twin.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"
    pages = sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName="wire-group")
    assert [p["ModelPackageArn"] for page in pages for p in page["ModelPackageSummaryList"]] == [
        arn
    ]


def test_sagemaker_errors_come_back_as_the_twin_raised_them(server, home):
    """A ClientError of the twin is the same code, message and status through botocore's JSON
    error parser (`__type`, `message`, x-amzn-ErrorType)."""
    sm, twin = wire(server, "sagemaker"), home.session.client("sagemaker")
    for call, request in [
        ("describe_model_package_group", {"ModelPackageGroupName": "no-such-group"}),
        ("list_pipeline_executions", {"PipelineName": "no-such-pipeline"}),
        ("describe_model_package", {"ModelPackageName": "no-such-group/7"}),
    ]:
        in_process = refusal(getattr(twin, call), **request)
        assert refusal(getattr(sm, call), **request) == in_process
    # a constraint the service checks and boto3 does not: the model's pattern
    code, message, status = refusal(sm.create_model_package_group, ModelPackageGroupName="a_b")
    assert (code, status) == ("ValidationException", 400) and "a_b" in message


def test_application_autoscaling_reads_and_its_refusal(server, home):
    """Application Auto Scaling (awsJson1_1, target prefix AnyScaleFrontendService): the twin
    reads, and refuses to scale, as it does in-process."""
    scaling, twin = (
        wire(server, "application-autoscaling"),
        home.session.client("application-autoscaling"),
    )
    request = {"ServiceNamespace": "sagemaker"}
    same(scaling.describe_scalable_targets(**request), twin.describe_scalable_targets(**request))
    register = dict(request, ResourceId="endpoint/echo/variant/AllTraffic",
                    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                    MinCapacity=1, MaxCapacity=2)  # fmt: skip
    assert refusal(scaling.register_scalable_target, **register) == refusal(
        twin.register_scalable_target, **register
    )


# -- awsJson1_0: stepfunctions ---------------------------------------------------------------


def test_stepfunctions_create_start_and_describe(server, home):
    sfn, twin = wire(server, "stepfunctions"), home.session.client("stepfunctions")
    definition = {
        "StartAt": "Add",
        "States": {"Add": {"Type": "Pass", "Parameters": {"sum.$": "$.a"}, "End": True}},
    }
    machine = sfn.create_state_machine(
        name="wire-machine", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=machine, name="first", input='{"a": 2}')
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"sum": 2})
    same(described, twin.describe_execution(executionArn=started["executionArn"]))
    same(sfn.list_state_machines(), twin.list_state_machines())
    same(
        sfn.get_execution_history(executionArn=started["executionArn"]),
        twin.get_execution_history(executionArn=started["executionArn"]),
    )
    missing = machine.replace("stateMachine:wire-machine", "execution:wire-machine:nope")
    assert refusal(sfn.describe_execution, executionArn=missing) == refusal(
        twin.describe_execution, executionArn=missing
    )
    answer = raw(server, "POST", "/", b"{}", dict(signed_as("states"), **{
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines"}))  # fmt: skip
    assert answer[1]["Content-Type"] == "application/x-amz-json-1.0"


# -- restJson1: databrew, lambda, featurestore-runtime, sagemaker-runtime --------------------


def test_databrew_datasets_and_recipes(server, home):
    brew, twin = wire(server, "databrew"), home.session.client("databrew")
    wire(server, "s3").create_bucket(Bucket="brew-data")
    brew.create_dataset(
        Name="wire-dataset",
        Input={"S3InputDefinition": {"Bucket": "brew-data", "Key": "in/rows.csv"}},
    )
    same(brew.describe_dataset(Name="wire-dataset"), twin.describe_dataset(Name="wire-dataset"))
    steps = [{"Action": {"Operation": "DELETE", "Parameters": {"sourceColumns": '["plan"]'}}}]
    brew.create_recipe(Name="wire-recipe", Steps=steps)
    brew.publish_recipe(Name="wire-recipe", Description="first")
    # RecipeVersion is a query member: /recipes/{name}?recipeVersion=1.0
    same(
        brew.describe_recipe(Name="wire-recipe", RecipeVersion="1.0"),
        twin.describe_recipe(Name="wire-recipe", RecipeVersion="1.0"),
    )
    assert refusal(brew.describe_dataset, Name="nope") == refusal(
        twin.describe_dataset, Name="nope"
    )


HANDLER = """
def handler(event, context):
    if event.get("boom"):
        raise ValueError("no threshold")
    return {"doubled": event["n"] * 2}
"""


def test_lambda_create_invoke_and_a_missing_function(server, home):
    """CreateFunction's ZipFile is a blob in a JSON body (base64); Invoke's Payload is the raw
    body both ways, its StatusCode the answer's status (200 with X-Amz-Function-Error when the
    handler raised), LogResult a header (LogType Tail)."""
    lam, twin = wire(server, "lambda"), home.session.client("lambda")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("app.py", HANDLER)
    created = lam.create_function(FunctionName="double", Runtime="python3.11", Role=ROLE,
                                  Handler="app.handler", Code={"ZipFile": archive.getvalue()})  # fmt: skip
    assert (
        created["CodeSha256"]
        == base64.b64encode(hashlib.sha256(archive.getvalue()).digest()).decode()
    )
    same(lam.list_functions(), twin.list_functions())
    same(
        lam.get_function_configuration(FunctionName="double"),
        twin.get_function_configuration(FunctionName="double"),
    )
    answer = lam.invoke(FunctionName="double", Payload=b'{"n": 21}', LogType="Tail")
    assert (answer["StatusCode"], json.loads(answer["Payload"].read())) == (200, {"doubled": 42})
    assert "LogResult" in answer and "FunctionError" not in answer
    failed = lam.invoke(FunctionName="double", Payload=b'{"boom": true}')
    assert (failed["StatusCode"], failed["FunctionError"]) == (200, "Unhandled")
    assert json.loads(failed["Payload"].read())["errorType"] == "ValueError"
    code, message, status = refusal(lam.get_function, FunctionName="nope")
    assert (code, message, status) == refusal(twin.get_function, FunctionName="nope")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_feature_store_put_and_get_record_after_sagemaker_creates_the_group(server, home):
    """CreateFeatureGroup through sagemaker (awsJson1_1), then PutRecord (PUT
    /FeatureGroup/{name}, a JSON body), GetRecord (GET, FeatureName repeated in the query) and
    BatchGetRecord of sagemaker-featurestore-runtime, which signs as `sagemaker` too."""
    sm, fs = wire(server, "sagemaker"), wire(server, "sagemaker-featurestore-runtime")
    twin = home.session.client("sagemaker-featurestore-runtime")
    sm.create_feature_group(
        FeatureGroupName="wire-features",
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="at",
        FeatureDefinitions=[
            {"FeatureName": "id", "FeatureType": "String"},
            {"FeatureName": "at", "FeatureType": "String"},
            {"FeatureName": "score", "FeatureType": "Fractional"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True},
        RoleArn=ROLE,
    )
    described = sm.describe_feature_group(FeatureGroupName="wire-features")
    same(described, home.session.client("sagemaker").describe_feature_group(
        FeatureGroupName="wire-features"))  # fmt: skip
    record = [
        {"FeatureName": "id", "ValueAsString": "c-1"},
        {"FeatureName": "at", "ValueAsString": "2026-12-07T10:00:00Z"},
        {"FeatureName": "score", "ValueAsString": "0.5"},
    ]
    fs.put_record(FeatureGroupName="wire-features", Record=record)
    request = {
        "FeatureGroupName": "wire-features",
        "RecordIdentifierValueAsString": "c-1",
        "FeatureNames": ["id", "score"],
    }
    got = fs.get_record(**request)
    assert got["Record"] == [record[0], record[2]]
    same(got, twin.get_record(**request))
    batch = {
        "Identifiers": [
            {"FeatureGroupName": "wire-features", "RecordIdentifiersValueAsString": ["c-1", "x"]}
        ]
    }
    same(fs.batch_get_record(**batch), twin.batch_get_record(**batch))
    missing = dict(request, FeatureGroupName="no-such-group")
    assert refusal(fs.get_record, **missing) == refusal(twin.get_record, **missing)


def test_invoke_endpoint_sends_the_body_and_headers_and_reads_them_back(server, home):
    """sagemaker-runtime's InvokeEndpoint (POST /endpoints/{EndpointName}/invocations, signed
    as `sagemaker`): Body is the raw payload, ContentType and Accept headers; the answer's Body
    the raw payload, ContentType and InvokedProductionVariant headers; a container's 500 is
    ModelError (424) with its modelled members OriginalStatusCode and OriginalMessage."""
    sm, runtime = wire(server, "sagemaker"), wire(server, "sagemaker-runtime")
    sm.create_model(
        ModelName="echo",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="echo-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "echo",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="echo", EndpointConfigName="echo-config")
    deadline = time.monotonic() + 20
    while sm.describe_endpoint(EndpointName="echo")["EndpointStatus"] == "Creating":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert sm.describe_endpoint(EndpointName="echo")["EndpointStatus"] == "InService"
    body = b"40,5,\x00\xff binary too"
    answer = runtime.invoke_endpoint(
        EndpointName="echo", Body=body, ContentType="text/csv", Accept="text/csv"
    )
    assert answer["Body"].read() == body.upper()
    assert (answer["ContentType"], answer["InvokedProductionVariant"]) == ("text/csv", "AllTraffic")
    with pytest.raises(ClientError) as failed:
        runtime.invoke_endpoint(EndpointName="echo", Body=b"fail", ContentType="text/csv")
    error = failed.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ModelError",
        424,
    )
    assert (error["OriginalStatusCode"], error["OriginalMessage"]) == (500, "it failed")
    code, message, status = refusal(runtime.invoke_endpoint, EndpointName="nope", Body=b"1")
    assert (code, status) == ("ValidationError", 400) and "nope" in message
    # a body over InvokeEndpoint's 6 MB is refused before any of it reaches a twin
    code, _, status = refusal(
        runtime.invoke_endpoint, EndpointName="echo", Body=b"1" * (6 << 20 | 1)
    )
    assert (code, status) == ("ValidationError", 413)


def test_many_clients_at_once_open_each_twin_once(tmp_path):
    """Sixteen threads' first calls to a fresh home's twins at once: every answer is right, and
    the session opened one Step Functions twin (the state machine one thread made, all see)."""
    fresh = Home(tmp_path / "fresh")
    try:
        with EndpointServer(fresh.session) as served:
            clients = [wire(served, "stepfunctions") for _ in range(16)]
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                answers = list(
                    pool.map(lambda c: c.list_state_machines()["stateMachines"], clients)
                )
            assert answers == [[]] * 16
            definition = json.dumps(
                {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
            )
            clients[0].create_state_machine(name="once", definition=definition, roleArn=ROLE)
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                names = list(pool.map(lambda c: c.list_state_machines()["stateMachines"], clients))
            assert {tuple(m["name"] for m in found) for found in names} == {("once",)}
    finally:
        fresh.close()


# -- S3 through the same port ----------------------------------------------------------------


def test_s3_put_get_and_list_through_the_same_port(server, home):
    s3, twin = wire(server, "s3"), home.session.client("s3")
    s3.create_bucket(Bucket="wire-bucket")
    s3.put_object(Bucket="wire-bucket", Key="a/b.txt", Body=b"hello")
    assert s3.get_object(Bucket="wire-bucket", Key="a/b.txt")["Body"].read() == b"hello"
    assert twin.get_object(Bucket="wire-bucket", Key="a/b.txt")["Body"].read() == b"hello"
    listed = s3.list_objects_v2(Bucket="wire-bucket")
    assert [o["Key"] for o in listed["Contents"]] == ["a/b.txt"]
    code, _, status = refusal(s3.get_object, Bucket="wire-bucket", Key="missing")
    assert (code, status) == ("NoSuchKey", 404)


# -- what no SDK sends -----------------------------------------------------------------------


def test_unsigned_unknown_and_malformed_requests_get_the_protocols_errors(server):
    status, headers, body = raw(
        server, "POST", "/", b"{}", {"X-Amz-Target": "SageMaker.ListModels"}
    )
    assert status == 403 and headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    status, _, body = raw(server, "GET", "/some-bucket/key")  # unsigned, S3-looking: S3's XML
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    dynamodb = dict(signed_as("dynamodb"), **{"X-Amz-Target": "DynamoDB_20120810.ListTables"})
    status, _, body = raw(server, "POST", "/", b"{}", dynamodb)
    assert (status, json.loads(body)["__type"]) == (400, "UnrecognizedClientException")
    # a service with no twin, in its own protocol (awsQuery's XML error): botocore reads it
    code, message, status = refusal(wire(server, "sts").get_caller_identity)
    assert (code, status) == ("UnrecognizedClientException", 400) and "'sts'" in message
    # Athena (restJson1, the SageMaker SDK's athena_query): the code, not an unreadable body
    code, message, status = refusal(wire(server, "athena").start_query_execution, QueryString="1")
    assert (code, status) == ("UnrecognizedClientException", 400) and "'athena'" in message
    target = dict(signed_as("sagemaker"), **{"X-Amz-Target": "SageMaker.NoSuchOperation"})
    status, _, body = raw(server, "POST", "/", b"{}", target)
    assert (status, json.loads(body)["__type"]) == (400, "UnknownOperationException")
    status, _, body = raw(server, "GET", "/no/such/path", b"", signed_as("lambda"))
    assert (status, json.loads(body)["__type"]) == (404, "UnknownOperationException")
    for bad in (b"{not json", b"[1, 2]", b"\xff\xfe", b"[" * 100000):
        target = dict(signed_as("sagemaker"), **{"X-Amz-Target": "SageMaker.ListModels"})
        status, headers, body = raw(server, "POST", "/", bad, target)
        assert (status, json.loads(body)["__type"]) == (400, "SerializationException"), bad[:10]
    target = dict(signed_as("sagemaker"), **{"X-Amz-Target": "SageMaker.ListModels"})
    status, _, body = raw(server, "POST", "/", b" " * (4 * 1024 * 1024 + 1), target)
    assert (status, json.loads(body)["__type"]) == (413, "ValidationException")


def test_an_operation_the_twin_lacks_is_501(server):
    code, message, status = refusal(wire(server, "sagemaker").list_domains)
    assert (code, status) == ("NotImplementedException", 501) and "ListDomains" in message


class BrokenLambda(object):
    """A twin with bugs: its ListFunctions raises what no ClientError is, its GetFunction
    answers what no JSON is."""

    validation_code = "ValidationException"

    def list_functions(self, **request):
        raise KeyError("/secret/path/in/a/traceback")

    def get_function(self, **request):  # an answer JSON cannot write
        return {"Configuration": {"FunctionName": object()}}


class OneTwinSession(object):
    """A session of S3 and that broken Lambda."""

    def __init__(self, root):
        self.s3 = S3Client(Store(root))

    def has(self, service):
        return service == "lambda"

    def client(self, service):
        return self.s3 if service == "s3" else BrokenLambda()


def test_a_twins_bug_is_internal_failure_with_no_traceback(tmp_path, capfd):
    with EndpointServer(OneTwinSession(tmp_path)) as served:
        code, message, status = refusal(wire(served, "lambda").list_functions)
    assert (code, status) == ("InternalFailure", 500)
    assert "Traceback" not in message and "/secret/path" not in message
    assert "KeyError" in capfd.readouterr().err  # the server's own log has it
    with EndpointServer(OneTwinSession(tmp_path)) as served:
        code, message, status = refusal(wire(served, "lambda").get_function, FunctionName="f")
    assert (code, status) == ("InternalFailure", 500) and "TypeError" in message


# -- `churn local`, and the AWS CLI ----------------------------------------------------------


def test_churn_local_starts_fast_serves_and_stops_on_sigterm(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("CHURN_JOB_PARENT", None)  # churn local starts a shared job parent of its own
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "local", "--port", "0", "--home", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
        env=env,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
        elapsed = time.monotonic() - started
        exports = dict(line[len("export ") :].strip().split("=", 1) for line in lines[1:])
        assert elapsed < 3, "churn local took %.1f s to print its endpoint" % elapsed
        assert set(exports) == {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                "AWS_DEFAULT_REGION", "CHURN_JOB_PARENT"}  # fmt: skip
        env = dict(os.environ, **exports)
        # A run given the exports forks its jobs from churn local's parent: its own log is empty.
        run_home = tmp_path / "run-home"
        ran = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--rows", "2000",
                              "--home", str(run_home)], env=env, capture_output=True, text=True,
                             cwd=str(ROOT), timeout=300)  # fmt: skip
        assert ran.returncode == 0 and "Succeeded" in ran.stdout, ran.stderr[-2000:]
        assert (run_home / "warm-parent.log").read_text() == ""
        script = (
            "import boto3; print(boto3.client('sagemaker').list_model_package_groups()"
            "['ModelPackageGroupSummaryList'])"
        )
        listed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                text=True, timeout=30)  # fmt: skip
        assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr.read() == ""
        assert not os.path.exists(exports["CHURN_JOB_PARENT"])  # its parent ended with it
    finally:
        proc.kill()
        proc.wait()


def aws_cli():
    path = os.environ.get("CHURN_AWSCLI") or str(ROOT / ".venv-awscli" / "bin" / "aws")
    if not os.access(path, os.X_OK):
        pytest.skip("no AWS CLI at %s: `make awscli` installs it (or set CHURN_AWSCLI)" % path)
    return path


def test_the_aws_cli_reaches_sagemaker_s3_and_stepfunctions(server, home, tmp_path):
    aws = aws_cli()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull)  # fmt: skip

    def run(*args):
        done = subprocess.run([aws, "--endpoint-url", server.url, "--output", "json", *args],
                              env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    home.session.client("sagemaker").create_model_package_group(ModelPackageGroupName="cli-group")
    groups = json.loads(run("sagemaker", "list-model-package-groups"))
    assert "cli-group" in [
        g["ModelPackageGroupName"] for g in groups["ModelPackageGroupSummaryList"]
    ]
    source = tmp_path / "up.txt"
    source.write_bytes(b"through the CLI\n")
    home.session.client("s3").create_bucket(Bucket="cli-bucket")
    run("s3", "cp", str(source), "s3://cli-bucket/in/up.txt")
    assert home.store.path("s3://cli-bucket/in/up.txt").read_bytes() == b"through the CLI\n"
    run("s3", "cp", "s3://cli-bucket/in/up.txt", str(tmp_path / "down.txt"))
    assert (tmp_path / "down.txt").read_bytes() == b"through the CLI\n"
    machines = json.loads(run("stepfunctions", "list-state-machines"))["stateMachines"]
    in_process = home.session.client("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines] == [m["name"] for m in in_process]
