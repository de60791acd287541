"""The offline store: every put and delete as a row of Parquet, in SageMaker's layout
(docs/feature-store.md):

    <ResolvedOutputS3Uri>/year=YYYY/month=MM/day=DD/hour=HH/<YYYYMMDDTHHMMSSZ>_<16 chars>.parquet

partitioned by event time (UTC hours), each file named after the latest event time in it, with
the group's features in definition order and write_time, api_invocation_time and is_deleted
added. SageMaker buffers rows and writes them within about 15 minutes; the twin buffers them
until flush() (the engine flushes before each job reads the store: SageMakerBackend.attach), so a
step always sees what the steps before it wrote.

The buffer is a table of the home's database, written in the transaction of the online write
that acknowledges the put: a PutRecord that answered reaches the offline store even when the
process holding the twin is killed before it flushes (the next flush, by any process, writes
it). A kill between writing an object and clearing its rows writes them again: the offline
store may hold a row twice, never lose one (readers deduplicate, as SageMaker's documented
queries do).
"""

import datetime
import io
import secrets
import sqlite3
import string
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.local.s3 import Store

ARROW_TYPES = {"Integral": pa.int64(), "Fractional": pa.float64(), "String": pa.string()}
TIMESTAMP = pa.timestamp("ms", tz="UTC")
ALPHABET = string.ascii_letters + string.digits
FLUSH_ROWS = 200_000  # a buffer this long is written without waiting for flush()


def parquet_schema(description: Mapping[str, Any]) -> pa.Schema:
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


PENDING = """
CREATE TABLE IF NOT EXISTS offline_pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT, feature_group TEXT NOT NULL, rows INTEGER NOT NULL,
    batch BLOB NOT NULL);
"""


class OfflineStore(object):
    """Buffers rows per feature group in the database (as Arrow IPC batches) and writes them as
    Parquet objects into the store."""

    def __init__(
        self,
        store: Store,
        db: sqlite3.Connection,
        describe: Callable[[str], Optional[dict[str, Any]]],
    ) -> None:
        """db: the connection the online store writes with (its caller commits both together);
        describe(name): the group's description, or None once it is gone."""
        self.store = store
        self.db = db
        self.describe = describe
        self.unflushed: dict[
            str, int
        ] = {}  # group name -> rows this process buffered since its last flush
        db.executescript(PENDING)

    def append(
        self,
        description: Mapping[str, Any],
        columns: Sequence[Sequence[Any]],
        event_times: Sequence[float],
        invoked: Sequence[float],
        deleted: Sequence[bool],
    ) -> None:
        """columns: the group's features in definition order, each a list of typed values
        (int, float, str or None); event_times and invoked (the PutRecord call) in epoch
        seconds; deleted: is_deleted per row. Buffered in the caller's transaction."""
        name = description["FeatureGroupName"]
        schema = parquet_schema(description)
        arrays = [pa.array(c, type=schema.field(i).type) for i, c in enumerate(columns)]
        arrays += [
            pa.array(event_times, pa.float64()),
            pa.array(invoked, pa.float64()),
            pa.array(deleted, pa.bool_()),
        ]
        batch = pa.RecordBatch.from_arrays(arrays, names=[str(i) for i in range(len(arrays))])
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        self.db.execute(
            "INSERT INTO offline_pending (feature_group, rows, batch) VALUES (?, ?, ?)",
            (name, len(event_times), sink.getvalue().to_pybytes()),
        )
        self.unflushed[name] = self.unflushed.get(name, 0) + len(event_times)
        if self.unflushed[name] >= FLUSH_ROWS:
            self.flush(name)

    def flush(self, name: Optional[str] = None) -> None:
        """Write the buffered rows (of one group, or all) and clear them, in one transaction
        that holds the database's write lock, so two processes never write the same rows."""
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
        try:
            query = "SELECT id, feature_group, batch FROM offline_pending"
            pending = self.db.execute(
                query + (" WHERE feature_group = ? ORDER BY id" if name else " ORDER BY id"),
                (name,) if name else (),
            ).fetchall()
            by_group: dict[str, list[tuple[int, bytes]]] = {}
            for row_id, group, blob in pending:
                by_group.setdefault(group, []).append((row_id, blob))
            for group, batches in by_group.items():
                description = self.describe(group)
                if description is not None:
                    tables = [pa.ipc.open_stream(blob).read_all() for _, blob in batches]
                    self._write(description, pa.concat_tables(tables))
                self.db.executemany(
                    "DELETE FROM offline_pending WHERE id = ?", [(i,) for i, _ in batches]
                )
        except BaseException:  # the rows stay buffered, and the write lock is released
            self.db.rollback()
            raise
        self.db.commit()
        for group in [name] if name else list(self.unflushed):
            self.unflushed.pop(group, None)

    def _write(self, description: Mapping[str, Any], buffered: pa.Table) -> None:
        """buffered: the columns append() buffers (the features, then the event time, the
        PutRecord call and is_deleted of each row)."""
        schema = parquet_schema(description)
        n_features = len(description["FeatureDefinitions"])
        written = datetime.datetime.now(datetime.timezone.utc)
        events = buffered.column(n_features).to_numpy()
        invoked = buffered.column(n_features + 1).to_numpy()
        rows = len(events)
        arrays = [buffered.column(i) for i in range(n_features)]
        arrays.append(
            pa.array(np.full(rows, int(written.timestamp() * 1000)), pa.int64()).cast(TIMESTAMP)
        )
        arrays.append(pa.array((invoked * 1000).astype(np.int64)).cast(TIMESTAMP))
        arrays.append(buffered.column(n_features + 2))
        table = pa.Table.from_arrays(arrays, schema=schema)
        hours = np.floor(events / 3600).astype(np.int64)
        order = np.argsort(hours, kind="stable")  # rows of one hour together, in put order
        table, events, hours = table.take(pa.array(order)), events[order], hours[order]
        base = description["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
        bounds = np.flatnonzero(np.diff(hours)) + 1
        starts, ends = np.concatenate([[0], bounds]), np.concatenate([bounds, [rows]])

        def write_hour(first: int, end: int) -> None:
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


def _utc(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
