"""How `churn run --data FILE` puts the table into the local store: one run's input is exactly
the file it names, whole (defects 1 and 2 of the hostile review)."""

import hashlib
import json
import shutil

from conftest import churn_cli

ROWS = 1000


def churn_run(home, data):
    proc = churn_cli(home, "run", "--json", "--data", data)
    try:
        return proc, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(proc.stdout[-2000:] + proc.stderr[-3000:])


def validated_rows(home, result):
    log = home / "executions" / result["execution_id"] / "ValidateData" / "algo-1.log"
    line = [line for line in log.read_text().splitlines() if line.startswith("validate: ")][-1]
    return int(line.split()[1])


def seed_table(tmp_path, rows=ROWS):
    from pipelines.churn.datagen import write_csv

    path = tmp_path / "customers.csv"
    write_csv(rows, 3, path)
    return path


def test_a_partial_copy_in_the_store_is_never_reused(tmp_path):
    """A kill or a full disk during an older copy left part of the table under its staged key;
    every later run with that file validated or trained on the fragment. Staging now checks
    the object against the file's size and hash and replaces it."""
    table = seed_table(tmp_path)
    data = table.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    staged = tmp_path / "home" / "s3" / "churn-local" / "churn" / "data" / digest / table.name
    staged.parent.mkdir(parents=True)
    staged.write_bytes(data[: len(data) // 100])  # what an interrupted copy leaves: 1% of it

    proc, result = churn_run(tmp_path / "home", table)
    assert result["status"] == "Succeeded", result["failure_reason"]
    assert validated_rows(tmp_path / "home", result) == ROWS
    assert staged.read_bytes() == data
    assert not [p for p in staged.parent.iterdir() if p.name != table.name]  # no temp left


def test_the_same_rows_under_a_second_name_are_not_read_twice(tmp_path):
    """Staging the same content under a second file name left both objects under the run's
    input prefix: 2,000 rows with duplicated ids for 1,000, or silently doubled data."""
    table = seed_table(tmp_path)
    copy = tmp_path / "customers-copy.csv"
    shutil.copyfile(table, copy)
    home = tmp_path / "home"

    _, first = churn_run(home, table)
    proc, second = churn_run(home, copy)
    assert first["status"] == second["status"] == "Succeeded", second["failure_reason"]
    assert validated_rows(home, first) == validated_rows(home, second) == ROWS
