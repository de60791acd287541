"""Bad tables through `churn run`, as a careless or hostile user would give them: a non-zero
exit, one line naming the column, no traceback, nothing registered."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

HEADER = "customer_id,age,tenure,balance,num_products,is_active,churn"


def good_rows(n=400):
    return [
        "C%05d,%d,%d,%d.5,%d,%d,%d"
        % (i, 20 + i % 50, i % 11, 1000 * (i % 97), 1 + i % 3, i % 2, int(i % 5 == 0))
        for i in range(n)
    ]


def churn(home, *args):
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli"] + list(args),
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(os.environ, CHURN_HOME=str(home)),
    )


def assert_refused(home, proc, *fragments):
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr
    assert churn(home, "models", "list").stdout.startswith("no model versions")


@pytest.mark.parametrize(
    "value",
    ["1e309", "-1e309", "9" * 400],
)
def test_numbers_that_overflow_a_float_are_refused_by_validation(tmp_path, value):
    """1e309 or a 400-digit integer passed validation, became inf in preprocessing, min-max
    scaling mapped the whole column to 0, and the model was registered."""
    rows = good_rows()
    for i in (3, 7, 11):
        fields = rows[i].split(",")
        fields[3] = value
        rows[i] = ",".join(fields)
    table = tmp_path / "overflow.csv"
    table.write_text("\n".join([HEADER] + rows) + "\n")
    proc = churn(tmp_path / "home", "run", "--data", str(table))
    assert_refused(tmp_path / "home", proc, "balance: 3 rows too large for a 64-bit float")


def run_json(home, table):
    import json

    # Labels here are not learnable; the gate is not what these tests are about.
    proc = churn(home, "run", "--json", "--data", str(table), "--param", "AucThreshold=0")
    try:
        return proc, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(proc.stdout[-2000:] + proc.stderr[-3000:])


def staged_json(home, result, step, output, name):
    """A JSON file one step of a local execution wrote to the store."""
    import json

    folder = home / "s3" / "churn-local" / "churn" / result["execution_id"] / step / output
    return json.loads((folder / name).read_text())


@pytest.mark.parametrize(
    "extra, values",
    [("bonus", lambda i: str(i * 7 % 13)), ("notes", lambda i: "call %d" % (i % 4))],
)
def test_columns_the_schema_does_not_name_never_reach_the_model(tmp_path, extra, values):
    """An extra numeric column became a training feature while inference reads only the
    schema's columns, so the registered model answered every request with 500; an extra text
    column failed with 'still text after the recipe'. Such columns are ignored and reported."""
    rows = ["%s,%s" % (row, values(i)) for i, row in enumerate(good_rows())]
    table = tmp_path / "extra.csv"
    table.write_text("\n".join([HEADER + "," + extra] + rows) + "\n")
    home = tmp_path / "home"
    proc, result = run_json(home, table)
    assert result["status"] == "Succeeded", result["failure_reason"]
    spec = staged_json(home, result, "PreprocessData", "preprocessing", "preprocessing.json")
    assert not [name for name in spec["feature_names"] if name.startswith(extra)]
    report = staged_json(home, result, "ValidateData", "validation", "validation_report.json")
    assert report["ignored_columns"] == [extra]


def test_a_header_that_names_a_column_twice_is_refused(tmp_path):
    rows = ["%s,%d" % (row, i % 50) for i, row in enumerate(good_rows())]
    table = tmp_path / "twice.csv"
    table.write_text("\n".join([HEADER + ",age"] + rows) + "\n")
    proc = churn(tmp_path / "home", "run", "--data", str(table))
    assert_refused(tmp_path / "home", proc, "names column 'age' twice in its header")


def test_a_recipe_that_reads_a_column_requests_lack_is_refused(tmp_path):
    """A recipe can only produce what inference can reproduce: one that makes a feature from
    a dropped column would register a model no request can feed."""
    import json

    schema = json.loads((ROOT / "processing" / "schemas" / "seed.json").read_text())
    schema["drop"] = ["notes"]
    schema["recipe"] = [
        {"Action": {"Operation": "DELETE", "Parameters": {"sourceColumn": "customer_id"}}},
        {
            "Action": {
                "Operation": "CHANGE_DATA_TYPE",
                "Parameters": {"sourceColumn": "notes", "columnDataType": "double"},
            }
        },
    ]
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    rows = ["%s,%d" % (row, i % 9) for i, row in enumerate(good_rows())]
    table = tmp_path / "notes.csv"
    table.write_text("\n".join([HEADER + ",notes"] + rows) + "\n")
    proc = churn(
        tmp_path / "home", "run", "--data", str(table), "--schema", str(tmp_path / "schema.json")
    )
    assert_refused(tmp_path / "home", proc, "the recipe needs more than the schema's features")
