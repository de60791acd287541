"""The home: its twins opened once.

A Home opens the home's local SageMaker (store, registry, step cache, executions, job runner)
once, the Feature Store on first use, and the session of boto3-shaped clients over them
(pipelines/local/session.py). What a local endpoint's serving process runs is the caller's:
the `launcher` it is given (the `churn` command's, pipelines/cli/serve.py).
"""

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

from pipelines.errors import UserError
from pipelines.local.s3 import Store
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.hosting import Hosting
from pipelines.local.sagemaker.registry import Registry
from pipelines.local.session import LocalSession
from processing.churn_schema import SAGEMAKER_NAME

if TYPE_CHECKING:  # the twins below import numpy, pyarrow, the recipe: only when first used
    from pipelines.local.databrew.service import DataBrew
    from pipelines.local.featurestore.store import LocalFeatureStore

DEFAULT_HOME = ".churn"

# launcher(home, model, port, endpoint, capture, log) -> the argv of a local endpoint's
# serving process, for a model (a DescribeModel answer) and its config's DataCaptureConfig.
Launcher = Callable[["Home", Dict[str, Any], int, str, Optional[Dict[str, Any]], str], List[str]]


def endpoint_name(name: str) -> str:
    """`name` when SageMaker would accept it for an endpoint. An endpoint's name becomes files
    and folders of the home (what churn serve records and captures, a local endpoint's folder,
    monitoring reports), so a name it refuses ('../x' climbs out of the home) is refused
    before anything is written."""
    if not SAGEMAKER_NAME.match(name):
        raise UserError(
            "endpoint name %r: use letters, digits and single hyphens (at most 63, "
            "starting with a letter or digit), as SageMaker names endpoints" % name
        )
    return name


def home_path(home: Union[str, Path, None] = None) -> Path:
    """The home a command's --home names, else $CHURN_HOME, else ./.churn. Absolute: jobs run
    in their own working directories and must still find the store."""
    return Path(home or os.environ.get("CHURN_HOME", DEFAULT_HOME)).resolve()


class Home(object):
    def __init__(
        self, home: Union[str, Path, None] = None, launcher: Optional[Launcher] = None
    ) -> None:
        self.home = home_path(home)
        self.launcher = launcher
        self.sagemaker = SageMakerBackend(self.home)
        # Lambda steps invoke the home's functions through its `lambda` client.
        self.sagemaker.functions = lambda: self.session.client("lambda")
        # An execution StartPipelineExecution starts runs in a process of its own, on a
        # workspace of its own (pipelines/workspace/pipeline_process.py).
        self.sagemaker.pipeline_launcher = [
            sys.executable,
            "-m",
            "pipelines.workspace.pipeline_process",
        ]
        if launcher is not None:
            self.sagemaker.launcher = lambda *args: launcher(self, *args)
        self._features: Optional["LocalFeatureStore"] = None
        self._session: Optional[LocalSession] = None
        self._parsed: Dict[Tuple[str, int, int], Any] = {}

    @property
    def store(self) -> Store:
        return self.sagemaker.store

    @property
    def registry(self) -> Registry:
        """The local registry's storage (what a run registers into); reads go through the
        session's `sagemaker` client, as on AWS."""
        return self.sagemaker.registry

    @property
    def hosting(self) -> Hosting:
        """The home's local endpoints' control plane (its serving processes); commands call
        it through the session's `sagemaker` client."""
        return self.sagemaker.hosting

    @property
    def databrew(self) -> "DataBrew":
        from pipelines.local.databrew.service import DataBrew

        return DataBrew(self.home, self.store)

    @property
    def features(self) -> "LocalFeatureStore":
        """The home's local SageMaker Feature Store, opened on first use."""
        if self._features is None:
            from pipelines.local.featurestore.store import LocalFeatureStore

            self._features = LocalFeatureStore(self.home)
        return self._features

    def settle_features(self) -> None:
        """Write the offline-store rows this process's Feature Store buffered (SageMaker writes
        them within about 15 minutes); nothing when it is not open or buffers nothing."""
        features = self._features
        if features is not None and features.offline.unflushed:
            features.flush()

    @property
    def session(self) -> LocalSession:
        """The home's twins as boto3 clients (what pipelines/aws/ calls on the local target)."""
        if self._session is None:
            self._session = LocalSession(
                self.home,
                self.sagemaker,
                {
                    "feature-groups": lambda: self.features.sagemaker_client(),
                    "sagemaker-featurestore-runtime": lambda: self.features.runtime_client(),
                    "databrew": lambda: self.databrew,
                    "lambda": self._lambda,
                    "stepfunctions": self._stepfunctions,
                },
            )
        return self._session

    def _lambda(self) -> Any:
        from pipelines.local.awslambda.service import LambdaClient

        return LambdaClient(self.home)

    def _stepfunctions(self) -> Any:
        from pipelines.local.sfn_integrations import s3_map_resources
        from pipelines.local.stepfunctions.integrations import Integrations
        from pipelines.local.stepfunctions.service import StepFunctions

        # a Distributed Map's ItemReader and ResultWriter: the home's store
        return StepFunctions(
            self.home, Integrations(map_resources=s3_map_resources(self.session.client("s3")))
        )

    @property
    def sagemaker_client(self) -> Any:
        """boto3's `sagemaker` client, answered by this home's twins."""
        return self.session.client("sagemaker")

    def store_json(self, uri: str) -> Any:
        """An object of the local store read as JSON, None when it is missing or not JSON.
        Objects are published whole and never rewritten in place, so a parse is kept per
        (file, size, modification time): a page listing 500 executions reads each report once."""
        try:
            path = self.store.path(uri)
            stat = path.stat()
        except (UserError, OSError):
            return None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._parsed:
            try:
                self._parsed[key] = json.loads(path.read_bytes())
            except (OSError, ValueError):
                return None
        return self._parsed[key]

    def close(self) -> None:
        self.sagemaker.close()
        if self._features is not None:
            self._features.close()
            self._features = None
