"""A request's parameters read off the wire into the keyword arguments boto3's method takes,
driven by the operation's input shape (botocore's model):

- awsJson1_0 / awsJson1_1: the body is the input shape as JSON;
- restJson1: members bound to the URI's labels, the query string, headers (a map of headers by
  prefix, a `jsonvalue` header as base64 JSON), the payload member (a blob or string payload is
  the raw body: InvokeEndpoint's Body, Lambda Invoke's Payload) and the rest a JSON body.

Timestamps (epoch seconds or ISO 8601) become datetimes and base64 blobs bytes, as boto3 hands
them to a client; members the model does not have are ignored, as a service ignores them. Text
that cannot be read is SerializationException."""

import base64
import binascii
import json
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import unquote

from botocore.model import OperationModel, Shape
from botocore.utils import parse_timestamp

from pipelines.local.endpoint.errors import WireFault

Params = Dict[str, Any]


def unreadable(why: str) -> WireFault:
    return WireFault("SerializationException", "the request cannot be read: %s" % why)


def decode_json(raw: bytes) -> Any:
    """The body as JSON (an empty body is an empty object), else SerializationException."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except RecursionError:
        raise unreadable("its JSON is nested too deep") from None
    except UnicodeDecodeError:
        raise unreadable("it is not UTF-8") from None
    except json.JSONDecodeError as e:
        raise unreadable("it is not JSON (%s)" % e) from None
    except ValueError:  # int() refuses numbers of over 4,300 digits
        raise unreadable("a number in it is too long") from None


def json_request(op: OperationModel, raw: bytes) -> Params:
    """A JSON protocol's request: the body is the input shape."""
    body = decode_json(raw)
    if not isinstance(body, dict):
        raise unreadable("the body is not a JSON object")
    if op.input_shape is None:
        return {}
    return dict(from_wire(op.input_shape, body))


def from_wire(shape: Shape, value: Any) -> Any:
    """A JSON value of `shape` as boto3's caller would have passed it."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = {m.serialization.get("name", n): (n, m) for n, m in shape.members.items()}
        return {
            members[key][0]: from_wire(members[key][1], item)
            for key, item in value.items()
            if key in members and item is not None
        }
    if kind == "list" and isinstance(value, list):
        return [from_wire(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: from_wire(shape.value, item) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return _timestamp(value)
    if kind == "blob" and isinstance(value, str):
        return _base64(value)
    return value  # a type the twin's validation refuses as the service would


def rest_request(
    op: OperationModel,
    labels: Dict[str, str],
    query: Dict[str, List[str]],
    headers: Mapping[str, str],
    raw: bytes,
) -> Params:
    """A restJson1 request: each member from where its location puts it."""
    shape = op.input_shape
    if shape is None:
        return {}
    params: Params = {}
    payload = shape.serialization.get("payload")
    claimed = {
        m.serialization.get("name", n)
        for n, m in shape.members.items()
        if m.serialization.get("location") == "querystring" and m.type_name != "map"
    }
    body: Optional[Dict[str, Any]] = None
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        value: Any = None
        if where == "uri":
            if wire_name in labels:
                value = _scalar(member, unquote(labels[wire_name]))
        elif where == "querystring":
            value = _query(member, wire_name, query, claimed)
        elif where == "header":
            value = _header(member, wire_name, headers)
        elif where is None and name == payload:
            value = _payload(member, raw)
        elif where is None and payload is None:
            if body is None:
                decoded = decode_json(raw)
                if not isinstance(decoded, dict):
                    raise unreadable("the body is not a JSON object")
                body = decoded
            if body.get(wire_name) is not None:
                value = from_wire(member, body[wire_name])
        if value is not None:
            params[name] = value
    return params


def _query(member: Shape, name: str, query: Dict[str, List[str]], claimed: set[str]) -> Any:
    if member.type_name == "map":  # the query members no other member names
        return {k: v[-1] for k, v in query.items() if k not in claimed} or None
    if name not in query:
        return None
    if member.type_name == "list":
        return [_scalar(member.member, v) for v in query[name]]
    return _scalar(member, query[name][-1])


def _header(member: Shape, name: str, headers: Mapping[str, str]) -> Any:
    if member.type_name == "map":  # headers by prefix (x-amz-meta-*)
        prefix = name.lower()
        found = {k[len(prefix) :]: v for k, v in headers.items() if k.lower().startswith(prefix)}
        return found or None
    text = headers.get(name)
    if text is None:
        return None
    if member.type_name == "list":
        return [_scalar(member.member, v.strip()) for v in text.split(",")]
    if member.serialization.get("jsonvalue") or member.metadata.get("jsonvalue"):
        try:
            return json.loads(_base64(text))
        except ValueError:
            raise unreadable("header %s is not base64 JSON" % name) from None
    return _scalar(member, text)


def _payload(member: Shape, raw: bytes) -> Any:
    if member.type_name == "blob":
        return raw
    if member.type_name == "string":
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise unreadable("it is not UTF-8") from None
    decoded = decode_json(raw)
    return from_wire(member, decoded) if raw.strip() else None


def _scalar(shape: Shape, text: str) -> Any:
    """A URI label, query value or header as its shape's type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        raise unreadable("%r is not a number" % text[:40]) from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise unreadable("%r is not true or false" % text[:40])
        return text.lower() == "true"
    if kind == "timestamp":
        return _timestamp(text)
    if kind == "blob":
        return _base64(text)
    return text


def _timestamp(value: Any) -> Any:
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError, OverflowError, OSError):
        raise unreadable("%r is not a timestamp" % str(value)[:40]) from None


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise unreadable("a blob is not base64") from None
