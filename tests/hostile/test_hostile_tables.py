"""Bad tables through `churn run`, as a careless or hostile user would give them: a non-zero
exit, one line naming the column, no traceback, nothing registered."""

import gzip
import json
import os

import pytest

from conftest import ROOT
from conftest import churn_cli as churn

HEADER = "customer_id,age,tenure,balance,num_products,is_active,churn"


def good_rows(n=400):
    return [
        "C%05d,%d,%d,%d.5,%d,%d,%d"
        % (i, 20 + i % 50, i % 11, 1000 * (i % 97), 1 + i % 3, i % 2, int(i % 5 == 0))
        for i in range(n)
    ]


def assert_refused(home, proc, *fragments):
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr
    assert churn(home, "models", "list").stdout.startswith("no model versions")


@pytest.mark.parametrize(
    "value",
    ["1e309", "9" * 400],
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


def with_field(column, value, rows=(3, 7, 11)):
    """The good table with `value` in `column` of some rows."""
    index = HEADER.split(",").index(column)
    lines = good_rows()
    for i in rows:
        fields = lines[i].split(",")
        fields[index] = value
        lines[i] = ",".join(fields)
    return "\n".join([HEADER] + lines) + "\n"


def good_table():
    return "\n".join([HEADER] + good_rows()) + "\n"


# Tables that pass validation and still cannot give a model anyone should trust: no version is
# registered, and the run's failure names the cause (the UntrustedData FailStep, from what
# EvaluateModel found). Generated seed-schema customers, so the split holds distinctive values.
def untrusted(change):
    def table(path):

        from pipelines.churn.datagen import generate

        change(generate(3000, seed=3)).to_csv(path, index=False)

    return table


def twice(frame):
    import pandas as pd

    return pd.concat([frame, frame.assign(customer_id=frame.customer_id + "-2")])


UNTRUSTED_TABLES = [
    (
        "a copy of the target",
        untrusted(lambda f: f.assign(is_active=f.churn)),
        [],
        "feature 'is_active' alone separates the target (AUC 1.0000, MaxFeatureAuc 0.99)",
    ),
    (
        "a copy of the target reversed",
        untrusted(lambda f: f.assign(is_active=1 - f.churn)),
        [],
        "feature 'is_active' alone separates the target (AUC 1.0000",
    ),
    ("every row twice under two ids", untrusted(twice), [], "the same customers are in both"),
    (
        "no feature varies, with a gate of 0.5",
        untrusted(lambda f: f.assign(age=40, tenure=5, balance=100.0, num_products=2, is_active=1)),
        ["--param", "AucThreshold=0.5"],
        "no feature varies in the train split (5 features, each a single value)",
    ),
]


def test_a_schema_that_drops_a_column_the_table_lacks_says_so(tmp_path):
    """A "drop" naming a column the table does not have (a misspelt name) was silently
    accepted. It changes nothing (a column the schema does not name is ignored), so the run goes
    on, saying so first: a table built from the feature store has no dropped columns at all."""
    schema = json.loads((ROOT / "processing" / "schemas" / "seed.json").read_text())
    schema["drop"] = ["notes"]
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    table = tmp_path / "customers.csv"
    table.write_text(good_table())
    home = tmp_path / "home"
    proc = churn(
        home, "run", "--data", table, "--schema", tmp_path / "schema.json", "--param",
        "AucThreshold=0",
    )  # fmt: skip
    assert proc.stderr.splitlines()[0] == (
        'note: the schema\'s "drop" names notes, which %s does not have: nothing to drop (a '
        "misspelt name?)" % table
    )
    assert "Traceback" not in proc.stderr and "executions" in os.listdir(home)


# A folder of CSV parts, as the pipeline reads an S3 prefix: each part is checked like a file,
# and all parts need one header. (name, {part: bytes}, what the first line must hold, {folder}
# standing for the folder's path.)
SECOND_PART = "\n".join([HEADER] + good_rows()).replace("\nC", "\nD") + "\n"
BAD_FOLDERS = [
    ("an empty folder", {}, "{folder} holds no .csv file: give a CSV file, or a folder"),
    ("a folder without CSV files", {"notes.txt": b"x\n"}, "{folder} holds no .csv file"),
    (
        "parts with different headers",
        {
            "a.csv": good_table().encode(),
            "b.csv": SECOND_PART.replace("age,tenure", "tenure,age", 1).encode(),
        },
        "{folder}/b.csv's header is not {folder}/a.csv's (customer_id, tenure, age,",
    ),
    (
        "a ragged row in a part in a subfolder",
        {
            "a.csv": good_table().encode(),
            "2024/b.csv": SECOND_PART.replace("\nD00005,", "\nD00005,1,", 1).encode(),
        },
        "{folder}/2024/b.csv line 7 has 8 fields, the header has 7",
    ),
    (
        "a gzip part",
        {"a.csv": good_table().encode(), "b.csv": gzip.compress(SECOND_PART.encode())},
        "{folder}/b.csv is not a readable CSV file: it is gzip-compressed",
    ),
    (
        "a bad value in the second part",
        {
            "a.csv": good_table().encode(),
            "b.csv": SECOND_PART.replace("\nD00007,27,", "\nD00007,150,", 1).encode(),
        },
        "age: 1 row outside [0, 120], e.g. 150 ({folder}/b.csv line 9)",
    ),
]


@pytest.mark.parametrize(
    "name, write, params, fragment", UNTRUSTED_TABLES, ids=[t[0] for t in UNTRUSTED_TABLES]
)
def test_a_table_that_cannot_be_trusted_registers_no_model(tmp_path, name, write, params, fragment):
    """A copy of the target gave test AUC 1.0 and a registered version; every row twice gave an
    AUC a split with no repeats does not reach; constant features met a gate of 0.5."""
    table = tmp_path / "customers.csv"
    write(table)
    home = tmp_path / "home"
    proc = churn(home, "run", "--data", str(table), *params)
    first = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert first.startswith("failed: step UntrustedData failed: The data cannot be trusted: ")
    assert fragment in first and first.endswith("- the model was not registered."), first
    assert "data checks: FAILED" in proc.stdout
    assert churn(home, "models", "list").stdout.startswith("no model versions")


def test_a_trusted_table_reports_what_the_data_checks_found(tmp_path):
    """The report says what it found when the checks pass, too."""
    table = tmp_path / "customers.csv"
    untrusted(lambda f: f)(table)
    proc = churn(tmp_path / "home", "run", "--data", str(table), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    checks = json.loads(proc.stdout)["data_checks"]
    assert checks["passed"] and checks["failed"] == 0 and checks["reason"] == ""
    assert checks["single_feature_auc"]["strongest"]["feature"] == "age"
    assert checks["train_test_overlap"]["repeated"] == 0
    assert checks["varying_features"]["varying"] == 5
    assert checks["summary"].startswith("data checks: passed (strongest single feature age AUC 0.")


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-home")


@pytest.mark.parametrize("name, parts, fragment", BAD_FOLDERS, ids=[t[0] for t in BAD_FOLDERS])
def test_a_bad_folder_of_parts_is_refused_naming_its_file(
    shared_home, tmp_path, name, parts, fragment
):
    folder = tmp_path / "customers"
    folder.mkdir()
    for part, data in parts.items():
        (folder / part).parent.mkdir(parents=True, exist_ok=True)
        (folder / part).write_bytes(data)
    proc = churn(shared_home, "run", "--data", folder)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    assert fragment.replace("{folder}", str(folder)) in first, first
    assert "/opt/ml/" not in first and str(shared_home) not in first, first


@pytest.mark.fast
def test_a_jobs_container_path_names_the_users_file_or_the_file_in_their_folder(tmp_path):
    """A job names its input by its container path, under the job's folder in the home; the
    user gave a file or a folder, and a failure must name that."""
    from pipelines.cli.run import in_users_terms

    folder = tmp_path / "customers"
    (folder / "2024").mkdir(parents=True)
    for part in ("a.csv", "2024/b.csv"):
        (folder / part).write_text(good_table())
    job = str(tmp_path / "home/executions/e1/ValidateShards/algo-1/opt/ml/processing/input/data")
    reason = "step ValidateShards failed: %s/2024/b.csv is not a readable CSV file: EOF" % job
    assert in_users_terms(reason, str(folder)) == (
        "step ValidateShards failed: %s/2024/b.csv is not a readable CSV file: EOF" % folder
    )
    table = folder / "a.csv"
    reason = "step PreprocessData failed: %s/a.csv is not a readable CSV file: EOF" % job
    assert in_users_terms(reason, str(table)) == (
        "step PreprocessData failed: %s is not a readable CSV file: EOF" % table
    )


def plan_table(path, plan_values, numeric_name="plan_pro"):
    """customer_id, plan (a category), a numeric feature, churn: churn follows the numeric
    feature, so a model that lost it scores near 0.5."""
    lines = ["customer_id,plan,%s,churn" % numeric_name]
    for i in range(600):
        score = i % 10
        lines.append(
            "C%05d,%s,%d,%d"
            % (i, plan_values[i % len(plan_values)], score, int(score >= 7 or i % 23 == 0))
        )
    path.write_text("\n".join(lines) + "\n")


def plan_schema(path, numeric_name="plan_pro", plan_values=None):
    plan = {"name": "plan", "type": "categorical"}
    if plan_values:
        plan["values"] = plan_values
    schema = {
        "name": "plans",
        "id_column": "customer_id",
        "target": {"column": "churn", "positive": 1, "values": [0, 1]},
        "features": [plan, {"name": numeric_name, "type": "numeric", "min": 0}],
    }
    path.write_text(json.dumps(schema))


@pytest.mark.parametrize(
    "numeric_name, plan_values, column",
    [
        ("plan_pro", ["basic", "pro"], "plan_pro"),  # a category's column
        ("plan_other", ["basic", "pro"], "plan_other"),  # the column of categories not seen
    ],
)
def test_a_one_hot_column_that_takes_another_features_name_is_refused(
    tmp_path, numeric_name, plan_values, column
):
    """A numeric feature plan_pro beside a category plan holding 'pro': the one-hot column
    plan_pro silently replaced the numeric feature (AUC 0.51 against 0.87 renamed)."""
    plan_table(tmp_path / "plans.csv", plan_values, numeric_name)
    plan_schema(tmp_path / "plans.json", numeric_name)
    home = tmp_path / "home"
    proc = churn(home, "run", "--data", tmp_path / "plans.csv", "--schema", tmp_path / "plans.json")
    assert_refused(home, proc, "'%s'" % column, "rename")


def test_a_category_named_like_the_unseen_bucket_is_refused(tmp_path):
    """A category 'other' made the column plan_other, which the bucket for categories training
    never saw then overwrote."""
    plan_table(tmp_path / "plans.csv", ["basic", "other"], "score")
    plan_schema(tmp_path / "plans.json", "score")
    home = tmp_path / "home"
    proc = churn(home, "run", "--data", tmp_path / "plans.csv", "--schema", tmp_path / "plans.json")
    assert_refused(home, proc, "'plan_other'", "rename")


def test_names_and_categories_xgboost_refuses_train_a_model_that_scores_them(tmp_path):
    """A band like '<30k' or a feature named 'balance[eur]' passed validation and failed
    TrainModel with XGBoost's 'feature_names may not contain [, ] or <'."""
    bands = ["<30k", "[30k-60k)", "60k+"]
    plan_table(tmp_path / "plans.csv", bands, "balance[eur]")
    plan_schema(tmp_path / "plans.json", "balance[eur]")
    home = tmp_path / "home"
    proc, result = run_json_with(
        home, "--data", tmp_path / "plans.csv", "--schema", tmp_path / "plans.json"
    )
    assert result["status"] == "Succeeded", result["failure_reason"]
    assert result["metrics"]["auc"] > 0.8
    spec = staged_json(home, result, "PreprocessData", "preprocessing", "preprocessing.json")
    assert {"balance[eur]", "plan_<30k", "plan_[30k-60k)"} <= set(spec["feature_names"])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv").write_text("<30k,9\n[30k-60k),1\n")
    scored = churn(
        home,
        "batch",
        "--schema",
        tmp_path / "plans.json",
        "--input",
        tmp_path / "in",
        "--output",
        tmp_path / "out",
        "--model-version",
        "1",
        "--allow-unapproved",
    )
    assert scored.returncode == 0, scored.stderr
    lines = (tmp_path / "out" / "rows.csv.out").read_text().split()
    high, low = [float(line.split(",")[0]) for line in lines]
    assert high > low


def run_json_with(home, *args):
    proc = churn(home, "run", "--json", *args)
    try:
        return proc, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(proc.stdout[-2000:] + proc.stderr[-3000:])
