"""boto3's `s3` client over the home's local store (pipelines/local/s3.py), for the S3 calls the
template makes (docs/adr/0011): PutObject, GetObject, HeadObject, DeleteObject, CopyObject,
ListObjectsV2 (and its paginator), CreateBucket, HeadBucket, ListBuckets, and the transfer
methods boto3 adds to the client (upload_file, download_file).

As S3 does, and unlike the store's own writers (the jobs, which write into buckets the
pipeline's configuration names): a bucket exists once CreateBucket made it (or something was
written into it), and an object call on a bucket that does not exist fails with NoSuchBucket.
An object is written whole or not at all (the store's atomic write). What the local machine
cannot honour is refused, not ignored: server-side encryption with a KMS key, object lock,
versioning and ACLs are not kept, so requests that set them are answered NotImplemented.
"""

import base64
import datetime
import hashlib
import json
import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from botocore.response import StreamingBody

from pipelines.errors import StoreError
from pipelines.local.api import Answer, TwinClient, client_error
from pipelines.local.s3 import BUCKET_NAME, Store
from processing.churn_job import is_temporary

LIST_LIMIT = 1000  # ListObjectsV2's MaxKeys ceiling
# Members whose effect the local store cannot give: set, they are refused rather than dropped.
UNSUPPORTED = (
    "SSEKMSKeyId",
    "SSECustomerKey",
    "ObjectLockMode",
    "ObjectLockRetainUntilDate",
    "ObjectLockLegalHoldStatus",
    "ACL",
    "GrantFullControl",
    "GrantRead",
    "GrantReadACP",
    "GrantWriteACP",
)


class S3Client(TwinClient):
    service = "s3"

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ buckets

    def create_bucket(self, **request: Any) -> Answer:
        op = "CreateBucket"
        self._request(op, request)
        bucket = request["Bucket"]
        if not BUCKET_NAME.match(bucket):
            raise client_error(op, "InvalidBucketName", "The specified bucket is not valid.")
        folder = self.store.root / bucket
        if folder.is_dir():  # the same account's bucket: us-east-1 answers 200 again
            raise client_error(
                op,
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already "
                "own it.",
                409,
            )
        folder.mkdir(parents=True)
        return self._answer(op, {"Location": "/" + bucket})

    def head_bucket(self, **request: Any) -> Answer:
        op = "HeadBucket"
        self._request(op, request)
        self._bucket(op, request["Bucket"], head=True)
        return self._answer(op, {})

    def list_buckets(self, **request: Any) -> Answer:
        op = "ListBuckets"
        self._request(op, request)
        root = self.store.root
        names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        return self._answer(
            op,
            {
                "Buckets": [
                    {"Name": n, "CreationDate": _time((root / n).stat().st_mtime)} for n in names
                ],
                "Owner": {"ID": "local"},
            },
        )

    # ------------------------------------------------------------------ objects

    def put_object(self, **request: Any) -> Answer:
        op = "PutObject"
        self._request(op, request)
        self._supported(op, request)
        path = self._path(op, request["Bucket"], request["Key"])
        body = request.get("Body", b"")
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, (bytes, bytearray)):
            body = body.read()
        self._write(op, request, bytes(body))
        return self._answer(op, {"ETag": _etag(path)})

    def get_object(self, **request: Any) -> Answer:
        op = "GetObject"
        self._request(op, request)
        path = self._object(op, request["Bucket"], request["Key"])
        head = self._head(path)
        body = StreamingBody(_ObjectFile(path), head["ContentLength"])
        return self._answer(op, dict(head, Body=body))

    def head_object(self, **request: Any) -> Answer:
        op = "HeadObject"
        self._request(op, request)
        return self._answer(op, self._head(self._object(op, request["Bucket"], request["Key"])))

    def delete_object(self, **request: Any) -> Answer:
        op = "DeleteObject"
        self._request(op, request)
        path = self._path(op, request["Bucket"], request["Key"])
        if path.is_file():  # S3 answers 204 for a key that is not there too
            path.unlink()
        return self._answer(op, {})

    def copy_object(self, **request: Any) -> Answer:
        op = "CopyObject"
        source = request.get("CopySource")
        if isinstance(source, dict):  # boto3 writes {"Bucket", "Key"} as "bucket/key" first
            request["CopySource"] = "%s/%s" % (source.get("Bucket"), source.get("Key"))
        self._request(op, request)
        self._supported(op, request)
        bucket, _, key = request["CopySource"].lstrip("/").partition("/")
        source_path = self._object(op, bucket, key)
        self._path(op, request["Bucket"], request["Key"])
        try:  # copied file to file, never loaded whole
            self.store.put_file("s3://%s/%s" % (request["Bucket"], request["Key"]), source_path)
        except StoreError as e:
            raise client_error(op, "InvalidArgument", str(e)) from None
        path = self._path(op, request["Bucket"], request["Key"])
        return self._answer(
            op,
            {
                "CopyObjectResult": {
                    "ETag": _etag(path),
                    "LastModified": _time(path.stat().st_mtime),
                }
            },
        )

    def list_objects_v2(self, **request: Any) -> Answer:
        op = "ListObjectsV2"
        self._request(op, request)
        bucket = request["Bucket"]
        folder = self._bucket(op, bucket)
        prefix = request.get("Prefix", "")
        delimiter = request.get("Delimiter")
        limit = min(int(request.get("MaxKeys", LIST_LIMIT)), LIST_LIMIT)
        after = request.get("StartAfter", "")
        token = request.get("ContinuationToken")
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
            except (ValueError, UnicodeError):
                raise client_error(
                    op, "InvalidArgument", "The continuation token provided is incorrect"
                ) from None
        keys = sorted(
            str(p.relative_to(folder))
            for p in folder.rglob("*")
            if p.is_file() and not is_temporary(p.name)
        )
        entries: List[str] = []  # keys and common prefixes, in key order
        seen = set()
        for key in keys:
            if not key.startswith(prefix) or key <= after:
                continue
            if delimiter and delimiter in key[len(prefix) :]:
                common = key[: key.index(delimiter, len(prefix)) + len(delimiter)]
                if common in seen or common <= after:
                    continue
                seen.add(common)
                entries.append(common)
            else:
                entries.append(key)
        page, rest = entries[:limit], entries[limit:]
        contents = [
            {
                "Key": key,
                "LastModified": _time((folder / key).stat().st_mtime),
                "ETag": _etag(folder / key),
                "Size": (folder / key).stat().st_size,
                "StorageClass": "STANDARD",
            }
            for key in page
            if key not in seen
        ]
        answer: Dict[str, Any] = {
            "IsTruncated": bool(rest),
            "Name": bucket,
            "Prefix": prefix,
            "MaxKeys": limit,
            "KeyCount": len(page),
        }
        if contents:
            answer["Contents"] = contents
        if delimiter:
            answer["Delimiter"] = delimiter
            common_prefixes = [{"Prefix": p} for p in page if p in seen]
            if common_prefixes:
                answer["CommonPrefixes"] = common_prefixes
        if token:
            answer["ContinuationToken"] = token
        if rest:
            answer["NextContinuationToken"] = base64.urlsafe_b64encode(
                page[-1].encode("utf-8")
            ).decode("ascii")
        return self._answer(op, answer)

    # ------------------------------------------------------------------ boto3's transfers

    def upload_file(
        self,
        Filename: str,  # noqa: N803
        Bucket: str,  # noqa: N803
        Key: str,  # noqa: N803
        ExtraArgs: Optional[Dict[str, Any]] = None,  # noqa: N803
        **_: Any,
    ) -> None:
        """boto3's managed upload (one PutObject here: the file is copied, never loaded);
        ExtraArgs the local store cannot keep (an ACL, a KMS key, ...) are refused as
        put_object refuses them."""
        op = "PutObject"
        self._request(op, {"Bucket": Bucket, "Key": Key})
        self._supported(op, dict(ExtraArgs or {}))
        self._path(op, Bucket, Key)
        try:
            self.store.put_file("s3://%s/%s" % (Bucket, Key), Filename)
        except StoreError as e:
            raise client_error(op, "InvalidArgument", str(e)) from None

    def download_file(self, Bucket: str, Key: str, Filename: str, **_: Any) -> None:  # noqa: N803
        """boto3's managed download; a missing object is the ClientError 404 boto3 raises
        (its transfer manager heads the object first)."""
        source = self._object("HeadObject", Bucket, Key)
        target = Path(Filename)
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(source, partial)
        partial.replace(target)

    # ------------------------------------------------------------------ helpers

    def _supported(self, op: str, request: Dict[str, Any]) -> None:
        given = unsupported(request)
        if given:
            raise client_error(
                op,
                "NotImplemented",
                "the local S3 store does not keep %s: leave it out locally (it applies on AWS)"
                % ", ".join(given),
                501,
            )

    def _bucket(self, op: str, bucket: str, head: bool = False) -> Path:
        folder = self.store.root / bucket
        if not BUCKET_NAME.match(bucket) or not folder.is_dir():
            if head:  # HEAD answers have no body: boto3 reports the status as the code
                raise client_error(op, "404", "Not Found", 404)
            raise client_error(op, "NoSuchBucket", "The specified bucket does not exist", 404)
        return folder

    def _path(self, op: str, bucket: str, key: str) -> Path:
        self._bucket(op, bucket)
        try:
            return self.store.path("s3://%s/%s" % (bucket, key))
        except StoreError as e:
            raise client_error(op, "InvalidArgument", str(e)) from None

    def _object(self, op: str, bucket: str, key: str) -> Path:
        path = self._path(op, bucket, key)
        if not path.is_file():
            if op == "HeadObject":
                raise client_error(op, "404", "Not Found", 404)
            raise client_error(op, "NoSuchKey", "The specified key does not exist.", 404)
        return path

    def _head(self, path: Path) -> Dict[str, Any]:
        stat = path.stat()
        return {
            "ContentLength": stat.st_size,
            "ETag": _etag(path),
            "LastModified": _time(stat.st_mtime),
            "ContentType": "binary/octet-stream",
            "Metadata": {},
        }

    def _write(self, op: str, request: Dict[str, Any], data: bytes) -> None:
        try:
            self.store.put_bytes("s3://%s/%s" % (request["Bucket"], request["Key"]), data)
        except StoreError as e:
            raise client_error(op, "InvalidArgument", str(e)) from None


class _ObjectFile(object):
    """GetObject's stream: the object's file read as the caller reads it (an object is
    replaced whole, never rewritten in place), closed once read to its end, so a caller that
    reads the Body and drops it leaves no file open; read again, it gives b"" as boto3's
    does."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")

    def read(self, amt: Optional[int] = None) -> bytes:
        if self._file.closed:
            return b""
        data = self._file.read() if amt is None else self._file.read(amt)
        if amt is None or not data:
            self._file.close()
        return data

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return 0 if self._file.closed else self._file.tell()

    def close(self) -> None:
        self._file.close()


def unsupported(request: Dict[str, Any]) -> List[str]:
    """The members of a request whose effect the local store cannot give (see UNSUPPORTED)."""
    given = [m for m in UNSUPPORTED if request.get(m)]
    if str(request.get("ServerSideEncryption", "")).startswith("aws:kms"):
        given.append("ServerSideEncryption=%s" % request["ServerSideEncryption"])
    return given


_ETAGS: "OrderedDict[Tuple[str, int, int, int], str]" = OrderedDict()
_ETAGS_LIMIT = 4096
_ETAGS_LOCK = threading.Lock()


def _etag(path: Path) -> str:
    """The object's MD5, remembered for the file's path, size, mtime and inode (an object is
    replaced whole, by a rename, never rewritten in place), so heads, reads and listings do not
    hash a large object again."""
    stat = path.stat()
    known = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    with _ETAGS_LOCK:
        if known in _ETAGS:
            _ETAGS.move_to_end(known)
            return _ETAGS[known]
    etag = _md5_etag(path)
    with _ETAGS_LOCK:
        _ETAGS[known] = etag
        while len(_ETAGS) > _ETAGS_LIMIT:
            _ETAGS.popitem(last=False)
    return etag


def _md5_etag(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return json.dumps(digest.hexdigest())  # S3 quotes it


def _time(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
