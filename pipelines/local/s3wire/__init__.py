"""S3's REST wire protocol over the local store (docs/adr/0014): unchanged boto3, the SageMaker
SDK's S3 helpers and the AWS CLI reach the home's objects with
AWS_ENDPOINT_URL_S3=http://127.0.0.1:<port>.

- handler.S3Wire answers one request (a bigger server can mount it); server.S3Server serves
  it on a loopback port.
- Every operation is answered through the S3 twin's client (pipelines/local/s3_api.py), so the
  wire and in-process callers see the same store, refusals and errors.
- Signatures are NOT verified: any credentials are accepted (hence loopback only by default).
- Served: ListBuckets, CreateBucket, HeadBucket, GetBucketLocation, ListObjectsV2, ListObjects,
  PutObject, GetObject (Range, conditions), HeadObject, DeleteObject, DeleteObjects,
  CopyObject, CreateMultipartUpload, UploadPart, ListParts, CompleteMultipartUpload,
  AbortMultipartUpload. NotImplemented (501): DeleteBucket, versions, ACLs, SSE-KMS, object
  lock, tagging, UploadPartCopy, ListMultipartUploads, CRC32C/CRC64NVME checksums and every
  other subresource.
"""

from pipelines.local.s3wire.handler import S3Wire
from pipelines.local.s3wire.messages import WireResponse
from pipelines.local.s3wire.server import ENDPOINT_VARIABLE, S3Server

__all__ = ["ENDPOINT_VARIABLE", "S3Server", "S3Wire", "WireResponse"]
