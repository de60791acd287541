"""What the wire layer hands back for one request: a status, headers and a body (bytes, or an
iterator of blocks for an object read from the store), independent of the HTTP server that
writes it, so a bigger server can mount the layer (S3Wire.handle) beside other services."""

import email.utils
import uuid
from dataclasses import dataclass, field
from typing import Iterable, Iterator, List, Optional, Tuple, Union

from pipelines.local.s3wire.bodies import error_document
from pipelines.local.s3wire.errors import S3Error

Headers = List[Tuple[str, str]]


@dataclass
class WireResponse:
    status: int
    headers: Headers = field(default_factory=list)
    body: Union[bytes, Iterable[bytes]] = b""
    length: Optional[int] = None  # Content-Length: len(body) when body is bytes

    def content_length(self) -> int:
        if self.length is not None:
            return self.length
        return len(self.body) if isinstance(self.body, bytes) else 0

    def blocks(self) -> Iterator[bytes]:
        if isinstance(self.body, bytes):
            if self.body:
                yield self.body
        else:
            yield from self.body

    def close(self) -> None:
        """Release an unread body (the object's file) when the answer is not sent whole."""
        closer = getattr(self.body, "close", None)
        if closer is not None and not isinstance(self.body, bytes):
            closer()


def request_id() -> str:
    return uuid.uuid4().hex[:16].upper()


def xml(status: int, body: bytes, headers: Optional[Headers] = None) -> WireResponse:
    return WireResponse(status, [("Content-Type", "application/xml")] + list(headers or []), body)


def empty(status: int = 200, headers: Optional[Headers] = None) -> WireResponse:
    return WireResponse(status, list(headers or []), b"")


def error(e: S3Error, rid: str, head: bool) -> WireResponse:
    """S3's error answer; a HEAD's carries the status and headers alone."""
    if head:
        return WireResponse(e.status, [], b"")
    return xml(e.status, error_document(e.code, e.message, rid, e.extra))


def stamp(response: WireResponse, rid: str) -> WireResponse:
    """The headers every S3 answer carries."""
    response.headers += [
        ("x-amz-request-id", rid),
        ("x-amz-id-2", rid),
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Server", "AmazonS3"),
    ]
    return response
