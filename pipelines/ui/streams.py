"""`churn ui`'s live views as server-sent events: a run's graph and a step's log followed
until they end, at most MAX_STREAMS at once (docs/adr/0007)."""

import asyncio
from collections.abc import Callable
from typing import Optional

from pipelines.errors import UserError
from pipelines.serving.asgi import Receive, Send
from pipelines.ui.http import SECURITY_HEADERS, HTTPError

MAX_STREAMS = 32  # event streams followed at once; a browser tab holds one or two
STREAM_RETRY_SECONDS = 5
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
# What a live view sends next: ((event, data) or None, whether the stream has ended).
NextEvent = Callable[[], tuple[Optional[tuple[str, str]], bool]]


class EventStreams(object):
    """The event streams one server follows, counted so that one too many is refused."""

    def __init__(self) -> None:
        self.open = 0

    async def follow(self, receive: Receive, send: Send, next_event: NextEvent) -> None:
        """Server-sent events: `next_event()` -> ((event, data) or None, ended) every
        POLL_SECONDS, until it says ended (an "end" event follows) or the browser goes. Past
        MAX_STREAMS open at once, a 503 with Retry-After."""
        if self.open >= MAX_STREAMS:
            raise HTTPError(
                503,
                "%d live views are open, the most this server follows at once: close a tab "
                "that follows a run or a log, or reload later" % self.open,
                [(b"retry-after", str(STREAM_RETRY_SECONDS).encode())],
            )
        self.open += 1
        try:
            await self._stream(receive, send, next_event)
        finally:
            self.open -= 1

    async def _stream(self, receive: Receive, send: Send, next_event: NextEvent) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), *SECURITY_HEADERS],
            }
        )

        async def disconnected() -> None:  # the request's (empty) body comes first, then this
            while (await receive())["type"] != "http.disconnect":
                pass

        async def piece(text: str) -> None:
            await send({"type": "http.response.body", "more_body": True, "body": text.encode()})

        gone = asyncio.ensure_future(disconnected())
        idle = 0.0
        try:
            while not gone.done():
                event, ended = next_event()
                if event:
                    await piece("event: %s\ndata: %s\n\n" % event)
                    idle = 0.0
                if ended:
                    await piece("event: end\ndata: {}\n\n")
                    break
                if idle >= KEEPALIVE_SECONDS:
                    await piece(": keep-alive\n\n")
                    idle = 0.0
                await asyncio.sleep(POLL_SECONDS)
                idle += POLL_SECONDS
            await send({"type": "http.response.body", "body": b""})
        except OSError:  # the browser went between two events
            pass
        except UserError:  # the execution went (its folder deleted) while it was followed
            await send({"type": "http.response.body", "body": b""})
        finally:
            gone.cancel()
