"""What CreateHyperParameterTuningJob refuses, as ValidationException messages (one per problem),
from the API reference's HyperParameterTuningJobConfig, ParameterRanges, ResourceLimits,
HyperbandStrategyConfig and HyperParameterTuningJobWarmStartConfig pages and the developer
guide's "Define Hyperparameter Ranges" and "Stop Training Jobs Early". The wording of AWS's
messages is not documented: these say which field and which rule."""

import math
from typing import Any, Dict, List, Optional

from pipelines.local.sagemaker import algorithms
from pipelines.local.sagemaker.tuning.ranges import KINDS

STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
MAX_RANGES = 30  # ParameterRanges: the sum over all kinds, and each categorical's values
# HyperbandStrategyConfig: MaxResource, when unset, comes from one of these static ones.
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
MAX_RESOURCE = 20000  # HyperbandStrategyConfig: "The maximum value is 20,000 epochs."
WARM_START_TYPES = ("IdenticalDataAndAlgorithm", "TransferLearning")


def definitions(request: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The request's training job definitions (TrainingJobDefinition or TrainingJobDefinitions)."""
    if request.get("TrainingJobDefinition"):
        return [request["TrainingJobDefinition"]]
    return list(request.get("TrainingJobDefinitions") or [])


def max_resource(config: Dict[str, Any], static: Dict[str, Any]) -> Optional[int]:
    hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    if hyperband.get("MaxResource") is not None:
        return int(hyperband["MaxResource"])
    for key in EPOCH_KEYS:
        if key in static:
            try:
                return int(float(static[key]))
            except (TypeError, ValueError):
                return None
    return None


def tuning_problems(request: Dict[str, Any]) -> List[str]:
    """Every rule the request breaks; [] when CreateHyperParameterTuningJob would take it."""
    config = request.get("HyperParameterTuningJobConfig") or {}
    problems: List[str] = []
    strategy = config.get("Strategy")
    if strategy not in STRATEGIES:
        problems.append(
            "HyperParameterTuningJobConfig.Strategy is %r; it takes %s"
            % (strategy, " | ".join(STRATEGIES))
        )
    jobs = definitions(request)
    if not jobs:
        problems.append("the request needs TrainingJobDefinition or TrainingJobDefinitions")
    if request.get("TrainingJobDefinition") and request.get("TrainingJobDefinitions"):
        problems.append("TrainingJobDefinition and TrainingJobDefinitions are exclusive")
    limits = config.get("ResourceLimits") or {}
    most = limits.get("MaxNumberOfTrainingJobs")
    if most is None and strategy != "Grid":
        problems.append(
            "ResourceLimits.MaxNumberOfTrainingJobs is required unless the Strategy is Grid"
        )
    parallel = limits.get("MaxParallelTrainingJobs")
    for key, value in (("MaxNumberOfTrainingJobs", most), ("MaxParallelTrainingJobs", parallel)):
        if value is not None and (not isinstance(value, int) or value < 1):
            problems.append("ResourceLimits.%s is %r; it takes at least 1" % (key, value))
    if limits.get("MaxParallelTrainingJobs") is None:
        problems.append("ResourceLimits.MaxParallelTrainingJobs is required")
    seed = config.get("RandomSeed")
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        problems.append("RandomSeed is %r; it takes a whole number of at least 0" % seed)
    early = config.get("TrainingJobEarlyStoppingType", "Off")
    if early not in ("Off", "Auto"):
        problems.append("TrainingJobEarlyStoppingType is %r; it takes Off | Auto" % early)
    if strategy == "Hyperband" and early == "Auto":
        problems.append(
            "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy, which has "
            "its own early stopping"
        )
    if config.get("StrategyConfig") and strategy != "Hyperband":
        problems.append("StrategyConfig is taken only with the Hyperband strategy")
    objective = config.get("HyperParameterTuningJobObjective") or {}
    if objective and objective.get("Type") not in ("Maximize", "Minimize"):
        problems.append(
            "HyperParameterTuningJobObjective.Type is %r; it takes Maximize | Minimize"
            % objective.get("Type")
        )
    for job in jobs:
        problems += _objective_problems(objective or job.get("TuningObjective") or {}, job)
    ranges = config.get("ParameterRanges") or {}
    problems += range_problems(ranges, strategy)
    tuned = {r.get("Name") for kind in KINDS for r in ranges.get("%sParameterRanges" % kind) or []}
    for job in jobs:
        static = job.get("StaticHyperParameters") or {}
        both = sorted(tuned & set(static))
        if both:
            problems.append(
                "hyperparameters %s are both static and tuned; a hyperparameter is one or the "
                "other" % ", ".join(both)
            )
        if strategy == "Hyperband":
            problems += _hyperband_problems(config, static)
    warm = request.get("WarmStartConfig")
    if warm:
        parents = warm.get("ParentHyperParameterTuningJobs") or []
        if not 1 <= len(parents) <= 5:
            problems.append("WarmStartConfig takes 1 to 5 ParentHyperParameterTuningJobs")
        if warm.get("WarmStartType") not in WARM_START_TYPES:
            problems.append(
                "WarmStartConfig.WarmStartType is %r; it takes %s"
                % (warm.get("WarmStartType"), " | ".join(WARM_START_TYPES))
            )
    return problems


def _objective_problems(objective: Dict[str, Any], job: Dict[str, Any]) -> List[str]:
    """The objective metric must be one the trials emit: a MetricDefinitions name, or for a
    built-in algorithm one of its metrics ("Define Metrics and Environment Variables")."""
    name = objective.get("MetricName")
    if not name:
        return ["the tuning job needs HyperParameterTuningJobObjective.MetricName"]
    spec = job.get("AlgorithmSpecification") or {}
    known = {d.get("Name") for d in spec.get("MetricDefinitions") or []}
    shape = {"AlgorithmSpecification": spec, "HyperParameters": job.get("StaticHyperParameters")}
    if algorithms.training_algorithm(shape) is not None:
        known |= {d["Name"] for d in algorithms.METRIC_DEFINITIONS}
    if name not in known:
        return [
            "the objective metric %s is not among the metrics the training jobs emit (%s)"
            % (name, ", ".join(sorted(str(k) for k in known)[:8]) or "no MetricDefinitions")
        ]
    return []


def _hyperband_problems(config: Dict[str, Any], static: Dict[str, Any]) -> List[str]:
    hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    high = max_resource(config, static)
    low = hyperband.get("MinResource", 1)
    if high is None:
        return [
            "HyperbandStrategyConfig.MaxResource is not set and no static hyperparameter "
            "(%s) gives it" % ", ".join(EPOCH_KEYS)
        ]
    if high > MAX_RESOURCE:
        return ["HyperbandStrategyConfig.MaxResource is %d; at most %d" % (high, MAX_RESOURCE)]
    if not isinstance(low, int) or low < 1 or low > high:
        return ["HyperbandStrategyConfig.MinResource is %r; it takes 1 to MaxResource %d" % (
            low, high)]  # fmt: skip
    return []


def range_problems(ranges: Dict[str, Any], strategy: Optional[str]) -> List[str]:
    problems: List[str] = []
    names: List[str] = []
    for kind in KINDS:
        for r in ranges.get("%sParameterRanges" % kind) or []:
            name = r.get("Name")
            names.append(name)
            where = "%sParameterRanges %s" % (kind, name)
            if kind == "Categorical":
                values = r.get("Values") or []
                if not 1 <= len(values) <= MAX_RANGES:
                    problems.append("%s: Values takes 1 to %d values" % (where, MAX_RANGES))
                elif len(set(values)) != len(values):
                    problems.append("%s: Values repeat" % where)
                continue
            if strategy == "Grid":
                problems.append("%s: the Grid strategy searches categorical ranges only" % where)
                continue
            problems += _numeric_problems(where, kind, r)
    if len(names) > MAX_RANGES:
        problems.append("ParameterRanges hold %d ranges; at most %d" % (len(names), MAX_RANGES))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.append("ParameterRanges name %s more than once" % ", ".join(repeated))
    if not names:
        problems.append("ParameterRanges hold no range to tune")
    return problems


def _numeric_problems(where: str, kind: str, r: Dict[str, Any]) -> List[str]:
    scaling = r.get("ScalingType") or "Auto"
    try:
        low, high = float(r.get("MinValue")), float(r.get("MaxValue"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ["%s: MinValue and MaxValue must be numbers" % where]
    if not (math.isfinite(low) and math.isfinite(high)):
        return ["%s: MinValue and MaxValue must be finite" % where]
    if kind == "Integer" and (low != int(low) or high != int(high)):
        return ["%s: MinValue and MaxValue must be whole numbers" % where]
    if low > high or (kind == "Continuous" and low == high):
        return ["%s: MinValue %s must be less than MaxValue %s" % (where, r["MinValue"],
                                                                   r["MaxValue"])]  # fmt: skip
    if scaling not in SCALINGS:
        return ["%s: ScalingType %r; it takes %s" % (where, scaling, " | ".join(SCALINGS))]
    if scaling == "Logarithmic" and low <= 0:
        return ["%s: Logarithmic scaling takes a range of values greater than 0" % where]
    if scaling == "ReverseLogarithmic":
        if kind != "Continuous":
            return ["%s: ReverseLogarithmic scaling is for continuous ranges only" % where]
        if not 0 <= low < high < 1:
            return [
                "%s: ReverseLogarithmic scaling takes a range within 0 <= MinValue < "
                "MaxValue < 1" % where
            ]
    return []


def unsupported(request: Dict[str, Any]) -> Optional[str]:
    """Why the local engine cannot run this tuning job as SageMaker would, or None when it can
    (asked before a pipeline runs, and by CreateHyperParameterTuningJob)."""
    config = request.get("HyperParameterTuningJobConfig") or {}
    if request.get("TrainingJobDefinitions"):
        return (
            "it has TrainingJobDefinitions (several algorithms in one tuning job), which the "
            "local engine does not run; use TrainingJobDefinition"
        )
    if (config.get("ParameterRanges") or {}).get("AutoParameters") or request.get("Autotune"):
        return "it asks Autotune to choose ranges (AutoParameters), which has no local stand-in"
    if config.get("TuningJobCompletionCriteria"):
        return "it has TuningJobCompletionCriteria, which the local tuning job does not apply"
    if (config.get("ResourceLimits") or {}).get("MaxRuntimeInSeconds") is not None:
        return (
            "it has ResourceLimits.MaxRuntimeInSeconds, which the local tuning job does not apply"
        )
    definition = request.get("TrainingJobDefinition") or {}
    resources = (
        definition.get("HyperParameterTuningResourceConfig")
        or definition.get("ResourceConfig")
        or {}
    )
    stops = (
        config.get("Strategy") == "Hyperband"
        or config.get("TrainingJobEarlyStoppingType") == "Auto"
    )
    count = resources.get("InstanceCount", 1)
    if stops and isinstance(count, int) and count > 1:
        return (
            "its trials run on %d instances, which run in a private network the local engine "
            "cannot stop early (Hyperband or early stopping Auto)" % count
        )
    return None
