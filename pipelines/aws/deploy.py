"""Deploy a registered model version to a SageMaker endpoint with data capture, and remove it.

The seed's deployment and its clean-up, as boto3 calls (what `churn deploy` / `churn undeploy`
run): CreateModel from the model package's container (in the VPC when subnets are given),
CreateEndpointConfig with a DataCaptureConfig (volumes and captures encrypted with the KMS key
when one is given), CreateEndpoint, or UpdateEndpoint when it exists (blue/green with canary
shifting and alarm rollback when asked, pipelines/aws/scaling.py), then auto-scaling, and with
--monitor hourly a data-quality monitoring schedule against the version's DriftCheckBaselines.
Undeploy deletes the endpoint's monitoring schedules, the endpoint, its config and its models.

Every function takes the `sagemaker` client it calls (`sagemaker_client`: boto3's, or the local
twin's, pipelines/local/sagemaker/api.py), else makes boto3's from `session`: `churn deploy
--local` runs this same code against the twin. Auto-scaling and blue/green rollouts need
Application Auto Scaling and CloudWatch alarms, which have no twin: AWS only.
"""

import time
import uuid
from typing import Any, Dict, Optional

from pipelines.aws import scaling as endpoint_scaling
from pipelines.aws.registry import require_approved
from pipelines.aws.sessions import aws_session
from pipelines.errors import DeployError

CAPTURE_CSV_TYPES = ["text/csv"]
CAPTURE_JSON_TYPES = ["application/json", "application/jsonlines"]
# The tag a model created from a package's container carries: which version it serves.
PACKAGE_TAG = "model-package-arn"


def _client(session: Any = None, sagemaker_client: Any = None) -> Any:
    if sagemaker_client is not None:
        return sagemaker_client
    return (session or aws_session()).client("sagemaker")


def _exists(call: Any, **kwargs: Any) -> bool:
    from botocore.exceptions import ClientError

    try:
        call(**kwargs)
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return False
        raise


def deploy(
    model_package_arn: str,
    endpoint_name: str,
    role_arn: str,
    instance_type: str = "ml.m5.large",
    instance_count: int = 1,
    capture_percent: float = 100,
    capture_destination: Optional[str] = None,
    allow_unapproved: bool = False,
    session: Any = None,
    kms_key: Optional[str] = None,
    vpc: Optional[Dict[str, Any]] = None,
    scaling: Optional[endpoint_scaling.AutoScaling] = None,
    rollout: Optional[endpoint_scaling.BlueGreen] = None,
    autoscaling_client: Any = None,
    network_isolation: bool = False,
    sagemaker_client: Any = None,
) -> Dict[str, Any]:
    """Returns the names it created: {"model", "endpoint_config", "endpoint", "rollout"}.
    `vpc`: {"Subnets": [...], "SecurityGroupIds": [...]}; `scaling`: a scaling.AutoScaling;
    `rollout`: a scaling.BlueGreen, used when the endpoint exists (a new one has no traffic to
    shift); `network_isolation`: the model's container gets no network, so its serving code
    must be in the artifact (a version registered by a pipeline built with
    network_isolation). `sagemaker_client` given and no `autoscaling_client`: there is no
    Application Auto Scaling (the local twin), so `scaling` is refused and an existing endpoint
    is taken as not scaled."""

    if sagemaker_client is None:
        session = session or aws_session()
    sm = _client(session, sagemaker_client)
    autoscaling = autoscaling_client or (
        session.client("application-autoscaling") if sagemaker_client is None else None
    )
    if scaling is not None and autoscaling is None:
        raise DeployError(
            "auto-scaling needs Application Auto Scaling, which has no local twin: AWS only"
        )
    package = sm.describe_model_package(ModelPackageName=model_package_arn)
    require_approved(package, allow_unapproved)
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers:
        raise DeployError(
            "model package %s has no InferenceSpecification container: nothing to deploy"
            % model_package_arn
        )
    container = containers[0]
    # Unique even for two deployments in one second.
    suffix = "%s-%s" % (time.strftime("%Y%m%d%H%M%S", time.gmtime()), uuid.uuid4().hex[:4])
    model_name = "%s-%s" % (endpoint_name, suffix)
    config_name = "%s-config-%s" % (endpoint_name, suffix)
    primary = {
        "Image": container["Image"],
        "ModelDataUrl": container["ModelDataUrl"],
        "Environment": container.get("Environment", {}),
    }
    submit = primary["Environment"].get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if network_isolation and submit.startswith("s3://"):
        raise DeployError(
            "model package %s fetches its serving code from %s, which an isolated container "
            "cannot: register it from a pipeline built with network_isolation (its code is then "
            "in the model artifact), or deploy without --network-isolation"
            % (model_package_arn, submit)
        )
    model: Dict[str, Any] = dict(
        ModelName=model_name,
        ExecutionRoleArn=role_arn,
        PrimaryContainer=primary,
        Tags=[{"Key": PACKAGE_TAG, "Value": model_package_arn}],
    )
    if vpc:
        model["VpcConfig"] = vpc
    if network_isolation:
        model["EnableNetworkIsolation"] = True
    sm.create_model(**model)
    config: Dict[str, Any] = {
        "EndpointConfigName": config_name,
        "ProductionVariants": [
            {
                "VariantName": endpoint_scaling.VARIANT,
                "ModelName": model_name,
                "InitialInstanceCount": int(instance_count),
                "InstanceType": instance_type,
                "InitialVariantWeight": 1.0,
            }
        ],
    }
    if capture_percent > 0:
        if not capture_destination:
            raise DeployError(
                "data capture needs --capture-destination s3://bucket/prefix "
                "(or --data-capture-percent 0 to turn it off)"
            )
        config["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": int(capture_percent),
            "DestinationS3Uri": capture_destination,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": CAPTURE_CSV_TYPES,
                "JsonContentTypes": CAPTURE_JSON_TYPES,
            },
        }
        if kms_key:
            config["DataCaptureConfig"]["KmsKeyId"] = kms_key
    if kms_key:
        config["KmsKeyId"] = kms_key  # the instances' storage volumes
    sm.create_endpoint_config(**config)
    used: Optional[str] = None
    if _exists(sm.describe_endpoint, EndpointName=endpoint_name):
        update: Dict[str, Any] = {
            "EndpointName": endpoint_name,
            "EndpointConfigName": config_name,
        }
        if autoscaling is not None and endpoint_scaling.is_scaled(autoscaling, endpoint_name):
            if _instance_type(sm, endpoint_name) != instance_type:
                endpoint_scaling.remove(autoscaling, endpoint_name)
            else:  # keep the instance count auto-scaling reached
                update["RetainAllVariantProperties"] = True
        if rollout is not None:
            update["DeploymentConfig"] = rollout.deployment_config()
            used = "blue/green"
        sm.update_endpoint(**update)
    else:
        sm.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
    if scaling is not None:
        # Application Auto Scaling takes only an endpoint that is InService.
        sm.get_waiter("endpoint_in_service").wait(EndpointName=endpoint_name)
        scaling.apply(autoscaling, endpoint_name)
    return {
        "model": model_name,
        "endpoint_config": config_name,
        "endpoint": endpoint_name,
        "rollout": used,
    }


def wait_until_serving(
    sm: Any, endpoint_name: str, config_name: str, waiter_config: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """Wait (the client's `endpoint_in_service` waiter) until `endpoint_name` is InService,
    then check it serves `config_name`: an update that fails leaves the endpoint InService on
    its previous configuration with a FailureReason. Returns DescribeEndpoint; a DeployError
    with the FailureReason otherwise."""
    from botocore.exceptions import WaiterError

    try:
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=endpoint_name, **({"WaiterConfig": waiter_config} if waiter_config else {})
        )
    except WaiterError as e:
        last = e.last_response or {}
        if last.get("EndpointStatus") == "Failed":
            raise DeployError(
                "endpoint %s failed: %s" % (endpoint_name, last.get("FailureReason", ""))
            )
        if "Error" in last:
            raise DeployError("endpoint %s: %s" % (endpoint_name, last["Error"].get("Message")))
        raise DeployError(
            "endpoint %s is still %s after waiting for it"
            % (endpoint_name, last.get("EndpointStatus", "not InService"))
        )
    described = sm.describe_endpoint(EndpointName=endpoint_name)
    if described["EndpointConfigName"] != config_name:
        raise DeployError(
            "endpoint %s keeps its previous configuration: %s"
            % (endpoint_name, described.get("FailureReason", ""))
        )
    return described


def serving(sm: Any, endpoint_name: str) -> Dict[str, Any]:
    """What endpoint `endpoint_name` serves, read through the client (DescribeEndpoint,
    DescribeEndpointConfig, DescribeModel, ListTags): {"ModelPackageArn" (the model's
    ModelPackageName, or the PACKAGE_TAG of a model made from the package's container; None
    when neither), "CaptureDestination" (the DataCaptureConfig's S3 URI, or None), "Since"
    (DescribeEndpoint's LastModifiedTime)}. A missing endpoint is the client's
    ValidationException."""
    endpoint = sm.describe_endpoint(EndpointName=endpoint_name)
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    package = container.get("ModelPackageName")
    if not package:
        tags = sm.list_tags(ResourceArn=model["ModelArn"]).get("Tags", [])
        package = next((t["Value"] for t in tags if t["Key"] == PACKAGE_TAG), None)
    capture = config.get("DataCaptureConfig") or {}
    return {
        "ModelPackageArn": package,
        "CaptureDestination": capture.get("DestinationS3Uri"),
        "Since": endpoint["LastModifiedTime"],
    }


def serving_if_any(sm: Any, endpoint_name: str) -> Optional[Dict[str, Any]]:
    """`serving`, or None when there is no endpoint `endpoint_name` (DescribeEndpoint's
    ValidationException)."""
    if not _exists(sm.describe_endpoint, EndpointName=endpoint_name):
        return None
    return serving(sm, endpoint_name)


def config_served(sm: Any, endpoint_name: str) -> Optional[str]:
    """The endpoint config `endpoint_name` serves, or None when there is no such endpoint."""
    if not _exists(sm.describe_endpoint, EndpointName=endpoint_name):
        return None
    return str(sm.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"])


def roll_back(
    sm: Any, endpoint_name: str, config_name: str, waiter_config: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """UpdateEndpoint back to `config_name` (a config the endpoint served before, which deploy
    leaves in place), all at once, and wait until it serves it (wait_until_serving)."""
    sm.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
    return wait_until_serving(sm, endpoint_name, config_name, waiter_config)


def _instance_type(sm: Any, endpoint_name: str) -> Optional[str]:
    endpoint = sm.describe_endpoint(EndpointName=endpoint_name)
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    return config["ProductionVariants"][0].get("InstanceType")


HOURLY = "cron(0 * ? * * *)"


def schedule_name(endpoint_name: str) -> str:
    return "%s-data-quality-hourly" % endpoint_name


def monitoring_schedule_config(
    endpoint_name: str,
    constraints: Dict[str, str],
    statistics: Dict[str, str],
    output_uri: str,
    image_uri: str,
    role_arn: str,
    instance_type: str = "ml.m5.xlarge",
) -> Dict[str, Any]:
    """CreateMonitoringSchedule's MonitoringScheduleConfig: hourly data-quality checks of the
    endpoint's captured traffic against a baseline (`constraints` and `statistics` are the
    BaselineConfig resources, {"S3Uri": ...}), publishing CloudWatch metrics (what
    DefaultModelMonitor.create_monitoring_schedule sends)."""
    return {
        "ScheduleConfig": {"ScheduleExpression": HOURLY},
        "MonitoringType": "DataQuality",
        "MonitoringJobDefinition": {
            "BaselineConfig": {
                "ConstraintsResource": constraints,
                "StatisticsResource": statistics,
            },
            "MonitoringInputs": [
                {
                    "EndpointInput": {
                        "EndpointName": endpoint_name,
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
                            "S3Uri": output_uri,
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        }
                    }
                ]
            },
            "MonitoringResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": instance_type,
                    "VolumeSizeInGB": 20,
                }
            },
            "MonitoringAppSpecification": {"ImageUri": image_uri},
            "Environment": {"publish_cloudwatch_metrics": "Enabled"},
            "RoleArn": role_arn,
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }


def schedule_monitoring(
    endpoint_name: str,
    model_package_arn: str,
    role_arn: str,
    output_uri: str,
    image_uri: str,
    instance_type: str = "ml.m5.xlarge",
    session: Any = None,
    monitoring_client: Any = None,
    sagemaker_client: Any = None,
) -> str:
    """An hourly data-quality monitoring schedule against the version's DriftCheckBaselines
    (monitoring_schedule_config). `image_uri` is Model Monitor's analyzer image in the
    endpoint's region (pipelines.churn.images.model_monitor_image)."""
    sm = _client(session, sagemaker_client)
    monitor = monitoring_client or sm
    package = sm.describe_model_package(ModelPackageName=model_package_arn)
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality")
    if not quality:
        raise DeployError(
            "model package %s has no data-quality DriftCheckBaselines to "
            "monitor against" % model_package_arn
        )
    name = schedule_name(endpoint_name)
    monitor.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig=monitoring_schedule_config(
            endpoint_name,
            {"S3Uri": quality["Constraints"]["S3Uri"]},
            {"S3Uri": quality["Statistics"]["S3Uri"]},
            output_uri,
            image_uri,
            role_arn,
            instance_type,
        ),
    )
    return name


def undeploy(
    endpoint_name: str,
    session: Any = None,
    monitoring_client: Any = None,
    sagemaker_client: Any = None,
) -> Dict[str, Any]:
    """Delete the endpoint's monitoring schedules, the endpoint, its config and its models.
    Returns what was deleted. `monitoring_client` answers the Model Monitor calls (default: the
    same SageMaker client; tests stub it, as the AWS stand-in lacks those APIs)."""
    from botocore.exceptions import ClientError

    sm = _client(session, sagemaker_client)
    monitor = monitoring_client or sm
    try:
        endpoint = sm.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as e:
        raise DeployError(
            "no endpoint %s (%s)" % (endpoint_name, e.response["Error"].get("Message", ""))
        )
    deleted: Dict[str, Any] = {"monitoring_schedules": [], "models": []}
    for schedule in monitor.list_monitoring_schedules(EndpointName=endpoint_name).get(
        "MonitoringScheduleSummaries", []
    ):
        monitor.delete_monitoring_schedule(
            MonitoringScheduleName=schedule["MonitoringScheduleName"]
        )
        deleted["monitoring_schedules"].append(schedule["MonitoringScheduleName"])
    config_name = endpoint["EndpointConfigName"]
    config = sm.describe_endpoint_config(EndpointConfigName=config_name)
    sm.delete_endpoint(EndpointName=endpoint_name)
    sm.delete_endpoint_config(EndpointConfigName=config_name)
    for variant in config["ProductionVariants"]:
        sm.delete_model(ModelName=variant["ModelName"])
        deleted["models"].append(variant["ModelName"])
    deleted.update({"endpoint": endpoint_name, "endpoint_config": config_name})
    return deleted
