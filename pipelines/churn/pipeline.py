"""get_pipeline(): the churn SageMaker Pipeline. The only module that imports the SageMaker SDK
(an import-linter contract in pyproject.toml keeps it so).

ValidateShards -> ValidateData -> PreprocessData -> TrainModel -> EvaluateShards -> EvaluateModel
    -> CheckDataChecks -> CheckAucThreshold -> RegisterModel (AUC >= AucThreshold)
                                            or AucTooLow (FailStep)
                       or UntrustedData (FailStep: a feature that alone separates the target,
                          test rows that repeat train rows, or no feature that varies)
ValidateData -> BaselineShards -> BaselineData (data-quality baseline, registered as
    DriftCheckBaselines)
The *Shards steps run on ProcessingInstanceCount instances, each on its share of the table's
files (ShardedByS3Key; EvaluateShards on its parts of the test split); ValidateData,
BaselineData and EvaluateModel merge their partial results into the report, baseline and
evaluation one instance would have written.
With batch_input: RegisterModel -> BatchModel (CreateModel) -> BatchTransform, in the AUC-passed
branch, so only a model that passed the gate scores anything.
With ingest_features: ValidateData -> IngestFeatures (the validated rows into the feature group).
With train_from_feature_store: BuildDataset (an as-of join over the offline store) feeds
PreprocessData and BaselineData instead of the raw table; after IngestFeatures when both are on,
else before ValidateShards, which then validates the built dataset.

The same definition JSON is upserted to SageMaker by `run-pipeline` (CodeBuild) and executed by
the local runner. Building it touches no network: code lives under content-hashed S3 keys
(pipelines/churn/bundles.py) and every S3 location is explicit, so the SDK never asks S3 for a
default bucket, STS for an account or IAM for a role. See docs/adr/0001-sagemaker-sdk-v2.md.
"""

import os
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional, Sequence, Union

from pipelines.aws.code_upload import upload
from pipelines.churn.bundles import USER_SCHEMA_DIR, CodeBundle, build_bundles
from pipelines.churn.feature_group import layout_of as feature_group_layout
from pipelines.churn.feature_group import offline_store_root
from pipelines.churn.images import model_monitor_image
from pipelines.churn.schema_source import SchemaSource
from pipelines.churn.sdk import quiet_sdk, telemetry_opted_out
from pipelines.churn.tuning import (
    HYPERBAND_RESOURCE,
    MAX_TRIALS,
    OBJECTIVE,
    OBJECTIVE_TYPE,
    SEARCH_SPACE,
    STRATEGIES,
)

quiet_sdk()  # before the SDK import: its v2 deprecation warnings are not our users' business

from sagemaker import image_uris  # noqa: E402
from sagemaker.drift_check_baselines import DriftCheckBaselines  # noqa: E402
from sagemaker.inputs import TrainingInput  # noqa: E402
from sagemaker.model import Model  # noqa: E402
from sagemaker.model_metrics import MetricsSource, ModelMetrics  # noqa: E402
from sagemaker.network import NetworkConfig  # noqa: E402
from sagemaker.parameter import ParameterRange  # noqa: E402
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor  # noqa: E402
from sagemaker.session import Session  # noqa: E402
from sagemaker.transformer import Transformer  # noqa: E402
from sagemaker.tuner import (  # noqa: E402
    ContinuousParameter,
    HyperbandStrategyConfig,
    HyperparameterTuner,
    IntegerParameter,
    StrategyConfig,
)
from sagemaker.workflow.condition_step import ConditionStep  # noqa: E402
from sagemaker.workflow.conditions import (  # noqa: E402
    ConditionEquals,
    ConditionGreaterThanOrEqualTo,
)
from sagemaker.workflow.entities import PipelineVariable  # noqa: E402
from sagemaker.workflow.execution_variables import ExecutionVariables  # noqa: E402
from sagemaker.workflow.fail_step import FailStep  # noqa: E402
from sagemaker.workflow.functions import Join, JsonGet  # noqa: E402
from sagemaker.workflow.model_step import ModelStep  # noqa: E402
from sagemaker.workflow.parameters import (  # noqa: E402
    Parameter,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from sagemaker.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.workflow.pipeline_context import PipelineSession  # noqa: E402
from sagemaker.workflow.properties import PropertyFile  # noqa: E402
from sagemaker.workflow.retry import (  # noqa: E402
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)
from sagemaker.workflow.step_collections import StepCollection  # noqa: E402
from sagemaker.workflow.steps import (  # noqa: E402
    CacheConfig,
    ProcessingStep,
    Step,
    TrainingStep,
    TransformStep,
    TuningStep,
)
from sagemaker.xgboost import XGBoost  # noqa: E402

SKLEARN_VERSION = "1.4-2"  # processing image
XGBOOST_VERSION = "3.0-5"  # training, evaluation and serving image; xgboost 3.0.x locally too
CODE = "/opt/ml/processing/input/code"
RAW_DATA = "/opt/ml/processing/input/data"
SHARDS = "/opt/ml/processing/shards"
# Where SageMaker tells each processing instance its name; sharded jobs name their results so.
RESOURCE_CONFIG = "/opt/ml/config/resourceconfig.json"
PREPROCESSING = (
    "/opt/ml/processing/preprocessing"  # PreprocessData's output, PreprocessApply's input
)
# Stand-in execution role for definitions built without one (review, CI diffs, local runs).
# run-pipeline always passes the real role.
PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/SageMakerPipelineExecutionRole"
# A command line or an argument list, as the SDK's job classes type them: pipeline variables
# (parameters, step properties) are resolved when the job starts.
Words = list[Union[str, PipelineVariable]]
VALIDATION_AUC_REGEX = r".*\[[0-9]+\].*#011validation-auc:([0-9.]+)"

# A pipeline parameter's default: a ParameterString, ParameterInteger or ParameterFloat by its
# type (_parameter); None where get_pipeline derives it from the bucket and prefix.
ParameterValue = Union[str, int, float, None]

# Pipeline parameters and their defaults; get_pipeline(**overrides) may change any default.
PARAMETER_DEFAULTS: dict[str, ParameterValue] = {
    "InputDataUrl": None,  # default: s3://<bucket>/<base_job_prefix>/data/ (set in get_pipeline)
    "ProcessingInstanceType": "ml.m5.xlarge",
    "ProcessingInstanceCount": 1,
    "TrainingInstanceType": "ml.m5.xlarge",
    "TrainingInstanceCount": 1,
    "ModelApprovalStatus": "PendingManualApproval",
    # The generated seed data reaches a test AUC of about 0.77 (its labels carry noise on
    # purpose) and random labels give 0.5: 0.7 passes a healthy model and stops a broken one.
    # Raise it for real tables (bank reaches 0.86, telco 0.85).
    "AucThreshold": 0.7,
    # The data checks EvaluateModel judges (evaluation/evaluate.py): no version is registered
    # when one feature alone reaches MaxFeatureAuc (a copy of the target separates it
    # perfectly; the best real feature of the shipped tables reaches 0.74), or when more than
    # MaxTrainTestOverlap of the test rows holding a distinctive value repeat a train row (0.1%
    # on the shipped tables, 69% when every row is listed twice).
    "MaxFeatureAuc": 0.99,
    "MaxTrainTestOverlap": 0.05,
    "MaxDepth": 5,
    "Eta": 0.2,
    "Gamma": 4.0,
    "MinChildWeight": 6.0,
    "Subsample": 0.8,
    "NumRound": 100,
    "EarlyStoppingRounds": 10,
}
TRAINING_MAX_RUNTIME = 86400  # the SDK's default, written out: spot_max_wait_seconds >= it
# Where an isolated model's serving code is: packed into the artifact by train.py.
MODEL_CODE_DIR = "/opt/ml/model/code"
# Parameters the Feature Store steps add (only with those options).
FEATURE_PARAMETER_DEFAULTS: dict[str, ParameterValue] = {
    "FeatureGroupName": "churn-customers",
    # The offline store's S3 prefix: run-pipeline and the local runner pass the group's
    # ResolvedOutputS3Uri; BuildDataset reads only its group's newest folder under it anyway.
    "OfflineStoreUrl": None,  # default: s3://<bucket>/<prefix>/feature-store/
    # SageMaker writes the offline store within about 15 minutes of PutRecord: IngestFeatures
    # waits that long before BuildDataset reads it (the local twin needs no wait).
    "OfflineStoreSettleSeconds": 900,
    "DatasetAsOf": "now",  # ISO-8601 or epoch seconds: each customer's features as of then
    # As the store knew them at that write time (ISO-8601 or epoch seconds); "none": no cutoff.
    "DatasetWriteTimeCutoff": "none",
}
# Parameters the batch-scoring steps add (only with batch_input); overrides may set them too.
BATCH_PARAMETER_DEFAULTS: dict[str, ParameterValue] = {
    "BatchInputUrl": None,  # the batch_input option
    # Each execution writes under <BatchOutputUrl>/<execution id>/ (no trailing slash), as
    # SageMaker's own default output is per job: a rerun never overwrites earlier scores.
    "BatchOutputUrl": None,  # default: s3://<bucket>/<prefix>/batch/output
    "BatchJoinSource": "None",  # "Input": each prediction appended to its input row
    "TransformInstanceType": "ml.m5.xlarge",
    "TransformInstanceCount": 1,
}
JOIN_SOURCES = ["None", "Input"]


@dataclass(frozen=True)
class BuildOptions:
    """Build options (not pipeline parameters) that get_pipeline's keywords may also set,
    checked when made. A keyword of get_pipeline is one of these or a parameter's name."""

    schema: Union[str, SchemaSource] = "seed"  # a shipped schema name or a schema file path
    upload_code: Optional[bool] = None  # None: upload when AWS credentials are available
    # An s3:// URI of headerless CSV files to score after registering (or True for
    # s3://<bucket>/<prefix>/batch/input/; False is None). A build option, not a parameter:
    # SageMaker cannot skip a step at run time except through a condition, and an empty input
    # would fail the transform job; the URI itself stays a parameter (BatchInputUrl) so each
    # execution can score other files.
    batch_input: Union[str, bool, None] = None
    # Bundles already built for this schema (pipelines/churn/bundles.py), as the local runner
    # has them; None: built here.
    code_bundles: Optional[Mapping[str, CodeBundle]] = None
    # SageMaker Feature Store (docs/feature-store.md): write the validated rows to the feature
    # group, and/or train on a point-in-time dataset built from its offline store.
    ingest_features: bool = False
    train_from_feature_store: bool = False
    # Production settings for the jobs (README, Infrastructure); all off by default.
    volume_kms_key: Optional[str] = None  # KMS key ARN for the jobs' storage volumes
    output_kms_key: Optional[str] = None  # KMS key ARN for job outputs, the model, batch scores
    subnets: Optional[Sequence[str]] = None  # VPC subnet ids for the jobs and the batch model,
    security_group_ids: Optional[Sequence[str]] = None  # with these security groups
    # No network for the jobs that need none (PreprocessData, BaselineData, TrainModel,
    # EvaluateModel) and for the model (its serving code then travels in the artifact, under
    # code/, and SAGEMAKER_SUBMIT_DIRECTORY names it there). ValidateData and BuildDataset
    # install packages the image lacks and IngestFeatures calls the Feature Store API, so those
    # keep theirs (in a VPC, through its NAT gateway and endpoints).
    network_isolation: bool = False
    encrypt_inter_container_traffic: bool = False  # between the hosts of a multi-instance training
    # Managed Spot Training: train.py checkpoints every 10 rounds under checkpoint_s3_uri (default
    # s3://<bucket>/<prefix>/checkpoints/train) and resumes after an interruption; a job waits
    # up to spot_max_wait_seconds (at least its MaxRuntimeInSeconds) for Spot capacity.
    spot_training: bool = False
    spot_max_wait_seconds: int = 2 * TRAINING_MAX_RUNTIME
    checkpoint_s3_uri: Optional[str] = None
    # Hyperparameter tuning (pipelines/churn/tuning.py): with N trials, TuneModel (a TuningStep
    # of N training jobs, `tuning_parallel` at a time) replaces TrainModel, and its best trial's
    # model is what EvaluateModel scores and RegisterModel registers.
    tuning_trials: int = 0
    tuning_parallel: int = 2
    tuning_strategy: str = "Bayesian"

    def __post_init__(self) -> None:
        batch_input = self.batch_input
        if batch_input is False:
            object.__setattr__(self, "batch_input", None)  # frozen: set once, here
        elif not (
            batch_input is None or batch_input is True or str(batch_input).startswith("s3://")
        ):
            raise ValueError(
                "batch_input %r: give the s3:// URI of the CSV files to score (or "
                "true for s3://<bucket>/<prefix>/batch/input/)" % (batch_input,)
            )
        if bool(self.subnets) != bool(self.security_group_ids):
            raise ValueError(
                "subnets and security_group_ids: a job runs in a VPC with both, give both or "
                "neither"
            )
        if self.spot_training and int(self.spot_max_wait_seconds) < TRAINING_MAX_RUNTIME:
            raise ValueError(
                "spot_max_wait_seconds %s: at least the training's MaxRuntimeInSeconds (%d)"
                % (self.spot_max_wait_seconds, TRAINING_MAX_RUNTIME)
            )

        if not 0 <= int(self.tuning_trials) <= MAX_TRIALS:
            raise ValueError(
                "tuning_trials %s: 0 (no tuning) to %d" % (self.tuning_trials, MAX_TRIALS)
            )
        if not 1 <= int(self.tuning_parallel) <= 10:
            raise ValueError("tuning_parallel %s: 1 to 10 trials at a time" % self.tuning_parallel)
        if self.tuning_strategy not in STRATEGIES:
            raise ValueError(
                "tuning_strategy %r: one of %s" % (self.tuning_strategy, ", ".join(STRATEGIES))
            )

    @property
    def uses_feature_store(self) -> bool:
        return bool(self.ingest_features or self.train_from_feature_store)


BUILD_OPTIONS = tuple(f.name for f in fields(BuildOptions))


def xgboost_image(region: str) -> str:
    """The XGBoost image the training and serving jobs run in `region`."""
    return image_uris.retrieve("xgboost", region, XGBOOST_VERSION)


def job_images(region: str) -> dict[str, str]:
    """Every image the pipeline's jobs and the endpoints run, in `region` (their ECR
    repositories are what the execution role may pull)."""
    return {
        "sklearn": image_uris.retrieve("sklearn", region, SKLEARN_VERSION),
        "xgboost": xgboost_image(region),
        "model-monitor": model_monitor_image(region),
    }


def _parameter(name: str, default: ParameterValue) -> Parameter:
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return ParameterString(name=name, default_value=str(default))
    if isinstance(default, int):
        return ParameterInteger(name=name, default_value=default)
    return ParameterFloat(name=name, default_value=float(default))


def _session(region: str, default_bucket: str, sagemaker_session: Optional[Session]) -> Session:
    if sagemaker_session is not None:
        return sagemaker_session
    from pipelines.aws.sessions import aws_session

    return PipelineSession(boto_session=aws_session(region), default_bucket=default_bucket)


def _has_credentials(session: Session) -> bool:
    try:
        return session.boto_session.get_credentials() is not None
    except Exception:  # a broken profile means "no usable credentials", not a crash
        return False


def get_pipeline(
    region: Optional[str],
    role: Optional[str] = None,
    default_bucket: Optional[str] = None,
    model_package_group_name: Optional[str] = None,
    pipeline_name: str = "ChurnPipeline",
    base_job_prefix: str = "churn",
    sagemaker_session: Optional[Session] = None,
    **overrides: Any,
) -> "ChurnPipeline":
    """Build the churn pipeline. `overrides` set parameter defaults (e.g. AucThreshold=0.8,
    InputDataUrl="s3://...") and the build options, BuildOptions: `schema`, `upload_code`,
    `batch_input` (which adds the batch-scoring steps and their parameters,
    BATCH_PARAMETER_DEFAULTS), `code_bundles`, ... Versions are registered in
    `model_package_group_name`, by default the schema's group (its model_package_group, or
    churn-<schema name>): each table has its own."""
    options, parameter_overrides = _split_overrides(overrides)
    if options.uses_feature_store:
        feature_group_layout(schema_source(options.schema).schema)  # a clear error first
    if not region:
        raise ValueError("no AWS region: pass region or set AWS_DEFAULT_REGION")
    if sagemaker_session is not None:
        default_bucket = default_bucket or sagemaker_session.default_bucket()
    if not default_bucket:
        raise ValueError(
            "no S3 bucket: pass default_bucket (the bucket for code, data and artifacts)"
        )
    session = _session(region, default_bucket, sagemaker_session)
    source = schema_source(options.schema)
    bundles = options.code_bundles or build_bundles(source.user_file)
    prefix = base_job_prefix.strip("/")
    upload_code = options.upload_code
    if upload_code is None:
        upload_code = _has_credentials(session)
    if upload_code:
        upload(
            bundles, session.boto_session.client("s3", region_name=region), default_bucket, prefix
        )
    return _build(
        ChurnBuild(
            region=region,
            session=session,
            bucket=default_bucket,
            prefix=prefix,
            role=role or os.environ.get("SAGEMAKER_PIPELINE_ROLE_ARN") or PLACEHOLDER_ROLE,
            source=source,
            bundles=bundles,
            batch_input=options.batch_input,
            ingest=bool(options.ingest_features),
            from_store=bool(options.train_from_feature_store),
            overrides=parameter_overrides,
            security=JobSecurity(options),
            pipeline_name=pipeline_name,
            model_package_group_name=model_package_group_name or source.schema.model_package_group,
            tuning=options if options.tuning_trials else None,
        )
    )


def schema_source(schema: Union[str, SchemaSource]) -> SchemaSource:
    return schema if isinstance(schema, SchemaSource) else SchemaSource(schema)


def _split_overrides(
    overrides: Mapping[str, Any],
) -> tuple[BuildOptions, dict[str, ParameterValue]]:
    """(build options, parameter defaults) from get_pipeline's keywords, checked: the options
    by BuildOptions, then the parameters against them."""
    unknown = (
        set(overrides)
        - set(PARAMETER_DEFAULTS)
        - set(BUILD_OPTIONS)
        - set(BATCH_PARAMETER_DEFAULTS)
        - set(FEATURE_PARAMETER_DEFAULTS)
    )
    if unknown:
        raise TypeError(
            "get_pipeline() got unknown arguments %s; parameters: %s; options: %s"
            % (
                ", ".join(sorted(unknown)),
                ", ".join(
                    list(PARAMETER_DEFAULTS)
                    + list(BATCH_PARAMETER_DEFAULTS)
                    + list(FEATURE_PARAMETER_DEFAULTS)
                ),
                ", ".join(BUILD_OPTIONS),
            )
        )
    options = BuildOptions(**{k: v for k, v in overrides.items() if k in BUILD_OPTIONS})
    parameters = {k: v for k, v in overrides.items() if k not in BUILD_OPTIONS}
    batch_overrides = sorted(set(parameters) & set(BATCH_PARAMETER_DEFAULTS))
    if options.batch_input is None and batch_overrides:
        raise TypeError(
            "%s: parameters of the batch-scoring steps, which only "
            "batch_input (the s3:// URI of CSV files to score) adds" % ", ".join(batch_overrides)
        )
    feature_overrides = sorted(set(parameters) & set(FEATURE_PARAMETER_DEFAULTS))
    if feature_overrides and not options.uses_feature_store:
        raise TypeError(
            "%s: parameters of the Feature Store steps, which only ingest_features or "
            "train_from_feature_store adds" % ", ".join(feature_overrides)
        )
    if parameters.get("BatchJoinSource", "None") not in JOIN_SOURCES:
        raise ValueError(
            "BatchJoinSource %r: use one of %s"
            % (parameters["BatchJoinSource"], ", ".join(JOIN_SOURCES))
        )
    return options, parameters


class JobSecurity(object):
    """The build options that say how the jobs run: keys, VPC, isolation, Spot."""

    def __init__(self, options: BuildOptions) -> None:
        self.volume_kms_key = options.volume_kms_key
        self.output_kms_key = options.output_kms_key
        # As the SDK's job classes type them (which also take pipeline variables).
        self.subnets: Optional[list[Union[str, PipelineVariable]]] = (
            list(options.subnets or []) or None
        )
        self.security_group_ids: Optional[list[Union[str, PipelineVariable]]] = (
            list(options.security_group_ids or []) or None
        )
        self.network_isolation = bool(options.network_isolation)
        self.encrypt_inter_container_traffic = bool(options.encrypt_inter_container_traffic)
        self.spot = bool(options.spot_training)
        self.max_wait = int(options.spot_max_wait_seconds)
        self.checkpoint_s3_uri = options.checkpoint_s3_uri

    def network_config(self, needs_network: bool) -> Optional[NetworkConfig]:
        if not (self.subnets or (self.network_isolation and not needs_network)):
            return None
        return NetworkConfig(
            enable_network_isolation=self.network_isolation and not needs_network,
            security_group_ids=self.security_group_ids,
            subnets=self.subnets,
        )

    def vpc_config(self) -> Optional[dict[str, Any]]:
        if not self.subnets:
            return None
        return {"Subnets": self.subnets, "SecurityGroupIds": self.security_group_ids}

    def training(self, bucket: str, prefix: str) -> dict[str, Any]:
        """The estimator's keywords."""
        options: dict[str, Any] = dict(
            volume_kms_key=self.volume_kms_key,
            output_kms_key=self.output_kms_key,
            subnets=self.subnets,
            security_group_ids=self.security_group_ids,
            enable_network_isolation=self.network_isolation,
            encrypt_inter_container_traffic=self.encrypt_inter_container_traffic,
            max_run=TRAINING_MAX_RUNTIME,
        )
        if self.spot:
            # One place for every execution's checkpoints: a per-execution URI would change
            # the step's cache key (CheckpointConfig is part of it) on every run. train.py
            # resumes only a checkpoint of the same hyperparameters and data.
            options.update(
                use_spot_instances=True,
                max_wait=self.max_wait,
                checkpoint_s3_uri=self.checkpoint_s3_uri
                or "s3://%s/%s/checkpoints/train" % (bucket, prefix),
            )
        return options


@dataclass(frozen=True)
class ChurnBuild:
    """What the steps are built from, checked: where, as whom, with which schema and code."""

    region: str
    session: Session
    bucket: str
    prefix: str
    role: str
    source: SchemaSource
    bundles: Mapping[str, CodeBundle]
    batch_input: Union[str, bool, None]
    ingest: bool
    from_store: bool
    overrides: dict[str, ParameterValue]  # parameter defaults get_pipeline's keywords set
    security: JobSecurity
    pipeline_name: str
    model_package_group_name: str
    tuning: Optional[BuildOptions] = None  # the options whose tuning_trials is above 0


def _parameters(build: ChurnBuild) -> dict[str, Parameter]:
    """The pipeline parameters, their defaults overridden by get_pipeline's keywords."""
    bucket, prefix, batch_input = build.bucket, build.prefix, build.batch_input
    defaults = dict(PARAMETER_DEFAULTS, InputDataUrl="s3://%s/%s/data/" % (bucket, prefix))
    if batch_input:
        defaults.update(
            BATCH_PARAMETER_DEFAULTS,
            BatchInputUrl=(
                "s3://%s/%s/batch/input/" % (bucket, prefix) if batch_input is True else batch_input
            ),
            BatchOutputUrl="s3://%s/%s/batch/output" % (bucket, prefix),
        )
    if build.ingest or build.from_store:
        defaults.update(
            FEATURE_PARAMETER_DEFAULTS,
            OfflineStoreUrl=offline_store_root(bucket, prefix) + "/",
        )
        if not (build.ingest and build.from_store):  # nothing to wait for
            del defaults["OfflineStoreSettleSeconds"]
        if not build.from_store:
            for name in ("OfflineStoreUrl", "DatasetAsOf", "DatasetWriteTimeCutoff"):
                del defaults[name]
    defaults.update({k: v for k, v in build.overrides.items() if k in defaults})
    p = {name: _parameter(name, value) for name, value in defaults.items()}
    if batch_input:  # SageMaker refuses other values when an execution starts
        p["BatchJoinSource"] = ParameterString(
            name="BatchJoinSource",
            default_value=str(defaults["BatchJoinSource"]),  # one of JOIN_SOURCES
            enum_values=JOIN_SOURCES,
        )
    return p


CACHE = CacheConfig(enable_caching=True, expire_after="P30D")
RETRY = [
    StepRetryPolicy(
        exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
        interval_seconds=10,
        backoff_rate=2.0,
        max_attempts=3,
    ),
    SageMakerJobStepRetryPolicy(
        exception_types=[
            SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
            SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
        ],
        interval_seconds=60,
        backoff_rate=2.0,
        max_attempts=3,
    ),
]
SERVICE_RETRY = RETRY[:1]  # job-level retry types do not apply to registering or CreateModel


class _StepPieces(object):
    """What one build's steps are made of: its parameters and images, output locations, code
    inputs, processors, and the three shapes of processing step (over the raw table, sharded,
    merging the shards)."""

    def __init__(self, build: ChurnBuild) -> None:
        self.b = build
        self.p = _parameters(build)
        self.sklearn_image = image_uris.retrieve("sklearn", build.region, SKLEARN_VERSION)
        self.xgboost_image = image_uris.retrieve("xgboost", build.region, XGBOOST_VERSION)
        # A user's schema file travels with the processing code; the jobs name it by its
        # absolute container path (their working directory is the image's business).
        self.schema_arg = (
            build.source.schema.name
            if build.source.shipped
            else CODE + "/" + USER_SCHEMA_DIR + "/" + os.path.basename(build.source.path)
        )

    def output_uri(self, step_name: str, output_name: str) -> Join:
        # Explicit, per execution: the SDK would otherwise ask S3 for a default bucket.
        return Join(
            on="/",
            values=[
                "s3:/",
                self.b.bucket,
                self.b.prefix,
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                step_name,
                output_name,
            ],
        )

    def code_input(self, bundle: str) -> ProcessingInput:
        return ProcessingInput(
            source=self.b.bundles[bundle].uri(self.b.bucket, self.b.prefix),
            destination=CODE,
            input_name="code",
        )

    def processor(
        self,
        name: str,
        image: str,
        entrypoint: Words,
        needs_network: bool = False,
        single_instance: bool = False,
    ) -> Processor:
        """`single_instance`: a job whose work does not divide over instances runs on one,
        whatever ProcessingInstanceCount says (more would each repeat all of it)."""
        security = self.b.security
        return Processor(
            volume_kms_key=security.volume_kms_key,
            output_kms_key=security.output_kms_key,
            network_config=security.network_config(needs_network),
            role=self.b.role,
            image_uri=image,
            entrypoint=entrypoint,
            instance_type=self.p["ProcessingInstanceType"],
            instance_count=1 if single_instance else self.p["ProcessingInstanceCount"],
            base_job_name="%s-%s" % (self.b.prefix, name),
            sagemaker_session=self.b.session,
            env={"PYTHONUNBUFFERED": "1"},
        )

    def raw_table_step(
        self,
        name: str,
        job: str,
        entrypoint: Words,
        outputs: list[str],
        output_dir: str,
        table: Optional[PipelineVariable] = None,
        arguments: Sequence[Union[str, PipelineVariable]] = (),
        needs_network: bool = False,
        single_instance: bool = False,
        sharded: bool = False,
        inputs: Sequence[ProcessingInput] = (),
        **step_options: Any,
    ) -> ProcessingStep:
        """A processing step over the raw table (InputDataUrl, or `table`: BuildDataset's
        output) with the processing code and the schema, the script's own `arguments` and
        any other `inputs`. `sharded`: each instance downloads only its share of the table's
        objects."""
        processor = self.processor(
            job, self.sklearn_image, entrypoint, needs_network, single_instance
        )
        return ProcessingStep(
            name=name,
            step_args=processor.run(
                inputs=[
                    ProcessingInput(
                        source=self.p["InputDataUrl"] if table is None else table,
                        destination=RAW_DATA,
                        input_name="data",
                        s3_data_distribution_type=(
                            "ShardedByS3Key" if sharded else "FullyReplicated"
                        ),
                    ),
                    self.code_input("processing"),
                    *inputs,
                ],
                outputs=self.outputs(name, outputs),
                arguments=[
                    "--input",
                    RAW_DATA,
                    "--schema",
                    self.schema_arg,
                    "--output-dir",
                    output_dir,
                ]
                + list(arguments),
            ),
            cache_config=CACHE,
            retry_policies=RETRY,
            **step_options,
        )

    def outputs(self, step_name: str, names: list[str]) -> list[ProcessingOutput]:
        return [
            ProcessingOutput(
                output_name=o,
                source="/opt/ml/processing/" + o,
                destination=self.output_uri(step_name, o),
            )
            for o in names
        ]

    def shard_step(
        self,
        name: str,
        job: str,
        entrypoint: Words,
        table: Optional[PipelineVariable] = None,
        **step_options: Any,
    ) -> ProcessingStep:
        """Each of ProcessingInstanceCount instances runs `entrypoint` on its share of the
        table and writes its partial result under shards/<its host>/."""
        return self.raw_table_step(
            name,
            job,
            entrypoint,
            ["shards"],
            SHARDS,
            table=table,
            arguments=["--shard-of", RESOURCE_CONFIG],
            sharded=True,
            **step_options,
        )

    def merge_step(
        self, name: str, job: str, script: str, shards: ProcessingStep, output: str
    ) -> ProcessingStep:
        """One instance merges the shard step's partial results into `output`: the merge
        needs them all in one place, so more instances would only repeat it."""
        entrypoint: Words = ["python3", CODE + "/" + script]
        processor = self.processor(job, self.sklearn_image, entrypoint, single_instance=True)
        return ProcessingStep(
            name=name,
            step_args=processor.run(
                inputs=[
                    ProcessingInput(
                        source=shards.properties.ProcessingOutputConfig.Outputs[
                            "shards"
                        ].S3Output.S3Uri,
                        destination=SHARDS,
                        input_name="shards",
                    ),
                    self.code_input("processing"),
                ],
                outputs=self.outputs(name, [output]),
                arguments=[
                    "--merge",
                    SHARDS,
                    "--schema",
                    self.schema_arg,
                    "--output-dir",
                    "/opt/ml/processing/" + output,
                ],
            ),
            cache_config=CACHE,
            retry_policies=RETRY,
        )


class _DataSteps(_StepPieces):
    """The steps over the table: validation, the Feature Store's ingest and dataset,
    preprocessing, the data-quality baseline."""

    def validate(
        self, table: Optional[PipelineVariable] = None
    ) -> tuple[ProcessingStep, ProcessingStep]:
        """ValidateShards: the Great Expectations suite from the schema, each instance on its
        share of the table; ValidateData: their counts merged into the report of the whole
        table, which stops the run on bad data. Returns both."""
        shards = self.shard_step(
            "ValidateShards",
            "validate-shards",
            ["python3", CODE + "/run_with_requirements.py", "validate.py"],
            table=table,
            needs_network=True,  # installs Great Expectations
        )
        return shards, self.merge_step(
            "ValidateData", "validate", "validate.py", shards, "validation"
        )

    def preprocess(
        self, validate: ProcessingStep, table: Optional[PipelineVariable] = None
    ) -> "Preprocessing":
        """The split by a hash of each id, the DataBrew recipe fitted on the train rows,
        preprocessing.json, divided as ADR 0017 says: PreprocessShards summarises each
        instance's share of the table in counts, PreprocessData merges them and fits the
        recipe and the data checks from them (preprocessing.json, what one instance would
        write), PreprocessApply replays it on each share and writes its part of each split
        (the train rows as one file per training host). A recipe that can remove rows cannot
        be fitted before the rows are written: then PreprocessData alone reads the whole table
        on one instance and writes everything."""
        entrypoint: Words = ["python3", CODE + "/preprocess.py"]
        if self.b.source.removes_rows():
            single = self.raw_table_step(
                "PreprocessData",
                "preprocess",
                entrypoint,
                ["train", "validation", "test", "preprocessing"],
                "/opt/ml/processing",
                table=table,
                arguments=[
                    "--train-parts",
                    self.p["TrainingInstanceCount"].to_string(),
                    "--test-parts",
                    self.p["ProcessingInstanceCount"].to_string(),
                ],
                single_instance=True,
                depends_on=[validate],
            )
            return Preprocessing([single], single, single)
        shards = self.shard_step(
            "PreprocessShards", "preprocess-shards", entrypoint, table=table, depends_on=[validate]
        )
        fitted = self.merge_step(
            "PreprocessData", "preprocess", "preprocess.py", shards, "preprocessing"
        )
        spec = fitted.properties.ProcessingOutputConfig.Outputs["preprocessing"].S3Output.S3Uri
        applied = self.raw_table_step(
            "PreprocessApply",
            "preprocess-apply",
            entrypoint,
            ["train", "validation", "test"],
            "/opt/ml/processing",
            table=table,
            arguments=[
                "--apply",
                PREPROCESSING,
                "--resource-config",
                RESOURCE_CONFIG,
                "--train-parts",
                self.p["TrainingInstanceCount"].to_string(),
            ],
            sharded=True,
            inputs=[
                ProcessingInput(source=spec, destination=PREPROCESSING, input_name="preprocessing")
            ],
        )
        return Preprocessing([shards, fitted, applied], applied, fitted)

    def baseline(
        self, validate: ProcessingStep, table: Optional[PipelineVariable] = None
    ) -> tuple[ProcessingStep, ProcessingStep]:
        """BaselineShards: exact summaries of each instance's share of the raw training
        table; BaselineData: merged into Model Monitor statistics and constraints, which the
        registered version carries as its DriftCheckBaselines (drift monitoring's reference).
        Returns both."""
        shards = self.shard_step(
            "BaselineShards",
            "baseline-shards",
            ["python3", CODE + "/baseline.py"],
            table=table,
            depends_on=[validate],
        )
        return shards, self.merge_step(
            "BaselineData", "baseline", "baseline.py", shards, "baseline"
        )

    def ingest(self, validate: ProcessingStep) -> ProcessingStep:
        """IngestFeatures: the validated rows into the feature group with PutRecord (several
        workers; records already stored unchanged are skipped)."""
        waits = self.b.from_store  # BuildDataset reads the offline store after it
        arguments: Words = ["--feature-group", self.p["FeatureGroupName"], "--workers", "4"]
        if waits:
            arguments += ["--settle-seconds", self.p["OfflineStoreSettleSeconds"]]
        return self.raw_table_step(
            "IngestFeatures",
            "ingest",
            ["python3", CODE + "/ingest.py"],
            ["ingest"],
            "/opt/ml/processing/ingest",
            arguments=arguments,
            needs_network=True,  # the Feature Store runtime API
            depends_on=[validate],
        )

    def build_dataset(self, ingest: Optional[ProcessingStep] = None) -> ProcessingStep:
        """BuildDataset: each customer's latest features as of DatasetAsOf from the offline
        store (processing/build_dataset.py). After IngestFeatures it takes the ingest report
        as an input, so it reruns exactly when the ingest did; without it, it is never cached
        (the store may have changed under an unchanged request)."""
        inputs = [
            ProcessingInput(
                source=self.p["OfflineStoreUrl"],
                destination="/opt/ml/processing/input/offline-store",
                input_name="offline-store",
            ),
            self.code_input("processing"),
        ]
        if ingest is not None:
            inputs.append(
                ProcessingInput(
                    source=ingest.properties.ProcessingOutputConfig.Outputs[
                        "ingest"
                    ].S3Output.S3Uri,
                    destination="/opt/ml/processing/input/ingest",
                    input_name="ingest",
                )
            )
        processor = self.processor(
            "dataset",
            self.sklearn_image,
            ["python3", CODE + "/run_with_requirements.py", "build_dataset.py"],
            needs_network=True,  # installs pyarrow
        )
        return ProcessingStep(
            name="BuildDataset",
            step_args=processor.run(
                inputs=inputs,
                outputs=self.outputs("BuildDataset", ["dataset"]),
                arguments=[
                    "--offline-store",
                    "/opt/ml/processing/input/offline-store",
                    "--feature-group",
                    self.p["FeatureGroupName"],
                    "--schema",
                    self.schema_arg,
                    "--as-of",
                    self.p["DatasetAsOf"],
                    "--write-time-cutoff",
                    self.p["DatasetWriteTimeCutoff"],
                    "--output-dir",
                    "/opt/ml/processing/dataset",
                ],
            ),
            cache_config=CACHE if ingest is not None else None,
            retry_policies=RETRY,
        )


class _Steps(_DataSteps):
    """The steps of one build, each built by its own method: the table's (_DataSteps) and the
    model's (training, evaluation, the serving model, registration, batch scoring)."""

    def _estimator(self, preprocess: "Preprocessing") -> tuple[XGBoost, dict[str, TrainingInput]]:
        """XGBoost framework estimator in script mode (code from a content-hashed tarball),
        and its channels."""
        b, p = self.b, self.p
        split_uri = preprocess.uri

        estimator = XGBoost(
            entry_point="train.py",
            source_dir=b.bundles["training"].uri(b.bucket, b.prefix),
            framework_version=XGBOOST_VERSION,
            py_version="py3",
            image_uri=self.xgboost_image,
            role=b.role,
            instance_type=p["TrainingInstanceType"],
            instance_count=p["TrainingInstanceCount"],
            output_path="s3://%s/%s/models" % (b.bucket, b.prefix),
            code_location="s3://%s/%s/code" % (b.bucket, b.prefix),
            base_job_name="%s-train" % b.prefix,
            sagemaker_session=b.session,
            hyperparameters={
                "max_depth": p["MaxDepth"],
                "eta": p["Eta"],
                "gamma": p["Gamma"],
                "min_child_weight": p["MinChildWeight"],
                "subsample": p["Subsample"],
                "num_round": p["NumRound"],
                "early_stopping_rounds": p["EarlyStoppingRounds"],
                "objective": "binary:logistic",
            },
            metric_definitions=[{"Name": "validation:auc", "Regex": VALIDATION_AUC_REGEX}],
            disable_profiler=True,
            **b.security.training(b.bucket, b.prefix),
        )
        channels = {
            # Each host downloads only its part of the train split (PreprocessData writes one
            # per host); validation stays whole on every host, for early stopping.
            "train": TrainingInput(
                split_uri("train"), content_type="text/csv", distribution="ShardedByS3Key"
            ),
            "validation": TrainingInput(split_uri("validation"), content_type="text/csv"),
            "preprocessing": TrainingInput(
                split_uri("preprocessing"), content_type="application/json"
            ),
        }
        if b.security.network_isolation:
            # An isolated serving container cannot fetch its code: train.py packs it into the
            # model as code/, where SAGEMAKER_SUBMIT_DIRECTORY then points.
            channels["inference"] = TrainingInput(b.bundles["inference"].uri(b.bucket, b.prefix))
        return estimator, channels

    def train(self, preprocess: "Preprocessing") -> TrainingStep:
        """TrainModel: one training job with the parameters' hyperparameters."""
        estimator, channels = self._estimator(preprocess)
        with telemetry_opted_out(self.b.session):
            train_args = estimator.fit(inputs=channels)
        return TrainingStep(
            name="TrainModel", step_args=train_args, cache_config=CACHE, retry_policies=RETRY
        )

    def tune(self, preprocess: "Preprocessing", options: BuildOptions) -> TuningStep:
        """TuneModel: a hyperparameter tuning job over pipelines/churn/tuning.py's search space,
        its trials the TrainModel job with the tuned hyperparameters in place of the
        parameters'. (Retry policies: SageMaker retries a tuning job's trials itself.)"""
        estimator, channels = self._estimator(preprocess)
        space = dict(SEARCH_SPACE)
        strategy_config = None
        if options.tuning_strategy == "Hyperband":
            name, low, high = HYPERBAND_RESOURCE
            del space[name]
            estimator.set_hyperparameters(**{name: high})
            strategy_config = StrategyConfig(HyperbandStrategyConfig(high, low))
        ranges: dict[Union[str, PipelineVariable], ParameterRange] = {
            name: (IntegerParameter if kind == "Integer" else ContinuousParameter)(
                low, high, scaling_type=scaling
            )
            for name, (kind, low, high, scaling) in space.items()
        }
        tuner = HyperparameterTuner(
            estimator,
            objective_metric_name=OBJECTIVE,
            objective_type=OBJECTIVE_TYPE,
            hyperparameter_ranges=ranges,
            metric_definitions=[{"Name": OBJECTIVE, "Regex": VALIDATION_AUC_REGEX}],
            strategy=options.tuning_strategy,
            strategy_config=strategy_config,
            max_jobs=int(options.tuning_trials),
            max_parallel_jobs=int(options.tuning_parallel),
            base_tuning_job_name="%s-tune" % self.b.prefix,
            random_seed=0,  # the same trials on every run of the same build
        )
        with telemetry_opted_out(self.b.session):
            # A fixed name: the SDK would otherwise put a timestamped one in the static
            # hyperparameters (sagemaker_job_name), and the step's cache key would never repeat.
            tune_args = tuner.fit(inputs=channels, job_name="%s-tune" % self.b.prefix)
        return TuningStep(name="TuneModel", step_args=tune_args, cache_config=CACHE)

    def evaluate(
        self, preprocess: "Preprocessing", model_data: PipelineVariable, report: PropertyFile
    ) -> tuple[ProcessingStep, ProcessingStep]:
        """EvaluateShards: each of ProcessingInstanceCount instances scores its parts of the
        test split (ShardedByS3Key) and counts the rows of each class per distinct score;
        EvaluateModel: the counts summed into evaluation.json in the model-quality convention
        (exactly what one instance computes from all the rows) and the verdict of the data
        checks, read by the conditions. Returns both."""
        test = preprocess.uri("test")
        model = ProcessingInput(
            source=model_data, destination="/opt/ml/processing/model", input_name="model"
        )
        entrypoint: Words = ["python3", CODE + "/evaluate.py"]
        shards = ProcessingStep(
            name="EvaluateShards",
            step_args=self.processor("evaluate-shards", self.xgboost_image, entrypoint).run(
                inputs=[
                    model,
                    ProcessingInput(
                        source=test,
                        destination="/opt/ml/processing/test",
                        input_name="test",
                        s3_data_distribution_type="ShardedByS3Key",
                    ),
                    self.code_input("evaluation"),
                ],
                outputs=self.outputs("EvaluateShards", ["shards"]),
                arguments=[
                    "--model-dir",
                    "/opt/ml/processing/model",
                    "--test-dir",
                    "/opt/ml/processing/test",
                    "--output-dir",
                    SHARDS,
                    "--shard-of",
                    RESOURCE_CONFIG,
                ],
            ),
            cache_config=CACHE,
            retry_policies=RETRY,
        )
        merge = ProcessingStep(
            name="EvaluateModel",
            step_args=self.processor(
                "evaluate", self.xgboost_image, entrypoint, single_instance=True
            ).run(
                inputs=[
                    model,
                    ProcessingInput(
                        source=shards.properties.ProcessingOutputConfig.Outputs[
                            "shards"
                        ].S3Output.S3Uri,
                        destination=SHARDS,
                        input_name="shards",
                    ),
                    self.code_input("evaluation"),
                ],
                outputs=self.outputs("EvaluateModel", ["evaluation"]),
                arguments=[
                    "--merge",
                    SHARDS,
                    "--model-dir",
                    "/opt/ml/processing/model",
                    "--output-dir",
                    "/opt/ml/processing/evaluation",
                    "--max-feature-auc",
                    self.p["MaxFeatureAuc"].to_string(),
                    "--max-train-test-overlap",
                    self.p["MaxTrainTestOverlap"].to_string(),
                ],
            ),
            property_files=[report],
            cache_config=CACHE,
            retry_policies=RETRY,
        )
        return shards, merge

    def serving_model(self, model_data: PipelineVariable) -> Model:
        """The serving container finds inference.py through SAGEMAKER_SUBMIT_DIRECTORY (a
        content-hashed tarball), so the model artifact needs no repack step; with
        network_isolation, in the artifact's code/ (train.py packed it there)."""
        b = self.b
        return Model(
            image_uri=self.xgboost_image,
            model_data=model_data,
            role=b.role,
            sagemaker_session=b.session,
            env={
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": (
                    MODEL_CODE_DIR
                    if b.security.network_isolation
                    else b.bundles["inference"].uri(b.bucket, b.prefix)
                ),
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": b.region,
            },
            vpc_config=b.security.vpc_config(),
            enable_network_isolation=b.security.network_isolation,
        )

    def register(
        self, model_data: PipelineVariable, evaluation_json: Join, baseline: ProcessingStep
    ) -> ModelStep:
        """RegisterModel: the version with its model quality and data-quality baseline."""

        def baseline_file(name: str) -> MetricsSource:
            return MetricsSource(
                s3_uri=Join(
                    on="/",
                    values=[
                        baseline.properties.ProcessingOutputConfig.Outputs[
                            "baseline"
                        ].S3Output.S3Uri,
                        name,
                    ],
                ),
                content_type="application/json",
            )

        return ModelStep(
            name="RegisterModel",
            step_args=self.serving_model(model_data).register(
                content_types=["text/csv", "application/json", "application/jsonlines"],
                response_types=["text/csv", "application/json", "application/jsonlines"],
                inference_instances=["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"],
                transform_instances=["ml.m5.large", "ml.m5.xlarge"],
                model_package_group_name=self.b.model_package_group_name,
                approval_status=self.p["ModelApprovalStatus"],
                model_metrics=ModelMetrics(
                    model_statistics=MetricsSource(
                        s3_uri=evaluation_json, content_type="application/json"
                    ),
                    model_data_statistics=baseline_file("statistics.json"),
                    model_data_constraints=baseline_file("constraints.json"),
                ),
                drift_check_baselines=DriftCheckBaselines(
                    model_data_statistics=baseline_file("statistics.json"),
                    model_data_constraints=baseline_file("constraints.json"),
                ),
                description="Churn XGBoost model (schema %s)" % self.b.source.schema.name,
                # Which table's rules the version serves: `churn models list` shows it.
                customer_metadata_properties={"schema": self.b.source.schema.name},
            ),
            retry_policies=SERVICE_RETRY,
        )

    def batch_scoring(
        self, model_data: PipelineVariable, register: ModelStep
    ) -> list[Union[ModelStep, TransformStep]]:
        """BatchModel (CreateModel from the trained artifact, the registered container and
        code) and BatchTransform over BatchInputUrl with batch-transform semantics
        (docs/container-contracts.md section 3.3): each CSV line a record, as many records per
        request as fit in 6 MB, one output line per record, <file>.out per input file, in input
        order."""
        p = self.p
        create = ModelStep(
            name="BatchModel",
            step_args=self.serving_model(model_data).create(
                instance_type=p["TransformInstanceType"]
            ),
            depends_on=[register],
            retry_policies=SERVICE_RETRY,
        )
        transformer = Transformer(
            model_name=create.properties.ModelName,
            instance_count=p["TransformInstanceCount"],
            instance_type=p["TransformInstanceType"],
            strategy="MultiRecord",
            assemble_with="Line",
            accept="text/csv",
            max_payload=6,
            output_path=Join(
                on="/", values=[p["BatchOutputUrl"], ExecutionVariables.PIPELINE_EXECUTION_ID]
            ),
            base_transform_job_name="%s-score" % self.b.prefix,
            sagemaker_session=self.b.session,
            volume_kms_key=self.b.security.volume_kms_key,
            output_kms_key=self.b.security.output_kms_key,
        )
        # No CacheConfig: the model is created anew by every execution, and ModelName is part
        # of the transform's cache key, so a cache could never hit.
        transform = TransformStep(
            name="BatchTransform",
            step_args=transformer.transform(
                data=p["BatchInputUrl"],
                data_type="S3Prefix",
                content_type="text/csv",
                split_type="Line",
                join_source=p["BatchJoinSource"],
            ),
            retry_policies=RETRY,
        )
        return [create, transform]


def _build(build: ChurnBuild) -> "ChurnPipeline":
    """The steps wired together into the pipeline."""
    steps = _Steps(build)
    table, before, after = None, [], []
    if build.from_store and not build.ingest:  # the built dataset is what gets validated
        dataset = steps.build_dataset()
        table, before = dataset_uri(dataset), [dataset]
    validate_shards, validate = steps.validate(table)
    if build.ingest:
        ingest = steps.ingest(validate)
        after.append(ingest)
        if build.from_store:
            dataset = steps.build_dataset(ingest)
            table = dataset_uri(dataset)
            after.append(dataset)
    preprocess = steps.preprocess(validate, table)
    baseline_shards, baseline = steps.baseline(validate, table)
    train: Union[TrainingStep, TuningStep]
    if build.tuning:
        train = steps.tune(preprocess, build.tuning)
        model_data = train.get_top_model_s3_uri(
            top_k=0, s3_bucket=build.bucket, prefix="%s/models" % build.prefix
        )
    else:
        train = steps.train(preprocess)
        model_data = train.properties.ModelArtifacts.S3ModelArtifacts
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate_shards, evaluate = steps.evaluate(preprocess, model_data, report)
    evaluation_json = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
            "evaluation.json",
        ],
    )
    auc = JsonGet(
        step_name=evaluate.name,
        property_file=report,
        json_path="binary_classification_metrics.auc.value",
    )
    register = steps.register(model_data, evaluation_json, baseline)
    too_low = FailStep(
        name="AucTooLow",
        error_message=Join(
            on=" ",
            values=[
                "Test AUC",
                auc,
                "is below the AucThreshold",
                steps.p["AucThreshold"],
                "- the model was not registered.",
            ],
        ),
    )
    passed: list[Union[Step, StepCollection]] = [register]
    if build.batch_input:
        passed += steps.batch_scoring(model_data, register)
    check_auc = ConditionStep(
        name="CheckAucThreshold",
        # The SDK's annotation of `left` omits JsonGet, which it takes (a PipelineVariable).
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=steps.p["AucThreshold"])],  # type: ignore[arg-type]
        if_steps=passed,
        else_steps=[too_low],
    )
    # Only a model of data that can be trusted reaches the AUC gate: a leaked target or test
    # rows that repeat train rows give a fine AUC that means nothing.
    untrusted = FailStep(
        name="UntrustedData",
        error_message=Join(
            on=" ",
            values=[
                "The data cannot be trusted:",
                JsonGet(
                    step_name=evaluate.name, property_file=report, json_path="data_checks.reason"
                ),
                "- the model was not registered.",
            ],
        ),
    )
    check_data = ConditionStep(
        name="CheckDataChecks",
        conditions=[
            ConditionEquals(
                left=JsonGet(  # type: ignore[arg-type]  # a JsonGet, as above
                    step_name=evaluate.name, property_file=report, json_path="data_checks.failed"
                ),
                right=0,
            )
        ],
        if_steps=[check_auc],
        else_steps=[untrusted],
    )
    return ChurnPipeline(
        name=build.pipeline_name,
        parameters=list(steps.p.values()),
        steps=before
        + [validate_shards, validate]
        + after
        + [baseline_shards, baseline, *preprocess.steps, train, evaluate_shards, evaluate]
        + [check_data],
        sagemaker_session=build.session,
    )


class Preprocessing(object):
    """The preprocessing steps of a build, the one whose outputs are the splits and the one
    whose output is preprocessing.json (one step of both, or three)."""

    def __init__(
        self, steps: list[ProcessingStep], splits: ProcessingStep, spec: ProcessingStep
    ) -> None:
        self.steps, self.splits, self.spec = steps, splits, spec

    def uri(self, output: str) -> PipelineVariable:
        """The S3 prefix of the train, validation or test split, or of preprocessing."""
        step = self.spec if output == "preprocessing" else self.splits
        return step.properties.ProcessingOutputConfig.Outputs[output].S3Output.S3Uri


def dataset_uri(build_dataset: ProcessingStep) -> PipelineVariable:
    return build_dataset.properties.ProcessingOutputConfig.Outputs["dataset"].S3Output.S3Uri


class ChurnPipeline(Pipeline):
    """The SDK's Pipeline, with telemetry off where the SDK would send it
    (pipelines/churn/sdk.py)."""

    def create(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with telemetry_opted_out(self.sagemaker_session):
            return super(ChurnPipeline, self).create(*args, **kwargs)

    def start(self, *args: Any, **kwargs: Any) -> Any:
        with telemetry_opted_out(self.sagemaker_session):
            return super(ChurnPipeline, self).start(*args, **kwargs)
