"""What boto3's Session is to AWS, for one home's twins: `client(service)` answers with the twin of
that service, made like `boto3.client(service)` (docs/adr/0011), so that code in pipelines/aws/
runs unchanged on either.

The twins are opened lazily (the Feature Store's database only when a feature-store client is
asked for) and share the home's store and SageMaker backend with whoever made the session.
"""

from pathlib import Path
from typing import Any, Callable, Dict, Optional

from pipelines.errors import UserError
from pipelines.local.arns import REGION
from pipelines.local.autoscaling import AutoScalingClient
from pipelines.local.s3_api import S3Client
from pipelines.local.sagemaker.api import SageMakerClient
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.runtime import RuntimeClient


class SageMakerWithFeatureGroups(SageMakerClient):
    """One `sagemaker` client, as boto3 has one: the SageMaker twin's operations, and the
    feature-group operations (CreateFeatureGroup, ...) of the Feature Store twin, opened when
    one is first called."""

    def __init__(self, backend: SageMakerBackend, feature_groups: Callable[[], Any]) -> None:
        super().__init__(backend)
        self._feature_groups = feature_groups

    def __getattr__(self, name: str) -> Any:  # only for what SageMakerClient does not have
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._feature_groups(), name)


class LocalSession(object):
    region_name = REGION

    def __init__(
        self,
        home: Path,
        backend: SageMakerBackend,
        makers: Dict[str, Callable[[], Any]],
    ) -> None:
        """`makers`: {service: a function making its twin's client} for the twins that are
        opened apart from the SageMaker backend (the Feature Store's `feature-groups`, its
        runtime, DataBrew, Step Functions, Lambda); S3, SageMaker, its runtime and Application Auto
        Scaling come from the backend."""
        self.home = home
        feature_groups = makers.pop("feature-groups")
        self._makers: Dict[str, Callable[[], Any]] = dict(
            makers,
            s3=lambda: S3Client(backend.store),
            sagemaker=lambda: SageMakerWithFeatureGroups(backend, feature_groups),
            **{
                "sagemaker-runtime": lambda: RuntimeClient(backend),
                "application-autoscaling": AutoScalingClient,
            },
        )
        self._clients: Dict[str, Any] = {}

    def has(self, service_name: str) -> bool:
        """Whether the home has a twin of `service_name`."""
        return service_name in self._makers

    def client(self, service_name: str, region_name: Optional[str] = None, **_: Any) -> Any:
        """The twin's client of `service_name` (one per session, as cheap to ask for again as
        boto3's)."""
        if service_name not in self._clients:
            maker = self._makers.get(service_name)
            if maker is None:
                raise UserError(
                    "%s has no local twin (the local target has %s): run this on AWS with "
                    "--region" % (service_name, ", ".join(sorted(self._makers)))
                )
            self._clients[service_name] = maker()
        return self._clients[service_name]
