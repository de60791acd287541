"""inference.py handlers, loaded the way the XGBoost serving container loads them."""

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import (
    BANK,
    BIGML,
    changed_schema,
    load_inference,
    needs_shared_data,
    run,
    write_model_inputs,
)

inference = load_inference()


def invoke(model, body, content_type="text/csv", accept="text/csv"):
    return inference.output_fn(
        inference.predict_fn(inference.input_fn(body, content_type), model), accept
    )


@pytest.fixture(scope="module")
def seed(seed_model):
    return inference.model_fn(str(seed_model["model"]))


def scores(body):
    return [float(line.split(",")[0]) for line in body.strip().splitlines()]


def test_the_seed_example_row_works_as_is(seed):
    body, content_type = invoke(seed, "40,5,100000,2,1")
    assert content_type == "text/csv"
    score, label = body.strip().split(",")
    assert 0 < float(score) < 1 and label in ("0", "1")


def test_every_input_format_gives_the_same_scores(seed, seed_csv):
    raw = pd.read_csv(seed_csv).head(4)
    features = raw[["age", "tenure", "balance", "num_products", "is_active"]]
    headerless = features.to_csv(header=False, index=False)
    expected = scores(invoke(seed, headerless)[0])
    # A row exported from the source table: header, id and target included, columns shuffled,
    # plus a column the model never saw.
    exported = raw.assign(region="north")[
        ["churn", "region", "is_active", "customer_id", "age", "balance", "tenure", "num_products"]
    ]
    assert scores(invoke(seed, exported.to_csv(index=False))[0]) == expected
    instances = json.dumps({"instances": raw.to_dict(orient="records")})
    body, content_type = invoke(seed, instances, "application/json", "application/json")
    assert content_type == "application/json"
    predictions = json.loads(body)["predictions"]
    assert [p["score"] for p in predictions] == pytest.approx(expected, abs=1e-6)
    assert [p["predicted_label"] for p in predictions] == [int(s >= 0.5) for s in expected]
    lines = "\n".join(json.dumps(r) for r in features.values.tolist())
    body, content_type = invoke(seed, lines, "application/jsonlines", "application/jsonlines")
    assert [json.loads(line)["score"] for line in body.splitlines()] == pytest.approx(
        expected, abs=1e-6
    )


def test_accept_negotiation(seed):
    assert invoke(seed, "40,5,100000,2,1", accept=None)[1] == "application/json"
    assert invoke(seed, "40,5,100000,2,1", accept="*/*")[1] == "application/json"
    assert (
        invoke(seed, "40,5,100000,2,1", accept="application/xml, text/csv;q=0.5")[1] == "text/csv"
    )
    with pytest.raises(inference.NotAcceptable) as err:
        invoke(seed, "40,5,100000,2,1", accept="application/xml")
    assert err.value.status_code == 406


@pytest.mark.parametrize(
    "body, content_type, status, message",
    [
        ("40,5,lots,2,1", "text/csv", 400, "record 1, column 'balance': 'lots' is not a number"),
        ("40,5,100000,2,1\n41,5,100000,2", "text/csv", 400, "record 2 has 4 fields; expected 5"),
        ("40,5,100000", "text/csv", 400, "expected 5 in this order: age, tenure, balance"),
        (
            "age,tenure\n40,5",
            "text/csv",
            400,
            "header lacks columns balance, num_products, is_active",
        ),
        ("", "text/csv", 400, "body is empty"),
        (
            '{"instances": [{"age": 40}]}',
            "application/json",
            400,
            "instance 1 lacks column 'tenure'",
        ),
        ('{"instances": [', "application/json", 400, "not valid JSON"),
        ("40,5,100000,2,1", "application/x-npy", 415, "not supported"),
    ],
)
def test_bad_requests_are_client_errors_that_say_what_is_wrong(
    seed, body, content_type, status, message
):
    with pytest.raises(inference.InferenceError) as err:
        invoke(seed, body, content_type)
    assert err.value.status_code == status
    assert message in str(err.value)


NULL_TENURE = (
    '{"instances": [{"age": 40, "tenure": null, "balance": 100000, "num_products": 2, '
    '"is_active": 1}]}'
)


def test_a_missing_value_is_scored_only_where_the_schema_allows_gaps(seed, lenient_seed_model):
    """The seed schema gives tenure no completeness below 1: training refuses a table with a
    gap there, so scoring refuses the row; a schema that allows gaps gets the row scored, the
    gap filled as the recipe fills it."""
    with pytest.raises(inference.InferenceError) as err:
        invoke(seed, NULL_TENURE, "application/json")
    assert err.value.status_code == 400 and err.value.record == 1
    assert "record 1, column 'tenure': a value is required" in str(err.value)
    lenient = inference.model_fn(str(lenient_seed_model["model"]))
    body = invoke(lenient, NULL_TENURE, "application/json")[0]
    assert 0 < scores(body)[0] < 1 and body.strip().endswith(",")  # no flag: gaps are allowed


# Each a value the seed schema's validation refuses (tests/hostile/test_hostile_tables.py holds
# the same values against `churn run`), in the second of two rows so the record number is checked too.
REFUSED_ROWS = [
    ("150,5,100000,2,1", "column 'age': 150 is outside [0, 120]"),
    ("-42,5,100000,2,1", "column 'age': -42 is outside [0, 120]"),
    ("42.5,5,100000,2,1", "column 'age': 42.5 is not a whole number"),
    ("42,5,-5,2,1", "column 'balance': -5 is below 0"),
    ("42,5,100000,0,1", "column 'num_products': 0 is outside [1, 10]"),
    ("42,5,100000,2,2", "column 'is_active': 2 is outside [0, 1]"),
    (",5,100000,2,1", "column 'age': a value is required"),
    ("42,5,nan,2,1", "column 'balance': 'nan' is not a number"),
    ("42,5,1e309,2,1", "column 'balance': '1e309' is not a number"),
    ("42,5,1_000,2,1", "column 'balance': '1_000' is not a number"),
]


@pytest.mark.parametrize("row, message", REFUSED_ROWS, ids=[r for r, _ in REFUSED_ROWS])
def test_a_row_training_would_refuse_is_refused_naming_record_column_and_value(seed, row, message):
    for body, content_type in (
        ("40,5,100000,2,1\n" + row, "text/csv"),
        ("[40,5,100000,2,1]\n[%s]" % row.replace(",,", ",null,").lstrip(","), None),
    ):
        if content_type is None:  # the same row as a JSON line (numbers as JSON numbers)
            if row.startswith(",") or "nan" in row or "_" in row or "e309" in row:
                continue
            content_type = "application/jsonlines"
        with pytest.raises(inference.InferenceError) as err:
            invoke(seed, body, content_type)
        assert err.value.status_code == 400 and err.value.record == 2
        assert "record 2, " + message in str(err.value), str(err.value)


def test_whole_numbers_in_any_spelling_are_whole(seed):
    """Whole is a property of the value, in validation and in scoring alike."""
    expected = scores(invoke(seed, "42,5,100000,2,1")[0])
    for row in ("42.0,5,100000,2,1", "4.2e1,5,1e5,2.0,1", " 42 ,+5,100000.000,2,1"):
        assert scores(invoke(seed, row)[0]) == expected


def test_a_flagging_schema_scores_the_row_and_flags_it(seed, lenient_seed_model):
    """on_invalid "flag": the row is scored, and its answer names each broken rule; a clean
    row's flags are empty. Every answer type carries them."""
    lenient = inference.model_fn(str(lenient_seed_model["model"]))
    rows = "40,5,100000,2,1\n150,5,100000,0,1\n42.5,5,100000,2,1"
    body, _ = invoke(lenient, rows)
    lines = body.splitlines()
    assert [line.split(",", 2)[2] for line in lines] == [
        "",
        "age:range;num_products:range",
        "age:integer",
    ]
    assert scores(body)[0] == scores(invoke(seed, "40,5,100000,2,1")[0])[0]
    answers = json.loads(invoke(lenient, rows, accept="application/json")[0])["predictions"]
    assert [a["flags"] for a in answers] == [
        [],
        ["age:range", "num_products:range"],
        ["age:integer"],
    ]
    assert [a["score"] for a in answers] == pytest.approx(scores(body), abs=1e-9)
    lines = invoke(lenient, rows, accept="application/jsonlines")[0].splitlines()
    assert [json.loads(line)["flags"] for line in lines][2] == ["age:integer"]


@needs_shared_data
@pytest.mark.parametrize(
    "geography, gender, message",
    [
        ("Italy", "Female", "column 'Geography': 'Italy' is not one of France, Germany, Spain"),
        ("France", "F", "column 'Gender': 'F' is not one of Female, Male"),
        ("france", "Female", "did you mean 'France'?"),
        (" France", "Female", "categories match exactly, case and spaces included"),
    ],
)
def test_an_unknown_category_is_refused(bank_model, geography, gender, message):
    """'Italy', 'france' or 'F' were scored as `other`: a bank row training refuses."""
    bank = inference.model_fn(str(bank_model["model"]))
    header = "CreditScore,Geography,Gender,Age,Tenure,Balance,NumOfProducts,HasCrCard,IsActiveMember,EstimatedSalary\n"
    row = "619,%s,%s,42,2,0,1,1,1,101348.88" % (geography, gender)
    with pytest.raises(inference.InferenceError) as err:
        invoke(bank, header + row)
    assert "record 1, " in str(err.value) and message in str(err.value)


@needs_shared_data
def test_a_category_the_table_never_held_is_refused(tmp_path):
    """bigml's State declares no values: the categories the table held travel in the model."""
    model = write_model_inputs(BIGML, "bigml", tmp_path)["model"]
    rules = json.loads((model / "preprocessing.json").read_text())["input_rules"]
    state = next(r for r in rules["features"] if r["name"] == "State")
    assert state["values_from"] == "table" and len(state["values"]) == 51
    bigml = inference.model_fn(str(model))
    rows = pd.read_csv(BIGML, dtype=str).drop(columns=["Churn"]).head(2)
    expected = scores(invoke(bigml, rows.to_csv(index=False))[0])
    assert len(expected) == 2
    rows.loc[1, "State"] = "XX"
    with pytest.raises(inference.InferenceError) as err:
        invoke(bigml, rows.to_csv(index=False))
    assert "record 2, column 'State': 'XX' was never seen in training (its values: AK, AL," in str(
        err.value
    )


def test_script_mode_scores_a_file(seed_model, seed_csv, tmp_path):
    sample = tmp_path / "rows.csv"
    sample.write_text("".join(Path(seed_csv).read_text().splitlines(True)[:4]))
    proc = run(
        "inference/inference.py", "--model-dir", seed_model["model"], "--input", sample, check=0
    )
    assert len(proc.stdout.splitlines()) == 3
    sample.write_text("age\nold\n")
    proc = run("inference/inference.py", "--model-dir", seed_model["model"], "--input", sample)
    assert proc.returncode == 1 and "header lacks columns" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_batch_of_requests_scores_each_as_it_would_alone(seed):
    """predict_batch_fn: one recipe replay and one booster call for several requests' inputs
    of every content type; each request's scores equal predict_fn's for it alone."""
    bodies = [
        ("40,5,100000,2,1", "text/csv"),
        ("age,tenure,balance,num_products,is_active\n70,1,0,1,0\n33,9,5000,3,1", "text/csv"),
        (
            '{"instances": [{"age": 25, "tenure": 3, "balance": 100, "num_products": 1, '
            '"is_active": 1}]}',
            "application/json",
        ),
        ("[51, 2, 120000, 2, 0]\n[19, 0, 0, 1, 1]\n[88, 40, 9, 4, 0]", "application/jsonlines"),
    ]
    inputs = [inference.input_fn(body, content_type) for body, content_type in bodies]
    batched = inference.predict_batch_fn(inputs, seed)
    assert [len(p) for p in batched] == [1, 2, 1, 3]
    for input_data, predictions in zip(inputs, batched):
        assert list(predictions) == list(inference.predict_fn(input_data, seed))
    bad = inference.input_fn("40,5,lots,2,1", "text/csv")
    with pytest.raises(inference.InferenceError):
        inference.predict_batch_fn(inputs + [bad], seed)


def bulk_and_row_by_row(model, text):
    """Scores of a batch-sized body through the bulk reader, and through the row-by-row reader
    the same body takes below BULK_CSV_BYTES."""
    bulk = inference.input_fn(text, "text/csv")
    assert bulk.bulk and len(text) >= inference.BULK_CSV_BYTES
    rows = inference.decoding.Pending(inference.decoding.csv_rows(text.strip("\r\n")))
    return inference.predict_fn(bulk, model), inference.predict_fn(rows, model)


def seed_rows(n, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [
        "%d,%d,%.2f,%d,%d" % row
        for row in zip(
            rng.integers(18, 90, n),
            rng.integers(0, 11, n),
            rng.uniform(0, 2e5, n),
            rng.integers(1, 5, n),
            rng.integers(0, 2, n),
        )
    ]


def test_a_batch_payload_scores_as_its_rows_do(seed, lenient_seed_model):
    rows = seed_rows(60000)
    rows[6] = "40, 5 ,1e5,2,1"  # spaces and an exponent: what float() accepts
    bulk, row_by_row = bulk_and_row_by_row(seed, "\n".join(rows) + "\n")
    assert len(bulk) == 60000 and list(bulk) == list(row_by_row)
    header = "age,tenure,balance,num_products,is_active,churn\n"
    bulk, row_by_row = bulk_and_row_by_row(seed, header + "\n".join(r + ",0" for r in rows))
    assert list(bulk) == list(row_by_row)
    # A missing value and broken rules, where the schema allows and flags them.
    lenient = inference.model_fn(str(lenient_seed_model["model"]))
    rows[5] = "40,,100000,2,1"
    rows[7] = "40,5,-1,2,1"
    bulk, row_by_row = bulk_and_row_by_row(lenient, "\n".join(rows) + "\n")
    assert list(bulk.scores) == list(row_by_row.scores) and bulk.flags == row_by_row.flags
    assert (bulk.flags[5], bulk.flags[7], set(bulk.flags[8:])) == ("", "balance:range", {""})


@pytest.mark.parametrize(
    "flaw, message",
    [
        (
            lambda rows: rows.__setitem__(41234, "40,5,lots,2,1"),
            "record 41235, column 'balance': 'lots' is not a number",
        ),
        (lambda rows: rows.__setitem__(50000, "40,5,100000,2"), "record 50001 has 4 fields"),
        (lambda rows: rows.__setitem__(7, "40,5,100000,2,1,9"), "record 8 has 6 fields"),
        (
            lambda rows: rows.__setitem__(59999, "40,5,100000,11,1"),
            "record 60000, column 'num_products': 11 is outside [1, 10]",
        ),
        (lambda rows: rows.__setitem__(3, "40,5,,2,1"), "record 4, column 'balance': a value is"),
    ],
)
def test_a_flawed_batch_payload_names_the_record(seed, flaw, message):
    rows = seed_rows(60000)
    flaw(rows)
    with pytest.raises(inference.InferenceError) as err:
        inference.predict_fn(inference.input_fn("\n".join(rows), "text/csv"), seed)
    assert message in str(err.value)


@needs_shared_data
def test_a_batch_payload_with_categories_scores_as_its_rows_do(tmp_path):
    """Through the bulk reader and row by row, the same scores and the same flags, unknown
    categories included (a schema that flags them)."""
    schema = changed_schema(tmp_path / "bank-flags.json", "bank", on_invalid="flag")
    bank = inference.model_fn(str(write_model_inputs(BANK, schema, tmp_path)["model"]))
    lines = Path(BANK).read_text().splitlines()
    text = "\n".join(lines * max(1, inference.BULK_CSV_BYTES // len("\n".join(lines)) + 1))
    text = text.replace("France", "Atlantis", 7)  # unknown categories
    bulk, row_by_row = bulk_and_row_by_row(
        bank, lines[0] + "\n" + "\n".join(line for line in text.splitlines() if line != lines[0])
    )
    assert list(bulk.scores) == list(row_by_row.scores) and bulk.flags == row_by_row.flags
    assert bulk.flags.count("Geography:category") == 7


@pytest.mark.fast
def test_csv_scores_read_as_printf_writes_them():
    """Many rows are formatted by numpy, few by a format string: the same text either way."""
    import numpy as np

    rng = np.random.default_rng(3)
    scores = np.concatenate(
        [
            rng.uniform(0, 1, 100000),
            rng.uniform(0, 1e-3, 100000),
            [0, 1, 0.5, 2**-10, 1e-9, 0.9999999995, 5e-10],
        ]
    )
    scores = scores.astype(np.float32).astype(np.float64)  # booster outputs
    labels = scores >= 0.5
    expected = "".join(
        "%.9f,%d\n" % (s, label) for s, label in zip(scores.tolist(), labels.tolist())
    )
    assert inference._csv_lines(scores, labels) == expected
    assert inference._csv_lines(scores[:3], labels[:3]) == "".join(expected.splitlines(True)[:3])


def test_the_direct_predictor_answers_as_inplace_predict(seed):
    """model_fn predicts through XGBoost's C function without the Python wrapper (on this
    xgboost it must: the probe passed), with exactly inplace_predict's scores."""
    import numpy as np

    assert seed.predict != seed.booster.inplace_predict
    matrix = np.random.default_rng(5).uniform(-1, 2, size=(5000, 5)).astype(np.float32)
    matrix[::7, 2] = np.nan
    for rows in (matrix[:1], matrix[:33], matrix, np.asfortranarray(matrix[:100])):
        assert np.array_equal(seed.predict(rows), seed.booster.inplace_predict(rows))


@pytest.mark.fast
def test_batch_payloads_are_big_enough_for_the_bulk_reader():
    """The batch worker cuts payloads down to about 1 MB (a whole line less) to keep every core
    busy; each must still take the bulk reader, or a 200k-row file scores 2.5x slower."""
    from pipelines.serving import batch_transform

    row = b"40,5,100000.25,2,1\n"
    data = row * (2 * batch_transform.MB // len(row))
    start, end = next(batch_transform.payloads(data, "MultiRecord", batch_transform.MB))
    assert end - start >= inference.BULK_CSV_BYTES
    assert inference.input_fn(data[start:end], "text/csv").bulk


def test_a_json_boolean_is_not_a_number(seed):
    """float(True) is 1.0, and the fast conversion took it; the number grammar does not."""
    body = json.dumps(
        {
            "instances": [
                {"age": 40, "tenure": 5, "balance": 1e5, "num_products": 2, "is_active": True}
            ]
        }
    )
    with pytest.raises(inference.InferenceError) as err:
        invoke(seed, body, "application/json")
    assert "record 1, column 'is_active': True is not a number" in str(err.value)


def test_a_model_without_input_rules_loads_and_scores(seed_model, tmp_path):
    """A model registered before models carried rules, or trained on a prepared table (the
    direct workflow), has preprocessing.json format 1 and no input_rules: only the recipe's
    number check applies."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(seed_model["model"], model)
    spec = json.loads((model / "preprocessing.json").read_text())
    spec["format"] = "churn-preprocessing/1"
    del spec["input_rules"]
    (model / "preprocessing.json").write_text(json.dumps(spec))
    old = inference.model_fn(str(model))
    assert scores(invoke(old, "150,5,100000,2,1")[0])  # no rule: scored
    with pytest.raises(inference.InferenceError):
        invoke(old, "40,5,lots,2,1")
