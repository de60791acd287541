"""Hyperparameter tuning jobs through boto3's `sagemaker` client over the local SageMaker (a
mixin of SageMakerClient, api.py): CreateHyperParameterTuningJob (run by job_api.py's job layer,
as a pipeline's Tuning step runs one), DescribeHyperParameterTuningJob,
ListHyperParameterTuningJobs and ListTrainingJobsForHyperParameterTuningJob, over the tuning
jobs this home ran, in pipelines or not. A tuning job's trials answer DescribeTrainingJob
(job_operations.py) with their TuningJobArn.
"""

from typing import Any, Dict, List

from pipelines.local.api import Answer, Request
from pipelines.local.sagemaker.client_base import as_datetime, listing, offset, shaped
from pipelines.local.sagemaker.job_operations import JobOperations

KIND = "HyperParameterTuning"


def _summary(described: Dict[str, Any]) -> Dict[str, Any]:
    """HyperParameterTuningJobSummary of a tuning job's description."""
    config = described.get("HyperParameterTuningJobConfig") or {}
    summary = {
        k: described.get(k)
        for k in (
            "HyperParameterTuningJobName",
            "HyperParameterTuningJobArn",
            "HyperParameterTuningJobStatus",
            "HyperParameterTuningEndTime",
            "TrainingJobStatusCounters",
            "ObjectiveStatusCounters",
        )
    }
    summary.update(
        Strategy=config.get("Strategy"),
        ResourceLimits=config.get("ResourceLimits"),
        CreationTime=as_datetime(described["CreationTime"]),
        LastModifiedTime=as_datetime(
            described.get("LastModifiedTime") or described["CreationTime"]
        ),
    )
    summary.setdefault("TrainingJobStatusCounters", {})
    summary.setdefault("ObjectiveStatusCounters", {})
    for key in ("TrainingJobStatusCounters", "ObjectiveStatusCounters"):
        summary[key] = summary[key] or {}
    return summary


class TuningOperations(JobOperations):
    """CreateHyperParameterTuningJob, DescribeHyperParameterTuningJob,
    ListHyperParameterTuningJobs, ListTrainingJobsForHyperParameterTuningJob."""

    def create_hyper_parameter_tuning_job(self, **request: Any) -> Answer:
        """API_CreateHyperParameterTuningJob: answers at once with the ARN; the trials run on
        in the client's job thread. What the API refuses is a ValidationException."""
        return self._create_job(KIND, request)

    def describe_hyper_parameter_tuning_job(self, **request: Any) -> Answer:
        """API_DescribeHyperParameterTuningJob: BestTrainingJob, the counters, ...;
        ResourceNotFound for a tuning job there is not."""
        op = "DescribeHyperParameterTuningJob"
        self._request(op, request)
        with self._refusals(op):
            described = dict(self.jobs.describe(KIND, request["HyperParameterTuningJobName"]))
        described.setdefault("TrainingJobStatusCounters", {})
        described.setdefault("ObjectiveStatusCounters", {})
        return self._answer(op, shaped(op, described))

    def list_hyper_parameter_tuning_jobs(self, **request: Any) -> Answer:
        """API_ListHyperParameterTuningJobs: sorted by Name, Ascending, 10 a page by default."""
        op = "ListHyperParameterTuningJobs"
        self._request(op, request)
        items = [_summary(d) for d in self.jobs.all(KIND)]
        if request.get("StatusEquals"):
            items = [
                i for i in items if i["HyperParameterTuningJobStatus"] == request["StatusEquals"]
            ]
        page, token = listing(items, _defaults(request), "HyperParameterTuningJobName")
        return self._answer(
            op, shaped(op, dict({"HyperParameterTuningJobSummaries": page}, **token))
        )

    def list_training_jobs_for_hyper_parameter_tuning_job(self, **request: Any) -> Answer:
        """API_ListTrainingJobsForHyperParameterTuningJob: SortBy FinalObjectiveMetricValue
        lists only the trials that produced the objective metric, best first when
        Descending for a maximised metric."""
        op = "ListTrainingJobsForHyperParameterTuningJob"
        self._request(op, request)
        with self._refusals(op):
            described = self.jobs.describe(KIND, request["HyperParameterTuningJobName"])
        items: List[Dict[str, Any]] = [
            dict(s, CreationTime=as_datetime(s["CreationTime"]))
            for s in described.get("TrainingJobSummaries") or []
        ]
        if request.get("StatusEquals"):
            items = [i for i in items if i["TrainingJobStatus"] == request["StatusEquals"]]
        asked = _defaults(request)
        if asked["SortBy"] == "FinalObjectiveMetricValue":
            items = sorted(
                (i for i in items if i.get("FinalHyperParameterTuningJobObjectiveMetric")),
                key=lambda i: i["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                reverse=asked["SortOrder"] == "Descending",
            )
            start = offset(asked)
            end = start + int(asked["MaxResults"])
            page, token = items[start:end], ({"NextToken": str(end)} if end < len(items) else {})
        else:
            page, token = listing(items, asked, "TrainingJobName")
        return self._answer(op, shaped(op, dict({"TrainingJobSummaries": page}, **token)))


def _defaults(request: Request) -> Dict[str, Any]:
    """The List operations' documented defaults: SortBy Name, SortOrder Ascending, 10 a page."""
    return dict(
        request,
        SortBy=request.get("SortBy") or "Name",
        SortOrder=request.get("SortOrder") or "Ascending",
        MaxResults=request.get("MaxResults") or 10,
    )
