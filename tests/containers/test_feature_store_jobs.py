"""The Feature Store's container scripts as subprocesses: ingest.py through boto3 against the
twin's wire server on 127.0.0.1 (idempotent; a bad event time writes nothing), build_dataset.py
on an offline store the twin wrote (as-of, late arrivals, deletes, time travel), and the as-of
join against a brute-force reference (hypothesis)."""

import csv
import json
import os
import sys
import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.churn.feature_group import LOCAL_ROLE, feature_group_request
from pipelines.local.featurestore.server import FeatureStoreServer
from pipelines.local.featurestore.store import LocalFeatureStore
from processing.churn_schema import load_schema

from conftest import ROOT, run

sys.path.insert(0, str(ROOT / "processing"))
from build_dataset import as_of_join  # noqa: E402  (a container script's own function)

GROUP = "fs-customers"
SCHEMA = {
    "name": "fs",
    "id_column": "customer_id",
    "event_time_column": "updated_at",
    "target": {"column": "churn", "positive": 1, "values": [0, 1]},
    "features": [
        {"name": "age", "type": "numeric", "min": 0, "max": 120, "integer": True},
        {"name": "balance", "type": "numeric", "min": 0},
        {"name": "plan", "type": "categorical"},
    ],
}
COLUMNS = ["customer_id", "updated_at", "age", "balance", "plan", "churn"]


@pytest.fixture
def twin(tmp_path):
    schema_file = tmp_path / "fs.json"
    schema_file.write_text(json.dumps(SCHEMA))
    fs = LocalFeatureStore(tmp_path / "home")
    request = feature_group_request(
        load_schema(str(schema_file)), GROUP, "s3://churn-local/feature-store", LOCAL_ROLE
    )
    fs.sagemaker_client().create_feature_group(**request)
    server = FeatureStoreServer(fs)
    yield fs, server, schema_file
    server.close()
    fs.close()


def write_table(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def ingest(tmp_path, server, schema_file, table):
    return run(
        "processing/ingest.py",
        "--input", table, "--schema", schema_file, "--feature-group", GROUP,
        "--output-dir", tmp_path / "ingest",
        env=server.job_environment(),
    )  # fmt: skip


def online(fs, rid):
    got = fs.runtime_client().get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=rid)
    return {v["FeatureName"]: v["ValueAsString"] for v in got.get("Record", [])}


def test_ingest_writes_records_through_boto3_and_a_rerun_changes_nothing(tmp_path, twin):
    fs, server, schema_file = twin
    table = write_table(
        tmp_path / "t.csv",
        [
            ["C1", "2024-05-01T00:00:00Z", "40", "10.5", "gold", "0"],
            ["C2", "1714608000", "41.0", "", "basic", "1"],  # epoch seconds; 41.0 an integer
            ["C3", "2024-05-03 10:00:00+02:00", "42", "0", "gold", "0"],
        ],
    )
    first = ingest(tmp_path, server, schema_file, table)
    assert first.returncode == 0, first.stderr
    assert "3 put, 0 unchanged" in first.stdout
    assert online(fs, "C2") == {
        "customer_id": "C2",
        "updated_at": "1714608000",
        "age": "41",
        "plan": "basic",
        "churn": "1",
    }  # a missing balance is no feature at all (null)
    assert online(fs, "C3")["updated_at"] == "1714723200"  # 08:00 UTC
    again = ingest(tmp_path, server, schema_file, table)
    assert again.returncode == 0, again.stderr
    assert "0 put, 3 unchanged" in again.stdout
    report = json.loads((tmp_path / "ingest" / "ingest.json").read_text())
    assert report["rows"] == 3 and report["put"] == 0 and report["event_time"] == "updated_at"
    fs.flush()
    assert len(list((tmp_path / "home" / "s3").rglob("*.parquet"))) >= 1


def test_an_event_time_in_milliseconds_fails_the_ingest_before_anything_is_written(tmp_path, twin):
    fs, server, schema_file = twin
    table = write_table(
        tmp_path / "t.csv",
        [
            ["C1", "2024-05-01T00:00:00Z", "40", "1", "gold", "0"],
            ["C2", "1714608000000", "41", "1", "gold", "0"],
        ],
    )
    proc = ingest(tmp_path, server, schema_file, table)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "ingest: error: 1 rows cannot become feature records (line 3: event time "
        "'1714608000000': epoch seconds from 0 to 1e11 expected (a value this large is "
        "milliseconds; divide by 1000))"
    ]
    assert fs.online.count(GROUP) == 0


def put(fs, rid, event_time, age):
    fs.put(
        GROUP,
        [
            [
                {"FeatureName": "customer_id", "ValueAsString": rid},
                {"FeatureName": "updated_at", "ValueAsString": str(event_time)},
                {"FeatureName": "age", "ValueAsString": str(age)},
                {"FeatureName": "churn", "ValueAsString": "0"},
            ]
        ],
    )


def build(tmp_path, fs, schema_file, *extra):
    fs.flush()
    offline = tmp_path / "home" / "s3" / "churn-local" / "feature-store"
    out = tmp_path / "dataset"
    proc = run(
        "processing/build_dataset.py",
        "--offline-store", offline, "--feature-group", GROUP, "--schema", schema_file,
        "--output-dir", out, *extra,
    )  # fmt: skip
    return proc, out


def test_build_dataset_joins_as_of_each_entitys_time(tmp_path, twin):
    fs, _, schema_file = twin
    t = 1714600000
    put(fs, "C1", t + 100, 1)
    put(fs, "C1", t + 300, 3)
    put(fs, "C1", t + 200, 2)  # late-arriving: older event, put last
    put(fs, "C2", t + 100, 10)
    fs.runtime_client().delete_record(
        FeatureGroupName=GROUP, RecordIdentifierValueAsString="C2", EventTime=str(t + 250)
    )
    put(fs, "C3", t + 500, 30)
    entities = tmp_path / "entities.csv"
    entities.write_text(
        "customer_id,updated_at\n"
        "C1,%d\nC1,%d\nC1,%d\nC2,%d\nC2,%d\nC3,%d\nC4,%d\n"
        % (t + 150, t + 250, t + 300, t + 200, t + 260, t + 400, t + 900)
    )
    proc, out = build(tmp_path, fs, schema_file, "--entities", entities)
    assert proc.returncode == 0, proc.stderr
    rows = pd.read_csv(out / "dataset.csv", dtype=str, keep_default_na=False)
    # The raw table's columns: id, features, target, then the schema's event-time column.
    assert list(rows.columns) == ["customer_id", "age", "balance", "plan", "churn", "updated_at"]
    assert rows[["customer_id", "age"]].values.tolist() == [
        ["C1", "1"],  # as of t+150: the first record
        ["C1", "2"],  # as of t+250: the late-arriving record at t+200
        ["C1", "3"],  # as of t+300: exactly its event time
        ["C2", "10"],  # before the delete
    ]  # C2 after the delete, C3 before its first record and C4 (never seen) are left out
    counts = json.loads((out / "dataset.json").read_text())
    assert (counts["entities"], counts["rows"], counts["deleted"], counts["without_history"]) == (
        7,
        4,
        1,
        2,
    )


def test_a_write_time_cutoff_sees_only_what_the_store_held_then(tmp_path, twin):
    fs, _, schema_file = twin
    t = 1714600000
    put(fs, "C1", t, 1)
    fs.flush()
    time.sleep(0.05)
    cutoff = time.time()
    time.sleep(0.05)
    put(fs, "C1", t + 10, 2)  # a correction written after the cutoff
    proc, out = build(tmp_path, fs, schema_file, "--as-of", str(t + 100))
    assert proc.returncode == 0, proc.stderr
    assert pd.read_csv(out / "dataset.csv")["age"].tolist() == [2]
    proc, out = build(
        tmp_path, fs, schema_file, "--as-of", str(t + 100), "--write-time-cutoff", "%.3f" % cutoff
    )
    assert proc.returncode == 0, proc.stderr
    assert pd.read_csv(out / "dataset.csv")["age"].tolist() == [1]


def test_times_before_every_record_say_so_instead_of_an_empty_dataset(tmp_path, twin):
    """A dataset with no row said only "no entity has a record at or before its time", however
    far the time asked for lay before the records."""
    fs, _, schema_file = twin
    t = 1714600000  # 2024-05-01T21:46:40Z
    put(fs, "C1", t, 1)
    put(fs, "C2", t + 60, 2)
    proc, out = build(tmp_path, fs, schema_file, "--as-of", "2024-01-01T00:00:00Z")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "build-dataset: error: no customer has a record at or before --as-of "
        "2024-01-01T00:00:00Z: it precedes every record's event time (the earliest is "
        "2024-05-01T21:46:40Z; rows of a table without an event-time column carry their ingest "
        "time); give a later --as-of, or none for now"
    )
    assert not (out / "dataset.csv").exists()
    entities = tmp_path / "entities.csv"
    entities.write_text("customer_id,updated_at\nC1,%d\nC2,%d\n" % (t - 100, t - 10))
    proc, out = build(tmp_path, fs, schema_file, "--entities", entities)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "build-dataset: error: no entity has a record at or before its time (2 entities, 2 "
        "without history, 0 deleted): the latest of their times, 2024-05-01T21:46:30Z, "
        "precedes every record's event time (the earliest is 2024-05-01T21:46:40Z)"
    )


def test_an_empty_offline_store_is_one_line(tmp_path, twin):
    fs, _, schema_file = twin
    proc, _ = build(tmp_path, fs, schema_file)
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("build-dataset: error: no Parquet objects under ")
    )


# ----------------------------------------------------------------- the join, against brute force

history_row = st.tuples(
    st.sampled_from(["A", "B", "C"]),
    st.integers(0, 5),  # event time: ties happen
    st.integers(0, 5),  # api_invocation_time: late arrivals and ties too
    st.integers(0, 5),  # write_time
    st.booleans(),  # is_deleted
)


def brute_force(history, entity, as_of, cutoff):
    candidates = [
        h
        for h in history
        if h[0] == entity and h[1] <= as_of and (cutoff is None or h[3] <= cutoff)
    ]
    if not candidates:
        return None
    latest = max(candidates, key=lambda h: (h[1], h[2], h[3]))
    return None if latest[4] else latest


@pytest.mark.fast
@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    rows=st.lists(
        history_row, min_size=1, max_size=25, unique_by=lambda h: (h[0], h[1], h[2], h[3])
    ),
    entities=st.lists(
        st.tuples(st.sampled_from(["A", "B", "C", "D"]), st.integers(-1, 6)), max_size=8
    ),
    cutoff=st.one_of(st.none(), st.integers(0, 5)),
)
def test_the_as_of_join_never_takes_a_future_or_deleted_value(rows, entities, cutoff):
    history = pd.DataFrame(
        [
            {
                "customer_id": r[0],
                "event_time": float(r[1]),
                "api_invocation_time": float(r[2]),
                "write_time": float(r[3]),
                "is_deleted": r[4],
                "value": "%s-%d-%d-%d" % (r[0], r[1], r[2], r[3]),
            }
            for r in rows
        ]
    )
    frame = pd.DataFrame(
        {"customer_id": [e[0] for e in entities], "as_of": [float(e[1]) for e in entities]}
    )
    kept, counts = as_of_join(history, frame, "customer_id", "event_time", cutoff)
    expected = []
    for entity, as_of in entities:
        match = brute_force(rows, entity, as_of, cutoff)
        if match is not None:
            expected.append((entity, "%s-%d-%d-%d" % match[:4]))
    assert list(zip(kept["customer_id"], kept["value"])) == expected
    assert counts["rows"] == len(expected) and counts["entities"] == len(entities)
    assert (kept["event_time"] <= kept["as_of"]).all()  # never a value from the future


@pytest.mark.fast
def test_a_job_sees_the_twin_only_through_its_environment(twin):
    """The wire server binds loopback and hands jobs what boto3 reads, nothing else."""
    _, server, _ = twin
    env = server.job_environment()
    assert env["AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME"].startswith("http://127.0.0.1:")
    assert set(env) == {
        "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
    assert (
        os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME")
        != env["AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME"]
    )


@pytest.mark.fast
def test_the_join_takes_arrow_backed_ids_and_a_history_of_several_chunks(tmp_path):
    """Entities read from Parquet come as Arrow-backed strings, and a history read from
    several files as chunks: the ids must meet in one dictionary."""
    import pyarrow as pa

    part = {"api_invocation_time": [1.0, 1.0], "write_time": [1.0, 1.0], "is_deleted": [False] * 2}
    history = pa.concat_tables(
        [
            pa.table(dict(part, customer_id=["B", "A"], event_time=[1.0, 1.0], v=[1, 2])),
            pa.table(dict(part, customer_id=["C", "A"], event_time=[2.0, 2.0], v=[3, 4])),
        ]
    )
    pd.DataFrame(
        {"customer_id": ["A", "B", "C", "A", "Z"], "as_of": [1.5, 5.0, 5.0, 5.0, 5.0]}
    ).to_parquet(tmp_path / "entities.parquet", index=False, row_group_size=2)  # 3 chunks
    entities = pd.read_parquet(tmp_path / "entities.parquet")
    kept, counts = as_of_join(history, entities, "customer_id", "event_time")
    assert kept[["customer_id", "v"]].values.tolist() == [["A", 2], ["B", 1], ["C", 3], ["A", 4]]
    assert counts["without_history"] == 1  # Z


LONG_ID = "C" * 2100  # PutRecord: "the record identifier ... at most 2 KB" (a quota)


def test_a_record_putrecord_refuses_fails_the_ingest_naming_its_line(tmp_path, twin):
    """A record that PutRecord refuses (https://docs.aws.amazon.com/sagemaker/latest/
    APIReference/API_feature_store_PutRecord.html, ValidationError) fails the job with one line
    naming the table's line, the record and the service's error, as `churn features ingest
    --region` words it. The job said only "ClientError: An error occurred (ValidationError)
    when calling the PutRecord operation: ...", with no line or record."""
    fs, server, schema_file = twin
    table = write_table(
        tmp_path / "t.csv",
        [
            ["C1", "2024-05-01T00:00:00Z", "40", "1", "gold", "0"],
            [LONG_ID, "2024-05-01T00:00:00Z", "41", "1", "gold", "0"],
        ],
    )
    proc = ingest(tmp_path, server, schema_file, table)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "ingest: error: line 3 (record 'CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC... (2100 characters)'): "
        "PutRecord refused it: ValidationError: the record identifier is over 2 KB"
    ]


def offline_rows(fs, home):
    import pyarrow.parquet as pq

    fs.flush()
    files = sorted((home / "s3").rglob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_a_rerun_puts_again_only_history_older_than_the_online_record(tmp_path, twin):
    """What a rerun writes, as the job's docstring now says: a record equal to the stored one
    is skipped, so one row per customer appends nothing offline; a customer's older row
    (history) differs from the newer stored record, is put again and, the offline store being
    append-only ("the new record is written to ... OfflineStore" for every PutRecord,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_PutRecord.html),
    appended again, which BuildDataset's deduplication absorbs. The docstring claimed that a
    rerun "changes nothing"."""
    fs, server, schema_file = twin
    table = write_table(
        tmp_path / "t.csv",
        [
            ["C1", "2024-05-01T00:00:00Z", "40", "1", "gold", "0"],
            ["C1", "2024-05-02T00:00:00Z", "41", "1", "gold", "0"],
            ["C2", "2024-05-01T00:00:00Z", "50", "1", "gold", "0"],
        ],
    )
    assert "3 put, 0 unchanged" in ingest(tmp_path, server, schema_file, table).stdout
    assert len(offline_rows(fs, tmp_path / "home")) == 3
    again = ingest(tmp_path, server, schema_file, table)
    assert "1 put, 2 unchanged" in again.stdout, again.stdout
    assert online(fs, "C1")["age"] == "41"
    rows = offline_rows(fs, tmp_path / "home")
    assert sorted((r["customer_id"], r["age"]) for r in rows) == [
        ("C1", 40),
        ("C1", 40),
        ("C1", 41),
        ("C2", 50),
    ]


def test_a_group_not_made_from_the_schema_names_the_features_it_lacks(tmp_path, twin):
    fs, _, _ = twin
    put(fs, "C1", 1714600000, 1)
    other = dict(SCHEMA, features=SCHEMA["features"] + [{"name": "tenure", "type": "numeric"}])
    other_file = tmp_path / "other.json"
    other_file.write_text(json.dumps(other))
    proc, _ = build(tmp_path, fs, other_file)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("build-dataset: error: the offline store's Parquet objects lack ")
    assert "the schema's feature tenure: the feature group was not made from this schema" in last
