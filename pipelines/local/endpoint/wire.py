"""TwinsWire: one request to any twin in, one answer out, independent of the HTTP server.
Routed by routes.Router; S3 is answered by the mounted S3Wire, every other service by calling
its twin's client (boto3's snake_case method, botocore.xform_name of the operation) with the
parameters inputs.py reads off the wire, and its answer or ClientError written back by
outputs.py and errors.py. The twins are asked of the session when first needed."""

import sys
import threading
import traceback
import uuid
from typing import Any, BinaryIO, Dict, List, Mapping, Optional
from urllib.parse import parse_qs, urlsplit

from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

from pipelines.local.endpoint.errors import WireFault, json_error, query_error
from pipelines.local.endpoint.inputs import json_request, rest_request
from pipelines.local.endpoint.models import JSON, service_model
from pipelines.local.endpoint.outputs import json_answer, rest_answer
from pipelines.local.endpoint.routes import QUERY, REST_XML, S3, Route, Router, Unroutable
from pipelines.local.s3wire import S3Wire, WireResponse
from pipelines.local.s3wire.errors import S3Error
from pipelines.local.s3wire.messages import error as s3_error
from pipelines.local.s3wire.messages import request_id, stamp

# The twins a LocalSession has beside S3 (pipelines/local/session.py).
SERVICES = (
    "sagemaker",
    "sagemaker-runtime",
    "sagemaker-featurestore-runtime",
    "stepfunctions",
    "databrew",
    "lambda",
    "application-autoscaling",
)
MAX_JSON_BODY = 4 * 1024 * 1024  # a JSON request (a pipeline definition is at most 1 MB)
MAX_BLOB_BODY = 6 * 1024 * 1024  # a blob payload: InvokeEndpoint's Body, Invoke's Payload


class TwinsWire(object):
    """Every twin of `session` (LocalSession-like: `client(service)`, `has(service)`) over its
    AWS wire protocol. Thread-safe as the twins are: a server calls it from many threads."""

    def __init__(self, session: Any, s3: Optional[S3Wire] = None) -> None:
        self.session = session
        self._opening = threading.Lock()  # a twin is opened once, however many ask at once
        has = getattr(session, "has", lambda name: True)
        self.router = Router([name for name in SERVICES if has(name)])
        self.s3 = s3 if s3 is not None else S3Wire(session.client(S3))

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: BinaryIO
    ) -> WireResponse:
        """Answer `method target`; `headers` is case-insensitive (http.client's HTTPMessage),
        `body` the unread body (read no further than its Content-Length)."""
        url = urlsplit(target)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            route = self.router.route(method, url.path, query, headers)
        except Unroutable as e:
            if e.protocol == REST_XML:
                rid = request_id()
                code = "AccessDenied" if e.status == 403 else e.code  # S3's word for it
                failure = S3Error(code, e.message, e.status)
                return stamp(s3_error(failure, rid, method == "HEAD"), rid)
            if e.protocol == QUERY:
                return query_error(e.status, e.code, e.message, request_id())
            return json_error(e.status, e.code, e.message, _content_type(e.protocol))
        if route.service == S3:
            return self.s3.handle(method, target, headers, body)
        kind = _content_type(route.protocol, route.service)
        try:
            response = self._call(route, query, headers, body)
        except WireFault as e:
            response = json_error(e.status, e.code, e.message, kind)
        except OSError:  # the body's read failed: the server answers for the connection
            raise
        except Exception as e:  # a bug (of a twin, or of its answer's serialization)
            response = _internal_failure(route, e, kind)
        response.headers.append(("x-amzn-RequestId", str(uuid.uuid4())))  # botocore's RequestId
        return response

    def _call(
        self,
        route: Route,
        query: Dict[str, List[str]],
        headers: Mapping[str, str],
        body: BinaryIO,
    ) -> WireResponse:
        op = route.operation
        assert op is not None
        with self._opening:
            client = self.session.client(route.service)
        kind = _content_type(route.protocol, route.service)
        raw = _read(body, headers, self._cap(route), _too_large(route, client))
        if route.protocol == JSON:
            params = json_request(op, raw)
        else:
            params = rest_request(op, route.labels, query, headers, raw)
        method = getattr(client, xform_name(op.name), None)
        if method is None:
            raise WireFault(
                "NotImplementedException",
                "the local twin of %s does not have %s" % (route.service, op.name),
                501,
            )
        try:
            answer = dict(method(**params))
        except ClientError as e:
            return _client_error(e, kind)
        except ParamValidationError as e:
            code = getattr(client, "validation_code", "ValidationException")
            return json_error(400, code, str(e), kind)
        answer.pop("ResponseMetadata", None)
        if route.protocol == JSON:
            return json_answer(op, answer, kind)
        return rest_answer(op, answer)

    def _cap(self, route: Route) -> int:
        op = route.operation
        assert op is not None
        shape = op.input_shape
        payload = shape.serialization.get("payload") if shape is not None else None
        if payload and shape.members[payload].type_name == "blob":
            return MAX_BLOB_BODY
        return MAX_JSON_BODY


def _internal_failure(route: Route, e: Exception, content_type: str) -> WireResponse:
    """A bug is an answer all the same: InternalFailure naming the exception's type, and no
    traceback (it goes to the server's stderr)."""
    traceback.print_exception(e, file=sys.stderr)
    operation = route.operation.name if route.operation is not None else "?"
    message = "the local twin of %s failed on %s (%s)" % (
        route.service,
        operation,
        type(e).__name__,
    )
    return json_error(500, "InternalFailure", message, content_type)


def _content_type(protocol: str, service: Optional[str] = None) -> str:
    """awsJson1_0 or 1_1 by the service's jsonVersion; restJson1's application/json."""
    if protocol != JSON:
        return "application/json"
    version = service_model(service).metadata.get("jsonVersion", "1.1") if service else "1.1"
    return "application/x-amz-json-%s" % version


def _too_large(route: Route, client: Any) -> WireFault:
    """The service's own 413 error if it models one (Lambda's RequestTooLargeException), else
    its validation error, with status 413."""
    model = service_model(route.service)
    for shape in model.error_shapes:
        if shape.metadata.get("error", {}).get("httpStatusCode") == 413:
            return WireFault(shape.name, "the request body is too large", 413)
    code = getattr(client, "validation_code", "ValidationException")
    return WireFault(code, "the request body is too large", 413)


def _read(body: BinaryIO, headers: Mapping[str, str], cap: int, too_large: WireFault) -> bytes:
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        raise WireFault("LengthRequired", "send the body with a Content-Length", 411)
    text = (headers.get("Content-Length") or "0").strip()
    if not (text.isascii() and text.isdigit()):
        raise WireFault("SerializationException", "Content-Length %r is not a number" % text[:40])
    length = int(text)
    if length > cap:
        too_large.message = "the request body is %d bytes; at most %d are read" % (length, cap)
        raise too_large
    return body.read(length) if length else b""


def _client_error(e: ClientError, content_type: str) -> WireResponse:
    error = e.response.get("Error", {})
    status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
    extra = {k: v for k, v in e.response.items() if k not in ("Error", "ResponseMetadata")}
    return json_error(
        status, str(error.get("Code", "")), str(error.get("Message", "")), content_type, extra
    )
