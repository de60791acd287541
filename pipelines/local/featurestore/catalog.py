"""The Feature Store twin's control plane: feature groups' definitions (their descriptions,
DescribeFeatureGroup's answer as stored) in the home's database, created after
CreateFeatureGroup's checks (groups.py), read through a cache kept per change of the database
(by any process), listed and deleted (a mixin of store.py's LocalFeatureStore).
"""

import json
import re
import sqlite3
import threading
from typing import Any, Mapping, Optional

from pipelines.errors import StoreError
from pipelines.local.featurestore import groups
from pipelines.local.featurestore.errors import not_found, validation
from pipelines.local.featurestore.offline import OfflineStore
from pipelines.local.featurestore.online import OnlineStore

ARN_NAME = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:feature-group/(.+)$")
# A feature group's description (DescribeFeatureGroup's answer, as stored).
Description = dict[str, Any]
GROUPS = """
CREATE TABLE IF NOT EXISTS feature_groups (
    name TEXT PRIMARY KEY COLLATE NOCASE, created REAL NOT NULL, description TEXT NOT NULL);
"""


def feature_types(description: Mapping[str, Any]) -> dict[str, str]:
    """{feature name: FeatureType} of a group, in definition order."""
    return {d["FeatureName"]: d["FeatureType"] for d in description["FeatureDefinitions"]}


class GroupCatalog(object):
    """CreateFeatureGroup, DescribeFeatureGroup, ListFeatureGroups and DeleteFeatureGroup's
    work, over `self.db` behind `self.lock`; deleting a group drops its online records and
    flushes its offline buffer."""

    db: sqlite3.Connection
    lock: threading.RLock
    cache: dict[str, Description]
    cache_version: Optional[int]
    online: OnlineStore
    offline: OfflineStore

    def create_group(self, request: Mapping[str, Any]) -> Description:
        with self.lock:
            description = groups.new_description(request)
            name = request["FeatureGroupName"]
            if "OfflineStoreConfig" in description:
                # An offline store the flush could not write would lose every row put.
                resolved = description["OfflineStoreConfig"]["S3StorageConfig"]
                try:
                    self.offline.store.path(resolved["ResolvedOutputS3Uri"] + "/")
                except StoreError as e:
                    raise validation(
                        "OfflineStoreConfig.S3StorageConfig.S3Uri %r cannot hold the offline "
                        "store: %s" % (resolved["S3Uri"], e),
                        "CreateFeatureGroup",
                    ) from None
            if self.db.execute("SELECT 1 FROM feature_groups WHERE name = ?", (name,)).fetchone():
                raise groups.in_use(name)
            if self.db.execute("SELECT COUNT(*) FROM feature_groups").fetchone()[0] >= (
                groups.MAX_GROUPS
            ):
                raise groups.too_many()
            self.db.execute(
                "INSERT INTO feature_groups VALUES (?, ?, ?)",
                (name, description["CreationTime"], json.dumps(description)),
            )
            self.db.commit()
            self.cache = {}
            return description

    def group(self, name_or_arn: str, operation: str) -> Description:
        match = ARN_NAME.match(name_or_arn)
        name = match.group(1) if match else name_or_arn
        with self.lock:
            # Descriptions are read once per change of the database (by any process).
            version = self.db.execute("PRAGMA data_version").fetchone()[0]
            if version != self.cache_version:
                self.cache, self.cache_version = {}, version
            if name.lower() not in self.cache:
                row = self.db.execute(
                    "SELECT description FROM feature_groups WHERE name = ?", (name,)
                ).fetchone()
                if row is None:
                    raise not_found(name, operation)
                self.cache[name.lower()] = json.loads(row[0])
            return self.cache[name.lower()]

    def _description(self, name: str) -> Optional[Description]:
        """A group's description by its exact name, or None (the offline store's flush)."""
        row = self.db.execute(
            "SELECT description FROM feature_groups WHERE name = ?", (name,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def list_groups(self) -> list[Description]:
        with self.lock:
            rows = self.db.execute("SELECT description FROM feature_groups ORDER BY created")
            return [json.loads(r[0]) for r in rows.fetchall()]

    def delete_group(self, name: str) -> None:
        with self.lock:
            description = self.group(name, "DeleteFeatureGroup")
            name = description["FeatureGroupName"]
            self.offline.flush(name)  # what was put stays in the offline store, as on AWS
            self.online.drop_group(name)
            self.db.execute("DELETE FROM feature_groups WHERE name = ?", (name,))
            self.db.commit()
            self.cache = {}
