"""The SageMaker hosting contract over HTTP (docs/container-contracts.md section 3.1).

GET /ping answers 200 once the model is loaded. POST /invocations passes the body, Content-Type
and Accept to the model's input_fn / predict_fn / output_fn; bodies over 6 MB get 413 (a
Content-Length over 6 MB gets it from the protocol before the body is read); an error the
caller caused (the handler's exception carries a 4xx status_code) gets that status with a JSON
body {"error": ..., "message": ...}; anything else is a 500 that is logged. Each answered
invocation is handed to data capture. Small requests that arrive together are predicted
together (batching.py) when the inference module offers predict_batch_fn.

This is a bare ASGI application run by uvicorn: two routes need no framework, and a framework's
request and response objects cost about a fifth of a one-row request. The application is built
in each worker process from the JSON configuration in CHURN_SERVE_CONFIG (uvicorn starts
workers by import string).
"""

import gc
import json
import logging
import os
from collections.abc import Iterable
from typing import Optional, TypedDict

from pipelines.serving.asgi import Application, Headers, Receive, Scope, Send
from pipelines.serving.batching import PredictionBatcher
from pipelines.serving.capture import CaptureConfig, CaptureWriter
from pipelines.serving.handlers import encode_result, load_handlers

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's body limit
TOO_LARGE = "the request body exceeds %d bytes (6 MB)" % MAX_PAYLOAD_BYTES
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
# Bigger bodies are predicted on their own: their cost is in their rows, not in the fixed cost
# of a booster call, and batching them would only hold several large tables in memory at once.
BATCH_BODY_LIMIT = 64 * 1024
CONFIG_ENV = "CHURN_SERVE_CONFIG"
CAPTURE_DROPPED = b"x-churn-capture-dropped"
log = logging.getLogger("churn.serve")


class _ServeConfigRequired(TypedDict):
    model_dir: str
    code_dir: str
    program: str


class ServeConfig(_ServeConfigRequired, total=False):
    """What each worker builds its application from, as JSON in CONFIG_ENV (`churn serve`
    writes it): the model's folder, its inference code's folder and program, data capture's
    settings when capture is on, and the idle timeout of a request (protocol.py reads it)."""

    capture: CaptureConfig
    request_timeout: float


async def _read_body(receive: Receive, declared_length: Optional[int]) -> Optional[bytes]:
    """The body, or None when it exceeds MAX_PAYLOAD_BYTES. An oversize body is read and
    dropped (up to DRAIN_LIMIT_BYTES, then the connection is cut) so that the client, still
    sending, gets the 413 instead of a broken pipe; nothing past the limit is kept."""
    if declared_length is not None and declared_length > DRAIN_LIMIT_BYTES:
        return None
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > DRAIN_LIMIT_BYTES:
            return None
        if size <= MAX_PAYLOAD_BYTES:
            chunks.append(chunk)
    return b"".join(chunks) if size <= MAX_PAYLOAD_BYTES else None


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    media_type: Optional[str],
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    headers: Headers = [(b"content-length", str(len(body)).encode())] + list(extra_headers)
    if media_type:
        headers.append((b"content-type", media_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, kind: str, message: str) -> None:
    await _respond(
        send, status, json.dumps({"error": kind, "message": message}).encode(), "application/json"
    )


def _headers(scope: Scope) -> dict[bytes, Optional[str]]:
    """content-type, accept, content-length and the inference id, as str (or None)."""
    wanted: dict[bytes, Optional[str]] = {
        b"content-type": None,
        b"accept": None,
        b"content-length": None,
        b"x-amzn-sagemaker-inference-id": None,
    }
    for name, value in scope["headers"]:
        if name in wanted:
            wanted[name] = value.decode("latin-1")
    return wanted


def create_app(config: ServeConfig) -> Application:
    """The application of one worker: the model loaded, data capture started if the
    configuration asks for it."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker, as the image does
    handlers = load_handlers(config["code_dir"], config["program"])
    model = handlers.model_fn(config["model_dir"])
    # The imported libraries and the model leave hundreds of thousands of long-lived objects,
    # which every full garbage collection re-scanned: a 40-60 ms pause at the 99th percentile of
    # one-row requests. Freezing them takes them out of the collector's work (p99 2 ms).
    gc.collect()
    gc.freeze()
    capture = CaptureWriter(**config["capture"]) if config.get("capture") else None
    batcher = PredictionBatcher(handlers, model) if hasattr(handlers, "predict_batch_fn") else None

    async def invocations(scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        length = headers[b"content-length"]
        body = await _read_body(receive, int(length) if length and length.isdigit() else None)
        if body is None:
            return await _error(send, 413, "PayloadTooLarge", TOO_LARGE)
        content_type = headers[b"content-type"]
        accept = headers[b"accept"]
        try:
            input_data = handlers.input_fn(body, content_type)
            if batcher is not None and len(body) <= BATCH_BODY_LIMIT:
                prediction = await batcher.predict(input_data)
            else:
                prediction = handlers.predict_fn(input_data, model)
            out, media = encode_result(handlers.output_fn(prediction, accept), accept)
        except Exception as e:
            status = getattr(e, "status_code", None)
            if status == 204:  # nothing to answer (an empty body, to the XGBoost algorithm)
                return await _respond(send, 204, b"", None)
            if isinstance(status, int) and 400 <= status < 500:
                return await _error(send, status, type(e).__name__, str(e))
            log.exception("invocation failed")
            return await _error(
                send,
                500,
                "InternalServerError",
                "the model failed on this request; see the server log",
            )
        if capture is not None:
            capture.capture(
                body,
                content_type or "text/csv",
                out,
                media,
                headers[b"x-amzn-sagemaker-inference-id"],
            )
        await _respond(send, 200, out, media)

    async def lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if capture is not None:
                    capture.close()  # drain the queue: no captured record is lost on SIGTERM
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/invocations":
            if method == "POST":
                return await invocations(scope, receive, send)
        elif path == "/ping":
            if method in ("GET", "HEAD"):
                # What this worker's data capture lost to write errors (a full disk), so a
                # health check sees it; 0 while every record is written.
                dropped = [(CAPTURE_DROPPED, str(capture.dropped).encode())] if capture else []
                return await _respond(send, 200, b"", None, dropped)
        else:
            return await _error(
                send,
                404,
                "NotFound",
                "%s is not a path of this endpoint: use GET /ping or POST /invocations" % path,
            )
        await _error(send, 405, "MethodNotAllowed", "%s does not take %s" % (path, method))

    return app


def app_from_env() -> Application:
    """uvicorn's factory, in each worker: the application of the configuration in CONFIG_ENV."""
    config: ServeConfig = json.loads(os.environ[CONFIG_ENV])
    return create_app(config)
