"""S3's error answers on the wire: a code, a message and the HTTP status the S3 API reference's
"Error responses" page lists for it."""

from typing import Dict, Optional

# The statuses of the codes this layer answers itself (the twin's ClientErrors carry theirs).
STATUS = {
    "AccessDenied": 403,
    "BadDigest": 400,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "IncompleteBody": 400,
    "InternalError": 500,
    "InvalidArgument": 400,
    "InvalidDigest": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidRange": 416,
    "InvalidRequest": 400,
    "MalformedXML": 400,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchUpload": 404,
    "NotImplemented": 501,
    "PreconditionFailed": 412,
    "RequestHeaderSectionTooLarge": 400,
    "RequestTimeout": 400,
    "XAmzContentSHA256Mismatch": 400,
}


class S3Error(Exception):
    """An S3 error answer: `<Error><Code>..</Code><Message>..</Message>...</Error>` with
    `status` (HEAD answers carry the status alone); `extra` are more members of <Error>
    (Key, BucketName, ActualObjectSize, ...)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: Optional[int] = None,
        extra: Optional[Dict[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS.get(code, 400)
        self.extra = dict(extra or {})


def not_implemented(what: str) -> S3Error:
    return S3Error(
        "NotImplemented",
        "A header or query you provided implies functionality that is not implemented by "
        "the local S3 store: %s" % what,
    )
