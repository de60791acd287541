"""Which twin a request is for, and which of its operations: the service its SigV4 credential
scope names (`Credential=AKID/date/region/<signing name>/aws4_request`, in the Authorization
header or a presigned URL's X-Amz-Credential), then the protocol's mark of the operation:

- awsJson1_0 / awsJson1_1: `X-Amz-Target: <targetPrefix>.<Operation>` (SageMaker.ListModels,
  AWSStepFunctions.StartExecution);
- restJson1: the method and path matched against the service's `requestUri` templates; the
  services that sign alike are told apart so (sagemaker-runtime's `POST
  /endpoints/{EndpointName}/invocations` and the Feature Store runtime's `/FeatureGroup/{name}`
  sign as `sagemaker`, as SageMaker's JSON API does);
- `s3`: S3's REST-XML, answered by S3Wire whatever the path.

A request with no credential scope, or one no twin answers, is a WireFault carrying the
protocol it looked like, so its refusal is written in that protocol."""

import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from botocore.model import OperationModel

from pipelines.local.endpoint.errors import WireFault
from pipelines.local.endpoint.models import (
    JSON,
    REST_JSON,
    foreign_protocol,
    protocol,
    rest_routes,
    service_model,
    signing_name,
    target_prefix,
)

S3 = "s3"
REST_XML = "rest-xml"
QUERY = "query"  # awsQuery (STS, IAM, CloudWatch): served by no twin, refused in its XML
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")


@dataclass
class Route:
    service: str
    protocol: str
    operation: Optional[OperationModel] = None  # None: S3, answered by S3Wire
    labels: Dict[str, str] = field(default_factory=dict)


class Unroutable(WireFault):
    """A refusal before any twin is chosen, in the protocol the request looked like."""

    def __init__(self, code: str, message: str, status: int, protocol: str) -> None:
        WireFault.__init__(self, code, message, status)
        self.protocol = protocol


def credential_service(headers: Mapping[str, str], query: Dict[str, List[str]]) -> Optional[str]:
    """The signing name in the request's SigV4 (or SigV4a) credential scope, if signed."""
    found = _CREDENTIAL.search(headers.get("Authorization") or "")
    scope = found.group(1) if found else (query.get("X-Amz-Credential") or [""])[-1]
    parts = scope.split("/")
    if len(parts) < 4 or parts[-1] != "aws4_request":
        return None
    return parts[-2]


class Router(object):
    def __init__(self, services: Sequence[str]) -> None:
        """`services`: the twins served beside S3 (botocore's service names)."""
        self.services = tuple(services)
        self.by_signing: Dict[str, List[str]] = {}
        for name in self.services:
            self.by_signing.setdefault(signing_name(name), []).append(name)

    def route(
        self, method: str, path: str, query: Dict[str, List[str]], headers: Mapping[str, str]
    ) -> Route:
        target = headers.get("X-Amz-Target")
        signer = credential_service(headers, query)
        if signer is None:
            raise Unroutable(
                "MissingAuthenticationTokenException",
                "the request is not signed: sign it with SigV4 and any credentials (the local "
                "endpoint checks no signature, but routes by the credential scope's service)",
                403,
                self._looks_like(method, path, query, target, headers),
            )
        if signer == S3:
            return Route(S3, REST_XML)
        names = self.by_signing.get(signer)
        if not names:
            raise Unroutable(
                "UnrecognizedClientException",
                "no local twin signs as %r; served: %s"
                % (signer, ", ".join(sorted(set(self.by_signing) | {S3}))),
                400,
                self._looks_like(method, path, query, target, headers, signer),
            )
        if target:
            return self._json(names, target)
        found = self._rest(names, method, path, query)
        if found is None:
            raise Unroutable(
                "UnknownOperationException",
                "no operation of %s answers %s %s" % (" or ".join(names), method, path),
                404,
                REST_JSON,
            )
        return found

    def _json(self, names: Sequence[str], target: str) -> Route:
        prefix, _, operation = target.rpartition(".")
        for name in names:
            if protocol(name) == JSON and target_prefix(name) == prefix:
                model = service_model(name)
                if operation not in model.operation_names:
                    break
                return Route(name, JSON, model.operation_model(operation))
        raise Unroutable(
            "UnknownOperationException",
            "no operation %r among the twins that sign as %s" % (target, signing_name(names[0])),
            400,
            JSON,
        )

    def _rest(
        self, names: Sequence[str], method: str, path: str, query: Dict[str, List[str]]
    ) -> Optional[Route]:
        best: Optional[Tuple[int, Route]] = None
        for name in names:
            if protocol(name) != REST_JSON:
                continue
            for candidate in rest_routes(name):
                labels = candidate.match(method, path, query)
                if labels is not None and (best is None or candidate.weight > best[0]):
                    op = service_model(name).operation_model(candidate.operation)
                    best = (candidate.weight, Route(name, REST_JSON, op, labels))
                    break  # a service's routes are sorted, the most specific first
        return None if best is None else best[1]

    def _looks_like(
        self,
        method: str,
        path: str,
        query: Dict[str, List[str]],
        target: Optional[str],
        headers: Mapping[str, str],
        signer: Optional[str] = None,
    ) -> str:
        if target:
            return JSON
        kind = (headers.get("Content-Type") or "").lower()
        if kind.startswith("application/x-www-form-urlencoded") or "Action" in query:
            return QUERY
        # A service no twin has is refused in its own protocol when botocore has its model
        # under the name it signs as (athena: restJson1), so its client reads the code back.
        own = foreign_protocol(signer) if signer else None
        if own is not None:
            return own
        rest = [n for n in self.services if protocol(n) == REST_JSON]
        return REST_JSON if self._rest(rest, method, path, query) else REST_XML
