"""What every operation of the wire layer shares: the twin's client, the home's scratch space
(<home>/s3-wire: bodies arriving, multipart uploads, the ETags of objects assembled from
parts), and the checks made before a body is read (the bucket exists, the key can be stored,
no header asks for what the local store cannot keep)."""

from pathlib import Path
from typing import Any, Dict, Mapping, Tuple

from botocore.exceptions import ClientError

from pipelines.errors import StoreError
from pipelines.local.s3_api import S3Client, unsupported
from pipelines.local.s3wire.errors import S3Error, not_implemented
from pipelines.local.s3wire.multipart import Etags, Uploads

# Request headers and the boto3 members they carry, for the refusals the twin makes.
MEMBERS = {
    "x-amz-acl": "ACL",
    "x-amz-grant-full-control": "GrantFullControl",
    "x-amz-grant-read": "GrantRead",
    "x-amz-grant-read-acp": "GrantReadACP",
    "x-amz-grant-write-acp": "GrantWriteACP",
    "x-amz-server-side-encryption": "ServerSideEncryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "SSEKMSKeyId",
    "x-amz-server-side-encryption-customer-key": "SSECustomerKey",
    "x-amz-object-lock-mode": "ObjectLockMode",
    "x-amz-object-lock-retain-until-date": "ObjectLockRetainUntilDate",
    "x-amz-object-lock-legal-hold": "ObjectLockLegalHoldStatus",
}
MAX_OBJECT = 5 * 1024**3  # a PutObject body


class Context(object):
    def __init__(self, client: S3Client) -> None:
        self.client = client
        self.store = client.store
        self.scratch = self.store.root.parent / "s3-wire"
        self.incoming = self.scratch / "incoming"
        self.uploads = Uploads(self.scratch / "uploads")
        self.etags = Etags(self.scratch / "etags")

    def require_bucket(self, bucket: str) -> None:
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError:
            raise no_such_bucket(bucket) from None

    def target(self, bucket: str, key: str) -> Tuple[str, Path]:
        """The object's URI and file, once its bucket is known to exist and the key can be
        kept in the store (never a path outside it)."""
        self.require_bucket(bucket)
        uri = "s3://%s/%s" % (bucket, key)
        try:
            return uri, self.store.path(uri)
        except StoreError as e:
            raise S3Error("InvalidArgument", str(e)) from None

    def etag(self, uri: str, path: Path, computed: str) -> str:
        return self.etags.of(uri, path, computed)

    def members(self, headers: Mapping[str, str]) -> Dict[str, Any]:
        """The boto3 members the headers set that the twin would refuse: refused here, before
        the body is read."""
        given = {m: headers[h] for h, m in MEMBERS.items() if headers.get(h)}
        refused = unsupported(given)
        if refused:
            raise not_implemented(", ".join(refused))
        return given


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error(
        "NoSuchBucket", "The specified bucket does not exist", extra={"BucketName": bucket}
    )
