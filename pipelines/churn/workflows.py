"""The churn workflows as Amazon States Language definitions: plain dicts, no SDK.

    definition(name, settings) -> dict      name: train-and-deploy | deploy

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
    return {"train-and-deploy": train_and_deploy, "deploy": deploy, "direct": direct}[name](
        settings
    )


def _input_over_defaults(
    defaults: dict[str, Any], following: str, comment: Optional[str] = None
) -> dict[str, State]:
    """Two Pass states: the defaults at $.defaults, then the execution's input merged over them
    at $.config."""
    first: State = {"Type": "Pass"}
    if comment:
        first["Comment"] = comment
    first.update(Result=defaults, ResultPath="$.defaults", Next="Settings")
    return {
        "Defaults": first,
        "Settings": {
            "Type": "Pass",
            "Parameters": {"config.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"},
            "Next": following,
        },
    }


def _databrew_job(result_key: str, following: str, **fields: Any) -> State:
    """The DataBrew job $.config.DataBrewJobName, run to its end; its output's s3:// URL at
    $.databrew.<result_key>. `fields` adds Comment, Retry, Catch."""
    state: State = {"Type": "Task"}
    if "Comment" in fields:
        state["Comment"] = fields.pop("Comment")
    state.update(
        Resource="arn:aws:states:::databrew:startJobRun.sync",
        Parameters={"Name.$": "$.config.DataBrewJobName"},
        ResultSelector={
            result_key + ".$": "States.Format('s3://{}/{}', $.Outputs[0].Location.Bucket, "
            "$.Outputs[0].Location.Key)"
        },
        ResultPath="$.databrew",
        **fields,
        Next=following,
    )
    return state


def _fail_from_error(name: str = "DeployFailed") -> dict[str, State]:
    """A Fail state naming the error a Catch put at $.error."""
    return {name: {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}}


def _catch(target: str = "DeployFailed") -> list[State]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": target}]


def train_and_deploy(s: WorkflowSettings) -> State:
    states = {
        **_input_over_defaults(
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
            "Choices": [
                {
                    "Variable": "$.config.DataBrewJobName",
                    "StringEquals": "",
                    "Next": "Start pipeline",
                }
            ],
            "Default": "Run DataBrew job",
        },
        "Run DataBrew job": _databrew_job(
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
            Catch=_catch("PipelineFailed"),
        ),
        "Use DataBrew output": {
            "Type": "Pass",
            "InputPath": "$.databrew.InputDataUrl",
            "ResultPath": "$.config.InputDataUrl",
            "Next": "Start pipeline",
        },
        "Start pipeline": {
            "Type": "Task",
            "Resource": SDK + "startPipelineExecution",
            "Parameters": {
                "PipelineName": s.pipeline_name,
                "PipelineExecutionDescription.$": "States.Format('started by {}', $$.Execution.Id)",
                "PipelineParameters": [
                    {"Name": "InputDataUrl", "Value.$": "$.config.InputDataUrl"},
                    {"Name": "ModelApprovalStatus", "Value.$": "$.config.ModelApprovalStatus"},
                ],
            },
            "ResultSelector": {"PipelineExecutionArn.$": "$.PipelineExecutionArn"},
            "ResultPath": "$.pipeline",
            "Retry": RETRY_LIMITS,
            "Catch": _catch("PipelineFailed"),
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
            "Parameters": {"PipelineExecutionArn.$": "$.pipeline.PipelineExecutionArn"},
            "ResultPath": "$.execution",
            "Retry": RETRY_LIMITS,
            "Catch": _catch("PipelineFailed"),
            "Next": "Pipeline done?",
        },
        "Pipeline done?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.execution.PipelineExecutionStatus",
                    "StringEquals": "Succeeded",
                    "Next": "Newest model package",
                },
                {
                    "And": [
                        {
                            "Or": [
                                {
                                    "Variable": "$.execution.PipelineExecutionStatus",
                                    "StringEquals": s,
                                }
                                for s in ("Failed", "Stopped")
                            ]
                        },
                        {"Variable": "$.execution.FailureReason", "IsPresent": True},
                    ],
                    "Next": "Pipeline failed with reason",
                },
                {
                    "Or": [
                        {"Variable": "$.execution.PipelineExecutionStatus", "StringEquals": s}
                        for s in ("Failed", "Stopped")
                    ],
                    "Next": "Pipeline failed without reason",
                },
            ],
            "Default": "Wait for pipeline",
        },
        "Pipeline failed with reason": {
            "Type": "Fail",
            "Error": "PipelineExecutionFailed",
            "CausePath": "$.execution.FailureReason",
        },
        "Pipeline failed without reason": {
            "Type": "Fail",
            "Error": "PipelineExecutionFailed",
            "CausePath": "States.Format('the pipeline execution {} ended {}', "
            "$.pipeline.PipelineExecutionArn, $.execution.PipelineExecutionStatus)",
        },
        "PipelineFailed": _fail_from_error("PipelineFailed")["PipelineFailed"],
        "Newest model package": {
            "Type": "Task",
            "Resource": SDK + "listModelPackages",
            "Parameters": {
                "ModelPackageGroupName": s.model_package_group,
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
            },
            "ResultPath": "$.packages",
            "Retry": RETRY_LIMITS,
            "Catch": _catch("PipelineFailed"),
            "Next": "Approved?",
        },
        "Approved?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.packages.ModelPackageSummaryList[0].ModelApprovalStatus",
                    "StringEquals": "Approved",
                    "Next": "Deploy",
                },
                {
                    "Variable": "$.packages.ModelPackageSummaryList[0]",
                    "IsPresent": True,
                    "Next": "Awaiting approval",
                },
            ],
            "Default": "No model package",
        },
        "No model package": {
            "Type": "Fail",
            "Error": "NoModelPackage",
            "Cause": "the pipeline succeeded but group %s has no model package"
            % s.model_package_group,
        },
        "Awaiting approval": {
            "Type": "Pass",
            "Parameters": {
                "Status": "awaiting approval",
                "ModelPackageArn.$": "$.packages.ModelPackageSummaryList[0].ModelPackageArn",
                "PipelineExecutionArn.$": "$.pipeline.PipelineExecutionArn",
            },
            "End": True,
        },
        "Deploy": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {
                "StateMachineArn": s.deploy_state_machine_arn,
                "Input": {
                    "ModelPackageArn.$": "$.packages.ModelPackageSummaryList[0].ModelPackageArn",
                    "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                },
            },
            "ResultSelector": {
                "Status": "deployed",
                "Deployment.$": "$.Output",
                "DeployExecutionArn.$": "$.ExecutionArn",
            },
            "Catch": _catch("PipelineFailed"),
            "End": True,
        },
    }
    return {
        "Comment": "Train the churn model with the SageMaker pipeline and deploy it once approved",
        "StartAt": "Defaults",
        "TimeoutSeconds": 24 * 3600,
        "States": states,
    }


def deploy(s: WorkflowSettings) -> State:
    endpoint = s.endpoint_name
    states = {
        "From an event?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.detail.ModelPackageArn", "IsPresent": True, "Next": "From event"}
            ],
            "Default": "From input",
        },
        "From event": {
            "Type": "Pass",
            "Comment": "EventBridge's SageMaker Model Package State Change event",
            "Parameters": {"ModelPackageArn.$": "$.detail.ModelPackageArn"},
            "Next": "Names",
        },
        "From input": {
            "Type": "Pass",
            "Parameters": {"ModelPackageArn.$": "$.ModelPackageArn"},
            "Next": "Names",
        },
        **_name_states(endpoint, "Describe model package"),
        "Describe model package": {
            "Type": "Task",
            "Resource": SDK + "describeModelPackage",
            "Parameters": {"ModelPackageName.$": "$.ModelPackageArn"},
            "ResultPath": "$.package",
            "Retry": RETRY_LIMITS,
            "Catch": _catch(),
            "Next": "Approved?",
        },
        "Approved?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.package.ModelApprovalStatus",
                    "StringEquals": "Approved",
                    "Next": "Create model",
                }
            ],
            "Default": "Not approved",
        },
        "Not approved": {
            "Type": "Fail",
            "Error": "ModelPackageNotApproved",
            "CausePath": "States.Format('model package {} is {}, not Approved: approve it in "
            "the registry first', $.ModelPackageArn, $.package.ModelApprovalStatus)",
        },
        "Create model": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createModel",
            "Parameters": {
                "ModelName.$": "$.names.Resource",
                "ExecutionRoleArn": s.role_arn,
                "PrimaryContainer": {"ModelPackageName.$": "$.ModelPackageArn"},
                "Tags": [{"Key": "model-package-arn", "Value.$": "$.ModelPackageArn"}],
                **s.vpc(),
            },
            "ResultPath": None,
            "Retry": RETRY_LIMITS,
            "Catch": _catch(),
            "Next": "Create endpoint config",
        },
        **_endpoint_states(s, "Monitor?"),
        "Monitor?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.package.DriftCheckBaselines.ModelDataQuality",
                    "IsPresent": True,
                    "Next": "Schedule exists?",
                }
            ],
            "Default": "Deployed",
        },
        **_monitoring_states(s),
        "Deployed": {
            "Type": "Pass",
            "Parameters": {
                "EndpointName": endpoint,
                "EndpointConfigName.$": "$.names.Resource",
                "ModelName.$": "$.names.Resource",
                "ModelPackageArn.$": "$.ModelPackageArn",
            },
            "End": True,
        },
        **_fail_from_error(),
    }
    if not s.monitor:
        states["Monitor?"] = {"Type": "Pass", "Next": "Deployed"}
        for name in list(_monitoring_states(s)):
            del states[name]
    return {
        "Comment": "Deploy an approved churn model package behind endpoint %s with data capture"
        % endpoint,
        "StartAt": "From an event?",
        "TimeoutSeconds": 2 * 3600,
        "States": states,
    }


def _hyperparameter(value: Any) -> str:
    """As the SageMaker SDK sends script-mode hyperparameters: strings JSON-quoted."""
    return json.dumps(value) if isinstance(value, str) else str(value)


def direct(s: WorkflowSettings) -> State:
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
            {"DataBrewJobName": s.databrew_job or "churn-prepare"}, "Run DataBrew job"
        ),
        "Run DataBrew job": _databrew_job("DataUrl", "Names", Catch=_catch()),
        **_name_states(s.endpoint_name, "Train"),
        "Train": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createTrainingJob.sync",
            "Parameters": {
                "TrainingJobName.$": "$.names.Resource",
                "AlgorithmSpecification": {
                    "TrainingImage": s.training_image,
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "train:auc", "Regex": r".*train-auc:([0-9.]+)"}],
                },
                "HyperParameters": {k: _hyperparameter(v) for k, v in hyperparameters.items()},
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "ContentType": "text/csv",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri.$": "$.databrew.DataUrl",
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
            },
            "ResultSelector": {"ModelDataUrl.$": "$.ModelArtifacts.S3ModelArtifacts"},
            "ResultPath": "$.training",
            "Retry": RETRY_LIMITS,
            # States.TaskFailed matches every error but a timeout: the API's refusals first,
            # so what reaches "Read training failure" is a failed job, its cause a description.
            "Catch": [
                {
                    "ErrorEquals": ["SageMaker.AmazonSageMakerException", LIMIT],
                    "ResultPath": "$.error",
                    "Next": "DeployFailed",
                },
                {
                    "ErrorEquals": ["States.TaskFailed"],
                    "ResultPath": "$.error",
                    "Next": "Read training failure",
                },
                *_catch(),
            ],
            "Next": "Create model",
        },
        "Read training failure": {
            "Type": "Pass",
            "Parameters": {"job.$": "States.StringToJson($.error.Cause)"},
            "ResultPath": "$.failure",
            "Next": "Training failed",
        },
        "Training failed": {
            "Type": "Fail",
            "Error": "TrainingJobFailed",
            "CausePath": "$.failure.job.FailureReason",
        },
        "Create model": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createModel",
            "Parameters": {
                "ModelName.$": "$.names.Resource",
                "ExecutionRoleArn": s.role_arn,
                "PrimaryContainer": {
                    "Image": s.training_image,
                    "ModelDataUrl.$": "$.training.ModelDataUrl",
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": s.inference_code_uri,
                        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    },
                },
                **s.vpc(),
            },
            "ResultPath": None,
            "Retry": RETRY_LIMITS,
            "Catch": _catch(),
            "Next": "Create endpoint config",
        },
        **_endpoint_states(s, "Deployed"),
        "Deployed": {
            "Type": "Pass",
            "Parameters": {
                "EndpointName": s.endpoint_name,
                "EndpointConfigName.$": "$.names.Resource",
                "ModelName.$": "$.names.Resource",
                "TrainingJobName.$": "$.names.Resource",
                "ModelDataUrl.$": "$.training.ModelDataUrl",
            },
            "End": True,
        },
        **_fail_from_error(),
    }
    return {
        "Comment": "The guide's workflow: DataBrew, a training job, an endpoint (no pipeline, "
        "no registry, no approval)",
        "StartAt": "Defaults",
        "TimeoutSeconds": 24 * 3600,
        "States": states,
    }


def _name_states(endpoint: str, following: str) -> dict[str, State]:
    """One suffix for this deployment's resources: <endpoint>-<8 hex> (and a poll counter)."""
    return {
        "Names": {
            "Type": "Pass",
            "Comment": "One suffix for this deployment's model and endpoint config",
            "Parameters": {
                "Suffix.$": "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0)"
            },
            "ResultPath": "$.names",
            "Next": "Resource name",
        },
        "Resource name": {
            "Type": "Pass",
            "Parameters": {
                "Resource.$": "States.Format('%s-{}', $.names.Suffix)" % endpoint,
                "Polls": 0,
            },
            "ResultPath": "$.names",
            "Next": following,
        },
    }


def _key(field_name: str, s: WorkflowSettings) -> dict[str, str]:
    """{field_name: the KMS key} when the settings name one, else {}."""
    return {field_name: s.kms_key} if s.kms_key else {}


def _endpoint_states(s: WorkflowSettings, following: str) -> dict[str, State]:
    """CreateEndpointConfig with data capture, then CreateEndpoint or UpdateEndpoint, and the
    poll until the endpoint is InService on the new configuration (then `following`)."""
    endpoint = s.endpoint_name
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
    return {
        "Create endpoint config": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createEndpointConfig",
            "Parameters": {
                "EndpointConfigName.$": "$.names.Resource",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName.$": "$.names.Resource",
                        "InitialInstanceCount": int(s.instance_count),
                        "InstanceType": s.instance_type,
                        "InitialVariantWeight": 1.0,
                    }
                ],
                "DataCaptureConfig": capture,
                **_key("KmsKeyId", s),  # the instances' volumes
            },
            "ResultPath": None,
            "Retry": RETRY_LIMITS,
            "Catch": _catch(),
            "Next": "Endpoint exists?",
        },
        "Endpoint exists?": {
            "Type": "Task",
            "Resource": SDK + "describeEndpoint",
            "Parameters": {"EndpointName": endpoint},
            "ResultSelector": {"EndpointConfigName.$": "$.EndpointConfigName"},
            "ResultPath": "$.previous",
            "Retry": RETRY_LIMITS,
            "Catch": [
                {
                    "ErrorEquals": ["SageMaker.ValidationException"],
                    "ResultPath": None,
                    "Next": "Create endpoint",
                },
                *_catch(),
            ],
            "Next": "Update endpoint",
        },
        "Create endpoint": {
            "Type": "Task",
            "Resource": SAGEMAKER + "createEndpoint",
            "Parameters": {"EndpointName": endpoint, "EndpointConfigName.$": "$.names.Resource"},
            "ResultPath": None,
            "Retry": RETRY_LIMITS,
            "Catch": _catch(),
            "Next": "Wait for endpoint",
        },
        "Update endpoint": {
            "Type": "Task",
            "Resource": SAGEMAKER + "updateEndpoint",
            "Parameters": {"EndpointName": endpoint, "EndpointConfigName.$": "$.names.Resource"},
            "ResultPath": None,
            "Retry": RETRY_LIMITS,
            "Catch": _catch(),
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
            "Parameters": {"EndpointName": endpoint},
            "ResultPath": "$.endpoint",
            "Retry": RETRY_LIMITS,
            "Catch": _catch(),
            "Next": "Count poll",
        },
        "Count poll": {
            "Type": "Pass",
            "Parameters": {
                "Resource.$": "$.names.Resource",
                "Polls.$": "States.MathAdd($.names.Polls, 1)",
            },
            "ResultPath": "$.names",
            "Next": "Endpoint ready?",
        },
        "Endpoint ready?": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.endpoint.EndpointStatus", "StringEquals": "InService"},
                        {
                            "Variable": "$.endpoint.EndpointConfigName",
                            "StringEqualsPath": "$.names.Resource",
                        },
                    ],
                    "Next": following,
                },
                {
                    "And": [
                        {"Variable": "$.endpoint.EndpointStatus", "StringEquals": "InService"},
                        {"Variable": "$.endpoint.FailureReason", "IsPresent": True},
                    ],
                    "Next": "Update rolled back",
                },
                {
                    "And": [
                        {"Variable": "$.endpoint.EndpointStatus", "StringEquals": "Failed"},
                        {"Variable": "$.endpoint.FailureReason", "IsPresent": True},
                    ],
                    "Next": "Endpoint failed",
                },
                {
                    "Variable": "$.names.Polls",
                    "NumericGreaterThanEquals": s.endpoint_max_polls,
                    "Next": "Endpoint timed out",
                },
            ],
            "Default": "Wait for endpoint",
        },
        "Update rolled back": {
            "Type": "Fail",
            "Error": "EndpointUpdateFailed",
            "CausePath": "States.Format('the endpoint keeps serving its previous configuration "
            "{}: {}', $.endpoint.EndpointConfigName, $.endpoint.FailureReason)",
        },
        "Endpoint failed": {
            "Type": "Fail",
            "Error": "EndpointFailed",
            "CausePath": "$.endpoint.FailureReason",
        },
        "Endpoint timed out": {
            "Type": "Fail",
            "Error": "EndpointTimeout",
            "Cause": "endpoint %s was not InService on its new configuration after %d s"
            % (endpoint, s.endpoint_poll_seconds * s.endpoint_max_polls),
        },
    }


def _monitoring_states(s: WorkflowSettings) -> dict[str, State]:
    schedule = schedule_name(s.endpoint_name)
    quality = "$.package.DriftCheckBaselines.ModelDataQuality"
    config = monitoring_schedule_config(
        s.endpoint_name,
        {"S3Uri.$": quality + ".Constraints.S3Uri"},
        {"S3Uri.$": quality + ".Statistics.S3Uri"},
        s.monitoring_output_uri,
        s.monitor_image,
        s.role_arn,
    )
    return {
        "Schedule exists?": {
            "Type": "Task",
            "Resource": SDK + "describeMonitoringSchedule",
            "Parameters": {"MonitoringScheduleName": schedule},
            "ResultPath": None,
            "Retry": RETRY_LIMITS,
            "Catch": [
                {
                    "ErrorEquals": ["SageMaker.ResourceNotFoundException"],
                    "ResultPath": None,
                    "Next": "Create monitoring schedule",
                },
                *_catch(),
            ],
            "Next": "Update monitoring schedule",
        },
        "Create monitoring schedule": {
            "Type": "Task",
            "Resource": SDK + "createMonitoringSchedule",
            "Parameters": {"MonitoringScheduleName": schedule, "MonitoringScheduleConfig": config},
            "ResultPath": None,
            "Retry": RETRY_LIMITS,
            "Catch": _catch(),
            "Next": "Deployed",
        },
        "Update monitoring schedule": {
            "Type": "Task",
            "Resource": SDK + "updateMonitoringSchedule",
            "Parameters": {"MonitoringScheduleName": schedule, "MonitoringScheduleConfig": config},
            "ResultPath": None,
            "Retry": RETRY_LIMITS,
            "Catch": _catch(),
            "Next": "Deployed",
        },
    }
