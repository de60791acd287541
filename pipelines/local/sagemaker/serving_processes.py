"""The serving processes of local endpoints: started in the background, detached from the
command that asked (pid, start time, port, log recorded by the caller), probed on /ping, and
stopped gracefully; signalled only while their pid still names the process that was started,
never another process given the pid after it exited. What a process runs is the launcher's
business (the workspace's)."""

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from pipelines.errors import DeployError
from pipelines.local.processes import process_start, same_process, still_runs

STOP_SECONDS = 40.0  # the serving process's graceful shutdown is 30 s
PING_TIMEOUT = 0.5

Json = Dict[str, Any]
# launcher(model, port, endpoint, capture config or None, log path) -> the serving argv
HostLauncher = Callable[[Json, int, str, Optional[Json], str], List[str]]
# model_of(model name) -> its CreateModel request
ModelOf = Callable[[str], Json]


class NoLauncher(DeployError):
    """The home was opened without a launcher: it cannot start serving processes."""


class ServingProcesses(object):
    def __init__(self, home: Path, launcher: Optional[HostLauncher]) -> None:
        self.home = home
        self.launcher = launcher
        self._children: Dict[int, "subprocess.Popen[bytes]"] = {}

    def start(self, name: str, config: Json, model_of: ModelOf) -> Json:
        if self.launcher is None:
            raise NoLauncher("this home's hosting has no launcher for serving processes")
        variant = config["ProductionVariants"][0]
        model = model_of(variant["ModelName"])
        folder = self.home / "endpoints" / name
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / ("%s.log" % config["EndpointConfigName"])
        port = _free_port()
        argv = self.launcher(model, port, name, config.get("DataCaptureConfig"), str(log))
        with open(log, "ab") as out:
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self._children[child.pid] = child
        return {
            "pid": child.pid,
            "process_start": process_start(child.pid),  # with the pid, names this process
            "port": port,
            "log": str(log),
            "config": config["EndpointConfigName"],
            "started": time.time(),
        }

    def probe(self, process: Json) -> str:
        """ "ready" (answers /ping), "dead" (exited), or "starting"."""
        if not _alive(process, self._children.get(process["pid"])):
            return "dead"
        try:
            connection = http.client.HTTPConnection(
                "127.0.0.1", process["port"], timeout=PING_TIMEOUT
            )
            connection.request("GET", "/ping")
            ready = connection.getresponse().status == 200
            connection.close()
        except OSError:
            return "starting"
        return "ready" if ready else "starting"

    def stop(self, process: Json) -> str:
        """SIGTERM, then wait for the graceful shutdown (in-flight requests, capture); only
        ever to the endpoint's own process. "stopped", "exited" or "unverified" (see
        delete_endpoint)."""
        pid = process["pid"]
        child = self._children.get(pid)
        if not _alive(process, child):
            return "exited"
        if child is None and same_process(process["pid"], process.get("process_start")) is None:
            return "unverified"
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return "exited"
        deadline = time.time() + STOP_SECONDS
        while time.time() < deadline and _alive(process, child):
            time.sleep(0.05)
        if _alive(process, child):
            os.kill(pid, signal.SIGKILL)
        return "stopped"

    @staticmethod
    def reason(process: Json) -> str:
        try:
            lines = Path(process["log"]).read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        last = lines[-1] if lines else "the serving process exited"
        return "the serving process for %s exited: %s (log: %s)" % (
            process["config"],
            last,
            process["log"],
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(process: Json, child: "Optional[subprocess.Popen[bytes]]" = None) -> bool:
    """Whether the endpoint's process runs. One this control plane started is asked directly
    (which also reaps it); any other by its pid, which must not name another process now."""
    if child is not None:
        return child.poll() is None
    return still_runs(process["pid"], process.get("process_start"))
