"""processing/validate.py, run as the processing job runs it: a child process on temp folders.

Each run that reaches Great Expectations costs 4-6 s of CPU, nearly all of it GE's import and
bookkeeping, so the file keeps those runs few and starts them all at once (the `runs` fixture)
rather than one after another. Runs are shared where that hides nothing: the faults of the seed
table sit in different columns of one table, and each must be reported on its own line with its
own count, with nothing else failing.
"""

import csv
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "processing" / "validate.py"
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is absent")

SEED_COLUMNS = ["customer_id", "age", "tenure", "balance", "num_products", "is_active", "churn"]
SEED_CHECKS = 32  # row count + 7 columns present + id 2 + target 2 + 5 numeric features x 4

# Runs the script the way `python processing/validate.py` does, after installing an audit
# hook that records network use, and records at exit whether Great Expectations was imported.
PROBE = r"""
import atexit, json, os, runpy, sys
probe_file, script = sys.argv[1], sys.argv[2]
attempts = []
def audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto"):
        attempts.append("%s %r" % (event, args[-1] if event != "socket.getaddrinfo" else args))
sys.addaudithook(audit)
@atexit.register
def record():
    with open(probe_file, "w") as f:
        json.dump({"network": attempts, "gx_imported": "great_expectations" in sys.modules}, f)
sys.argv = sys.argv[2:]
sys.path.insert(0, os.path.dirname(script))
runpy.run_path(script, run_name="__main__")
"""


# ----------------------------------------------------------------------------- helpers


def seed_rows(n, start=0):
    """A valid seed-schema table: unique ids, ages 18-90, churn 0/1 (every fifth row)."""
    return [
        {
            "customer_id": "C%05d" % i,
            "age": str(18 + (i * 7) % 73),
            "tenure": str(i % 11),
            "balance": "%.2f" % ((i * 1234.5) % 90000),
            "num_products": str(1 + i % 4),
            "is_active": str(i % 2),
            "churn": "1" if i % 5 == 0 else "0",
        }
        for i in range(start, start + n)
    ]


def write_csv(path, rows, columns=SEED_COLUMNS):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


class Run(object):
    """validate.py started as a child process now; `.wait()` when a test needs the outcome."""

    def __init__(self, tmp, input_path, schema="seed", probe=False):
        self.out = tmp / "out"
        args = ["--input", str(input_path), "--schema", str(schema), "--output-dir", str(self.out)]
        self.probe_file = tmp / "probe.json" if probe else None
        if probe:
            cmd = [sys.executable, "-c", PROBE, str(self.probe_file), str(SCRIPT)] + args
        else:
            cmd = [sys.executable, str(SCRIPT)] + args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.returncode = None

    def wait(self):
        if self.returncode is None:
            self.stdout, self.stderr = self.proc.communicate(timeout=180)
            self.returncode = self.proc.returncode
            self.probe = json.loads(self.probe_file.read_text()) if self.probe_file else None
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    @property
    def report(self):
        return json.loads((self.out / "validation_report.json").read_text())

    @property
    def ge_result(self):
        """Great Expectations' result (the tables here are validated in one batch)."""
        (result,) = json.loads((self.out / "ge_validation_result.json").read_text())
        return result

    def entry(self, column, expectation):
        found = [
            e
            for e in self.report["expectations"]
            if e["column"] == column and e["expectation"] == expectation
        ]
        assert len(found) == 1, found
        return found[0]


class ShardedRun(object):
    """validate.py as the pipeline runs it on several instances: the input's files dealt out
    by sorted name as ShardedByS3Key deals objects, one `--shard-of` process per host (all
    started now), their folders uploaded to one prefix, then one `--merge` process."""

    def __init__(self, tmp, input_path, schema, hosts, chunk_rows):
        self.tmp, self.schema, self.chunk_rows = tmp, str(schema), chunk_rows
        self.shards, self.out = tmp / "shards", tmp / "merged"
        if Path(input_path).is_file():  # one file: the object of a prefix that holds one
            files, input_folder = [Path(input_path)], Path(input_path).parent
        else:
            input_folder = Path(input_path)
            files = sorted(input_folder.rglob("*.csv"))
        self.procs = []
        for index in range(hosts):
            host = "algo-%d" % (index + 1)
            share = tmp / host / "data"
            share.mkdir(parents=True)
            for path in files[index::hosts]:
                target = share / path.relative_to(input_folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
            config = tmp / host / "resourceconfig.json"
            hosts_list = ["algo-%d" % (i + 1) for i in range(hosts)]
            config.write_text(json.dumps({"current_host": host, "hosts": hosts_list}))
            args = ["--input", str(share), "--schema", self.schema, "--shard-of", str(config),
                    "--chunk-rows", str(chunk_rows)]  # fmt: skip
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, str(SCRIPT)] + args + ["--output-dir", str(self.shards)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        self.merged = None

    def wait(self):
        if self.merged is None:
            for proc in self.procs:
                stdout, stderr = proc.communicate(timeout=180)
                assert proc.returncode == 0 and stderr == "", stderr
                assert re.match(r"validate: algo-\d checked \d+ rows in \d+ files", stdout)
            # The merge compares the ids as many at a time as a batch holds rows.
            args = ["--merge", str(self.shards), "--schema", self.schema,
                    "--chunk-rows", str(self.chunk_rows), "--output-dir"]  # fmt: skip
            self.merged = subprocess.run(
                [sys.executable, str(SCRIPT)] + args + [str(self.out)],
                capture_output=True,
                text=True,
                timeout=60,
            )
        return self.merged

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    @property
    def report(self):
        return json.loads((self.out / "validation_report.json").read_text())


def failure_line(stderr, column):
    lines = [line for line in stderr.splitlines() if line.startswith("  - %s: " % column)]
    assert len(lines) == 1, stderr
    return lines[0]


# ----------------------------------------------------------------------------- the GE runs


def valid_table(tmp):
    """Two shards in a folder, as a sharded processing input arrives."""
    write_csv(tmp / "in" / "part-0.csv", seed_rows(20))
    write_csv(tmp / "in" / "part-1.csv", seed_rows(20, start=20))
    return tmp / "in", "seed"


def bad_table(tmp):
    """One fault per column; each must be reported alone with its exact count."""
    rows = seed_rows(30)
    rows[3]["balance"], rows[4]["balance"] = "abc", "12,5"
    rows[5]["tenure"] = "3.5"
    rows[6]["age"], rows[7]["age"], rows[8]["age"] = "-1", "150", "121"
    rows[9]["churn"], rows[10]["churn"] = "2", "yes"
    rows[12]["customer_id"] = rows[11]["customer_id"]
    columns = [c for c in SEED_COLUMNS if c != "is_active"]
    return write_csv(tmp / "bad.csv", rows, columns), "seed"


def spread_table(tmp):
    """Faults spread over five files, each of which only the whole table can judge: an id
    repeated in another file, a column one file lacks, blanks that one file alone has too
    many of (balance must be 80% complete: file 1 holds 5 blanks of its 10 rows, the table 5 of
    its 50), bad values in several files (the examples are the table's first ones). Dealt to
    three instances, the third gets file 2 alone, which has no is_active column."""
    schema_path = with_completeness(tmp, "seed", "balance", 0.8)
    rows = seed_rows(50)
    rows[42]["customer_id"] = rows[3]["customer_id"]  # files 4 and 0
    rows[27]["customer_id"] = rows[25]["customer_id"]  # both in file 2
    for i in range(10, 15):
        rows[i]["balance"] = ""
    for i, value in [(48, "x9"), (31, "1.5"), (2, "two"), (33, "1.5")]:
        rows[i]["tenure"] = value
    rows[19]["age"], rows[45]["age"] = "130", "-4"
    for k in range(5):
        columns = [c for c in SEED_COLUMNS if k != 2 or c != "is_active"]
        write_csv(tmp / "in" / ("part-%d.csv" % k), rows[10 * k : 10 * k + 10], columns)
    return tmp / "in", schema_path


def header_only_table(tmp):
    return write_csv(tmp / "header.csv", []), "seed"


def telco_with_strict_total_charges(tmp):
    """The telco schema, but TotalCharges must be complete: its 11 blanks now fail."""
    return DATA / "telco_customer_churn.csv", with_completeness(tmp, "telco", "TotalCharges", 1.0)


def with_completeness(tmp, shipped, column, completeness):
    """A schema file: the shipped schema with one feature's completeness changed."""
    schema = json.loads((ROOT / "processing" / "schemas" / (shipped + ".json")).read_text())
    for feature in schema["features"]:
        if feature["name"] == column:
            feature["completeness"] = completeness
    path = tmp / ("%s_%s_%g.json" % (shipped, column, completeness))
    path.write_text(json.dumps(schema))
    return path


def real_table(filename, schema):
    return lambda tmp: (DATA / filename, schema)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every run that imports Great Expectations, started together so they share the cores.
    Selecting a single test still starts them all: the price of a short full run."""
    scenarios = {
        "valid": valid_table,
        "bad": bad_table,
        "header_only": header_only_table,
        "spread": spread_table,
    }
    if DATA.is_dir():
        scenarios.update(
            bank=real_table("bank_churn_modelling.csv", "bank"),
            telco=real_table("telco_customer_churn.csv", "telco"),
            bigml=real_table("churn_bigml_80.csv", "bigml"),
            telco_strict=telco_with_strict_total_charges,
        )
    started = {}
    try:
        for name, make in scenarios.items():
            tmp = tmp_path_factory.mktemp(name)
            input_path, schema = make(tmp)
            started[name] = Run(tmp, input_path, schema, probe=(name == "valid"))
            if name in ("bad", "spread"):  # the same tables on three instances
                sharded = tmp_path_factory.mktemp(name + "-sharded")
                # The spread table's 10-row files in batches of 7 rows: batches end inside
                # files and span them.
                chunk_rows = 7 if name == "spread" else 1000000
                started[name + "_sharded"] = ShardedRun(sharded, input_path, schema, 3, chunk_rows)
        yield started
    finally:
        for run in started.values():
            run.stop()


# ----------------------------------------------------------------------------- a valid table


def test_valid_table_passes_with_one_line_and_no_network(runs):
    run = runs["valid"].wait()
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(
        r"validate: 40 rows, %d of %d checks passed, [0-9.]+ s\n" % (SEED_CHECKS, SEED_CHECKS),
        run.stdout,
    )
    assert run.stderr == ""  # no progress bars, no warnings
    assert run.probe["network"] == []


def test_valid_report_lists_every_check(runs):
    run = runs["valid"].wait()
    report = run.report
    assert report["success"] is True
    assert (report["schema"], report["row_count"]) == ("seed", 40)
    assert len(report["input_files"]) == 2
    assert (report["checks_total"], report["checks_failed"]) == (SEED_CHECKS, 0)
    entries = report["expectations"]
    assert len(entries) == SEED_CHECKS and all(e["success"] for e in entries)
    assert {e["column"] for e in entries} == set(SEED_COLUMNS) | {None}
    age_range = run.entry("age", "expect_column_values_to_be_between")
    assert (age_range["unexpected_count"], age_range["message"]) == (0, "values in [0, 120]")

    ge = run.ge_result
    assert ge["success"] is True and len(ge["results"]) == SEED_CHECKS
    assert sorted(p.name for p in run.out.iterdir()) == [
        "ge_validation_result.json",
        "validation_report.json",
    ]  # no temp files left


# ----------------------------------------------------------------------------- bad tables

BAD_TABLE_FAILURES = [
    ("is_active", "expect_column_to_exist", None, "column is missing from the table"),
    ("balance", "expect_column_values_to_match_regex", 2, "2 rows with non-numeric values"),
    ("tenure", "expect_column_values_to_match_regex", 1, "1 row with non-integer values"),
    ("age", "expect_column_values_to_be_between", 3, "3 rows outside [0, 120]"),
    ("churn", "expect_column_values_to_be_in_set", 2, "2 rows with values outside {0, 1}"),
    ("customer_id", "expect_column_values_to_be_unique", 2, "2 rows have a duplicated id"),
]


@pytest.mark.parametrize(
    "column,expectation,count,phrase", BAD_TABLE_FAILURES, ids=[f[0] for f in BAD_TABLE_FAILURES]
)
def test_each_fault_is_named_with_its_column_and_count(runs, column, expectation, count, phrase):
    run = runs["bad"].wait()
    assert run.returncode == 1
    line = failure_line(run.stderr, column)
    assert phrase in line and line.endswith("(%s)" % expectation), line
    entry = run.entry(column, expectation)
    assert entry["success"] is False and entry["unexpected_count"] == count


def test_bad_table_fails_exactly_those_checks(runs):
    run = runs["bad"].wait()
    # 32 checks less the 4 skipped for the missing column (completeness, type, finite, range).
    assert run.stderr.startswith("validate: 6 of %d checks failed:\n" % (SEED_CHECKS - 4))
    report = run.report
    assert report["success"] is False and report["checks_failed"] == 6
    failed = {(e["column"], e["expectation"]) for e in report["expectations"] if not e["success"]}
    assert failed == {(f[0], f[1]) for f in BAD_TABLE_FAILURES}
    # The missing column is reported once; its other checks are skipped, not crashed.
    assert [e["expectation"] for e in report["expectations"] if e["column"] == "is_active"] == [
        "expect_column_to_exist"
    ]
    assert "its columns: customer_id, age, tenure, balance, num_products, churn" in failure_line(
        run.stderr, "is_active"
    )
    # Bad values are shown raw; parsed numbers print as integers where integral.
    assert run.entry("balance", "expect_column_values_to_match_regex")["unexpected_examples"] == [
        "abc",
        "12,5",
    ]
    assert run.entry("age", "expect_column_values_to_be_between")["unexpected_examples"] == [
        -1,
        150,
        121,
    ]
    assert run.ge_result["success"] is False


def test_each_example_is_named_with_its_file_and_line(runs):
    """The shard results carried each bad value's file and row, but the message showed the
    values alone: where to fix them was left to the user's search."""
    run = runs["bad"].wait()
    age = run.entry("age", "expect_column_values_to_be_between")
    assert age["unexpected_example_lines"] == [  # rows 6, 7 and 8; the header is line 1
        {"file": "bad.csv", "line": 8},
        {"file": "bad.csv", "line": 9},
        {"file": "bad.csv", "line": 10},
    ]
    assert failure_line(run.stderr, "age") == (
        "  - age: 3 rows outside [0, 120], e.g. -1 (bad.csv line 8), 150 (bad.csv line 9), 121 "
        "(bad.csv line 10) (expect_column_values_to_be_between)"
    )
    balance = failure_line(run.stderr, "balance")
    assert "e.g. 'abc' (bad.csv line 5), '12,5' (bad.csv line 6)" in balance, balance
    # Examples from several files of a folder, each named relative to the input.
    tenure = runs["spread"].wait().entry("tenure", "expect_column_values_to_match_regex")
    assert tenure["unexpected_example_lines"] == [
        {"file": "part-0.csv", "line": 4},
        {"file": "part-3.csv", "line": 3},
        {"file": "part-4.csv", "line": 10},
    ]


def test_header_only_file_fails_on_row_count(runs):
    run = runs["header_only"].wait()
    assert run.returncode == 1
    line = failure_line(run.stderr, "table")
    assert "0 rows, expected at least 1" in line, run.stderr
    assert line.endswith("(expect_table_row_count_to_be_between)")
    assert run.stderr.startswith("validate: 1 of %d checks failed:" % SEED_CHECKS)
    assert run.report["row_count"] == 0


# ----------------------------------------------------------------------------- real data


@needs_data
@pytest.mark.shared_data
@pytest.mark.parametrize("schema,rows", [("bank", 10000), ("telco", 7043), ("bigml", 2666)])
def test_real_table_passes(runs, schema, rows):
    run = runs[schema].wait()
    assert run.returncode == 0, run.stderr
    report = run.report
    assert report["success"] is True and report["row_count"] == rows
    assert all(e["success"] for e in report["expectations"])
    if schema == "telco":
        # The 11 blank TotalCharges are missing per the schema (" " in missing_values) and
        # within its 99% completeness: they pass by the schema, the check still counts them.
        entry = run.entry("TotalCharges", "expect_column_values_to_not_be_null")
        assert entry["unexpected_count"] == 11


@needs_data
@pytest.mark.shared_data
def test_telco_fails_when_total_charges_must_be_complete(runs):
    run = runs["telco_strict"].wait()
    assert run.returncode == 1
    assert run.stderr.startswith("validate: 1 of "), run.stderr
    line = failure_line(run.stderr, "TotalCharges")
    assert "11 rows missing" in line and "(expect_column_values_to_not_be_null)" in line
    # A count alone did not say that the schema asks for every value, nor how to allow gaps.
    assert (
        "11 rows missing; the schema requires every value of TotalCharges (a feature without "
        '"completeness" must be complete): to allow gaps, give it "completeness", e.g. 0.99 '
        '(a gap is an empty field or a spelling listed in "missing_values")' in line
    ), line


# ----------------------------------------------------------------------------- sharded


def test_the_report_agrees_with_great_expectations_on_every_check(runs):
    """The report's verdicts come from counts (so that shards can add them up); on one shard
    each must be the verdict Great Expectations gave."""
    for name in ("valid", "bad", "header_only", "spread"):
        run = runs[name].wait()
        ge = {r["expectation_config"]["meta"]["check"]: r for r in run.ge_result["results"]}
        entries = run.report["expectations"]
        assert len(ge) == len(entries)
        for i, entry in enumerate(entries):
            assert ge[i]["expectation_config"]["type"] == entry["expectation"]
            assert ge[i]["success"] == entry["success"], (name, entry)
            assert ge[i]["result"].get("unexpected_count") == entry["unexpected_count"]


def test_a_table_only_the_whole_can_judge_is_reported_exactly(runs):
    run = runs["spread"].wait()
    assert run.returncode == 1
    failed = {
        (e["column"], e["expectation"]): e for e in run.report["expectations"] if not e["success"]
    }
    assert sorted(failed) == [
        ("age", "expect_column_values_to_be_between"),
        ("customer_id", "expect_column_values_to_be_unique"),
        ("is_active", "expect_column_values_to_not_be_null"),
        ("tenure", "expect_column_values_to_match_regex"),
    ]
    unique = failed[("customer_id", "expect_column_values_to_be_unique")]
    assert unique["unexpected_count"] == 4
    # Each repeated id once, where it first occurs in the table (file order, then line).
    assert unique["unexpected_examples"] == ["C00003", "C00025"]
    assert unique["unexpected_example_lines"] == [
        {"file": "part-0.csv", "line": 5},
        {"file": "part-2.csv", "line": 7},
    ]
    assert failed[("is_active", "expect_column_values_to_not_be_null")]["unexpected_count"] == 10
    tenure = failed[("tenure", "expect_column_values_to_match_regex")]
    assert (tenure["unexpected_count"], tenure["unexpected_examples"]) == (4, ["two", "1.5", "x9"])
    balance = run.entry("balance", "expect_column_values_to_not_be_null")
    assert (balance["success"], balance["unexpected_count"]) == (True, 5)


@pytest.mark.parametrize("name", ["bad", "spread"])
def test_three_instances_report_what_one_does(runs, name):
    """The spread table's faults each need the whole table (an id repeated across shards,
    blanks one shard alone has too many of, examples from several shards, a column one shard
    never saw); the bad table is one file, which leaves two instances with nothing."""
    one, three = runs[name].wait(), runs[name + "_sharded"].wait()
    assert three.returncode == one.returncode
    assert three.stderr == one.stderr
    assert runs[name + "_sharded"].report == one.report
    shards = sorted(
        p.relative_to(runs[name + "_sharded"].shards).as_posix()
        for p in runs[name + "_sharded"].shards.rglob("*.json")
    )
    expected = [
        "algo-%d/%s" % (i, f)
        for i in (1, 2, 3)
        for f in ("ge_validation_result.json", "validation_shard.json")
    ]
    if name == "bad":  # one file: algo-2 and algo-3 checked none, ran no suite
        expected = [e for e in expected if e.startswith("algo-1/") or "shard" in e]
    assert shards == expected


def test_a_damaged_shard_result_is_one_line_and_no_report(runs, tmp_path):
    """A shard's result or id files cut short or edited (a lost upload, a hand edit) are
    refused by name."""
    shards = runs["spread_sharded"]
    shards.wait()
    original = shards.shards / "algo-2"

    def edit(change):
        def damage(folder):
            path = folder / "validation_shard.json"
            shard = json.loads(path.read_text())
            change(shard)
            path.write_text(json.dumps(shard))

        return damage

    def cut(name):
        def damage(folder):
            data = (folder / name).read_bytes()
            (folder / name).write_bytes(data[:-1])

        return damage

    damages = {
        "no parts": edit(lambda s: s.pop("parts")),
        "bad count": edit(lambda s: s["parts"][0]["checks"][1].update(unexpected_count="many")),
        "no id count": edit(lambda s: s["parts"][0].pop("id_records")),
        "id count": edit(
            lambda s: s["parts"][0].update(id_records=s["parts"][0]["id_records"] + 1)
        ),
        "records cut": cut("validation_id_records.bin"),
        "ends cut": cut("validation_id_ends.bin"),
        "text cut": cut("validation_id_text.bin"),
        "text lost": lambda folder: (folder / "validation_id_text.bin").unlink(),
    }
    for name, damage in damages.items():
        folder = tmp_path / name.replace(" ", "-")
        shutil.copytree(original, folder / "algo-1")
        damage(folder / "algo-1")
        args = ["--merge", str(folder), "--schema", shards.schema, "--output-dir"]
        proc = subprocess.run([sys.executable, str(SCRIPT)] + args + [str(folder / "out")],
                              capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 1, name
        assert proc.stderr.startswith("validate: error: "), name
        assert "is not a whole shard result" in proc.stderr, (name, proc.stderr)
        assert proc.stderr.count("\n") == 1 and not (folder / "out").exists(), name


def test_a_merge_without_shard_results_is_one_line(tmp_path):
    (tmp_path / "shards").mkdir()
    args = ["--merge", str(tmp_path / "shards"), "--output-dir", str(tmp_path / "out")]
    proc = subprocess.run([sys.executable, str(SCRIPT)] + args, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("validate: error: no validation_shard.json under ")
    assert proc.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- user errors
# These fail before Great Expectations is imported, so they run one by one.


def _empty_file(tmp):
    path = tmp / "empty.csv"
    path.write_bytes(b"")
    return path, "seed", "is empty"


def _missing_file(tmp):
    return tmp / "nope.csv", "seed", "does not exist"


def _folder_without_csv(tmp):
    (tmp / "in").mkdir()
    (tmp / "in" / "notes.txt").write_text("hello\n")
    return tmp / "in", "seed", "no .csv file"


def _unreadable_csv(tmp):
    path = tmp / "ragged.csv"
    path.write_text("customer_id,age\nC1,30\nC2,31,7,8\n")
    return path, "seed", "not a readable CSV file"


def _bad_schema(tmp):
    return write_csv(tmp / "t.csv", seed_rows(3)), "no-such-schema", "neither a file nor"


@pytest.mark.parametrize(
    "make",
    [_empty_file, _missing_file, _folder_without_csv, _unreadable_csv, _bad_schema],
    ids=lambda f: f.__name__.strip("_"),
)
def test_user_error_is_one_line_before_importing_great_expectations(tmp_path, make):
    input_path, schema, phrase = make(tmp_path)
    run = Run(tmp_path, input_path, schema, probe=True).wait()
    assert run.returncode == 1
    assert run.stderr.startswith("validate: error: ") and run.stderr.count("\n") == 1, run.stderr
    assert phrase in run.stderr and "Traceback" not in run.stderr
    assert run.probe["gx_imported"] is False  # failed fast
    assert not (tmp_path / "out").exists()


@pytest.mark.fast
def test_the_number_checks_read_every_value_as_pythons_re_would():
    """The number parsing and Great Expectations' type checks run RE2 over Arrow arrays; what
    they accept must be exactly what re.match with the grammar's patterns accepts, Unicode
    whitespace and digits included."""
    import pandas as pd

    sys.path.insert(0, str(ROOT / "processing"))
    from validate import matches, vectorised_pattern

    from churn_recipe import INTEGER_PATTERN, NUMBER_PATTERN

    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    values = [
        "12",
        " 12 ",
        "+3",
        "-0.5",
        ".5",
        "5.",
        "1e5",
        "1E-3",
        "3.0",
        "3.50",
        "1_000",
        "inf",
        "nan",
        "",
        " ",
        "+-1",
        "1e",
        "e5",
        "12\n",
        "12\n34",
        "\v7\v",
        "٤٠",
        "١",
        "1\u00a0",
        "\u3000 8",
        "\u200b9",
        "0x10",
        "1,5",
        "７",
        None,
        float("nan"),
    ]
    values += [space + "42" + space for space in spaces]  # fmt: skip
    column = pd.Series(values, dtype=object)
    arrow = column.astype(pd.StringDtype("pyarrow", na_value=float("nan")))
    for pattern in (NUMBER_PATTERN, INTEGER_PATTERN):
        expected = [isinstance(v, str) and re.match(pattern, v) is not None for v in values]
        assert matches(column, pattern).tolist() == expected, pattern
        assert matches(arrow, pattern).tolist() == expected, pattern
        # What Great Expectations runs: str.contains with the rewritten pattern, in RE2 over
        # Arrow strings here, in Python's re over object columns on older pandas.
        rewritten = vectorised_pattern(pattern)
        text = [v for v in values if isinstance(v, str)]
        wanted = [re.match(pattern, v) is not None for v in text]
        assert [re.search(rewritten, v) is not None for v in text] == wanted
        with warnings.catch_warnings():  # "has match groups": they are only for grouping
            warnings.simplefilter("ignore", UserWarning)
            found = pd.Series(text, dtype=arrow.dtype).str.contains(rewritten).tolist()
        assert found == wanted
