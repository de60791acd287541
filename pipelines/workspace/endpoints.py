"""What an endpoint of the home serves and where it captures: a local endpoint's own
configuration, read through the `sagemaker` twin client as on AWS, or what `churn serve
--endpoint-name` recorded; and the home's default capture and monitoring folders."""

import json
import time
from pathlib import Path
from typing import Any, Dict, Optional

from pipelines.aws.deploy import serving
from pipelines.workspace.home import Home, endpoint_name
from processing.churn_job import write_text_atomic
from processing.churn_schema import SAGEMAKER_NAME


class Endpoints(object):
    def __init__(self, ws: Home) -> None:
        self.ws = ws

    @property
    def capture_dir(self) -> Path:
        """Where `churn serve` captures by default."""
        return self.ws.home / "capture"

    @property
    def monitoring_dir(self) -> Path:
        """Where `churn monitor` writes its reports by default (<endpoint>/<UTC time>/)."""
        return self.ws.home / "monitoring"

    def _record(self, endpoint: str) -> Path:
        return self.ws.home / "serving" / "endpoints" / (endpoint_name(endpoint) + ".json")

    def record_serving(
        self, endpoint: str, model_package_arn: Optional[str], capture_dir: Optional[Path]
    ) -> None:
        """Remember which version `churn serve --endpoint-name ENDPOINT` serves and where it
        captures, so that monitoring checks its traffic against that version's baseline."""
        write_text_atomic(
            self._record(endpoint),
            json.dumps(
                {
                    "EndpointName": endpoint,
                    "ModelPackageArn": model_package_arn,
                    "CaptureDir": str(capture_dir) if capture_dir else None,
                    "Since": time.time(),
                }
            ),
        )

    def served(self, endpoint: str) -> Optional[Dict[str, Any]]:
        """{"ModelPackageArn" (None when it serves a model folder), "CaptureDir", "Since" (when
        it began serving that, epoch seconds)} of what endpoint `endpoint` serves: a local
        endpoint's own configuration (churn deploy, the workflows) read through the
        `sagemaker` twin client as on AWS (pipelines/aws/deploy.serving), else what `churn
        serve --endpoint-name` recorded; None when unknown."""
        ws = self.ws
        if ws.hosting.has_endpoint(endpoint):
            found = serving(ws.sagemaker_client, endpoint)
            destination = found["CaptureDestination"]
            return {
                "ModelPackageArn": found["ModelPackageArn"],
                "CaptureDir": str(ws.store.path(destination)) if destination else None,
                "Since": found["Since"].timestamp(),
            }
        if not SAGEMAKER_NAME.match(endpoint):  # no record can have another name
            return None
        try:
            record = json.loads(self._record(endpoint).read_text())
        except (OSError, ValueError):
            return None
        return {k: record.get(k) for k in ("ModelPackageArn", "CaptureDir", "Since")}
