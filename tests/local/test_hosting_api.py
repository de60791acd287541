"""The hosting twin is boto3's `sagemaker` client for models, tags, endpoint configs, endpoints
and monitoring schedules, and boto3's `sagemaker-runtime` client for InvokeEndpoint
(docs/adr/0011). Each test cites the API reference page whose documented behaviour it checks;
every answer the twin gives is checked against its output shape (CHURN_CHECK_ANSWERS,
tests/conftest.py). Endpoints here are real serving processes on 127.0.0.1.

One scenario runs pipelines/aws/deploy.py's deploy, wait and read of what an endpoint serves
against a moto server and against the twin. moto (5.x) has CreateModel, DescribeModel,
ListTags, CreateEndpointConfig, DescribeEndpointConfig, CreateEndpoint, DescribeEndpoint and
the Delete calls; it lacks InvokeEndpoint (it answers canned results only), the Model Monitor
calls (ListMonitoringSchedules, DeleteMonitoringSchedule, so undeploy) and starts nothing, so
its endpoints are InService at once: those run on the twin alone."""

import io
import sqlite3
import tarfile
import time

import pytest
from botocore.exceptions import ClientError, ParamValidationError, WaiterError
from botocore.response import StreamingBody

from pipelines.aws.deploy import PACKAGE_TAG, deploy, serving, undeploy, wait_until_serving
from pipelines.aws.runtime import invoke_endpoint
from pipelines.churn.bundles import build_bundles
from pipelines.churn.feature_group import LOCAL_ROLE
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.errors import DeployError, UserError
from pipelines.local.sagemaker.api import SageMakerClient
from pipelines.local.sagemaker.database import connect
from pipelines.local.sagemaker.runtime import RuntimeClient

from conftest import aws_client, churn_workspace

SEED_ROW = "40,5,100000,2,1"
CAPTURE = "s3://%s/%s/capture" % (LOCAL_BUCKET, PREFIX)
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ROLE = "arn:aws:iam::123456789012:role/ChurnEndpointRole"


@pytest.fixture
def ws(tmp_path):
    workspace = churn_workspace(tmp_path / "home")
    yield workspace
    for name in [e["EndpointName"] for e in workspace.hosting.list_endpoints()]:
        workspace.hosting.delete_endpoint(name)
    workspace.close()


@pytest.fixture
def sm(ws):
    return SageMakerClient(ws.sagemaker)


def code(error):
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


def register(ws, seed_model, status="Approved"):
    """A version of the seed model as a pipeline registers it: its artifact and the serving
    code in the home's store, the package naming both."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path in sorted(seed_model["model"].iterdir()):
            tar.add(str(path), arcname=path.name)
    artifact = "s3://%s/%s/models/seed/model.tar.gz" % (LOCAL_BUCKET, PREFIX)
    ws.store.put_bytes(artifact, archive.getvalue())
    bundles = build_bundles()
    ws.staging.stage_code(bundles)
    return ws.registry.create_model_package(
        {
            "ModelPackageGroupName": "churn-seed",
            "ModelApprovalStatus": status,
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": IMAGE,
                        "ModelDataUrl": artifact,
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": bundles["inference"].uri(
                                LOCAL_BUCKET, PREFIX
                            ),
                        },
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        }
    )["ModelPackageArn"]


def a_model(sm, name, **extra):
    return sm.create_model(
        ModelName=name,
        ExecutionRoleArn=LOCAL_ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"},
        **extra,
    )


def a_config(sm, name, model, **variant):
    return sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            dict(
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                },
                **variant,
            )
        ],
    )


# -- models ------------------------------------------------------------------------------


@pytest.mark.fast
def test_models_are_created_described_listed_and_deleted(sm):
    """API_CreateModel.html, API_DescribeModel.html, API_ListModels.html, API_DeleteModel.html:
    CreateModel answers the ModelArn; a name in use is refused ("Cannot create already existing
    model"); a missing model is a ValidationException "Could not find model"."""
    arn = a_model(sm, "m1", EnableNetworkIsolation=True,
                  VpcConfig={"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]})["ModelArn"]  # fmt: skip
    assert arn == "arn:aws:sagemaker:local:000000000000:model/m1"
    described = sm.describe_model(ModelName="m1")
    assert described["ModelArn"] == arn and described["ExecutionRoleArn"] == LOCAL_ROLE
    assert described["EnableNetworkIsolation"] is True  # recorded; no local meaning
    assert described["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    assert described["CreationTime"].tzinfo is not None
    with pytest.raises(ClientError) as again:
        a_model(sm, "m1")
    assert code(again) == (
        "ValidationException",
        'Cannot create already existing model "%s".' % arn,
    )
    a_model(sm, "m2")
    listed = sm.list_models(SortBy="Name", SortOrder="Ascending")["Models"]
    assert [m["ModelName"] for m in listed] == ["m1", "m2"]
    assert [m["ModelName"] for m in sm.list_models(NameContains="2")["Models"]] == ["m2"]
    pages = list(sm.get_paginator("list_models").paginate(MaxResults=1))
    assert len(pages) == 2
    assert sm.delete_model(ModelName="m1") == {}
    for call in (sm.describe_model, sm.delete_model):
        with pytest.raises(ClientError) as missing:
            call(ModelName="m1")
        assert code(missing)[0] == "ValidationException"
        assert 'Could not find model "%s"' % arn in code(missing)[1]


@pytest.mark.fast
def test_a_model_needs_a_container_and_serves_one(sm):
    """API_CreateModel.html: PrimaryContainer or Containers; a local endpoint serves one
    container, so an inference pipeline of several is refused rather than half served."""
    with pytest.raises(ClientError) as none:
        sm.create_model(ModelName="empty", ExecutionRoleArn=LOCAL_ROLE)
    assert code(none)[0] == "ValidationException"
    with pytest.raises(ClientError) as two:
        sm.create_model(ModelName="pipe", ExecutionRoleArn=LOCAL_ROLE,
                        Containers=[{"Image": IMAGE}, {"Image": IMAGE}])  # fmt: skip
    assert code(two)[0] == "ValidationException" and "one container" in code(two)[1]


# -- tags --------------------------------------------------------------------------------


@pytest.mark.fast
def test_tags_are_added_listed_overwritten_and_deleted_by_arn(sm, ws):
    """API_AddTags.html (adds or overwrites, answers the resource's tags), API_ListTags.html,
    API_DeleteTags.html, on a model, an endpoint config and a model package; CreateModel's
    Tags are the model's; a deleted resource's tags go with it."""
    model = a_model(sm, "tagged", Tags=[{"Key": "team", "Value": "churn"}])["ModelArn"]
    assert sm.list_tags(ResourceArn=model)["Tags"] == [{"Key": "team", "Value": "churn"}]
    added = sm.add_tags(ResourceArn=model, Tags=[{"Key": "team", "Value": "risk"},
                                                 {"Key": "stage", "Value": "prod"}])  # fmt: skip
    assert added["Tags"] == [{"Key": "team", "Value": "risk"}, {"Key": "stage", "Value": "prod"}]
    assert sm.delete_tags(ResourceArn=model, TagKeys=["team"]) == {}
    assert sm.list_tags(ResourceArn=model)["Tags"] == [{"Key": "stage", "Value": "prod"}]
    config = a_config(sm, "tagged-config", "tagged")["EndpointConfigArn"]
    sm.add_tags(ResourceArn=config, Tags=[{"Key": "k", "Value": "v"}])
    assert sm.list_tags(ResourceArn=config)["Tags"] == [{"Key": "k", "Value": "v"}]
    package = ws.registry.create_model_package({"ModelPackageGroupName": "g"})["ModelPackageArn"]
    sm.add_tags(ResourceArn=package, Tags=[{"Key": "k", "Value": "v"}])
    assert sm.list_tags(ResourceArn=package)["Tags"] == [{"Key": "k", "Value": "v"}]
    sm.delete_model(ModelName="tagged")
    a_model(sm, "tagged")
    assert sm.list_tags(ResourceArn=model)["Tags"] == []
    for arn in (
        "arn:aws:sagemaker:local:000000000000:model/nothing",
        "arn:aws:sagemaker:local:000000000000:endpoint/nothing",
        "arn:aws:s3:::bucket",
    ):
        with pytest.raises(ClientError) as missing:
            sm.list_tags(ResourceArn=arn)
        assert code(missing)[0] == "ValidationException"


@pytest.mark.fast
def test_a_home_made_before_tags_gets_their_table(tmp_path):
    """The tags table came later: a home whose database lacks it gets it on its next
    connection, its registry and endpoints untouched."""
    home = tmp_path / "old"
    home.mkdir()
    old = sqlite3.connect(str(home / "registry.db"))
    old.executescript(
        "CREATE TABLE models (name TEXT PRIMARY KEY, created REAL NOT NULL, request TEXT NOT "
        "NULL); INSERT INTO models VALUES ('kept', 1.0, "
        '\'{"PrimaryContainer": {"Image": "i"}}\');'
    )
    old.close()
    with churn_workspace(home) as ws:
        sm = SageMakerClient(ws.sagemaker)
        arn = sm.describe_model(ModelName="kept")["ModelArn"]
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
        assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    db = connect(home)
    assert db.execute("SELECT COUNT(*) FROM tags").fetchone()[0] == 1
    db.close()


# -- endpoint configs --------------------------------------------------------------------


@pytest.mark.fast
def test_endpoint_configs_and_what_a_local_endpoint_refuses(sm):
    """API_CreateEndpointConfig.html, API_DescribeEndpointConfig.html,
    API_ListEndpointConfigs.html, API_DeleteEndpointConfig.html: the variant's model must
    exist; ml.* instance types (the model's enum) and InitialInstanceCount >= 1; what a local
    endpoint cannot serve is refused by name, never ignored."""
    a_model(sm, "m")
    with pytest.raises(ClientError) as no_model:
        a_config(sm, "c", "absent")
    assert (
        code(no_model)[0] == "ValidationException" and "Could not find model" in code(no_model)[1]
    )
    with pytest.raises(ClientError) as local_type:
        a_config(sm, "c", "m", InstanceType="local")
    assert code(local_type)[0] == "ValidationException" and "enum value set" in code(local_type)[1]
    with pytest.raises(ParamValidationError):
        a_config(sm, "c", "m", InitialInstanceCount=0)
    with pytest.raises(ClientError) as serverless:
        a_config(sm, "c", "m", ServerlessConfig={"MemorySizeInMB": 2048, "MaxConcurrency": 1})
    assert "ServerlessConfig" in code(serverless)[1]
    with pytest.raises(ClientError) as two:
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
            {"VariantName": v, "ModelName": "m", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"} for v in ("a", "b")])  # fmt: skip
    assert "one production variant" in code(two)[1]
    arn = a_config(sm, "c", "m", InitialInstanceCount=3)["EndpointConfigArn"]
    sm.create_endpoint_config(
        EndpointConfigName="c2",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        KmsKeyId="arn:aws:kms:us-east-1:123456789012:key/k",
    )  # fmt: skip
    described = sm.describe_endpoint_config(EndpointConfigName="c2")
    assert described["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k"  # recorded
    assert sm.describe_endpoint_config(EndpointConfigName="c")["EndpointConfigArn"] == arn
    with pytest.raises(ClientError) as again:
        a_config(sm, "c", "m")
    assert code(again)[0] == "ValidationException" and "already existing" in code(again)[1]
    listed = sm.list_endpoint_configs(SortOrder="Ascending")["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in listed] == ["c", "c2"]
    sm.delete_endpoint_config(EndpointConfigName="c")
    for call in (sm.describe_endpoint_config, sm.delete_endpoint_config):
        with pytest.raises(ClientError) as missing:
            call(EndpointConfigName="c")
        assert code(missing)[0] == "ValidationException"
        assert "Could not find endpoint configuration" in code(missing)[1]


# -- endpoints ---------------------------------------------------------------------------


@pytest.mark.fast
def test_a_missing_endpoint_is_a_validation_exception_and_the_deleted_waiter_is_done(sm):
    """API_DescribeEndpoint.html documents no ResourceNotFound: a missing endpoint is a
    ValidationException, which botocore's EndpointDeleted waiter takes as success."""
    for call in (sm.describe_endpoint, sm.delete_endpoint):
        with pytest.raises(ClientError) as missing:
            call(EndpointName="nope")
        assert code(missing) == ("ValidationException", "Could not find endpoint 'nope'")
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    sm.get_waiter("endpoint_deleted").wait(EndpointName="nope")
    with pytest.raises(ValueError):
        sm.get_waiter("no_such_waiter")


def test_deploy_serves_invoke_update_and_undeploy_through_the_twin(ws, sm, seed_model):
    """pipelines/aws/deploy.py against the twin: CreateModel from the package's container
    with the model-package-arn tag, CreateEndpointConfig with AWS's DataCaptureConfig,
    CreateEndpoint; botocore's EndpointInService waiter; DescribeEndpoint's instance counts
    (API_DescribeEndpoint.html: one process serves, CurrentInstanceCount says so); InvokeEndpoint
    (API_runtime_InvokeEndpoint.html) and its ModelError; UpdateEndpoint's DeploymentConfig
    (API_UpdateEndpoint.html, API_DeploymentConfig.html); undeploy."""
    arn = register(ws, seed_model)
    done = deploy(arn, "churn", LOCAL_ROLE, instance_count=2, capture_destination=CAPTURE,
                  kms_key="arn:aws:kms:us-east-1:123456789012:key/k", sagemaker_client=sm)  # fmt: skip
    assert sm.describe_endpoint(EndpointName="churn")["EndpointStatus"] == "Creating"
    described = wait_until_serving(sm, "churn", done["endpoint_config"])
    assert described["EndpointStatus"] == "InService"
    (variant,) = described["ProductionVariants"]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (1, 2)
    assert described["DataCaptureConfig"]["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k"
    config = sm.describe_endpoint_config(EndpointConfigName=done["endpoint_config"])
    assert config["DataCaptureConfig"]["CaptureContentTypeHeader"] == {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json", "application/jsonlines"],
    }
    model = sm.describe_model(ModelName=done["model"])
    assert "ModelPackageName" not in model["PrimaryContainer"]
    assert sm.list_tags(ResourceArn=model["ModelArn"])["Tags"] == [
        {"Key": PACKAGE_TAG, "Value": arn}
    ]
    found = serving(sm, "churn")
    assert (found["ModelPackageArn"], found["CaptureDestination"]) == (arn, CAPTURE)
    assert ws.endpoints.served("churn")["ModelPackageArn"] == arn
    assert ws.endpoints.served("churn")["CaptureDir"] == str(ws.store.path(CAPTURE))
    assert sm.list_endpoints(StatusEquals="InService")["Endpoints"][0]["EndpointName"] == "churn"

    runtime = RuntimeClient(ws.sagemaker)
    answer = runtime.invoke_endpoint(EndpointName="churn", Body=SEED_ROW.encode(),
                                     ContentType="text/csv", Accept="text/csv")  # fmt: skip
    assert isinstance(answer["Body"], StreamingBody)
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["ContentType"].startswith("text/csv")
    score, label = answer["Body"].read().decode().strip().split(",")
    assert 0 <= float(score) <= 1 and label in ("0", "1")
    assert invoke_endpoint(runtime, "churn", SEED_ROW.encode(), "text/csv", "text/csv")
    with pytest.raises(ClientError) as model_error:
        runtime.invoke_endpoint(EndpointName="churn", Body=b"not,a,row", ContentType="text/csv")
    response = model_error.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 400 and response["OriginalMessage"]
    assert response["LogStreamArn"].endswith("log-group:/aws/sagemaker/Endpoints/churn")
    with pytest.raises(UserError, match="endpoint churn answered 400: "):
        invoke_endpoint(runtime, "churn", b"not,a,row", "text/csv", "text/csv")
    with pytest.raises(ClientError) as missing:
        runtime.invoke_endpoint(EndpointName="nope", Body=b"1")
    assert code(missing) == ("ValidationError", "Endpoint nope of account 000000000000 not found.")

    # Rollback alarms cannot be honoured here (CloudWatch has no twin): refused, not ignored.
    # The canary itself is honoured (tests/local/test_traffic_shifting.py).
    blue_green = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20},
                "WaitIntervalInSeconds": 300,
            }
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "churn-endpoint-5xx"}]},
    }
    with pytest.raises(ClientError) as refused:
        sm.update_endpoint(EndpointName="churn", EndpointConfigName=done["endpoint_config"],
                           DeploymentConfig=blue_green)  # fmt: skip
    assert code(refused)[0] == "ValidationException"
    assert "alarms" in code(refused)[1] and "CANARY" not in code(refused)[1]
    # An all-at-once switch is what a local update does: accepted.
    again = deploy(arn, "churn", LOCAL_ROLE, capture_destination=CAPTURE, sagemaker_client=sm)
    assert sm.describe_endpoint(EndpointName="churn")["EndpointStatus"] == "Updating"
    assert wait_until_serving(sm, "churn", again["endpoint_config"])["EndpointStatus"] == (
        "InService"
    )
    with pytest.raises(DeployError, match="no local twin: AWS only"):
        from pipelines.aws.scaling import AutoScaling

        deploy(arn, "churn", LOCAL_ROLE, capture_destination=CAPTURE, sagemaker_client=sm,
               scaling=AutoScaling(1, 2, 100))  # fmt: skip

    deleted = undeploy("churn", sagemaker_client=sm)
    assert deleted["models"] == [again["model"]]
    sm.get_waiter("endpoint_deleted").wait(EndpointName="churn")
    with pytest.raises(ClientError):
        sm.describe_model(ModelName=again["model"])


def test_an_endpoint_whose_model_cannot_load_fails_and_the_wait_says_why(ws, sm, seed_model):
    """API_DescribeEndpoint.html: Failed with a FailureReason; the EndpointInService waiter
    stops on Failed (botocore's waiter model), and the deploy's wait names the reason."""
    arn = register(ws, seed_model)
    package = ws.registry.find(arn)
    container = dict(package["InferenceSpecification"]["Containers"][0])
    container["ModelDataUrl"] = "s3://%s/%s/models/missing/model.tar.gz" % (LOCAL_BUCKET, PREFIX)
    broken = ws.registry.create_model_package({
        "ModelPackageGroupName": "churn-seed", "ModelApprovalStatus": "Approved",
        "InferenceSpecification": dict(package["InferenceSpecification"], Containers=[container]),
    })["ModelPackageArn"]  # fmt: skip
    done = deploy(broken, "bad", LOCAL_ROLE, capture_destination=CAPTURE, sagemaker_client=sm)
    with pytest.raises(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="bad")
    with pytest.raises(DeployError) as failed:
        wait_until_serving(sm, "bad", done["endpoint_config"])
    assert "endpoint bad failed: the serving process" in str(failed.value)
    assert "no object at" in str(failed.value)
    with pytest.raises(ClientError) as update:
        deploy(arn, "bad", LOCAL_ROLE, capture_destination=CAPTURE, sagemaker_client=sm)
    assert code(update)[0] == "ValidationException" and "Failed" in code(update)[1]


# -- monitoring schedules ----------------------------------------------------------------


@pytest.mark.fast
def test_monitoring_schedules(sm):
    """API_CreateMonitoringSchedule.html (ResourceInUse for a name in use),
    API_DescribeMonitoringSchedule.html, API_UpdateMonitoringSchedule.html,
    API_DeleteMonitoringSchedule.html (ResourceNotFound for a missing one),
    API_ListMonitoringSchedules.html (by EndpointName)."""
    from pipelines.aws.deploy import monitoring_schedule_config

    config = monitoring_schedule_config("churn", {"S3Uri": "s3://b/c.json"},
                                        {"S3Uri": "s3://b/s.json"}, "s3://b/out", IMAGE, ROLE)  # fmt: skip
    arn = sm.create_monitoring_schedule(
        MonitoringScheduleName="hourly", MonitoringScheduleConfig=config
    )["MonitoringScheduleArn"]
    with pytest.raises(ClientError) as again:
        sm.create_monitoring_schedule(MonitoringScheduleName="hourly",
                                      MonitoringScheduleConfig=config)  # fmt: skip
    assert code(again)[0] == "ResourceInUse"
    described = sm.describe_monitoring_schedule(MonitoringScheduleName="hourly")
    assert described["MonitoringScheduleArn"] == arn and described["EndpointName"] == "churn"
    changed = dict(config, ScheduleConfig={"ScheduleExpression": "cron(0 0 ? * * *)"})
    sm.update_monitoring_schedule(MonitoringScheduleName="hourly",
                                  MonitoringScheduleConfig=changed)  # fmt: skip
    assert sm.describe_monitoring_schedule(MonitoringScheduleName="hourly")[
        "MonitoringScheduleConfig"
    ]["ScheduleConfig"] == {"ScheduleExpression": "cron(0 0 ? * * *)"}
    listed = sm.list_monitoring_schedules(EndpointName="churn")["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in listed] == ["hourly"]
    assert sm.list_monitoring_schedules(EndpointName="other")["MonitoringScheduleSummaries"] == []
    sm.delete_monitoring_schedule(MonitoringScheduleName="hourly")
    for call in (sm.describe_monitoring_schedule, sm.delete_monitoring_schedule):
        with pytest.raises(ClientError) as missing:
            call(MonitoringScheduleName="hourly")
        assert code(missing)[0] == "ResourceNotFound"


# -- the same code against moto and the twin ---------------------------------------------


def scenario(sm, arn):
    """deploy (pipelines/aws/deploy.py), the shared wait, the read of what it serves, then the
    deletes, as the caller of each sees them."""
    done = deploy(arn, "scenario", ROLE, capture_destination="s3://churn-capture/scenario",
                  kms_key="arn:aws:kms:us-east-1:123456789012:key/k", sagemaker_client=sm)  # fmt: skip
    out = {}
    described = wait_until_serving(sm, "scenario", done["endpoint_config"])
    out["status"] = described["EndpointStatus"]
    found = serving(sm, "scenario")
    out["serves the version"] = found["ModelPackageArn"] == arn
    out["capture"] = found["CaptureDestination"]
    config = sm.describe_endpoint_config(EndpointConfigName=done["endpoint_config"])
    capture = config["DataCaptureConfig"]
    out["capture config"] = {k: capture.get(k) for k in (
        "EnableCapture", "InitialSamplingPercentage", "KmsKeyId", "CaptureOptions")}  # fmt: skip
    model = sm.describe_model(ModelName=done["model"])
    out["container"] = sorted(model["PrimaryContainer"])
    out["role"] = model["ExecutionRoleArn"]
    try:
        sm.describe_endpoint(EndpointName="scenario-missing")
    except ClientError as e:
        out["missing"] = e.response["Error"]["Code"]
    sm.delete_endpoint(EndpointName="scenario")
    sm.delete_endpoint_config(EndpointConfigName=done["endpoint_config"])
    sm.delete_model(ModelName=done["model"])
    out["left"] = [
        [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"] if "scenario" in e["EndpointName"]],
        [m["ModelName"] for m in sm.list_models()["Models"] if m["ModelName"] == done["model"]],
    ]  # fmt: skip
    return out


def test_one_scenario_through_the_same_code_against_moto_and_the_twin(aws_env, ws, sm, seed_model):
    moto = aws_client("sagemaker", aws_env)
    moto.create_model_package_group(ModelPackageGroupName="ScenarioGroup")
    on_aws = moto.create_model_package(
        ModelPackageGroupName="ScenarioGroup",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz",
                            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]  # fmt: skip
    on_moto = scenario(moto, on_aws)
    started = time.time()
    assert scenario(sm, register(ws, seed_model)) == on_moto
    assert time.time() - started < 60
    assert on_moto["status"] == "InService" and on_moto["serves the version"]
    assert on_moto["missing"] == "ValidationException" and on_moto["left"] == [[], []]


# -- the commands ------------------------------------------------------------------------


def test_predict_without_region_names_where_it_looked(tmp_path):
    """`churn predict --endpoint-name` on the local target (the default) is the home's local
    endpoint: a name that is not one is one line naming the home, how to look on AWS, and the
    twin's answer (DescribeEndpoint's), not "no AWS region"."""
    from conftest import churn_cli

    proc = churn_cli(tmp_path, "predict", "--endpoint-name", "churn-prdo", "--csv", SEED_ROW)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        "churn predict: error: endpoint churn-prdo in the local home %s (elsewhere: --region R):"
        % tmp_path
    )
    assert lines[0].endswith("Endpoint churn-prdo of account 000000000000 not found.")


@pytest.mark.parametrize(
    "args",
    [
        ["--autoscale-min", "1", "--autoscale-max", "2", "--autoscale-target", "9"],
        ["--blue-green", "--rollback-alarms", "a"],
        ["--monitor", "hourly"],
    ],
)
def test_deploy_local_refuses_what_needs_services_without_a_twin(tmp_path, args):
    """Auto-scaling needs Application Auto Scaling, blue/green CloudWatch alarms, hourly
    monitoring Model Monitor: with --local, one line saying so, nothing created."""
    from conftest import churn_cli

    proc = churn_cli(tmp_path, "deploy", "--local", "--endpoint-name", "e", *args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "no local twin: AWS only" in lines[0] and args[0] in lines[0]
    assert not (tmp_path / "endpoints").exists()
