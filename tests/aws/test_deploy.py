"""`churn deploy` / `undeploy` against the moto server on 127.0.0.1.

moto implements the model package, model, endpoint config and endpoint APIs over HTTP; it lacks
the Model Monitor ones (ListMonitoringSchedules, DeleteMonitoringSchedule), so those calls go
to a client stubbed with botocore's Stubber, and only those."""

import subprocess
import sys

import pytest
from botocore.stub import Stubber

from pipelines.aws.deploy import undeploy

from conftest import ROOT, aws_client

ROLE = "arn:aws:iam::123456789012:role/ChurnEndpointRole"


def register(sagemaker, group, status, environment=None):
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5",
                    "ModelDataUrl": "s3://artifacts/churn/models/job/output/model.tar.gz",
                    "Environment": environment or {"SAGEMAKER_PROGRAM": "inference.py"},
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return arn


def churn(env, *args):
    """`churn ARGS` on AWS (the moto server `env` points at): CHURN_TARGET=aws, as a user
    deploying from CI sets it, unless ARGS say --local."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli"] + list(args),
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(env, CHURN_TARGET="aws"),
        timeout=120,
    )


def test_deploy_with_data_capture_then_undeploy(aws_env, monkeypatch):
    sagemaker = aws_client("sagemaker", aws_env)
    arn = register(sagemaker, "ChurnDeployGroup", "Approved")
    proc = churn(
        aws_env,
        "deploy",
        "--model-package-arn",
        arn,
        "--endpoint-name",
        "churn-prod",
        "--role-arn",
        ROLE,
        "--capture-destination",
        "s3://artifacts/capture",
        "--data-capture-percent",
        "100",
    )
    assert proc.returncode == 0, proc.stderr
    endpoint = sagemaker.describe_endpoint(EndpointName="churn-prod")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] and capture["InitialSamplingPercentage"] == 100
    assert capture["DestinationS3Uri"] == "s3://artifacts/capture"
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}
    model_name = config["ProductionVariants"][0]["ModelName"]
    model = sagemaker.describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("/model.tar.gz")
    assert model["ExecutionRoleArn"] == ROLE

    for key, value in aws_env.items():
        monkeypatch.setenv(key, value)
    monitor = aws_client("sagemaker", aws_env)
    with Stubber(monitor) as stub:  # the only stubbed calls: moto has no Model Monitor APIs
        stub.add_response(
            "list_monitoring_schedules",
            {
                "MonitoringScheduleSummaries": [
                    {
                        "MonitoringScheduleName": "churn-prod-hourly",
                        "MonitoringScheduleArn": "arn:aws:sagemaker:us-east-1:123456789012:monitoring-"
                        "schedule/churn-prod-hourly",
                        "CreationTime": 0,
                        "LastModifiedTime": 0,
                        "MonitoringScheduleStatus": "Scheduled",
                        "EndpointName": "churn-prod",
                    }
                ]
            },
            {"EndpointName": "churn-prod"},
        )
        stub.add_response(
            "delete_monitoring_schedule", {}, {"MonitoringScheduleName": "churn-prod-hourly"}
        )
        done = undeploy("churn-prod", monitoring_client=monitor)
        stub.assert_no_pending_responses()
    assert done["monitoring_schedules"] == ["churn-prod-hourly"]
    assert done["models"] == [model_name]
    names = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    assert "churn-prod" not in names
    configs = [
        c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
    ]
    assert endpoint["EndpointConfigName"] not in configs
    assert model_name not in [m["ModelName"] for m in sagemaker.list_models()["Models"]]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--role-arn", ROLE, "--capture-destination", "s3://a/c"],
            "is PendingManualApproval, not Approved",
        ),
        (
            ["--capture-destination", "s3://a/c"],
            "--role-arn (or SAGEMAKER_EXECUTION_ROLE_ARN, or --config-prefix)",
        ),
        (["--role-arn", ROLE], "data capture needs --capture-destination"),
        (
            # Refused before the endpoint is made, not after it (as it once was).
            ["--role-arn", ROLE, "--capture-destination", "s3://a/c", "--monitor", "hourly"],
            "--monitor hourly needs --monitoring-output",
        ),
    ],
)
def test_deploy_refusals_are_one_line(aws_env, args, message):
    sagemaker = aws_client("sagemaker", aws_env)
    group = "Pending%d" % abs(hash(message))
    arn = register(
        sagemaker, group, "PendingManualApproval" if "Approved" in message else "Approved"
    )
    env = {k: v for k, v in aws_env.items() if k != "SAGEMAKER_EXECUTION_ROLE_ARN"}
    proc = churn(env, "deploy", "--model-package-arn", arn, "--endpoint-name", "x", *args)
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert "x" not in [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]


def test_undeploy_of_a_missing_endpoint(aws_env):
    proc = churn(aws_env, "undeploy", "--endpoint-name", "nothing-here")
    assert proc.returncode == 1 and "no endpoint nothing-here" in proc.stderr


def test_the_monitor_image_is_the_sdks_in_every_region():
    """churn deploy and churn workflow look the image up without importing the SDK."""
    from pipelines.churn.images import model_monitor_image, sdk_image_table
    from pipelines.churn.sdk import quiet_sdk
    from pipelines.errors import UserError

    quiet_sdk()
    from sagemaker import image_uris

    regions = sdk_image_table("model-monitor")["versions"][""]["registries"]
    assert {"us-east-1", "eu-west-1", "cn-north-1"} <= set(regions)
    for region in regions:
        assert model_monitor_image(region) == image_uris.retrieve("model-monitor", region), region
    with pytest.raises(UserError, match="Model Monitor has no image in region 'mars-1'"):
        model_monitor_image("mars-1")


def test_hourly_monitoring_schedule_against_the_registered_baseline(aws_env, monkeypatch):
    import boto3

    from pipelines.aws.deploy import HOURLY, schedule_monitoring
    from pipelines.churn.images import model_monitor_image
    from pipelines.churn.sdk import quiet_sdk

    quiet_sdk()
    from sagemaker import image_uris

    for key, value in aws_env.items():
        monkeypatch.setenv(key, value)
    sagemaker = aws_client("sagemaker", aws_env)
    sagemaker.create_model_package_group(ModelPackageGroupName="ChurnMonitored")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="ChurnMonitored",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "i", "ModelDataUrl": "s3://a/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        DriftCheckBaselines={
            "ModelDataQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": "s3://a/b/statistics.json",
                },
                "Constraints": {
                    "ContentType": "application/json",
                    "S3Uri": "s3://a/b/constraints.json",
                },
            }
        },
    )["ModelPackageArn"]
    monitor = aws_client("sagemaker", aws_env)
    expected = {
        "MonitoringScheduleName": "churn-prod-data-quality-hourly",
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": HOURLY},
            "MonitoringType": "DataQuality",
            "MonitoringJobDefinition": {
                "BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": "s3://a/b/constraints.json"},
                    "StatisticsResource": {"S3Uri": "s3://a/b/statistics.json"},
                },
                "MonitoringInputs": [
                    {
                        "EndpointInput": {
                            "EndpointName": "churn-prod",
                            "LocalPath": "/opt/ml/processing/input/endpoint",
                            "S3InputMode": "File",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    }
                ],
                "MonitoringOutputConfig": {
                    "MonitoringOutputs": [
                        {
                            "S3Output": {
                                "S3Uri": "s3://a/reports",
                                "LocalPath": "/opt/ml/processing/output",
                                "S3UploadMode": "EndOfJob",
                            }
                        }
                    ]
                },
                "MonitoringResources": {
                    "ClusterConfig": {
                        "InstanceCount": 1,
                        "InstanceType": "ml.m5.xlarge",
                        "VolumeSizeInGB": 20,
                    }
                },
                "MonitoringAppSpecification": {
                    "ImageUri": image_uris.retrieve("model-monitor", "us-east-1")
                },
                "Environment": {"publish_cloudwatch_metrics": "Enabled"},
                "RoleArn": ROLE,
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            },
        },
    }
    with Stubber(monitor) as stub:  # moto has no CreateMonitoringSchedule: this call only
        stub.add_response(
            "create_monitoring_schedule",
            {
                "MonitoringScheduleArn": "arn:aws:sagemaker:us-east-1:123456789012:monitoring-"
                "schedule/churn-prod-data-quality-hourly"
            },
            expected,
        )
        name = schedule_monitoring(
            "churn-prod",
            arn,
            ROLE,
            "s3://a/reports",
            model_monitor_image("us-east-1"),
            session=boto3.Session(region_name="us-east-1"),
            monitoring_client=monitor,
        )
        stub.assert_no_pending_responses()
    assert name == "churn-prod-data-quality-hourly"


def sent(session, operation):
    """The parameters of every `operation` request this session's clients send (to moto, for
    real: a botocore event hook, no stubbing)."""
    calls = []
    session.events.register(
        "provide-client-params.*.%s" % operation, lambda params, **_: calls.append(params)
    )
    return calls


class Answered(object):
    status_code = 200


def answer_update_endpoint(session):
    """moto lacks UpdateEndpoint: this hook answers that one call in moto's place (what
    botocore's Stubber would do, for this call only) and keeps the requests; every other call
    reaches the moto server."""
    calls = sent(session, "UpdateEndpoint")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-scaled"
    session.events.register(
        "before-call.sagemaker.UpdateEndpoint", lambda **_: (Answered(), {"EndpointArn": arn})
    )
    return calls


def test_autoscaling_and_blue_green_updates(aws_env, monkeypatch):
    """Application Auto Scaling requests are asserted by what moto kept (it accepts any
    endpoint name and creates no alarms); UpdateEndpoint's DeploymentConfig by the request."""
    import boto3

    from pipelines.aws.deploy import deploy
    from pipelines.aws.scaling import AutoScaling, BlueGreen

    for key, value in aws_env.items():
        monkeypatch.setenv(key, value)
    sagemaker = aws_client("sagemaker", aws_env)
    autoscaling = aws_client("application-autoscaling", aws_env)
    arn = register(sagemaker, "ChurnScaledGroup", "Approved")
    # First deployment, through the command: a new endpoint with auto-scaling and a KMS key.
    proc = churn(
        aws_env,
        "deploy",
        "--model-package-arn",
        arn,
        "--endpoint-name",
        "churn-scaled",
        "--role-arn",
        ROLE,
        "--capture-destination",
        "s3://artifacts/capture",
        "--kms-key-arn",
        "arn:aws:kms:us-east-1:123456789012:key/k",
        "--subnets",
        "subnet-1,subnet-2",
        "--security-group-ids",
        "sg-1",
        "--autoscale-min",
        "1",
        "--autoscale-max",
        "4",
        "--autoscale-target",
        "750",
        "--blue-green",
        "--rollback-alarms",
        "churn-endpoint-5xx,churn-model-latency-p99",
    )
    assert proc.returncode == 0, proc.stderr
    assert "nothing to shift from" in proc.stdout
    assert "auto-scaling: 1 to 4 instances, holding 750 invocations" in proc.stdout
    resource = "endpoint/churn-scaled/variant/AllTraffic"
    (target,) = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource]
    )["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    (policy,) = autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=resource
    )["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 750.0
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (300, 60)
    endpoint = sagemaker.describe_endpoint(EndpointName="churn-scaled")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k"
    assert config["DataCaptureConfig"]["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/k"
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["VpcConfig"] == {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}

    # A new version on the same instance type: blue/green, the scaled count kept.
    session = boto3.Session()
    updates = answer_update_endpoint(session)
    deregistered = sent(session, "DeregisterScalableTarget")
    alarms = ["churn-endpoint-5xx", "churn-model-latency-p99"]
    done = deploy(
        arn,
        "churn-scaled",
        ROLE,
        capture_destination="s3://artifacts/capture",
        session=session,
        rollout=BlueGreen(canary_percent=20, wait_seconds=300, bake_seconds=900, alarms=alarms),
    )
    assert done["rollout"] == "blue/green"
    (update,) = updates
    assert update["RetainAllVariantProperties"] is True
    assert update["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20},
                "WaitIntervalInSeconds": 300,
            },
            "TerminationWaitInSeconds": 900,
        },
        "AutoRollbackConfiguration": {
            "Alarms": [
                {"AlarmName": "churn-endpoint-5xx"},
                {"AlarmName": "churn-model-latency-p99"},
            ]
        },
    }
    assert not deregistered
    # Another instance type: SageMaker refuses that update of a scaled variant, so the
    # policies go and the target is deregistered first, then registered again.
    deploy(
        arn,
        "churn-scaled",
        ROLE,
        instance_type="ml.c5.xlarge",
        capture_destination="s3://artifacts/capture",
        session=session,
        scaling=AutoScaling(2, 6, 500),
    )
    assert len(deregistered) == 1 and "RetainAllVariantProperties" not in updates[1]
    (target,) = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource]
    )["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--autoscale-max", "3"], "auto-scaling needs --autoscale-min, --autoscale-max and"),
        (
            ["--autoscale-min", "5", "--autoscale-max", "3", "--autoscale-target", "9"],
            "--autoscale-min 5, --autoscale-max 3: need 1 <= min <= max",
        ),
        (["--blue-green"], "a blue/green rollout rolls back on alarms: give --rollback-alarms"),
        (["--subnets", "subnet-1"], "--subnets and --security-group-ids: an endpoint's VPC"),
    ],
)
def test_scaling_and_rollout_refusals_are_one_line(aws_env, args, message):
    sagemaker = aws_client("sagemaker", aws_env)
    arn = register(sagemaker, "Scaling%d" % abs(hash(message)), "Approved")
    base = ["--role-arn", ROLE, "--capture-destination", "s3://a/c"]
    proc = churn(
        aws_env, "deploy", "--model-package-arn", arn, "--endpoint-name", "y", *base, *args
    )
    assert proc.returncode == 1, proc.stdout
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert "y" not in [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]


def test_an_isolated_endpoint_needs_a_version_whose_code_is_in_its_artifact(aws_env, monkeypatch):
    """moto keeps no EnableNetworkIsolation on CreateModel: the request sent to it is
    asserted (a botocore event hook, no stubbing)."""
    import boto3

    from pipelines.aws.deploy import deploy

    for key, value in aws_env.items():
        monkeypatch.setenv(key, value)
    sagemaker = aws_client("sagemaker", aws_env)
    packed = register(sagemaker, "IsolatedGroup", "Approved", {
        "SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"})  # fmt: skip
    session = boto3.Session()
    created = sent(session, "CreateModel")
    deploy(packed, "iso", ROLE, capture_destination="s3://a/c", session=session,
           network_isolation=True)  # fmt: skip
    (request,) = created
    assert request["EnableNetworkIsolation"] is True
    fetched = register(sagemaker, "FetchingGroup", "Approved", {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://artifacts/churn/code/inference/x/sourcedir.tar.gz"})  # fmt: skip
    base = ["--role-arn", ROLE, "--capture-destination", "s3://a/c", "--network-isolation"]
    proc = churn(
        aws_env, "deploy", "--model-package-arn", fetched, "--endpoint-name", "iso2", *base
    )
    assert proc.returncode == 1
    assert "fetches its serving code from s3://" in proc.stderr and "Traceback" not in proc.stderr
    assert "iso2" not in [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
