"""Monitoring schedules of the local SageMaker, recorded as SageMaker records them in the home's
database; locally `churn monitor` runs the checks they name (nothing runs on a schedule)."""

import json
import sqlite3
import time
from typing import Any, Callable, Dict, List, Optional

from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker.hosting import HostingError

Json = Dict[str, Any]


class MonitoringSchedules(object):
    def __init__(self, connection: Callable[[], sqlite3.Connection]) -> None:
        self._connection = connection  # the calling thread's database connection

    @property
    def db(self) -> sqlite3.Connection:
        return self._connection()

    def _row(self, name: str) -> Optional[sqlite3.Row]:
        row: Optional[sqlite3.Row] = self.db.execute(
            "SELECT * FROM monitoring_schedules WHERE name = ?", (name,)
        ).fetchone()
        return row

    def create_monitoring_schedule(self, request: Json) -> Json:
        name = request["MonitoringScheduleName"]
        if self._row(name):
            raise HostingError("Monitoring schedule %s already exists" % name, "ResourceInUse")
        now = time.time()
        with self.db:
            self.db.execute(
                "INSERT INTO monitoring_schedules VALUES (?, ?, ?, ?)",
                (name, now, now, json.dumps(request)),
            )
        return {"MonitoringScheduleArn": sagemaker_arn("monitoring-schedule", name)}

    def describe_monitoring_schedule(self, name: str) -> Json:
        row = self._row(name)
        if row is None:
            raise HostingError("Monitoring schedule %s does not exist" % name, "ResourceNotFound")
        request = json.loads(row["request"])
        config = request["MonitoringScheduleConfig"]
        inputs = config.get("MonitoringJobDefinition", {}).get("MonitoringInputs") or [{}]
        return {
            "MonitoringScheduleArn": sagemaker_arn("monitoring-schedule", name),
            "MonitoringScheduleName": name,
            "MonitoringScheduleStatus": "Scheduled",
            "MonitoringType": config.get("MonitoringType", "DataQuality"),
            "MonitoringScheduleConfig": config,
            "EndpointName": inputs[0].get("EndpointInput", {}).get("EndpointName"),
            "CreationTime": row["created"],
            "LastModifiedTime": row["updated"],
        }

    def update_monitoring_schedule(self, request: Json) -> Json:
        name = request["MonitoringScheduleName"]
        self.describe_monitoring_schedule(name)
        with self.db:
            self.db.execute(
                "UPDATE monitoring_schedules SET request = ?, updated = ? WHERE name = ?",
                (json.dumps(request), time.time(), name),
            )
        return {"MonitoringScheduleArn": sagemaker_arn("monitoring-schedule", name)}

    def delete_monitoring_schedule(self, name: str) -> None:
        self.describe_monitoring_schedule(name)
        with self.db:
            self.db.execute("DELETE FROM monitoring_schedules WHERE name = ?", (name,))

    def list_monitoring_schedules(self) -> List[Json]:
        """DescribeMonitoringSchedule of every schedule, oldest first."""
        rows = self.db.execute("SELECT name FROM monitoring_schedules ORDER BY created")
        return [self.describe_monitoring_schedule(r["name"]) for r in rows.fetchall()]
