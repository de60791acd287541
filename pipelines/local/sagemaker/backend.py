"""The local SageMaker of one home, opened once: its object store, registry, step cache,
execution records and job runner. An execution and every command that reads what executions
made share one of these (as moto keeps one backend per service)."""

import threading
from pathlib import Path

from pipelines.local.s3 import Store
from pipelines.local.sagemaker.database import connect
from pipelines.local.sagemaker.hosting import Hosting
from pipelines.local.sagemaker.records import ExecutionRecords
from pipelines.local.sagemaker.registry import Registry
from pipelines.local.sagemaker.runners import make_runner
from pipelines.local.sagemaker.step_cache import StepCache


class SageMakerBackend(object):
    def __init__(self, home, store=None, runner=None):
        self.home = Path(home).resolve()  # jobs chdir into their folders
        self.store = store or Store(self.home)
        self.executions = ExecutionRecords(self.home)
        self._local = threading.local()
        self._connections = []
        self._runner = runner
        self._own_runner = runner is None
        self.services = []
        self.launcher = None
        self._hosting = None

    @property
    def db(self):
        """This thread's connection to the home's database (a Step Functions task runs in a
        thread of its own; SQLite connections stay in the thread that opened them)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.home)
            self._connections.append(db)
        return db

    @property
    def registry(self):
        return Registry(self.db)

    @property
    def hosting(self):
        """Endpoint configs and endpoints; their serving processes are started by
        `self.launcher` (the workspace's), none when it is unset."""
        if self._hosting is None:
            self._hosting = Hosting(lambda: self.db, self.home, self.launcher)
        return self._hosting

    @property
    def step_cache(self):
        return StepCache(self.db)

    @property
    def runner(self):
        """The job runner, started on first use."""
        return self.start_runner()

    def start_runner(self):
        """Start the job runner now (its warm-up then overlaps whatever comes next)."""
        if self._runner is None:
            self._runner = make_runner(self.home)
        self._runner.environment = self.job_environment()
        return self._runner

    def attach(self, service):
        """A local AWS service the jobs call, as a job on SageMaker calls AWS: every job's
        environment gets its `job_environment()` (endpoint, region, credentials), and its
        `settle()` runs before each job starts, so what one job wrote is what the next reads
        (the twins are eventually consistent at most up to a job boundary)."""
        self.services.append(service)
        if self._runner is not None:
            self._runner.environment = self.job_environment()

    def detach(self, service):
        self.services.remove(service)
        if self._runner is not None:
            self._runner.environment = self.job_environment()

    def job_environment(self):
        env = {}
        for service in self.services:
            env.update(service.job_environment())
        return env

    def settle(self):
        for service in self.services:
            service.settle()

    def close(self):
        if self._runner is not None and self._own_runner:
            self._runner.close()
            self._runner = None
        while self._connections:
            self._connections.pop().close()
        self._local = threading.local()
