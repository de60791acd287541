"""The S3 twin (pipelines/local/s3_api.py) is boto3's `s3` client over the home's store: the calls
the template makes, answered and refused as the S3 API reference documents them, and one
scenario run through the same pipelines/aws/ functions against a moto server and the twin.

References: https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html, API_GetObject,
API_HeadObject, API_ListObjectsV2, API_CopyObject, API_DeleteObject, API_CreateBucket,
API_HeadBucket, and "Error responses" (https://docs.aws.amazon.com/AmazonS3/latest/API/
ErrorResponses.html: NoSuchBucket and NoSuchKey are 404; a HEAD answer has no body, so the SDKs
report its status, 404, as the code).
"""

import hashlib

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from pipelines.aws.code_upload import upload
from pipelines.aws.s3 import download_prefix
from pipelines.churn.bundles import build_bundles
from pipelines.local.s3 import Store
from pipelines.local.s3_api import S3Client

from conftest import aws_client


@pytest.fixture
def s3(tmp_path):
    client = S3Client(Store(tmp_path / "home"))
    client.create_bucket(Bucket="churn-test")
    return client


def error_of(call, **request):
    with pytest.raises(ClientError) as raised:
        call(**request)
    return raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


@pytest.mark.fast
def test_an_object_is_put_read_headed_and_deleted_as_s3_does(s3):
    put = s3.put_object(Bucket="churn-test", Key="a/b.csv", Body=b"x,y\n1,2\n")
    # PutObject's ETag is the quoted MD5 of a single-part object (API_PutObject, "ETag").
    assert put["ETag"] == '"%s"' % hashlib.md5(b"x,y\n1,2\n").hexdigest()
    got = s3.get_object(Bucket="churn-test", Key="a/b.csv")
    assert got["Body"].read() == b"x,y\n1,2\n" and got["ContentLength"] == 8
    assert s3.head_object(Bucket="churn-test", Key="a/b.csv")["ETag"] == put["ETag"]
    s3.delete_object(Bucket="churn-test", Key="a/b.csv")
    # DeleteObject of a key that is not there succeeds too (API_DeleteObject).
    s3.delete_object(Bucket="churn-test", Key="a/b.csv")
    assert error_of(s3.get_object, Bucket="churn-test", Key="a/b.csv") == ("NoSuchKey", 404)
    assert error_of(s3.head_object, Bucket="churn-test", Key="a/b.csv") == ("404", 404)


@pytest.mark.fast
def test_a_bucket_that_does_not_exist_is_refused_not_made(s3):
    assert error_of(s3.put_object, Bucket="no-such-bucket", Key="k", Body=b"") == (
        "NoSuchBucket",
        404,
    )
    assert error_of(s3.list_objects_v2, Bucket="no-such-bucket") == ("NoSuchBucket", 404)
    assert error_of(s3.head_bucket, Bucket="no-such-bucket") == ("404", 404)
    assert error_of(s3.create_bucket, Bucket="churn-test") == ("BucketAlreadyOwnedByYou", 409)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["churn-test"]


@pytest.mark.fast
def test_requests_boto3_refuses_are_refused_before_they_reach_the_store(s3):
    with pytest.raises(ParamValidationError):
        s3.put_object(Bucket="churn-test", Body=b"")  # Key is required
    # A key that would leave the bucket is no S3 key the store can hold.
    assert error_of(s3.put_object, Bucket="churn-test", Key="../x", Body=b"")[0] == (
        "InvalidArgument"
    )


@pytest.mark.fast
def test_what_the_store_cannot_keep_is_refused_not_ignored(s3):
    code, status = error_of(
        s3.put_object,
        Bucket="churn-test",
        Key="k",
        Body=b"",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="alias/x",
    )
    assert (code, status) == ("NotImplemented", 501)
    assert error_of(s3.get_object, Bucket="churn-test", Key="k")[0] == "NoSuchKey"


@pytest.mark.fast
def test_list_objects_v2_pages_and_groups_by_delimiter(s3):
    for key in ("a/1", "a/2", "b/1", "c", "d"):
        s3.put_object(Bucket="churn-test", Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket="churn-test", Delimiter="/")
    assert [c["Prefix"] for c in listed["CommonPrefixes"]] == ["a/", "b/"]
    assert [c["Key"] for c in listed["Contents"]] == ["c", "d"]
    assert listed["KeyCount"] == 4 and not listed["IsTruncated"]
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket="churn-test", Prefix="a/", PaginationConfig={"PageSize": 1}
        )
    )
    assert [[c["Key"] for c in p["Contents"]] for p in pages] == [["a/1"], ["a/2"]]
    assert error_of(
        s3.list_objects_v2, Bucket="churn-test", ContinuationToken="!!not-a-token!!"
    ) == ("InvalidArgument", 400)


@pytest.mark.fast
def test_copy_object_takes_the_source_as_boto3_does(s3):
    s3.put_object(Bucket="churn-test", Key="from", Body=b"data")
    s3.copy_object(
        Bucket="churn-test", Key="to", CopySource={"Bucket": "churn-test", "Key": "from"}
    )
    s3.copy_object(Bucket="churn-test", Key="to2", CopySource="churn-test/from")
    for key in ("to", "to2"):
        assert s3.get_object(Bucket="churn-test", Key=key)["Body"].read() == b"data"
    assert error_of(
        s3.copy_object, Bucket="churn-test", Key="x", CopySource="churn-test/missing"
    ) == ("NoSuchKey", 404)


def _bundles_round_trip(s3, bucket, folder):
    """What `churn` does with code bundles and offline stores, through pipelines/aws/."""
    bundles = build_bundles()
    written = upload(bundles, s3, bucket, "code")
    again = upload(bundles, s3, bucket, "code")  # content-hashed keys: nothing to write
    download_prefix(s3, "s3://%s/code/" % bucket, folder)
    files = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    return sorted(k.split("/", 1)[1] for k in written), again, files


def test_the_same_upload_and_download_on_moto_and_on_the_twin(aws_env, bucket, s3, tmp_path):
    """pipelines/aws/code_upload.upload (HeadObject, PutObject) and pipelines/aws/s3.
    download_prefix (ListObjectsV2's paginator, download_file) against a moto server and the
    twin: the same keys written, nothing written twice, the same files back."""
    on_moto = _bundles_round_trip(aws_client("s3", aws_env), bucket, tmp_path / "moto")
    on_twin = _bundles_round_trip(s3, "churn-test", tmp_path / "twin")
    assert on_moto == on_twin
    assert on_twin[0] and on_twin[1] == [] and len(on_twin[2]) == len(on_twin[0])
