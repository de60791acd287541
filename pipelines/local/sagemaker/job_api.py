"""CreateTrainingJob, CreateProcessingJob, CreateTransformJob and CreateHyperParameterTuningJob
outside a pipeline (a workflow's Task states call them), with their Describe*Job; a tuning job's
trials and a pipeline's Tuning step's tuning job are kept here too (save_training, save_tuning).

A job runs through the same job layer a pipeline step uses (jobs/training.py, processing.py,
transform.py) in <home>/jobs/<kind>/<name>/, and its description is kept in
<home>/jobs/<kind>/<name>.json: InProgress while it runs, then Completed, or Failed with the
FailureReason the job's failure file or log gives. `create(..., wait=False)` returns at once
with the job's ARN, as the API returns before the job runs. Jobs run one at a time in one
long-lived thread of their own: the runner's warm parent dies with the thread that started it
(PR_SET_PDEATHSIG), so it must not be a task's short-lived thread.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from pipelines.errors import PipelineError, UserError
from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker.failure import StepFailure
from pipelines.local.sagemaker.jobs.processing import run_processing
from pipelines.local.sagemaker.jobs.training import run_training
from pipelines.local.sagemaker.jobs.transform import run_transform
from pipelines.local.sagemaker.limits import check_request
from pipelines.local.sagemaker.tuning.job import run_tuning
from pipelines.local.sagemaker.tuning.validation import unsupported as tuning_unsupported
from processing.churn_job import write_text_atomic

if TYPE_CHECKING:
    from pipelines.local.sagemaker.backend import SageMakerBackend

KINDS = ("Training", "Processing", "Transform", "HyperParameterTuning")
# The resource type of each kind's ARN.
ARN_TYPES = {"HyperParameterTuning": "hyper-parameter-tuning-job"}

Json = Dict[str, Any]


class JobError(UserError):
    def __init__(self, message: str, code: str = "ValidationException") -> None:
        super().__init__(message)
        self.code = code


class Jobs(object):
    def __init__(self, backend: "SageMakerBackend") -> None:
        self.backend = backend
        self.root = Path(backend.home) / "jobs"
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="sagemaker-jobs")

    def create(self, kind: str, request: Json, wait: bool = True) -> Json:
        name = request.get(kind + "JobName", "")
        if kind not in KINDS or not name:
            raise JobError("a %s job needs %sJobName" % (kind, kind))
        try:
            check_request(name, kind, request)
        except PipelineError as e:
            raise JobError(str(e))
        why = tuning_unsupported(request) if kind == "HyperParameterTuning" else None
        if why:
            raise JobError("the local SageMaker cannot run tuning job %s: %s" % (name, why))
        path = self._path(kind, name)
        if path.exists():
            raise JobError(
                "Job name must be unique within an AWS account and region, and a "
                "job with this name already exists (%s)" % name
            )
        arn = sagemaker_arn(ARN_TYPES.get(kind, kind.lower() + "-job"), name)
        self._save(
            kind,
            dict(
                request,
                **{
                    kind + "JobArn": arn,
                    kind + "JobStatus": "InProgress",
                    "CreationTime": time.time(),
                },
            ),
        )
        future = self._worker.submit(self._run, kind, request, arn)
        return future.result() if wait else {kind + "JobArn": arn}

    def all(self, kind: str) -> List[Json]:
        """Every job of `kind` this home ran or runs."""
        folder = self.root / kind.lower()
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]

    def describe(self, kind: str, name: str) -> Json:
        path = self._path(kind, name)
        if not path.exists():
            raise JobError(
                "Requested resource not found: %s job %s" % (kind, name), "ResourceNotFound"
            )
        return json.loads(path.read_text())

    def save_training(self, described: Json) -> None:
        """A training job another job ran (a tuning job's trial), kept for DescribeTrainingJob."""
        self._save("Training", described)

    def save_tuning(self, described: Json) -> None:
        self._save("HyperParameterTuning", described)

    def tuning_job(self, name: str) -> Optional[Json]:
        """A tuning job this home ran (with its TrainingJobSummaries), None if none is."""
        path = self._path("HyperParameterTuning", name)
        return json.loads(path.read_text()) if path.exists() else None

    def wait(self) -> None:
        """Until every job started has ended."""
        self._worker.submit(lambda: None).result()

    def _run(self, kind: str, request: Json, arn: str) -> Json:
        name = request[kind + "JobName"]
        workdir = self.root / kind.lower() / name
        started = time.time()
        try:
            backend = self.backend
            if kind == "HyperParameterTuning":
                workdir.mkdir(parents=True, exist_ok=True)
                described = run_tuning(request, name, workdir, backend.store, backend.runner, self)
            elif kind == "Transform":
                model = backend.registry.model(request["ModelName"])
                described = run_transform(
                    request, name, workdir, backend.store, backend.runner, model
                )
            else:
                run = run_training if kind == "Training" else run_processing
                described = run(request, name, workdir, backend.store, backend.runner)
            # A tuning job says its own status (Failed when no trial gave the objective).
            described = dict(described)
            described.setdefault(kind + "JobStatus", "Completed")
        except (StepFailure, UserError) as e:
            described = dict(
                request,
                **{kind + "JobStatus": "Failed", "FailureReason": getattr(e, "reason", str(e))},
            )
        described.update({kind + "JobArn": arn, "CreationTime": started, "EndTime": time.time()})
        if kind == "HyperParameterTuning":
            described.setdefault("HyperParameterTuningEndTime", described["EndTime"])
        self._save(kind, described)
        return described

    def _path(self, kind: str, name: str) -> Path:
        if "/" in name or name.startswith("."):
            raise JobError("%r is not a job name" % name)
        return self.root / kind.lower() / ("%s.json" % name)

    def _save(self, kind: str, described: Json) -> None:
        path = self._path(kind, described[kind + "JobName"])
        write_text_atomic(str(path), json.dumps(described, indent=1, default=str))
