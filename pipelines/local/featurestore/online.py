"""The online store in SQLite: one row per record identifier holding its latest record.

SageMaker's rules, as documented for PutRecord and DeleteRecord:
- a record whose event time is greater than the stored one replaces it; an older or equal one
  is historic and goes to the offline store only;
- SoftDelete keeps the identifier with no features (and the delete's event time, so an older
  put cannot bring the record back); HardDelete removes it; a delete not later than the stored
  record changes nothing online (a SoftDelete's marker still goes offline; such a HardDelete is
  refused, store.py);
- ExpiresAt = event time + TtlDuration (the record's, else the group's); an expired record is
  gone for GetRecord and for the event-time rule.
"""

import json
import sqlite3
from typing import Any, Iterable, Optional, Sequence

SCHEMA = """
CREATE TABLE IF NOT EXISTS online_records (
    feature_group TEXT NOT NULL, record_id TEXT NOT NULL, event_time REAL NOT NULL,
    record TEXT, expires_at REAL, PRIMARY KEY (feature_group, record_id)) WITHOUT ROWID;
"""

# One statement applies the event-time rule, so a batch of puts is one executemany: a stored
# record stays unless the new event time is greater or the stored one has expired.
UPSERT = """
INSERT INTO online_records (feature_group, record_id, event_time, record, expires_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (feature_group, record_id) DO UPDATE SET
    event_time = excluded.event_time, record = excluded.record, expires_at = excluded.expires_at
WHERE excluded.event_time > online_records.event_time
   OR (online_records.expires_at IS NOT NULL AND online_records.expires_at <= ?)
"""


class OnlineStore(object):
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)

    def put(
        self,
        group: str,
        rows: Iterable[tuple[str, float, str, Optional[float]]],
        now: float,
    ) -> int:
        """rows: (record_id, event_time, values, expires_at), values the JSON array of the
        group's features in definition order (null where missing). Returns how many changed
        the online store."""
        before = self.db.total_changes
        self.db.executemany(
            UPSERT, ((group, rid, et, values, exp, now) for rid, et, values, exp in rows)
        )
        return self.db.total_changes - before

    def get_many(
        self, group: str, record_ids: Sequence[str], now: float
    ) -> dict[str, tuple[list[Any], Optional[float]]]:
        """{record_id: (values, expires_at)} of the live ones among record_ids."""
        marks = ",".join("?" * len(record_ids))
        found: dict[str, tuple[list[Any], Optional[float]]] = {}
        for rid, record, expires_at in self.db.execute(
            "SELECT record_id, record, expires_at FROM online_records "
            "WHERE feature_group = ? AND record_id IN (%s)" % marks,
            [group] + list(record_ids),
        ):
            if record is not None and (expires_at is None or expires_at > now):
                found[rid] = (json.loads(record), expires_at)
        return found

    def live_event_time(self, group: str, record_id: str, now: float) -> Optional[float]:
        """The event time of the record stored for record_id (a soft delete's too), or None
        when there is none or it has expired."""
        row = self.db.execute(
            "SELECT event_time, expires_at FROM online_records "
            "WHERE feature_group = ? AND record_id = ?",
            (group, record_id),
        ).fetchone()
        if row is None or (row[1] is not None and row[1] <= now):
            return None
        return row[0]

    def delete(self, group: str, record_id: str, event_time: float, hard: bool, now: float) -> bool:
        """Apply a DeleteRecord online; False when there was nothing to delete or the stored
        record is not older than the delete (the caller refuses that HardDelete first)."""
        stored = self.live_event_time(group, record_id, now)
        if stored is not None and event_time <= stored:
            return False
        if hard:
            done = self.db.execute(
                "DELETE FROM online_records WHERE feature_group = ? AND record_id = ?",
                (group, record_id),
            )
        else:  # the tombstone's event time keeps older puts out
            done = self.db.execute(
                "UPDATE online_records SET record = NULL, event_time = ?, expires_at = NULL "
                "WHERE feature_group = ? AND record_id = ?",
                (event_time, group, record_id),
            )
        return done.rowcount > 0

    def drop_group(self, group: str) -> None:
        self.db.execute("DELETE FROM online_records WHERE feature_group = ?", (group,))

    def count(self, group: str) -> int:
        return self.db.execute(
            "SELECT COUNT(*) FROM online_records WHERE feature_group = ? AND record IS NOT NULL",
            (group,),
        ).fetchone()[0]
