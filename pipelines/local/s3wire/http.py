"""What the loopback wire servers share (this package's S3Server, the endpoint's
EndpointServer): which hosts are loopback, the threaded server, and a request body read no
further than its Content-Length, with the deferred `100 Continue` sent on the first read."""

import ipaddress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
