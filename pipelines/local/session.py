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
from pipelines.local.s3 import Store
from pipelines.local.s3_api import S3Client


class LocalSession(object):
    region_name = REGION

    def __init__(
        self,
        home: Path,
        store: Store,
        makers: Dict[str, Callable[[], Any]],
    ) -> None:
        """`makers`: {service: a function making its twin's client}, besides S3's, which every
        home has."""
        self.home = home
        self._makers: Dict[str, Callable[[], Any]] = dict(makers, s3=lambda: S3Client(store))
        self._clients: Dict[str, Any] = {}

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
