"""`churn serve` over real HTTP on 127.0.0.1: the hosting contract, 4xx errors, data capture."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, free_port

SEED_ROW = "40,5,100000,2,1"


def request(url, body=b"", content_type="text/csv", accept="text/csv", method="POST"):
    req = urllib.request.Request(
        url,
        data=body if method == "POST" else None,
        method=method,
        headers={"Content-Type": content_type, "Accept": accept},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read(), response.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type")


def start_server(home, capture, *extra, workers=1):
    port = free_port()
    env = dict(os.environ, CHURN_HOME=str(home))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "serve",
            "--port",
            str(port),
            "--capture-dir",
            str(capture),
            "--workers",
            str(workers),
        ]
        + list(extra),
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read())
        try:
            if request(url + "/ping", method="GET")[0] == 200:
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not answer /ping")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


def capture_records(capture):
    records = []
    for root, _, names in os.walk(capture):
        for name in names:
            with open(os.path.join(root, name)) as f:
                records += [json.loads(line) for line in f if line.strip()]
    return records


@pytest.fixture(scope="module")
def server(seed_model, tmp_path_factory):
    home = tmp_path_factory.mktemp("serve-home")
    capture = home / "capture"
    proc, url = start_server(home, capture, "--model-dir", str(seed_model["model"]))
    yield url, capture
    stop(proc)


def test_ping_and_every_content_type(server, seed_csv):
    url, _ = server
    status, body, _ = request(url + "/ping", method="GET")
    assert status == 200
    status, body, media = request(url + "/invocations", SEED_ROW.encode())
    assert status == 200 and media.startswith("text/csv")
    score, label = body.decode().strip().split(",")
    assert 0 < float(score) < 1
    instances = {
        "instances": [
            {"age": 40, "tenure": 5, "balance": 100000, "num_products": 2, "is_active": 1}
        ]
    }
    status, body, media = request(
        url + "/invocations", json.dumps(instances).encode(), "application/json", "application/json"
    )
    assert status == 200 and media.startswith("application/json")
    assert json.loads(body)["predictions"][0]["score"] == pytest.approx(float(score), abs=1e-6)
    status, body, _ = request(
        url + "/invocations",
        json.dumps(instances["instances"][0]).encode(),
        "application/jsonlines",
        "application/jsonlines",
    )
    assert status == 200 and json.loads(body)["predicted_label"] == int(label)
    exported = Path(seed_csv).read_text().splitlines()[:3]  # header with id and target, two rows
    status, body, _ = request(url + "/invocations", "\n".join(exported).encode())
    assert status == 200 and len(body.decode().splitlines()) == 2


@pytest.mark.parametrize(
    "body, content_type, status, message",
    [
        (b"40,5,100000,2", "text/csv", 400, "expected 5 in this order"),
        (b'40,5,"100000,2,1', "text/csv", 400, "record 1 has 3 fields"),
        (b"40,5,lots,2,1", "text/csv", 400, "column 'balance': 'lots' is not a number"),
        # One number grammar for training and serving: what validation refuses, serving refuses
        (b"40,5,inf,2,1", "text/csv", 400, "column 'balance': 'inf' is not a number"),
        (b"40,5,nan,2,1", "text/csv", 400, "column 'balance': 'nan' is not a number"),
        (b"40,5,1e309,2,1", "text/csv", 400, "column 'balance': '1e309' is not a number"),
        (b"40,5,1_000,2,1", "text/csv", 400, "column 'balance': '1_000' is not a number"),
        (
            b"age,tenure,balance,age,num_products,is_active\n40,5,1,41,2,1",
            "text/csv",
            400,
            "the CSV header names column 'age' twice",
        ),
        # Decoder errors that were 500s with a traceback in the log
        (b"40,5,1," + b"1" * 200000 + b",2", "text/csv", 400, "has a field longer than 131072"),
        (b"[" * 10000 + b"]" * 10000, "application/json", 400, "nests JSON arrays or objects"),
        (b"[" * 10000 + b"]" * 10000, "application/jsonlines", 400, "JSON line 1 nests"),
        (
            b'{"age": 40, "tenure": 5, "balance": 1e999, "num_products": 2, "is_active": 1}',
            "application/json",
            400,
            "column 'balance': inf is not a number",
        ),
        (
            b'{"age": 40, "tenure": 5, "balance": ' + b"9" * 400 + b', "num_products": 2, '
            b'"is_active": 1}',
            "application/json",
            400,
            "column 'balance'",
        ),
        (b"", "text/csv", 400, "body is empty"),
        (SEED_ROW.encode(), "application/x-npy", 415, "not supported"),
        (b"1," * (3 * 1024 * 1024 + 10), "text/csv", 413, "exceeds 6291456 bytes"),
    ],
)
def test_caller_errors_are_4xx_with_a_message(server, body, content_type, status, message):
    url, _ = server
    got, text, media = request(url + "/invocations", body, content_type)
    assert got == status, text
    assert media == "application/json"
    assert message in json.loads(text)["message"]


def test_unacceptable_accept_is_406(server):
    url, _ = server
    status, text, _ = request(url + "/invocations", SEED_ROW.encode(), accept="application/xml")
    assert status == 406 and "not supported" in json.loads(text)["message"]


def test_capture_record_has_sagemakers_shape_and_the_inference_id(server):
    """A request with InvokeEndpoint's inference id header is captured with it, keys in the order
    of SageMaker's sample record (docs/container-contracts.md section 5)."""
    url, capture = server
    req = urllib.request.Request(
        url + "/invocations",
        data=SEED_ROW.encode(),
        method="POST",
        headers={
            "Content-Type": "text/csv",
            "Accept": "text/csv",
            "X-Amzn-SageMaker-Inference-Id": "cust-000123",
        },
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        answer = response.read().decode()
    deadline = time.time() + 10
    while time.time() < deadline:
        found = [
            r
            for r in capture_records(capture)
            if r["eventMetadata"].get("inferenceId") == "cust-000123"
        ]
        if found:
            break
        time.sleep(0.1)
    record = found[0]
    assert list(record) == ["captureData", "eventMetadata", "eventVersion"]
    assert list(record["eventMetadata"]) == ["eventId", "inferenceId", "inferenceTime"]
    assert record["captureData"]["endpointOutput"] == {
        "observedContentType": "text/csv",
        "mode": "OUTPUT",
        "data": answer,
        "encoding": "CSV",
    }
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["eventMetadata"]["inferenceTime"]
    )


def test_unknown_path_and_wrong_method_are_404_and_405(server):
    url, _ = server
    status, text, media = request(url + "/predict", SEED_ROW.encode())
    assert status == 404 and "GET /ping or POST /invocations" in json.loads(text)["message"]
    status, text, media = request(url + "/invocations", method="GET")
    assert status == 405 and media == "application/json"


def test_concurrent_requests_each_get_their_own_answer(server, seed_model):
    """Requests in flight together are predicted together; each still gets exactly its own
    scores, and a bad request among them gets its own 400 without harming the others."""
    from conftest import score_rows

    url, _ = server
    bodies = ["%d,%d,%d,2,1" % (20 + i, i % 10, 1000 * i) for i in range(48)]
    bodies[7] = "40,5,lots,2,1"
    bodies[30] = "\n".join(bodies[:3])  # a three-row request
    expected = {i: score_rows(seed_model["model"], body) for i, body in enumerate(bodies) if i != 7}
    results = [None] * len(bodies)
    start = threading.Barrier(16)

    def client(indexes):
        start.wait()
        for i in indexes:
            results[i] = request(url + "/invocations", bodies[i].encode())

    threads = [
        threading.Thread(target=client, args=(range(k, len(bodies), 16),)) for k in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results[7][0] == 400 and "'lots' is not a number" in json.loads(results[7][1])["message"]
    for i, lines in expected.items():
        assert results[i][0] == 200 and results[i][1].decode().splitlines() == lines, i


def test_sigterm_under_load_loses_no_capture_record(seed_model, tmp_path):
    """Every request answered 200 is in the capture files after a SIGTERM mid-load, and
    nothing else is: capture counts exactly the requests made."""
    capture = tmp_path / "capture"
    proc, url = start_server(
        tmp_path / "home", capture, "--model-dir", str(seed_model["model"]), workers=2
    )
    answered, lock, stop_event = [], threading.Lock(), threading.Event()

    def client():
        while not stop_event.is_set():
            try:
                status, _, _ = request(url + "/invocations", SEED_ROW.encode())
            except OSError:
                return  # the server is going away
            if status == 200:
                with lock:
                    answered.append(1)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    assert stop(proc) == 0  # SIGTERM while requests are in flight
    stop_event.set()
    for t in threads:
        t.join(timeout=30)
    records = capture_records(capture)
    assert len(answered) > 50
    assert len(records) == len(answered)
    record = records[0]
    assert record["eventVersion"] == "0"
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": SEED_ROW,
        "encoding": "CSV",
    }
    assert record["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    assert set(record["eventMetadata"]) == {"eventId", "inferenceTime"}
    # <endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
    files = [
        os.path.relpath(os.path.join(r, n), capture) for r, _, ns in os.walk(capture) for n in ns
    ]
    assert all(
        f.split(os.sep)[:2] == ["churn-local", "AllTraffic"] and len(f.split(os.sep)) == 7
        for f in files
    )


def test_only_approved_versions_are_served_by_default(tmp_path):
    from pipelines.local.sagemaker.backend import SageMakerBackend

    backend = SageMakerBackend(tmp_path)
    backend.registry.create_model_package(
        {
            "ModelPackageGroupName": "G",
            "InferenceSpecification": {
                "Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m.tar.gz"}]
            },
        }
    )
    backend.close()
    env = dict(os.environ, CHURN_HOME=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "serve", "--model-version", "1", "--group", "G"],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "G/1 is PendingManualApproval, not Approved" in proc.stderr
    assert "--allow-unapproved" in proc.stderr and "Traceback" not in proc.stderr


def test_predict_through_invoke_endpoint_on_aws(aws_env, moto_server):
    """`churn predict --endpoint-name --region` sends InvokeEndpoint over HTTP; moto (standing
    in for AWS) answers with the body it was told to. Without --region, the name is the home's
    local endpoint's (test_hosting_api.py)."""
    import urllib.request as r

    results = {"results": [{"Body": "0.111373,0\n", "ContentType": "text/csv"}]}
    r.urlopen(
        r.Request(
            moto_server + "/moto-api/static/sagemaker/endpoint-results",
            data=json.dumps(results).encode(),
            headers={"Content-Type": "application/json"},
        ),
        timeout=30,
    ).read()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "predict",
            "--endpoint-name",
            "churn-prod",
            "--region",
            "us-east-1",
            "--csv",
            SEED_ROW,
        ],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=aws_env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "0.111373,0\n"
    env = {
        k: v
        for k, v in aws_env.items()
        if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")
    }
    env.update({"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "predict",
            "--endpoint-name",
            "churn-prod",
            "--region",
            "us-east-1",
            "--csv",
            SEED_ROW,
        ],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1 and "no AWS credentials found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cr_only_line_endings_are_records_not_a_500(server):
    """A body with old Mac line endings (CR alone) was a 500; it is two records."""
    url, _ = server
    status, body, _ = request(url + "/invocations", b"40,5,100000,2,1\r41,6,0,1,0")
    assert status == 200, body
    assert len(body.decode().splitlines()) == 2


def raw_exchange(url, data, wait=5.0):
    """Send raw bytes, return what the server answers before it closes (or `wait` ends)."""
    import socket

    host, port = url[len("http://") :].split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(data)
        answer = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except socket.timeout:
            pass
    return answer


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n40,5,1,2,1",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello to the plain port
    ],
)
def test_the_http_layers_own_400s_answer_json(server, data):
    answer = raw_exchange(server[0], data)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["message"]


def test_a_stalled_client_is_cut_off_and_does_not_delay_shutdown(seed_model, tmp_path):
    """Slow connections could hold workers, and SIGTERM waited 30 s for them."""
    import socket

    proc, url = start_server(
        tmp_path,
        tmp_path / "capture",
        "--model-dir",
        str(seed_model["model"]),
        "--request-timeout",
        "1",
    )
    try:
        started = time.time()  # headers that never end
        answer = raw_exchange(url, b"POST /invocations HTTP/1.1\r\nHost: x\r\n", wait=10)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert time.time() - started < 5
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "RequestTimeout"
        host, port = url[len("http://") :].split(":")
        stalled = socket.create_connection((host, int(port)))  # a body that never ends
        stalled.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4")
        time.sleep(0.3)
        stopping = time.time()
        stop(proc)
        assert time.time() - stopping < 5
        stalled.close()
    finally:
        if proc.poll() is None:
            proc.kill()


def first_answer(sock, wait):
    """The status line and headers the server sends first on `sock` (b"" if none in `wait` s)."""
    import socket

    sock.settimeout(wait)
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except socket.timeout:
        pass
    return answer


def test_a_declared_body_over_6_mb_gets_its_413_before_it_is_sent(server):
    """A Content-Length of 7 MB with 15 bytes sent held the connection with no answer."""
    import socket

    host, port = server[0][len("http://") :].split(":")
    with socket.create_connection((host, int(port))) as s:
        started = time.time()
        s.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            b"Content-Length: 7000000\r\n\r\n40,5,100000,2,1"
        )
        answer = first_answer(s, wait=5)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.time() - started < 2


def test_the_request_timeout_is_for_silence_not_for_a_slow_upload(seed_model, tmp_path):
    """16 clients each sending 5.9 MB in pieces over 2.4 s, against a 1 s request timeout:
    each legitimate upload is answered (a total deadline cut them off with 408s, as a busy
    machine did with the 10 s default), and a client that stops sending mid-body gets its 408
    once it has sent nothing for 1 s."""
    import socket
    from concurrent.futures import ThreadPoolExecutor
    from http.client import HTTPConnection

    proc, url = start_server(
        tmp_path,
        tmp_path / "capture",
        "--model-dir",
        str(seed_model["model"]),
        "--request-timeout",
        "1",
        "--capture-percent",
        "0",
    )
    host, port = url[len("http://") :].split(":")
    rows = int(5.9 * 1024 * 1024) // len(SEED_ROW + "\n")
    body = ((SEED_ROW + "\n") * rows).encode()
    piece = 1024 * 1024

    def pieces():
        for start in range(0, len(body), piece):
            yield body[start : start + piece]
            time.sleep(0.4)

    def upload(_):
        connection = HTTPConnection(host, int(port), timeout=60)
        try:
            connection.request(
                "POST",
                "/invocations",
                body=pieces(),
                headers={
                    "Content-Type": "text/csv",
                    "Accept": "text/csv",
                    "Content-Length": str(len(body)),
                },
            )
            response = connection.getresponse()
            return response.status, response.read().count(b"\n")
        except OSError as e:
            return repr(e)
        finally:
            connection.close()

    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(upload, range(16)))
        assert answers == [(200, rows)] * 16, answers
        with socket.create_connection((host, int(port))) as s:
            s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4")
            started = time.time()
            answer = first_answer(s, wait=5)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert 0.9 < time.time() - started < 3
    finally:
        stop(proc)
