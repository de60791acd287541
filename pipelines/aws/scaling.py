"""Endpoint auto-scaling and blue/green rollout, as `churn deploy` sets them up.

Auto-scaling: the endpoint's variant becomes an Application Auto Scaling target
(sagemaker:variant:DesiredInstanceCount between a minimum and a maximum) with a target-tracking
policy on SageMakerVariantInvocationsPerInstance, the invocations per instance per minute to
hold. Blue/green: an update of a live endpoint shifts a canary share of the capacity to the new
fleet, waits, then the rest, and rolls back by itself when one of the alarms (the monitoring
stack's endpoint-5xx and model-latency-p99) fires during the shift or the bake.
"""

from typing import Any, Iterable

from pipelines.errors import DeployError

VARIANT = "AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"


def resource_id(endpoint_name: str) -> str:
    return "endpoint/%s/variant/%s" % (endpoint_name, VARIANT)


def scalable_target(endpoint_name: str) -> dict[str, str]:
    """What names the variant's scalable target in every Application Auto Scaling call."""
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource_id(endpoint_name),
        "ScalableDimension": DIMENSION,
    }


def policy_name(endpoint_name: str) -> str:
    return "%s-invocations-per-instance" % endpoint_name


class AutoScaling(object):
    """min/max instances and the target invocations per instance per minute."""

    def __init__(
        self,
        minimum: int,
        maximum: int,
        target: float,
        scale_in_cooldown: int = 300,
        scale_out_cooldown: int = 60,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise DeployError(
                "--autoscale-min %d, --autoscale-max %d: need 1 <= min <= max" % (minimum, maximum)
            )
        if target <= 0:
            raise DeployError(
                "--autoscale-target %g: invocations per instance per minute, above 0" % target
            )
        self.minimum, self.maximum, self.target = minimum, maximum, target
        self.scale_in_cooldown, self.scale_out_cooldown = scale_in_cooldown, scale_out_cooldown

    def apply(self, client: Any, endpoint_name: str) -> None:
        """RegisterScalableTarget and PutScalingPolicy (both upserts)."""
        names = scalable_target(endpoint_name)
        client.register_scalable_target(MinCapacity=self.minimum, MaxCapacity=self.maximum, **names)
        client.put_scaling_policy(
            PolicyName=policy_name(endpoint_name),
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": float(self.target),
                "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
                # Out fast when traffic rises; in slowly, so a lull does not drop capacity.
                "ScaleInCooldown": self.scale_in_cooldown,
                "ScaleOutCooldown": self.scale_out_cooldown,
            },
            **names,
        )


def is_scaled(client: Any, endpoint_name: str) -> bool:
    targets = client.describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[resource_id(endpoint_name)],
        ScalableDimension=DIMENSION,
    )["ScalableTargets"]
    return bool(targets)


def remove(client: Any, endpoint_name: str) -> None:
    """Delete the variant's scaling policies and deregister it: SageMaker refuses an update
    that changes the instance type of a scaled variant."""
    names = scalable_target(endpoint_name)
    for policy in client.describe_scaling_policies(**names)["ScalingPolicies"]:
        client.delete_scaling_policy(PolicyName=policy["PolicyName"], **names)
    client.deregister_scalable_target(**names)


class BlueGreen(object):
    """UpdateEndpoint's DeploymentConfig: canary traffic shifting with automatic rollback on
    `alarms`. `require_alarms` False: a canary whose rollback is its caller's (`churn
    release` tests the new fleet itself and updates back), with no AutoRollbackConfiguration."""

    def __init__(
        self,
        canary_percent: float = 10,
        wait_seconds: int = 600,
        bake_seconds: int = 600,
        alarms: Iterable[str] = (),
        require_alarms: bool = True,
    ) -> None:
        if not 0 < canary_percent < 100:
            raise DeployError(
                "--canary-percent %g: the share of capacity to shift first, between 0 and 100"
                % canary_percent
            )
        if not alarms and require_alarms:
            raise DeployError(
                "a blue/green rollout rolls back on alarms: give --rollback-alarms (the "
                "monitoring stack's <prefix>-endpoint-5xx,<prefix>-model-latency-p99) or "
                "--config-prefix"
            )
        self.canary_percent, self.wait_seconds = canary_percent, wait_seconds
        self.bake_seconds, self.alarms = bake_seconds, list(alarms)

    def deployment_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": int(self.canary_percent)},
                    "WaitIntervalInSeconds": int(self.wait_seconds),
                },
                # The old fleet stays up this long after the shift, for a rollback.
                "TerminationWaitInSeconds": int(self.bake_seconds),
            },
        }
        if self.alarms:
            config["AutoRollbackConfiguration"] = {
                "Alarms": [{"AlarmName": a} for a in self.alarms]
            }
        return config
