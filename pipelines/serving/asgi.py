"""The ASGI interface as this project's two bare applications use it (serving/app.py and
ui/server.py): a scope and each message are dicts with the specification's keys, and an
application is a coroutine function of (scope, receive, send)."""

from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Application = Callable[[Scope, Receive, Send], Awaitable[None]]
# Response headers: (lower-case name, value) pairs, as bytes.
Headers = list[tuple[bytes, bytes]]
