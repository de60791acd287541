"""The SageMaker hosting contract over HTTP (SAGEMAKER_CONTRACTS.md section 3.1).

GET /ping answers 200 once the model is loaded. POST /invocations passes the body, Content-Type
and Accept to the model's input_fn / predict_fn / output_fn; bodies over 6 MB get 413; an error
the caller caused (the handler's exception carries a 4xx status_code) gets that status with a
JSON body {"error": ..., "message": ...}; anything else is a 500 that is logged. Each answered
invocation is handed to data capture. The application is built in each worker process from the
JSON configuration in CHURN_SERVE_CONFIG (uvicorn starts workers by import string).
"""
import contextlib
import gc
import json
import logging
import os

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from pipelines.serving.capture import CaptureWriter
from pipelines.serving.handlers import invoke, load_handlers

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's body limit
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
CONFIG_ENV = "CHURN_SERVE_CONFIG"
log = logging.getLogger("churn.serve")


def _error(status, kind, message):
    return Response(json.dumps({"error": kind, "message": message}), status_code=status,
                    media_type="application/json")


async def _read_body(request):
    """The body, or None when it exceeds MAX_PAYLOAD_BYTES. An oversize body is read and
    dropped (up to DRAIN_LIMIT_BYTES, then the connection is cut) so that the client, still
    sending, gets the 413 instead of a broken pipe; nothing past the limit is kept."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > DRAIN_LIMIT_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_LIMIT_BYTES:
            return None
        if size <= MAX_PAYLOAD_BYTES:
            chunks.append(chunk)
    return b"".join(chunks) if size <= MAX_PAYLOAD_BYTES else None


def create_app(config):
    """config: model_dir, code_dir, program, and optionally capture {destination, endpoint,
    variant, percent}."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker, as the image does
    handlers = load_handlers(config["code_dir"], config["program"])
    model = handlers.model_fn(config["model_dir"])
    # The imported libraries and the model leave hundreds of thousands of long-lived objects,
    # which every full garbage collection re-scanned: a 40-60 ms pause at the 99th percentile of
    # one-row requests. Freezing them takes them out of the collector's work (p99 2 ms).
    gc.collect()
    gc.freeze()
    capture = CaptureWriter(**config["capture"]) if config.get("capture") else None

    async def ping(request):
        return Response(b"", status_code=200)

    async def invocations(request):
        body = await _read_body(request)
        if body is None:
            return _error(413, "PayloadTooLarge",
                          "the request body exceeds %d bytes (6 MB)" % MAX_PAYLOAD_BYTES)
        content_type = request.headers.get("content-type", "")
        accept = request.headers.get("accept")
        try:
            out, media = invoke(handlers, model, body, content_type, accept)
        except Exception as e:
            status = getattr(e, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500:
                return _error(status, type(e).__name__, str(e))
            log.exception("invocation failed")
            return _error(500, "InternalServerError", "the model failed on this request; "
                                                      "see the server log")
        if capture is not None:
            capture.capture(body, content_type or "text/csv", out, media,
                            request.headers.get("x-amzn-sagemaker-inference-id"))
        return Response(out, status_code=200, media_type=media)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if capture is not None:
            capture.close()  # drain the queue: no captured record is lost on SIGTERM

    return Starlette(routes=[Route("/ping", ping, methods=["GET"]),
                             Route("/invocations", invocations, methods=["POST"])],
                     lifespan=lifespan)


def app_from_env():
    return create_app(json.loads(os.environ[CONFIG_ENV]))
