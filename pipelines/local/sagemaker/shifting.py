"""Blue/green traffic shifting of a local endpoint's update, as a function of time.

UpdateEndpoint's DeploymentConfig.BlueGreenUpdatePolicy, as the developer guide describes it
(https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html and its
all-at-once, canary and linear pages; API_BlueGreenUpdatePolicy.html, API_TrafficRoutingConfig.html,
API_CapacitySize.html). The clock starts when the new (green) fleet answers /ping:

  ALL_AT_ONCE  all traffic to green; a baking period of WaitIntervalInSeconds
  CANARY       CanarySize's share to green for WaitIntervalInSeconds, then all of it, then a
               final baking period of WaitIntervalInSeconds
  LINEAR       LinearStepSize's share more every WaitIntervalInSeconds until all of it, then a
               final baking period of WaitIntervalInSeconds

then TerminationWaitInSeconds before the old (blue) fleet is stopped; the endpoint is Updating
until then. A share of capacity is the request share here (one process per fleet):
CAPACITY_PERCENT is that percent, INSTANCE_COUNT that count over the variant's
InitialInstanceCount. MaximumExecutionTimeoutInSeconds, counted from the update's start, ends
a deployment that has not finished by then with all traffic back on blue, as SageMaker rolls
back. The length of the final baking period is not documented; the wait interval is ours.

An update with no DeploymentConfig switches at once and finishes (SageMaker's default
all-at-once switch, with no baking period asked). A plan is plain data: it is kept with the
pending process's record, and every reader (DescribeEndpoint, InvokeEndpoint, in any process)
computes the state from it and the timestamps.
"""

import math
from typing import Any, Dict, List, Optional

Json = Dict[str, Any]

# API_TrafficRoutingConfig.html: a canary is at most 50% of the variant's capacity, a linear
# step 10% to 50%.
CANARY_MAX = 0.5
LINEAR_MIN, LINEAR_MAX = 0.1, 0.5


def problems(config: Optional[Json], instance_count: int) -> List[str]:
    """What in a BlueGreenUpdatePolicy SageMaker refuses (the documented bounds of a canary's
    and a linear step's size; the member each routing type needs), for an update to a config
    whose variant has `instance_count` instances. The model's own ranges (WaitIntervalInSeconds
    0-3600, ...) are checked by the client before."""
    policy = (config or {}).get("BlueGreenUpdatePolicy")
    if not policy:
        return []
    routing = policy["TrafficRoutingConfiguration"]
    kind = routing["Type"]
    found = []
    for member, wanted, low, high in (
        ("CanarySize", "CANARY", 0.0, CANARY_MAX),
        ("LinearStepSize", "LINEAR", LINEAR_MIN, LINEAR_MAX),
    ):
        size = routing.get(member)
        if kind == wanted and size is None:
            found.append("TrafficRoutingConfiguration.%s is required for %s" % (member, kind))
        if kind != wanted and size is not None:
            found.append("TrafficRoutingConfiguration.%s applies only to %s" % (member, wanted))
        if kind == wanted and size is not None:
            share = _share(size, instance_count)
            if share < low or share > high:
                bounds = "%g%% to %g%%" % (low * 100, high * 100) if low else "at most 50%"
                found.append(
                    "TrafficRoutingConfiguration.%s %s %d is %g%% of the variant's %d "
                    "instance(s); it must be %s of its capacity"
                    % (member, size["Type"], size["Value"], share * 100, instance_count, bounds)
                )
    return found


def plan(config: Optional[Json], instance_count: int) -> Json:
    """The schedule of an update (a checked DeploymentConfig, or None): {"type", "first" (the
    share of the first step), "step" (each later step's), "wait", "termination", "timeout"
    (None: no limit)}."""
    policy = (config or {}).get("BlueGreenUpdatePolicy")
    if not policy:
        return {"type": "ALL_AT_ONCE", "first": 1.0, "step": 0.0, "wait": 0, "termination": 0,
                "timeout": None}  # fmt: skip
    routing = policy["TrafficRoutingConfiguration"]
    kind = routing["Type"]
    first = 1.0
    step = 0.0
    if kind == "CANARY":
        first = _share(routing["CanarySize"], instance_count)
        step = 1.0 - first
    elif kind == "LINEAR":
        first = step = _share(routing["LinearStepSize"], instance_count)
    return {
        "type": kind,
        "first": first,
        "step": step,
        "wait": int(routing["WaitIntervalInSeconds"]),
        "termination": int(policy.get("TerminationWaitInSeconds") or 0),
        "timeout": policy.get("MaximumExecutionTimeoutInSeconds"),
    }


def steps(schedule: Json) -> int:
    """How many steps take the traffic to green: 1 (all at once), 2 (canary), or enough
    linear steps to reach all of it."""
    if schedule["type"] == "ALL_AT_ONCE":
        return 1
    if schedule["type"] == "CANARY":
        return 2
    return 1 + math.ceil(round((1.0 - schedule["first"]) / schedule["step"], 9))


def green_share(schedule: Json, elapsed: float) -> float:
    """The share of requests green answers `elapsed` seconds after it first answered /ping."""
    if elapsed < 0:
        return 0.0
    done = len([k for k in range(steps(schedule)) if elapsed >= k * schedule["wait"]])
    return min(1.0, schedule["first"] + (done - 1) * schedule["step"])


def finished_after(schedule: Json) -> float:
    """Seconds after green first answered /ping when blue is stopped and the update ends: the
    steps, the final baking period (none when no DeploymentConfig asked for one), the
    termination wait."""
    return steps(schedule) * schedule["wait"] + schedule["termination"]


def timed_out(schedule: Json, since_start: float) -> bool:
    """Whether MaximumExecutionTimeoutInSeconds has passed, `since_start` seconds after the
    UpdateEndpoint."""
    return schedule["timeout"] is not None and since_start > schedule["timeout"]


def _share(size: Json, instance_count: int) -> float:
    if size["Type"] == "CAPACITY_PERCENT":
        return size["Value"] / 100.0
    return float(size["Value"]) / max(1, instance_count)
