"""The step cache: which job produced which properties under which cache key
(docs/container-contracts.md section 7.4), in the home's SQLite database."""

import json
import time


class StepCache(object):
    def __init__(self, db):
        self.db = db  # a connection from database.connect(home)

    def lookup(self, pipeline, step, key, max_age_seconds):
        row = self.db.execute(
            "SELECT * FROM step_cache WHERE pipeline = ? AND step = ? AND cache_key = ? "
            "AND created >= ? ORDER BY created DESC LIMIT 1",
            (pipeline, step, key, time.time() - max_age_seconds),
        ).fetchone()
        if row is None:
            return None
        return {"execution_id": row["execution_id"], "properties": json.loads(row["properties"])}

    def store(self, pipeline, step, key, execution_id, properties):
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
