"""The local object store, S3's twin: s3://bucket/key is the file <home>/s3/bucket/key.

Jobs read and write S3 URIs exactly as on SageMaker; only this module knows they are files.
Every object is published whole or not at all (processing/churn_job.py's atomic write), so a
kill or a full disk never leaves a partial object under its key.
"""

import re
from pathlib import Path
from typing import Union

from pipelines.errors import StoreError
from processing.churn_job import copy_atomic, is_temporary, write_bytes_atomic

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
KEY_BYTES = 1024  # S3's longest key (KeyTooLongError beyond)
SEGMENT_BYTES = 255  # the longest file name: each part of a key between '/' is one locally


class Store(object):
    def __init__(self, home: Union[str, Path]) -> None:
        self.root = Path(home).resolve() / "s3"

    def path(self, uri: str) -> Path:
        """The file of s3://bucket/key, always inside the store: a key that is absolute or
        climbs out ('..', '.'), a key longer than S3 allows or with a part longer than a file
        name, and a bucket that is not an S3 bucket name are refused."""
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise StoreError("not an S3 URI: %r" % (uri,))
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not BUCKET_NAME.match(bucket):
            raise StoreError(
                "%r: %r is not an S3 bucket name (3-63 lower-case letters, digits, '.' and "
                "'-')" % (uri, bucket)
            )
        parts = key.split("/")
        size = len(key.encode("utf-8", "replace"))
        if size > KEY_BYTES:
            raise StoreError(
                "s3://%s/%s... is a key of %d bytes: an S3 key is at most %d bytes"
                % (bucket, key[:40], size, KEY_BYTES)
            )
        if any(len(p.encode("utf-8", "replace")) > SEGMENT_BYTES for p in parts):
            raise StoreError(
                "s3://%s/%s...: a part of a key between '/' is at most %d bytes in the local "
                "store (it is a file name there)" % (bucket, key[:40], SEGMENT_BYTES)
            )
        if "\x00" in key:  # no file can be named so
            raise StoreError("%r: a key of the local store may not hold a NUL byte" % (uri,))
        if key.startswith("/") or any(p in (".", "..") for p in parts):
            raise StoreError(
                "%r: a key may not start with '/' or hold '.' or '..' (it would leave the "
                "bucket); write s3://%s/<key>" % (uri, bucket)
            )
        path = self.root.joinpath(bucket, *[p for p in parts if p])
        if not path.resolve().is_relative_to(self.root.resolve()):  # a link out of the store
            raise StoreError("%r leads outside the local store %s" % (uri, self.root))
        return path

    def file(self, uri: str) -> Path:
        """The file of an existing object (read it in place, without loading it whole)."""
        path = self.path(uri)
        if not path.is_file():
            raise StoreError("no object at %s (local store %s)" % (uri, path))
        return path

    def put_bytes(self, uri: str, data: bytes) -> None:
        write_bytes_atomic(self.path(uri), data)

    def put_file(self, uri: str, source: Union[str, Path]) -> None:
        copy_atomic(source, self.path(uri))

    def read_bytes(self, uri: str) -> bytes:
        return self.file(uri).read_bytes()

    def exists(self, uri: str) -> bool:
        return self.path(uri).exists()

    def objects(self, prefix: str) -> dict[str, Path]:
        """{relative name: file} of every object whose key starts with `prefix`, as S3Prefix
        inputs select them: a prefix ending in / is a folder; otherwise a file of that exact
        key, or a folder of that name."""
        base = self.path(prefix)
        if prefix.endswith("/") or base.is_dir():
            if not base.is_dir():
                return {}
            return {
                str(p.relative_to(base)): p
                for p in sorted(base.rglob("*"))
                if p.is_file() and not is_temporary(p.name)
            }
        if base.is_file():
            return {base.name: base}
        return {}

    def upload_folder(self, folder: Union[str, Path], prefix: str) -> None:
        """Copy a job's output folder under `prefix` (relative paths kept; links not followed,
        as SageMaker does not follow them)."""
        folder = Path(folder)
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                self.put_file(prefix.rstrip("/") + "/" + str(path.relative_to(folder)), path)
