"""The churn workflows as Amazon States Language definitions: plain dicts, no SDK.

    definition(name, settings) -> dict      name: train-and-deploy | deploy | direct

Each in JSONPath (the default) or JSONata (settings.query_language): one state graph (names,
transitions, Retry, Catch, resources), its data handling written once with the values of
workflow_language.py and rendered in the language's fields.

- train-and-deploy: an optional DataBrew job, then the SageMaker pipeline on the raw table
  (polled: Wait, DescribePipelineExecution, Choice), then the group's newest model package; if
  it is Approved, `deploy` runs as a nested execution, else the execution succeeds "awaiting
  approval".
- deploy (what the EventBridge rule on "SageMaker Model Package State Change" to Approved
  starts, or train-and-deploy): CreateModel from the package, CreateEndpointConfig with data
  capture, CreateEndpoint or UpdateEndpoint, polls until InService on the new configuration,
  then the data-quality monitoring schedule. A failure anywhere ends in the DeployFailed state
  with the error and its cause; SageMaker keeps serving the previous configuration when an
  update fails, and the workflow says so.

The same definition runs on AWS and in the local interpreter (pipelines/local/stepfunctions):
only the names in WorkflowSettings differ. Error names are AWS's: an optimized SageMaker
integration fails with SageMaker.AmazonSageMakerException or a modelled exception
(SageMaker.ResourceLimitExceededException, ...), an aws-sdk one with SageMaker.<Code>Exception.
"""

import json
from dataclasses import dataclass, field
from typing import Any, Optional, TypedDict

from pipelines.aws.deploy import (
    CAPTURE_CSV_TYPES,
    CAPTURE_JSON_TYPES,
    monitoring_schedule_config,
    schedule_name,
)
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.churn.workflow_language import (
    OUTPUT,
    Absent,
    All,
    AtLeast,
    Concat,
    Dialect,
    Equals,
    Merge,
    OneOf,
    ParseJson,
    Plus,
    Present,
    ShortUuid,
    context,
    query_language,
    result,
    state_input,
    var,
)
from pipelines.errors import UserError

# An Amazon States Language document: a definition, or one of its states.
State = dict[str, Any]
NAMES = ("train-and-deploy", "deploy", "direct")
SDK = "arn:aws:states:::aws-sdk:sagemaker:"
SAGEMAKER = "arn:aws:states:::sagemaker:"
LIMIT = "SageMaker.ResourceLimitExceededException"
# Retried with backoff wherever a SageMaker call may hit an account limit or throttling.
RETRY_LIMITS = [
    {
        "ErrorEquals": [LIMIT],
        "IntervalSeconds": 60,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
        "JitterStrategy": "FULL",
    },
    {
        "ErrorEquals": ["SageMaker.ThrottlingException"],
        "IntervalSeconds": 5,
        "MaxAttempts": 5,
        "BackoffRate": 2.0,
        "JitterStrategy": "FULL",
    },
]
# The guide's (and the pipeline's default) XGBoost hyperparameters.
GUIDE_HYPERPARAMETERS = {
    "max_depth": 5,
    "eta": 0.2,
    "gamma": 4,
    "min_child_weight": 6,
    "subsample": 0.8,
    "num_round": 100,
    "objective": "binary:logistic",
}
SUFFIX_LENGTH = 9  # "-" and eight hex characters: the model's and endpoint config's names


LOCAL_BASE = "s3://%s/%s" % (LOCAL_BUCKET, PREFIX)  # the local home's store


@dataclass
class WorkflowSettings:
    """The names a workflow's states use; the defaults are the local home's."""

    pipeline_name: str = "ChurnPipeline"
    model_package_group: str = "churn-seed"  # the seed schema's (churn-<schema name>)
    endpoint_name: str = "churn"
    role_arn: str = "arn:aws:iam::000000000000:role/SageMakerExecutionRole"
    input_data_url: str = LOCAL_BASE + "/data/"
    capture_uri: str = LOCAL_BASE + "/capture"
    monitoring_output_uri: str = LOCAL_BASE + "/monitoring"
    monitor_image: str = "local/model-monitor"
    deploy_state_machine_arn: str = "arn:aws:states:local:000000000000:stateMachine:churn-deploy"
    databrew_job: str = ""
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    capture_percent: int = 100
    pipeline_poll_seconds: int = 60
    endpoint_poll_seconds: int = 30
    endpoint_max_polls: int = 60  # 30 min at 30 s
    monitor: bool = True
    # direct: the guide's DataBrew -> training job -> endpoint, with no pipeline.
    training_image: str = "local/sagemaker-xgboost:3.0-5"
    training_code_uri: str = LOCAL_BASE + "/code/training/sourcedir.tar.gz"
    inference_code_uri: str = LOCAL_BASE + "/code/inference/sourcedir.tar.gz"
    model_output_uri: str = LOCAL_BASE + "/models"
    training_instance_type: str = "ml.m5.xlarge"
    label_column: str = "churn"
    label_positive: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=lambda: dict(GUIDE_HYPERPARAMETERS))
    # The infrastructure's key and VPC (empty: none), for the models, endpoint configs and
    # direct's training job, as churn deploy and the pipeline use them.
    kms_key: str = ""
    subnets: list[str] = field(default_factory=list)
    security_group_ids: list[str] = field(default_factory=list)
    # The definitions' query language: JSONPath or JSONata (QUERY_LANGUAGES, any case).
    query_language: str = "JSONPath"

    def vpc(self) -> dict[str, Any]:
        """{"VpcConfig": ...} for a model or job in the VPC, else {}."""
        if not self.subnets:
            return {}
        return {
            "VpcConfig": {
                "Subnets": list(self.subnets),
                "SecurityGroupIds": list(self.security_group_ids),
            }
        }


class TrainingLabels(TypedDict):
    """The WorkflowSettings of direct's label (training_labels)."""

    label_column: str
    label_positive: str


def training_labels(schema: Any) -> TrainingLabels:
    """direct's train.py label settings for a schema: the target column, and the raw value
    that means churn ("" when it is 1: the column then holds 0 and 1)."""
    positive = "" if schema.positive in (None, "1") else str(schema.positive)
    return {"label_column": schema.target, "label_positive": positive}


def definition(name: str, settings: Optional[WorkflowSettings] = None) -> State:
    settings = settings or WorkflowSettings()
    if name not in NAMES:
        raise UserError("no workflow %r: the workflows are %s" % (name, ", ".join(NAMES)))
    if len(settings.endpoint_name) + SUFFIX_LENGTH > 63:
        raise UserError(
            "endpoint name %r is too long for the workflow: at most %d characters, so that "
            "its models and configs (<name>-<8 hex>) fit SageMaker's 63"
            % (settings.endpoint_name, 63 - SUFFIX_LENGTH)
        )
    try:
        dialect = Dialect(query_language(settings.query_language))
    except ValueError as e:
        raise UserError(str(e))
    builder = {"train-and-deploy": train_and_deploy, "deploy": deploy, "direct": direct}[name]
    return builder(settings, dialect)


def _input_over_defaults(
    d: Dialect, defaults: dict[str, Any], following: str, comment: Optional[str] = None
) -> dict[str, State]:
    """Two Pass states: the defaults as the data's `defaults`, then the execution's input
    merged over them as its `config`."""
    first: State = {"Type": "Pass"}
    if comment:
        first["Comment"] = comment
    first.update(d.keep(defaults, at="defaults"), Next="Settings")
    merged = Merge(var("defaults"), context("Execution.Input"))
    return {
        "Defaults": first,
        "Settings": {"Type": "Pass", **d.keep({"config": merged}), "Next": following},
    }


def _databrew_job(d: Dialect, result_key: str, following: str, **fields: Any) -> State:
    """The DataBrew job config.DataBrewJobName, run to its end; its output's s3:// URL as
    databrew.<result_key>. `fields` adds Comment, Retry, Catch."""
    state: State = {"Type": "Task"}
    if "Comment" in fields:
        state["Comment"] = fields.pop("Comment")
    location = "Outputs[0].Location."
    url = Concat("s3://", result(location + "Bucket"), "/", result(location + "Key"))
    state.update(
        Resource="arn:aws:states:::databrew:startJobRun.sync",
        **d.arguments({"Name": var("config.DataBrewJobName")}),
        **d.result("databrew", {result_key: url}),
        **fields,
        Next=following,
    )
    return state


def _fail_from_error(d: Dialect, name: str = "DeployFailed") -> dict[str, State]:
    """A Fail state naming the error a Catch kept as the data's `error`."""
    return {name: d.fail(var("error.Error"), var("error.Cause"))}


def _catch(d: Dialect, target: str = "DeployFailed") -> list[State]:
    return [d.catch(["States.ALL"], target)]


def train_and_deploy(s: WorkflowSettings, d: Dialect) -> State:
    status = var("execution.PipelineExecutionStatus")
    newest = "packages.ModelPackageSummaryList[0]"
    states = {
        **_input_over_defaults(
            d,
            {
                "InputDataUrl": s.input_data_url,
                "ModelApprovalStatus": "PendingManualApproval",
                "DataBrewJobName": s.databrew_job,
            },
            "Prepare with DataBrew?",
            comment="The execution's input over these defaults",
        ),
        "Prepare with DataBrew?": {
            "Type": "Choice",
            "Choices": [d.choice(Equals(var("config.DataBrewJobName"), ""), "Start pipeline")],
            "Default": "Run DataBrew job",
        },
        "Run DataBrew job": _databrew_job(
            d,
            "InputDataUrl",
            "Use DataBrew output",
            Comment="Its output must be a raw table of the schema: the pipeline validates and "
            "preprocesses it",
            Retry=[
                {
                    "ErrorEquals": ["DataBrew.ConflictException"],
                    "IntervalSeconds": 30,
                    "MaxAttempts": 3,
                    "BackoffRate": 2.0,
                }
            ],
            Catch=_catch(d, "PipelineFailed"),
        ),
        "Use DataBrew output": {
            "Type": "Pass",
            **d.update("config", "InputDataUrl", var("databrew.InputDataUrl")),
            "Next": "Start pipeline",
        },
        "Start pipeline": {
            "Type": "Task",
            "Resource": SDK + "startPipelineExecution",
            **d.arguments(
                {
                    "PipelineName": s.pipeline_name,
                    "PipelineExecutionDescription": Concat("started by ", context("Execution.Id")),
                    "PipelineParameters": [
                        {"Name": "InputDataUrl", "Value": var("config.InputDataUrl")},
                        {"Name": "ModelApprovalStatus", "Value": var("config.ModelApprovalStatus")},
                    ],
                }
            ),
            **d.result("pipeline", {"PipelineExecutionArn": result("PipelineExecutionArn")}),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d, "PipelineFailed"),
            "Next": "Wait for pipeline",
        },
        "Wait for pipeline": {
            "Type": "Wait",
            "Seconds": s.pipeline_poll_seconds,
            "Next": "Describe pipeline execution",
        },
        "Describe pipeline execution": {
            "Type": "Task",
            "Resource": SDK + "describePipelineExecution",
            **d.arguments({"PipelineExecutionArn": var("pipeline.PipelineExecutionArn")}),
            **d.result("execution"),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d, "PipelineFailed"),
            "Next": "Pipeline done?",
        },
        "Pipeline done?": {
            "Type": "Choice",
            "Choices": [
                d.choice(Equals(status, "Succeeded"), "Newest model package"),
                d.choice(
                    All(
                        OneOf(status, ("Failed", "Stopped")),
                        Present(var("execution.FailureReason")),
                    ),
                    "Pipeline failed with reason",
                ),
                d.choice(OneOf(status, ("Failed", "Stopped")), "Pipeline failed without reason"),
            ],
            "Default": "Wait for pipeline",
        },
        "Pipeline failed with reason": d.fail(
            "PipelineExecutionFailed", var("execution.FailureReason")
        ),
        "Pipeline failed without reason": d.fail(
            "PipelineExecutionFailed",
            Concat(
                "the pipeline execution ",
                var("pipeline.PipelineExecutionArn"),
                " ended ",
                status,
            ),
        ),
        **_fail_from_error(d, "PipelineFailed"),
        "Newest model package": {
            "Type": "Task",
            "Resource": SDK + "listModelPackages",
            **d.arguments(
                {
                    "ModelPackageGroupName": s.model_package_group,
                    "SortBy": "CreationTime",
                    "SortOrder": "Descending",
                    "MaxResults": 1,
                }
            ),
            **d.result("packages"),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d, "PipelineFailed"),
            "Next": "Approved?",
        },
        # The package's presence first: on AWS a JSONPath rule on a path the input lacks
        # fails the execution (States.Runtime) rather than not matching.
        "Approved?": {
            "Type": "Choice",
            "Choices": [
                d.choice(Absent(var(newest)), "No model package"),
                d.choice(Equals(var(newest + ".ModelApprovalStatus"), "Approved"), "Deploy"),
            ],
            "Default": "Awaiting approval",
        },
        "No model package": d.fail(
            "NoModelPackage",
            "the pipeline succeeded but group %s has no model package" % s.model_package_group,
        ),
        "Awaiting approval": {
            "Type": "Pass",
            **d.output(
                {
                    "Status": "awaiting approval",
                    "ModelPackageArn": var(newest + ".ModelPackageArn"),
                    "PipelineExecutionArn": var("pipeline.PipelineExecutionArn"),
                }
            ),
            "End": True,
        },
        "Deploy": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            **d.arguments(
                {
                    "StateMachineArn": s.deploy_state_machine_arn,
                    "Input": {
                        "ModelPackageArn": var(newest + ".ModelPackageArn"),
                        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": context("Execution.Id"),
                    },
                }
            ),
            **d.result(
                OUTPUT,
                {
                    "Status": "deployed",
                    "Deployment": result("Output"),
                    "DeployExecutionArn": result("ExecutionArn"),
                },
            ),
            "Catch": _catch(d, "PipelineFailed"),
            "End": True,
        },
    }
    return d.machine(
        "Train the churn model with the SageMaker pipeline and deploy it once approved",
        "Defaults",
        24 * 3600,
        states,
    )


def deploy(s: WorkflowSettings, d: Dialect) -> State:
    endpoint = s.endpoint_name
    package = var("ModelPackageArn")
    states = {
        "From an event?": {
            "Type": "Choice",
            "Choices": [d.choice(Present(state_input("detail.ModelPackageArn")), "From event")],
            "Default": "From input",
        },
        "From event": {
            "Type": "Pass",
            "Comment": "EventBridge's SageMaker Model Package State Change event",
            **d.keep({"ModelPackageArn": state_input("detail.ModelPackageArn")}),
            "Next": "Names",
        },
        "From input": {
            "Type": "Pass",
            **d.keep({"ModelPackageArn": state_input("ModelPackageArn")}),
            "Next": "Names",
        },
        **_name_states(d, endpoint, "Describe model package"),
        "Describe model package": {
            "Type": "Task",
            "Resource": SDK + "describeModelPackage",
            **d.arguments({"ModelPackageName": package}),
            **d.result("package"),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d),
            "Next": "Approved?",
        },
        "Approved?": {
            "Type": "Choice",
            "Choices": [
                d.choice(Equals(var("package.ModelApprovalStatus"), "Approved"), "Create model")
            ],
            "Default": "Not approved",
        },
        "Not approved": d.fail(
            "ModelPackageNotApproved",
            Concat(
                "model package ",
                package,
                " is ",
                var("package.ModelApprovalStatus"),
                ", not Approved: approve it in the registry first",
            ),
        ),
        "Create model": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createModel",
            **d.arguments(
                {
                    "ModelName": var("names.Resource"),
                    "ExecutionRoleArn": s.role_arn,
                    "PrimaryContainer": {"ModelPackageName": package},
                    "Tags": [{"Key": "model-package-arn", "Value": package}],
                    **s.vpc(),
                }
            ),
            **d.result(None),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d),
            "Next": "Create endpoint config",
        },
        **_endpoint_states(s, d, "Monitor?"),
        "Monitor?": {
            "Type": "Choice",
            "Choices": [
                d.choice(
                    Present(var("package.DriftCheckBaselines.ModelDataQuality")),
                    "Schedule exists?",
                )
            ],
            "Default": "Deployed",
        },
        **_monitoring_states(s, d),
        "Deployed": {
            "Type": "Pass",
            **d.output(
                {
                    "EndpointName": endpoint,
                    "EndpointConfigName": var("names.Resource"),
                    "ModelName": var("names.Resource"),
                    "ModelPackageArn": package,
                }
            ),
            "End": True,
        },
        **_fail_from_error(d),
    }
    if not s.monitor:
        states["Monitor?"] = {"Type": "Pass", "Next": "Deployed"}
        for name in list(_monitoring_states(s, d)):
            del states[name]
    return d.machine(
        "Deploy an approved churn model package behind endpoint %s with data capture" % endpoint,
        "From an event?",
        2 * 3600,
        states,
    )


def _hyperparameter(value: Any) -> str:
    """As the SageMaker SDK sends script-mode hyperparameters: strings JSON-quoted."""
    return json.dumps(value) if isinstance(value, str) else str(value)


def direct(s: WorkflowSettings, d: Dialect) -> State:
    """The guide's literal shape: the DataBrew job, a training job on its output (train.py on
    the prepared table), a model from the job's artifact, then the endpoint states."""
    hyperparameters = dict(
        s.hyperparameters,
        label_column=s.label_column,
        sagemaker_program="train.py",
        sagemaker_submit_directory=s.training_code_uri,
    )
    if s.label_positive:
        hyperparameters["label_positive"] = s.label_positive
    states = {
        **_input_over_defaults(
            d, {"DataBrewJobName": s.databrew_job or "churn-prepare"}, "Run DataBrew job"
        ),
        "Run DataBrew job": _databrew_job(d, "DataUrl", "Names", Catch=_catch(d)),
        **_name_states(d, s.endpoint_name, "Train"),
        "Train": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createTrainingJob.sync",
            **d.arguments(
                {
                    "TrainingJobName": var("names.Resource"),
                    "AlgorithmSpecification": {
                        "TrainingImage": s.training_image,
                        "TrainingInputMode": "File",
                        "MetricDefinitions": [
                            {"Name": "train:auc", "Regex": r".*train-auc:([0-9.]+)"}
                        ],
                    },
                    "HyperParameters": {k: _hyperparameter(v) for k, v in hyperparameters.items()},
                    "InputDataConfig": [
                        {
                            "ChannelName": "train",
                            "ContentType": "text/csv",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri": var("databrew.DataUrl"),
                                    "S3DataDistributionType": "FullyReplicated",
                                }
                            },
                        }
                    ],
                    "OutputDataConfig": dict(
                        {"S3OutputPath": s.model_output_uri}, **_key("KmsKeyId", s)
                    ),
                    "ResourceConfig": dict(
                        {
                            "InstanceCount": 1,
                            "InstanceType": s.training_instance_type,
                            "VolumeSizeInGB": 30,
                        },
                        **_key("VolumeKmsKeyId", s),
                    ),
                    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                    "RoleArn": s.role_arn,
                    **s.vpc(),
                }
            ),
            **d.result("training", {"ModelDataUrl": result("ModelArtifacts.S3ModelArtifacts")}),
            "Retry": RETRY_LIMITS,
            # States.TaskFailed matches every error but a timeout: the API's refusals first,
            # so what reaches "Read training failure" is a failed job, its cause a description.
            "Catch": [
                d.catch(["SageMaker.AmazonSageMakerException", LIMIT], "DeployFailed"),
                d.catch(["States.TaskFailed"], "Read training failure"),
                *_catch(d),
            ],
            "Next": "Create model",
        },
        "Read training failure": {
            "Type": "Pass",
            **d.keep({"job": ParseJson(var("error.Cause"))}, at="failure"),
            "Next": "Training failed",
        },
        "Training failed": d.fail("TrainingJobFailed", var("failure.job.FailureReason")),
        "Create model": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createModel",
            **d.arguments(
                {
                    "ModelName": var("names.Resource"),
                    "ExecutionRoleArn": s.role_arn,
                    "PrimaryContainer": {
                        "Image": s.training_image,
                        "ModelDataUrl": var("training.ModelDataUrl"),
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": s.inference_code_uri,
                            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                        },
                    },
                    **s.vpc(),
                }
            ),
            **d.result(None),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d),
            "Next": "Create endpoint config",
        },
        **_endpoint_states(s, d, "Deployed"),
        "Deployed": {
            "Type": "Pass",
            **d.output(
                {
                    "EndpointName": s.endpoint_name,
                    "EndpointConfigName": var("names.Resource"),
                    "ModelName": var("names.Resource"),
                    "TrainingJobName": var("names.Resource"),
                    "ModelDataUrl": var("training.ModelDataUrl"),
                }
            ),
            "End": True,
        },
        **_fail_from_error(d),
    }
    return d.machine(
        "The guide's workflow: DataBrew, a training job, an endpoint (no pipeline, no "
        "registry, no approval)",
        "Defaults",
        24 * 3600,
        states,
    )


def _name_states(d: Dialect, endpoint: str, following: str) -> dict[str, State]:
    """One suffix for this deployment's resources: <endpoint>-<8 hex> (and a poll counter)."""
    return {
        "Names": {
            "Type": "Pass",
            "Comment": "One suffix for this deployment's model and endpoint config",
            **d.keep({"Suffix": ShortUuid()}, at="names"),
            "Next": "Resource name",
        },
        "Resource name": {
            "Type": "Pass",
            **d.keep(
                {"Resource": Concat(endpoint + "-", var("names.Suffix")), "Polls": 0}, at="names"
            ),
            "Next": following,
        },
    }


def _key(field_name: str, s: WorkflowSettings) -> dict[str, str]:
    """{field_name: the KMS key} when the settings name one, else {}."""
    return {field_name: s.kms_key} if s.kms_key else {}


def _endpoint_states(s: WorkflowSettings, d: Dialect, following: str) -> dict[str, State]:
    """CreateEndpointConfig with data capture, then CreateEndpoint or UpdateEndpoint, and the
    poll until the endpoint is InService on the new configuration (then `following`)."""
    endpoint = s.endpoint_name
    resource = var("names.Resource")
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": int(s.capture_percent),
        "DestinationS3Uri": s.capture_uri,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": CAPTURE_CSV_TYPES,
            "JsonContentTypes": CAPTURE_JSON_TYPES,
        },
        **_key("KmsKeyId", s),
    }
    status = var("endpoint.EndpointStatus")
    reason = var("endpoint.FailureReason")
    return {
        "Create endpoint config": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createEndpointConfig",
            **d.arguments(
                {
                    "EndpointConfigName": resource,
                    "ProductionVariants": [
                        {
                            "VariantName": "AllTraffic",
                            "ModelName": resource,
                            "InitialInstanceCount": int(s.instance_count),
                            "InstanceType": s.instance_type,
                            "InitialVariantWeight": 1.0,
                        }
                    ],
                    "DataCaptureConfig": capture,
                    **_key("KmsKeyId", s),  # the instances' volumes
                }
            ),
            **d.result(None),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d),
            "Next": "Endpoint exists?",
        },
        "Endpoint exists?": {
            "Type": "Task",
            "Resource": SDK + "describeEndpoint",
            **d.arguments({"EndpointName": endpoint}),
            **d.result("previous", {"EndpointConfigName": result("EndpointConfigName")}),
            "Retry": RETRY_LIMITS,
            "Catch": [
                d.catch(["SageMaker.ValidationException"], "Create endpoint", keep=False),
                *_catch(d),
            ],
            "Next": "Update endpoint",
        },
        "Create endpoint": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createEndpoint",
            **d.arguments({"EndpointName": endpoint, "EndpointConfigName": resource}),
            **d.result(None),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d),
            "Next": "Wait for endpoint",
        },
        "Update endpoint": {
            "Type": "Task",
            "Resource": SAGEMAKER + "updateEndpoint",
            **d.arguments({"EndpointName": endpoint, "EndpointConfigName": resource}),
            **d.result(None),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d),
            "Next": "Wait for endpoint",
        },
        "Wait for endpoint": {
            "Type": "Wait",
            "Seconds": s.endpoint_poll_seconds,
            "Next": "Describe endpoint",
        },
        "Describe endpoint": {
            "Type": "Task",
            "Resource": SDK + "describeEndpoint",
            **d.arguments({"EndpointName": endpoint}),
            **d.result("endpoint"),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d),
            "Next": "Count poll",
        },
        "Count poll": {
            "Type": "Pass",
            **d.keep({"Resource": resource, "Polls": Plus(var("names.Polls"), 1)}, at="names"),
            "Next": "Endpoint ready?",
        },
        "Endpoint ready?": {
            "Type": "Choice",
            "Choices": [
                d.choice(
                    All(
                        Equals(status, "InService"),
                        Equals(var("endpoint.EndpointConfigName"), resource),
                    ),
                    following,
                ),
                d.choice(All(Equals(status, "InService"), Present(reason)), "Update rolled back"),
                d.choice(All(Equals(status, "Failed"), Present(reason)), "Endpoint failed"),
                d.choice(AtLeast(var("names.Polls"), s.endpoint_max_polls), "Endpoint timed out"),
            ],
            "Default": "Wait for endpoint",
        },
        "Update rolled back": d.fail(
            "EndpointUpdateFailed",
            Concat(
                "the endpoint keeps serving its previous configuration ",
                var("endpoint.EndpointConfigName"),
                ": ",
                reason,
            ),
        ),
        "Endpoint failed": d.fail("EndpointFailed", reason),
        "Endpoint timed out": d.fail(
            "EndpointTimeout",
            "endpoint %s was not InService on its new configuration after %d s"
            % (endpoint, s.endpoint_poll_seconds * s.endpoint_max_polls),
        ),
    }


def _monitoring_states(s: WorkflowSettings, d: Dialect) -> dict[str, State]:
    schedule = schedule_name(s.endpoint_name)
    quality = "package.DriftCheckBaselines.ModelDataQuality"
    config = monitoring_schedule_config(
        s.endpoint_name,
        d.render({"S3Uri": var(quality + ".Constraints.S3Uri")}),
        d.render({"S3Uri": var(quality + ".Statistics.S3Uri")}),
        s.monitoring_output_uri,
        s.monitor_image,
        s.role_arn,
    )
    request = d.arguments({"MonitoringScheduleName": schedule, "MonitoringScheduleConfig": config})
    return {
        "Schedule exists?": {
            "Type": "Task",
            "Resource": SDK + "describeMonitoringSchedule",
            **d.arguments({"MonitoringScheduleName": schedule}),
            **d.result(None),
            "Retry": RETRY_LIMITS,
            "Catch": [
                d.catch(
                    ["SageMaker.ResourceNotFoundException"],
                    "Create monitoring schedule",
                    keep=False,
                ),
                *_catch(d),
            ],
            "Next": "Update monitoring schedule",
        },
        "Create monitoring schedule": {
            "Type": "Task",
            "Resource": SDK + "createMonitoringSchedule",
            **request,
            **d.result(None),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d),
            "Next": "Deployed",
        },
        "Update monitoring schedule": {
            "Type": "Task",
            "Resource": SDK + "updateMonitoringSchedule",
            **request,
            **d.result(None),
            "Retry": RETRY_LIMITS,
            "Catch": _catch(d),
            "Next": "Deployed",
        },
    }
