"""boto3's `sagemaker` client, answered by the home's local SageMaker (docs/adr/0011).

One client for every `sagemaker` operation the template calls, grouped by concern: the model
registry, models and pipeline executions and jobs (this module), hosting (endpoint configs,
endpoints, monitoring schedules: hosting_api.py), feature groups (the Feature Store twin's).
Code in pipelines/aws/ calls it exactly as it calls boto3's client.
"""

from typing import Any

from pipelines.local.api import TwinClient
from pipelines.local.sagemaker.hosting_api import HostingOperations


class SageMakerClient(HostingOperations, TwinClient):
    service = "sagemaker"

    def __init__(self, backend: Any) -> None:
        self.backend = backend  # pipelines.local.sagemaker.backend.SageMakerBackend
