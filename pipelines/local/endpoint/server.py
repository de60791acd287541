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
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Dict, Optional

from pipelines.local.endpoint.wire import TwinsWire
from pipelines.local.s3wire import WireResponse
from pipelines.local.s3wire.http import LoopbackServer, RequestBody, loopback

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


def _handler(wire: TwinsWire, idle_seconds: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = idle_seconds  # each read of the socket waits at most this long
        wbufsize = 1 << 16  # headers and body in one write, and no Nagle
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def handle_expect_100(self) -> bool:
            return True  # answered by RequestBody on the first read

        def do_GET(self) -> None:
            self._call()

        do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_GET

        def _call(self) -> None:
            text = self.headers.get("Content-Length")
            length = int(text) if text and text.isascii() and text.isdigit() else 0
            expect = self.headers.get("Expect", "").lower() == "100-continue"
            body = RequestBody(self, length, expect)
            try:
                response = wire.handle(self.command, self.path, self.headers, body)  # type: ignore[arg-type]
            except OSError:  # the body's read failed: the client is gone or stalled
                self.close_connection = True
                response = _json_error(408, "RequestTimeout", "the request body stopped")
            if (
                body.broken
                or self.headers.get("Transfer-Encoding")
                or (text is not None and not text.isdigit())
            ):
                self.close_connection = True  # where the body ends is unknown
            elif body.left:
                if (expect and not body.started) or body.left > DRAIN:
                    self.close_connection = True
                else:
                    while body.read(1 << 16):
                        pass
            self._send(response)

        def _send(self, response: WireResponse) -> None:
            try:
                self.send_response_only(response.status)
                names = {name.lower() for name, _ in response.headers}
                for name, value in response.headers:
                    self.send_header(name, value)
                if "content-length" not in names:
                    self.send_header("Content-Length", str(response.content_length()))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD" and response.status not in (204, 304):
                    for block in response.blocks():
                        self.wfile.write(block)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            finally:
                response.close()

        def send_error(
            self, code: int, message: Optional[str] = None, explain: Optional[str] = None
        ) -> None:
            """The HTTP layer's refusals as JSON errors, not HTML pages."""
            self.close_connection = True
            if self.request_version == self.default_request_version:  # not parsed yet
                self.request_version = self.protocol_version
            status = code if 400 <= code < 600 else 400
            short = self.responses.get(code, ("Bad Request", ""))[0]
            self._send(_json_error(status, "SerializationException", message or short))

    return Handler


def _json_error(status: int, code: str, message: str) -> WireResponse:
    data = json.dumps({"__type": code, "message": message}).encode()
    return WireResponse(
        status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)], data
    )
