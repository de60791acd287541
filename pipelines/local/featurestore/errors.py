"""SageMaker Feature Store's errors, raised as botocore raises them: a ClientError whose code is
the service's (ValidationError, ResourceNotFound, ResourceInUse, ...) with the HTTP status its
model gives (pipelines/local/api.py makes them). Code that catches them from boto3 catches them
from the twin unchanged, and pipelines/aws/errors.py words both."""

from botocore.exceptions import ClientError

from pipelines.local import api
from pipelines.local.parameters import error_status

RUNTIME = "sagemaker-featurestore-runtime"
RUNTIME_OPERATIONS = ("PutRecord", "GetRecord", "BatchGetRecord", "DeleteRecord")


def client_error(code: str, message: str, operation: str) -> ClientError:
    """`code` as the service of `operation` answers it: the record calls' runtime gives
    ResourceNotFound 404, the sagemaker control plane (JSON protocol) 400."""
    service = RUNTIME if operation in RUNTIME_OPERATIONS else "sagemaker"
    return api.client_error(operation, code, message, error_status(service, code))


def validation(message: str, operation: str) -> ClientError:
    return client_error("ValidationError", message, operation)


def not_found(name: str, operation: str) -> ClientError:
    return client_error(
        "ResourceNotFound", "Resource Not Found: FeatureGroup %s does not exist." % name, operation
    )
