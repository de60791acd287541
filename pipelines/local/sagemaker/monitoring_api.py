"""Monitoring schedules, operations of boto3's `sagemaker` client over the local SageMaker (a
mixin of SageMakerClient, api.py), over the local hosting (hosting.py): recorded, and locally
`churn monitor` runs the checks a schedule names. A missing schedule is ResourceNotFound, an
existing one ResourceInUse.
"""

from typing import Any

from pipelines.local.api import Answer
from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker.client_base import listing, shaped_top_level, when
from pipelines.local.sagemaker.model_api import TagOperations


class MonitoringOperations(TagOperations):
    """CreateMonitoringSchedule, DescribeMonitoringSchedule, UpdateMonitoringSchedule,
    DeleteMonitoringSchedule, ListMonitoringSchedules."""

    def create_monitoring_schedule(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateMonitoringSchedule.html
        Recorded; locally `churn monitor` runs the checks a schedule names."""
        op = "CreateMonitoringSchedule"
        self._request(op, request)
        stored = {k: v for k, v in request.items() if k != "Tags"}
        with self._refusals(op):
            arn = self.backend.monitoring_schedules.create_monitoring_schedule(stored)[
                "MonitoringScheduleArn"
            ]
        self._tag(arn, request.get("Tags") or [])
        return self._answer(op, {"MonitoringScheduleArn": arn})

    def describe_monitoring_schedule(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeMonitoringSchedule.html"""
        op = "DescribeMonitoringSchedule"
        self._request(op, request)
        with self._refusals(op):
            described = self.backend.monitoring_schedules.describe_monitoring_schedule(
                request["MonitoringScheduleName"]
            )
        return self._answer(op, shaped_top_level(op, described))

    def update_monitoring_schedule(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateMonitoringSchedule.html"""
        op = "UpdateMonitoringSchedule"
        self._request(op, request)
        with self._refusals(op):
            arn = self.backend.monitoring_schedules.update_monitoring_schedule(request)
        return self._answer(op, arn)

    def delete_monitoring_schedule(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteMonitoringSchedule.html"""
        op = "DeleteMonitoringSchedule"
        self._request(op, request)
        name = request["MonitoringScheduleName"]
        with self._refusals(op):
            self.backend.monitoring_schedules.delete_monitoring_schedule(name)
        self._untag(sagemaker_arn("monitoring-schedule", name))
        return self._answer(op, {})

    def list_monitoring_schedules(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListMonitoringSchedules.html"""
        op = "ListMonitoringSchedules"
        self._request(op, request)
        items = []
        for s in self.backend.monitoring_schedules.list_monitoring_schedules():
            summary = {
                "MonitoringScheduleName": s["MonitoringScheduleName"],
                "MonitoringScheduleArn": s["MonitoringScheduleArn"],
                "CreationTime": when(s["CreationTime"]),
                "LastModifiedTime": when(s["LastModifiedTime"]),
                "MonitoringScheduleStatus": s["MonitoringScheduleStatus"],
                "MonitoringType": s["MonitoringType"],
            }
            if s.get("EndpointName"):
                summary["EndpointName"] = s["EndpointName"]
            wanted = {
                "EndpointName": request.get("EndpointName"),
                "MonitoringScheduleStatus": request.get("StatusEquals"),
                "MonitoringType": request.get("MonitoringTypeEquals"),
            }
            if all(v is None or summary.get(k) == v for k, v in wanted.items()):
                items.append(summary)
        page, token = listing(items, request, "MonitoringScheduleName")
        return self._answer(op, dict({"MonitoringScheduleSummaries": page}, **token))
