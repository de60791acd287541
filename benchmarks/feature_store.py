"""The local Feature Store against Feast on the same generated churn history, in one command.

    python benchmarks/feature_store.py [--entities 1000000] [--snapshots 5] [--runs 3]
                                       [--feast-runs 1] [--feast-venv DIR] [--no-feast]

- Point-in-time join: each of --entities customers once, at a random label time, against a
  history of --snapshots records per customer (1M x 5 = 5M rows) in event-time order, as the
  offline store's hourly files hold it. Ours: BuildDataset's own
  read and as-of join (processing/build_dataset.py) over the offline-store Parquet; Feast:
  get_historical_features(...).to_df() over a FileSource of the same rows. Each in a fresh
  process, timed inside it, its peak RSS reported.
- Online reads at --entities records: GetRecord p50/p99 in process and through boto3 against
  the wire server (what a job sees); BatchGetRecord of 100 ids; Feast's get_online_features
  (one entity, and 100) after materializing the same latest rows into its SQLite store.
- Ingest: --entities records into the online and offline stores (put_columns, the path of
  `churn features ingest`).

Feast 0.67 runs from its own virtualenv (created on first use under --feast-venv; not a project
dependency), with the local provider, the SQLite online store and the file offline store.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from common import ROOT, ensure_venv, machine, median

FEAST_PACKAGES = ["feast==0.67.*"]
DEFAULT_VENV = Path.home() / ".cache" / "churn-benchmarks" / "feast-0.67"
BASE = 1_700_000_000.0
FEATURES = ["age", "tenure", "balance", "num_products", "is_active", "churn"]

OURS_JOIN = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1] + "/processing")
import pandas as pd
from build_dataset import as_of_join, read_history
from churn_features import definitions
from churn_schema import load_schema
started = time.perf_counter()
layout = definitions(load_schema("seed"))
history = read_history(sys.argv[2], layout)
entities = pd.read_parquet(sys.argv[3])
kept, counts = as_of_join(history, entities, "customer_id", "event_time")
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": counts["rows"],
                  "max_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

FEAST_REPO = """
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)
source = FileSource(path=%(path)r, timestamp_field="event_timestamp")
churn = FeatureView(name="churn", entities=[customer], ttl=timedelta(days=3650), source=source,
    schema=[Field(name="age", dtype=Int64), Field(name="tenure", dtype=Int64),
            Field(name="balance", dtype=Float64), Field(name="num_products", dtype=Int64),
            Field(name="is_active", dtype=Int64), Field(name="churn", dtype=Int64)])
"""

FEAST_YAML = """project: churn
registry: %(repo)s/registry.db
provider: local
online_store:
  type: sqlite
  path: %(repo)s/online.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""

FEAST_JOIN = r"""
import json, resource, sys, time
import pandas as pd
from feast import FeatureStore
store = FeatureStore(repo_path=sys.argv[1])
entities = pd.read_parquet(sys.argv[2])
started = time.perf_counter()
df = store.get_historical_features(entity_df=entities,
    features=["churn:%s" % f for f in sys.argv[3].split(",")]).to_df()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": int(df["age"].notna().sum()),
                  "max_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

FEAST_ONLINE = r"""
import json, random, sys, time
from datetime import datetime, timezone
from feast import FeatureStore
store = FeatureStore(repo_path=sys.argv[1])
n, seconds = int(sys.argv[2]), float(sys.argv[3])
started = time.perf_counter()
store.materialize(datetime(2000, 1, 1, tzinfo=timezone.utc),
                  datetime(2100, 1, 1, tzinfo=timezone.utc))
materialize = time.perf_counter() - started
features = ["churn:age", "churn:tenure", "churn:balance", "churn:num_products", "churn:is_active"]
rng = random.Random(1)
def ids(k):
    return [{"customer_id": "C%07d" % rng.randrange(n)} for _ in range(k)]
single, batch = [], []
deadline = time.perf_counter() + seconds
while time.perf_counter() < deadline:
    rows = ids(1); t = time.perf_counter()
    store.get_online_features(features=features, entity_rows=rows).to_dict()
    single.append(time.perf_counter() - t)
deadline = time.perf_counter() + seconds
while time.perf_counter() < deadline:
    rows = ids(100); t = time.perf_counter()
    store.get_online_features(features=features, entity_rows=rows).to_dict()
    batch.append(time.perf_counter() - t)
single.sort(); batch.sort()
print(json.dumps({"materialize_s": materialize, "p50_ms": single[len(single)//2] * 1e3,
                  "p99_ms": single[int(len(single)*0.99)] * 1e3, "rate": len(single) / sum(single),
                  "batch100_p50_ms": batch[len(batch)//2] * 1e3}))
"""


def history(n, snapshots, seed=0):
    """Each customer's `snapshots` records at random times over about a year, as the offline
    store holds them; and one label time per customer."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("C", np.char.zfill(np.arange(n).astype(str), 7))
    rows = n * snapshots
    frame = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, snapshots),
            "age": rng.integers(18, 90, rows),
            "tenure": rng.integers(0, 30, rows),
            "balance": rng.gamma(2.0, 30000.0, rows).round(2),
            "num_products": rng.integers(1, 5, rows),
            "is_active": rng.integers(0, 2, rows),
            "churn": rng.integers(0, 2, rows),
            "event_time": BASE + rng.uniform(0, 365 * 86400, rows).round(3),
        }
    )
    labels = pd.DataFrame(
        {"customer_id": ids, "as_of": BASE + rng.uniform(30 * 86400, 365 * 86400, n).round(3)}
    )
    # As an offline store holds them: rows in event-time order (hourly files, customers
    # interleaved), not grouped by customer, which would flatter every sort and hash; and
    # the label rows in no particular order.
    frame = frame.sort_values("event_time", kind="stable", ignore_index=True)
    return frame, labels.sample(frac=1, random_state=seed, ignore_index=True)


def write_ours(frame, folder):
    """The rows as the twin's offline store writes them (its Parquet schema)."""
    from pipelines.churn.feature_group import LOCAL_ROLE, feature_group_request
    from pipelines.local.featurestore.offline import parquet_schema
    from processing.churn_schema import load_schema

    request = feature_group_request(load_schema("seed"), "g", "s3://b/fs", LOCAL_ROLE)
    schema = parquet_schema(request)
    now = pd.Timestamp.now(tz="UTC").floor("ms")
    table = frame.copy()
    table["write_time"] = now
    table["api_invocation_time"] = now
    table["is_deleted"] = False
    table = table[[f.name for f in schema]]
    folder.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pandas(table, schema=schema, preserve_index=False), folder / "h.parquet"
    )


def run_json(argv):
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ensure_feast(venv):
    return ensure_venv(venv, FEAST_PACKAGES, "python")


def feast_repo(work, frame, python):
    repo = work / "feast"
    repo.mkdir()
    data = frame.rename(columns={"event_time": "event_timestamp"}).copy()
    data["event_timestamp"] = pd.to_datetime(data["event_timestamp"], unit="s", utc=True)
    data.to_parquet(repo / "history.parquet", index=False)
    (repo / "feature_store.yaml").write_text(FEAST_YAML % {"repo": repo})
    (repo / "repo.py").write_text(FEAST_REPO % {"path": str(repo / "history.parquet")})
    subprocess.run([str(python.parent / "feast"), "apply"], cwd=str(repo), check=True,
                   capture_output=True)  # fmt: skip
    return repo


def online_ours(work, frame, n, seconds):
    """Ingest the latest record per customer, then read."""
    import boto3

    from pipelines.churn.feature_group import LOCAL_ROLE, feature_group_request
    from pipelines.local.featurestore.server import FeatureStoreServer
    from pipelines.local.featurestore.store import LocalFeatureStore
    from processing.churn_schema import load_schema

    latest = frame.sort_values("event_time").drop_duplicates("customer_id", keep="last")
    columns = {c: latest[c].astype(str).tolist() for c in ["customer_id"] + FEATURES}
    columns["event_time"] = latest["event_time"].map(repr).tolist()
    fs = LocalFeatureStore(work / "ours-online")
    request = feature_group_request(load_schema("seed"), "g", "s3://churn-local/fs", LOCAL_ROLE)
    fs.sagemaker_client().create_feature_group(**request)
    # Today's table (one event hour, one Parquet object per flush), then the same customers'
    # latest records spread over a year of event times (one object per hour: 8,760).
    today = dict(columns, event_time=[repr(time.time())] * len(latest))
    fs.sagemaker_client().create_feature_group(**dict(request, FeatureGroupName="today"))
    started = time.perf_counter()
    fs.put_columns("today", today)
    fs.flush()
    ingest_today = time.perf_counter() - started
    started = time.perf_counter()
    fs.put_columns("g", columns)
    fs.flush()
    ingest_year = time.perf_counter() - started
    rt = fs.runtime_client()
    rng = np.random.default_rng(1)

    def timings(call, k):
        out, deadline = [], time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            ids = ["C%07d" % i for i in rng.integers(0, n, k)]
            t = time.perf_counter()
            call(ids)
            out.append(time.perf_counter() - t)
        return sorted(out)

    single = timings(
        lambda ids: rt.get_record(FeatureGroupName="g", RecordIdentifierValueAsString=ids[0]), 1
    )
    batch = timings(
        lambda ids: rt.batch_get_record(
            Identifiers=[{"FeatureGroupName": "g", "RecordIdentifiersValueAsString": ids}]
        ),
        100,
    )
    server = FeatureStoreServer(fs)
    client = boto3.client(
        "sagemaker-featurestore-runtime", region_name="us-east-1", endpoint_url=server.endpoint,
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip
    wire = timings(
        lambda ids: client.get_record(FeatureGroupName="g", RecordIdentifierValueAsString=ids[0]), 1
    )
    server.close()
    fs.close()
    pick = lambda xs, q: xs[min(len(xs) - 1, int(len(xs) * q))] * 1e3  # noqa: E731
    return {
        "ingest_today_s": ingest_today,
        "ingest_year_s": ingest_year,
        "p50_ms": pick(single, 0.5),
        "p99_ms": pick(single, 0.99),
        "rate": len(single) / sum(single),
        "wire_p50_ms": pick(wire, 0.5),
        "wire_p99_ms": pick(wire, 0.99),
        "batch100_p50_ms": pick(batch, 0.5),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--entities", type=int, default=1_000_000)
    p.add_argument("--snapshots", type=int, default=5)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--feast-runs", type=int, default=1, help="Feast's join takes minutes")
    p.add_argument("--seconds", type=float, default=5.0, help="per online-read measurement")
    p.add_argument("--feast-venv", type=Path, default=DEFAULT_VENV)
    p.add_argument("--no-feast", action="store_true")
    args = p.parse_args()
    python = None if args.no_feast else ensure_feast(args.feast_venv)
    work = Path(tempfile.mkdtemp(prefix="churn-feature-store-"))
    print("machine: %s" % machine())
    try:
        frame, labels = history(args.entities, args.snapshots)
        print("history: %d rows for %d customers" % (len(frame), args.entities))
        write_ours(frame, work / "offline")
        labels.to_parquet(work / "entities.parquet", index=False)
        ours = [
            run_json(
                [
                    sys.executable,
                    "-c",
                    OURS_JOIN,
                    str(ROOT),
                    str(work / "offline"),
                    str(work / "entities.parquet"),
                ]
            )  # fmt: skip
            for _ in range(args.runs)
        ]
        ours_s = median([r["seconds"] for r in ours])
        print(
            "point-in-time join, ours: median %.2f s over %d runs, peak RSS %.2f GB, %d rows"
            % (ours_s, args.runs, max(r["max_rss_gb"] for r in ours), ours[0]["rows"])
        )
        if python:
            repo = feast_repo(work, frame, python)
            feast_entities = labels.rename(columns={"as_of": "event_timestamp"})
            feast_entities["event_timestamp"] = pd.to_datetime(
                feast_entities["event_timestamp"], unit="s", utc=True
            )
            feast_entities.to_parquet(work / "feast-entities.parquet", index=False)
            feast = [
                run_json(
                    [
                        str(python),
                        "-c",
                        FEAST_JOIN,
                        str(repo),
                        str(work / "feast-entities.parquet"),
                        ",".join(FEATURES),
                    ]
                )  # fmt: skip
                for _ in range(args.runs)
            ]
            feast_s = median([r["seconds"] for r in feast])
            print(
                "point-in-time join, Feast: median %.2f s, peak RSS %.2f GB, %d rows; "
                "ours is %.1fx faster"
                % (feast_s, max(r["max_rss_gb"] for r in feast), feast[0]["rows"], feast_s / ours_s)
            )
        online = online_ours(work, frame, args.entities, args.seconds)
        print(
            "ingest of %d records (online + offline), ours: %.1f s with one event hour, "
            "%.1f s with a year of event hours (a Parquet object per hour)"
            % (args.entities, online["ingest_today_s"], online["ingest_year_s"])
        )
        print(
            "GetRecord in process: p50 %.3f ms, p99 %.3f ms (%.0f/s); through boto3 and the "
            "wire server: p50 %.2f ms, p99 %.2f ms; BatchGetRecord of 100: p50 %.2f ms"
            % (online["p50_ms"], online["p99_ms"], online["rate"], online["wire_p50_ms"],
               online["wire_p99_ms"], online["batch100_p50_ms"])
        )  # fmt: skip
        if python:
            f = run_json([str(python), "-c", FEAST_ONLINE, str(repo), str(args.entities),
                          str(args.seconds)])  # fmt: skip
            print(
                "Feast get_online_features: materialize %.1f s, one entity p50 %.2f ms, p99 "
                "%.2f ms (%.0f/s), 100 entities p50 %.2f ms; ours reads %.1fx Feast's rate"
                % (f["materialize_s"], f["p50_ms"], f["p99_ms"], f["rate"],
                   f["batch100_p50_ms"], online["rate"] / f["rate"])
            )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    main()
