"""The Feature Store twin's wire server (featurestore-runtime's REST-JSON on 127.0.0.1) against
hostile requests over raw HTTP: each gets an answer, a 4xx with AWS's JSON error shape (the
x-amzn-ErrorType header and {"__type", "message"}), within a timeout; never a closed connection,
an HTML page or a 5xx. And many clients at once all get answers."""

import http.client
import json
import socket
import threading

import pytest

from pipelines.local.featurestore.server import FeatureStoreServer
from pipelines.local.featurestore.store import LocalFeatureStore

# Every test here runs in this process, with no child process, server or browser.
pytestmark = pytest.mark.fast

GROUP = "churn-customers"
TIMEOUT = 10  # seconds: a request that hangs fails here instead of hanging the suite
RECORD = [
    {"FeatureName": "customer_id", "ValueAsString": "C1"},
    {"FeatureName": "event_time", "ValueAsString": "1714650000"},
    {"FeatureName": "age", "ValueAsString": "40"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    fs = LocalFeatureStore(tmp_path_factory.mktemp("wire"))
    fs.sagemaker_client().create_feature_group(
        FeatureGroupName=GROUP,
        RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[
            {"FeatureName": "customer_id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": "Fractional"},
            {"FeatureName": "age", "FeatureType": "Integral"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True},
    )
    fs.runtime_client().put_record(FeatureGroupName=GROUP, Record=RECORD)
    twin = FeatureStoreServer(fs)
    yield twin
    twin.close()
    fs.close()


def exchange(server, head, body=b"", timeout=TIMEOUT):
    """Send a request's raw bytes (`head`: request line and headers, without the blank line)
    and read the answer: (status, headers, body bytes). A closed connection fails the test."""
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        except OSError:  # the server may answer before it has read everything: read it
            pass
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return answer.status, answer.headers, answer.read()


def request(method, path, payload, extra=""):
    body = payload if isinstance(payload, bytes) else payload.encode("utf-8")
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" % (
        method,
        path,
    )
    head += extra or "Content-Length: %d" % len(body)
    return head, body


def assert_json_error(status, headers, body, code=None):
    """AWS's REST-JSON error: a 4xx, x-amzn-ErrorType naming the error, and a JSON body with
    __type and message (https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html,
    "Operation error serialization")."""
    assert 400 <= status < 500, (status, body[:300])
    assert headers["Content-Type"] == "application/json", headers
    error = json.loads(body)
    assert headers["x-amzn-ErrorType"] == error["__type"], (headers, error)
    assert error["message"], error
    if code:
        assert error["__type"] == code, error
    return error


PUT = "/FeatureGroup/%s" % GROUP
NESTED = "[" * 50_000 + "]" * 50_000
HOSTILE = {
    "a JSON body nested 50,000 deep": request("PUT", PUT, '{"Record": %s}' % NESTED),
    "a lone surrogate in the JSON": request(
        "PUT",
        PUT,
        '{"Record": [{"FeatureName": "customer_id", "ValueAsString": "\\ud800"},'
        ' {"FeatureName": "event_time", "ValueAsString": "1714650001"}]}',
    ),
    "FeatureGroupName in the body as well as the URL": request(
        "PUT", PUT, json.dumps({"FeatureGroupName": GROUP, "Record": RECORD})
    ),
    "a repeated key": request(
        "POST",
        "/BatchGetRecord",
        '{"Identifiers": [{"FeatureGroupName": "%s", "FeatureGroupName": "%s",'
        ' "RecordIdentifiersValueAsString": ["C1"]}], "Identifiers": 5}' % (GROUP, GROUP),
    ),
    "a 5,000-digit Integral value": request(
        "PUT",
        PUT,
        json.dumps({"Record": RECORD[:2] + [{"FeatureName": "age", "ValueAsString": "9" * 5000}]}),
    ),
    "a 5,000-digit JSON number": request("PUT", PUT, '{"Record": %s}' % ("9" * 5000)),
    "Content-Length -5": request("PUT", PUT, b"", extra="Content-Length: -5"),
    "a body of 4 MB and 1 byte": request("PUT", PUT, b" " * (4 * 1024 * 1024 + 1)),
    "a deep BatchGetRecord": request("POST", "/BatchGetRecord", '{"Identifiers": %s}' % NESTED),
    "TargetStores Nowhere": request(
        "PUT", PUT, json.dumps({"Record": RECORD, "TargetStores": ["Nowhere"]})
    ),
    "a very long URL": request("GET", PUT + "?RecordIdentifierValueAsString=" + "x" * 70_000, ""),
    "an unknown method": request("BREW", PUT, ""),
}


@pytest.mark.parametrize("shape", list(HOSTILE))
def test_every_hostile_request_gets_a_json_error(server, shape):
    """The wire server closed the connection without an answer on the first nine shapes
    (RecursionError, UnicodeEncodeError, TypeError, ValueError from int(), a read of -5 bytes
    waiting for the client to close, the 4 MB body left unread) and answered the last two
    with BaseHTTPRequestHandler's HTML pages (414, 501). AWS answers each with its JSON error
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html)."""
    head, body = HOSTILE[shape]
    assert_json_error(*exchange(server, head, body))


def test_the_server_still_answers_a_good_request_after_the_hostile_ones(server):
    head, body = request("GET", PUT + "?RecordIdentifierValueAsString=C1", "")
    status, _, answer = exchange(server, head, body)
    assert (
        status == 200
        and {"FeatureName": "age", "ValueAsString": "40"} in (json.loads(answer)["Record"])
    )


def test_64_clients_at_once_all_get_answers(server):
    """A listen backlog of 5 dropped connections when 64 threads called at once (37 of 400 in
    the review); each of 64 clients opening a connection per call gets all its answers. A
    dropped SYN is retried after 1 s, 3 s, 7 s: a call slower than 5 s was dropped."""
    clients, calls = 64, 4
    start = threading.Barrier(clients)
    statuses, failures = [], []

    def client():
        start.wait()
        for _ in range(calls):
            try:
                head, body = request("GET", PUT + "?RecordIdentifierValueAsString=C1", "")
                statuses.append(exchange(server, head, body, timeout=5)[0])
            except Exception as e:  # a refused, reset or timed-out connection
                failures.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * calls)
    assert not failures, (len(failures), failures[:3])
    assert statuses == [200] * clients * calls


def test_a_body_shorter_than_its_length_gets_a_408_once_the_connection_is_silent(tmp_path):
    """A Content-Length of 100 with 10 bytes sent held a server thread for good: the handler
    read the socket with no timeout."""
    import time

    fs = LocalFeatureStore(tmp_path)
    twin = FeatureStoreServer(fs, idle_seconds=1.0)
    try:
        head, _ = request("PUT", PUT, b"", extra="Content-Length: 100")
        started = time.monotonic()
        status, headers, body = exchange(twin, head, b'{"Record":')
        assert time.monotonic() - started < 5
        assert status == 408
        assert_json_error(status, headers, body, "RequestTimeout")
    finally:
        twin.close()
        fs.close()
