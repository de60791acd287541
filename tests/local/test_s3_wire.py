"""S3's REST wire protocol over the local store (pipelines/local/s3wire), reached over real HTTP
by unmodified boto3, the SageMaker SDK and raw requests, written from the S3 API reference:

- PutObject, GetObject, HeadObject, CopyObject, DeleteObject(s):
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (and API_GetObject.html,
  API_HeadObject.html, API_CopyObject.html, API_DeleteObjects.html)
- ListObjectsV2 / ListObjects: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
- Multipart: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html (5 MiB parts, 10,000 parts)
- Errors: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
- aws-chunked with a trailing checksum:
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html and
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html

Every test runs in this process (the server on a thread) and is marked fast, but the last one:
it runs one scenario against the wire layer and a moto server and compares what
boto3 hands back."""

import base64
import hashlib
import http.client
import io
import os
import re
import zlib
from urllib.parse import urlsplit

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from pipelines.local.s3wire import S3Server

MB = 1024 * 1024
TRANSFER = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
RFC7231 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def s3_client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("s3wire")


@pytest.fixture(scope="module")
def server(home):
    with S3Server(home) as s3:
        yield s3


@pytest.fixture(scope="module")
def s3(server):
    client = s3_client(server.url)
    client.create_bucket(Bucket="wire")
    return client


def raw(server, method, path, body=b"", headers=None):
    """One request over http.client: (status, headers, body)."""
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def code_of(error):
    return error.value.response["Error"]["Code"]


def md5_etag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------- objects


@pytest.mark.fast
def test_put_get_head_answer_what_s3_answers(s3):
    data = b"churn,label\n1,0\n"
    put = s3.put_object(Bucket="wire", Key="data/train.csv", Body=data)
    assert put["ETag"] == md5_etag(data)  # a single-part object's ETag is its MD5
    got = s3.get_object(Bucket="wire", Key="data/train.csv")
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data) and got["ETag"] == put["ETag"]
    headers = got["ResponseMetadata"]["HTTPHeaders"]
    assert RFC7231.match(headers["last-modified"]), headers["last-modified"]
    assert headers["x-amz-request-id"] and headers["content-length"] == str(len(data))
    head = s3.head_object(Bucket="wire", Key="data/train.csv")
    assert head["ContentLength"] == len(data) and head["ETag"] == put["ETag"]
    assert head["LastModified"] == got["LastModified"]


@pytest.mark.fast
def test_put_answers_the_flexible_checksum_back(s3):
    """botocore 1.36+ sends a CRC32 by default (x-amz-checksum-crc32 over http); S3 answers it
    back."""
    data = b"x" * 1000
    put = s3.put_object(Bucket="wire", Key="sum", Body=data)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert put["ChecksumCRC32"] == crc
    sha = s3.put_object(Bucket="wire", Key="sum", Body=data, ChecksumAlgorithm="SHA256")
    assert sha["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.fast
def test_range_get(s3):
    s3.put_object(Bucket="wire", Key="range", Body=b"0123456789")
    part = s3.get_object(Bucket="wire", Key="range", Range="bytes=2-5")
    assert part["Body"].read() == b"2345" and part["ContentRange"] == "bytes 2-5/10"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    tail = s3.get_object(Bucket="wire", Key="range", Range="bytes=-3")
    assert tail["Body"].read() == b"789"
    rest = s3.get_object(Bucket="wire", Key="range", Range="bytes=7-")
    assert rest["Body"].read() == b"789"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="wire", Key="range", Range="bytes=10-")
    assert code_of(e) == "InvalidRange"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


@pytest.mark.fast
def test_conditional_get(s3):
    etag = s3.put_object(Bucket="wire", Key="cond", Body=b"c")["ETag"]
    assert s3.get_object(Bucket="wire", Key="cond", IfMatch=etag)["Body"].read() == b"c"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="wire", Key="cond", IfMatch='"0000"')
    assert code_of(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="wire", Key="cond", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


@pytest.mark.fast
def test_copy_delete_and_delete_objects(s3):
    s3.put_object(Bucket="wire", Key="copy/src", Body=b"abc")
    copied = s3.copy_object(
        Bucket="wire", Key="copy/dst", CopySource={"Bucket": "wire", "Key": "copy/src"}
    )
    assert copied["CopyObjectResult"]["ETag"] == md5_etag(b"abc")
    assert s3.get_object(Bucket="wire", Key="copy/dst")["Body"].read() == b"abc"
    s3.delete_object(Bucket="wire", Key="copy/src")
    s3.delete_object(Bucket="wire", Key="copy/src")  # S3 answers 204 for a missing key too
    for i in range(3):
        s3.put_object(Bucket="wire", Key="many/%d" % i, Body=b"m")
    answer = s3.delete_objects(
        Bucket="wire",
        Delete={"Objects": [{"Key": "many/%d" % i} for i in range(3)] + [{"Key": "copy/dst"}]},
    )
    assert sorted(d["Key"] for d in answer["Deleted"]) == ["copy/dst", "many/0", "many/1", "many/2"]
    assert s3.list_objects_v2(Bucket="wire", Prefix="many/")["KeyCount"] == 0
    quiet = s3.delete_objects(Bucket="wire", Delete={"Objects": [{"Key": "x"}], "Quiet": True})
    assert "Deleted" not in quiet


@pytest.mark.fast
def test_list_objects_v2_pages_and_common_prefixes(s3):
    keys = ["ls/a/1", "ls/a/2", "ls/b/1", "ls/c", "ls/d", "ls/e", "ls/f key+ü"]
    for key in keys:
        s3.put_object(Bucket="wire", Key=key, Body=key.encode())
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket="wire", Prefix="ls/", PaginationConfig={"PageSize": 2}
        )
    )
    assert len(pages) == 4 and all(p["KeyCount"] <= 2 for p in pages)
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == keys
    assert pages[0]["IsTruncated"] and not pages[-1]["IsTruncated"]
    grouped = s3.list_objects_v2(Bucket="wire", Prefix="ls/", Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["ls/a/", "ls/b/"]
    assert [o["Key"] for o in grouped["Contents"]] == keys[3:]
    assert grouped["KeyCount"] == 7 - 3 + 2
    after = s3.list_objects_v2(Bucket="wire", Prefix="ls/", StartAfter="ls/d")
    assert [o["Key"] for o in after["Contents"]] == keys[5:]
    sizes = {o["Key"]: o["Size"] for o in after["Contents"]}
    assert sizes["ls/f key+ü"] == len("ls/f key+ü".encode())


@pytest.mark.fast
def test_list_objects_v1_markers(s3):
    """ListObjects (v1): Marker, and NextMarker when a delimiter is given."""
    keys = ["v1/%d" % i for i in range(5)]
    for key in keys:
        s3.put_object(Bucket="wire", Key=key, Body=b"v")
    first = s3.list_objects(Bucket="wire", Prefix="v1/", MaxKeys=2, Delimiter="|")
    assert [o["Key"] for o in first["Contents"]] == keys[:2] and first["IsTruncated"]
    assert first["NextMarker"] == "v1/1"
    second = s3.list_objects(Bucket="wire", Prefix="v1/", Marker=first["NextMarker"])
    assert [o["Key"] for o in second["Contents"]] == keys[2:]
    pages = s3.get_paginator("list_objects").paginate(
        Bucket="wire", Prefix="v1/", PaginationConfig={"PageSize": 2}
    )
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys


@pytest.mark.fast
def test_buckets(s3):
    s3.create_bucket(Bucket="wire-two")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert {"wire", "wire-two"} <= set(names)
    s3.head_bucket(Bucket="wire-two")
    assert s3.get_bucket_location(Bucket="wire")["LocationConstraint"] is None  # us-east-1
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="wire-two")
    assert code_of(e) == "BucketAlreadyOwnedByYou"


# ---------------------------------------------------------------- multipart


@pytest.mark.fast
def test_multipart_upload_file_and_download_file(s3, tmp_path):
    data = os.urandom(12 * MB)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    s3.upload_file(str(source), "wire", "big/big.bin", Config=TRANSFER)
    head = s3.head_object(Bucket="wire", Key="big/big.bin")
    parts = [data[i : i + 5 * MB] for i in range(0, len(data), 5 * MB)]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert head["ETag"] == '"%s-3"' % expected and head["ContentLength"] == len(data)
    listed = s3.list_objects_v2(Bucket="wire", Prefix="big/")["Contents"][0]
    assert listed["ETag"] == head["ETag"]
    target = tmp_path / "back.bin"
    s3.download_file("wire", "big/big.bin", str(target), Config=TRANSFER)  # ranged, If-Match
    assert target.read_bytes() == data


@pytest.mark.fast
def test_multipart_refusals(s3):
    upload = s3.create_multipart_upload(Bucket="wire", Key="mp")["UploadId"]
    small = s3.upload_part(Bucket="wire", Key="mp", UploadId=upload, PartNumber=1, Body=b"a")
    last = s3.upload_part(Bucket="wire", Key="mp", UploadId=upload, PartNumber=2, Body=b"b")
    listed = s3.list_parts(Bucket="wire", Key="mp", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed] == [
        (1, 1, small["ETag"]),
        (2, 1, last["ETag"]),
    ]
    parts = [
        {"PartNumber": 1, "ETag": small["ETag"]},
        {"PartNumber": 2, "ETag": last["ETag"]},
    ]
    with pytest.raises(ClientError) as e:  # every part but the last is at least 5 MiB
        s3.complete_multipart_upload(
            Bucket="wire", Key="mp", UploadId=upload, MultipartUpload={"Parts": parts}
        )
    assert code_of(e) == "EntityTooSmall"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="wire", Key="mp", UploadId=upload,
            MultipartUpload={"Parts": parts[::-1]},
        )  # fmt: skip
    assert code_of(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="wire", Key="mp", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]},
        )  # fmt: skip
    assert code_of(e) == "InvalidPart"
    one = s3.complete_multipart_upload(
        Bucket="wire", Key="mp", UploadId=upload, MultipartUpload={"Parts": parts[1:]}
    )
    assert s3.get_object(Bucket="wire", Key="mp")["Body"].read() == b"b"
    assert one["ETag"].endswith('-1"')
    assert s3.head_object(Bucket="wire", Key="mp")["ETag"] == one["ETag"]
    s3.put_object(Bucket="wire", Key="mp", Body=b"b")  # replaced: its ETag is an MD5 again
    assert s3.head_object(Bucket="wire", Key="mp")["ETag"] == md5_etag(b"b")
    with pytest.raises(ClientError) as e:  # completed: the upload is gone
        s3.abort_multipart_upload(Bucket="wire", Key="mp", UploadId=upload)
    assert code_of(e) == "NoSuchUpload"
    other = s3.create_multipart_upload(Bucket="wire", Key="mp2")["UploadId"]
    s3.abort_multipart_upload(Bucket="wire", Key="mp2", UploadId=other)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="wire", Key="mp2", UploadId=other, PartNumber=1, Body=b"x")
    assert code_of(e) == "NoSuchUpload"


# ---------------------------------------------------------------- errors


@pytest.mark.fast
def test_errors_are_s3s_codes(s3, server):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="wire", Key="missing")
    assert code_of(e) == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="no-such-bucket", Key="k")
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="no-such-bucket")
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:  # a HEAD's answer has no body: the status is the code
        s3.head_object(Bucket="wire", Key="missing")
    assert code_of(e) == "404"
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="no-such-bucket")
    assert code_of(e) == "404"
    s3.create_bucket(Bucket="wire-kept")
    for call in (
        lambda: s3.put_object(Bucket="wire", Key="k", Body=b"x", ACL="public-read"),
        lambda: s3.put_object(Bucket="wire", Key="k", Body=b"x", ServerSideEncryption="aws:kms"),
        lambda: s3.get_bucket_versioning(Bucket="wire"),
        lambda: s3.get_object(Bucket="wire", Key="k", VersionId="v1"),
        lambda: s3.delete_bucket(Bucket="wire-kept"),  # the twin has no DeleteBucket
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == "NotImplemented", e.value
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    status, headers, body = raw(server, "GET", "/wire/missing")
    assert status == 404 and headers["Content-Type"] == "application/xml"
    assert (
        b"<Code>NoSuchKey</Code>" in body
        and b"<RequestId>" in body
        and b"<Key>missing</Key>" in body
    )
    status, _, body = raw(server, "HEAD", "/wire/missing")
    assert status == 404 and body == b""
    # boto3 needs awscrt to send CRC32C; the standard library has no CRC32C to check it with
    status, _, body = raw(server, "PUT", "/wire/k", b"x", {"x-amz-checksum-crc32c": "AAAAAA=="})
    assert status == 501 and b"CRC32C" in body
    status, _, body = raw(server, "PATCH", "/wire/k")
    assert status == 405 and b"<Code>MethodNotAllowed</Code>" in body


@pytest.mark.fast
def test_put_needs_content_length_and_bounded_headers(server, s3):
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.putrequest("PUT", "/wire/nolength")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 411 and b"MissingContentLength" in response.read()
    connection.close()
    status, _, body = raw(server, "GET", "/wire/k", headers={"x-amz-meta-a": "a" * 20000})
    assert status == 400 and b"RequestHeaderSectionTooLarge" in body


@pytest.mark.fast
def test_digests_are_checked(server, s3):
    data = b"digest me"
    status, _, body = raw(server, "PUT", "/wire/d", data, {"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()})  # fmt: skip
    assert status == 400 and b"<Code>BadDigest</Code>" in body
    status, _, body = raw(server, "PUT", "/wire/d", data, {"x-amz-content-sha256": hashlib.sha256(b"other").hexdigest()})  # fmt: skip
    assert status == 400 and b"XAmzContentSHA256Mismatch" in body
    status, _, body = raw(server, "PUT", "/wire/d", data, {"x-amz-checksum-crc32": "AAAAAA=="})
    assert status == 400 and b"<Code>BadDigest</Code>" in body
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="wire", Key="d")
    assert code_of(e) == "NoSuchKey"  # nothing was written


def _aws_chunked(data, trailer, size=4, signed=False):
    out = b""
    for i in range(0, len(data), size):
        chunk = data[i : i + size]
        ext = b";chunk-signature=" + b"0" * 64 if signed else b""
        out += b"%x" % len(chunk) + ext + b"\r\n" + chunk + b"\r\n"
    out += b"0" + (b";chunk-signature=" + b"0" * 64 if signed else b"") + b"\r\n"
    for name, value in trailer.items():
        out += ("%s:%s\r\n" % (name, value)).encode()
    return out + b"\r\n"


@pytest.mark.fast
@pytest.mark.parametrize("signed", [False, True])
def test_aws_chunked_body_with_a_trailing_checksum(server, s3, signed):
    """What botocore sends over https (and the CLI may send): Content-Encoding: aws-chunked,
    x-amz-decoded-content-length, the CRC32 in a trailer after the last chunk."""
    data = b"an aws-chunked body of several chunks"
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    }
    body = _aws_chunked(data, {"x-amz-checksum-crc32": crc}, signed=signed)
    status, answer, _ = raw(server, "PUT", "/wire/chunked", body, headers)
    assert status == 200 and answer["x-amz-checksum-crc32"] == crc
    assert answer["ETag"] == md5_etag(data)
    assert s3.get_object(Bucket="wire", Key="chunked")["Body"].read() == data
    bad = _aws_chunked(b"x" * len(data), {"x-amz-checksum-crc32": crc}, signed=signed)
    status, _, answer_body = raw(server, "PUT", "/wire/chunked", bad, headers)
    assert status == 400 and b"BadDigest" in answer_body
    assert s3.get_object(Bucket="wire", Key="chunked")["Body"].read() == data


@pytest.mark.fast
def test_botocores_own_aws_chunked_encoding(server, s3):
    """The framing botocore writes for a trailing checksum (its AwsChunkedWrapper, used over
    https), decoded here: several chunks, a CRC32 and a SHA256 trailer."""
    from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, Sha256Checksum

    data = os.urandom(300_000)
    for checksum, name in ((Crc32Checksum, "crc32"), (Sha256Checksum, "sha256")):
        wrapper = AwsChunkedWrapper(
            io.BytesIO(data), checksum_cls=checksum,
            checksum_name="x-amz-checksum-" + name, chunk_size=64 * 1024,
        )  # fmt: skip
        body = wrapper.read()
        headers = {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
            "x-amz-trailer": "x-amz-checksum-" + name,
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
        status, answer, _ = raw(server, "PUT", "/wire/botocore-chunked", body, headers)
        assert status == 200, name
        expected = checksum()
        expected.update(data)
        assert answer["x-amz-checksum-" + name] == expected.b64digest()
        assert s3.get_object(Bucket="wire", Key="botocore-chunked")["Body"].read() == data
    short = dict(headers, **{"x-amz-decoded-content-length": str(len(data) + 1)})
    status, _, answer_body = raw(server, "PUT", "/wire/botocore-chunked", body, short)
    assert status == 400 and b"IncompleteBody" in answer_body


@pytest.mark.fast
def test_refused_before_the_body_is_sent(s3):
    """botocore sends `Expect: 100-continue` with a large PutObject: a request refused before
    its body is read (NoSuchBucket, NotImplemented) is answered without waiting for the body,
    and the client's next call works."""
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x" * (6 * MB))
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="wire", Key="k", Body=b"x" * (6 * MB), ACL="private")
    assert code_of(e) == "NotImplemented"
    s3.put_object(Bucket="wire", Key="after", Body=b"x" * (2 * MB))
    assert s3.head_object(Bucket="wire", Key="after")["ContentLength"] == 2 * MB


@pytest.mark.fast
def test_hostile_requests_get_s3_error_answers(server, s3):
    """Whatever arrives gets an S3 XML error, never an HTML page or a dropped connection."""
    cases = [
        ("PUT", "/wire/te", b"", {"Transfer-Encoding": "chunked"}, 501, b"NotImplemented"),
        ("PUT", "/wire/cl", b"x", {"Content-Length": "1x"}, 400, b"InvalidArgument"),
        ("GET", "/wire/k?acl", b"", {}, 501, b"NotImplemented"),
        ("GET", "/wire?versions", b"", {}, 501, b"NotImplemented"),
        ("POST", "/wire?delete", b"<not xml", {}, 400, b"MalformedXML"),
        ("POST", "/wire/k", b"", {}, 501, b"NotImplemented"),
        ("DELETE", "/", b"", {}, 405, b"MethodNotAllowed"),
        ("GET", "/wire?max-keys=lots", b"", {}, 400, b"InvalidArgument"),
        ("GET", "/" + "a" * 70000, b"", {}, 400, b"<Error>"),
        # over 5 GiB: refused from the header, the body never read
        ("PUT", "/wire/huge", b"", {"Content-Length": str(6 * 1024**3)}, 400, b"EntityTooLarge"),
    ]
    for method, path, body, headers, status, marker in cases:
        url = urlsplit(server.url)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        answer = response.read()
        connection.close()
        assert (response.status, marker in answer) == (status, True), (
            method,
            path[:40],
            answer[:200],
        )


@pytest.mark.fast
def test_keys_cannot_leave_the_store(server, s3, home):
    for key in ("../escape", "a/../../escape", "/abs"):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket="wire", Key=key, Body=b"x")
        assert code_of(e) == "InvalidArgument", key
    for path in ("/wire/..%2F..%2Fescape", "/wire/%2E%2E/escape", "/wire//abs", "/../escape"):
        status, _, _ = raw(server, "PUT", path, b"x")
        assert status in (400, 404), path
    assert not any(p.name == "escape" for p in home.parent.rglob("escape"))
    assert not (home / "escape").exists() and not (home / "s3" / "escape").exists()


@pytest.mark.fast
def test_a_stalled_body_is_a_request_timeout(home):
    """A client that stops sending before its Content-Length is answered RequestTimeout
    (400) once the server's idle time passes, and its connection closed."""
    import socket

    with S3Server(home, idle_seconds=0.5) as server:
        s3_client(server.url).create_bucket(Bucket="stall")
        url = urlsplit(server.url)
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            sock.sendall(b"PUT /stall/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            answer = b""
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
    assert answer.startswith(b"HTTP/1.1 400") and b"<Code>RequestTimeout</Code>" in answer
    assert b"Connection: close" in answer


@pytest.mark.fast
def test_many_clients_at_once(server, s3):
    """One client per thread (boto3 clients are thread-safe; each gets its own here), all
    writing and reading at once: every call answered, every object whole."""
    from concurrent.futures import ThreadPoolExecutor

    def work(i):
        client = s3_client(server.url)
        data = os.urandom(64 * 1024 + i)
        client.put_object(Bucket="wire", Key="crowd/%d" % i, Body=data)
        return client.get_object(Bucket="wire", Key="crowd/%d" % i)["Body"].read() == data

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(work, range(32)))


@pytest.mark.fast
def test_binds_loopback_unless_asked(home):
    with pytest.raises(ValueError):
        S3Server(home, host="0.0.0.0")


# ---------------------------------------------------------------- the SageMaker SDK


@pytest.mark.fast
def test_sagemaker_sdk_upload_data_and_s3_downloader(server, s3, tmp_path, monkeypatch):
    """The SDK's own S3 helpers, unchanged, with only AWS_ENDPOINT_URL_S3 pointing here."""
    os.environ.setdefault(
        "SAGEMAKER_SUPPRESS_V2_WARNING", "1"
    )  # as tests/local/test_lambda_step.py
    from sagemaker.s3 import S3Downloader, S3Uploader
    from sagemaker.session import Session

    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    s3.create_bucket(Bucket="sdk-bucket")
    boto_session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    session = Session(boto_session=boto_session, default_bucket="sdk-bucket")
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "train.csv").write_text("a,b\n1,2\n")
    (folder / "sub" / "big.bin").write_bytes(os.urandom(6 * MB))  # over 5 MB
    uri = session.upload_data(str(folder), bucket="sdk-bucket", key_prefix="inputs")
    assert uri == "s3://sdk-bucket/inputs"
    listed = S3Downloader.list(uri, sagemaker_session=session)
    assert sorted(listed) == [
        "s3://sdk-bucket/inputs/sub/big.bin",
        "s3://sdk-bucket/inputs/train.csv",
    ]
    assert S3Downloader.read_file(uri + "/train.csv", sagemaker_session=session) == "a,b\n1,2\n"
    S3Uploader.upload_string_as_file_body("hello", uri + "/hello.txt", sagemaker_session=session)
    back = tmp_path / "back"
    S3Downloader.download(uri, str(back), sagemaker_session=session)
    assert (back / "train.csv").read_text() == "a,b\n1,2\n"
    assert (back / "sub" / "big.bin").read_bytes() == (folder / "sub" / "big.bin").read_bytes()
    assert (back / "hello.txt").read_text() == "hello"


# ---------------------------------------------------------------- the same as moto's S3


def _scenario(client, bucket, tmp_path):
    """What boto3 hands back for one scenario, without what differs by nature (dates, request
    ids, owners)."""
    seen = {}
    client.create_bucket(Bucket=bucket)
    seen["put"] = client.put_object(Bucket=bucket, Key="a/one.txt", Body=b"one")["ETag"]
    client.put_object(Bucket=bucket, Key="a/b/two.txt", Body=b"two" * 100)
    client.put_object(Bucket=bucket, Key="c.txt", Body=b"")
    data = hashlib.sha256(b"seed").digest() * (12 * MB // 32)
    (tmp_path / "big.bin").write_bytes(data)
    client.upload_file(str(tmp_path / "big.bin"), bucket, "big.bin", Config=TRANSFER)
    head = client.head_object(Bucket=bucket, Key="big.bin")
    seen["multipart"] = (head["ETag"], head["ContentLength"])
    listing = client.list_objects_v2(Bucket=bucket)
    seen["keys"] = [(o["Key"], o["Size"], o["ETag"]) for o in listing["Contents"]]
    grouped = client.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2)
    seen["grouped"] = (
        [o["Key"] for o in grouped.get("Contents", [])],
        [p["Prefix"] for p in grouped.get("CommonPrefixes", [])],
        grouped["IsTruncated"],
        grouped["KeyCount"],
    )
    seen["range"] = client.get_object(Bucket=bucket, Key="a/b/two.txt", Range="bytes=3-8")[
        "Body"
    ].read()
    copied = client.copy_object(
        Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "a/one.txt"}
    )
    seen["copy"] = copied["CopyObjectResult"]["ETag"]
    deleted = client.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "copy.txt"}, {"Key": "c.txt"}]}
    )
    seen["deleted"] = sorted(d["Key"] for d in deleted["Deleted"])
    errors = []
    for call in (
        lambda: client.get_object(Bucket=bucket, Key="nope"),
        lambda: client.head_object(Bucket=bucket, Key="nope"),
        lambda: client.get_object(Bucket=bucket + "-none", Key="k"),
        lambda: client.list_objects_v2(Bucket=bucket + "-none"),
        lambda: client.get_object(Bucket=bucket, Key="a/one.txt", Range="bytes=50-"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        errors.append((code_of(e), e.value.response["ResponseMetadata"]["HTTPStatusCode"]))
    seen["errors"] = errors
    target = tmp_path / "back.bin"
    client.download_file(bucket, "big.bin", str(target), Config=TRANSFER)
    seen["download"] = hashlib.md5(target.read_bytes()).hexdigest()
    return seen


def test_boto3_sees_what_it_sees_on_moto(server, moto_server, tmp_path):
    (tmp_path / "ours").mkdir()
    (tmp_path / "moto").mkdir()
    ours = _scenario(s3_client(server.url), "same-scenario", tmp_path / "ours")
    theirs = _scenario(s3_client(moto_server), "same-scenario", tmp_path / "moto")
    assert ours == theirs
