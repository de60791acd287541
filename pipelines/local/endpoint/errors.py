"""Failures as the JSON protocols answer them: the status, `x-amzn-ErrorType: <code>` and a body
{"__type": code, "message": message} (with a modelled error's own members beside them), which
botocore reads back into the ClientError the twin raised. awsJson1_0, awsJson1_1 and restJson1
answer errors alike."""

import json
from typing import Any, Dict, Optional
from xml.sax.saxutils import escape

from pipelines.local.s3wire import WireResponse


class WireFault(Exception):
    """A request the endpoint refuses before or instead of a twin answering it."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.status = status


def json_error(
    status: int,
    code: str,
    message: str,
    content_type: str = "application/json",
    members: Optional[Dict[str, Any]] = None,
) -> WireResponse:
    body: Dict[str, Any] = dict(members or {})
    body.update({"__type": code, "message": message})
    data = json.dumps(body, default=str).encode()
    return WireResponse(
        status,
        [("Content-Type", content_type), ("x-amzn-ErrorType", code)],
        data,
    )


def query_error(status: int, code: str, message: str, request_id: str) -> WireResponse:
    """awsQuery's error document (what STS or IAM would answer), for the services no twin has."""
    body = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
        "<RequestId>%s</RequestId></ErrorResponse>"
        % (escape(code), escape(message), escape(request_id))
    )
    return WireResponse(status, [("Content-Type", "text/xml")], body.encode("utf-8"))
