"""What the operations of boto3's `sagemaker` client over the local SageMaker share (api.py
composes them): their base class, and how an answer is made: cut to the output shape's members
(at every depth, None meaning absent), times as datetimes, and a List* operation's NextToken
paging.
"""

import base64
import datetime
import json
from typing import Any, Callable, Dict, List, Optional, Tuple

from botocore.utils import parse_to_aware_datetime

from pipelines.local.api import Answer, Request, TwinClient, client_error
from pipelines.local.parameters import output_shape


class SageMakerOperations(TwinClient):
    """The base of the `sagemaker` client's operation mixins, over `self.backend` (a
    SageMakerBackend)."""

    service = "sagemaker"
    backend: Any


def as_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return parse_to_aware_datetime(value)


def _fit(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            k: _fit(shape.members[k], v)
            for k, v in value.items()
            if k in shape.members and v is not None
        }
    if kind == "list" and isinstance(value, list):
        return [_fit(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _fit(shape.value, v) for k, v in value.items()}
    if kind == "timestamp" and value is not None:
        return as_datetime(value)
    return value


def shaped(operation: str, value: Dict[str, Any]) -> Answer:
    """`value` as boto3 hands the operation's answer over: the output shape's members only (at
    every depth; None means absent), its timestamps as datetimes."""
    fitted: Answer = _fit(output_shape("sagemaker", operation), value)
    return fitted


def _token(place: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(place).encode()).decode()


def _place(operation: str, token: str) -> Any:
    try:
        place = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        if isinstance(place, list) and len(place) == 2 and isinstance(place[1], str):
            return place
    except (ValueError, TypeError, UnicodeError):
        pass
    raise client_error(
        operation,
        "ValidationException",
        "NextToken %r is not a token %s answered" % (token, operation),
    )


def paged(
    operation: str,
    request: Request,
    items: List[Dict[str, Any]],
    key: Callable[[Dict[str, Any]], Any],
    descending: bool,
) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """One page of `items` in the order of (key, ARN), and the NextToken of the next page: a
    token is the place of the last item answered, so an item added or removed between pages
    moves no other."""
    places = sorted((([key(i), i["_id"]]), i) for i in items)
    if descending:
        places.reverse()
    if request.get("NextToken"):
        after = _place(operation, request["NextToken"])
        places = [(p, i) for p, i in places if (p < after if descending else p > after)]
    limit = request.get("MaxResults", 100)
    page = places[:limit]
    token = _token(page[-1][0]) if len(places) > limit else None
    return [i for _, i in page], token


def epoch(value: Any) -> float:
    return as_datetime(value).timestamp() if not isinstance(value, (int, float)) else value
