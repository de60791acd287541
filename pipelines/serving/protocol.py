"""The HTTP protocol `churn serve` runs: uvicorn's httptools protocol with what a hosting
container needs beyond it.

- uvicorn's own 400s (a garbage request line, a bad Content-Length, broken chunking) answer a
  JSON body like every other error of this server, not text/plain.
- A client that sends nothing for the request timeout (`churn serve --request-timeout`, default
  10 s) while its request is arriving, or after connecting, gets a 408 and is cut off, so
  stalled connections cannot hold a worker. It is an idle timeout, not a deadline: an upload
  that keeps sending is never cut off for being slow (16 clients sending 6 MB to a busy
  2-core machine took longer than 10 s), and time this server is not reading (the application
  has not taken what came yet) is not the client's silence.
- A Content-Length over 6 MB gets its 413 as soon as the headers are in, not once the body is:
  the body is then read and dropped as it arrives (up to the application's DRAIN_LIMIT_BYTES),
  so a client still sending reads the answer instead of a broken pipe, and the connection is
  closed once it is in.
- On shutdown (SIGTERM) a request still arriving is cut off at once instead of holding the
  graceful shutdown for its 30 s.

It subclasses uvicorn's HttpToolsProtocol (a public module, but not a documented extension
point): the serving tests exercise each of these over real sockets.
"""

import asyncio
import json
import os
from typing import Any, Optional

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pipelines.serving.app import CONFIG_ENV, DRAIN_LIMIT_BYTES, MAX_PAYLOAD_BYTES, TOO_LARGE

DEFAULT_REQUEST_TIMEOUT = 10.0
_timeout: list[float] = []


def request_timeout() -> float:
    """The idle timeout of a request (ServeConfig's request_timeout), read once."""
    if not _timeout:
        config: dict[str, Any] = json.loads(os.environ.get(CONFIG_ENV) or "{}")
        _timeout.append(float(config.get("request_timeout", DEFAULT_REQUEST_TIMEOUT)))
    return _timeout[0]


def _response(status: int, reason: bytes, kind: str, message: str) -> bytes:
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
    _request_timer: Optional[asyncio.TimerHandle]
    _refused_bytes: Optional[int]
    _last_received: float

    # HttpToolsProtocol narrows asyncio's BaseTransport to Transport (and silences mypy there the
    # same way): the override has uvicorn's signature, which mypy holds against asyncio's.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._request_timer = None
        self._refused_bytes = None  # while a refused body is being dropped: its bytes so far
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._last_received = self.loop.time()
        super().data_received(data)

    def _arm(self) -> None:
        self._disarm()
        self._last_received = self.loop.time()
        self._request_timer = self.loop.call_later(request_timeout(), self._check_silence)

    def _disarm(self) -> None:
        timer = getattr(self, "_request_timer", None)  # absent before connection_made
        if timer is not None:
            timer.cancel()
            self._request_timer = None

    def _check_silence(self) -> None:
        """One timer per request, not one per chunk received: when it fires, it looks at when
        the client last sent something and waits out the rest of the timeout."""
        self._request_timer = None
        if self.flow.read_paused:
            self._last_received = self.loop.time()  # the server is not reading: not silence
        silent = self.loop.time() - self._last_received
        if silent < request_timeout():
            self._request_timer = self.loop.call_later(
                request_timeout() - silent, self._check_silence
            )
        else:
            self._request_timed_out()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        # A scan, not a dict of the headers: this runs for every request.
        length = next((v for k, v in self.headers if k == b"content-length"), b"")
        first_in_line = self.cycle is None or self.cycle.response_complete  # none pipelined
        if first_in_line and length.isdigit() and int(length) > MAX_PAYLOAD_BYTES:
            self.transport.write(_response(413, b"Payload Too Large", "PayloadTooLarge", TOO_LARGE))
            self._refused_bytes = 0  # no application cycle: the body is dropped here
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._refused_bytes is None:
            return super().on_body(body)
        self._refused_bytes += len(body)
        if self._refused_bytes > DRAIN_LIMIT_BYTES:
            self.transport.close()

    def on_message_complete(self) -> None:
        self._disarm()  # the request is whole: the application has it now
        if self._refused_bytes is not None:
            self.transport.close()  # the refused body is in: the client reads its 413
            return
        super().on_message_complete()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _request_timed_out(self) -> None:
        if self.transport.is_closing():
            return
        answered = self._refused_bytes is not None or (
            self.cycle is not None and self.cycle.response_started
        )
        if not answered:
            self.transport.write(
                _response(
                    408,
                    b"Request Timeout",
                    "RequestTimeout",
                    "the client sent nothing for %g s while its request was arriving"
                    % request_timeout(),
                )
            )
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
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

    def shutdown(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and cycle.more_body:
            self.transport.close()  # a request still arriving: not worth the graceful wait
            return
        super().shutdown()
