"""sagemaker-runtime: InvokeEndpoint, the request `churn serve` and a SageMaker endpoint both
answer; `client` is boto3's `sagemaker-runtime` client or the local twin's
(pipelines/local/sagemaker/runtime.py)."""

import json
from typing import Any

from pipelines.aws.errors import aws_errors
from pipelines.errors import UserError


def invoke_endpoint(
    client: Any, name: str, body: bytes, content_type: str, accept: str, where: str = ""
) -> str:
    """The endpoint's answer to one request, as text. Its refusal is one line, naming `where`
    the endpoint was looked for when given: a ModelError (the model's container answered an
    error) says the container's status and message."""
    from botocore.exceptions import ClientError

    with aws_errors("endpoint %s%s: " % (name, " in %s" % where if where else "")):
        try:
            response = client.invoke_endpoint(
                EndpointName=name, Body=body, ContentType=content_type, Accept=accept
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ModelError":
                raise
            raise UserError(
                "endpoint %s answered %s: %s"
                % (
                    name,
                    e.response.get("OriginalStatusCode", "an error"),
                    _message(e.response.get("OriginalMessage") or ""),
                )
            )
        return str(response["Body"].read().decode("utf-8"))


def _message(text: str) -> str:
    """The JSON "message" the hosting contract answers an error with, or the text."""
    try:
        return str(json.loads(text)["message"])
    except (ValueError, KeyError, TypeError):
        return text
