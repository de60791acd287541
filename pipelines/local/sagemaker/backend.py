"""The local SageMaker of one home, opened once: its object store, registry, step cache,
execution records and job runner. An execution and every command that reads what executions
made share one of these (as moto keeps one backend per service)."""

from pathlib import Path

from pipelines.local.s3 import Store
from pipelines.local.sagemaker.database import connect
from pipelines.local.sagemaker.records import ExecutionRecords
from pipelines.local.sagemaker.registry import Registry
from pipelines.local.sagemaker.runners import make_runner
from pipelines.local.sagemaker.step_cache import StepCache


class SageMakerBackend(object):
    def __init__(self, home, store=None, runner=None):
        self.home = Path(home).resolve()  # jobs chdir into their folders
        self.store = store or Store(self.home)
        self.executions = ExecutionRecords(self.home)
        self._db = None
        self._runner = runner
        self._own_runner = runner is None
        self.services = []

    @property
    def db(self):
        if self._db is None:
            self._db = connect(self.home)
        return self._db

    @property
    def registry(self):
        return Registry(self.db)

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
        if self._db is not None:
            self._db.close()
            self._db = None
