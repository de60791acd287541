"""AWS failures as one line: the service's message, or what to do about missing credentials,
a missing region or an unreachable endpoint."""

import contextlib
from typing import Any, Iterator, Optional, cast

from pipelines.errors import UserError


def credentials_error(e: BaseException) -> Optional[UserError]:
    """botocore's credential and endpoint errors, worded as what to do (or None)."""
    from botocore.exceptions import (
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    if isinstance(e, (NoCredentialsError, PartialCredentialsError)):
        return UserError(
            "no AWS credentials found: configure a profile (aws configure, "
            "AWS_PROFILE) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(e, ProfileNotFound):
        return UserError(
            "AWS profile %r is not in your AWS config: check AWS_PROFILE "
            "(aws configure list-profiles)" % e.kwargs.get("profile")
        )
    if isinstance(e, NoRegionError):
        return UserError("no AWS region: set AWS_DEFAULT_REGION")
    if isinstance(e, EndpointConnectionError):
        return UserError(
            "cannot reach AWS at %s: check the network, or AWS_ENDPOINT_URL"
            % e.kwargs.get("endpoint_url")
        )
    return None


def require_credentials(session: Any) -> None:
    """Refuse before the slow part (the SDK's import, a pipeline's build) when the boto3 session
    has no credentials: the call that needs them would fail only at the end."""
    from botocore.exceptions import NoCredentialsError

    try:
        found = session.get_credentials()
    except Exception as e:  # a broken profile: botocore's reason, worded by credentials_error
        raise credentials_error(e) or UserError("cannot load AWS credentials: %s" % e)
    if found is None:  # a NoCredentialsError always has its wording
        raise cast(UserError, credentials_error(NoCredentialsError()))


def service_message(e: Any) -> str:
    """A ClientError's message as one line; a page of HTML (a proxy's, or a stand-in's 500)
    becomes the status and code it came with."""
    message = (e.response.get("Error", {}).get("Message") or str(e)).strip()
    if message.lstrip().startswith("<") or "\n" in message:
        return "the service answered HTTP %s (%s)" % (
            e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"),
            e.response.get("Error", {}).get("Code", "no error code"),
        )
    return message


@contextlib.contextmanager
def aws_errors(context: str = "") -> Iterator[None]:
    """Turn an AWS call's failure into a UserError. `context` ("endpoint x: ") goes in front of
    a service message."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as e:
        raise UserError(context + service_message(e))
    except BotoCoreError as e:
        raise credentials_error(e) or UserError(str(e))
