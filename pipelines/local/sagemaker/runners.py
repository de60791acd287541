"""How a job's host processes are started: the one interface the job kinds use, and its two
implementations.

    runner.run(launches, timeout, private_network=False) -> [(host, returncode, log path)]
        start every Launch (pipelines/local/sagemaker/jobs/container.py) at once and wait for
        all; raise StepFailure when MaxRuntimeInSeconds passes first. private_network: the
        hosts share a network of their own (network.py), or the job is refused
    runner.environment  variables every host gets under the request's own (the local AWS
                        services' endpoints and credentials, backend.attach)
    runner.last_usage   {host: {"max_rss_mb", "cpu_seconds"}} of the last run, where measured
    runner.waited       seconds the last run waited for the runner itself to be ready
    runner.last_stopped hosts of the last run sent SIGTERM because their Launch.stop file
                        appeared while they ran
    runner.close()

ColdRunner starts each host as a fresh interpreter, as a container would. WarmRunner forks Python
hosts from a parent that imported the heavy libraries once (warm_parent.py; docs/adr/0002): one
of the run's own, or, when CHURN_JOB_PARENT names the socket of a SharedJobParent, a session of
that one, which many runs share (a test session, a developer's shell).
"""

from __future__ import annotations  # the job processes import this: no typing at run time

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.local.sagemaker.failure import StepFailure
from pipelines.local.sagemaker.jobs.container import CORES, base_env, job_usage, timed_out

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import IO, Any, Optional, Union

    from pipelines.local.sagemaker.jobs.container import Launch, Results

ROOT = Path(__file__).resolve().parents[3]  # the checkout: the warm parent imports pipelines

# The socket of a shared warm parent (SharedJobParent) a run forks its jobs from, if it answers.
SHARED_PARENT = "CHURN_JOB_PARENT"
# Where the system refuses a private network, the multi-host job is refused unless this is "1".
ALLOW_OPEN_PORTS = "CHURN_ALLOW_OPEN_PORTS"


class JobRunner(object):
    """The interface; see the module docstring."""

    last_usage: dict[str, dict[str, float]] = {}
    last_stopped: set[str] = set()
    waited = 0.0
    environment: dict[str, str] = {}

    def run(
        self, launches: list[Launch], timeout: Optional[float], private_network: bool = False
    ) -> Results:
        raise NotImplementedError

    def with_environment(self, launches: list[Launch]) -> list[Launch]:
        return [launch._replace(env=dict(self.environment, **launch.env)) for launch in launches]

    def close(self) -> None:
        pass


class ColdRunner(JobRunner):
    """Each host a fresh process, as a container would start it."""

    def run(
        self, launches: list[Launch], timeout: Optional[float], private_network: bool = False
    ) -> Results:
        launches = self.with_environment(launches)
        if private_network:
            return run_in_private_network(launches, timeout, self)
        started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        for launch in launches:
            with open(launch.log, "wb") as out:  # the child keeps its own descriptor
                started.append(
                    (
                        launch.host,
                        subprocess.Popen(
                            launch.argv,
                            env=launch.env,
                            cwd=str(launch.cwd),
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                        ),
                        launch.log,
                    )
                )
        deadline = time.time() + timeout if timeout else None
        stops = {launch.host: launch.stop for launch in launches if launch.stop}
        codes: dict[str, int] = {}
        self.last_stopped, self.last_usage = set(), {}
        while len(codes) < len(started):
            for host, proc, _ in started:
                if host in codes:
                    continue
                pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    proc.returncode = codes[host] = os.waitstatus_to_exitcode(status)
                    self.last_usage[host] = job_usage(rusage)
                elif host in stops and os.path.exists(stops[host]):
                    del stops[host]
                    proc.terminate()  # SIGTERM, as SageMaker stops a job
                    self.last_stopped.add(host)
            if deadline and time.time() > deadline and len(codes) < len(started):
                for _, other, _ in started:
                    if other.poll() is None:
                        other.kill()
                raise timed_out(timeout or 0, started[0][2])
            time.sleep(0.01)
        return [(host, codes[host], log) for host, _, log in started]


class WarmRunner(JobRunner):
    """Hosts forked from a parent that has the heavy libraries imported already; anything but
    a Python entry point runs cold."""

    def __init__(self, log: Union[str, Path], shared: Optional[str] = None) -> None:
        """A parent of this runner's own, or a session of the shared parent listening at
        `shared` (SharedJobParent) when it answers there."""
        self.log = open(log, "ab")
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.connection: Optional[socket.socket] = None
        if shared:
            self.connection = connect_shared(shared, self.log)
        if self.connection:
            self.requests: IO[bytes] = self.connection.makefile("wb")
            self.replies: IO[bytes] = self.connection.makefile("rb")
        else:
            self.proc = start_parent(["-m", "pipelines.local.sagemaker.warm_parent"], self.log)
            assert self.proc.stdin and self.proc.stdout  # opened as pipes
            self.requests, self.replies = self.proc.stdin, self.proc.stdout
        self.ready = False
        self.last_usage = {}
        self.waited = 0.0

    def run(
        self, launches: list[Launch], timeout: Optional[float], private_network: bool = False
    ) -> Results:
        launches = self.with_environment(launches)
        if private_network:  # a namespace needs a fresh interpreter: its hosts start cold
            self.last_usage = {}
            return run_in_private_network(launches, timeout, self)
        if any(launch.argv[0] != sys.executable for launch in launches):
            self.last_usage = {}
            return ColdRunner().run(launches, timeout)
        if not self.ready:  # the preloading overlapped whatever the engine did meanwhile
            started = time.time()
            self._read()
            self.ready = True
            self.waited = time.time() - started
        request = {
            "launches": [
                {
                    "host": launch.host,
                    "argv": launch.argv,
                    "env": launch.env,
                    "cwd": str(launch.cwd),
                    "log": str(launch.log),
                    "stop": str(launch.stop) if launch.stop else None,
                }
                for launch in launches
            ],
            "timeout": timeout,
        }
        self.requests.write((json.dumps(request) + "\n").encode())
        self.requests.flush()
        reply = self._read()
        self.last_usage = reply.get("usage", {})
        self.last_stopped = set(reply.get("stopped", []))
        logs = {launch.host: launch.log for launch in launches}
        if reply["timed_out"]:
            raise timed_out(timeout or 0, logs[launches[0].host])
        return [(host, code, logs[host]) for host, code in reply["results"]]

    def _read(self) -> Any:
        line = self.replies.readline()
        if not line:
            raise OSError("the warm job parent stopped; see %s" % self.log.name)
        return json.loads(line)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            if self.ready:
                self.requests.close()  # end of requests: the parent exits
                self.proc.wait(timeout=30)
            else:
                self.proc.kill()  # never used (every step came from the cache): no waiting
                self.proc.wait()
        for stream in (self.requests, self.replies):
            stream.close()  # a shared parent's session ends with its connection
        if self.connection:
            self.connection.close()
        self.log.close()


def start_parent(arguments: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """The warm parent's process, importing from the start (warm_parent.py)."""
    return subprocess.Popen(
        [sys.executable] + arguments,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        env=dict(os.environ, **base_env(CORES)),
        cwd=str(ROOT),
    )


def connect_shared(path: str, log: IO[bytes]) -> Optional[socket.socket]:
    """A connection to the shared parent at `path`, or None (said in the log) when nothing
    answers there: the run then starts a parent of its own, only slower."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError as e:
        connection.close()
        log.write(
            (
                "%s=%s answers nothing (%s): a parent of this run's own\n"
                % (SHARED_PARENT, path, e)
            ).encode()
        )
        log.flush()
        return None
    return connection


class SharedJobParent(object):
    """One warm parent for many runs (warm_parent.py --serve): runs whose environment names
    its socket in CHURN_JOB_PARENT fork their jobs from it and pay no imports. The socket lies
    in a folder only this user can open; the parent ends with close() or this process."""

    def __init__(self, log: Union[str, Path]) -> None:
        self.folder = tempfile.mkdtemp(prefix="churn-job-parent-")
        self.path = os.path.join(self.folder, "parent.sock")
        self.log = open(log, "ab")
        self.proc = start_parent(
            ["-m", "pipelines.local.sagemaker.warm_parent", "--serve", self.path], self.log
        )
        assert self.proc.stdout  # opened as a pipe
        if not self.proc.stdout.readline():
            self.close()
            raise OSError("the shared job parent did not start; see %s" % self.log.name)

    @property
    def environment(self) -> dict[str, str]:
        return {SHARED_PARENT: self.path}

    def close(self) -> None:
        if self.proc.poll() is None:
            # It keeps nothing to save, and may still be importing: killed, it ends at once,
            # and its sessions and their jobs with it (die_with_parent).
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def run_in_private_network(
    launches: list[Launch], timeout: Optional[float], runner: JobRunner
) -> Results:
    """Start the hosts under a leader that moved into a network namespace of its own
    (network.py). Where the system refuses one, the job is refused with the reason, unless
    CHURN_ALLOW_OPEN_PORTS=1 accepts running it on this machine's network instead."""
    request = {"launches": [dict(launch._asdict()) for launch in launches], "timeout": timeout}
    leader = subprocess.run(
        [sys.executable, "-m", "pipelines.local.sagemaker.network"],
        input=json.dumps(request, default=str),
        capture_output=True,
        text=True,
        cwd=str(ROOT),
    )
    try:
        reply = json.loads(leader.stdout)
    except ValueError:
        lines = leader.stderr.strip().splitlines() or ["no output"]
        raise StepFailure("the job's network leader failed: " + lines[-1]) from None
    if reply.get("timed_out"):
        raise timed_out(timeout or 0, launches[0].log)
    if "refused" in reply:
        if os.environ.get(ALLOW_OPEN_PORTS) == "1":
            return runner.run(launches, timeout)
        raise StepFailure(
            "a multi-host or network-isolated job's hosts run in a private network, which "
            "this system refused (%s); allow unprivileged user namespaces (Linux), or set "
            "%s=1 to run them on this machine's network, where XGBoost's peer sockets listen "
            "on every interface" % (reply["refused"], ALLOW_OPEN_PORTS)
        )
    runner.last_usage = reply.get("usage", {})
    return [(host, code, Path(log)) for host, code, log in reply["results"]]


def make_runner(home: Union[str, Path]) -> JobRunner:
    """Jobs fork from a warm parent (the shared one CHURN_JOB_PARENT names, else one of the
    run's own) unless CHURN_COLD_JOBS=1 asks for a fresh interpreter per job (slower by the
    imports; useful to rule the warm parent out when debugging)."""
    if os.environ.get("CHURN_COLD_JOBS") == "1":
        return ColdRunner()
    Path(home).mkdir(parents=True, exist_ok=True)
    return WarmRunner(Path(home) / "warm-parent.log", os.environ.get(SHARED_PARENT))
