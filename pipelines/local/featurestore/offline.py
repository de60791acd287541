"""The offline store: every put and delete as a row of Parquet, in SageMaker's layout
(docs/container-contracts.md section 8.2):

    <ResolvedOutputS3Uri>/year=YYYY/month=MM/day=DD/hour=HH/<YYYYMMDDTHHMMSSZ>_<16 chars>.parquet

partitioned by event time (UTC hours), each file named after the latest event time in it, with
the group's features in definition order and write_time, api_invocation_time and is_deleted
added. SageMaker buffers rows and writes them within about 15 minutes; the twin buffers them
until flush() (the engine flushes before each job reads the store, pipelines/local/featurestore
/store.py), so a step always sees what the steps before it wrote.
"""

import datetime
import io
import secrets
import string

import pyarrow as pa
import pyarrow.parquet as pq

ARROW_TYPES = {"Integral": pa.int64(), "Fractional": pa.float64(), "String": pa.string()}
TIMESTAMP = pa.timestamp("ms", tz="UTC")
ALPHABET = string.ascii_letters + string.digits
FLUSH_ROWS = 200_000  # a buffer this long is written without waiting for flush()


def parquet_schema(description):
    fields = [
        pa.field(d["FeatureName"], ARROW_TYPES[d["FeatureType"]])
        for d in description["FeatureDefinitions"]
    ]
    fields += [
        pa.field("write_time", TIMESTAMP),
        pa.field("api_invocation_time", TIMESTAMP),
        pa.field("is_deleted", pa.bool_()),
    ]
    return pa.schema(fields)


def typed(kind, text):
    if text is None:
        return None
    if kind == "Integral":
        return int(text)
    if kind == "Fractional":
        return float(text)
    return text


class OfflineStore(object):
    """Buffers rows per feature group and writes them as Parquet objects into the store."""

    def __init__(self, store):
        self.store = store
        self.buffers = {}  # group name -> (description, [row tuples])

    def append(self, description, rows):
        """rows: [(values {feature: text or None}, event_time seconds, invoked seconds,
        is_deleted)]."""
        name = description["FeatureGroupName"]
        kinds = [(d["FeatureName"], d["FeatureType"]) for d in description["FeatureDefinitions"]]
        buffered = self.buffers.setdefault(name, (description, []))[1]
        for values, event_time, invoked, deleted in rows:
            buffered.append(
                (event_time, [typed(k, values.get(f)) for f, k in kinds], invoked, deleted)
            )
        if len(buffered) >= FLUSH_ROWS:
            self.flush(name)

    def discard(self, name):
        self.buffers.pop(name, None)

    def flush(self, name=None):
        for group in [name] if name else list(self.buffers):
            description, rows = self.buffers.pop(group, (None, []))
            if rows:
                self._write(description, rows)

    def _write(self, description, rows):
        schema = parquet_schema(description)
        written = datetime.datetime.now(datetime.timezone.utc)
        base = description["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
        hours = {}
        for row in rows:
            hours.setdefault(int(row[0] // 3600), []).append(row)
        n_features = len(description["FeatureDefinitions"])
        for hour, part in sorted(hours.items()):
            columns = [[r[1][i] for r in part] for i in range(n_features)]
            columns.append([written] * len(part))
            columns.append([_utc(r[2]) for r in part])
            columns.append([r[3] for r in part])
            table = pa.Table.from_arrays(
                [pa.array(c, type=f.type) for c, f in zip(columns, schema)], schema=schema
            )
            start = _utc(hour * 3600)
            latest = _utc(max(r[0] for r in part))
            key = "%s/year=%04d/month=%02d/day=%02d/hour=%02d/%s_%s.parquet" % (
                base,
                start.year,
                start.month,
                start.day,
                start.hour,
                latest.strftime("%Y%m%dT%H%M%SZ"),
                "".join(secrets.choice(ALPHABET) for _ in range(16)),
            )
            buf = io.BytesIO()
            pq.write_table(table, buf)
            self.store.put_bytes(key, buf.getvalue())


def _utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
