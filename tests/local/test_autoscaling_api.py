"""The local home's `application-autoscaling` client (pipelines/local/autoscaling.py): the reads
answer as Application Auto Scaling answers an account that registered nothing, and every write
is refused with a ValidationException saying why, never accepted and dropped.

References: https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalableTargets.html,
API_DescribeScalingPolicies.html, API_RegisterScalableTarget.html (errors: ValidationException,
400), API_PutScalingPolicy.html.
"""

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from pipelines.local.autoscaling import AutoScalingClient

TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/churn/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}


@pytest.mark.fast
def test_the_reads_answer_an_account_that_registered_nothing():
    client = AutoScalingClient()
    described = client.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[TARGET["ResourceId"]]
    )
    assert described == {"ScalableTargets": []}
    assert client.describe_scaling_policies(ServiceNamespace="sagemaker") == {"ScalingPolicies": []}
    with pytest.raises(ParamValidationError):  # boto3 requires ServiceNamespace
        client.describe_scalable_targets()


@pytest.mark.fast
@pytest.mark.parametrize(
    "method, request_",
    [
        ("register_scalable_target", dict(TARGET, MinCapacity=1, MaxCapacity=2)),
        ("put_scaling_policy", dict(TARGET, PolicyName="p", PolicyType="TargetTrackingScaling")),
        ("deregister_scalable_target", TARGET),
        ("delete_scaling_policy", dict(TARGET, PolicyName="p")),
    ],
)
def test_every_write_is_refused_saying_why(method, request_):
    with pytest.raises(ClientError) as refused:
        getattr(AutoScalingClient(), method)(**request_)
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "no Application Auto Scaling" in error["Message"] and "--region" in error["Message"]
