"""Jobs outside a pipeline, the operations of boto3's `sagemaker` client over the local
SageMaker (a mixin of SageMakerClient, api.py): Create/Describe Training, Processing and
Transform jobs, run by the job layer of job_api.py.
"""

import time
from typing import Any, Optional

from pipelines.errors import UserError
from pipelines.local.api import Answer, Request, client_error
from pipelines.local.sagemaker.client_base import SageMakerOperations, shaped
from pipelines.local.sagemaker.job_api import Jobs

SECONDARY_STATUS = {"InProgress": "Training", "Completed": "Completed", "Failed": "Failed"}


class JobOperations(SageMakerOperations):
    """CreateTrainingJob, DescribeTrainingJob, CreateProcessingJob, DescribeProcessingJob,
    CreateTransformJob, DescribeTransformJob; wait_for_jobs (the twin's own)."""

    _jobs: Optional[Jobs]

    # ------------------------------------------------------------------ jobs

    @property
    def jobs(self) -> Jobs:
        """The jobs this client started run one at a time, in a thread of its own (job_api)."""
        if self._jobs is None:
            self._jobs = Jobs(self.backend)
        return self._jobs

    def _create_job(self, kind: str, request: Request) -> Answer:
        op = "Create%sJob" % kind
        self._request(op, request)
        try:
            answer = self.jobs.create(kind, request, wait=False)
        except UserError as e:
            raise client_error(op, getattr(e, "code", "ValidationException"), str(e))
        return self._answer(op, answer)

    def _describe_job(self, kind: str, request: Request) -> Answer:
        op = "Describe%sJob" % kind
        self._request(op, request)
        try:
            described = dict(self.jobs.describe(kind, request[kind + "JobName"]))
        except UserError as e:
            raise client_error(op, getattr(e, "code", "ValidationException"), str(e))
        status = described[kind + "JobStatus"]
        described.setdefault("LastModifiedTime", described.get("EndTime") or time.time())
        if kind == "Training":
            described.setdefault("SecondaryStatus", SECONDARY_STATUS.get(status, status))
            described.setdefault(
                "ModelArtifacts",
                {
                    "S3ModelArtifacts": "%s/%s/output/model.tar.gz"
                    % (
                        described["OutputDataConfig"]["S3OutputPath"].rstrip("/"),
                        described["TrainingJobName"],
                    )
                },
            )
        return self._answer(op, shaped(op, described))

    def create_training_job(self, **request: Any) -> Answer:
        """API_CreateTrainingJob: answers at once with the ARN; the job runs on. A name taken
        is a ValidationException, as SageMaker answers ("must be unique")."""
        return self._create_job("Training", request)

    def describe_training_job(self, **request: Any) -> Answer:
        """API_DescribeTrainingJob: ResourceNotFound for a job there is not."""
        return self._describe_job("Training", request)

    def create_processing_job(self, **request: Any) -> Answer:
        return self._create_job("Processing", request)

    def describe_processing_job(self, **request: Any) -> Answer:
        return self._describe_job("Processing", request)

    def create_transform_job(self, **request: Any) -> Answer:
        return self._create_job("Transform", request)

    def describe_transform_job(self, **request: Any) -> Answer:
        return self._describe_job("Transform", request)

    def wait_for_jobs(self) -> None:
        """Until every job this client started has ended (the twin's; boto3 has waiters)."""
        if self._jobs is not None:
            self._jobs.wait()
