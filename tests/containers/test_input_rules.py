"""Scoring accepts exactly the values training accepts: validate.py's Great Expectations suite
and the serving code's input rules (processing/churn_rules.py) give the same verdict on every
value, each probe in a row of its own among valid ones.

The suite runs in this process (its planning and frame are validate.py's own functions), so
each row's verdict is read from Great Expectations' unexpected indices; the scoring verdict is
inference.py's answer to the same row."""

import sys

import pandas as pd
import pytest

from conftest import BANK, ROOT, load_inference, needs_shared_data

sys.path.insert(0, str(ROOT / "processing"))
import validate  # noqa: E402

from churn_schema import load_schema  # noqa: E402

inference = load_inference()
# Great Expectations' pandas regex check calls str.contains with the number pattern's groups.
pytestmark = pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expr")

# Values a careless or hostile table holds, per column of the seed schema (age: integer 0-120;
# balance: a number >= 0; is_active: integer 0-1).
SEED_PROBES = {
    "age": [
        "42", "42.0", "4.2e1", " 42 ", "+42", "42.5", "150", "-1", "", "abc", "nan", "inf",
        "1e309", "٤٢", "1_0", "0x10", ".0", "5.", "0", "120", "120.5", "1e2",
    ],
    "balance": [
        "0", "-0", "-5", "1e5", "1E5", "100000.25", ".5", "5.", "1e-3", "", "lots", "NaN",
        "-inf", "1e309", "１２", "12 34", "\t7\t",
    ],
    "is_active": ["0", "1", "2", "1.0", "0.5", "true", "-0", ""],
}  # fmt: skip
SEED_ROW = {
    "customer_id": "C0",
    "age": "40",
    "tenure": "5",
    "balance": "100000",
    "num_products": "2",
    "is_active": "1",
    "churn": "0",
}


def probe_table(base, probes):
    """One row per probe (its value in its column, the base row's elsewhere), then two valid
    rows; ids unique. Returns the frame (raw text, None for an empty field) and the probes in
    row order."""
    rows, order = [], []
    for column, values in probes.items():
        for value in values:
            rows.append(dict(base, **{column: value}))
            order.append((column, value))
    rows += [dict(base), dict(base)]
    frame = pd.DataFrame(rows, dtype=object)
    id_column = next(c for c in base if "id" in c.lower())
    frame[id_column] = ["R%d" % i for i in range(len(frame))]
    return frame.where(frame != "", None), order


def validation_verdicts(schema_name, frame):
    """The rows the schema's suite refuses (any check failing on them)."""
    schema = load_schema(schema_name)
    checks = validate.plan_checks(schema, list(frame.columns))
    _, results = validate.run_suite(
        validate.validation_frame(frame, schema), checks, "probes-" + schema.name
    )
    refused = set()
    for r in results:
        indices = (r.result or {}).get("partial_unexpected_index_list") or []
        assert len(indices) == (r.result or {}).get("unexpected_count", 0), (
            "raise the partial count"
        )
        refused.update(int(i) for i in indices)
    return refused


def scoring_verdicts(model, frame, features):
    """The rows inference.py refuses, each sent alone as a CSV request with a header."""
    refused = set()
    for i, row in frame.iterrows():
        body = pd.DataFrame([row[features]]).to_csv(index=False)
        try:
            inference.predict_fn(inference.input_fn(body, "text/csv"), model)
        except inference.InferenceError:
            refused.add(i)
    return refused


def assert_same_verdicts(schema_name, model_dir, base, probes):
    frame, order = probe_table(base, probes)
    features = [f.name for f in load_schema(schema_name).features]
    model = inference.model_fn(str(model_dir))
    by_validation = validation_verdicts(schema_name, frame)
    by_scoring = scoring_verdicts(model, frame, features)
    differ = {order[i] for i in by_validation ^ by_scoring}
    assert not differ, "validation and scoring disagree on %s" % sorted(differ)
    assert len(frame) - 2 not in by_scoring  # the valid rows pass both
    return {order[i] for i in by_scoring}


def test_validation_and_scoring_agree_on_every_seed_value(seed_model):
    refused = assert_same_verdicts("seed", seed_model["model"], SEED_ROW, SEED_PROBES)
    assert ("age", "42.5") in refused and ("age", "4.2e1") not in refused  # whole by value
    assert ("balance", "") in refused and ("is_active", "2") in refused


@needs_shared_data
def test_validation_and_scoring_agree_on_every_bank_category(bank_model):
    base = pd.read_csv(BANK, dtype=str).iloc[0].to_dict()
    probes = {
        "Geography": ["France", "france", " France", "France ", "FRANCE", "Italy", "", "1"],
        "Gender": ["Female", "F", "female", "Male", "M", ""],
        "CreditScore": ["619", "299", "900", "901", "619.0", "619.5"],
        # the hostile review's bank row: scored before, whatever the value
        "Age": ["42", "420", "-42", "42.5", "nan"],
        "EstimatedSalary": ["101348.88", ""],
    }
    refused = assert_same_verdicts("bank", bank_model["model"], base, probes)
    assert ("Geography", "france") in refused and ("Geography", "France") not in refused
    assert {("Age", "420"), ("Age", "-42"), ("Age", "42.5"), ("EstimatedSalary", "")} <= refused


def test_rows_flagged_instead_of_refused_name_each_rule(lenient_seed_model):
    """A flagging schema scores what a refusing one refuses, flagging the same rows."""
    model = inference.model_fn(str(lenient_seed_model["model"]))
    frame, order = probe_table(SEED_ROW, {"age": ["42", "150", "42.5", "-1"]})
    body = frame[["age", "tenure", "balance", "num_products", "is_active"]].to_csv(index=False)
    prediction = inference.predict_fn(inference.input_fn(body, "text/csv"), model)
    assert prediction.flags == ["", "age:range", "age:integer", "age:range", "", ""]


@pytest.mark.fast
@pytest.mark.parametrize(
    "value, allowed, twin",
    [
        ("france", ["France", "Spain"], "France"),
        (" Spain ", ["France", "Spain"], "Spain"),
        ("Italy", ["France", "Spain"], None),
    ],
)
def test_the_hint_names_a_category_that_differs_only_in_case_or_spaces(value, allowed, twin):
    from churn_rules import near_miss

    assert near_miss(value, allowed) == twin
