"""A twin's answer written as its protocol carries it, driven by the operation's output shape:
only the shape's members (ResponseMetadata and anything else boto3 adds stay behind); blobs as
base64 in JSON, a blob payload (InvokeEndpoint's Body, Invoke's Payload) as the raw body;
timestamps in the member's `timestampFormat`, else the protocol's default: epoch seconds in a
JSON body, an HTTP date in a header (restJson1 also puts members in headers and the status
code, from their `location`)."""

import base64
import datetime
import email.utils
import json
from typing import Any, Dict, List, Optional, Tuple

from botocore.model import OperationModel, Shape

from pipelines.local.s3wire import WireResponse

BODY, HEADER = "unixTimestamp", "rfc822"


def json_answer(op: OperationModel, answer: Dict[str, Any], content_type: str) -> WireResponse:
    """awsJson1_0 / awsJson1_1: the output shape as the body."""
    shape = op.output_shape
    body = to_wire(shape, answer) if shape is not None else {}
    return WireResponse(200, [("Content-Type", content_type)], _dump(body))


def rest_answer(op: OperationModel, answer: Dict[str, Any]) -> WireResponse:
    """restJson1: the status code, headers, and the payload or the JSON body."""
    status = int(op.http.get("responseCode", 200))
    shape = op.output_shape
    if shape is None:
        return WireResponse(status, [("Content-Type", "application/json")], b"{}")
    headers: List[Tuple[str, str]] = []
    payload = shape.serialization.get("payload")
    body: Dict[str, Any] = {}
    data: Optional[bytes] = None
    for name, member in shape.members.items():
        value = answer.get(name)
        if value is None:
            continue
        where = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if where == "statusCode":
            status = int(value)
        elif where == "header":
            headers += _headers(member, wire_name, value)
        elif name == payload:
            data = _payload(member, value)
        elif where is None:
            body[wire_name] = to_wire(member, value)
    if data is None and payload is None:
        data = _dump(body)
    elif data is None:
        data = b""
    named = {k.lower() for k, _ in headers}
    if "content-type" not in named:
        blob = payload is not None and shape.members[payload].type_name == "blob"
        headers.append(("Content-Type", "application/octet-stream" if blob else "application/json"))
    return WireResponse(status, headers, data)


def to_wire(shape: Shape, value: Any) -> Any:
    """A value boto3 hands its caller as the JSON of `shape`."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            shape.members[name].serialization.get("name", name): to_wire(shape.members[name], item)
            for name, item in value.items()
            if name in shape.members and item is not None
        }
    if kind == "list" and isinstance(value, (list, tuple)):
        return [to_wire(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: to_wire(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return timestamp(value, shape.serialization.get("timestampFormat", BODY))
    if kind == "blob":
        return base64.b64encode(_bytes(value)).decode("ascii")
    return value


def timestamp(value: Any, form: str) -> Any:
    """A datetime (naive: UTC) in `form`: unixTimestamp, iso8601 or rfc822."""
    if not isinstance(value, datetime.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    form = form.lower()
    if form == "iso8601":
        text = value.astimezone(datetime.timezone.utc).isoformat()
        return text.replace("+00:00", "Z")
    if form == "rfc822":
        return email.utils.formatdate(value.timestamp(), usegmt=True)
    seconds = value.timestamp()
    return int(seconds) if seconds == int(seconds) else seconds


def _headers(member: Shape, name: str, value: Any) -> List[Tuple[str, str]]:
    if member.type_name == "map":
        return [(name + key, str(item)) for key, item in value.items()]
    if member.type_name == "list":
        return [(name, ",".join(_header_text(member.member, item) for item in value))]
    if member.serialization.get("jsonvalue") or member.metadata.get("jsonvalue"):
        text = json.dumps(value, separators=(",", ":")).encode()
        return [(name, base64.b64encode(text).decode("ascii"))]
    return [(name, _header_text(member, value))]


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(timestamp(value, shape.serialization.get("timestampFormat", HEADER)))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "blob":
        return base64.b64encode(_bytes(value)).decode("ascii")
    return str(value)


def _payload(member: Shape, value: Any) -> bytes:
    if member.type_name == "blob":
        return _bytes(value)
    if member.type_name == "string":
        return str(value).encode("utf-8")
    return _dump(to_wire(member, value))


def _bytes(value: Any) -> bytes:
    """A blob as bytes: bytes, text, or a stream (a StreamingBody, read whole)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    data = value.read()
    return data if isinstance(data, bytes) else bytes(data)


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
