"""ARNs of the resources the local twins create: one formatter, one stand-in account and region.

SageMaker writes resource names in ARNs lower-case (a job named TrainModel-x has the ARN
...:training-job/trainmodel-x); the local twins do the same, so code that parses ARNs works on
both.
"""

REGION = "local"
ACCOUNT = "000000000000"


def arn(service: str, resource: str) -> str:
    return "arn:aws:%s:%s:%s:%s" % (service, REGION, ACCOUNT, resource)


def sagemaker_arn(resource_type: str, *names: object) -> str:
    """arn:aws:sagemaker:local:000000000000:<type>/<name>[/<name>...], names lower-cased."""
    return arn("sagemaker", "/".join([resource_type] + [str(n).lower() for n in names]))
