"""The object operations on the wire, answered by the twin: PutObject (the body streamed to a
file first, then written whole through the twin's upload_file), GetObject (with Range,
If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since and the response-* overrides),
HeadObject, DeleteObject and CopyObject."""

import datetime
import email.utils
import json
from typing import Any, BinaryIO, Dict, Iterator, Mapping, Optional, Tuple
from urllib.parse import unquote

from botocore.exceptions import ClientError

from pipelines.local.s3wire.bodies import document, http_time
from pipelines.local.s3wire.context import MAX_OBJECT, Context
from pipelines.local.s3wire.errors import S3Error, not_implemented
from pipelines.local.s3wire.messages import Headers, WireResponse, empty, xml
from pipelines.local.s3wire.payload import BLOCK, receive

OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


class Objects(object):
    def __init__(self, context: Context) -> None:
        self.context = context
        self.client = context.client

    def put_object(
        self, bucket: str, key: str, headers: Mapping[str, str], body: BinaryIO
    ) -> WireResponse:
        if headers.get("If-None-Match") or headers.get("If-Match"):
            raise not_implemented("conditional writes (If-Match, If-None-Match on PUT)")
        self.context.target(bucket, key)
        extra = self.context.members(headers)
        received = receive(headers, body, self.context.incoming, MAX_OBJECT)
        try:
            self.client.upload_file(str(received.path), bucket, key, ExtraArgs=extra)
        finally:
            received.path.unlink(missing_ok=True)
        answer: Headers = [("ETag", json.dumps(received.md5.hex()))]
        if received.checksum:
            answer.append(received.checksum)
        return empty(200, answer)

    def head_object(
        self, bucket: str, key: str, headers: Mapping[str, str], query: Dict[str, str]
    ) -> WireResponse:
        answer, etag = self._read(bucket, key, "head_object")
        _preconditions(headers, etag, answer["LastModified"])
        first, last, partial = _range(headers.get("Range"), answer["ContentLength"])
        return empty(
            206 if partial else 200,
            _object_headers(answer, etag, first, last, partial, query),
        )

    def get_object(
        self, bucket: str, key: str, headers: Mapping[str, str], query: Dict[str, str]
    ) -> WireResponse:
        if query.get("partNumber"):
            raise not_implemented("GetObject by partNumber")
        answer, etag = self._read(bucket, key, "get_object")
        body = answer["Body"]
        try:
            _preconditions(headers, etag, answer["LastModified"])
            size = answer["ContentLength"]
            first, last, partial = _range(headers.get("Range"), size)
        except BaseException:
            body.close()
            raise
        response = WireResponse(
            206 if partial else 200,
            _object_headers(answer, etag, first, last, partial, query),
            _Slice(body, first, last - first + 1),
            last - first + 1,
        )
        return response

    def delete_object(self, bucket: str, key: str) -> WireResponse:
        self.context.target(bucket, key)
        self.client.delete_object(Bucket=bucket, Key=key)
        return empty(204)

    def copy_object(self, bucket: str, key: str, headers: Mapping[str, str]) -> WireResponse:
        source = unquote(headers["x-amz-copy-source"])
        source, _, version = source.partition("?")
        if version:
            raise not_implemented("a versioned copy source (%s)" % version[:60])
        if any(h.lower().startswith("x-amz-copy-source-if-") for h in headers.keys()):
            raise not_implemented("conditional copies (x-amz-copy-source-if-*)")
        src_bucket, _, src_key = source.lstrip("/").partition("/")
        self.context.target(src_bucket, src_key)
        uri, path = self.context.target(bucket, key)
        extra = self.context.members(headers)
        answer = self.client.copy_object(
            Bucket=bucket, Key=key, CopySource="%s/%s" % (src_bucket, src_key), **extra
        )
        result = answer["CopyObjectResult"]
        etag = self.context.etag(uri, path, result["ETag"])
        return xml(
            200,
            document(
                "CopyObjectResult", [("LastModified", result["LastModified"]), ("ETag", etag)]
            ),
        )

    def _read(self, bucket: str, key: str, method: str) -> Tuple[Dict[str, Any], str]:
        uri, path = self.context.target(bucket, key)
        try:
            answer = getattr(self.client, method)(Bucket=bucket, Key=key)
        except ClientError as e:
            if e.response["Error"]["Code"] in ("404", "NoSuchKey"):
                raise S3Error(
                    "NoSuchKey", "The specified key does not exist.", extra={"Key": key}
                ) from None
            raise
        return answer, self.context.etag(uri, path, answer["ETag"])


def _object_headers(
    answer: Dict[str, Any], etag: str, first: int, last: int, partial: bool, query: Dict[str, str]
) -> Headers:
    headers: Headers = [
        ("Content-Type", answer["ContentType"]),
        ("ETag", etag),
        ("Last-Modified", http_time(answer["LastModified"])),
        ("Accept-Ranges", "bytes"),
    ]
    if partial:
        headers.append(("Content-Range", "bytes %d-%d/%d" % (first, last, answer["ContentLength"])))
    for name, header in OVERRIDES.items():
        if name in query:
            headers = [h for h in headers if h[0] != header] + [(header, query[name])]
    headers.append(("Content-Length", str(last - first + 1)))
    return headers


def _range(text: Optional[str], size: int) -> Tuple[int, int, bool]:
    """(first, last, partial) of a Range header. As S3: a header it cannot read (several
    ranges, another unit) is ignored and the whole object sent; a range that starts past the
    end is InvalidRange (416)."""
    whole = (0, size - 1, False)
    if not text or not text.startswith("bytes=") or "," in text:
        return whole
    start, dash, end = text[len("bytes=") :].strip().partition("-")
    if not dash or not (start.isdigit() or end.isdigit()):
        return whole
    if not start.isdigit() and start:
        return whole
    if end and not end.isdigit():
        return whole
    if not start:  # the last `end` bytes
        count = int(end)
        if count == 0 or size == 0:
            raise _invalid_range(size)
        return max(0, size - count), size - 1, True
    first = int(start)
    last = min(int(end), size - 1) if end else size - 1
    if first >= size:
        raise _invalid_range(size)
    if last < first:
        return whole
    return first, last, True


def _invalid_range(size: int) -> S3Error:
    return S3Error(
        "InvalidRange",
        "The requested range is not satisfiable",
        extra={"ActualObjectSize": str(size)},
    )


def _preconditions(headers: Mapping[str, str], etag: str, modified: datetime.datetime) -> None:
    """GetObject's and HeadObject's conditions, as RFC 7232 orders them."""
    match = headers.get("If-Match")
    if match is not None and not _etag_in(match, etag):
        raise _failed("If-Match")
    since = _when(headers.get("If-Unmodified-Since"))
    if match is None and since is not None and modified.replace(microsecond=0) > since:
        raise _failed("If-Unmodified-Since")
    none_match = headers.get("If-None-Match")
    if none_match is not None and _etag_in(none_match, etag):
        raise S3Error("NotModified", "Not Modified", 304)
    after = _when(headers.get("If-Modified-Since"))
    if none_match is None and after is not None and modified.replace(microsecond=0) <= after:
        raise S3Error("NotModified", "Not Modified", 304)


def _failed(condition: str) -> S3Error:
    return S3Error(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        extra={"Condition": condition},
    )


def _etag_in(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in tags or etag.strip('"') in tags


def _when(text: Optional[str]) -> Optional[datetime.datetime]:
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None  # S3 ignores a date it cannot read


class _Slice(object):
    """`count` bytes of the twin's GetObject Body after the first `skip`, a bounded block at a
    time; the body closed once read, or by close() if the answer is never sent."""

    def __init__(self, body: Any, skip: int, count: int) -> None:
        self.body = body
        self.skip = skip
        self.count = count

    def __iter__(self) -> Iterator[bytes]:
        try:
            while self.skip:
                data = self.body.read(min(BLOCK, self.skip))
                if not data:
                    return
                self.skip -= len(data)
            while self.count:
                data = self.body.read(min(BLOCK, self.count))
                if not data:
                    return
                self.count -= len(data)
                yield data
        finally:
            self.body.close()

    def close(self) -> None:
        self.body.close()
