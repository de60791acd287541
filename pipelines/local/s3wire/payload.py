"""A request's body, streamed to a temporary file through a bounded buffer and checked as S3
checks it: Content-Length is required (411 MissingContentLength), `aws-chunked` framing is
decoded (its chunk-signature extensions are read, not verified) with its trailer, and the
digests the client sent are verified: Content-MD5 (BadDigest), an `x-amz-content-sha256` that
is a hex digest (XAmzContentSHA256Mismatch), and a flexible checksum `x-amz-checksum-<alg>`
in a header or in the aws-chunked trailer (BadDigest). CRC32, SHA1 and SHA256 are computed with
the standard library; CRC32C and CRC64NVME are not in it, so a body that carries one is
answered NotImplemented (botocore's default is CRC32)."""

import base64
import binascii
import hashlib
import os
import re
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Dict, Mapping, Optional, Protocol

from pipelines.local.s3wire.errors import S3Error, not_implemented

BLOCK = 1 << 20  # the bounded buffer a body passes through
LINE = 4096  # the longest aws-chunked chunk header or trailer line read
HEX = re.compile(r"^[0-9a-fA-F]{64}$")
CHUNK_HEADER = re.compile(rb"^([0-9a-fA-F]{1,16})(;[^\r\n]*)?\r\n$")


class _Hash(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32(object):
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


ALGORITHMS: Dict[str, Callable[[], _Hash]] = {
    "crc32": _Crc32,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}
REFUSED = ("crc32c", "crc64nvme")


@dataclass
class Received:
    """A body on disk: its file (the caller's to move or delete), size, MD5 and the flexible
    checksum header S3 answers back (name, base64 value), if one was asked for."""

    path: Path
    size: int
    md5: bytes
    checksum: Optional[tuple[str, str]]


def receive(headers: Mapping[str, str], stream: BinaryIO, folder: Path, limit: int) -> Received:
    """Read the body of a PUT from `stream` into a new file in `folder`, or raise S3Error (the
    file then removed). `limit` is the largest decoded body allowed (EntityTooLarge)."""
    if headers.get("Transfer-Encoding"):
        raise not_implemented("Transfer-Encoding: %s" % headers["Transfer-Encoding"])
    length = content_length(headers)
    if length is None:
        raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.")
    chunked = "aws-chunked" in headers.get("Content-Encoding", "").lower()
    declared = length
    if chunked:
        decoded = headers.get("x-amz-decoded-content-length", "")
        if not decoded.isdigit():
            raise S3Error(
                "MissingContentLength",
                "an aws-chunked body needs x-amz-decoded-content-length",
                411,
            )
        declared = int(decoded)
    if declared > limit:
        raise S3Error(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            extra={"ProposedSize": str(declared), "MaxSizeAllowed": str(limit)},
        )
    algorithm = _algorithm(headers)
    hashes: Dict[str, _Hash] = {"md5": hashlib.md5(usedforsecurity=False)}
    sha256 = headers.get("x-amz-content-sha256", "")
    if HEX.match(sha256):
        hashes["content-sha256"] = hashlib.sha256()
    if algorithm:
        hashes[algorithm] = ALGORITHMS[algorithm]()
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".body.", suffix=".tmp", dir=folder)
    path = Path(name)
    try:
        raw = _Bounded(stream, length)
        with os.fdopen(fd, "wb") as out:
            size, trailer = (_dechunk if chunked else _plain)(raw, out, hashes)
        if raw.left:
            raise S3Error("IncompleteBody", "the body is longer than its framing says")
        if size != declared:
            raise S3Error(
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length "
                "HTTP header (%d of %d)" % (size, declared),
            )
        checksum = _verify(headers, trailer, hashes, algorithm)
        return Received(path, size, hashes["md5"].digest(), checksum)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def content_length(headers: Mapping[str, str]) -> Optional[int]:
    text = headers.get("Content-Length")
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise S3Error("InvalidArgument", "Content-Length %r is not a number" % text[:40])
    return int(text)


def _algorithm(headers: Mapping[str, str]) -> Optional[str]:
    named = [
        k.lower()[len("x-amz-checksum-") :]
        for k in headers.keys()
        if k.lower().startswith("x-amz-checksum-") and k.lower() != "x-amz-checksum-type"
    ]
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer.startswith("x-amz-checksum-"):
        named.append(trailer[len("x-amz-checksum-") :])
    given = headers.get("x-amz-sdk-checksum-algorithm", "").lower()
    if given:
        named.append(given)
    for name in named:
        if name in REFUSED:
            raise not_implemented("the %s checksum (send CRC32, SHA1 or SHA256)" % name.upper())
        if name not in ALGORITHMS:
            raise S3Error("InvalidRequest", "unknown checksum algorithm %r" % name[:40])
    return named[0] if named else None


class _Bounded(object):
    """The next `left` bytes of a stream; reading past them, or a stream that ends first, is an
    IncompleteBody."""

    def __init__(self, stream: BinaryIO, left: int) -> None:
        self.stream = stream
        self.left = left

    def read(self, n: int) -> bytes:
        n = min(n, self.left)
        data = _timed(lambda: self.stream.read(n)) if n else b""
        if len(data) < n:
            raise S3Error("IncompleteBody", "the request body ended before its Content-Length")
        self.left -= len(data)
        return data

    def readline(self) -> bytes:
        line = _timed(lambda: self.stream.readline(min(LINE, self.left)))
        self.left -= len(line)
        if not line.endswith(b"\n"):
            raise S3Error("IncompleteBody", "an aws-chunked line is cut short or too long")
        return line


def _timed(read: Callable[[], bytes]) -> bytes:
    """A read of the client's body; a client silent past the server's idle time is S3's
    RequestTimeout."""
    try:
        return read()
    except TimeoutError:
        raise S3Error(
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the "
            "timeout period.",
        ) from None


def _plain(raw: _Bounded, out: BinaryIO, hashes: Dict[str, _Hash]) -> tuple[int, Dict[str, str]]:
    size = 0
    while raw.left:
        data = raw.read(BLOCK)
        _feed(out, hashes, data)
        size += len(data)
    return size, {}


def _dechunk(raw: _Bounded, out: BinaryIO, hashes: Dict[str, _Hash]) -> tuple[int, Dict[str, str]]:
    """aws-chunked: `<hex size>[;chunk-signature=..]\\r\\n<data>\\r\\n` ... a 0-size chunk, then
    trailer lines `name:value\\r\\n` and an empty line."""
    size = 0
    while True:
        match = CHUNK_HEADER.match(raw.readline())
        if not match:
            raise S3Error("IncompleteBody", "a malformed aws-chunked chunk header")
        left = int(match.group(1), 16)
        if left == 0:
            break
        while left:
            data = raw.read(min(BLOCK, left))
            _feed(out, hashes, data)
            left -= len(data)
            size += len(data)
        if raw.read(2) != b"\r\n":
            raise S3Error("IncompleteBody", "an aws-chunked chunk is not followed by CRLF")
    trailer: Dict[str, str] = {}
    while raw.left:
        line = raw.readline().rstrip(b"\r\n")
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        trailer[name.strip().lower()] = value.strip()
    return size, trailer


def _feed(out: BinaryIO, hashes: Dict[str, _Hash], data: bytes) -> None:
    out.write(data)
    for h in hashes.values():
        h.update(data)


def _verify(
    headers: Mapping[str, str],
    trailer: Dict[str, str],
    hashes: Dict[str, _Hash],
    algorithm: Optional[str],
) -> Optional[tuple[str, str]]:
    md5 = headers.get("Content-MD5")
    if md5 is not None:
        try:
            wanted = base64.b64decode(md5, validate=True)
        except (binascii.Error, ValueError):
            wanted = b""
        if len(wanted) != 16:
            raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.")
        if wanted != hashes["md5"].digest():
            raise S3Error(
                "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
    if "content-sha256" in hashes:
        computed = hashes["content-sha256"].digest().hex()
        if computed != headers["x-amz-content-sha256"].lower():
            raise S3Error(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                extra={
                    "ClientComputedContentSHA256": headers["x-amz-content-sha256"],
                    "S3ComputedContentSHA256": computed,
                },  # fmt: skip
            )
    if not algorithm:
        return None
    name = "x-amz-checksum-" + algorithm
    value = base64.b64encode(hashes[algorithm].digest()).decode("ascii")
    given = trailer.get(name, headers.get(name))
    if given is not None and given != value:
        raise S3Error(
            "BadDigest",
            "The %s you specified did not match the calculated checksum." % algorithm.upper(),
        )
    return name, value
