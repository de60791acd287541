"""`churn run` with the Feature Store options end to end (ingest, build the dataset as of now,
train, register), against the raw-table run; `churn features` and `churn predict --customer-id`
against a live `churn serve` on 127.0.0.1."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest
from test_serve import start_server, stop

from conftest import BANK, ROOT, churn_cli, needs_shared_data

FEATURE_STORE = ("--ingest-features", "--train-from-feature-store")


def run_json(home, *args):
    proc = churn_cli(home, "run", "--json", *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def steps(result):
    return {s["name"]: s for s in result["steps"]}


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory):
    home = tmp_path_factory.mktemp("fs-run")
    raw = run_json(home, "--rows", "2000")
    stored = run_json(home, "--rows", "2000", *FEATURE_STORE)
    again = run_json(home, "--rows", "2000", *FEATURE_STORE)
    return home, raw, stored, again


def test_training_from_the_feature_store_gives_the_raw_tables_model(seed_runs):
    home, raw, stored, again = seed_runs
    names = [s["name"] for s in stored["steps"]]
    assert names[:4] == ["ValidateShards", "ValidateData", "IngestFeatures", "BuildDataset"]
    assert stored["status"] == "Succeeded" and stored["model_package"]["version"] == 2
    assert abs(stored["metrics"]["auc"] - raw["metrics"]["auc"]) <= 0.005
    # Generated ids ascend with the file, the order BuildDataset lists customers in: the built
    # table is the raw one, value for value, so the model is the same.
    assert stored["metrics"] == raw["metrics"]
    # A rerun of the same rows is cached, ingest included.
    assert all(s["cache_hit"] for s in steps(again).values() if s["type"] == "Processing")


def test_the_ingest_wrote_every_row_and_a_customer_reads_back(seed_runs):
    home, raw, stored, _ = seed_runs
    table = pd.read_csv(next((home / "data").glob("*.csv")), dtype=str)
    row = table.iloc[17]
    proc = churn_cli(home, "features", "get", row["customer_id"])
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert {k: record[k] for k in table.columns} == row.to_dict()
    assert float(record["event_time"]) > 1.7e9  # the ingest time, in epoch seconds
    ingest = home / "executions" / stored["execution_id"] / "IngestFeatures"
    assert (
        "2000 rows into churn-customers: 2000 put, 0 unchanged"
        in (ingest / "algo-1.log").read_text()
    )


def test_predict_by_customer_id_scores_the_online_record(seed_runs, tmp_path):
    home, _, stored, _ = seed_runs
    version = str(stored["model_package"]["version"])
    assert churn_cli(home, "models", "approve", version).returncode == 0
    table = pd.read_csv(next((home / "data").glob("*.csv")), dtype=str)
    customer = table.iloc[3]
    proc, url = start_server(home, tmp_path / "capture")
    try:
        by_id = churn_cli(
            home, "predict", "--endpoint", url, "--customer-id", customer["customer_id"]
        )
        features = ",".join(customer[["age", "tenure", "balance", "num_products", "is_active"]])
        by_row = churn_cli(home, "predict", "--endpoint", url, "--csv", features)
        unknown = churn_cli(home, "predict", "--endpoint", url, "--customer-id", "nobody")
    finally:
        stop(proc)
    assert by_id.returncode == 0, by_id.stderr
    assert 0 < float(by_id.stdout.split(",")[0]) < 1 and by_id.stdout == by_row.stdout
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "churn predict: error: no record for customer nobody in feature group churn-customers "
        "(never ingested, deleted, or expired by its TTL)"
    )


def test_a_schema_without_an_id_column_is_refused_before_anything_runs(tmp_path):
    data = tmp_path / "t.csv"
    pd.DataFrame({"age": [40], "tenure": [1], "balance": [1], "num_products": [1],
                  "is_active": [1], "churn": [0]}).to_csv(data, index=False)  # fmt: skip
    schema = tmp_path / "noid.json"
    schema.write_text(
        json.dumps(
            {
                "name": "noid",
                "target": {"column": "churn", "positive": 1, "values": [0, 1]},
                "features": [{"name": "age", "type": "numeric"}],
            }
        )
    )
    proc = churn_cli(tmp_path, "run", "--data", data, "--schema", schema, "--ingest-features")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        'churn run: error: schema %s has no "id_column": a feature group needs a record '
        'identifier; set "id_column" to the column that names each customer' % schema
    ]
    assert not (tmp_path / "executions").exists()


@needs_shared_data
def test_the_bank_table_through_the_feature_store_matches_the_raw_run(tmp_path):
    raw = run_json(tmp_path, "--data", BANK, "--schema", "bank")
    stored = run_json(tmp_path, "--data", BANK, "--schema", "bank", *FEATURE_STORE)
    assert abs(stored["metrics"]["auc"] - raw["metrics"]["auc"]) <= 0.005
    assert stored["metrics"]["auc"] > 0.84
    proc = churn_cli(tmp_path, "features", "get", "15634602", "--features", "Age,Exited")
    assert json.loads(proc.stdout) == {"Age": "42", "Exited": "1"}
    # A bank customer scored by id against the registered model behind churn serve: the bank
    # group's version (the home has no other), its record sent by feature name, so predict
    # needs no schema (it assumed seed's columns).
    version = "churn-bank/%d" % stored["model_package"]["version"]
    assert churn_cli(tmp_path, "models", "approve", version).returncode == 0
    server, url = start_server(tmp_path, tmp_path / "capture", "--schema", "bank")
    try:
        by_id = churn_cli(tmp_path, "predict", "--endpoint", url, "--customer-id", "15634602")
        by_row = churn_cli(
            tmp_path,
            "predict",
            "--endpoint",
            url,
            "--csv",
            "619,France,Female,42,2,0,1,1,1,101348.88",
        )
    finally:
        stop(server)
    assert by_id.returncode == 0, by_id.stderr
    assert by_id.stdout == by_row.stdout and 0 < float(by_id.stdout.split(",")[0]) < 1


def test_the_feature_commands_on_the_local_twin(tmp_path, seed_csv):
    home = tmp_path / "home"
    assert churn_cli(home, "features", "create").returncode == 0
    ingest = churn_cli(home, "features", "ingest", "--data", seed_csv)
    assert ingest.returncode == 0, ingest.stderr
    rows = pd.read_csv(seed_csv, dtype=str)
    assert ingest.stdout.startswith("ingested %d records into churn-customers" % len(rows))
    listed = churn_cli(home, "features", "list")
    assert listed.stdout.split()[:2] == ["churn-customers", "Created"]
    first, second = rows["customer_id"].iloc[0], rows["customer_id"].iloc[1]
    assert churn_cli(home, "features", "delete-record", first, "--hard").returncode == 0
    assert churn_cli(home, "features", "get", first).returncode == 1
    out = tmp_path / "now.csv"
    dataset = churn_cli(home, "features", "dataset", "--as-of", "now", "--out", out)
    assert dataset.returncode == 0, dataset.stderr
    built = pd.read_csv(out, dtype=str)
    assert len(built) == len(rows) - 1 and first not in set(built["customer_id"])
    assert built.set_index("customer_id").loc[second, "age"] == rows.iloc[1]["age"]
    both = churn_cli(home, "features", "dataset", "--as-of", "now", "--entities", seed_csv)
    assert both.stderr.strip() == (
        "churn features: error: give --entities CSV or --as-of TIME, not both"
    )
    assert churn_cli(home, "features", "delete-group").returncode == 0
    missing = churn_cli(home, "features", "get", second)
    assert missing.stderr.strip() == (
        "churn features: error: feature group churn-customers: Resource Not Found: "
        "FeatureGroup churn-customers does not exist."
    )


def test_a_new_users_first_feature_commands_say_what_to_do(tmp_path, seed_csv):
    """An ingest into a missing group said only "Resource Not Found"; --as-of claimed a default
    of now that it did not have; and the README's dataset as of 2024, right after its own
    ingest (whose records carry the ingest time), found nothing without saying why."""
    home = tmp_path / "home"
    missing = churn_cli(home, "features", "ingest", "--data", seed_csv)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "churn features: error: feature group churn-customers does not exist: create it first "
        "with `churn features create`"
    )
    named = churn_cli(home, "features", "ingest", "--data", seed_csv, "--feature-group", "mine")
    assert "create it first with `churn features create --feature-group mine`" in named.stderr
    assert churn_cli(home, "features", "create").returncode == 0
    assert churn_cli(home, "features", "ingest", "--data", seed_csv).returncode == 0

    out = tmp_path / "asof.csv"
    early = churn_cli(home, "features", "dataset", "--as-of", "2024-01-01T00:00:00Z", "--out", out)
    assert early.returncode == 1
    assert len(early.stderr.strip().splitlines()) == 1, early.stderr
    assert early.stderr.startswith(
        "churn features: error: no customer has a record at or before --as-of "
        "2024-01-01T00:00:00Z: it precedes every record's event time (the earliest is 20"
    ), early.stderr
    assert not out.exists()
    now = churn_cli(home, "features", "dataset", "--out", out)  # as of now
    assert now.returncode == 0, now.stderr
    assert len(pd.read_csv(out)) == len(pd.read_csv(seed_csv))


def online_count(home):
    """Records in the home's online store, read as another process would (0 before it exists)."""
    db = home / "featurestore" / "featurestore.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM online_records").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def test_a_run_killed_during_the_ingest_loses_no_acknowledged_record(tmp_path):
    """A PutRecord that answered reaches the offline store even when the run serving the twin
    is killed before it wrote its buffer: "If a new record's EventTime is greater, the new
    record is written to both the OnlineStore and OfflineStore"
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_PutRecord.html);
    an acknowledged put is not lost on AWS. The twin held the offline rows in memory: killed
    during IngestFeatures, the records were online but never offline, the rerun skipped them
    as unchanged (its skip reads the online store) and trained on 1999 of 2000 customers,
    exit 0."""
    rows = 2000
    home = tmp_path / "home"
    home.mkdir()
    command = [sys.executable, "-m", "pipelines.cli", "run", "--rows", str(rows), *FEATURE_STORE]
    with open(tmp_path / "killed.log", "w") as log:
        killed = subprocess.Popen(
            command, cwd=str(ROOT), env=dict(os.environ, CHURN_HOME=str(home)),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while online_count(home) == 0 and killed.poll() is None:
                assert time.monotonic() < deadline, "the ingest never started"
                time.sleep(0.005)
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait()
    assert killed.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-2000:]
    assert 0 < online_count(home) <= rows

    rerun = run_json(home, "--rows", str(rows), *FEATURE_STORE)
    assert rerun["status"] == "Succeeded"
    built = home / "executions" / rerun["execution_id"] / "BuildDataset"
    assert "build-dataset: %d rows for %d entities" % (rows, rows) in (
        (built / "algo-1.log").read_text()
    )


# A user's script: PutRecord through the twin's client, then an ordinary exit with no flush and
# no close (the buffered offline rows live in the home's database, not in this process).
PUT_AND_EXIT = """
import sys, time
import pandas as pd
from pipelines.churn.feature_group import layout_of
from pipelines.churn.schema_source import SchemaSource
from pipelines.local.featurestore.store import LocalFeatureStore
layout = layout_of(SchemaSource("seed").schema)
rows = pd.read_csv(sys.argv[2], dtype=str).head(3).fillna("").to_dict("records")
runtime = LocalFeatureStore(sys.argv[1]).runtime_client()
for row in rows:
    runtime.put_record(FeatureGroupName="churn-customers", Record=layout.record(row, time.time()))
"""


def test_records_put_by_a_process_that_exits_without_flushing_reach_the_dataset(tmp_path, seed_csv):
    """PutRecord (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
    API_feature_store_PutRecord.html): the new record "is written to both the OnlineStore and
    OfflineStore". A process that put records and exited normally without a flush or close
    leaves them for the next command: `churn features dataset` (BuildDataset's script) builds
    its rows from them."""
    home = tmp_path / "home"
    assert churn_cli(home, "features", "create").returncode == 0
    put = subprocess.run(
        [sys.executable, "-c", PUT_AND_EXIT, str(home), str(seed_csv)],
        cwd=str(ROOT), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    out = tmp_path / "dataset.csv"
    dataset = churn_cli(home, "features", "dataset", "--out", out)
    assert dataset.returncode == 0, dataset.stderr
    ids = pd.read_csv(seed_csv, dtype=str)["customer_id"].head(3)
    assert sorted(pd.read_csv(out, dtype=str)["customer_id"]) == sorted(ids)
