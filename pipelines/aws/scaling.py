"""Endpoint auto-scaling and blue/green rollout, as `churn deploy` sets them up.

Auto-scaling: the endpoint's variant becomes an Application Auto Scaling target
(sagemaker:variant:DesiredInstanceCount between a minimum and a maximum) with a target-tracking
policy on SageMakerVariantInvocationsPerInstance, the invocations per instance per minute to
hold. Blue/green: an update of a live endpoint shifts a canary share of the capacity to the new
fleet, waits, then the rest, and rolls back by itself when one of the alarms (the monitoring
stack's endpoint-5xx and model-latency-p99) fires during the shift or the bake.
"""

from pipelines.errors import DeployError

VARIANT = "AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"


def resource_id(endpoint_name):
    return "endpoint/%s/variant/%s" % (endpoint_name, VARIANT)


def policy_name(endpoint_name):
    return "%s-invocations-per-instance" % endpoint_name


class AutoScaling(object):
    """min/max instances and the target invocations per instance per minute."""

    def __init__(self, minimum, maximum, target, scale_in_cooldown=300, scale_out_cooldown=60):
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

    def apply(self, client, endpoint_name):
        """RegisterScalableTarget and PutScalingPolicy (both upserts)."""
        client.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=resource_id(endpoint_name),
            ScalableDimension=DIMENSION,
            MinCapacity=self.minimum,
            MaxCapacity=self.maximum,
        )
        client.put_scaling_policy(
            PolicyName=policy_name(endpoint_name),
            ServiceNamespace="sagemaker",
            ResourceId=resource_id(endpoint_name),
            ScalableDimension=DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": float(self.target),
                "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
                # Out fast when traffic rises; in slowly, so a lull does not drop capacity.
                "ScaleInCooldown": self.scale_in_cooldown,
                "ScaleOutCooldown": self.scale_out_cooldown,
            },
        )


def is_scaled(client, endpoint_name):
    targets = client.describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[resource_id(endpoint_name)],
        ScalableDimension=DIMENSION,
    )["ScalableTargets"]
    return bool(targets)


def remove(client, endpoint_name):
    """Delete the variant's scaling policies and deregister it: SageMaker refuses an update
    that changes the instance type of a scaled variant."""
    policies = client.describe_scaling_policies(
        ServiceNamespace="sagemaker",
        ResourceId=resource_id(endpoint_name),
        ScalableDimension=DIMENSION,
    )["ScalingPolicies"]
    for policy in policies:
        client.delete_scaling_policy(
            PolicyName=policy["PolicyName"],
            ServiceNamespace="sagemaker",
            ResourceId=resource_id(endpoint_name),
            ScalableDimension=DIMENSION,
        )
    client.deregister_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource_id(endpoint_name),
        ScalableDimension=DIMENSION,
    )


class BlueGreen(object):
    """UpdateEndpoint's DeploymentConfig: canary traffic shifting with automatic rollback."""

    def __init__(self, canary_percent=10, wait_seconds=600, bake_seconds=600, alarms=()):
        if not 0 < canary_percent < 100:
            raise DeployError(
                "--canary-percent %g: the share of capacity to shift first, between 0 and 100"
                % canary_percent
            )
        if not alarms:
            raise DeployError(
                "a blue/green rollout rolls back on alarms: give --rollback-alarms (the "
                "monitoring stack's <prefix>-endpoint-5xx,<prefix>-model-latency-p99) or "
                "--config-prefix"
            )
        self.canary_percent, self.wait_seconds = canary_percent, wait_seconds
        self.bake_seconds, self.alarms = bake_seconds, list(alarms)

    def deployment_config(self):
        return {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": int(self.canary_percent)},
                    "WaitIntervalInSeconds": int(self.wait_seconds),
                },
                # The old fleet stays up this long after the shift, for a rollback.
                "TerminationWaitInSeconds": int(self.bake_seconds),
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in self.alarms]},
        }
