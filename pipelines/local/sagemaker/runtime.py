"""boto3's `sagemaker-runtime` client, answered by the home's local endpoints (docs/adr/0011):
InvokeEndpoint, routed by endpoint name to the process serving it at that moment (hosting.py;
during a blue/green shift, to the old or the new process by the share of that moment).

Refusals as the API reference documents them
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html):
a request the model's constraints refuse, or an endpoint that does not exist, is ValidationError
(sagemaker-runtime's own code, HTTP 400: "Endpoint X of account Y not found."); an answer of
the model's container other than 2xx is ModelError (HTTP 424) with the container's status and
message as OriginalStatusCode and OriginalMessage, and LogStreamArn naming where its log is
(locally: the file named in the message).
"""

import io
from typing import Any, Dict

from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from pipelines.local.api import Answer, TwinClient, client_error
from pipelines.local.arns import ACCOUNT, arn
from pipelines.local.parameters import error_status
from pipelines.local.sagemaker.hosting import HostingError


class RuntimeClient(TwinClient):
    service = "sagemaker-runtime"
    validation_code = "ValidationError"

    def __init__(self, backend: Any) -> None:
        self.backend = backend  # pipelines.local.sagemaker.backend.SageMakerBackend

    def invoke_endpoint(self, **request: Any) -> Answer:
        op = "InvokeEndpoint"
        self._request(op, request)
        name = request["EndpointName"]
        hosting = self.backend.hosting
        if not hosting.has_endpoint(name):
            raise self._refused(
                op, "ValidationError", "Endpoint %s of account %s not found." % (name, ACCOUNT)
            )
        body = request["Body"]
        if hasattr(body, "read"):
            body = body.read()
        try:
            status, content_type, answer = hosting.invoke(
                name, body, request.get("ContentType"), request.get("Accept")
            )
        except HostingError as e:  # not InService
            raise self._refused(op, "ValidationError", str(e))
        except OSError as e:
            raise self._refused(
                op,
                "InternalFailure",
                "endpoint %s: its serving process did not answer (%s)" % (name, e),
            )
        if not 200 <= status < 300:
            raise self._model_error(op, name, status, answer)
        variant = hosting.describe_endpoint_config(hosting.config_of(name))
        out = {
            "Body": StreamingBody(io.BytesIO(answer), len(answer)),
            "InvokedProductionVariant": variant["ProductionVariants"][0]["VariantName"],
        }
        if content_type:
            out["ContentType"] = content_type
        return self._answer(op, out)

    def _refused(self, operation: str, code: str, message: str) -> ClientError:
        return client_error(operation, code, message, error_status(self.service, code))

    def _model_error(self, operation: str, name: str, status: int, body: bytes) -> ClientError:
        """ModelError as sagemaker-runtime answers it: its modelled members beside Error, where
        botocore puts a modelled error's members."""
        text = body.decode("utf-8", "replace")
        log = self.backend.home / "endpoints" / name
        error = client_error(
            operation,
            "ModelError",
            'Received %s error (%d) from primary with message "%s". See the log in %s for more '
            "information." % ("client" if status < 500 else "server", status, text, log),
            error_status(self.service, "ModelError"),
        )
        extra: Dict[str, Any] = {
            "OriginalStatusCode": status,
            "OriginalMessage": text,
            "LogStreamArn": arn("logs", "log-group:/aws/sagemaker/Endpoints/%s" % name),
        }
        error.response.update(extra)
        return error
