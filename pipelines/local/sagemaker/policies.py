"""What a step's definition asks of the engine besides running it: its cache key and expiry
(docs/container-contracts.md section 7.4) and its retry delays (section 7.5)."""

import hashlib
import json
import re
from typing import Any, Dict, List, Optional

from pipelines.errors import PipelineError

# What SageMaker puts in a step's cache key.
CACHE_KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
    "HyperParameterTuning": (
        "HyperParameterTuningJobConfig",
        "TrainingJobDefinition",
        "TrainingJobDefinitions",
        "WarmStartConfig",
    ),
}
# Local faults that stand for SageMaker's retryable exception types.
INTERNAL_ERROR = "SageMaker.JOB_INTERNAL_ERROR"
MAX_ATTEMPTS_DEFAULT = 5


def parse_duration(text: Optional[str]) -> float:
    """ISO-8601 duration (P30D, PT1H, P1Y2M, P2W) -> seconds; months 30 days, years 365."""
    m = re.fullmatch(
        r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
        r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?",
        text or "",
    )
    if not m or not any(m.groups()):
        raise PipelineError(
            "ExpireAfter %r is not an ISO-8601 duration such as P30D or PT1H" % text
        )
    y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return (((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60 + s


def cache_key(step_type: str, arguments: Dict[str, Any]) -> str:
    relevant = {k: arguments.get(k) for k in CACHE_KEY_ATTRIBUTES[step_type]}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def retry_delays(policies: Optional[List[Dict[str, Any]]], error_type: str) -> List[float]:
    """Seconds to wait before each retry the step's RetryPolicies allow for `error_type`."""
    for policy in policies or []:
        if error_type in policy.get("ExceptionType", []):
            interval = float(policy.get("IntervalSeconds", 1))
            backoff = float(policy.get("BackoffRate", 2.0))
            if "ExpireAfterMin" in policy:
                budget, waited = policy["ExpireAfterMin"] * 60.0, 0.0
                delays: List[float] = []
                while waited + interval <= budget and len(delays) < 1000:
                    delays.append(interval)
                    waited += interval
                    interval *= backoff
                return delays
            attempts = int(policy.get("MaxAttempts", MAX_ATTEMPTS_DEFAULT))
            return [interval * backoff**i for i in range(max(0, attempts - 1))]
    return []


def output_uris(kind: str, properties: Dict[str, Any]) -> List[str]:
    """Where a job's outputs went, from its Describe*Job properties."""
    if kind == "Processing":
        outputs = properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
        return [o["S3Output"]["S3Uri"] for o in outputs]
    if kind == "Training":
        return [properties["ModelArtifacts"]["S3ModelArtifacts"]]
    if kind == "HyperParameterTuning":  # the best trial's model, what a pipeline goes on with
        best = properties["BestTrainingJob"]["TrainingJobName"]
        output = properties["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"]
        return ["%s/%s/output/model.tar.gz" % (output.rstrip("/"), best)]
    return [properties["TransformOutput"]["S3OutputPath"].rstrip("/") + "/"]
