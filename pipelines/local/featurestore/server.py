"""featurestore-runtime's wire protocol (REST-JSON, as botocore's service model describes it) on
127.0.0.1, so a job's unchanged boto3 code reaches the local feature store:

    AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME=http://127.0.0.1:<port>

    PUT    /FeatureGroup/{name}   PutRecord       JSON body
    GET    /FeatureGroup/{name}   GetRecord       query: RecordIdentifierValueAsString,
                                                  FeatureName (repeated), ExpirationTimeResponse
    DELETE /FeatureGroup/{name}   DeleteRecord    query: RecordIdentifierValueAsString,
                                                  EventTime, TargetStores, DeletionMode
    POST   /BatchGetRecord        BatchGetRecord  JSON body

Errors answer as the service does: the status, `x-amzn-ErrorType: <code>` and {"__type",
"message"}; every request gets one, whatever its shape: a body that is not JSON (nested past
Python's recursion limit, numbers past its digit limit) is a SerializationException, a body
over 4 MB (a record is at most 350 KB) or a bad Content-Length a ValidationError, an unknown
route or method an UnknownOperationException, and the HTTP layer's own refusals (a request line
over 64 KB, headers too large) the same JSON instead of BaseHTTPRequestHandler's HTML. A failure
of the twin itself is AWS's InternalFailure (500), still an answer. Signatures are not checked:
the twin has no accounts.
"""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:  # the twin's clients, imported by whoever makes the server
    from pipelines.local.featurestore.store import LocalFeatureStore, RuntimeClient

MAX_BODY = 4 * 1024 * 1024
DRAIN_LIMIT = 4 * MAX_BODY  # a refused body up to this size is read, so the answer is seen
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME"
# A connection silent this long is done: a body shorter than its Content-Length gets a 408
# instead of holding a server thread forever; an idle keep-alive connection is closed (botocore
# opens another).
IDLE_SECONDS = 60.0


class FeatureStoreServer(object):
    """The wire layer over a LocalFeatureStore, in a thread; `endpoint` is its URL."""

    def __init__(
        self,
        fs: "LocalFeatureStore",
        host: str = "127.0.0.1",
        port: int = 0,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.fs = fs
        client = fs.runtime_client()
        self.httpd = _Server((host, port), _handler(client, idle_seconds))
        bound_host, bound_port = self.httpd.server_address[:2]
        self.endpoint = "http://%s:%d" % (str(bound_host), bound_port)  # AF_INET: a str already
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def job_environment(self) -> dict[str, str]:
        """What a job needs to reach the twin with boto3: the endpoint, a region, and
        credentials for botocore to sign with (the twin checks none)."""
        return {
            ENDPOINT_VARIABLE: self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local-feature-store",
            "AWS_SECRET_ACCESS_KEY": "local-feature-store",
        }

    def settle(self) -> None:
        """Write what the offline store buffers (before a job reads the store)."""
        self.fs.flush()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Server(ThreadingHTTPServer):
    # socketserver's backlog of 5 dropped connections when a job's workers (or 64 clients)
    # connected at once; the kernel caps this at net.core.somaxconn.
    request_queue_size = 256
    daemon_threads = True


def _handler(client: "RuntimeClient", idle_seconds: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = idle_seconds  # each read of the socket waits at most this long
        # Headers and body in one write, and no Nagle: otherwise each keep-alive call waits
        # out a delayed ACK (about 40 ms a call).
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # the job logs its own calls
            pass

        def do_PUT(self) -> None:
            self._call("PUT")

        def do_GET(self) -> None:
            self._call("GET")

        def do_DELETE(self) -> None:
            self._call("DELETE")

        def do_POST(self) -> None:
            self._call("POST")

        def _call(self, method: str) -> None:
            from botocore.exceptions import ClientError, ParamValidationError

            try:
                answer = self._dispatch(method)
                answer.pop("ResponseMetadata", None)
                self._send(200, answer)
            except ClientError as e:
                error = e.response["Error"]
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                self._send_error(status, error["Code"], error["Message"])
            except ParamValidationError as e:
                self._send_error(400, "ValidationError", str(e))
            except _BadRequest as e:
                self._send_error(e.status, e.code, str(e))
            except Exception as e:  # the twin's own failure: AWS's InternalFailure, an answer
                self._send_error(500, "InternalFailure", "%s: %s" % (type(e).__name__, e))

        def send_error(
            self, code: int, message: Optional[str] = None, explain: Optional[str] = None
        ) -> None:
            """The HTTP layer's refusals (a request line over 64 KB, headers too large, a
            method no do_ handles, ...) as the service's JSON errors, not HTML pages."""
            self.close_connection = True
            if self.request_version == self.default_request_version:  # not parsed yet
                self.request_version = self.protocol_version  # so the status line is sent
            if code == 501:  # no do_<method>
                path = urlsplit(getattr(self, "path", "") or "").path
                self._send_error(
                    404,
                    "UnknownOperationException",
                    "no such operation: %s %s" % (self.command, path),
                )
                return
            if code == 414:  # the rest of the request line is unread: read it, then answer
                self._discard_pending()
            status = code if 400 <= code < 500 else 400
            short, long = self.responses.get(code, ("Bad Request", "a bad request"))
            self._send_error(status, "ValidationError", message or "%s: %s" % (short, long))

        def _dispatch(self, method: str) -> dict[str, Any]:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            body = self._body()
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if method == "POST" and parts == ["BatchGetRecord"]:
                return client.batch_get_record(**body)
            if len(parts) != 2 or parts[0] != "FeatureGroup":
                raise _unknown(method, url.path)
            group = parts[1]
            if method == "PUT":
                if "FeatureGroupName" in body:  # a URI member: only the path names the group
                    raise _BadRequest(
                        "FeatureGroupName is not a member of PutRecord's body: the URL path "
                        "(/FeatureGroup/{FeatureGroupName}) names the feature group",
                        400,
                    )
                return client.put_record(FeatureGroupName=group, **body)
            one = {k: v[-1] for k, v in query.items()}
            request: dict[str, Any]
            if method == "GET":
                request = {"FeatureGroupName": group}
                for name in ("RecordIdentifierValueAsString", "ExpirationTimeResponse"):
                    if name in one:
                        request[name] = one[name]
                if "FeatureName" in query:
                    request["FeatureNames"] = query["FeatureName"]
                return client.get_record(**request)
            if method == "DELETE":
                request = {"FeatureGroupName": group}
                for name in ("RecordIdentifierValueAsString", "EventTime", "DeletionMode"):
                    if name in one:
                        request[name] = one[name]
                if "TargetStores" in query:
                    request["TargetStores"] = query["TargetStores"]
                return client.delete_record(**request)
            raise _unknown(method, url.path)

        def _body(self) -> dict[str, Any]:
            text = self.headers.get("Content-Length") or "0"
            if not (text.isascii() and text.isdigit()):
                self.close_connection = True  # where this body ends is unknown
                raise _BadRequest("Content-Length %r is not a number of bytes" % text[:40], 400)
            length = int(text)
            if length > MAX_BODY:
                self.close_connection = True
                if length <= DRAIN_LIMIT:  # unread, closing would reset the answer away
                    self._discard(length)
                raise _BadRequest("the request body is over 4 MB", 413)
            try:
                raw = self.rfile.read(length) if length else b""
            except (socket.timeout, TimeoutError):
                self.close_connection = True
                raise _BadRequest(
                    "the request body stopped before its Content-Length of %d bytes" % length,
                    408,
                    "RequestTimeout",
                ) from None
            if not raw:
                return {}
            try:
                body = json.loads(raw)
            except RecursionError:
                raise _unreadable("it is nested too deep") from None
            except UnicodeDecodeError:
                raise _unreadable("it is not UTF-8") from None
            except json.JSONDecodeError as e:
                raise _unreadable("it is not JSON (%s)" % e) from None
            except ValueError:  # int() refuses numbers of over 4,300 digits
                raise _unreadable("a number in it is too long") from None
            if not isinstance(body, dict):
                raise _BadRequest("the request body is not a JSON object", 400)
            return body

        def _discard(self, length: int) -> None:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 16))
                if not chunk:
                    return
                length -= len(chunk)

        def _discard_pending(self) -> None:
            """Read what the client has already sent (briefly), so closing does not reset
            the connection before the client reads the answer."""
            self.connection.settimeout(0.2)
            try:
                for _ in range(DRAIN_LIMIT >> 16):
                    if not self.rfile.read1(1 << 16):
                        return
            except (socket.timeout, OSError):
                return

        def _send_error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"__type": code, "message": message}, code)

        def _send(
            self, status: int, payload: dict[str, Any], error_type: Optional[str] = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

    return Handler


class _BadRequest(Exception):
    def __init__(self, message: str, status: int, code: str = "ValidationError") -> None:
        Exception.__init__(self, message)
        self.status = status
        self.code = code


def _unreadable(why: str) -> _BadRequest:
    return _BadRequest("the request body cannot be read: %s" % why, 400, "SerializationException")


def _unknown(method: str, path: str) -> _BadRequest:
    return _BadRequest(
        "no such operation: %s %s" % (method, path), 404, "UnknownOperationException"
    )
