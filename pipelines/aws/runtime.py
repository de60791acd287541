"""sagemaker-runtime: InvokeEndpoint, the request `churn serve` and a SageMaker endpoint both
answer."""

from typing import Any


def invoke_endpoint(client: Any, name: str, body: bytes, content_type: str, accept: str) -> str:
    """The endpoint's answer to one request, as text."""
    response = client.invoke_endpoint(
        EndpointName=name, Body=body, ContentType=content_type, Accept=accept
    )
    return response["Body"].read().decode("utf-8")
