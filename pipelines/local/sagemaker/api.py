"""boto3's `sagemaker` client, answered by the home's local SageMaker (docs/adr/0011).

One client for every `sagemaker` operation the template calls, composed of mixins by concern,
each in its module: the model registry (registry_api.py), pipelines and their executions
(pipeline_api.py), jobs (job_operations.py), models and tags (model_api.py), hosting (endpoint
configs, endpoints and their waiters: hosting_api.py), monitoring schedules (monitoring_api.py);
feature groups are the Feature Store twin's.
What they share (their base, answers' shapes, times, paging) is client_base.py. Code in
pipelines/aws/ calls it exactly as it calls boto3's client.

What the twin answers, by area:
- the registry: CreateModelPackageGroup, DescribeModelPackageGroup, ListModelPackageGroups,
  CreateModelPackage (versioned packages only: the group must exist, as SageMaker requires;
  a pipeline's RegisterModel step still makes its group, as SageMaker Pipelines does),
  DescribeModelPackage (by ARN or GROUP/NUMBER; a missing one is a ValidationException, as
  SageMaker and moto answer it: the API reference models no error), ListModelPackages
  (without ModelPackageGroupName or ModelPackageType it lists unversioned packages only, the
  documented default, and the twin has none), UpdateModelPackage (approval, its description,
  customer metadata).
- pipelines: CreatePipeline, UpdatePipeline (a version each), DeletePipeline,
  ListPipelineVersions, tags on the pipeline's ARN (pipeline_lifecycle_api.py, kept in the
  home's database: pipeline_store.py); DescribePipeline, ListPipelines,
  DescribePipelineExecution, ListPipelineExecutions, ListPipelineExecutionSteps,
  DescribePipelineDefinitionForExecution from the execution records (records.py), of stored
  pipelines and of those the home knows only by their executions (`churn run`'s, the
  workflows'); StartPipelineExecution runs a stored pipeline in a background process of its
  own (pipeline_process.py) and answers at once, any other through the
  `start_pipeline(name, parameters)` callable the client is given (the workspace's, which
  knows what the churn pipeline is); StopPipelineExecution interrupts an execution's process.
  A missing pipeline or execution is ResourceNotFound.
- jobs outside a pipeline, run by job_api.py's job layer: Create/Describe Training, Processing,
  Transform jobs; hyperparameter tuning jobs (tuning_api.py): Create/Describe, List, and
  ListTrainingJobsForHyperParameterTuningJob, over pipelines' Tuning steps' jobs too.

Times are datetimes and every answer holds its output shape's members only (client_base's
`shaped`). The twin's ARNs name the region `local`, which UpdateModelPackage's ARN pattern (a
9 to 16 character region) refuses: requests are checked against the model with the twin's own
ARNs read as a real region's (this module's SageMakerClient._request).
"""

from typing import Any, Optional

from pipelines.local.api import Request
from pipelines.local.arns import ACCOUNT, REGION
from pipelines.local.parameters import check_parameters
from pipelines.local.sagemaker.hosting_api import HostingOperations
from pipelines.local.sagemaker.monitoring_api import MonitoringOperations
from pipelines.local.sagemaker.pipeline_api import StartPipeline
from pipelines.local.sagemaker.pipeline_lifecycle_api import PipelineLifecycleOperations
from pipelines.local.sagemaker.registry_api import RegistryOperations
from pipelines.local.sagemaker.tuning_api import TuningOperations

TWIN_ARN = "arn:aws:sagemaker:%s:%s:" % (REGION, ACCOUNT)
CHECKED_ARN = "arn:aws:sagemaker:us-east-1:%s:" % ACCOUNT


def _read_arns(value: Any) -> Any:
    """`value` with the twin's ARNs read as a real region's (for the model's patterns)."""
    if isinstance(value, str) and value.startswith(TWIN_ARN):
        return CHECKED_ARN + value[len(TWIN_ARN) :]
    if isinstance(value, dict):
        return {k: _read_arns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_read_arns(v) for v in value]
    return value


class SageMakerClient(
    RegistryOperations,
    PipelineLifecycleOperations,  # and PipelineOperations, its base
    TuningOperations,  # and JobOperations, its base
    HostingOperations,
    MonitoringOperations,
):
    """The `sagemaker` client: its operations by concern, each a mixin of its own module."""

    service = "sagemaker"

    def __init__(self, backend: Any, start_pipeline: Optional[StartPipeline] = None) -> None:
        self.backend = backend  # pipelines.local.sagemaker.backend.SageMakerBackend
        self.start_pipeline = start_pipeline
        self._jobs = None

    def _request(self, operation: str, request: Request) -> Request:
        check_parameters(self.service, operation, request)
        super()._request(operation, _read_arns(request))
        return request
