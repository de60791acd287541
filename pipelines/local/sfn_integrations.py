"""Step Functions' service integrations, answered by the local twins.

    sagemaker_integrations(backend, start_pipeline) -> {resource: function}

The functions take a Task's parameters as Step Functions sends them (the API's own PascalCase
request) and give the API's answer: the registry, pipeline and job calls are the SageMaker
twin's client methods (api.py) called with the parameters as keyword arguments, their
datetimes as epoch seconds in the state's JSON. A refusal becomes the error AWS's integration
raises: an optimized integration (sagemaker:createModel, ...) fails with
SageMaker.AmazonSageMakerException or the modelled exception's name
(SageMaker.ResourceLimitExceededException, ...), an aws-sdk one with SageMaker.<ErrorCode>,
Exception-suffixed. `start_pipeline(name, parameters)` starts a pipeline execution and returns
its ARN: the workspace's, which knows what the pipeline is.
This module joins two twins, so it sits beside them rather than inside either. DataBrew's
integration (databrew:startJobRun) is pipelines/aws/databrew.py's: it calls a `databrew` client,
boto3's or the twin's, through the same functions as `churn databrew run`.

    s3_map_resources(s3_client) -> {resource: function}

What a Distributed Map's ItemReader and ResultWriter call (s3:getObject, s3:listObjectsV2,
s3:putObject): an `s3` client's methods, the S3 twin's over the home's store; a refusal is
StatesError S3.<ErrorCode> (the Map makes it States.ItemReaderFailed or
States.ResultWriterFailed).
"""

import json
import time
from typing import Any, Callable, Dict

from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

from pipelines.errors import UserError
from pipelines.local.sagemaker.api import SageMakerClient, StartPipeline
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.job_api import KINDS
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integration

Json = Dict[str, Any]

MODELLED = ("ResourceLimitExceeded", "ResourceInUse", "ResourceNotFound")
JOB_POLL_SECONDS = 0.05


def _states_error(code: str, message: str, optimized: bool) -> StatesError:
    if code.endswith("Exception"):
        code = code[: -len("Exception")]
    if optimized and code not in MODELLED:
        return StatesError("SageMaker.AmazonSageMakerException", message)
    return StatesError("SageMaker.%sException" % code, message)


def _error(exception: Exception, optimized: bool) -> StatesError:
    """The StatesError of a refusal: a ClientError's code, a ParamValidationError (which the
    service itself answers over HTTP) a ValidationException, another UserError its `code`."""
    if isinstance(exception, ClientError):
        error = exception.response["Error"]
        return _states_error(error["Code"], error.get("Message", ""), optimized)
    if isinstance(exception, ParamValidationError):
        return _states_error("ValidationException", " ".join(str(exception).split()), optimized)
    return _states_error(
        getattr(exception, "code", "ValidationException"), str(exception), optimized
    )


def _json(answer: Json) -> Any:
    """boto3's answer holds datetimes; a state's JSON holds them as epoch seconds."""
    return json.loads(json.dumps(answer, default=lambda d: d.timestamp()))


def _call(function: Callable[[Json], Json], optimized: bool) -> Integration:
    def integration(parameters: Json, call: Any) -> Any:
        try:
            return _json(function(parameters))
        except (ClientError, ParamValidationError, UserError) as e:
            raise _error(e, optimized)

    return integration


def _client_call(client: SageMakerClient, name: str) -> Callable[[Json], Json]:
    """An aws-sdk integration: the client's boto3 method with the Task's parameters."""
    method = getattr(client, name)
    return lambda p: method(**p)


def s3_map_resources(client: Any) -> Dict[str, Integration]:
    def call(method: Callable[..., Json]) -> Integration:
        def resource(parameters: Json, _: Any) -> Json:
            try:
                return method(**parameters)
            except ClientError as e:
                error = e.response["Error"]
                raise StatesError("S3.%s" % error["Code"], error.get("Message", ""))
            except ParamValidationError as e:
                raise StatesError("S3.ValidationException", " ".join(str(e).split()))

        return resource

    return {
        "s3:getObject": call(client.get_object),
        "s3:listObjectsV2": call(client.list_objects_v2),
        "s3:putObject": call(client.put_object),
    }


def sagemaker_integrations(
    backend: SageMakerBackend, start_pipeline: StartPipeline
) -> Dict[str, Integration]:
    client = SageMakerClient(backend, start_pipeline)
    optimized = {
        "sagemaker:" + name: _client_call(client, method)
        for name, method in (
            ("createModel", "create_model"),
            ("createEndpointConfig", "create_endpoint_config"),
            ("createEndpoint", "create_endpoint"),
            ("updateEndpoint", "update_endpoint"),
            ("deleteEndpoint", "delete_endpoint"),
        )
    }
    sdk = {
        name: _client_call(client, method)
        for name, method in (
            ("describeModelPackage", "describe_model_package"),
            ("listModelPackages", "list_model_packages"),
            ("startPipelineExecution", "start_pipeline_execution"),
            ("describePipelineExecution", "describe_pipeline_execution"),
            ("describeEndpoint", "describe_endpoint"),
            ("describeMonitoringSchedule", "describe_monitoring_schedule"),
            ("createMonitoringSchedule", "create_monitoring_schedule"),
            ("updateMonitoringSchedule", "update_monitoring_schedule"),
        )
    }
    for kind in KINDS:
        optimized["sagemaker:create%sJob" % kind] = _client_call(
            client, xform_name("Create%sJob" % kind)
        )
        sdk["describe%sJob" % kind] = _client_call(client, xform_name("Describe%sJob" % kind))
    out = {name: _call(f, True) for name, f in optimized.items()}
    out.update({"aws-sdk:sagemaker:" + name: _call(f, False) for name, f in sdk.items()})
    for kind in KINDS:
        out["sagemaker:create%sJob.sync" % kind] = _sync_job(client, kind)
    return out


def _sync_job(client: SageMakerClient, kind: str) -> Integration:
    """create*Job.sync: the job's description once it ends; a failed job is States.TaskFailed
    with the description (its FailureReason) as the cause, as Step Functions reports it."""
    create = getattr(client, xform_name("Create%sJob" % kind))
    describe = getattr(client, xform_name("Describe%sJob" % kind))
    name = kind + "JobName"

    def run(parameters: Json, call: Any) -> Any:
        try:
            create(**parameters)
            while True:
                described = describe(**{name: parameters[name]})
                if described[kind + "JobStatus"] not in ("InProgress", "Stopping"):
                    break
                time.sleep(JOB_POLL_SECONDS)
        except (ClientError, ParamValidationError, UserError) as e:
            raise _error(e, optimized=True)
        described = _json(described)
        if described[kind + "JobStatus"] != "Completed":
            raise StatesError("States.TaskFailed", json.dumps(described))
        return described

    return run
