"""EndpointServer: TwinsWire on one loopback port, on daemon threads, so that unchanged boto3,
the AWS CLI and the SageMaker Python SDK reach every twin with
`AWS_ENDPOINT_URL=<server.url>` and any credentials. It binds 127.0.0.1 unless another
address is asked for with allow_remote=True: no signature is checked, so whoever reaches the
port acts on the home.

Bodies are read no further than their Content-Length; `Expect: 100-continue` is answered when
an operation starts reading (S3's uploads); an unread body (a refused one) up to 16 MiB is
drained, so the client reads the refusal and the connection is kept; a longer one closes it.
The HTTP layer's own refusals (a request line or header over 64 KB, a method no handler has)
are JSON errors, not HTML pages."""

import json
import threading
from types import TracebackType
from typing import Any, Dict, Optional

from pipelines.local.endpoint.wire import TwinsWire
from pipelines.local.s3wire import WireResponse
from pipelines.local.s3wire.http import LoopbackServer, RequestBody, WireHandler, loopback

DRAIN = 16 << 20  # a refused body up to this size is read, so the client sees the answer
IDLE_SECONDS = 60.0  # a silent connection is closed (botocore opens another)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class EndpointServer(object):
    """`with EndpointServer(session) as server: ... server.url ...`; port 0 picks a free one."""

    def __init__(
        self,
        session: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        if not loopback(host) and not allow_remote:
            raise ValueError(
                "the local endpoint checks no signatures: it binds a loopback address unless "
                "allow_remote=True (asked for %r)" % host
            )
        self.wire = TwinsWire(session)
        self.httpd = LoopbackServer((host, port), _handler(self.wire, idle_seconds))
        bound_host, bound_port = self.httpd.server_address[:2]
        self.url = "http://%s:%d" % (str(bound_host), bound_port)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="local-endpoint", daemon=True
        )
        self.thread.start()

    def environment(self) -> Dict[str, str]:
        """What a process needs to reach every twin with an AWS SDK or the CLI (credentials to
        sign with: the server checks none)."""
        return dict(
            CREDENTIALS,
            AWS_ENDPOINT_URL=self.url,
            AWS_DEFAULT_REGION="us-east-1",  # the twins answer any region
        )

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def __enter__(self) -> "EndpointServer":
        return self

    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        trace: Optional[TracebackType],
    ) -> None:
        self.close()


def _handler(wire: TwinsWire, idle_seconds: float) -> type[WireHandler]:
    class Handler(WireHandler):
        timeout = idle_seconds
        drain_limit = DRAIN

        def answer(self, body: RequestBody) -> WireResponse:
            try:
                return wire.handle(self.command, self.path, self.headers, body)  # type: ignore[arg-type]
            except OSError:  # the body's read failed: the client is gone or stalled
                self.close_connection = True
                return _json_error(408, "RequestTimeout", "the request body stopped")

        def refusal(self, code: int, message: Optional[str]) -> WireResponse:
            """The HTTP layer's refusals as JSON errors."""
            status = code if 400 <= code < 600 else 400
            short = self.responses.get(code, ("Bad Request", ""))[0]
            return _json_error(status, "SerializationException", message or short)

    return Handler


def _json_error(status: int, code: str, message: str) -> WireResponse:
    data = json.dumps({"__type": code, "message": message}).encode()
    return WireResponse(
        status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)], data
    )
