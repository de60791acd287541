"""The offline store: every put and delete as a row of Parquet, in SageMaker's layout
(docs/feature-store.md):

    <ResolvedOutputS3Uri>/year=YYYY/month=MM/day=DD/hour=HH/<YYYYMMDDTHHMMSSZ>_<16 chars>.parquet

partitioned by event time (UTC hours), each file named after the latest event time in it, with
the group's features in definition order and write_time, api_invocation_time and is_deleted
added. SageMaker buffers rows and writes them within about 15 minutes; the twin buffers them
until flush() (the engine flushes before each job reads the store: SageMakerBackend.attach), so a
step always sees what the steps before it wrote.
"""

import datetime
import io
import secrets
import string

import numpy as np
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


class OfflineStore(object):
    """Buffers rows per feature group, column by column, and writes them as Parquet objects
    into the store."""

    def __init__(self, store):
        self.store = store
        self.buffers = {}  # group name -> (description, [column chunks], [times], ...)

    def append(self, description, columns, event_times, invoked, deleted):
        """columns: the group's features in definition order, each a list of typed values
        (int, float, str or None); event_times and invoked (the PutRecord call) in epoch
        seconds; deleted: is_deleted per row."""
        name = description["FeatureGroupName"]
        buffer = self.buffers.setdefault(name, {"description": description, "chunks": []})
        buffer["chunks"].append((columns, event_times, invoked, deleted))
        if sum(len(c[1]) for c in buffer["chunks"]) >= FLUSH_ROWS:
            self.flush(name)

    def flush(self, name=None):
        for group in [name] if name else list(self.buffers):
            buffer = self.buffers.pop(group, None)
            if buffer and buffer["chunks"]:
                self._write(buffer["description"], buffer["chunks"])

    def _write(self, description, chunks):
        schema = parquet_schema(description)
        n_features = len(description["FeatureDefinitions"])
        written = datetime.datetime.now(datetime.timezone.utc)
        arrays = []
        for i in range(n_features):
            arrays.append(
                pa.concat_arrays([pa.array(c[0][i], type=schema.field(i).type) for c in chunks])
            )
        events = np.concatenate([np.asarray(c[1], dtype=np.float64) for c in chunks])
        invoked = np.concatenate([np.asarray(c[2], dtype=np.float64) for c in chunks])
        rows = len(events)
        arrays.append(
            pa.array(np.full(rows, int(written.timestamp() * 1000)), pa.int64()).cast(TIMESTAMP)
        )
        arrays.append(pa.array((invoked * 1000).astype(np.int64)).cast(TIMESTAMP))
        arrays.append(pa.array([d for c in chunks for d in c[3]], type=pa.bool_()))
        table = pa.Table.from_arrays(arrays, schema=schema)
        hours = np.floor(events / 3600).astype(np.int64)
        order = np.argsort(hours, kind="stable")  # rows of one hour together, in put order
        table, events, hours = table.take(pa.array(order)), events[order], hours[order]
        base = description["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
        bounds = np.flatnonzero(np.diff(hours)) + 1
        starts, ends = np.concatenate([[0], bounds]), np.concatenate([bounds, [rows]])

        def write_hour(first, end):
            start = _utc(int(hours[first]) * 3600)
            latest = _utc(float(events[first:end].max()))
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
            pq.write_table(table.slice(first, end - first), buf)
            self.store.put_bytes(key, buf.getvalue())

        # One object per event-time hour, as SageMaker partitions (threads were measured
        # slower: the per-file work is mostly Python).
        for first, end in zip(starts, ends):
            write_hour(first, end)


def _utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
