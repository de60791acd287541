"""S3 calls the commands share, each taking an `s3` client."""

import json
from pathlib import Path
from typing import Any, Optional

from pipelines.aws.errors import aws_errors
from pipelines.errors import UserError


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of s3://bucket/key."""
    bucket, _, key = uri[len("s3://") :].partition("/") if uri.startswith("s3://") else ("", "", "")
    if not bucket:
        raise UserError("%r is not an s3://bucket/prefix URI" % uri)
    return bucket, key


def download_prefix(s3: Any, uri: str, folder: Path) -> Path:
    """The objects under an S3 prefix, into `folder` (their keys below the prefix as paths; a
    key that would lead out of `folder` is skipped). Returns `folder`."""
    bucket, prefix = split_s3_uri(uri)
    with aws_errors("%s: " % uri):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                target = folder / item["Key"][len(prefix) :].lstrip("/")
                if ".." in target.parts:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(target))
    return folder


def read_json(s3: Any, uri: str) -> Optional[Any]:
    """The object at `uri` parsed as JSON; None when there is no such object or it is not JSON
    (other failures, a refused read, raise)."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise
    try:
        return json.loads(body)
    except ValueError:
        return None
