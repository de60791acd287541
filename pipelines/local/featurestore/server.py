"""featurestore-runtime's wire protocol (REST-JSON, as botocore's service model describes it) on
127.0.0.1, so a job's unchanged boto3 code reaches the local feature store:

    AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME=http://127.0.0.1:<port>

    PUT    /FeatureGroup/{name}   PutRecord       JSON body
    GET    /FeatureGroup/{name}   GetRecord       query: RecordIdentifierValueAsString,
                                                  FeatureName (repeated), ExpirationTimeResponse
    DELETE /FeatureGroup/{name}   DeleteRecord    query: RecordIdentifierValueAsString,
                                                  EventTime, TargetStores, DeletionMode
    POST   /BatchGetRecord        BatchGetRecord  JSON body

Errors answer as the service does: the status, `x-amzn-ErrorType: <code>` and {"message"}.
Signatures are not checked: the twin has no accounts. Bodies over 4 MB are refused (a record is
at most 350 KB).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MAX_BODY = 4 * 1024 * 1024
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME"


class FeatureStoreServer(object):
    """The wire layer over a LocalFeatureStore, in a thread; `endpoint` is its URL."""

    def __init__(self, fs, host="127.0.0.1", port=0):
        self.fs = fs
        client = fs.runtime_client()
        self.httpd = ThreadingHTTPServer((host, port), _handler(client))
        self.httpd.daemon_threads = True
        self.endpoint = "http://%s:%d" % self.httpd.server_address[:2]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def job_environment(self):
        """What a job needs to reach the twin with boto3: the endpoint, a region, and
        credentials for botocore to sign with (the twin checks none)."""
        return {
            ENDPOINT_VARIABLE: self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local-feature-store",
            "AWS_SECRET_ACCESS_KEY": "local-feature-store",
        }

    def settle(self):
        """Write what the offline store buffers (before a job reads the store)."""
        self.fs.flush()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(client):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body in one write, and no Nagle: otherwise each keep-alive call waits
        # out a delayed ACK (about 40 ms a call).
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, *args):  # the job logs its own calls
            pass

        def do_PUT(self):
            self._call("PUT")

        def do_GET(self):
            self._call("GET")

        def do_DELETE(self):
            self._call("DELETE")

        def do_POST(self):
            self._call("POST")

        def _call(self, method):
            from botocore.exceptions import ClientError, ParamValidationError

            try:
                answer = self._dispatch(method)
                answer.pop("ResponseMetadata", None)
                self._send(200, answer)
            except ClientError as e:
                error = e.response["Error"]
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                self._send(status, {"message": error["Message"]}, error["Code"])
            except ParamValidationError as e:
                self._send(400, {"message": str(e)}, "ValidationError")
            except _BadRequest as e:
                self._send(e.status, {"message": str(e)}, "ValidationError")

        def _dispatch(self, method):
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            body = self._body()
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if method == "POST" and parts == ["BatchGetRecord"]:
                return client.batch_get_record(**body)
            if len(parts) != 2 or parts[0] != "FeatureGroup":
                raise _BadRequest("no such operation: %s %s" % (method, url.path), 404)
            group = parts[1]
            if method == "PUT":
                return client.put_record(FeatureGroupName=group, **body)
            one = {k: v[-1] for k, v in query.items()}
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
            raise _BadRequest("no such operation: %s %s" % (method, url.path), 404)

        def _body(self):
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise _BadRequest("a bad Content-Length", 400) from None
            if length > MAX_BODY:
                raise _BadRequest("the request body is over 4 MB", 413)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                body = json.loads(raw)
            except ValueError:
                raise _BadRequest("the request body is not JSON", 400) from None
            if not isinstance(body, dict):
                raise _BadRequest("the request body is not a JSON object", 400)
            return body

        def _send(self, status, payload, error_type=None):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.end_headers()
            self.wfile.write(data)

    return Handler


class _BadRequest(Exception):
    def __init__(self, message, status):
        Exception.__init__(self, message)
        self.status = status
