"""`churn ui`'s web application: a bare ASGI application (as `churn serve`'s, docs/adr/0003)
run by uvicorn on 127.0.0.1 (or the address --host gives), over one Workspace opened by the
command.

Routes (GET unless said): /executions[?status=], /executions/<id>, /executions/<id>/events
(server-sent events of the live graph's state), /executions/<id>/steps/<step>,
/executions/<id>/steps/<step>/log?host=&offset= (server-sent events of a log's new text),
/store/<bucket>/<key> (an object of the local store), /models[?group=], /models/<group>/<n>,
POST /models/<group>/<n>/approval, /models/compare?a=&b=, /monitoring, /monitoring/<endpoint>,
/static/<file>.

Safety: requests whose Host names a host the server was not told about are refused with 421
(a page of another site cannot reach it through DNS rebinding: the browser sends that site's
name). Answered are the loopback names, the --host value, the machine's own names when --host
is a wildcard (0.0.0.0, ::), the names given with --allow-host, and any IP address (a page
addressed by an address is that address's, so no rebinding can carry one); the port is not
compared (a forwarded port or a proxy changes it; the name is what tells a rebinding page
apart). The one request that changes state is a POST carrying the server's CSRF token, from a
same-origin page; nothing changes on GET; every name a request gives for a file (an execution
id, a step, a log's host, a store key, an endpoint, a static file) is checked against what
exists under the home before it is read, and paths are resolved and kept inside the home;
pages carry a Content-Security-Policy that allows only the application's own script and
styles. At most MAX_STREAMS event streams are followed at once (each polls a file four times a
second); the next is refused with 503 and Retry-After.
"""

import json
import mimetypes
import re
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union
from urllib.parse import parse_qs

from pipelines.errors import StoreError, UserError
from pipelines.serving.asgi import Headers, Receive, Scope, Send
from pipelines.ui import executions, graph, monitoring, registry
from pipelines.ui.context import UI, host_name, is_address
from pipelines.ui.html import Html, page, tag
from pipelines.ui.http import SECURITY_HEADERS, HTTPError
from pipelines.ui.streams import EventStreams

if TYPE_CHECKING:
    from pipelines.workspace import Workspace

STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"ui.css": "text/css", "ui.js": "text/javascript", "favicon.svg": "image/svg+xml"}
FORM_LIMIT = 64 * 1024
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # addresses only this machine reaches
WILDCARDS = ("0.0.0.0", "::", "")  # --host values that listen on every address of the machine
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)
# Objects a browser may show in place; anything else is downloaded, never rendered as a page.
INLINE_TYPES = {
    ".png": "image/png",
    ".json": "application/json",
    ".csv": "text/plain",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".jsonl": "text/plain",
}


# A route's handler: (scope, receive, send, *the groups of its path pattern).
Handler = Callable[..., Awaitable[None]]


def answered_names(host: str, allowed: list[str]) -> set[str]:
    """The host names a server listening on `host` answers (see the module's Safety), with
    each --allow-host value checked to be a host name or an address."""
    names = {*LOOPBACK, host_name(host)} - {""}
    if host in WILDCARDS:  # the names other machines know this one by
        names |= {host_name(socket.gethostname()), host_name(socket.getfqdn())}
    for value in allowed:
        name = value.lower().rstrip(".").removeprefix("[").removesuffix("]")
        if not (HOST_NAME.match(name) or is_address(name)):
            raise UserError(
                "--allow-host %s: give a host name or an IP address, without a scheme or a "
                "port (e.g. --allow-host churn.lan)" % value
            )
        names.add(name)
    return names


def checked_name(value: object, what: str) -> str:
    """A name that becomes a path component: letters, digits, '-' and '_' only."""
    if not isinstance(value, str) or not NAME.match(value):
        raise HTTPError(404, "no %s %r" % (what, value))
    return value


def _query(scope: Scope) -> dict[str, str]:
    return {
        k: v[-1]
        for k, v in parse_qs(
            scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        ).items()
    }


def _header(scope: Scope, name: bytes) -> Optional[str]:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _send(
    send: Send,
    status: int,
    body: Union[str, bytes],
    content_type: str,
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = (
        [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        + SECURITY_HEADERS
        + list(extra)
    )
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_form(receive: Receive) -> dict[str, str]:
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPError(400, "the request ended early")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > FORM_LIMIT:
            raise HTTPError(413, "the form is larger than %d bytes" % FORM_LIMIT)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return {k: v[-1] for k, v in parse_qs(b"".join(chunks).decode("utf-8", "replace")).items()}


class Application(object):
    def __init__(self, ui: UI) -> None:
        self.ui = ui
        routes: list[tuple[str, str, Handler]] = [
            ("GET", r"/", self.root),
            ("GET", r"/favicon.ico", self.favicon),
            ("GET", r"/executions", self.execution_list),
            ("GET", r"/executions/([^/]+)", self.execution),
            ("GET", r"/executions/([^/]+)/events", self.execution_events),
            ("GET", r"/executions/([^/]+)/steps/([^/]+)", self.step),
            ("GET", r"/executions/([^/]+)/steps/([^/]+)/log", self.step_log),
            ("GET", r"/store/(.+)", self.store_object),
            ("GET", r"/models", self.models),
            ("GET", r"/models/compare", self.compare),
            ("GET", r"/models/([^/]+)/([^/]+)", self.version),
            ("POST", r"/models/([^/]+)/([^/]+)/approval", self.approval),
            ("GET", r"/monitoring", self.monitoring),
            ("GET", r"/monitoring/([^/]+)", self.endpoint),
            ("GET", r"/static/([^/]+)", self.static),
        ]
        self.routes = [(m, re.compile("^%s$" % p), f) for m, p, f in routes]
        self.streams = EventStreams()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            if not self.ui.answers(_header(scope, b"host") or ""):
                raise HTTPError(
                    421,
                    "this server answers only requests to %s or an IP address: start it with "
                    "--allow-host NAME to answer requests to NAME"
                    % ", ".join(sorted(self.ui.allowed_hosts)),
                )
            path = scope["path"]  # decoded once by the server; never again
            method = scope["method"]
            for route_method, pattern, handler in self.routes:
                match = pattern.match(path)
                if match and route_method == method:
                    return await handler(scope, receive, send, *match.groups())
            if any(p.match(path) for _, p, _ in self.routes):
                raise HTTPError(405, "%s is not allowed here" % method)
            raise HTTPError(404, "no page %s" % path)
        except HTTPError as e:
            await self.error_page(send, e.status, str(e), e.headers)
        except UserError as e:  # a name the home does not have: an unknown execution, version
            await self.error_page(send, 404, str(e))

    async def error_page(
        self, send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        await _send(
            send,
            status,
            page("Error %d" % status, tag("p", message, class_="failure"), None),
            "text/html; charset=utf-8",
            headers,
        )

    async def html(self, send: Send, markup: Html, status: int = 200) -> None:
        await _send(send, status, markup, "text/html; charset=utf-8")

    # ------------------------------------------------------------------ executions

    async def root(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send(send, 303, b"", "text/plain", [(b"location", b"/executions")])

    async def favicon(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send(send, 308, b"", "text/plain", [(b"location", b"/static/favicon.svg")])

    async def execution_list(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = _query(scope).get("status") or None
        await self.html(send, executions.list_page(self.ui, status))

    async def execution(
        self, scope: Scope, receive: Receive, send: Send, execution_id: str
    ) -> None:
        await self.html(
            send, executions.execution_page(self.ui, checked_name(execution_id, "execution"))
        )

    async def step(
        self, scope: Scope, receive: Receive, send: Send, execution_id: str, step: str
    ) -> None:
        await self.html(
            send,
            executions.step_page(
                self.ui, checked_name(execution_id, "execution"), checked_name(step, "step")
            ),
        )

    async def execution_events(
        self, scope: Scope, receive: Receive, send: Send, execution_id: str
    ) -> None:
        """The live graph: the execution's state each time it changes, until it has ended."""
        checked_name(execution_id, "execution")
        executions.state(self.ui, execution_id)  # an unknown execution: 404 before the stream
        last: dict[str, executions.LiveState] = {}

        def next_event() -> tuple[Optional[tuple[str, str]], bool]:
            now = executions.state(self.ui, execution_id)
            ended = now["status"] != "Executing"
            if now == last.get("state"):
                return None, ended
            last["state"] = now
            return ("state", json.dumps(now)), ended

        await self.streams.follow(receive, send, next_event)

    async def step_log(
        self, scope: Scope, receive: Receive, send: Send, execution_id: str, step: str
    ) -> None:
        """Follow mode: a log's text from `offset` as it grows, until the step has ended."""
        query = _query(scope)
        checked_name(execution_id, "execution")
        checked_name(step, "step")
        host = checked_name(query.get("host", ""), "log host")
        try:
            offset = int(query.get("offset", "0"))
        except ValueError:
            raise HTTPError(400, "offset must be a whole number")
        _, entry, _ = executions.step_entry(self.ui, execution_id, step)
        details = self.ui.ws.runs.records.step(execution_id, step)
        logs = executions.logs(self.ui, entry, details)
        if host not in logs:
            raise HTTPError(404, "step %s has no log of host %r" % (step, host))
        position = {"offset": offset}

        def next_event() -> tuple[Optional[tuple[str, str]], bool]:
            record = self.ui.ws.runs.load(execution_id)
            now = executions.record_entry(record, step)
            ended = now is None or now["StepStatus"] != "Executing"
            text, position["offset"] = executions.read_log(logs[host], position["offset"])
            if text:  # the job's last lines are sent before its end
                return ("log", json.dumps({"text": text, "offset": position["offset"]})), False
            if ended:
                return ("status", json.dumps({"status": graph.step_status(now)})), True
            return None, False

        await self.streams.follow(receive, send, next_event)

    async def store_object(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        """An object of the local store: shown in place when it is an image, JSON or text,
        downloaded otherwise; a key that climbs out of the store is refused by the store."""
        store = self.ui.ws.store
        try:  # '..', '/...', a link out, a key too long for S3 or for a file name
            path = store.path("s3://" + key)
        except StoreError as e:
            raise HTTPError(400, str(e))
        home = self.ui.ws.home.resolve()
        if not path.is_file() or path.is_symlink() or not path.resolve().is_relative_to(home):
            raise HTTPError(404, "no object s3://%s in the local store" % key)
        inline = INLINE_TYPES.get(path.suffix.lower())
        headers: Headers = (
            []
            if inline
            else [
                (
                    b"content-disposition",
                    b'attachment; filename="%s"'
                    % re.sub(r"[^A-Za-z0-9._-]", "_", path.name).encode(),
                )
            ]
        )
        size = path.stat().st_size
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (
                        b"content-type",
                        (
                            inline
                            or mimetypes.types_map.get(path.suffix, "")
                            or "application/octet-stream"
                        ).encode(),
                    ),
                    (b"content-length", str(size).encode()),
                    *SECURITY_HEADERS,
                    *headers,
                ],
            }
        )
        with open(path, "rb") as f:
            while True:
                block = f.read(1024 * 1024)
                if not block:
                    break
                await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    # ------------------------------------------------------------------ registry

    async def models(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.html(send, registry.list_page(self.ui, _query(scope).get("group") or None))

    async def version(
        self, scope: Scope, receive: Receive, send: Send, group: str, version: str
    ) -> None:
        await self.html(send, registry.version_page(self.ui, group, version))

    async def compare(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = _query(scope)
        if not query.get("a") or not query.get("b"):
            raise HTTPError(400, "compare needs two versions: ?a=GROUP/N&b=GROUP/N")
        await self.html(send, registry.compare_page(self.ui, query["a"], query["b"]))

    async def approval(
        self, scope: Scope, receive: Receive, send: Send, group: str, version: str
    ) -> None:
        """The approve and reject buttons: a same-origin form POST with the CSRF token."""
        origin = _header(scope, b"origin")
        host = (_header(scope, b"host") or "").lower()
        if origin is not None and origin.lower().split("://", 1)[-1] != host:  # not same-origin
            raise HTTPError(403, "a page of %s may not change this registry" % origin)
        form = await _read_form(receive)
        if not secrets.compare_digest(form.get("csrf_token", ""), self.ui.csrf_token):
            raise HTTPError(403, "the form's CSRF token is missing or stale: reload the page")
        status = form.get("status")
        if status not in ("Approved", "Rejected"):
            raise HTTPError(400, "status must be Approved or Rejected")
        package = registry.set_approval(self.ui, group, version, status, form.get("description"))
        await _send(
            send, 303, b"", "text/plain", [(b"location", registry.version_href(package).encode())]
        )

    # ------------------------------------------------------------------ monitoring

    async def monitoring(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.html(send, monitoring.index_page(self.ui))

    async def endpoint(self, scope: Scope, receive: Receive, send: Send, endpoint: str) -> None:
        await self.html(
            send,
            monitoring.endpoint_page(
                self.ui, checked_name(endpoint, "endpoint"), _query(scope).get("version") or None
            ),
        )

    async def static(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        if name not in STATIC_FILES:
            raise HTTPError(404, "no static file %r" % name)
        await _send(send, 200, (STATIC / name).read_bytes(), STATIC_FILES[name])


def serve(
    ws: "Workspace",
    host: str = "127.0.0.1",
    port: int = 8090,
    on_ready: Optional[Callable[[str], None]] = None,
    allow_hosts: Iterable[str] = (),
) -> None:
    """Serve the home's pages until interrupted. The socket is bound here, so a port in use is
    one clear error and port 0 picks a free one; `on_ready(url)` is told the address. Requests
    are answered for the names `answered_names(host, allow_hosts)` gives, and IP addresses."""
    import uvicorn

    if not 0 <= port <= 65535:
        raise UserError("--port %d: give a port from 1 to 65535 (0 picks a free one)" % port)
    names = answered_names(host, list(allow_hosts))
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
    except OSError as e:
        raise UserError(
            "cannot listen on %s:%d (%s): pass --port N for another port"
            % (host, port, e.strerror or e)
        )
    port = sock.getsockname()[1]
    app = Application(UI(ws, names))
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    if on_ready:
        on_ready("http://%s:%d/" % ("[%s]" % host if ":" in host else host, port))
    server.run(sockets=[sock])
