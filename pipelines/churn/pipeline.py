"""get_pipeline(): the churn SageMaker Pipeline. The only module that builds SDK steps.

ValidateData -> PreprocessData -> TrainModel -> EvaluateModel -> CheckAucThreshold
    -> RegisterModel (AUC >= AucThreshold)  or  AucTooLow (FailStep naming the AUC)
ValidateData -> BaselineData (data-quality baseline, registered as DriftCheckBaselines)
With batch_input: RegisterModel -> BatchModel (CreateModel) -> BatchTransform, in the AUC-passed
branch, so only a model that passed the gate scores anything.

The same definition JSON is upserted to SageMaker by `run-pipeline` (CodeBuild) and executed by
the local runner. Building it touches no network: code lives under content-hashed S3 keys
(pipelines/code_bundles.py) and every S3 location is explicit, so the SDK never asks S3 for a
default bucket, STS for an account or IAM for a role. See docs/adr/0001-sagemaker-sdk-v2.md.
"""
import os

from pipelines.code_bundles import USER_SCHEMA_DIR, build_bundles, upload
from pipelines.sdk import quiet_sdk, telemetry_opted_out

quiet_sdk()  # before the SDK import: its v2 deprecation warnings are not our users' business

from sagemaker import image_uris  # noqa: E402
from sagemaker.inputs import TrainingInput  # noqa: E402
from sagemaker.drift_check_baselines import DriftCheckBaselines  # noqa: E402
from sagemaker.model import Model  # noqa: E402
from sagemaker.model_metrics import MetricsSource, ModelMetrics  # noqa: E402
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor  # noqa: E402
from sagemaker.transformer import Transformer  # noqa: E402
from sagemaker.workflow.condition_step import ConditionStep  # noqa: E402
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo  # noqa: E402
from sagemaker.workflow.execution_variables import ExecutionVariables  # noqa: E402
from sagemaker.workflow.fail_step import FailStep  # noqa: E402
from sagemaker.workflow.functions import Join, JsonGet  # noqa: E402
from sagemaker.workflow.model_step import ModelStep  # noqa: E402
from sagemaker.workflow.parameters import (ParameterFloat, ParameterInteger,  # noqa: E402
                                           ParameterString)
from sagemaker.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.workflow.pipeline_context import PipelineSession  # noqa: E402
from sagemaker.workflow.properties import PropertyFile  # noqa: E402
from sagemaker.workflow.retry import (SageMakerJobExceptionTypeEnum,  # noqa: E402
                                      SageMakerJobStepRetryPolicy, StepExceptionTypeEnum,
                                      StepRetryPolicy)
from sagemaker.workflow.steps import (CacheConfig, ProcessingStep, TrainingStep,  # noqa: E402
                                      TransformStep)
from sagemaker.xgboost import XGBoost  # noqa: E402

SKLEARN_VERSION = "1.4-2"   # processing image
XGBOOST_VERSION = "3.0-5"   # training, evaluation and serving image; xgboost 3.0.x locally too
CODE = "/opt/ml/processing/input/code"
RAW_DATA = "/opt/ml/processing/input/data"
# Stand-in execution role for definitions built without one (review, CI diffs, local runs).
# run-pipeline always passes the real role.
PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/SageMakerPipelineExecutionRole"
VALIDATION_AUC_REGEX = r".*\[[0-9]+\].*#011validation-auc:([0-9.]+)"

# Pipeline parameters and their defaults; get_pipeline(**overrides) may change any default.
PARAMETER_DEFAULTS = {
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
    "MaxDepth": 5,
    "Eta": 0.2,
    "Gamma": 4.0,
    "MinChildWeight": 6.0,
    "Subsample": 0.8,
    "NumRound": 100,
    "EarlyStoppingRounds": 10,
}
# Build options (not pipeline parameters) that overrides may also set.
BUILD_OPTIONS = {
    "schema": "seed",     # shipped schema name or a schema file path
    "upload_code": None,  # None: upload when AWS credentials are available
    # An s3:// URI of headerless CSV files to score after registering (or True for
    # s3://<bucket>/<prefix>/batch/input/). A build option, not a parameter: SageMaker cannot
    # skip a step at run time except through a condition, and an empty input would fail the
    # transform job; the URI itself stays a parameter (BatchInputUrl) so each execution can
    # score other files.
    "batch_input": None,
}
# Parameters the batch-scoring steps add (only with batch_input); overrides may set them too.
BATCH_PARAMETER_DEFAULTS = {
    "BatchInputUrl": None,   # the batch_input option
    # Each execution writes under <BatchOutputUrl>/<execution id>/ (no trailing slash), as
    # SageMaker's own default output is per job: a rerun never overwrites earlier scores.
    "BatchOutputUrl": None,  # default: s3://<bucket>/<prefix>/batch/output
    "BatchJoinSource": "None",  # "Input": each prediction appended to its input row
    "TransformInstanceType": "ml.m5.xlarge",
    "TransformInstanceCount": 1,
}
JOIN_SOURCES = ["None", "Input"]


def _parameter(name, default):
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return ParameterString(name=name, default_value=str(default))
    if isinstance(default, int):
        return ParameterInteger(name=name, default_value=default)
    return ParameterFloat(name=name, default_value=float(default))


def _session(region, default_bucket, sagemaker_session):
    if sagemaker_session is not None:
        return sagemaker_session
    import boto3

    return PipelineSession(boto_session=boto3.Session(region_name=region),
                           default_bucket=default_bucket)


def _has_credentials(session):
    try:
        return session.boto_session.get_credentials() is not None
    except Exception:  # a broken profile means "no usable credentials", not a crash
        return False


def get_pipeline(region, role=None, default_bucket=None,
                 model_package_group_name="ChurnPackageGroup", pipeline_name="ChurnPipeline",
                 base_job_prefix="churn", sagemaker_session=None, **overrides):
    """Build the churn pipeline. `overrides` set parameter defaults (e.g. AucThreshold=0.8,
    InputDataUrl="s3://...") and the build options `schema`, `upload_code` and `batch_input`
    (which adds the batch-scoring steps and their parameters, BATCH_PARAMETER_DEFAULTS)."""
    unknown = set(overrides) - set(PARAMETER_DEFAULTS) - set(BUILD_OPTIONS) - \
        set(BATCH_PARAMETER_DEFAULTS)
    if unknown:
        raise TypeError("get_pipeline() got unknown arguments %s; parameters: %s; options: %s"
                        % (", ".join(sorted(unknown)),
                           ", ".join(list(PARAMETER_DEFAULTS) + list(BATCH_PARAMETER_DEFAULTS)),
                           ", ".join(BUILD_OPTIONS)))
    options = dict(BUILD_OPTIONS, **{k: v for k, v in overrides.items() if k in BUILD_OPTIONS})
    batch_input = options["batch_input"]
    batch_overrides = sorted(set(overrides) & set(BATCH_PARAMETER_DEFAULTS))
    if batch_input is None or batch_input is False:
        batch_input = None
        if batch_overrides:
            raise TypeError("%s: parameters of the batch-scoring steps, which only "
                            "batch_input (the s3:// URI of CSV files to score) adds"
                            % ", ".join(batch_overrides))
    elif not (batch_input is True or str(batch_input).startswith("s3://")):
        raise ValueError("batch_input %r: give the s3:// URI of the CSV files to score (or "
                         "true for s3://<bucket>/<prefix>/batch/input/)" % (batch_input,))
    if overrides.get("BatchJoinSource", "None") not in JOIN_SOURCES:
        raise ValueError("BatchJoinSource %r: use one of %s"
                         % (overrides["BatchJoinSource"], ", ".join(JOIN_SOURCES)))
    if not region:
        raise ValueError("no AWS region: pass region or set AWS_DEFAULT_REGION")
    if sagemaker_session is not None:
        default_bucket = default_bucket or sagemaker_session.default_bucket()
    if not default_bucket:
        raise ValueError("no S3 bucket: pass default_bucket (the bucket for code, data and "
                         "artifacts)")
    session = _session(region, default_bucket, sagemaker_session)
    role = role or os.environ.get("SAGEMAKER_PIPELINE_ROLE_ARN") or PLACEHOLDER_ROLE
    prefix = base_job_prefix.strip("/")

    from processing.churn_schema import load_schema, resolve_schema_path

    schema_path = resolve_schema_path(options["schema"])
    schema = load_schema(schema_path)  # fail at build time, not in the first job
    shipped = os.path.dirname(schema_path) == os.path.join(
        os.path.dirname(os.path.abspath(load_schema.__code__.co_filename)), "schemas")
    bundles = build_bundles(None if shipped else schema_path)
    # A user's schema file travels with the processing code; the jobs name it by its absolute
    # container path (their working directory is the image's business).
    schema_arg = schema.name if shipped else CODE + "/" + USER_SCHEMA_DIR + "/" + \
        os.path.basename(schema_path)
    upload_code = options["upload_code"]
    if upload_code is None:
        upload_code = _has_credentials(session)
    if upload_code:
        upload(bundles, session.boto_session.client("s3", region_name=region),
               default_bucket, prefix)

    defaults = dict(PARAMETER_DEFAULTS, InputDataUrl="s3://%s/%s/data/" % (default_bucket, prefix))
    if batch_input:
        defaults.update(BATCH_PARAMETER_DEFAULTS, BatchInputUrl=(
            "s3://%s/%s/batch/input/" % (default_bucket, prefix) if batch_input is True
            else batch_input), BatchOutputUrl="s3://%s/%s/batch/output" % (default_bucket, prefix))
    defaults.update({k: v for k, v in overrides.items() if k in defaults})
    p = {name: _parameter(name, value) for name, value in defaults.items()}
    if batch_input:  # SageMaker refuses other values when an execution starts
        p["BatchJoinSource"] = ParameterString(name="BatchJoinSource",
                                               default_value=defaults["BatchJoinSource"],
                                               enum_values=JOIN_SOURCES)

    def output_uri(step_name, output_name):
        # Explicit, per execution: the SDK would otherwise ask S3 for a default bucket.
        return Join(on="/", values=["s3:/", default_bucket, prefix,
                                    ExecutionVariables.PIPELINE_EXECUTION_ID, step_name,
                                    output_name])

    def code_input(bundle):
        return ProcessingInput(source=bundles[bundle].uri(default_bucket, prefix),
                               destination=CODE, input_name="code")

    cache = CacheConfig(enable_caching=True, expire_after="P30D")
    retry = [StepRetryPolicy(exception_types=[StepExceptionTypeEnum.SERVICE_FAULT,
                                              StepExceptionTypeEnum.THROTTLING],
                             interval_seconds=10, backoff_rate=2.0, max_attempts=3),
             SageMakerJobStepRetryPolicy(exception_types=[
                 SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
                 SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT],
                 interval_seconds=60, backoff_rate=2.0, max_attempts=3)]
    sklearn_image = image_uris.retrieve("sklearn", region, SKLEARN_VERSION)
    xgboost_image = image_uris.retrieve("xgboost", region, XGBOOST_VERSION)

    def processor(name, image, entrypoint):
        return Processor(role=role, image_uri=image, entrypoint=entrypoint,
                         instance_type=p["ProcessingInstanceType"],
                         instance_count=p["ProcessingInstanceCount"],
                         base_job_name="%s-%s" % (prefix, name), sagemaker_session=session,
                         env={"PYTHONUNBUFFERED": "1"})

    def raw_table_step(name, job, entrypoint, outputs, output_dir, **step_options):
        """A processing step over the raw table with the processing code and the schema."""
        return ProcessingStep(
            name=name,
            step_args=processor(job, sklearn_image, entrypoint).run(
                inputs=[ProcessingInput(source=p["InputDataUrl"], destination=RAW_DATA,
                                        input_name="data"),
                        code_input("processing")],
                outputs=[ProcessingOutput(output_name=o, source="/opt/ml/processing/" + o,
                                          destination=output_uri(name, o)) for o in outputs],
                arguments=["--input", RAW_DATA, "--schema", schema_arg,
                           "--output-dir", output_dir]),
            cache_config=cache, retry_policies=retry, **step_options)

    # ValidateData: Great Expectations suite from the schema; stops the run on bad data.
    validate = raw_table_step(
        "ValidateData", "validate",
        ["python3", CODE + "/run_with_requirements.py", "validate.py"],
        ["validation"], "/opt/ml/processing/validation")
    # PreprocessData: stratified split, DataBrew recipe fitted on train, preprocessing.json.
    preprocess = raw_table_step(
        "PreprocessData", "preprocess", ["python3", CODE + "/preprocess.py"],
        ["train", "validation", "test", "preprocessing"], "/opt/ml/processing",
        depends_on=[validate])
    # BaselineData: Model Monitor statistics and constraints of the raw training table, which
    # the registered version carries as its DriftCheckBaselines (drift monitoring's reference).
    baseline = raw_table_step(
        "BaselineData", "baseline", ["python3", CODE + "/baseline.py"], ["baseline"],
        "/opt/ml/processing/baseline", depends_on=[validate])

    def baseline_file(name):
        return MetricsSource(s3_uri=Join(on="/", values=[
            baseline.properties.ProcessingOutputConfig.Outputs["baseline"].S3Output.S3Uri,
            name]), content_type="application/json")

    def split_uri(name):
        return preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri

    # TrainModel: XGBoost framework estimator in script mode; code from a content-hashed tarball.
    estimator = XGBoost(
        entry_point="train.py", source_dir=bundles["training"].uri(default_bucket, prefix),
        framework_version=XGBOOST_VERSION, py_version="py3", image_uri=xgboost_image,
        role=role, instance_type=p["TrainingInstanceType"],
        instance_count=p["TrainingInstanceCount"],
        output_path="s3://%s/%s/models" % (default_bucket, prefix),
        code_location="s3://%s/%s/code" % (default_bucket, prefix),
        base_job_name="%s-train" % prefix, sagemaker_session=session,
        hyperparameters={"max_depth": p["MaxDepth"], "eta": p["Eta"], "gamma": p["Gamma"],
                         "min_child_weight": p["MinChildWeight"], "subsample": p["Subsample"],
                         "num_round": p["NumRound"],
                         "early_stopping_rounds": p["EarlyStoppingRounds"],
                         "objective": "binary:logistic"},
        metric_definitions=[{"Name": "validation:auc", "Regex": VALIDATION_AUC_REGEX}],
        disable_profiler=True)
    with telemetry_opted_out(session):
        train_args = estimator.fit(inputs={
            "train": TrainingInput(split_uri("train"), content_type="text/csv"),
            "validation": TrainingInput(split_uri("validation"), content_type="text/csv"),
            "preprocessing": TrainingInput(split_uri("preprocessing"),
                                           content_type="application/json"),
        })
    train = TrainingStep(name="TrainModel", step_args=train_args, cache_config=cache,
                         retry_policies=retry)
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    # EvaluateModel: evaluation.json in the model-quality convention, read by the condition.
    report = PropertyFile(name="EvaluationReport", output_name="evaluation",
                          path="evaluation.json")
    evaluate = ProcessingStep(
        name="EvaluateModel",
        step_args=processor("evaluate", xgboost_image, ["python3", CODE + "/evaluate.py"]).run(
            inputs=[ProcessingInput(source=model_data, destination="/opt/ml/processing/model",
                                    input_name="model"),
                    ProcessingInput(source=split_uri("test"), destination="/opt/ml/processing/test",
                                    input_name="test"),
                    code_input("evaluation")],
            outputs=[ProcessingOutput(output_name="evaluation",
                                      source="/opt/ml/processing/evaluation",
                                      destination=output_uri("EvaluateModel", "evaluation"))],
            arguments=["--model-dir", "/opt/ml/processing/model",
                       "--test-dir", "/opt/ml/processing/test",
                       "--output-dir", "/opt/ml/processing/evaluation"]),
        property_files=[report], cache_config=cache, retry_policies=retry)
    evaluation_json = Join(on="/", values=[
        evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
        "evaluation.json"])
    auc = JsonGet(step_name=evaluate.name, property_file=report,
                  json_path="binary_classification_metrics.auc.value")

    # RegisterModel: the serving container finds inference.py through SAGEMAKER_SUBMIT_DIRECTORY
    # (a content-hashed tarball), so the model artifact needs no repack step.
    def serving_model():
        return Model(
            image_uri=xgboost_image, model_data=model_data, role=role, sagemaker_session=session,
            env={"SAGEMAKER_PROGRAM": "inference.py",
                 "SAGEMAKER_SUBMIT_DIRECTORY": bundles["inference"].uri(default_bucket, prefix),
                 "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": region})

    register = ModelStep(
        name="RegisterModel",
        step_args=serving_model().register(
            content_types=["text/csv", "application/json", "application/jsonlines"],
            response_types=["text/csv", "application/json", "application/jsonlines"],
            inference_instances=["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"],
            transform_instances=["ml.m5.large", "ml.m5.xlarge"],
            model_package_group_name=model_package_group_name,
            approval_status=p["ModelApprovalStatus"],
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(s3_uri=evaluation_json,
                                               content_type="application/json"),
                model_data_statistics=baseline_file("statistics.json"),
                model_data_constraints=baseline_file("constraints.json")),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=baseline_file("statistics.json"),
                model_data_constraints=baseline_file("constraints.json")),
            description="Churn XGBoost model (schema %s)" % schema.name),
        retry_policies=retry[:1])  # job-level retry types do not apply to registering

    too_low = FailStep(
        name="AucTooLow",
        error_message=Join(on=" ", values=["Test AUC", auc, "is below the AucThreshold",
                                           p["AucThreshold"], "- the model was not registered."]))
    passed = [register]
    if batch_input:
        passed += batch_scoring_steps(p, serving_model(), register, retry, prefix, session)
    check = ConditionStep(
        name="CheckAucThreshold",
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=p["AucThreshold"])],
        if_steps=passed, else_steps=[too_low])

    return ChurnPipeline(name=pipeline_name, parameters=list(p.values()),
                         steps=[validate, baseline, preprocess, train, evaluate, check],
                         sagemaker_session=session)


def batch_scoring_steps(p, model, register, retry, prefix, session):
    """BatchModel (CreateModel from the trained artifact, the registered container and code) and
    BatchTransform over BatchInputUrl with the batch semantics of SAGEMAKER_CONTRACTS.md 3.3:
    each CSV line a record, as many records per request as fit in 6 MB, one output line per
    record, <file>.out per input file, in input order."""
    create = ModelStep(name="BatchModel",
                       step_args=model.create(instance_type=p["TransformInstanceType"]),
                       depends_on=[register], retry_policies=retry[:1])
    transformer = Transformer(
        model_name=create.properties.ModelName, instance_count=p["TransformInstanceCount"],
        instance_type=p["TransformInstanceType"], strategy="MultiRecord", assemble_with="Line",
        accept="text/csv", max_payload=6,
        output_path=Join(on="/", values=[p["BatchOutputUrl"],
                                         ExecutionVariables.PIPELINE_EXECUTION_ID]),
        base_transform_job_name="%s-score" % prefix, sagemaker_session=session)
    # No CacheConfig: the model is created anew by every execution, and ModelName is part of
    # the transform's cache key, so a cache could never hit.
    transform = TransformStep(
        name="BatchTransform",
        step_args=transformer.transform(data=p["BatchInputUrl"], data_type="S3Prefix",
                                        content_type="text/csv", split_type="Line",
                                        join_source=p["BatchJoinSource"]),
        retry_policies=retry)
    return [create, transform]


class ChurnPipeline(Pipeline):
    """The SDK's Pipeline, with telemetry off where the SDK would send it (pipelines/sdk.py)."""

    def create(self, *args, **kwargs):
        with telemetry_opted_out(self.sagemaker_session):
            return super(ChurnPipeline, self).create(*args, **kwargs)

    def start(self, *args, **kwargs):
        with telemetry_opted_out(self.sagemaker_session):
            return super(ChurnPipeline, self).start(*args, **kwargs)
