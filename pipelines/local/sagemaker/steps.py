"""What each step type does, in one table: STEP_TYPES maps a definition's step Type to its
handler. A handler takes (execution, step, record entry), sets the step's properties in the
execution's context and its Metadata in the entry, and returns the steps it unlocks (a
condition's chosen branch). Job steps go through the step cache and the retry policies
(policies.py) first."""

import re
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, NoReturn, Optional, Protocol, TypeVar

from pipelines.local.s3 import Store
from pipelines.local.sagemaker import expressions
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.failure import StepFailure
from pipelines.local.sagemaker.job_api import Jobs
from pipelines.local.sagemaker.jobs.processing import run_processing
from pipelines.local.sagemaker.jobs.training import run_training
from pipelines.local.sagemaker.jobs.transform import run_transform
from pipelines.local.sagemaker.lambda_step import lambda_step
from pipelines.local.sagemaker.limits import check_request
from pipelines.local.sagemaker.policies import (
    INTERNAL_ERROR,
    cache_key,
    output_uris,
    parse_duration,
    retry_delays,
)
from pipelines.local.sagemaker.quality_check import CHECK_FIELDS, baseline_check, run_analyzer
from pipelines.local.sagemaker.runners import JobRunner
from pipelines.local.sagemaker.tuning.job import run_tuning
from processing.churn_job import archive_has_members

Json = Dict[str, Any]
Step = Dict[str, Any]  # one of the definition's Steps
Entry = Dict[str, Any]  # the step's entry in the execution record


class RunningExecution(Protocol):
    """What a handler uses of the execution running it (engine.py's Execution)."""

    id: str
    pipeline: str
    arn: str
    folder: Path
    backend: SageMakerBackend
    ctx: expressions.Context

    def echo(self, line: str) -> None: ...

    def save(self) -> None: ...

    def save_step(self, entry: Entry, **details: Any) -> None: ...


# run(request, job name, folder, store, runner) -> the job's Describe*Job properties
JobRun = Callable[[Json, str, Path, Store, JobRunner], Json]
T = TypeVar("T")


def job_name(execution: RunningExecution, step: Step) -> str:

    return ("pipelines-%s-%s" % (execution.id, step["Name"]))[:63]


def run_job(
    execution: RunningExecution,
    step: Step,
    entry: Entry,
    kind: str,
    run: JobRun,
    in_processes: bool = True,
    name: Optional[str] = None,
) -> Json:
    """A job step: resolve, look in the cache, run (with retries), remember. `kind` is the
    job's name in the API (Processing, Training, Transform); `run(request, job name, folder,
    store, runner)` runs one and returns its Describe*Job properties. A job the engine runs
    itself (`in_processes` false: the QualityCheck's analysis) starts no job runner."""
    arguments = expressions.resolve(step["Arguments"], execution.ctx)
    execution.save_step(entry, Arguments=arguments)
    check_request(step["Name"], kind, arguments)
    cache = step.get("CacheConfig") or {}
    key = cache_key(kind, arguments) if cache.get("Enabled") else None
    entry["CacheKey"] = key
    step_cache = execution.backend.step_cache
    hit: Optional[Json] = None
    if key:
        max_age = parse_duration(cache["ExpireAfter"]) if cache.get("ExpireAfter") else float("inf")
        hit = step_cache.lookup(execution.pipeline, step["Name"], key, max_age)
    if hit and not outputs_complete(execution.backend.store, kind, hit["properties"]):
        hit = None  # what the earlier job wrote is gone: run it again
    if hit:
        entry["CacheHit"] = hit["execution_id"]
        properties = hit["properties"]
    else:
        workdir = execution.folder / step["Name"]
        entry["Log"] = str(workdir)
        execution.save()  # where the job's logs are, for a reader following them
        runner = execution.backend.runner if in_processes else JobRunner()
        execution.backend.settle()
        properties = _with_retries(
            execution,
            step,
            entry,
            lambda: run(
                arguments,
                name or job_name(execution, step),
                workdir,
                execution.backend.store,
                runner,
            ),
        )
        if runner.last_usage:
            entry["Resources"] = runner.last_usage
        if runner.waited:
            # The first job waits for the warm parent's imports: time of no job's own.
            entry["JobParentWaitSeconds"] = round(runner.waited, 2)
            runner.waited = 0.0
        if key and outputs_complete(execution.backend.store, kind, properties):
            step_cache.store(execution.pipeline, step["Name"], key, execution.id, properties)
        elif key:
            execution.echo("  %-28s not cached: an output is missing or empty" % step["Name"])
    execution.ctx.properties[step["Name"]] = properties
    execution.save_step(entry, Arguments=arguments, Properties=properties)
    entry["Metadata"] = {kind + "Job": {"Arn": properties[kind + "JobArn"]}}
    return properties


def outputs_complete(store: Store, kind: str, properties: Json) -> bool:
    """Whether every output of a job holds something: a step whose outputs are missing or empty
    is never cached, nor reused from the cache (an empty model cached once would fail every
    later run for the cache's 30 days)."""
    for uri in output_uris(kind, properties):
        files = list(store.objects(uri).values())
        if not files or not any(f.stat().st_size for f in files):
            return False
        if uri.endswith(".tar.gz") and not archive_has_members(files[0]):
            return False
    return True


def _with_retries(
    execution: RunningExecution, step: Step, entry: Entry, attempt: Callable[[], T]
) -> T:
    """Run `attempt` under the step's retry policies; each retry is listed in the entry's
    Retries (the error and the wait before the next attempt)."""
    delays: Optional[List[float]] = None
    while True:
        try:
            return attempt()
        except OSError as e:  # the local stand-in for a SageMaker-side job fault
            if delays is None:
                delays = retry_delays(step.get("RetryPolicies"), INTERNAL_ERROR)
            if not delays:
                raise StepFailure("%s: %s" % (INTERNAL_ERROR, e))
            wait = delays.pop(0)
            entry.setdefault("Retries", []).append({"Error": str(e), "WaitSeconds": wait})
            execution.save()
            execution.echo("  %-28s retrying in %.0f s after %s" % (step["Name"], wait, e))
            time.sleep(wait)


def processing_step(execution: RunningExecution, step: Step, entry: Entry) -> None:
    properties = run_job(execution, step, entry, "Processing", run_processing)
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"]
        for o in properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
    }
    files = {
        pf["PropertyFileName"]: outputs[pf["OutputName"]].rstrip("/") + "/" + pf["FilePath"]
        for pf in step.get("PropertyFiles", [])
    }
    execution.ctx.property_files[step["Name"]] = files
    if files:  # where a reader of the record finds them (the workspace's test metrics)
        entry["PropertyFiles"] = files


def training_step(execution: RunningExecution, step: Step, entry: Entry) -> None:
    run_job(execution, step, entry, "Training", run_training)


def transform_step(execution: RunningExecution, step: Step, entry: Entry) -> None:
    def run(request: Json, name: str, folder: Path, store: Store, runner: JobRunner) -> Json:
        model = execution.backend.registry.model(request["ModelName"])
        return run_transform(request, name, folder, store, runner, model)

    run_job(execution, step, entry, "Transform", run)


def tuning_job_name(execution: RunningExecution, step: Step) -> str:
    """HyperParameterTuningJobName takes 32 letters, digits and hyphens (a step name may hold
    an underscore); its trials add `-NNN-<8 hex>`."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", "%s-%s" % (execution.id, step["Name"]))
    return name[:32].rstrip("-")


def tuning_step(execution: RunningExecution, step: Step, entry: Entry) -> None:
    """A hyperparameter tuning job (tuning/job.py) through the step cache and retry policies;
    its trials are recorded as training jobs and the tuning job itself, so the local sagemaker
    client describes them and a later tuning job can warm-start from it. Its properties are
    DescribeHyperParameterTuningJob's answer with TrainingJobSummaries, best first."""
    jobs = Jobs(execution.backend)

    def run(request: Json, name: str, folder: Path, store: Store, runner: JobRunner) -> Json:
        described = run_tuning(request, name, folder, store, runner, jobs)
        jobs.save_tuning(described)
        if described["HyperParameterTuningJobStatus"] == "Failed":
            raise StepFailure(described["FailureReason"])
        return described

    properties = run_job(
        execution, step, entry, "HyperParameterTuning", run, name=tuning_job_name(execution, step)
    )
    entry["Metadata"] = {"TuningJob": {"Arn": properties["HyperParameterTuningJobArn"]}}


def condition_step(execution: RunningExecution, step: Step, entry: Entry) -> List[Step]:
    # Resolved once (each Std:JsonGet reads its property file), kept, then judged: the
    # resolved conditions hold only values, which evaluate as they are.
    conditions = expressions.resolve(step["Arguments"]["Conditions"], execution.ctx)
    execution.save_step(entry, Arguments={"Conditions": conditions})
    outcome = expressions.evaluate_all(conditions, execution.ctx)
    execution.ctx.properties[step["Name"]] = {"Outcome": outcome}
    entry["Metadata"] = {"Condition": {"Outcome": str(outcome).lower()}}
    return list(step["Arguments"]["IfSteps" if outcome else "ElseSteps"])


def fail_step(execution: RunningExecution, step: Step, entry: Entry) -> NoReturn:
    message = expressions.resolve(step["Arguments"].get("ErrorMessage", ""), execution.ctx)
    execution.save_step(entry, Arguments={"ErrorMessage": message})
    entry["Metadata"] = {"Fail": {"ErrorMessage": message}}
    raise StepFailure(message)


def register_model_step(execution: RunningExecution, step: Step, entry: Entry) -> None:
    request = expressions.resolve(step["Arguments"], execution.ctx)
    execution.save_step(entry, Arguments=request)
    package = execution.backend.registry.create_model_package(request, execution.arn)
    execution.save_step(entry, Arguments=request, Properties=package)
    execution.ctx.properties[step["Name"]] = package
    entry["Metadata"] = {"RegisterModel": {"Arn": package["ModelPackageArn"]}}


def model_step(execution: RunningExecution, step: Step, entry: Entry) -> None:
    request = expressions.resolve(step["Arguments"], execution.ctx)
    execution.save_step(entry, Arguments=request)
    model = execution.backend.registry.create_model(job_name(execution, step), request)
    execution.save_step(entry, Arguments=request, Properties=model)
    execution.ctx.properties[step["Name"]] = model
    entry["Metadata"] = {"Model": {"Arn": model["ModelArn"]}}


def quality_check_step(execution: RunningExecution, step: Step, entry: Entry) -> None:
    """The baselining job (run by the engine itself: quality_check.py), then the drift check
    and the baseline properties."""
    fields = expressions.resolve({k: step.get(k) for k in CHECK_FIELDS}, execution.ctx)
    job = run_job(execution, step, entry, "Processing", run_analyzer, in_processes=False)
    metadata: Json = {}
    entry["Metadata"] = {"QualityCheck": metadata}
    backend = execution.backend
    properties = baseline_check(fields, job, backend.registry, backend.store, metadata)
    execution.ctx.properties[step["Name"]] = properties
    execution.save_step(entry, Arguments=job, Properties=dict(properties, CheckJob=job))


# A handler returns the steps it unlocks (a condition's chosen branch), or None.
StepHandler = Callable[[RunningExecution, Step, Entry], Optional[List[Step]]]
STEP_TYPES: Dict[str, StepHandler] = {
    "Processing": processing_step,
    "Training": training_step,
    "Transform": transform_step,
    "Condition": condition_step,
    "Fail": fail_step,
    "RegisterModel": register_model_step,
    "Model": model_step,
    "QualityCheck": quality_check_step,
    "Lambda": lambda_step,
    "Tuning": tuning_step,
}
