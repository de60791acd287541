"""`churn run`: build the churn pipeline's definition for local use and execute it.

The definition is what get_pipeline() builds for SageMaker, with the local store's bucket. It is
a pure function of the code, the build arguments and the SDK version, so it is memoised under
<home>/definitions/ keyed by a hash of exactly those: a rerun does not import the SDK at all.
The code bundles and the data go into the local store under content-hashed keys, so unchanged
code and data give unchanged cache keys and every job step is reused.
"""
import hashlib
import json
from importlib import metadata
from pathlib import Path

from pipelines.code_bundles import ROOT, build_bundles
from pipelines.local.engine import Execution, make_runner
from pipelines.local.registry import Registry
from pipelines.local.store import Store

LOCAL_BUCKET = "churn-local"
LOCAL_REGION = "us-east-1"  # image URIs need a region; nothing is called there
PREFIX = "churn"
# The files that shape the definition besides the job code (which the bundles cover).
BUILDER_SOURCES = ("pipelines/churn/pipeline.py", "pipelines/code_bundles.py", "pipelines/sdk.py")


def definition_key(build_args, bundles):
    h = hashlib.sha256()
    h.update(json.dumps(build_args, sort_keys=True).encode())
    h.update(metadata.version("sagemaker").encode())
    for source in BUILDER_SOURCES:
        h.update((ROOT / source).read_bytes())
    for name, bundle in sorted(bundles.items()):
        h.update(("%s=%s" % (name, bundle.digest)).encode())
    return h.hexdigest()[:24]


def local_definition(home, schema="seed", pipeline_name="ChurnPipeline", **overrides):
    """(definition dict, bundles), from the memo when nothing it depends on changed."""
    from processing.churn_schema import resolve_schema_path

    schema_path = resolve_schema_path(schema)
    shipped = Path(schema_path).resolve().parent == (ROOT / "processing" / "schemas").resolve()
    bundles = build_bundles(None if shipped else schema_path)
    build_args = dict(overrides, schema=schema if shipped else str(Path(schema_path).resolve()),
                      pipeline_name=pipeline_name)
    if not shipped:  # a user's schema file: its content shapes the definition
        build_args["schema_sha256"] = hashlib.sha256(Path(schema_path).read_bytes()).hexdigest()
    memo = Path(home) / "definitions" / (definition_key(build_args, bundles) + ".json")
    if memo.is_file():
        return json.loads(memo.read_text()), bundles
    from pipelines.churn.pipeline import get_pipeline  # imports the SDK: seconds

    pipeline = get_pipeline(region=LOCAL_REGION, default_bucket=LOCAL_BUCKET,
                            pipeline_name=pipeline_name, base_job_prefix=PREFIX,
                            upload_code=False, schema=schema_path, **overrides)
    definition = json.loads(pipeline.definition())
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_suffix(".tmp")
    tmp.write_text(json.dumps(definition))
    tmp.replace(memo)
    return definition, bundles


def stage_code(store, bundles):
    for bundle in bundles.values():
        prefix = bundle.prefix(LOCAL_BUCKET, PREFIX)
        for name, data in bundle.objects().items():
            uri = prefix + "/" + name
            if not store.exists(uri):
                store.put_bytes(uri, data)


def stage_data(store, data, folder="data"):
    """A local CSV goes into the store under a hash of its bytes (same data, same key, cache
    hits); an s3:// URI must already be in the local store."""
    if data.startswith("s3://"):
        if not store.objects(data):
            raise FileNotFoundError("%s is not in the local store (%s); copy the data there or "
                                    "pass a local CSV file" % (data, store.path(data)))
        return data
    path = Path(data)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    prefix = "s3://%s/%s/%s/%s/" % (LOCAL_BUCKET, PREFIX, folder, digest)
    if not store.exists(prefix + path.name):
        store.put_file(prefix + path.name, path)
    return prefix


def run_local(home, data, schema="seed", parameters=None, pipeline_name="ChurnPipeline",
              echo=None, batch_input=None):
    """Build (or reuse) the definition, stage code and data, execute. Returns (record,
    execution) so callers can read what the steps produced. `batch_input` (a CSV file or an
    s3:// URI in the local store) adds the batch-scoring steps and is what they score."""
    echo = echo or (lambda line: None)
    store = Store(home)
    # Started first: the job parent imports the libraries while the definition is built.
    runner = make_runner(home)
    try:
        # The definition gets a fixed placeholder input and the file goes in as the
        # BatchInputUrl parameter: scoring another file reuses the memoised definition.
        options = {"batch_input": True} if batch_input else {}
        definition, bundles = local_definition(home, schema=schema, pipeline_name=pipeline_name,
                                               **options)
        stage_code(store, bundles)
        parameters = dict(parameters or {})
        parameters["InputDataUrl"] = stage_data(store, data)
        if batch_input:
            parameters["BatchInputUrl"] = stage_data(store, batch_input, "batch/input")
        execution = Execution(home, definition, pipeline_name, parameters, echo, runner)
        return execution.run(), execution
    finally:
        runner.close()


def summary(home, record, execution):
    """What `churn run --json` prints: the execution, its steps, metrics and model."""
    out = {"execution_id": record["PipelineExecutionId"],
           "status": record["PipelineExecutionStatus"],
           "failure_reason": record["FailureReason"],
           "steps": [{"name": s["StepName"], "type": s["StepType"], "status": s["StepStatus"],
                      "start": s["StartTime"], "end": s["EndTime"],
                      "cache_hit": bool(s["CacheHit"]), "failure_reason": s["FailureReason"]}
                     for s in record["Steps"]],
           "metrics": None, "model_package": None, "batch_output": None}
    for files in execution.ctx.property_files.values():
        if "EvaluationReport" in files and execution.store.exists(files["EvaluationReport"]):
            report = json.loads(execution.store.read_bytes(files["EvaluationReport"]))
            metrics = report.get("binary_classification_metrics", {})
            out["metrics"] = {name: metrics[name]["value"] for name in
                              ("auc", "accuracy", "precision", "recall", "f1") if name in metrics}
            if "pr_auc" in metrics:
                out["metrics"]["pr_auc"] = metrics["pr_auc"]["value"]
    for step in record["Steps"]:
        arn = step["Metadata"].get("RegisterModel", {}).get("Arn")
        if arn and step["StepStatus"] == "Succeeded":
            registry = Registry(home)
            package = registry.describe(arn)
            registry.close()
            out["model_package"] = {"group": package["ModelPackageGroupName"],
                                    "version": package["ModelPackageVersion"],
                                    "approval_status": package["ModelApprovalStatus"],
                                    "arn": arn}
        if step["StepType"] == "Transform" and step["StepStatus"] == "Succeeded":
            output = execution.ctx.properties[step["StepName"]]["TransformOutput"][
                "S3OutputPath"].rstrip("/") + "/"
            out["batch_output"] = {"uri": output, "files": [
                str(path) for _, path in sorted(execution.store.objects(output).items())]}
    return out


def log_tail(log, lines=20):
    """The last lines of a failed job's log (a log file, or the job folder), and its path."""
    log = Path(log)
    logs = [log] if log.is_file() else sorted(log.glob("*.log"))
    for log in logs:
        text = log.read_text(errors="replace").rstrip()
        if text:
            return "\n".join(text.splitlines()[-lines:]), log
    return "", log
