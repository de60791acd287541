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


# (name, file bytes, what the error's first line must hold, {table} standing for the file's
# path): 52 tables a careless or hostile user gives, with the overflow and extra-column tables
# above. Those whose header or rows the CLI can judge are refused before anything runs (the
# user's file and line named); the rest by the pipeline's own steps.
BAD_TABLES = [
    ("empty", b"", "is empty"),
    ("header only", (HEADER + "\n").encode(), "has a header but no rows"),
    ("header and blank lines", (HEADER + "\n\n\n").encode(), "has a header but no rows"),
    ("no target", good_table().replace(",churn", "", 1).encode(), "lacks columns churn"),
    ("no feature", good_table().replace(",balance", ",bal", 1).encode(), "lacks columns balance"),
    ("no id", good_table().replace("customer_id", "id", 1).encode(), "lacks columns customer_id"),
    ("semicolons", good_table().replace(",", ";").encode(), "lacks columns"),
    ("tabs", good_table().replace(",", "\t").encode(), "lacks columns"),
    (
        "header twice",
        good_table().replace(",churn", ",age", 1).encode(),
        "names column 'age' twice",
    ),
    (
        "utf-16",
        good_table().encode("utf-16"),
        "{table} is not a readable CSV file: it is UTF-16 text: save it as UTF-8 CSV",
    ),
    (
        "utf-16 without a byte-order mark",
        good_table().encode("utf-16-le"),
        "is not a readable CSV file: it looks like UTF-16 text (every other byte is 0): save it "
        "as UTF-8 CSV",
    ),
    (
        "latin-1 header",
        ("âge" + HEADER[3:] + "\n").encode("latin-1") + b"x\n",
        "{table} is not a readable CSV file: line 1 is not UTF-8 (byte 0xe2: Latin-1 or "
        "Windows-1252 text?): save it as UTF-8 CSV",
    ),
    (
        "latin-1 row",
        (good_table() + "Cé9999,40,1,1.5,1,1,0\n").encode("latin-1"),
        "{table} is not a readable CSV file: line 402 is not UTF-8 (byte 0xe9",
    ),
    (
        "latin-1 at the end of a short file",
        "\n".join([HEADER] + good_rows(3) + ["C00009,40,1,1.5,1,1,0é\n"]).encode("latin-1"),
        "{table} is not a readable CSV file: line 5 is not UTF-8 (byte 0xe9",
    ),
    (
        "binary",
        bytes(range(256)) * 8,
        "is not a readable CSV file: it holds NUL bytes (a binary file, not text): save it as "
        "UTF-8 CSV",
    ),
    ("header in capitals", good_table().replace("age", "Age", 1).encode(), "lacks columns age"),
    ("open quote in header", ('"' + good_table()).encode(), "lacks columns"),
    (
        "age out of range",
        with_field("age", "150").encode(),
        "age: 3 rows outside [0, 120], e.g. 150 ({table} line 5)",
    ),
    ("age not whole", with_field("age", "3.5").encode(), "age: 3 rows with non-integer values"),
    (
        "balance text",
        with_field("balance", "lots").encode(),
        "balance: 3 rows with non-numeric values, e.g. 'lots' ({table} line 5)",
    ),
    ("balance inf", with_field("balance", "inf").encode(), "balance: 3 rows with non-numeric"),
    ("balance nan", with_field("balance", "nan").encode(), "balance: 3 rows with non-numeric"),
    ("balance 1_000", with_field("balance", "1_000").encode(), "balance: 3 rows with non-numeric"),
    ("balance -1e309", with_field("balance", "-1e309").encode(), "balance: 3 rows too large"),
    ("balance negative", with_field("balance", "-5").encode(), "balance: 3 rows below 0"),
    ("products zero", with_field("num_products", "0").encode(), "num_products: 3 rows outside"),
    ("active two", with_field("is_active", "2").encode(), "is_active: 3 rows outside [0, 1]"),
    (
        "age missing",
        with_field("age", "").encode(),
        "age: 3 rows missing; the schema requires every value of age (a feature without "
        '"completeness" must be complete): to allow gaps, give it "completeness", e.g. 0.99',
    ),
    ("age arabic digits", with_field("age", "٤٠").encode(), "age: 3 rows with non-integer"),
    (
        "balance all missing",
        with_field("balance", "", rows=range(400)).encode(),
        "balance: 400 rows missing; the schema requires every value of balance",
    ),
    ("target yes", with_field("churn", "yes").encode(), "churn: 3 rows"),
    ("target missing", with_field("churn", "").encode(), "churn: 3 rows missing"),
    (
        "ids repeated",
        with_field("customer_id", "C00001").encode(),
        "customer_id: 4 rows have a duplicated id",
    ),
    ("ids missing", with_field("customer_id", "").encode(), "customer_id: 3 rows missing"),
    (
        "row too long",
        good_table().replace("\nC00005,", "\nC00005,1,", 1).encode(),
        "{table} line 7 has 8 fields, the header has 7; fix the row (a comma inside a value "
        "needs quotes)",
    ),
    (
        "row too long, CR line ends",
        good_table().replace("\n", "\r").replace("\rC00005,", "\rC00005,1,", 1).encode(),
        "{table} line 7 has 8 fields, the header has 7",
    ),
    (
        "row too long after quoted line breaks",
        with_field("balance", '"12\n34"').replace("\nC00009,", "\nC00009,1,", 1).encode(),
        "{table} line 13 has 8 fields, the header has 7",
    ),
    (
        "row too short",
        (good_table() + "C99999,40\n").encode(),
        "{table} line 402 has 2 fields, the header has 7; fix the row (every column needs a "
        "field, empty where the value is missing)",
    ),
    (
        "unclosed quote",
        good_table().replace("\nC00005,", '\n"C00005,', 1).encode(),
        "{table} line 7 opens a quote that is never closed",
    ),
    (
        "unclosed quote on the last line",
        (good_table() + 'C99999,40,1,1.5,1,1,"1\n').encode(),
        "{table} line 402 opens a quote that is never closed",
    ),
    ("only churners", with_field("churn", "1", rows=range(400)).encode(), "no retained rows"),
    ("three rows", "\n".join([HEADER] + good_rows(3)).encode(), "too few to split"),
    (
        "quoted newline",
        with_field("balance", '"12\n34"').encode(),
        "balance: 3 rows with non-numeric",
    ),
    (
        "bom and junk",
        b"\xef\xbb\xbf\xff\xfe" + good_table().encode(),
        "is not a readable CSV file: line 1 is not UTF-8 (byte 0xff",
    ),
    (
        "gzip",
        gzip.compress(good_table().encode()),
        "{table} is not a readable CSV file: it is gzip-compressed: decompress it (gunzip), or "
        "open it and save it as UTF-8 CSV",
    ),
    (
        "zip (a spreadsheet)",
        b"PK\x03\x04" + bytes(200),
        "{table} is not a readable CSV file: it is a ZIP archive (an Excel .xlsx workbook is "
        "one): open the sheet and save it as UTF-8 CSV",
    ),
    (
        "an old Excel workbook",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200),
        "is not a readable CSV file: it is an Excel 97-2003 workbook (.xls): open the sheet and "
        "save it as UTF-8 CSV",
    ),
    ("json", json.dumps([{"age": 40}]).encode(), "lacks columns"),
    (
        "header with spaces",
        good_table().replace(",age,", ", age ,", 1).encode(),
        "lacks columns age",
    ),
    (
        "header with an empty name",
        good_table().replace(",tenure", ",", 1).encode(),
        "lacks columns tenure",
    ),
    ("whitespace only", b"   \n\t\n", "lacks columns"),
    ("one column", b"customer_id\nC1\nC2\n", "lacks columns age"),
]


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-home")


@pytest.mark.parametrize("name, data, fragment", BAD_TABLES, ids=[t[0] for t in BAD_TABLES])
def test_a_bad_table_is_refused_naming_its_column(shared_home, tmp_path, name, data, fragment):
    import sqlite3

    table = tmp_path / "customers.csv"
    table.write_bytes(data)
    proc = churn(shared_home, "run", "--data", str(table))
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    assert fragment.replace("{table}", str(table)) in first, first
    # the user's file, never a job's container path or the copy staged under the home
    assert "/opt/ml/" not in first and str(shared_home) not in first, first
    if (shared_home / "registry.db").exists():
        with sqlite3.connect(str(shared_home / "registry.db")) as db:
            assert db.execute("SELECT COUNT(*) FROM model_packages").fetchone()[0] == 0


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
