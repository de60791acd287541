"""The step cache: which job produced which properties under which cache key
(docs/container-contracts.md section 7.4), in the home's SQLite database."""

import json
import sqlite3
import time
from typing import Any, Dict, Optional


class StepCache(object):
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db  # a connection from database.connect(home)

    def lookup(
        self, pipeline: str, step: str, key: str, max_age_seconds: float
    ) -> Optional[Dict[str, Any]]:
        row = self.db.execute(
            "SELECT * FROM step_cache WHERE pipeline = ? AND step = ? AND cache_key = ? "
            "AND created >= ? ORDER BY created DESC LIMIT 1",
            (pipeline, step, key, time.time() - max_age_seconds),
        ).fetchone()
        if row is None:
            return None
        return {"execution_id": row["execution_id"], "properties": json.loads(row["properties"])}

    def store(
        self, pipeline: str, step: str, key: str, execution_id: str, properties: Dict[str, Any]
    ) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO step_cache VALUES (?, ?, ?, ?, ?, ?)",
                (
                    pipeline,
                    step,
                    key,
                    execution_id,
                    time.time(),
                    json.dumps(properties, default=str),
                ),
            )
