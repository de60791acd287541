"""What CreateProcessingJob, CreateTrainingJob and CreateTransformJob refuse, checked before a
job runs (and, where a value comes from a parameter or a literal, before an execution starts).

The ranges are botocore's service model for SageMaker (ProcessingInstanceCount 1-100, ...);
SageMaker's own check refuses a training job of no instances even though the model's minimum is
0 (that minimum is for instance groups, which the local engine does not run).
"""

import os
from typing import Any, Callable, Dict, List, Optional, Tuple

from pipelines.errors import PipelineError
from pipelines.local.sagemaker.tuning.validation import tuning_problems

# A local host is a process on this machine: Python with pandas, Great Expectations or XGBoost
# imported holds 210-250 MB before it reads a row (measured 2026-12-07), so a job gets at most
# one host per 512 MB of the machine's memory. SageMaker has no such ceiling on training or
# transform hosts (an account quota decides there); a thousand local ones exhausted 24 GB.
LOCAL_HOST_MEMORY = 512 * 1024 * 1024

# (path in the request, smallest, largest or None, what to set)
LIMITS: Dict[str, List[Tuple[str, int, Optional[int], str]]] = {
    "Processing": [
        ("ProcessingResources.ClusterConfig.InstanceCount", 1, 100, "instances"),
        ("ProcessingResources.ClusterConfig.VolumeSizeInGB", 1, 16384, "GB of volume"),
        ("StoppingCondition.MaxRuntimeInSeconds", 1, 777600, "seconds"),
    ],
    "Training": [
        ("ResourceConfig.InstanceCount", 1, None, "instances"),
        ("ResourceConfig.VolumeSizeInGB", 1, None, "GB of volume"),
        ("StoppingCondition.MaxRuntimeInSeconds", 1, None, "seconds"),
    ],
    "Transform": [
        ("TransformResources.InstanceCount", 1, None, "instances"),
        # A fraction of a MB is the local engine's one liberty (the API takes whole MB): it lets
        # tests cut a small file into several requests.
        ("MaxPayloadInMB", 0, 100, "MB"),
        ("MaxConcurrentTransforms", 0, None, "requests"),
    ],
}
INSTANCE_TYPES = {
    "Processing": "ProcessingResources.ClusterConfig.InstanceType",
    "Training": "ResourceConfig.InstanceType",
    "Transform": "TransformResources.InstanceType",
}
API = {
    "Processing": "CreateProcessingJob",
    "Training": "CreateTrainingJob",
    "Transform": "CreateTransformJob",
}


def _at(request: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(request, dict) or key not in request:
            return None
        request = request[key]
    return request


def check_request(
    step_name: str,
    kind: str,
    request: Dict[str, Any],
    resolve: Callable[[Any], Any] = lambda value: value,
) -> None:
    """Raise PipelineError naming the step, the field and its range when a value is out of what
    the API accepts. `resolve` turns a field's raw value into its value, or raises LookupError
    when it cannot be known yet (the field is then left to the check at run time)."""
    problems: List[str] = []
    for path, low, high, unit in LIMITS.get(kind, []):
        value, source = _value(request, path, resolve)
        if value is None:
            continue
        whole = path != "MaxPayloadInMB"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            problems.append(
                "%s%s is %r, not a %s"
                % (path, source, value, "whole number" if whole else "number")
            )
        elif value < low or (high is not None and value > high):
            allowed = "%d to %d" % (low, high) if high is not None else "at least %d" % low
            problems.append(
                "%s%s is %d; %s takes %s %s" % (path, source, value, API[kind], allowed, unit)
            )
        elif path.endswith("InstanceCount") and value > local_host_limit():
            problems.append(
                "%s%s is %d; this machine runs at most %d local hosts (one process of up to "
                "%d MB each in its %.0f GB of memory): use at most %d to run it here"
                % (
                    path,
                    source,
                    value,
                    local_host_limit(),
                    LOCAL_HOST_MEMORY // 2**20,
                    machine_memory() / 2**30,
                    local_host_limit(),
                )
            )
    if kind in INSTANCE_TYPES:
        value, source = _value(request, INSTANCE_TYPES[kind], resolve)
        if value is not None and not str(value).startswith("ml."):
            problems.append(
                "%s%s is %r; SageMaker instance types start with 'ml.' (ml.m5.xlarge)"
                % (INSTANCE_TYPES[kind], source, value)
            )
    if kind == "Training":
        problems += _spot_problems(request, resolve)
    if kind in ("Tuning", "HyperParameterTuning"):
        try:
            resolved = _resolved(request, resolve)
        except LookupError:
            resolved = None  # a step's property sets part of it: checked when it runs
        if resolved is not None:
            problems += ["ValidationException: %s" % p for p in tuning_problems(resolved)]
            for definition in [resolved.get("TrainingJobDefinition") or {}]:
                training = dict(definition)
                training.setdefault(
                    "ResourceConfig", definition.get("HyperParameterTuningResourceConfig")
                )
                check_request(step_name, "Training", training)
    if problems:
        raise PipelineError("step %s: %s" % (step_name, "; ".join(problems)))


def _resolved(value: Any, resolve: Callable[[Any], Any]) -> Any:
    """A request with every parameter or literal resolved; LookupError when a part is a step's
    property or a function of one."""
    if isinstance(value, dict):
        if "Get" in value or any(k.startswith("Std:") for k in value):
            return resolve(value)
        return {k: _resolved(v, resolve) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, resolve) for v in value]
    return value


def machine_memory() -> int:
    """Bytes of physical memory (4 GB where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def local_host_limit() -> int:
    """How many hosts one local job may have on this machine."""
    return max(1, machine_memory() // LOCAL_HOST_MEMORY)


def _spot_problems(request: Dict[str, Any], resolve: Callable[[Any], Any]) -> List[str]:
    """CreateTrainingJob's rules for Managed Spot Training: MaxWaitTimeInSeconds only with
    EnableManagedSpotTraining, and then required and at least MaxRuntimeInSeconds."""
    spot = request.get("EnableManagedSpotTraining")
    wait, _ = _value(request, "StoppingCondition.MaxWaitTimeInSeconds", resolve)
    runtime, _ = _value(request, "StoppingCondition.MaxRuntimeInSeconds", resolve)
    if not spot:
        if wait is not None:
            return [
                "StoppingCondition.MaxWaitTimeInSeconds is set without "
                "EnableManagedSpotTraining; it is the wait for Spot capacity"
            ]
        return []
    if wait is None:
        return ["EnableManagedSpotTraining needs StoppingCondition.MaxWaitTimeInSeconds"]
    if isinstance(runtime, int) and isinstance(wait, int) and wait < runtime:
        return [
            "StoppingCondition.MaxWaitTimeInSeconds is %d, below MaxRuntimeInSeconds %d; "
            "CreateTrainingJob takes a wait of at least the runtime" % (wait, runtime)
        ]
    return []


def _value(request: Dict[str, Any], path: str, resolve: Callable[[Any], Any]) -> Tuple[Any, str]:
    """(value, " (parameter X)" when a parameter sets it) of a field; (None, "") when the
    request lacks it or its value is not known yet."""
    raw = _at(request, path)
    if raw is None:
        return None, ""
    try:
        value = resolve(raw)
    except LookupError:
        return None, ""
    get = raw.get("Get", "") if isinstance(raw, dict) else ""
    if not get.startswith("Parameters."):
        return value, ""
    return value, " (parameter %s)" % get[len("Parameters.") :]
