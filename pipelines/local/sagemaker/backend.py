"""The local SageMaker of one home, opened once: its object store, registry, step cache,
execution records and job runner. An execution and every command that reads what executions
made share one of these (as moto keeps one backend per service)."""

import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Union

from pipelines.local.s3 import Store
from pipelines.local.sagemaker.database import connect
from pipelines.local.sagemaker.hosting import Hosting
from pipelines.local.sagemaker.pipeline_store import PipelineStore
from pipelines.local.sagemaker.records import ExecutionRecords
from pipelines.local.sagemaker.registry import Registry
from pipelines.local.sagemaker.runners import JobRunner, make_runner
from pipelines.local.sagemaker.schedules import MonitoringSchedules
from pipelines.local.sagemaker.serving_processes import HostLauncher
from pipelines.local.sagemaker.step_cache import StepCache


class JobService(Protocol):
    """A local AWS service the jobs call (backend.attach)."""

    def job_environment(self) -> Dict[str, str]: ...

    def settle(self) -> None: ...


class SageMakerBackend(object):
    def __init__(
        self,
        home: Union[str, Path],
        store: Optional[Store] = None,
        runner: Optional[JobRunner] = None,
    ) -> None:
        self.home = Path(home).resolve()  # jobs chdir into their folders
        self.store = store or Store(self.home)
        self.executions = ExecutionRecords(self.home)
        self._local = threading.local()
        self._connections: List[sqlite3.Connection] = []
        self._runner = runner
        self._own_runner = runner is None
        self.services: List[JobService] = []
        self.launcher: Optional[HostLauncher] = None
        self._hosting: Optional[Hosting] = None
        # What makes the home's boto3-shaped `lambda` client (the workspace's), for Lambda
        # steps; none: a definition with a Lambda step is refused before it runs.
        self.functions: Optional[Callable[[], Any]] = None
        # The argv of the process an execution StartPipelineExecution starts runs in (the
        # workspace's); none: pipeline_process.py's own, on a bare backend.
        self.pipeline_launcher: Optional[List[str]] = None

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection to the home's database (a Step Functions task runs in a
        thread of its own; SQLite connections stay in the thread that opened them)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.home)
            self._connections.append(db)
        return db

    @property
    def registry(self) -> Registry:
        return Registry(self.db)

    @property
    def pipelines(self) -> PipelineStore:
        """The pipelines CreatePipeline made (pipeline_store.py)."""
        return PipelineStore(lambda: self.db)

    @property
    def hosting(self) -> Hosting:
        """Endpoint configs and endpoints; their serving processes are started by
        `self.launcher` (the workspace's), none when it is unset."""
        if self._hosting is None:
            self._hosting = Hosting(lambda: self.db, self.home, self.launcher)
        return self._hosting

    @property
    def monitoring_schedules(self) -> MonitoringSchedules:
        return MonitoringSchedules(lambda: self.db)

    @property
    def step_cache(self) -> StepCache:
        return StepCache(self.db)

    @property
    def runner(self) -> JobRunner:
        """The job runner, started on first use."""
        return self.start_runner()

    @property
    def runner_started(self) -> bool:
        """Whether the job runner was started (a job ran, or a definition was built)."""
        return self._runner is not None

    def start_runner(self) -> JobRunner:
        """Start the job runner now (its warm-up then overlaps whatever comes next)."""
        if self._runner is None:
            self._runner = make_runner(self.home)
        self._runner.environment = self.job_environment()
        return self._runner

    def attach(self, service: JobService) -> None:
        """A local AWS service the jobs call, as a job on SageMaker calls AWS: every job's
        environment gets its `job_environment()` (endpoint, region, credentials), and its
        `settle()` runs before each job starts, so what one job wrote is what the next reads
        (the twins are eventually consistent at most up to a job boundary)."""
        self.services.append(service)
        if self._runner is not None:
            self._runner.environment = self.job_environment()

    def detach(self, service: JobService) -> None:
        self.services.remove(service)
        if self._runner is not None:
            self._runner.environment = self.job_environment()

    def job_environment(self) -> Dict[str, str]:
        env: Dict[str, str] = {}
        for service in self.services:
            env.update(service.job_environment())
        return env

    def settle(self) -> None:
        for service in self.services:
            service.settle()

    def close(self) -> None:
        if self._runner is not None and self._own_runner:
            self._runner.close()
            self._runner = None
        while self._connections:
            self._connections.pop().close()
        self._local = threading.local()
