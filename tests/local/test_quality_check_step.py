"""The QualityCheck step on the local engine, built with the SageMaker SDK as a user builds it
(QualityCheckStep, DataQualityCheckConfig, CheckJobConfig, RegisterModel with ModelMetrics and
DriftCheckBaselines from its properties) and run as `churn run` and StartPipelineExecution run a
definition (engine.run_definition).

What the tests hold the engine to, from the SageMaker developer guide:
- "Baseline calculation, drift detection and lifecycle with ClarifyCheck and QualityCheck steps"
  (pipelines-quality-clarify-baseline-lifecycle.html): the step always calculates a new baseline
  (CalculatedBaseline*); register_new_baseline decides BaselineUsedForDriftCheck* (the new
  baseline, or the latest Approved version's DriftCheckBaselines / the supplied baseline, which
  is preferred); skip_check false checks the dataset against that previous baseline and fails
  the step on a violation, so the drifted model is not registered; skip_check true / register
  true is the first run's case, with no baseline yet.
- QualityCheckStepMetadata (API reference): what ListPipelineExecutionSteps reports.
- Model Monitor's statistics.json, constraints.json and constraint_violations.json
  ("Schema for Statistics", "Schema for Constraints", "Schema for Violations").
"""

import csv
import io
import json
import os

import pytest

from pipelines.local.s3 import Store
from pipelines.local.sagemaker.api import SageMakerClient
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.engine import run_definition

from conftest import BANK, needs_shared_data

BUCKET = "s3://qc-bucket"
GROUP = "churn-quality"
ROLE = "arn:aws:iam::111111111111:role/pipeline"


def sdk_definition(dataset_format="csv", header=True, fail_on_violation=True, supplied=False):
    """The definition a user's SDK code gives: one QualityCheckStep feeding a RegisterModel."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    import boto3
    from sagemaker.drift_check_baselines import DriftCheckBaselines
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.model_monitor.dataset_format import DatasetFormat
    from sagemaker.workflow.check_job_config import CheckJobConfig
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import ParameterBoolean, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
    from sagemaker.workflow.step_collections import RegisterModel

    boto = boto3.Session(
        region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local"
    )
    session = PipelineSession(boto_session=boto, default_bucket="qc-bucket")
    dataset = ParameterString(name="Dataset", default_value=BUCKET + "/data/train.csv")
    skip_check = ParameterBoolean(name="SkipCheck", default_value=False)
    register_new = ParameterBoolean(name="RegisterNewBaseline", default_value=False)
    formats = {"csv": DatasetFormat.csv(header=header), "json": DatasetFormat.json(lines=True)}
    check = QualityCheckStep(
        name="DataQuality",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=dataset,
            dataset_format=formats[dataset_format],
            output_s3_uri=Join(
                on="/", values=[BUCKET, "quality", ExecutionVariables.PIPELINE_EXECUTION_ID]
            ),
        ),
        check_job_config=CheckJobConfig(
            role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session
        ),
        skip_check=skip_check,
        register_new_baseline=register_new,
        fail_on_violation=fail_on_violation,
        model_package_group_name=GROUP,
        supplied_baseline_statistics=BUCKET + "/supplied/statistics.json" if supplied else None,
        supplied_baseline_constraints=BUCKET + "/supplied/constraints.json" if supplied else None,
    )

    def source(uri):
        return MetricsSource(s3_uri=uri, content_type="application/json")

    register = RegisterModel(
        name="Register",
        model=Model(
            image_uri="xgboost-image",
            model_data=BUCKET + "/model/model.tar.gz",
            role=ROLE,
            sagemaker_session=session,
        ),
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"],
        model_package_group_name=GROUP,
        approval_status="Approved",
        model_metrics=ModelMetrics(
            model_data_statistics=source(check.properties.CalculatedBaselineStatistics),
            model_data_constraints=source(check.properties.CalculatedBaselineConstraints),
        ),
        drift_check_baselines=DriftCheckBaselines(
            model_data_statistics=source(check.properties.BaselineUsedForDriftCheckStatistics),
            model_data_constraints=source(check.properties.BaselineUsedForDriftCheckConstraints),
        ),
    )
    pipeline = Pipeline(
        name="QualityPipeline",
        parameters=[dataset, skip_check, register_new],
        steps=[check, register],
        sagemaker_session=session,
    )
    return json.loads(pipeline.definition())


@pytest.fixture(scope="module")
def csv_definition():
    return sdk_definition()


def table(rows, header=True):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow(list(row.values()))
    return out.getvalue().encode()


def bank_rows():
    with open(BANK, newline="") as f:
        return [
            {k: r[k] for k in ("Age", "Tenure", "Balance", "Geography", "IsActiveMember")}
            for r in csv.DictReader(f)
        ]


def run(home, definition, **parameters):
    return run_definition(home, definition, "QualityPipeline", parameters)


def step_entry(record, name="DataQuality"):
    return next(s for s in record["Steps"] if s["StepName"] == name)


def read_json(home, uri):
    return json.loads(Store(home).read_bytes(uri))


def assert_statistics_format(statistics):
    assert statistics["version"] == 0.0 and statistics["dataset"]["item_count"] > 0
    for feature in statistics["features"]:
        assert feature["inferred_type"] in ("Integral", "Fractional", "String")
        if feature["inferred_type"] == "String":
            assert {"common", "distinct_count", "distribution"} <= set(feature["string_statistics"])
        else:
            numbers = feature["numerical_statistics"]
            assert {"common", "mean", "sum", "std_dev", "min", "max"} <= set(numbers)
            assert len(numbers["distribution"]["kll"]["buckets"]) == 10


def assert_constraints_format(constraints):
    assert constraints["version"] == 0.0
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"]
    for feature in constraints["features"]:
        assert 0.0 <= feature["completeness"] <= 1.0
        assert feature["inferred_type"] in ("Integral", "Fractional", "String")


def test_the_sdk_definition_is_what_the_engine_reads(csv_definition):
    """The SDK's QualityCheck step: a CreateProcessingJob request for the analyzer image (no
    entry point) with the check's fields beside Arguments, not in them."""
    step = csv_definition["Steps"][0]
    assert step["Type"] == "QualityCheck" and step["CheckType"] == "DATA_QUALITY"
    assert "sagemaker-model-monitor-analyzer" in step["Arguments"]["AppSpecification"]["ImageUri"]
    assert "ContainerEntrypoint" not in step["Arguments"]["AppSpecification"]
    assert step["SkipCheck"] == {"Get": "Parameters.SkipCheck"}
    assert step["ModelPackageGroupName"] == GROUP


@needs_shared_data
def test_baseline_lifecycle_on_the_bank_table(tmp_path, csv_definition):
    """First run (skip_check, register_new_baseline): the calculated baseline becomes the
    version's DriftCheckBaselines. Then a drifted table fails the check against it (and the
    model is not registered), passes with skip_check, and a clean table passes the check while
    the new version carries the previous baseline over."""
    home = tmp_path / "home"
    store = Store(home)
    rows = bank_rows()
    store.put_bytes(BUCKET + "/data/train.csv", table(rows))
    older = [dict(r, Age=str(int(r["Age"]) + 25)) for r in rows]  # every customer 25 years on
    store.put_bytes(BUCKET + "/data/drifted.csv", table(older))
    store.put_bytes(BUCKET + "/data/fresh.csv", table(rows[::2]))

    first = run(home, csv_definition, SkipCheck=True, RegisterNewBaseline=True)
    assert first["PipelineExecutionStatus"] == "Succeeded", first["FailureReason"]
    metadata = step_entry(first)["Metadata"]["QualityCheck"]
    output = "%s/quality/%s" % (BUCKET, first["PipelineExecutionId"])
    assert metadata["CalculatedBaselineStatistics"] == output + "/statistics.json"
    assert metadata["BaselineUsedForDriftCheckConstraints"] == output + "/constraints.json"
    assert metadata["SkipCheck"] is True and "ViolationReport" not in metadata

    backend = SageMakerBackend(home)
    try:
        sm = SageMakerClient(backend)
        versions = sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
        assert len(versions) == 1
        package = sm.describe_model_package(ModelPackageName=versions[0]["ModelPackageArn"])
        quality = package["DriftCheckBaselines"]["ModelDataQuality"]
        assert quality["Statistics"]["S3Uri"] == output + "/statistics.json"
        assert quality["Constraints"]["S3Uri"] == output + "/constraints.json"
        assert package["ModelMetrics"]["ModelDataQuality"]["Statistics"]["S3Uri"] == (
            output + "/statistics.json"
        )
        statistics = read_json(home, quality["Statistics"]["S3Uri"])
        constraints = read_json(home, quality["Constraints"]["S3Uri"])
        assert_statistics_format(statistics)
        assert_constraints_format(constraints)
        by_name = {f["name"]: f for f in statistics["features"]}
        assert statistics["dataset"]["item_count"] == len(rows) == 10000
        assert by_name["Age"]["inferred_type"] == "Integral"
        assert by_name["Balance"]["inferred_type"] == "Fractional"
        assert by_name["Geography"]["inferred_type"] == "String"
        assert by_name["Age"]["numerical_statistics"]["min"] == 18.0
        domains = {f["name"]: f.get("string_constraints") for f in constraints["features"]}
        assert domains["Geography"] == {"domains": ["France", "Germany", "Spain"]}

        drifted = run(home, csv_definition, Dataset=BUCKET + "/data/drifted.csv")
        assert drifted["PipelineExecutionStatus"] == "Failed"
        entry = step_entry(drifted)
        assert entry["StepStatus"] == "Failed"
        assert entry["FailureReason"].startswith("CheckFailed: 1 violation of the drift-check")
        assert "baseline_drift_check on Age" in entry["FailureReason"]
        assert [s["StepName"] for s in drifted["Steps"]] == ["DataQuality"]
        report = read_json(home, entry["Metadata"]["QualityCheck"]["ViolationReport"])
        assert report["violations"] == [
            {
                "feature_name": "Age",
                "constraint_check_type": "baseline_drift_check",
                "description": report["violations"][0]["description"],
            }
        ]
        assert report["violations"][0]["description"].startswith("Baseline drift distance: ")
        steps = sm.list_pipeline_execution_steps(
            PipelineExecutionArn=drifted["PipelineExecutionArn"]
        )["PipelineExecutionSteps"]
        assert steps[0]["Metadata"]["QualityCheck"]["ViolationReport"].endswith(
            "/constraint_violations.json"
        )

        skipped = run(home, csv_definition, Dataset=BUCKET + "/data/drifted.csv", SkipCheck=True)
        assert skipped["PipelineExecutionStatus"] == "Succeeded", skipped["FailureReason"]

        fresh = run(home, csv_definition, Dataset=BUCKET + "/data/fresh.csv")
        assert fresh["PipelineExecutionStatus"] == "Succeeded", fresh["FailureReason"]
        report = read_json(home, step_entry(fresh)["Metadata"]["QualityCheck"]["ViolationReport"])
        assert report == {"violations": []}
        newest = sm.describe_model_package(ModelPackageName="%s/3" % GROUP)
        carried = newest["DriftCheckBaselines"]["ModelDataQuality"]
        # register_new_baseline false: the latest Approved version's baseline is carried over;
        # the version's ModelMetrics hold the run's own calculated baseline.
        assert carried == quality
        assert newest["ModelMetrics"]["ModelDataQuality"]["Statistics"]["S3Uri"] == (
            "%s/quality/%s/statistics.json" % (BUCKET, fresh["PipelineExecutionId"])
        )
    finally:
        backend.close()


def test_first_check_without_a_baseline_fails_naming_why(tmp_path, csv_definition):
    """skip_check false needs a previous baseline ("the previous baseline of the configured
    check type must be available"); so does register_new_baseline false."""
    home = tmp_path / "home"
    Store(home).put_bytes(BUCKET + "/data/train.csv", table([{"a": "1", "b": "x"}] * 3))
    record = run(home, csv_definition)
    assert record["PipelineExecutionStatus"] == "Failed"
    reason = step_entry(record)["FailureReason"]
    assert reason.startswith("CheckFailed: SkipCheck is false, so the drift check needs")
    assert "no Approved version of model package group %s" % GROUP in reason
    record = run(home, csv_definition, SkipCheck=True)
    assert "RegisterNewBaseline is false" in step_entry(record)["FailureReason"]


def test_supplied_baseline_headerless_csv_and_fail_on_violation_false(tmp_path):
    """A supplied baseline is preferred; a headerless CSV's columns are _c0, _c1, ... as the
    analyzer names them; with fail_on_violation false a violation is reported, not fatal."""
    home = tmp_path / "home"
    store = Store(home)
    rows = [{"x": str(i % 10), "y": "ab"[i % 2]} for i in range(400)]
    store.put_bytes(BUCKET + "/data/train.csv", table(rows, header=False))
    first = run(home, sdk_definition(header=False), SkipCheck=True, RegisterNewBaseline=True)
    assert first["PipelineExecutionStatus"] == "Succeeded", first["FailureReason"]
    calculated = step_entry(first)["Metadata"]["QualityCheck"]
    for name in ("statistics", "constraints"):
        key = "CalculatedBaseline" + name.capitalize()
        store.put_bytes("%s/supplied/%s.json" % (BUCKET, name), store.read_bytes(calculated[key]))
    statistics = read_json(home, calculated["CalculatedBaselineStatistics"])
    assert [f["name"] for f in statistics["features"]] == ["_c0", "_c1"]
    shifted = [{"x": str(9 + i % 3), "y": "a"} for i in range(400)]
    store.put_bytes(BUCKET + "/data/train.csv", table(shifted, header=False))
    lenient = sdk_definition(header=False, fail_on_violation=False, supplied=True)
    record = run(home, lenient)
    assert record["PipelineExecutionStatus"] == "Succeeded", record["FailureReason"]
    metadata = step_entry(record)["Metadata"]["QualityCheck"]
    assert metadata["BaselineUsedForDriftCheckStatistics"] == BUCKET + "/supplied/statistics.json"
    report = read_json(home, metadata["ViolationReport"])
    kinds = {(v["feature_name"], v["constraint_check_type"]) for v in report["violations"]}
    assert ("_c0", "baseline_drift_check") in kinds and ("_c1", "baseline_drift_check") in kinds


def test_json_lines_dataset(tmp_path):
    home = tmp_path / "home"
    lines = "".join(
        json.dumps({"n": i, "f": i / 4.0, "s": "k%d" % (i % 3)}) + "\n" for i in range(50)
    )
    Store(home).put_bytes(BUCKET + "/data/train.csv", lines.encode())
    record = run(home, sdk_definition("json"), SkipCheck=True, RegisterNewBaseline=True)
    assert record["PipelineExecutionStatus"] == "Succeeded", record["FailureReason"]
    uri = step_entry(record)["Metadata"]["QualityCheck"]["CalculatedBaselineStatistics"]
    types = {f["name"]: f["inferred_type"] for f in read_json(home, uri)["features"]}
    assert types == {"n": "Integral", "f": "Fractional", "s": "String"}


def test_model_quality_and_clarify_are_refused_before_the_run(tmp_path, csv_definition):
    from pipelines.errors import PipelineError

    definition = json.loads(json.dumps(csv_definition))
    definition["Steps"][0]["CheckType"] = "MODEL_QUALITY"
    definition["Steps"].append({"Name": "Bias", "Type": "ClarifyCheck", "Arguments": {}})
    with pytest.raises(PipelineError) as refused:
        run(tmp_path / "home", definition)
    lines = str(refused.value).splitlines()
    assert lines[0] == "the local engine cannot run 2 of this pipeline's steps, so nothing ran:"
    assert lines[1].startswith("  step DataQuality (type QualityCheck): its CheckType is MODEL_")
    assert lines[2].startswith("  step Bias (type ClarifyCheck): it runs SageMaker Clarify's")
    assert not (tmp_path / "home" / "executions").exists()
