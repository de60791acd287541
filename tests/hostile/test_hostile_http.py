"""Malformed requests, generated (hypothesis, derandomized so CI sees the same ones): against
the decoders in process and against a live `churn serve` on 127.0.0.1. Every answer is a 200
or a 4xx with a JSON message; never a 5xx, never a traceback."""

import http.client
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_serve import start_server, stop

from conftest import load_inference

inference = load_inference()
SETTINGS = dict(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Pieces a broken client, a spreadsheet export or an attacker would send.
FIELD = st.one_of(
    st.sampled_from(
        [
            "40",
            "5",
            "100000",
            "-1",
            "1e309",
            "-1e309",
            "inf",
            "nan",
            "NaN",
            "1_000",
            "0x10",
            "1,5",
            "",
            " ",
            '"',
            '""',
            '"a,b"',
            "\x00",
            "１２",
            "9" * 400,
            "True",
            "null",
            "age",
            "balance",
            "\u202e",
            "\ufeff40",
        ]
    ),
    st.text(max_size=12),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
LINE = st.lists(FIELD, min_size=0, max_size=8).map(",".join)
ENDING = st.sampled_from(["\n", "\r\n", "\r", "", "\n\n"])
CSV_BODY = st.lists(st.tuples(LINE, ENDING), min_size=0, max_size=6).map(
    lambda lines: "".join(line + end for line, end in lines)
)
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
COLUMNS = ["age", "tenure", "balance", "num_products", "is_active"]
INSTANCE = st.dictionaries(st.sampled_from(COLUMNS + ["x", ""]), JSON_VALUE, max_size=6)
JSON_BODY = st.one_of(
    JSON_VALUE.map(json.dumps),
    st.lists(INSTANCE, max_size=3).map(lambda xs: json.dumps({"instances": xs})),
    INSTANCE.map(json.dumps),
    st.text(max_size=40),
    st.just("[" * 5000 + "]" * 5000),
)
CONTENT_TYPE = st.sampled_from(
    [
        "text/csv",
        "text/csv; charset=utf-8",
        "TEXT/CSV",
        "application/json",
        "application/jsonlines",
        "application/x-npy",
        "",
        "text/plain",
        "multipart/form-data",
        "text/csv;;",
        "application/json; charset=latin-1",
    ]
)
ACCEPT = st.sampled_from(
    [
        "text/csv",
        "application/json",
        "application/jsonlines",
        "*/*",
        "",
        "application/xml",
        "text/*, application/json;q=0.5",
        "garbage",
    ]
)
BODY = st.one_of(
    CSV_BODY.map(str.encode),
    JSON_BODY.map(str.encode),
    st.binary(max_size=64),
    CSV_BODY.map(lambda t: t.encode("utf-16")),
)


@pytest.fixture(scope="module")
def model(seed_model):
    return inference.model_fn(str(seed_model["model"]))


@settings(**SETTINGS)
@given(body=BODY, content_type=CONTENT_TYPE, accept=ACCEPT)
def test_the_decoders_answer_or_refuse_with_a_client_error(model, body, content_type, accept):
    try:
        prediction = inference.predict_fn(inference.input_fn(body, content_type), model)
        inference.output_fn(prediction, accept)
    except inference.InferenceError as e:
        assert 400 <= e.status_code < 500 and str(e)


@pytest.fixture(scope="module")
def server(seed_model, tmp_path_factory):
    home = tmp_path_factory.mktemp("hostile-home")
    proc, url = start_server(home, home / "capture", "--model-dir", str(seed_model["model"]))
    yield url
    stop(proc)


@settings(**SETTINGS)
@given(body=BODY, content_type=CONTENT_TYPE, accept=ACCEPT)
def test_the_live_server_never_answers_5xx(server, body, content_type, accept):
    host, port = server[len("http://") :].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    connection.request("POST", "/invocations", body=body, headers=headers)
    response = connection.getresponse()
    text = response.read()
    connection.close()
    assert response.status < 500, text
    if response.status >= 400:
        assert response.getheader("Content-Type") == "application/json"
        assert json.loads(text)["message"]


ROW = "40,5,100000,2,1"
HEADER = ",".join(COLUMNS)
BULK_ROWS = 300 * 1024 // len(ROW)  # past the 256 KB from which CSV bodies go to pandas
BIG_BODIES = {
    # (the body, the status it gets): every one was a 500
    "cr-only-lines": ("\r".join([ROW] * BULK_ROWS), 200),
    "cr-only-lines-after-a-header": (HEADER + "\r" + "\r".join([ROW] * BULK_ROWS), 200),
    "one-5-mb-line": ("4" * (5 * 1024 * 1024), 400),
    "exactly-6-mib": ("4" * (6 * 1024 * 1024), 400),
    "a-200-kb-first-field": ("4" * 200_000 + ",5,1,2,1\n" + "\n".join([ROW] * BULK_ROWS), 400),
    "a-300-kb-field-in-the-header": (
        "x" * 300_000 + "," + HEADER + "\n" + "\n".join([ROW] * BULK_ROWS),
        400,
    ),
}


@pytest.mark.parametrize("name", sorted(BIG_BODIES))
def test_big_csv_bodies_are_scored_or_refused_never_a_500(server, name):
    body, status = BIG_BODIES[name]
    host, port = server[len("http://") :].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request(
        "POST", "/invocations", body=body.encode(), headers={"Content-Type": "text/csv"}
    )
    response = connection.getresponse()
    text = response.read()
    connection.close()
    assert response.status == status, text[:300]
    if status == 200:
        assert len(json.loads(text)["predictions"]) == BULK_ROWS
    else:
        message = json.loads(text)["message"]
        assert message.startswith("line 1 of the CSV body has a field longer than"), message
