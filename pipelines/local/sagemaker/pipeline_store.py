"""Pipelines CreatePipeline made, in the home's database (docs/adr/0004): one row per version
(CreatePipeline makes version 1, each UpdatePipeline the next), the request kept as JSON with
its definition inline; and the ClientRequestTokens StartPipelineExecution was given, so that a
retried start answers the execution the first one started. Names are matched ignoring case,
as SageMaker's ARNs (which lower-case them) make two names differing in case one pipeline."""

import json
import sqlite3
import time
from typing import Any, Callable, Dict, List, Optional

Json = Dict[str, Any]


class PipelineStore(object):
    def __init__(self, connection: Callable[[], sqlite3.Connection]) -> None:
        self._connection = connection  # the calling thread's

    @property
    def db(self) -> sqlite3.Connection:
        return self._connection()

    @staticmethod
    def _version(row: Any, created: float) -> Json:
        return {
            "name": row["name"],
            "version": row["version"],
            "created": created,  # the pipeline's (version 1's)
            "updated": row["created"],  # this version's
            "request": json.loads(row["request"]),
        }

    def get(self, name: str, version: Optional[int] = None) -> Optional[Json]:
        """The pipeline's version `version` (its latest by default); None when there is none."""
        rows = self.db.execute(
            "SELECT * FROM pipeline_versions WHERE lower(name) = lower(?) ORDER BY version",
            (name,),
        ).fetchall()
        if not rows:
            return None
        chosen = (
            rows[-1]
            if version is None
            else next((r for r in rows if r["version"] == version), None)
        )
        return self._version(chosen, rows[0]["created"]) if chosen is not None else None

    def versions(self, name: str) -> List[Json]:
        rows = self.db.execute(
            "SELECT * FROM pipeline_versions WHERE lower(name) = lower(?) ORDER BY version",
            (name,),
        ).fetchall()
        return [self._version(r, rows[0]["created"]) for r in rows]

    def all(self) -> List[Json]:
        """Every pipeline, its latest version."""
        names = [r[0] for r in self.db.execute("SELECT DISTINCT name FROM pipeline_versions")]
        found = [self.get(name) for name in names]
        return [p for p in found if p is not None]

    def create(self, name: str, request: Json) -> bool:
        """Version 1 of a new pipeline; False when the name is taken."""
        db = self.db
        with db:
            if db.execute(
                "SELECT 1 FROM pipeline_versions WHERE lower(name) = lower(?)", (name,)
            ).fetchone():
                return False
            db.execute(
                "INSERT INTO pipeline_versions VALUES (?, 1, ?, ?)",
                (name, time.time(), json.dumps(request)),
            )
        return True

    def update(self, name: str, changes: Json) -> Optional[int]:
        """The next version: the latest's request with `changes`; None when there is none."""
        db = self.db
        with db:
            row = db.execute(
                "SELECT * FROM pipeline_versions WHERE lower(name) = lower(?) "
                "ORDER BY version DESC LIMIT 1",
                (name,),
            ).fetchone()
            if row is None:
                return None
            request = dict(json.loads(row["request"]), **changes)
            version = int(row["version"]) + 1
            db.execute(
                "INSERT INTO pipeline_versions VALUES (?, ?, ?, ?)",
                (row["name"], version, time.time(), json.dumps(request)),
            )
        return version

    def delete(self, name: str) -> bool:
        db = self.db
        with db:
            gone = db.execute(
                "DELETE FROM pipeline_versions WHERE lower(name) = lower(?)", (name,)
            ).rowcount
            db.execute(
                "DELETE FROM pipeline_execution_tokens WHERE lower(name) = lower(?)", (name,)
            )
        return bool(gone)

    def started(self, name: str, token: str) -> Optional[str]:
        """The execution a start with this token started, if one did."""
        row = self.db.execute(
            "SELECT arn FROM pipeline_execution_tokens WHERE lower(name) = lower(?) AND token = ?",
            (name, token),
        ).fetchone()
        return str(row["arn"]) if row else None

    def remember_start(self, name: str, token: str, arn: str) -> None:
        db = self.db
        with db:
            db.execute(
                "INSERT OR REPLACE INTO pipeline_execution_tokens VALUES (?, ?, ?)",
                (name, token, arn),
            )
