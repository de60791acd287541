"""The service models the endpoint speaks, read with botocore's own loader: each service's
protocol, the name it signs as, its JSON target prefix and its REST operations' request URIs
(compiled once per service into the routes a request's method and path are matched against)."""

import functools
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Pattern, Tuple
from urllib.parse import parse_qsl

from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel

JSON = "json"
REST_JSON = "rest-json"
_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")


@functools.lru_cache(maxsize=None)
def service_model(service: str) -> ServiceModel:
    """botocore's model of `service` (the newest API version its data has)."""
    loader = _loader()
    return ServiceModel(loader.load_service_model(service, "service-2"), service_name=service)


@functools.lru_cache(maxsize=1)
def _loader() -> Any:
    return create_loader()


@functools.lru_cache(maxsize=64)
def foreign_protocol(name: str) -> Optional[str]:
    """The protocol botocore's client of service `name` speaks (json, rest-json, query,
    rest-xml), None when botocore has no such service or speaks it some other way."""
    try:
        found = service_model(name).metadata.get("protocol")
    except (UnknownServiceError, DataNotFoundError):
        return None
    return str(found) if found in (JSON, REST_JSON, "query", "rest-xml") else None


def signing_name(service: str) -> str:
    """The service name of a SigV4 credential scope: the model's signingName, else its
    endpoint prefix (stepfunctions signs as `states`)."""
    metadata = service_model(service).metadata
    return str(metadata.get("signingName") or metadata["endpointPrefix"])


def protocol(service: str) -> str:
    return str(service_model(service).metadata["protocol"])


def target_prefix(service: str) -> Optional[str]:
    """A JSON protocol's X-Amz-Target prefix (`SageMaker`, `AWSStepFunctions`)."""
    value = service_model(service).metadata.get("targetPrefix")
    return None if value is None else str(value)


@dataclass(frozen=True)
class RestRoute:
    """One REST operation's `method requestUri`, as a pattern over the path."""

    operation: str
    method: str
    pattern: Pattern[str]
    labels: Tuple[Tuple[str, bool], ...]  # (label, greedy) in the template's order
    query: Tuple[Tuple[str, str], ...]  # literal query members the template requires
    weight: int  # literal characters: the most specific template wins

    def match(
        self, method: str, path: str, query: Dict[str, List[str]]
    ) -> Optional[Dict[str, str]]:
        if method != self.method:
            return None
        found = self.pattern.fullmatch(path.rstrip("/") or "/")
        if found is None:
            return None
        for name, value in self.query:
            if name not in query or (value and value not in query[name]):
                return None
        return {label: found.group(i + 1) for i, (label, _) in enumerate(self.labels)}


@functools.lru_cache(maxsize=None)
def rest_routes(service: str) -> Tuple[RestRoute, ...]:
    """The REST operations of `service`, the most specific templates first."""
    model = service_model(service)
    routes = [_route(model.operation_model(name)) for name in model.operation_names]
    return tuple(sorted(routes, key=lambda r: -r.weight))


def _route(op: OperationModel) -> RestRoute:
    uri = op.http["requestUri"]
    path, _, query = uri.partition("?")
    path = path.rstrip("/") or "/"  # a request's path is matched without its trailing slash
    labels: List[Tuple[str, bool]] = []
    pattern, start, weight = "", 0, len(query)
    for found in _LABEL.finditer(path):
        literal = path[start : found.start()]
        pattern += re.escape(literal)
        weight += len(literal)
        greedy = bool(found.group(2))
        pattern += "(.+)" if greedy else "([^/]+)"
        labels.append((found.group(1), greedy))
        start = found.end()
    pattern += re.escape(path[start:])
    weight += len(path) - start
    return RestRoute(
        op.name,
        op.http["method"],
        re.compile(pattern),
        tuple(labels),
        tuple(parse_qsl(query, keep_blank_values=True)),
        weight,
    )
