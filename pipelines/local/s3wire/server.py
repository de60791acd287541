"""S3Server: S3Wire on a loopback port, on a daemon thread, for boto3, the SageMaker SDK and the
AWS CLI to reach the local store with `AWS_ENDPOINT_URL_S3=<server.url>` (any credentials).
It binds 127.0.0.1 unless another address is asked for together with allow_remote=True: the
server checks no signature, so whoever reaches the port reads and writes the store.

The HTTP layer's own refusals (a request line or a header over 64 KB, over 100 headers, a
method no handler has) are S3 XML errors too; `Expect: 100-continue` is answered only when the
operation starts reading the body, so a request refused before (NoSuchBucket, 501) is answered
without its body being sent; an unread body up to 1 MiB is drained to keep the connection,
a longer one closes it."""

import threading
from pathlib import Path
from types import TracebackType
from typing import Optional, Union

from pipelines.local.s3 import Store
from pipelines.local.s3_api import S3Client
from pipelines.local.s3wire.errors import S3Error
from pipelines.local.s3wire.handler import S3Wire
from pipelines.local.s3wire.http import LoopbackServer, RequestBody, WireHandler, loopback
from pipelines.local.s3wire.messages import WireResponse, error, request_id, stamp

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_S3"
DRAIN = 1 << 20
IDLE_SECONDS = 60.0  # a silent connection is closed (botocore opens another)


class S3Server(object):
    """`with S3Server(home) as s3: ... s3.url ...`; port 0 picks a free port."""

    def __init__(
        self,
        home: Union[str, Path, S3Client],
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        if not loopback(host) and not allow_remote:
            raise ValueError(
                "S3Server checks no signatures: it binds a loopback address unless "
                "allow_remote=True (asked for %r)" % host
            )
        client = home if isinstance(home, S3Client) else S3Client(Store(home))
        self.wire = S3Wire(client)
        self.httpd = LoopbackServer((host, port), _handler(self.wire, idle_seconds))
        bound_host, bound_port = self.httpd.server_address[:2]
        self.url = "http://%s:%d" % (str(bound_host), bound_port)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="s3-wire", daemon=True)
        self.thread.start()

    def environment(self) -> dict[str, str]:
        """What a process needs to reach the store with boto3 (credentials it signs with; the
        server checks none)."""
        return {
            ENDPOINT_VARIABLE: self.url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local-s3",
            "AWS_SECRET_ACCESS_KEY": "local-s3",
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def __enter__(self) -> "S3Server":
        return self

    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        trace: Optional[TracebackType],
    ) -> None:
        self.close()


def _handler(wire: S3Wire, idle_seconds: float) -> type[WireHandler]:
    class Handler(WireHandler):
        timeout = idle_seconds
        drain_limit = DRAIN

        def answer(self, body: RequestBody) -> WireResponse:
            return wire.handle(self.command, self.path, self.headers, body)  # type: ignore[arg-type]

        def refusal(self, code: int, message: Optional[str]) -> WireResponse:
            """The HTTP layer's refusals as S3's XML errors."""
            if code == 431:
                failure = S3Error(
                    "RequestHeaderSectionTooLarge",
                    "Your request header section exceeds the maximum allowed size.",
                )
            elif code == 501:
                failure = S3Error("NotImplemented", "the method %r" % (self.command or "")[:20])
            else:
                failure = S3Error("InvalidRequest", message or "a malformed request", 400)
            rid = request_id()
            return stamp(error(failure, rid, getattr(self, "command", "") == "HEAD"), rid)

    return Handler
