"""What the operations of boto3's `sagemaker` client over the local SageMaker share (api.py
composes them): their base class, and how an answer is made: cut to the output shape's members
(at every depth, None meaning absent), times as datetimes, and a List* operation's NextToken
paging.

Two shapings and two pagings, as the operations were written: the registry's and pipelines'
answers are cut at every depth (`shaped`) and paged by a token naming the last item's place
(`paged`); models' and hosting's are cut at the top level (`shaped_top_level`) and paged by
an offset (`listing`).
"""

import base64
import datetime
import json
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Tuple

from pipelines.errors import UserError
from pipelines.local.api import Answer, Request, TwinClient, client_error
from pipelines.local.parameters import error_status, output_shape


class SageMakerOperations(TwinClient):
    """The base of the `sagemaker` client's operation mixins, over `self.backend` (a
    SageMakerBackend)."""

    service = "sagemaker"
    backend: Any

    def _refused(self, operation: str, code: str, message: str) -> Exception:
        return client_error(operation, code, message, error_status("sagemaker", code))

    @contextmanager
    def _refusals(self, operation: str) -> Iterator[None]:
        """The backend's refusals (a HostingError's code, any other UserError a
        ValidationException) as the ClientError boto3 raises."""
        try:
            yield
        except UserError as e:
            code = getattr(e, "code", "ValidationException")
            raise self._refused(operation, code, str(e))


def as_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    from botocore.utils import parse_to_aware_datetime  # botocore.utils: 50 ms of import

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
    member: str,
) -> Dict[str, Any]:
    """A List operation's answer: one page of `items` in the order of (key, ARN) under
    `member`, and the NextToken of the next page when there is one: a token is the place of
    the last item answered, so an item added or removed between pages moves no other."""
    places = sorted((([key(i), i["_id"]]), i) for i in items)
    if descending:
        places.reverse()
    if request.get("NextToken"):
        after = _place(operation, request["NextToken"])
        places = [(p, i) for p, i in places if (p < after if descending else p > after)]
    limit = request.get("MaxResults", 100)
    page = places[:limit]
    answer: Dict[str, Any] = {member: [i for _, i in page]}
    if len(places) > limit:
        answer["NextToken"] = _token(page[-1][0])
    return answer


def epoch(value: Any) -> float:
    return as_datetime(value).timestamp() if not isinstance(value, (int, float)) else value


def when(seconds: float) -> datetime.datetime:
    """A stored epoch time as boto3 hands timestamps to its caller."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def shaped_top_level(operation: str, answer: Dict[str, Any]) -> Answer:
    """`answer` cut to the members of the operation's output shape, its top-level times as
    datetimes."""
    members = output_shape("sagemaker", operation).members
    out = {k: v for k, v in answer.items() if k in members and v is not None}
    for key, value in out.items():
        if members[key].type_name == "timestamp" and isinstance(value, (int, float)):
            out[key] = when(value)
    return out


def offset(request: Dict[str, Any]) -> int:
    token = request.get("NextToken") or "0"
    return int(token) if token.isdigit() else 0


def listing(
    items: List[Dict[str, Any]], request: Dict[str, Any], name_key: str
) -> Tuple[List[Dict[str, Any]], Dict[str, str]]:
    """A List* operation's page of `items` (summaries with CreationTime as a datetime): its
    NameContains, CreationTime and LastModifiedTime bounds, SortBy (Name, CreationTime,
    Status; CreationTime by default) and SortOrder (Descending by default), MaxResults (100 by
    default) from NextToken (an offset). Returns (page, {"NextToken": ...} or {})."""
    if request.get("NameContains"):
        items = [i for i in items if request["NameContains"] in i[name_key]]
    for key, member, after in (
        ("CreationTimeAfter", "CreationTime", True),
        ("CreationTimeBefore", "CreationTime", False),
        ("LastModifiedTimeAfter", "LastModifiedTime", True),
        ("LastModifiedTimeBefore", "LastModifiedTime", False),
    ):
        if request.get(key) is not None:
            bound = as_datetime(request[key])
            items = [i for i in items if (i[member] > bound) == after and i[member] != bound]
    by = request.get("SortBy") or "CreationTime"
    key_of: Callable[[Dict[str, Any]], Any] = {
        "Name": lambda i: i[name_key],
        "Status": lambda i: next((v for k, v in i.items() if k.endswith("Status")), ""),
    }.get(by, lambda i: i["CreationTime"])
    items = sorted(items, key=key_of, reverse=request.get("SortOrder") != "Ascending")
    start = offset(request)
    end = start + int(request.get("MaxResults") or 100)
    return items[start:end], ({"NextToken": str(end)} if end < len(items) else {})
