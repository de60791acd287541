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
