"""A home (`$CHURN_HOME`, default ./.churn, or --home) and what the commands do with it, by
concern (docs/architecture.md):

  home.py       Home: the home's twins opened once (store, local SageMaker, Feature Store,
                the session of boto3-shaped clients)
  staging.py    Staging: code bundles, tables and feature groups put where the twins read them
  runs.py       Runs: the churn pipeline executed, and what executions left (RunResult)
  user_pipelines.py  UserPipelines: a pipeline that is not ours built and executed here
  versions.py   Versions: registered versions read for serving, reports and monitoring
  endpoints.py  Endpoints: what an endpoint serves and where it captures
  workflows.py  Workflows: the Step Functions twin with the churn workflows in it

A Workspace is a Home with one of each part. This is the layer that knows churn: the twins
below it do not.
"""

import contextlib
from pathlib import Path
from typing import Iterator, Optional, Union

from pipelines.workspace.endpoints import Endpoints
from pipelines.workspace.home import DEFAULT_HOME, Home, Launcher, endpoint_name, home_path
from pipelines.workspace.runs import RunResult, Runs, staged_name
from pipelines.workspace.staging import Staging
from pipelines.workspace.user_pipelines import UserPipelines
from pipelines.workspace.versions import Versions
from pipelines.workspace.workflows import Workflows


class Workspace(Home):
    def __init__(
        self, home: Union[str, Path, None] = None, launcher: Optional[Launcher] = None
    ) -> None:
        super().__init__(home, launcher)
        self.staging = Staging(self)
        self.runs = Runs(self, self.staging)
        self.user_pipelines = UserPipelines(self, self.staging)
        self.versions = Versions(self)
        self.endpoints = Endpoints(self)
        self.workflows = Workflows(self, self.staging, self._other_runs)

    @contextlib.contextmanager
    def _other_runs(self) -> Iterator[Runs]:
        with Workspace(self.home, self.launcher) as ws:
            yield ws.runs

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "DEFAULT_HOME",
    "Launcher",
    "RunResult",
    "Workspace",
    "endpoint_name",
    "home_path",
    "staged_name",
]
