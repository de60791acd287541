"""What the loopback wire servers share (this package's S3Server, the endpoint's
EndpointServer): which hosts are loopback, the threaded server, a request body read no further
than its Content-Length (the deferred `100 Continue` sent on the first read), and the request
handler that frames one request and its answer on a kept-alive HTTP/1.1 connection."""

import ipaddress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from pipelines.local.s3wire.messages import WireResponse


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackServer(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


class RequestBody(object):
    """The request body as an operation reads it: no further than Content-Length, and the
    deferred `100 Continue` sent on the first read."""

    def __init__(self, handler: BaseHTTPRequestHandler, length: int, expect: bool) -> None:
        self.handler = handler
        self.left = length
        self.expect = expect
        self.started = False
        self.broken = False  # a read failed (timed out, reset): where the body ends is unknown

    def _start(self) -> None:
        if self.expect and not self.started:
            self.handler.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.handler.wfile.flush()
        self.started = True

    def read(self, n: int = -1) -> bytes:
        self._start()
        n = self.left if n < 0 else min(n, self.left)
        try:
            data = self.handler.rfile.read(n) if n else b""
        except OSError:
            self.broken = True
            raise
        self.left -= len(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        self._start()
        limit = self.left if limit < 0 else min(limit, self.left)
        try:
            data = self.handler.rfile.readline(limit) if limit else b""
        except OSError:
            self.broken = True
            raise
        self.left -= len(data)
        return data


class WireHandler(BaseHTTPRequestHandler):
    """One request at a time, answered by `answer(body)`; the HTTP layer's own refusals by
    `refusal(code, message)` in the protocol's format, not BaseHTTPRequestHandler's HTML. A
    subclass sets `timeout` (each read of the socket waits at most this long) and `drain_limit`
    (a body left unread up to this size is read, so the client sees the answer)."""

    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body in one write, and no Nagle
    disable_nagle_algorithm = True
    drain_limit = 1 << 20

    def answer(self, body: RequestBody) -> "WireResponse":
        raise NotImplementedError

    def refusal(self, code: int, message: Optional[str]) -> "WireResponse":
        raise NotImplementedError

    def log_message(self, *args: Any) -> None:
        pass

    def handle_expect_100(self) -> bool:
        return True  # answered by RequestBody on the first read

    def do_GET(self) -> None:
        text = self.headers.get("Content-Length")
        length = int(text) if text and text.isascii() and text.isdigit() else 0
        expect = self.headers.get("Expect", "").lower() == "100-continue"
        body = RequestBody(self, length, expect)
        response = self.answer(body)
        if (
            body.broken
            or self.headers.get("Transfer-Encoding")
            or (text is not None and not text.isdigit())
        ):
            self.close_connection = True  # where the body ends is unknown
        elif body.left:
            if expect and not body.started:
                self.close_connection = True  # the client may or may not send it
            elif body.left <= self.drain_limit:
                while body.read(1 << 16):
                    pass
            else:
                self.close_connection = True
        self._send(response)

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def _send(self, response: "WireResponse") -> None:
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
        self.close_connection = True
        if self.request_version == self.default_request_version:  # not parsed yet
            self.request_version = self.protocol_version
        self._send(self.refusal(code, message))
