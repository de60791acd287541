"""S3Wire: one S3 REST request in, one answer out. Path-style addressing only
(`/<bucket>/<key>`, what botocore sends to an IP endpoint such as 127.0.0.1). Requests are
routed by method, path and subresource as the S3 API reference lays them out; a subresource or
header the local store cannot honour is NotImplemented (501), a method the resource does not
have MethodNotAllowed (405). Failures of the twin come back as its ClientError's code and
status, in S3's XML error body (a HEAD's status alone). No signature is verified: any
credentials are accepted (docs/adr/0014)."""

from typing import BinaryIO, Dict, Mapping, Set
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.exceptions import ClientError, ParamValidationError

from pipelines.local.s3_api import S3Client
from pipelines.local.s3wire.buckets import Buckets
from pipelines.local.s3wire.context import Context
from pipelines.local.s3wire.errors import S3Error, not_implemented
from pipelines.local.s3wire.messages import WireResponse, empty, error, request_id, stamp
from pipelines.local.s3wire.objects import OVERRIDES, Objects
from pipelines.local.s3wire.parts import Parts

MAX_HEADERS = 16 * 1024  # bytes of header names and values (S3 allows 8 KB of them)
IGNORED = {"x-id"}  # botocore names the operation in the query; it changes nothing
LIST_PARAMS = {
    "list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after",
    "fetch-owner", "encoding-type", "marker",
}  # fmt: skip
GET_PARAMS = set(OVERRIDES) | {"partNumber"}


class S3Wire(object):
    """The S3 REST protocol over the twin's client: `handle` answers one request. Thread-safe:
    a server may call it from many threads at once."""

    def __init__(self, client: S3Client) -> None:
        context = Context(client)
        self.buckets = Buckets(context)
        self.objects = Objects(context)
        self.parts = Parts(context)

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: BinaryIO
    ) -> WireResponse:
        """Answer `method target`; `headers` is case-insensitive (http.client's HTTPMessage),
        `body` the request's unread body (read no further than its Content-Length)."""
        rid = request_id()
        head = method == "HEAD"
        try:
            if sum(len(k) + len(v) for k, v in headers.items()) > MAX_HEADERS:
                raise S3Error(
                    "RequestHeaderSectionTooLarge",
                    "Your request header section exceeds the maximum allowed size.",
                )
            response = self._route(method, target, headers, body)
        except S3Error as e:
            response = empty(304) if e.status == 304 else error(e, rid, head)
        except ClientError as e:
            found = e.response["Error"]
            status = int(e.response["ResponseMetadata"]["HTTPStatusCode"])
            code = found["Code"]
            if code == "ValidationException":  # a model constraint: S3 says InvalidArgument
                code = "InvalidArgument"
            response = error(S3Error(code, found["Message"], status), rid, head)
        except ParamValidationError as e:
            response = error(S3Error("InvalidArgument", str(e)), rid, head)
        except Exception as e:  # the twin's own failure: still an S3 answer
            response = error(S3Error("InternalError", "%s: %s" % (type(e).__name__, e)), rid, head)
        return stamp(response, rid)

    def _route(
        self, method: str, target: str, headers: Mapping[str, str], body: BinaryIO
    ) -> WireResponse:
        url = urlsplit(target)
        if not url.path.startswith("/"):
            raise S3Error("InvalidRequest", "the request target is not an absolute path")
        bucket, _, key = url.path[1:].partition("/")
        bucket, key = unquote(bucket), unquote(key)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        for name in IGNORED:
            query.pop(name, None)
        if not bucket:
            if method == "GET":
                return self.buckets.list_buckets(query)
            raise _not_allowed(method, "SERVICE")
        if not key:
            return self._bucket(method, bucket, query, headers, body)
        return self._object(method, bucket, key, query, headers, body)

    def _bucket(
        self,
        method: str,
        bucket: str,
        query: Dict[str, str],
        headers: Mapping[str, str],
        body: BinaryIO,
    ) -> WireResponse:
        if method == "GET":
            if "location" in query:
                return self.buckets.location(bucket)
            _only(query, LIST_PARAMS)
            version = 2 if query.get("list-type") == "2" else 1
            return self.buckets.list_objects(bucket, query, version)
        if method == "POST" and "delete" in query:
            return self.buckets.delete_objects(bucket, headers, body)
        _only(query, set())
        if method == "PUT":
            return self.buckets.create_bucket(bucket, headers, body)
        if method == "HEAD":
            return self.buckets.head_bucket(bucket)
        if method == "DELETE":
            return self.buckets.delete_bucket(bucket)
        raise _not_allowed(method, "BUCKET")

    def _object(
        self,
        method: str,
        bucket: str,
        key: str,
        query: Dict[str, str],
        headers: Mapping[str, str],
        body: BinaryIO,
    ) -> WireResponse:
        upload = "uploadId" in query
        if method == "PUT":
            if upload and "partNumber" in query:
                return self.parts.upload_part(bucket, key, query, headers, body)
            _only(query, set())
            if headers.get("x-amz-copy-source"):
                return self.objects.copy_object(bucket, key, headers)
            return self.objects.put_object(bucket, key, headers, body)
        if method == "GET":
            if upload:
                _only(query, {"uploadId", "max-parts", "part-number-marker"})
                return self.parts.list_parts(bucket, key, query)
            _only(query, GET_PARAMS)
            return self.objects.get_object(bucket, key, headers, query)
        if method == "HEAD":
            _only(query, GET_PARAMS)
            return self.objects.head_object(bucket, key, headers, query)
        if method == "DELETE":
            if upload:
                _only(query, {"uploadId"})
                return self.parts.abort(bucket, key, query)
            _only(query, set())
            return self.objects.delete_object(bucket, key)
        if method == "POST":
            if "uploads" in query:
                _only(query, {"uploads"})
                return self.parts.create(bucket, key, headers)
            if upload:
                _only(query, {"uploadId"})
                return self.parts.complete(bucket, key, query, headers, body)
            raise not_implemented("POST on an object (browser form uploads)")
        raise _not_allowed(method, "OBJECT")


def _only(query: Dict[str, str], allowed: Set[str]) -> None:
    """A subresource or parameter outside `allowed` (versionId, acl, tagging, ...) asks for
    what the local store does not keep."""
    other = sorted(set(query) - allowed)
    if other:
        raise not_implemented("the %s subresource or parameter" % ", ".join(other)[:200])


def _not_allowed(method: str, resource: str) -> S3Error:
    return S3Error(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        extra={"Method": method[:20], "ResourceType": resource},
    )
