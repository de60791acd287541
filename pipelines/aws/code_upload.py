"""Put the content-hashed code bundles (pipelines/churn/bundles.py) into S3."""

from typing import Any, Mapping, Protocol


class Bundle(Protocol):
    """What upload needs of a CodeBundle (pipelines/churn/bundles.py, a layer above)."""

    def prefix(self, bucket: str, key_prefix: str) -> str: ...

    def objects(self) -> dict[str, bytes]: ...


def upload(
    bundles: Mapping[str, Bundle], s3_client: Any, bucket: str, key_prefix: str
) -> list[str]:
    """Put every bundle object into S3 unless an object with that key exists (the key is a
    content hash, so an existing object holds the same bytes). Returns the keys written."""
    written = []
    for bundle in bundles.values():
        base = bundle.prefix(bucket, key_prefix)[len("s3://%s/" % bucket) :]
        for name, data in bundle.objects().items():
            key = "%s/%s" % (base, name)
            if not _exists(s3_client, bucket, key):
                s3_client.put_object(Bucket=bucket, Key=key, Body=data)
                written.append(key)
    return written


def _exists(s3_client: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3_client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
