"""The QualityCheck step (DATA_QUALITY), as SageMaker Pipelines runs it: a baselining job of
Model Monitor's analyzer on the step's dataset, then the drift check against the previous
baseline, and the baseline properties later steps read (RegisterModel's DriftCheckBaselines).

The step's Arguments are a CreateProcessingJob request for the analyzer image
(sagemaker-model-monitor-analyzer), which names no entry point: the local engine runs the
analyzer's data-quality analysis itself, on the request's container paths (dataset_source,
output_path and dataset_format from its Environment), with the mechanics baseline.py and
`churn monitor` use (processing/churn_quality.py). The job goes through the step cache and the
retry policies as a Processing step's does.

What the step's fields do (the developer guide's "Baseline calculation, drift detection and
lifecycle with ClarifyCheck and QualityCheck steps"):

  CalculatedBaselineStatistics/Constraints   always the job's new statistics.json and
                                             constraints.json (under the output's S3Uri)
  the drift-check baseline                   SuppliedBaselineStatistics/Constraints when given,
                                             else the DriftCheckBaselines.ModelDataQuality of
                                             the newest Approved version of
                                             ModelPackageGroupName
  SkipCheck false                            the dataset is checked against that baseline; it
                                             must exist; constraint_violations.json is written
                                             beside the new baseline, and a violation fails the
                                             step unless FailOnViolation is false
  RegisterNewBaseline                        BaselineUsedForDriftCheck* are the calculated
                                             files; otherwise the drift-check baseline, which
                                             must then exist
"""

import csv
import io
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from pipelines.local.arns import sagemaker_arn
from pipelines.local.s3 import Store
from pipelines.local.sagemaker.failure import StepFailure
from pipelines.local.sagemaker.jobs.container import Container, copy_inputs, stringify_app
from pipelines.local.sagemaker.registry import Registry
from pipelines.local.sagemaker.runners import JobRunner
from processing.churn_job import write_text_atomic
from processing.churn_quality import Row, Violation, analyze, table_baseline

Json = Dict[str, Any]

DATA_QUALITY = "DATA_QUALITY"
STATISTICS = "statistics.json"
CONSTRAINTS = "constraints.json"
VIOLATIONS = "constraint_violations.json"
# The analyzer's inputs for scripts of the user's, which the local analysis cannot run.
SCRIPT_INPUTS = ("record_preprocessor_script", "post_analytics_processor_script")
CHECK_FIELDS = (
    "CheckType",
    "ModelPackageGroupName",
    "SkipCheck",
    "FailOnViolation",
    "RegisterNewBaseline",
    "SuppliedBaselineStatistics",
    "SuppliedBaselineConstraints",
)


def unsupported(step: Json) -> Optional[str]:
    """Why the local engine cannot run this QualityCheck step, or None when it can (asked
    before the run starts, as for a step type it does not have)."""
    check_type = step.get("CheckType")
    if check_type != DATA_QUALITY:
        return (
            "its CheckType is %s: the local engine runs DATA_QUALITY checks only "
            "(MODEL_QUALITY needs Model Monitor's model-quality analysis, which has no local "
            "stand-in)" % check_type
        )
    environment = step.get("Arguments", {}).get("Environment") or {}
    scripts = [name for name in SCRIPT_INPUTS if environment.get(name)]
    if scripts:
        return (
            "it names %s: the local analysis cannot run Model Monitor's preprocessing or "
            "post-analytics scripts" % " and ".join(scripts)
        )
    return None


# ----------------------------------------------------------------------------- the dataset


def dataset_format(environment: Json) -> Json:
    """The analyzer's dataset_format (JSON text: {"csv": {"header": ...}}, {"json": {"lines":
    ...}}); a StepFailure for one it cannot read (Parquet)."""
    text = environment.get("dataset_format")
    try:
        fmt = json.loads(text) if text else {"csv": {"header": True}}
    except ValueError:
        raise StepFailure("dataset_format %r is not JSON" % text)
    if not isinstance(fmt, dict) or not ({"csv", "json"} & set(fmt)):
        raise StepFailure(
            "dataset_format %s: the local analyzer reads csv and json datasets" % json.dumps(fmt)
        )
    return fmt


def read_table(files: List[Path], fmt: Json) -> Tuple[List[str], List[Row]]:
    """(columns, rows) of a dataset's files, read in name order as dataset_format says. A CSV
    without a header names its columns _c0, _c1, ... as the analyzer (Spark) does; JSON gives
    each object's keys (one object per line with "lines", else a document of one or a list)."""
    columns: List[str] = []
    rows: List[Row] = []
    for path in files:
        text = path.read_text(encoding="utf-8-sig")
        if "csv" in fmt:
            header = bool((fmt.get("csv") or {}).get("header", True))
            records = [r for r in csv.reader(io.StringIO(text)) if r]
            if not records:
                continue
            names = (
                [c.strip() for c in records[0]]
                if header
                else ["_c%d" % i for i in range(len(records[0]))]
            )
            for name in names:
                if name not in columns:
                    columns.append(name)
            for record in records[1:] if header else records:
                rows.append(dict(zip(names, record)))
        else:
            lines = bool((fmt.get("json") or {}).get("lines", True))
            try:
                items = (
                    [json.loads(line) for line in text.splitlines() if line.strip()]
                    if lines
                    else json.loads(text)
                )
            except ValueError as e:
                raise StepFailure("%s is not JSON%s: %s" % (path.name, " lines" * lines, e))
            for item in items if isinstance(items, list) else [items]:
                if not isinstance(item, dict):
                    raise StepFailure("%s holds a record that is not an object" % path.name)
                for name in item:
                    if name not in columns:
                        columns.append(name)
                rows.append(item)
    if not rows:
        raise StepFailure("the dataset has no records")
    return columns, rows


# ----------------------------------------------------------------------------- the job


def run_analyzer(
    request: Json, job_name: str, workdir: Path, store: Store, runner: JobRunner
) -> Json:
    """The baselining job of the step's request: its inputs copied to their container paths,
    statistics.json and constraints.json written to output_path and uploaded to the output's
    S3Uri; the DescribeProcessingJob-shaped dict. The analysis runs in the engine's process
    (`runner` is not used)."""
    started = time.time()
    request = stringify_app(request)
    arn = sagemaker_arn("processing-job", job_name)
    environment = request.get("Environment") or {}
    fmt = dataset_format(environment)
    host = Container(Path(workdir) / "algo-1")
    for item in request.get("ProcessingInputs", []):
        copy_inputs(store, item["S3Input"]["S3Uri"], host.path(item["S3Input"]["LocalPath"]))
    source = host.path(environment.get("dataset_source", "/opt/ml/processing/input"))
    output = environment.get("output_path", "/opt/ml/processing/output")
    files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else []
    if not files:
        raise StepFailure("no dataset file under dataset_source %s" % environment["dataset_source"])
    columns, rows = read_table(files, fmt)
    statistics, constraints = table_baseline(columns, rows)
    write_text_atomic(str(host.path(output) / STATISTICS), json.dumps(statistics, indent=1))
    write_text_atomic(str(host.path(output) / CONSTRAINTS), json.dumps(constraints, indent=1))
    log = Path(workdir) / "algo-1.log"
    log.write_text(
        "analyzer: %d records, %d features of %d files -> %s\n"
        % (len(rows), len(columns), len(files), output)
    )
    for item in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
        store.upload_folder(host.path(item["S3Output"]["LocalPath"]), item["S3Output"]["S3Uri"])
    return dict(
        request,
        ProcessingJobName=job_name,
        ProcessingJobArn=arn,
        ProcessingJobStatus="Completed",
        ExitMessage="",
        ProcessingStartTime=started,
        ProcessingEndTime=time.time(),
    )


# ----------------------------------------------------------------------------- the check


def registered_baseline(registry: Registry, group: Optional[str]) -> Tuple[str, str]:
    """(statistics, constraints) URIs of the DriftCheckBaselines.ModelDataQuality of the newest
    Approved version in `group`; ("", "") when there is none."""
    if not group:
        return "", ""
    approved = [p for p in registry.list_packages(group) if p["ModelApprovalStatus"] == "Approved"]
    for package in sorted(approved, key=lambda p: -int(p["ModelPackageVersion"])):
        quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
        statistics = (quality.get("Statistics") or {}).get("S3Uri") or ""
        constraints = (quality.get("Constraints") or {}).get("S3Uri") or ""
        return statistics, constraints
    return "", ""


def read_json(store: Store, uri: str, what: str) -> Json:
    try:
        document = json.loads(store.read_bytes(uri))
    except (OSError, ValueError) as e:
        raise StepFailure("the %s %s cannot be read: %s" % (what, uri, e))
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise StepFailure("the %s %s is not Model Monitor's format" % (what, uri))
    return document


def drift_check(store: Store, request: Json, statistics_uri: str, constraints_uri: str) -> Json:
    """constraint_violations.json of the step's dataset against the baseline."""
    statistics = read_json(store, statistics_uri, "drift-check statistics")
    constraints = read_json(store, constraints_uri, "drift-check constraints")
    environment = request.get("Environment") or {}
    source = environment.get("dataset_source", "/opt/ml/processing/input")
    uris = [
        i["S3Input"]["S3Uri"]
        for i in request.get("ProcessingInputs", [])
        if source.startswith(i["S3Input"]["LocalPath"].rstrip("/"))
    ]
    files = [path for uri in uris for _, path in sorted(store.objects(uri).items())]
    columns, rows = read_table(files, dataset_format(environment))
    features = [f["name"] for f in constraints["features"]]
    missing = [name for name in features if name not in columns]
    extra = [name for name in columns if name not in features]
    violations, _ = analyze(statistics, constraints, rows, missing, extra)
    return {"violations": violations}


def describe(violations: List[Violation]) -> str:
    shown = ", ".join(
        "%s on %s" % (v["constraint_check_type"], v["feature_name"]) for v in violations[:5]
    )
    more = " and %d more" % (len(violations) - 5) if len(violations) > 5 else ""
    return shown + more


def baseline_check(
    fields: Json, job: Json, registry: Registry, store: Store, metadata: Json
) -> Json:
    """After the baselining `job`: the drift check the step's `fields` (CHECK_FIELDS, resolved)
    ask for, and the step's properties. `metadata` (the step's QualityCheckStepMetadata) is
    filled in as it goes, so a failed check still says what it found."""
    output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].rstrip("/")
    calculated = (output + "/" + STATISTICS, output + "/" + CONSTRAINTS)
    registered = registered_baseline(registry, fields["ModelPackageGroupName"])
    previous = (
        fields["SuppliedBaselineStatistics"] or registered[0],
        fields["SuppliedBaselineConstraints"] or registered[1],
    )
    skip, register = bool(fields["SkipCheck"]), bool(fields["RegisterNewBaseline"])
    source = (
        "no SuppliedBaselineStatistics/SuppliedBaselineConstraints and no Approved version of "
        "model package group %s carrying DriftCheckBaselines.ModelDataQuality"
        % (fields["ModelPackageGroupName"] or "(none named)")
    )
    metadata.update(
        {
            "CheckType": fields["CheckType"],
            "CalculatedBaselineStatistics": calculated[0],
            "CalculatedBaselineConstraints": calculated[1],
            "CheckJobArn": job["ProcessingJobArn"],
            "SkipCheck": skip,
            "RegisterNewBaseline": register,
        }
    )
    if fields["ModelPackageGroupName"]:
        metadata["ModelPackageGroupName"] = fields["ModelPackageGroupName"]
    used = calculated if register else previous
    if all(used):
        metadata["BaselineUsedForDriftCheckStatistics"] = used[0]
        metadata["BaselineUsedForDriftCheckConstraints"] = used[1]
    if not skip:
        if not all(previous):
            raise StepFailure(
                "CheckFailed: SkipCheck is false, so the drift check needs a previous "
                "baseline, and there is %s" % source
            )
        report = drift_check(store, job, previous[0], previous[1])
        report_uri = output + "/" + VIOLATIONS
        store.put_bytes(report_uri, json.dumps(report, indent=1).encode())
        metadata["ViolationReport"] = report_uri
        violations = report["violations"]
        if violations and fields["FailOnViolation"] is not False:
            raise StepFailure(
                "CheckFailed: %d violation%s of the drift-check baseline %s (%s); the report "
                "is %s"
                % (
                    len(violations),
                    "s" * (len(violations) != 1),
                    previous[1],
                    describe(violations),
                    report_uri,
                )
            )
    if not all(used):
        raise StepFailure(
            "RegisterNewBaseline is false, so BaselineUsedForDriftCheck* are the previous "
            "baseline, and there is %s" % source
        )
    return {
        "CalculatedBaselineStatistics": calculated[0],
        "CalculatedBaselineConstraints": calculated[1],
        "BaselineUsedForDriftCheckStatistics": used[0],
        "BaselineUsedForDriftCheckConstraints": used[1],
    }
