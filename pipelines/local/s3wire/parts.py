"""The multipart operations on the wire: CreateMultipartUpload, UploadPart, ListParts,
CompleteMultipartUpload (the parts assembled, then written whole through the twin's
upload_file, the object's ETag S3's md5-of-md5s-N) and AbortMultipartUpload. ListMultipartUploads
and UploadPartCopy are answered NotImplemented."""

from typing import BinaryIO, Dict, List, Mapping, Tuple

from pipelines.local.s3wire.bodies import Node, child_text, children, document, parse
from pipelines.local.s3wire.buckets import read_document
from pipelines.local.s3wire.context import Context
from pipelines.local.s3wire.errors import S3Error, not_implemented
from pipelines.local.s3wire.messages import Headers, WireResponse, empty, xml
from pipelines.local.s3wire.multipart import MAX_PART, MAX_PARTS
from pipelines.local.s3wire.payload import receive


class Parts(object):
    def __init__(self, context: Context) -> None:
        self.context = context
        self.uploads = context.uploads

    def create(self, bucket: str, key: str, headers: Mapping[str, str]) -> WireResponse:
        self.context.target(bucket, key)
        self.context.members(headers)
        upload_id = self.uploads.create(bucket, key)
        answer: Headers = []
        algorithm = headers.get("x-amz-checksum-algorithm")
        if algorithm:
            answer.append(("x-amz-checksum-algorithm", algorithm))
        nodes: List[Node] = [("Bucket", bucket), ("Key", key), ("UploadId", upload_id)]
        return xml(200, document("InitiateMultipartUploadResult", nodes), answer)

    def upload_part(
        self,
        bucket: str,
        key: str,
        query: Dict[str, str],
        headers: Mapping[str, str],
        body: BinaryIO,
    ) -> WireResponse:
        if headers.get("x-amz-copy-source"):
            raise not_implemented("UploadPartCopy")
        number = query.get("partNumber", "")
        if not (number.isdigit() and 1 <= int(number) <= MAX_PARTS):
            raise S3Error(
                "InvalidArgument",
                "Part number must be an integer between 1 and %d, inclusive" % MAX_PARTS,
                extra={"ArgumentName": "partNumber", "ArgumentValue": number[:20]},
            )
        self.context.require_bucket(bucket)
        folder = self.uploads.folder_of(bucket, key, query["uploadId"])
        received = receive(headers, body, folder, MAX_PART)
        etag = self.uploads.add_part(
            folder, int(number), received.path, received.md5, received.checksum
        )
        answer: Headers = [("ETag", etag)]
        if received.checksum:
            answer.append(received.checksum)
        return empty(200, answer)

    def list_parts(self, bucket: str, key: str, query: Dict[str, str]) -> WireResponse:
        self.context.require_bucket(bucket)
        upload_id = query["uploadId"]
        folder = self.uploads.folder_of(bucket, key, upload_id)
        marker = _number(query, "part-number-marker", 0)
        limit = min(_number(query, "max-parts", 1000), 1000)
        parts = [p for p in self.uploads.parts(folder) if p.number > marker]
        page, rest = parts[:limit], parts[limit:]
        nodes: List[Node] = [
            ("Bucket", bucket),
            ("Key", key),
            ("UploadId", upload_id),
            ("PartNumberMarker", marker),
            ("MaxParts", limit),
            ("IsTruncated", bool(rest)),
            ("StorageClass", "STANDARD"),
        ]
        if rest:
            nodes.append(("NextPartNumberMarker", page[-1].number))
        for part in page:
            fields: List[Node] = [
                ("PartNumber", part.number),
                ("LastModified", part.modified),
                ("ETag", part.etag),
                ("Size", part.size),
            ]
            if part.checksum:
                name = "Checksum" + part.checksum[0][len("x-amz-checksum-") :].upper()
                fields.append((name, part.checksum[1]))
            nodes.append(("Part", fields))
        return xml(200, document("ListPartsResult", nodes))

    def complete(
        self,
        bucket: str,
        key: str,
        query: Dict[str, str],
        headers: Mapping[str, str],
        body: BinaryIO,
    ) -> WireResponse:
        uri, _ = self.context.target(bucket, key)
        folder = self.uploads.folder_of(bucket, key, query["uploadId"])
        request = parse(read_document(self.context, headers, body), "CompleteMultipartUpload")
        wanted: List[Tuple[int, str]] = []
        for part in children(request, "Part"):
            number, etag = child_text(part, "PartNumber"), child_text(part, "ETag")
            if not (number and number.strip().isdigit()) or etag is None:
                raise S3Error("MalformedXML", "a <Part> needs a <PartNumber> and an <ETag>")
            wanted.append((int(number), etag))
        assembled, etag = self.uploads.assemble(folder, wanted)
        try:
            self.context.client.upload_file(str(assembled), bucket, key)
        finally:
            assembled.unlink(missing_ok=True)
        _, path = self.context.target(bucket, key)
        self.context.etags.remember(uri, path, etag)
        self.uploads.discard(folder)
        host = headers.get("Host", "127.0.0.1")
        nodes: List[Node] = [
            ("Location", "http://%s/%s/%s" % (host, bucket, key)),
            ("Bucket", bucket),
            ("Key", key),
            ("ETag", etag),
        ]
        return xml(200, document("CompleteMultipartUploadResult", nodes))

    def abort(self, bucket: str, key: str, query: Dict[str, str]) -> WireResponse:
        self.context.require_bucket(bucket)
        self.uploads.discard(self.uploads.folder_of(bucket, key, query["uploadId"]))
        return empty(204)


def _number(query: Dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not (text.isdigit() and len(text) < 10):
        raise S3Error("InvalidArgument", "%s must be a non-negative integer" % name)
    return int(text)
