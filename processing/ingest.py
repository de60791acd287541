"""IngestFeatures: the validated raw table's rows as records of the churn feature group, written
with PutRecord by several workers (boto3's sagemaker-featurestore-runtime, which the processing
image ships; locally the same calls reach the twin through
AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME).

    python3 ingest.py --input DIR_OR_CSV --schema NAME --feature-group NAME
                      [--workers 4] [--settle-seconds 0] [--output-dir DIR]

Every row is turned into a record first (processing/churn_features.py: types from the schema,
the event time from the schema's event_time_column or this job's start), so a bad event time
fails the job before anything is written. Each worker reads its rows' stored records
(BatchGetRecord, 100 at a time) and puts only the records that differ, so rerunning an ingest
of the same rows changes nothing online, and with one row per customer appends nothing to the
offline store. A customer's older rows (a table holding history) differ from the newer stored
record: a rerun puts them again, and the offline store, append-only, holds them twice
(BuildDataset's deduplication takes one); the online store cannot say which history the
offline store already has. The report, ingest.json, counts rows put and unchanged.

SageMaker writes the offline store within about 15 minutes of PutRecord: --settle-seconds waits
that long before the job ends, so a BuildDataset step after it sees the rows (the local twin's
offline store is written before every job starts, so local runs pass 0).
"""

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from churn_features import FeatureGroupError, definitions, parse_event_time, refused_record

from churn_io import DataError, csv_files, read_raw_table
from churn_job import fail, write_text_atomic
from churn_schema import SchemaError, load_schema

FAILURE_FILE = "/opt/ml/output/message"
BATCH = 100  # BatchGetRecord's limit


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", default="/opt/ml/processing/input/data")
    p.add_argument("--schema", default="seed")
    p.add_argument("--feature-group", required=True)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--settle-seconds", type=float, default=0.0)
    p.add_argument("--output-dir", default="/opt/ml/processing/ingest")
    return p.parse_args(argv)


def records_of(table, layout, ingest_time):
    """[(line, record_id, Record)] of every row, or DataError naming the column, the count
    and examples of the rows that cannot become records."""
    rows = table.fillna("").astype(str).to_dict("records")
    out, bad = [], []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            if layout.table_event_time:
                event_time = parse_event_time(row[layout.table_event_time])
            else:
                event_time = ingest_time
            record = layout.record(row, event_time)
        except FeatureGroupError as e:
            bad.append("line %d: %s" % (number, e))
            continue
        out.append((number, row[layout.record_identifier].strip(), record))
    if bad:
        raise DataError(
            "%d rows cannot become feature records (%s)" % (len(bad), "; ".join(bad[:3]))
        )
    return out


def comparable(record, layout):
    """A record's values as compared for idempotence: without the event time when it is the
    ingest time (it changes on every run)."""
    skip = None if layout.table_event_time else layout.event_time
    return {v["FeatureName"]: v["ValueAsString"] for v in record if v["FeatureName"] != skip}


def ingest_batch(client, group, layout, batch, counts, lock):
    from botocore.exceptions import ClientError

    stored = {}
    answer = client.batch_get_record(
        Identifiers=[
            {
                "FeatureGroupName": group,
                "RecordIdentifiersValueAsString": [r for _, r, _ in batch],
            }
        ]
    )
    for error in answer.get("Errors", []):
        raise DataError(
            "BatchGetRecord %s: %s" % (error.get("ErrorCode"), error.get("ErrorMessage"))
        )
    for found in answer.get("Records", []):
        stored[found["RecordIdentifierValueAsString"]] = comparable(found["Record"], layout)
    unprocessed = {
        rid
        for u in answer.get("UnprocessedIdentifiers", [])
        for rid in u["RecordIdentifiersValueAsString"]
    }
    put = unchanged = 0
    for line, record_id, record in batch:
        if record_id not in unprocessed and stored.get(record_id) == comparable(record, layout):
            unchanged += 1
            continue
        try:
            client.put_record(FeatureGroupName=group, Record=record)
        except ClientError as e:
            raise DataError(refused_record(line, record_id, e)) from None
        put += 1
    with lock:
        counts["put"] += put
        counts["unchanged"] += unchanged


def ingest(args):
    started = time.time()
    schema = load_schema(args.schema)
    layout = definitions(schema)
    if args.workers < 1:
        raise DataError("--workers must be at least 1")
    table = read_raw_table(csv_files(args.input), schema, str)
    missing = [c for c in layout.table_columns if c not in table.columns]
    if missing:
        raise DataError("columns %s are missing from the table" % ", ".join(missing))
    records = records_of(table[layout.table_columns], layout, started)

    import boto3
    from botocore.config import Config

    client = boto3.client(
        "sagemaker-featurestore-runtime",
        config=Config(retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=32),
    )
    counts, lock = {"put": 0, "unchanged": 0}, threading.Lock()
    batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for done in [
            pool.submit(ingest_batch, client, args.feature_group, layout, b, counts, lock)
            for b in batches
        ]:
            done.result()  # the first failure fails the job
    if args.settle_seconds > 0 and counts["put"]:
        print("ingest: waiting %.0f s for the offline store" % args.settle_seconds)
        time.sleep(args.settle_seconds)
    report = {
        "feature_group": args.feature_group,
        "rows": len(records),
        "put": counts["put"],
        "unchanged": counts["unchanged"],
        "event_time": layout.table_event_time or "ingest time %.6f" % started,
        "seconds": round(time.time() - started, 3),
    }
    write_text_atomic(os.path.join(args.output_dir, "ingest.json"), json.dumps(report, indent=1))
    print(
        "ingest: %d rows into %s: %d put, %d unchanged"
        % (len(records), args.feature_group, counts["put"], counts["unchanged"])
    )


def main():
    try:
        ingest(parse_args())
    except (SchemaError, DataError, FeatureGroupError, OSError) as e:
        fail("ingest", str(e), FAILURE_FILE)
    except Exception as e:  # botocore's ClientError and friends: the service's one line
        if type(e).__module__.startswith("botocore"):
            fail("ingest", "%s: %s" % (type(e).__name__, e), FAILURE_FILE)
        raise


if __name__ == "__main__":
    sys.exit(main())
