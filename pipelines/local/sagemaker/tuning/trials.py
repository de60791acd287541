"""Trials of a tuning job run side by side: a wave of training jobs, each run by the job layer
(jobs/training.py run_training) in a thread of its own, whose host processes start together
in one request to the job runner, while a watcher reads each trial's log as it grows and
stops the trial its stopping rule (stopping.py) stops.

Why one request: the warm parent (docs/adr/0002) takes one request at a time, so trials start
in parallel only as launches of the same request. A trial is stopped as SageMaker stops a
training job: SIGTERM to its processes (a stop file the runner watches: Launch.stop); what its
/opt/ml/model holds then is uploaded as for a completed job, so its process ending on the
signal is not a failure.
"""

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from pipelines.local.sagemaker.failure import StepFailure
from pipelines.local.sagemaker.jobs.container import Launch
from pipelines.local.sagemaker.runners import JobRunner
from pipelines.local.sagemaker.tuning.stopping import StoppingRule

if TYPE_CHECKING:
    from pipelines.local.sagemaker.jobs.container import Results

Json = Dict[str, Any]
WATCH_SECONDS = 0.02


class Objective(object):
    """The objective metric read from log lines: its regex (MetricDefinitions, tabs as #011)
    and its direction (values are returned larger-is-better)."""

    def __init__(self, regex: str, maximize: bool) -> None:
        self.regex = re.compile(regex)
        self.sign = 1.0 if maximize else -1.0

    def values(self, lines: Sequence[str]) -> List[float]:
        found = []
        for line in lines:
            m = self.regex.search(line.replace("\t", "#011"))
            if m:
                try:
                    found.append(self.sign * float(m.group(1)))
                except (IndexError, ValueError):
                    pass
        return found


class Wave(JobRunner):
    """The runner each trial's run_training gets: it gathers the wave's launches and hands
    them to the real runner in one request once every trial has either submitted or failed
    before starting (`withdraw`)."""

    def __init__(self, runner: JobRunner, size: int) -> None:
        self.runner = runner
        self.size = size
        self.lock = threading.Condition()
        self.submitted: Dict[int, List[Launch]] = {}
        self.withdrawn = 0
        self.timeouts: List[Optional[float]] = []
        self.private = False
        self.results: Optional["Results"] = None
        self.signalled: Set[str] = set()
        self.error: Optional[BaseException] = None
        self.local = threading.local()

    def bind(self, index: int) -> None:
        """The trial the calling thread runs."""
        self.local.index = index

    def run(
        self, launches: List[Launch], timeout: Optional[float], private_network: bool = False
    ) -> "Results":
        index = self.local.index
        tagged = [
            launch._replace(host="%d/%s" % (index, launch.host), stop=stop_file(launch.log))
            for launch in launches
        ]
        with self.lock:
            self.submitted[index] = tagged
            self.timeouts.append(timeout)
            self.private = self.private or private_network
            self._start_when_complete()
            while self.results is None and self.error is None:
                self.lock.wait()
        if self.error is not None:
            raise self.error
        assert self.results is not None
        mine = "%d/" % index
        # A host stopped by the signal ended as SageMaker's stopped jobs end: not a failure.
        return [
            (host[len(mine) :], 0 if host in self.signalled else code, log)
            for host, code, log in self.results
            if host.startswith(mine)
        ]

    def stopped(self) -> List[int]:
        """The trials whose processes the runner sent SIGTERM."""
        return sorted({int(host.split("/", 1)[0]) for host in self.signalled})

    def withdraw(self, index: int) -> None:
        """Trial `index` ended; if it failed before submitting, the wave no longer waits on it."""
        with self.lock:
            if index not in self.submitted:
                self.withdrawn += 1
                self._start_when_complete()

    def _start_when_complete(self) -> None:
        # Called under the lock; the last trial in runs the request for all (the others wait).
        if len(self.submitted) + self.withdrawn < self.size or not self.submitted:
            if len(self.submitted) + self.withdrawn >= self.size:
                self.results = []
                self.lock.notify_all()
            return
        launches = [launch for index in sorted(self.submitted) for launch in self.submitted[index]]
        known = [t for t in self.timeouts if t]
        try:
            self.results = self.runner.run(launches, max(known) if known else None, self.private)
            self.signalled = set(self.runner.last_stopped)
        except BaseException as e:  # every trial of the wave gets the runner's failure
            self.error = e
        self.lock.notify_all()


def stop_file(log: Path) -> Path:
    return Path(log).with_suffix(".stop")


class Watcher(threading.Thread):
    """Reads each trial's host logs as they grow; when the rule stops a trial, writes its stop
    files. `curves` holds each trial's objective values so far."""

    def __init__(self, folders: Dict[int, Path], objective: Objective, rule: StoppingRule) -> None:
        super().__init__(daemon=True)
        self.folders = folders
        self.objective = objective
        self.rule = rule
        self.curves: Dict[int, List[float]] = {i: [] for i in folders}
        self.stopped: Dict[int, int] = {}  # trial -> the iteration it was stopped at
        self.offsets: Dict[Path, int] = {}
        self.partial: Dict[Path, str] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.poll()
            self.done.wait(WATCH_SECONDS)
        self.poll()

    def poll(self) -> None:
        for index, folder in self.folders.items():
            for log in sorted(folder.glob("*.log")):
                lines = self._new_lines(log)
                for value in self.objective.values(lines):
                    curve = self.curves[index]
                    curve.append(value)
                    if index not in self.stopped and self.rule.stops(index, curve):
                        self.stopped[index] = len(curve)
                        for host_log in folder.glob("*.log"):
                            stop_file(host_log).touch()
                break  # the first host's log speaks for the trial (as its metrics do)

    def _new_lines(self, log: Path) -> List[str]:
        try:
            with open(log, "rb") as f:
                f.seek(self.offsets.get(log, 0))
                data = f.read()
        except OSError:
            return []
        if not data:
            return []
        self.offsets[log] = self.offsets.get(log, 0) + len(data)
        text = self.partial.pop(log, "") + data.decode(errors="replace")
        lines = text.split("\n")
        if lines[-1]:
            self.partial[log] = lines[-1]  # a line still being written
        return lines[:-1]


def run_wave(
    trials: Sequence[Tuple[int, Path, Callable[[JobRunner], Json]]],
    runner: JobRunner,
    objective: Objective,
    rule: StoppingRule,
) -> Tuple[Dict[int, Json], Dict[int, str], Dict[int, List[float]], List[int]]:
    """Run trials (index, folder, run(runner) -> DescribeTrainingJob) side by side; returns the
    descriptions of those that ran, the failure reasons of those that failed, the objective
    curves read while they ran and the trials stopped (sent SIGTERM while they ran; a trial
    the rule stopped after its last iteration completed)."""
    wave = Wave(runner, len(trials))
    watcher = Watcher({index: folder for index, folder, _ in trials}, objective, rule)
    described: Dict[int, Json] = {}
    failed: Dict[int, str] = {}

    def one(index: int, run: Callable[[JobRunner], Json]) -> None:
        wave.bind(index)
        try:
            described[index] = run(wave)
        except Exception as e:  # a trial's own fault fails that trial, not the tuning job
            failed[index] = e.reason if isinstance(e, StepFailure) else "%s: %s" % (
                type(e).__name__, e)  # fmt: skip
            wave.withdraw(index)

    for _, folder, _ in trials:
        folder.mkdir(parents=True, exist_ok=True)
    watcher.start()
    # Daemons: a Ctrl-C of the engine (the main thread) does not wait on a wave's threads.
    threads = [
        threading.Thread(target=one, args=(index, run), daemon=True) for index, _, run in trials
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    watcher.done.set()
    watcher.join()
    return described, failed, watcher.curves, wave.stopped()
