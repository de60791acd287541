"""Step Functions' service integrations, answered by the local twins.

    sagemaker_integrations(backend, start_pipeline) -> {resource: function}

The functions take a Task's parameters as Step Functions sends them (the API's own PascalCase
request) and give the API's answer; a refusal becomes the error AWS's integration raises: an
optimized integration (sagemaker:createModel, ...) fails with SageMaker.AmazonSageMakerException
or the modelled exception's name (SageMaker.ResourceLimitExceededException, ...), an aws-sdk
one with SageMaker.<ErrorCode>, Exception-suffixed. `start_pipeline(name, parameters)` starts a
pipeline execution and returns its ARN: the workspace's, which knows what the pipeline is.
This module joins two twins, so it sits beside them rather than inside either. DataBrew's
integration (databrew:startJobRun) is pipelines/aws/databrew.py's: it calls a `databrew` client,
boto3's or the twin's, through the same functions as `churn databrew run`.
"""

import json
import time

from pipelines.errors import UserError
from pipelines.local.sagemaker.hosting import HostingError
from pipelines.local.sagemaker.job_api import KINDS, Jobs
from pipelines.local.stepfunctions.errors import StatesError

MODELLED = ("ResourceLimitExceeded", "ResourceInUse", "ResourceNotFound")


def _error(exception, optimized):
    code = getattr(exception, "code", "ValidationException")
    if code.endswith("Exception"):
        code = code[: -len("Exception")]
    if optimized and code not in MODELLED:
        return StatesError("SageMaker.AmazonSageMakerException", str(exception))
    return StatesError("SageMaker.%sException" % code, str(exception))


def _call(function, optimized):
    def integration(parameters, call):
        try:
            return function(parameters)
        except UserError as e:
            raise _error(e, optimized)

    return integration


def sagemaker_integrations(backend, start_pipeline):
    hosting = backend.hosting

    def registry():  # this thread's: a task runs in a thread of its own
        return backend.registry

    def model_package(p):
        return _without_none(registry().find(p["ModelPackageName"]))

    def list_model_packages(p):
        packages = registry().list_packages(p.get("ModelPackageGroupName"))
        if p.get("ModelApprovalStatus"):
            packages = [x for x in packages if x["ModelApprovalStatus"] == p["ModelApprovalStatus"]]
        key = "ModelPackageName" if p.get("SortBy") == "Name" else "CreationTime"
        packages.sort(key=lambda x: x.get(key) or "", reverse=p.get("SortOrder") != "Ascending")
        packages = packages[: int(p.get("MaxResults", 100))]
        return {
            "ModelPackageSummaryList": [
                {
                    k: x[k]
                    for k in (
                        "ModelPackageGroupName",
                        "ModelPackageVersion",
                        "ModelPackageArn",
                        "CreationTime",
                        "ModelPackageStatus",
                        "ModelApprovalStatus",
                    )
                    if k in x
                }
                for x in packages
            ]
        }

    def create_model(p):
        name = p["ModelName"]
        try:
            registry().model(name)
        except UserError:
            request = {k: v for k, v in p.items() if k != "ModelName"}
            return {"ModelArn": registry().create_model(name, request)["ModelArn"]}
        raise HostingError("Cannot create already existing model %r" % name)

    def describe_pipeline_execution(p):
        arn = p["PipelineExecutionArn"]
        try:
            record = backend.executions.load(arn.rsplit("/", 1)[-1])
        except UserError:
            raise HostingError("Pipeline execution %s does not exist" % arn, "ResourceNotFound")
        out = {
            "PipelineArn": arn.split("/execution/")[0],
            "PipelineExecutionArn": arn,
            "PipelineExecutionStatus": record["PipelineExecutionStatus"],
            "CreationTime": record["StartTime"],
            "LastModifiedTime": record.get("EndTime") or time.time(),
        }
        if record.get("FailureReason"):
            out["FailureReason"] = record["FailureReason"]
        return out

    def delete_endpoint(p):
        hosting.delete_endpoint(p["EndpointName"])
        return {}  # DeleteEndpoint's answer

    def start_pipeline_execution(p):
        parameters = {x["Name"]: x["Value"] for x in p.get("PipelineParameters", [])}
        return {"PipelineExecutionArn": start_pipeline(p["PipelineName"], parameters)}

    optimized = {
        "sagemaker:createModel": create_model,
        "sagemaker:createEndpointConfig": hosting.create_endpoint_config,
        "sagemaker:createEndpoint": lambda p: hosting.create_endpoint(
            p["EndpointName"], p["EndpointConfigName"], lambda name: registry().model(name)
        ),
        "sagemaker:updateEndpoint": lambda p: hosting.update_endpoint(
            p["EndpointName"], p["EndpointConfigName"], lambda name: registry().model(name)
        ),
        "sagemaker:deleteEndpoint": delete_endpoint,
    }
    sdk = {
        "describeModelPackage": model_package,
        "listModelPackages": list_model_packages,
        "describeEndpoint": lambda p: hosting.describe_endpoint(p["EndpointName"]),
        "startPipelineExecution": start_pipeline_execution,
        "describePipelineExecution": describe_pipeline_execution,
        "describeMonitoringSchedule": lambda p: hosting.describe_monitoring_schedule(
            p["MonitoringScheduleName"]
        ),
        "createMonitoringSchedule": hosting.create_monitoring_schedule,
        "updateMonitoringSchedule": hosting.update_monitoring_schedule,
    }
    jobs = Jobs(backend)
    for kind in KINDS:
        optimized["sagemaker:create%sJob" % kind] = _starter(jobs, kind)
        sdk["describe%sJob" % kind] = _describer(jobs, kind)
    out = {name: _call(f, True) for name, f in optimized.items()}
    out.update({"aws-sdk:sagemaker:" + name: _call(f, False) for name, f in sdk.items()})
    for kind in KINDS:
        out["sagemaker:create%sJob.sync" % kind] = _sync_job(jobs, kind)
    return out


def _starter(jobs, kind):
    return lambda p: jobs.create(kind, p, wait=False)


def _describer(jobs, kind):
    return lambda p: jobs.describe(kind, p[kind + "JobName"])


def _sync_job(jobs, kind):
    """create*Job.sync: the job's description once it ends; a failed job is States.TaskFailed
    with the description (its FailureReason) as the cause, as Step Functions reports it."""

    def run(parameters, call):
        try:
            described = jobs.create(kind, parameters, wait=True)
        except UserError as e:
            raise _error(e, optimized=True)
        if described[kind + "JobStatus"] != "Completed":
            raise StatesError("States.TaskFailed", json.dumps(described, default=str))
        return described

    return run


def _without_none(value):
    return {k: v for k, v in value.items() if v is not None}
