"""The bucket operations on the wire, answered by the twin: ListBuckets, CreateBucket,
HeadBucket, GetBucketLocation, ListObjectsV2, ListObjects (v1) and DeleteObjects. DeleteBucket
is not an operation of the twin: it is answered NotImplemented."""

from typing import Any, BinaryIO, Dict, List, Mapping

from pipelines.local.s3wire.bodies import Node, child_text, children, document, encoded, parse
from pipelines.local.s3wire.context import Context
from pipelines.local.s3wire.errors import S3Error, not_implemented
from pipelines.local.s3wire.messages import WireResponse, empty, xml
from pipelines.local.s3wire.payload import receive

REGION = "us-east-1"
MAX_DOCUMENT = 4 * 1024 * 1024  # a request's XML (a 10,000-part Complete is about 1.5 MB)


class Buckets(object):
    def __init__(self, context: Context) -> None:
        self.context = context
        self.client = context.client

    def list_buckets(self, query: Dict[str, str]) -> WireResponse:
        answer = self.client.list_buckets()
        prefix = query.get("prefix", "")
        buckets: List[Node] = [
            ("Bucket", [("Name", b["Name"]), ("CreationDate", b["CreationDate"])])
            for b in answer["Buckets"]
            if b["Name"].startswith(prefix)
        ]
        owner = [("ID", answer["Owner"]["ID"]), ("DisplayName", "local")]
        return xml(
            200, document("ListAllMyBucketsResult", [("Owner", owner), ("Buckets", buckets)])
        )

    def create_bucket(
        self, bucket: str, headers: Mapping[str, str], body: BinaryIO
    ) -> WireResponse:
        self.context.members(headers)
        read_document(self.context, headers, body, required=False)  # the region is ignored
        answer = self.client.create_bucket(Bucket=bucket)
        return empty(200, [("Location", answer["Location"])])

    def head_bucket(self, bucket: str) -> WireResponse:
        self.client.head_bucket(Bucket=bucket)
        return empty(200, [("x-amz-bucket-region", REGION)])

    def delete_bucket(self, bucket: str) -> WireResponse:
        self.context.require_bucket(bucket)
        raise not_implemented("DeleteBucket (the local store keeps its buckets)")

    def location(self, bucket: str) -> WireResponse:
        self.context.require_bucket(bucket)
        return xml(200, document("LocationConstraint", []))  # empty: us-east-1

    def list_objects(self, bucket: str, query: Dict[str, str], version: int) -> WireResponse:
        """ListObjectsV2 (version 2) or ListObjects (1) through the twin's ListObjectsV2: v1's
        marker is v2's start-after, its NextMarker the page's last key or common prefix."""
        request: Dict[str, Any] = {"Bucket": bucket}
        names = {"prefix": "Prefix", "delimiter": "Delimiter", "start-after": "StartAfter"}
        names.update({"continuation-token": "ContinuationToken"} if version == 2 else {})
        names.update({"marker": "StartAfter"} if version == 1 else {})
        for name, member in names.items():
            if query.get(name):
                request[member] = query[name]
        if "max-keys" in query:
            text = query["max-keys"]
            if not (text.isdigit() and len(text) < 10):
                raise S3Error("InvalidArgument", "max-keys must be an integer from 0 to 1000")
            request["MaxKeys"] = int(text)
        if request.get("MaxKeys") == 0:  # the twin pages at least one; S3 answers none
            return self._listing(bucket, query, version, {"IsTruncated": False, "MaxKeys": 0})
        return self._listing(bucket, query, version, self.client.list_objects_v2(**request))

    def _listing(
        self, bucket: str, query: Dict[str, str], version: int, answer: Dict[str, Any]
    ) -> WireResponse:
        coding = query.get("encoding-type")
        if coding not in (None, "url"):
            raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request")
        nodes: List[Node] = [
            ("Name", bucket),
            ("Prefix", encoded(query.get("prefix", ""), coding)),
            ("MaxKeys", answer["MaxKeys"]),
            ("IsTruncated", answer["IsTruncated"]),
        ]
        if query.get("delimiter"):
            nodes.append(("Delimiter", encoded(query["delimiter"], coding)))
        if coding:
            nodes.append(("EncodingType", coding))
        contents = answer.get("Contents", [])
        prefixes = [p["Prefix"] for p in answer.get("CommonPrefixes", [])]
        if version == 2:
            nodes.append(("KeyCount", len(contents) + len(prefixes)))
            for name in ("ContinuationToken", "NextContinuationToken"):
                if answer.get(name):
                    nodes.append((name, answer[name]))
            if query.get("start-after"):
                nodes.append(("StartAfter", encoded(query["start-after"], coding)))
        else:
            nodes.append(("Marker", encoded(query.get("marker", ""), coding)))
            last = max([c["Key"] for c in contents] + prefixes, default=None)
            if answer["IsTruncated"] and query.get("delimiter") and last is not None:
                nodes.append(("NextMarker", encoded(last, coding)))
        for entry in contents:
            uri = "s3://%s/%s" % (bucket, entry["Key"])
            etag = self.context.etag(uri, self.context.store.path(uri), entry["ETag"])
            nodes.append(
                (
                    "Contents",
                    [
                        ("Key", encoded(entry["Key"], coding)),
                        ("LastModified", entry["LastModified"]),
                        ("ETag", etag),
                        ("Size", entry["Size"]),
                        ("StorageClass", entry["StorageClass"]),
                    ],
                )
            )
        for prefix in prefixes:
            nodes.append(("CommonPrefixes", [("Prefix", encoded(prefix, coding))]))
        return xml(200, document("ListBucketResult", nodes))

    def delete_objects(
        self, bucket: str, headers: Mapping[str, str], body: BinaryIO
    ) -> WireResponse:
        """DeleteObjects: each key deleted through the twin's DeleteObject; a key that cannot
        be is an <Error> of the answer, not a failure of the request."""
        self.context.require_bucket(bucket)
        request = parse(read_document(self.context, headers, body), "Delete")
        quiet = (child_text(request, "Quiet") or "").strip().lower() == "true"
        objects = children(request, "Object")
        if len(objects) > 1000:
            raise S3Error("MalformedXML", "DeleteObjects takes at most 1000 keys")
        nodes: List[Node] = []
        for element in objects:
            key = child_text(element, "Key")
            if key is None:
                raise S3Error("MalformedXML", "an <Object> without a <Key>")
            if child_text(element, "VersionId"):
                nodes.append(_failed(key, "NotImplemented", "the local store keeps no versions"))
                continue
            try:
                self.client.delete_object(Bucket=bucket, Key=key)
            except Exception as e:  # noqa: BLE001 - reported per key, as S3 does
                code = getattr(e, "response", {}).get("Error", {}).get("Code", "InternalError")
                nodes.append(_failed(key, code, str(e)))
                continue
            if not quiet:
                nodes.append(("Deleted", [("Key", key)]))
        return xml(200, document("DeleteResult", nodes))


def _failed(key: str, code: str, message: str) -> Node:
    return ("Error", [("Key", key), ("Code", code), ("Message", message)])


def read_document(
    context: Context, headers: Mapping[str, str], body: BinaryIO, required: bool = True
) -> bytes:
    """A request's XML document (bounded; its digests checked as an object body's are)."""
    if headers.get("Content-Length") is None and not required:
        return b""
    received = receive(headers, body, context.incoming, MAX_DOCUMENT)
    try:
        return received.path.read_bytes()
    finally:
        received.path.unlink(missing_ok=True)
