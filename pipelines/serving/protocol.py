"""The HTTP protocol `churn serve` runs: uvicorn's httptools protocol with what a hosting
container needs beyond it.

- uvicorn's own 400s (a garbage request line, a bad Content-Length, broken chunking) answer a
  JSON body like every other error of this server, not text/plain.
- A request must arrive whole within the request timeout (`churn serve --request-timeout`,
  default 10 s) from its first byte, or from the connection when nothing came: a client that
  stalls while sending gets a 408 and is cut off, so slow connections cannot hold a worker.
- On shutdown (SIGTERM) a request still arriving is cut off at once instead of holding the
  graceful shutdown for its 30 s.

It subclasses uvicorn's HttpToolsProtocol (a public module, but not a documented extension
point): the serving tests exercise each of these over real sockets.
"""

import json
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pipelines.serving.app import CONFIG_ENV

DEFAULT_REQUEST_TIMEOUT = 10.0
_timeout = []


def request_timeout():
    if not _timeout:
        config = json.loads(os.environ.get(CONFIG_ENV) or "{}")
        _timeout.append(float(config.get("request_timeout", DEFAULT_REQUEST_TIMEOUT)))
    return _timeout[0]


def _response(status, reason, kind, message):
    body = json.dumps({"error": kind, "message": message}).encode()
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, reason),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class ServingProtocol(HttpToolsProtocol):
    def connection_made(self, transport):
        super().connection_made(transport)
        self._request_timer = None
        self._arm()

    def _arm(self):
        self._disarm()
        self._request_timer = self.loop.call_later(request_timeout(), self._request_timed_out)

    def _disarm(self):
        if getattr(self, "_request_timer", None) is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def on_message_begin(self):
        super().on_message_begin()
        self._arm()

    def on_message_complete(self):
        self._disarm()  # the request is whole: the application has it now
        super().on_message_complete()

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)

    def _request_timed_out(self):
        self._request_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(
                _response(
                    408,
                    b"Request Timeout",
                    "RequestTimeout",
                    "the request did not arrive within %g s" % request_timeout(),
                )
            )
        self.transport.close()

    def send_400_response(self, msg):
        self.transport.write(
            _response(
                400,
                b"Bad Request",
                "BadRequest",
                "%s Send an HTTP/1.1 request: POST /invocations with a Content-Length or chunked "
                "body, or GET /ping." % msg,
            )
        )
        self.transport.close()

    def shutdown(self):
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and cycle.more_body:
            self.transport.close()  # a request still arriving: not worth the graceful wait
            return
        super().shutdown()
