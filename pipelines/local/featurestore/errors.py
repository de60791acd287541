"""SageMaker Feature Store's errors, raised as botocore raises them: a ClientError whose code is
the service's (ValidationError, ResourceNotFound, ResourceInUse, ...). Code that catches them
from boto3 catches them from the twin unchanged, and pipelines/aws/errors.py words both."""

STATUS = {"ValidationError": 400, "ResourceNotFound": 404, "ResourceInUse": 400}


def client_error(code, message, operation):
    from botocore.exceptions import ClientError

    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": STATUS.get(code, 400)},
        },
        operation,
    )


def validation(message, operation):
    return client_error("ValidationError", message, operation)


def check_constraints(service, operation, request):
    """Refuse what the service's model constraints refuse and botocore does not check (enums,
    maximum lengths and counts, patterns): the model's ValidationError, worded as AWS words it."""
    from pipelines.local.parameters import constraint_violations

    found = constraint_violations(service, operation, request)
    if found:
        raise validation(
            "%d validation error%s detected: %s"
            % (len(found), "" if len(found) == 1 else "s", "; ".join(found)),
            operation,
        )


def not_found(name, operation):
    return client_error(
        "ResourceNotFound", "Resource Not Found: FeatureGroup %s does not exist." % name, operation
    )
