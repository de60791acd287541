"""A CreateHyperParameterTuningJob request run locally; returns DescribeHyperParameterTuningJob's
shape plus TrainingJobSummaries (ListTrainingJobsForHyperParameterTuningJob's, best first),
which a pipeline's TuningStep reads (`get_top_model_s3_uri`).

The trials are training jobs of their own, named as SageMaker names them
(`<tuning job>-NNN-<8 hex>`), run by the job layer in waves of MaxParallelTrainingJobs (at most
one per core: a local trial is a process on this machine), each wave's thread budget shared
(trials.py). Their hyperparameters come from the strategy (strategies.py), their early stops
from the stopping rule (stopping.py). A trial that fails does not fail the tuning job; the
tuning job fails when no trial produced the objective metric.
"""

import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from pipelines.local.arns import sagemaker_arn
from pipelines.local.s3 import Store
from pipelines.local.sagemaker import algorithms
from pipelines.local.sagemaker.failure import StepFailure
from pipelines.local.sagemaker.jobs.container import CORES
from pipelines.local.sagemaker.jobs.training import run_training
from pipelines.local.sagemaker.runners import JobRunner
from pipelines.local.sagemaker.tuning import ranges, stopping, strategies
from pipelines.local.sagemaker.tuning.trials import Objective, run_wave
from pipelines.local.sagemaker.tuning.validation import max_resource

Json = Dict[str, Any]
# What a tuning job's TrainingJobDefinition holds that is not a CreateTrainingJob field.
NOT_TRAINING = ("StaticHyperParameters", "HyperParameterRanges", "TuningObjective",
                "DefinitionName", "HyperParameterTuningResourceConfig", "Environment")  # fmt: skip


class TuningRecords(Protocol):
    """Where a tuning job keeps its trials and finds its warm-start parents (job_api.Jobs)."""

    def save_training(self, described: Json) -> None: ...

    def tuning_job(self, name: str) -> Optional[Json]: ...


def objective_of(config: Json, definition: Json) -> Tuple[str, Objective]:
    objective = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective")
    if not objective:
        raise StepFailure("ValidationException: the tuning job has no objective metric")
    name = objective["MetricName"]
    spec = definition.get("AlgorithmSpecification") or {}
    known = list(spec.get("MetricDefinitions") or [])
    if algorithms.training_algorithm(_training_shape(definition)) is not None:
        known += algorithms.METRIC_DEFINITIONS
    regex = next((d["Regex"] for d in known if d["Name"] == name), None)
    if regex is None:
        raise StepFailure(
            "ValidationException: the objective metric %s has no metric definition: the "
            "training image's algorithm does not emit it and AlgorithmSpecification."
            "MetricDefinitions does not name it" % name
        )
    return name, Objective(regex, objective["Type"] == "Maximize")


def _training_shape(definition: Json) -> Json:
    return {
        "AlgorithmSpecification": definition.get("AlgorithmSpecification") or {},
        "HyperParameters": definition.get("StaticHyperParameters") or {},
    }


def trial_request(definition: Json, name: str, tuning_arn: str, hyperparameters: Json) -> Json:
    """The CreateTrainingJob request of one trial."""
    request = {k: v for k, v in definition.items() if k not in NOT_TRAINING}
    resources = definition.get("HyperParameterTuningResourceConfig") or definition.get(
        "ResourceConfig"
    )
    request["ResourceConfig"] = {
        k: v
        for k, v in (resources or {}).items()
        if k in ("InstanceCount", "InstanceType", "VolumeSizeInGB", "VolumeKmsKeyId")
    }
    request.update(TrainingJobName=name, HyperParameters=hyperparameters, TuningJobArn=tuning_arn)
    if definition.get("Environment"):
        request["Environment"] = definition["Environment"]
    return request


def warm_start_points(
    request: Json, dims: List[ranges.Dimension], records: TuningRecords, sign: float
) -> List[Tuple[List[float], float, Json]]:
    """The parents' trials that scored, as (point, oriented objective, summary): what a warm
    start gives the new job. IdenticalDataAndAlgorithm requires the parents' training image and
    input data; TransferLearning takes any parent ("Run a Warm Start Hyperparameter Tuning
    Job"). A trial whose hyperparameters are outside the new ranges is not a point of them."""
    warm = request.get("WarmStartConfig")
    if not warm:
        return []
    definition = request["TrainingJobDefinition"]
    found = []
    for parent in warm["ParentHyperParameterTuningJobs"]:
        name = parent["HyperParameterTuningJobName"]
        described = records.tuning_job(name)
        if described is None:
            raise StepFailure("ResourceNotFound: warm-start parent tuning job %s not found" % name)
        if described.get("HyperParameterTuningJobStatus") not in ("Completed", "Stopped"):
            raise StepFailure("ValidationException: parent tuning job %s did not end" % name)
        theirs = described.get("TrainingJobDefinition") or {}
        problems = _warm_start_problems(request, described)
        if problems:
            raise StepFailure(
                "ValidationException: parent tuning job %s: %s" % (name, "; ".join(problems))
            )
        if warm["WarmStartType"] == "IdenticalDataAndAlgorithm":
            for key, part in (("image", "AlgorithmSpecification"), ("input", "InputDataConfig")):
                mine, other = definition.get(part), theirs.get(part)
                if key == "image":
                    mine, other = (
                        (mine or {}).get("TrainingImage"),
                        (other or {}).get("TrainingImage"),
                    )
                if mine != other:
                    raise StepFailure(
                        "ValidationException: IdenticalDataAndAlgorithm warm start needs the "
                        "parent's %s; parent %s has other %s" % (part, name, part)
                    )
        for summary in described.get("TrainingJobSummaries", []):
            metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric")
            point = ranges.point_of(dims, summary.get("TunedHyperParameters") or {})
            if metric and point is not None:
                found.append((point, sign * float(metric["Value"]), summary))
    return found


def _hyperparameter_count(request: Json) -> int:
    config = request.get("HyperParameterTuningJobConfig") or {}
    static = (request.get("TrainingJobDefinition") or {}).get("StaticHyperParameters") or {}
    return len(ranges.dimensions(config.get("ParameterRanges") or {})) + len(static)


def _warm_start_problems(request: Json, parent: Json) -> List[str]:
    """What either warm start type requires of each parent (HyperParameterTuningJobWarmStartConfig
    in the API reference): the same objective metric, and as many static plus tunable
    hyperparameters."""
    problems = []
    mine = request["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
    theirs = parent["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or {}
    if mine.get("MetricName") != theirs.get("MetricName"):
        problems.append(
            "its objective metric is %s; a warm start keeps the parents' objective metric"
            % theirs.get("MetricName")
        )
    if _hyperparameter_count(request) != _hyperparameter_count(parent):
        problems.append(
            "it has %d static plus tunable hyperparameters, this job %d; a warm start keeps "
            "their number" % (_hyperparameter_count(parent), _hyperparameter_count(request))
        )
    return problems


def run_tuning(
    request: Json,
    name: str,
    workdir: Path,
    store: Store,
    runner: JobRunner,
    records: TuningRecords,
) -> Json:
    """Run the tuning job `name`; returns its description with TrainingJobSummaries."""
    started = time.time()  # what the engine cannot run was refused before (unsupported)
    config = request["HyperParameterTuningJobConfig"]
    definition = request["TrainingJobDefinition"]
    arn = sagemaker_arn("hyper-parameter-tuning-job", name)
    metric, objective = objective_of(config, definition)
    dims = ranges.dimensions(config.get("ParameterRanges") or {})
    strategy = strategies.strategy(config["Strategy"], dims, config.get("RandomSeed"))
    limits = config["ResourceLimits"]
    total = strategy.total(limits.get("MaxNumberOfTrainingJobs"))
    hosts = int(definition_resources(definition).get("InstanceCount", 1))
    parallel = max(1, min(int(limits["MaxParallelTrainingJobs"]), CORES // hosts, total or 1))
    static = dict(definition.get("StaticHyperParameters") or {})
    if algorithms.training_algorithm(_training_shape(definition)) is not None:
        # SageMaker tells a built-in algorithm the objective (the XGBoost image computes it).
        static.setdefault("_tuning_objective_metric", metric)
    hyperband = None
    if config["Strategy"] == "Hyperband":
        band = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
        top = max_resource(config, static) or 1
        hyperband = (int(band.get("MinResource", 1)), top)
    rule = stopping.rule(config.get("TrainingJobEarlyStoppingType", "Off"), config["Strategy"],
                         hyperband)  # fmt: skip
    parents = warm_start_points(request, dims, records, objective.sign)
    scored: List[Tuple[List[float], float]] = [(p, v) for p, v, _ in parents]
    summaries: List[Json] = []
    index = 0
    while index < total:
        wave: List[Tuple[int, Path, Callable[[JobRunner], Json]]] = []
        points: Dict[int, List[float]] = {}
        requests: Dict[int, Json] = {}
        size = min(parallel, total - index)  # the wave's trials share the thread budget
        for _ in range(size):
            index += 1
            point = strategy.propose(scored, list(points.values()))
            points[index] = point
            trial = "%s-%03d-%s" % (name, index, uuid.uuid4().hex[:8])
            tuned = ranges.point_values(dims, point)
            requests[index] = trial_request(definition, trial, arn, dict(static, **tuned))
            folder = Path(workdir) / trial
            wave.append((index, folder, _trial_run(requests[index], folder, store, size)))
        described, failed, curves, stopped = run_wave(wave, runner, objective, rule)
        for i, request_i in requests.items():
            summary, full = _summary(
                request_i, described.get(i), failed.get(i), i in stopped, metric, config, dims
            )
            records.save_training(full)
            summaries.append(summary)
            value = summary.get("FinalHyperParameterTuningJobObjectiveMetric")
            if value is not None:
                scored.append((points[i], objective.sign * value["Value"]))
            if i in described:
                rule.finished(i, curves.get(i, []))
    return describe(request, name, arn, summaries, [s for _, _, s in parents], started,
                    objective.sign)  # fmt: skip


def definition_resources(definition: Json) -> Json:
    return (
        definition.get("HyperParameterTuningResourceConfig")
        or definition.get("ResourceConfig")
        or {}
    )


def _trial_run(
    request: Json, folder: Path, store: Store, parallel: int
) -> Callable[[JobRunner], Json]:
    def run(runner: JobRunner) -> Json:
        return run_training(
            request, request["TrainingJobName"], folder, store, runner, concurrent_jobs=parallel
        )

    return run


def _summary(
    request: Json,
    described: Optional[Json],
    failure: Optional[str],
    stopped: bool,
    metric: str,
    config: Json,
    dims: List[ranges.Dimension],
) -> Tuple[Json, Json]:
    """(HyperParameterTrainingJobSummary, DescribeTrainingJob) of one trial."""
    now = time.time()
    status = "Failed" if described is None else ("Stopped" if stopped else "Completed")
    full = dict(described or request)
    full.update(TrainingJobStatus=status, SecondaryStatus=status)
    full.setdefault("TrainingJobArn", sagemaker_arn("training-job", request["TrainingJobName"]))
    full.setdefault("TrainingStartTime", now)
    full.setdefault("TrainingEndTime", now)
    full.setdefault("CreationTime", full["TrainingStartTime"])
    if failure:
        full["FailureReason"] = failure
    tuned = {d.name: request["HyperParameters"][d.name] for d in dims}
    summary: Json = {
        "TrainingJobName": request["TrainingJobName"],
        "TrainingJobArn": full["TrainingJobArn"],
        "TuningJobName": request["TrainingJobName"].rsplit("-", 2)[0],
        "CreationTime": full["TrainingStartTime"],
        "TrainingStartTime": full["TrainingStartTime"],
        "TrainingEndTime": full["TrainingEndTime"],
        "TrainingJobStatus": status,
        "TunedHyperParameters": tuned,
        "ObjectiveStatus": "Failed",
    }
    if failure:
        summary["FailureReason"] = failure
    metrics = full.get("FinalMetricDataList") or []
    values = [m["Value"] for m in metrics if m["MetricName"] == metric]
    if values:
        objective = config.get("HyperParameterTuningJobObjective") or {}
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective.get("Type", "Maximize"),
            "MetricName": metric,
            "Value": float(values[-1]),
        }
        summary["ObjectiveStatus"] = "Succeeded"
    return summary, full


def ranked(summaries: List[Json], sign: float) -> List[Json]:
    """Best objective first (ListTrainingJobsForHyperParameterTuningJob's SortBy
    FinalObjectiveMetricValue), then the trials without one."""

    def key(s: Json) -> Tuple[int, float]:
        metric = s.get("FinalHyperParameterTuningJobObjectiveMetric")
        return (0, -sign * metric["Value"]) if metric else (1, 0.0)

    return sorted(summaries, key=key)


def describe(
    request: Json,
    name: str,
    arn: str,
    summaries: List[Json],
    parents: List[Json],
    started: float,
    sign: float,
) -> Json:
    counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0,
                "Stopped": 0}  # fmt: skip
    objectives = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for s in summaries:
        status = s["TrainingJobStatus"]
        counters["NonRetryableError" if status == "Failed" else status] += 1
        objectives[s["ObjectiveStatus"]] += 1
    order = ranked(summaries, sign)
    now = time.time()
    described: Json = dict(
        {k: v for k, v in request.items() if k != "HyperParameterTuningJobName"},
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobArn=arn,
        HyperParameterTuningJobStatus="Completed",
        CreationTime=started,
        HyperParameterTuningEndTime=now,
        LastModifiedTime=now,
        TrainingJobStatusCounters=counters,
        ObjectiveStatusCounters=objectives,
        ConsumedResources={"RuntimeInSeconds": int(now - started)},
        TrainingJobSummaries=order,
    )
    if order and "FinalHyperParameterTuningJobObjectiveMetric" in order[0]:
        described["BestTrainingJob"] = order[0]
        if parents:  # the best across this job and its warm-start parents
            described["OverallBestTrainingJob"] = ranked([order[0]] + parents, sign)[0]
    else:
        described["HyperParameterTuningJobStatus"] = "Failed"
        described["FailureReason"] = tuning_failure(described)
    return described


def tuning_failure(described: Json) -> str:
    """Why a tuning job failed: none of its trials produced the objective metric."""
    summaries = described.get("TrainingJobSummaries") or []
    reasons = [s.get("FailureReason", "no objective metric") for s in summaries]
    return "All training jobs failed or produced no objective metric: %s" % (
        reasons[0] if reasons else "none ran"
    )
