"""boto3's `application-autoscaling` client for the local home, which has nothing to scale: a local
endpoint is one process, whatever its instance count (pipelines/local/sagemaker/hosting_api.py).

It answers the reads as Application Auto Scaling answers an account that registered nothing
(no scalable targets, no policies), so code that asks whether an endpoint is scaled before
it updates it (pipelines/aws/deploy.py) runs unchanged; and it refuses, as a
ValidationException saying why, every call that would register, change or remove scaling,
rather than accept what it cannot do (API reference:
https://docs.aws.amazon.com/autoscaling/application/APIReference/API_Operations.html).
"""

from typing import Any, NoReturn

from pipelines.local.api import Answer, TwinClient, client_error

REFUSAL = (
    "the local home has no Application Auto Scaling: a local endpoint is one process, whatever "
    "its instance count; scale endpoints on AWS (--region)"
)


class AutoScalingClient(TwinClient):
    service = "application-autoscaling"

    def describe_scalable_targets(self, **request: Any) -> Answer:
        op = "DescribeScalableTargets"
        self._request(op, request)
        return self._answer(op, {"ScalableTargets": []})

    def describe_scaling_policies(self, **request: Any) -> Answer:
        op = "DescribeScalingPolicies"
        self._request(op, request)
        return self._answer(op, {"ScalingPolicies": []})

    def register_scalable_target(self, **request: Any) -> NoReturn:
        self._refuse("RegisterScalableTarget", request)

    def put_scaling_policy(self, **request: Any) -> NoReturn:
        self._refuse("PutScalingPolicy", request)

    def deregister_scalable_target(self, **request: Any) -> NoReturn:
        self._refuse("DeregisterScalableTarget", request)

    def delete_scaling_policy(self, **request: Any) -> NoReturn:
        self._refuse("DeleteScalingPolicy", request)

    def _refuse(self, op: str, request: Any) -> NoReturn:
        self._request(op, request)
        raise client_error(op, "ValidationException", REFUSAL)
