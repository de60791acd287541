"""Pipeline executions StartPipelineExecution starts: each runs in a background process of its
own, detached from the caller (which may exit), as an execution on SageMaker outlives the call
that started it.

    start(backend, definition, name, parameters, details) -> the execution (engine.Execution)
    run_started(backend, stdin) in the process: runs the execution it is handed
    stop(backend, record) -> whether the execution's process was asked to stop

The caller checks the request as the engine would (parameters typed by the definition, steps
the engine can run), starts the process, and writes the execution's first record naming that
process (its pid and start time: records.py tells a killed process from a running one); only
then does it hand the process its work on stdin, so the process never writes a record before
the one that names it. A process whose caller died first reads an empty stdin and exits.

What the process is (its argv) is the backend's `pipeline_launcher`: the workspace's runs the
execution on a workspace (the home's Lambda functions for Lambda steps); without one, this
module's own `main` runs it on a bare backend. The process's output is <execution>/runner.log.

StopPipelineExecution leaves the records' stopping marker and interrupts the process (SIGINT):
the engine marks the running steps and the execution Stopped.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any, Dict, List, Mapping, Optional

from pipelines.local.processes import process_start, still_runs
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.engine import Execution

ROOT = Path(__file__).resolve().parents[3]  # the checkout: the process imports pipelines
LOG = "runner.log"


def launcher(backend: SageMakerBackend) -> List[str]:
    """The argv of an execution's process (the home comes on stdin)."""
    argv: Optional[List[str]] = getattr(backend, "pipeline_launcher", None)
    return list(argv or [sys.executable, "-m", "pipelines.local.sagemaker.pipeline_process"])


def start(
    backend: SageMakerBackend,
    definition: Dict[str, Any],
    name: str,
    parameters: Mapping[str, Any],
    details: Mapping[str, Any],
) -> Execution:
    """Check, start the execution's process, record it; returns the execution as recorded.
    A PipelineError (a UserError) when the engine refuses the definition or the parameters:
    nothing started."""
    execution = Execution(backend, definition, name, parameters, details=details)
    folder = backend.executions.folder(execution.id)
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    with open(folder / LOG, "ab") as log:
        child = subprocess.Popen(
            launcher(backend),
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the caller does not reach it
            close_fds=True,
            env=env,
            cwd=str(backend.home),
        )
    execution.record.update(ProcessId=child.pid, ProcessStart=process_start(child.pid))
    execution.save()
    backend.executions.save_definition(execution.id, definition)
    work = {
        "home": str(backend.home),
        "execution_id": execution.id,
        "pipeline": name,
        "definition": definition,
        "parameters": dict(parameters),
        "details": dict(details, StartTime=execution.record["StartTime"]),
    }
    assert child.stdin is not None
    try:
        child.stdin.write(json.dumps(work).encode())
        child.stdin.close()
    except BrokenPipeError:  # it died at once: the record reads Failed when next read
        pass
    _reap_later(child)
    return execution


_children: List["subprocess.Popen[bytes]"] = []


def _reap_later(child: "subprocess.Popen[bytes]") -> None:
    """Keep the child, and reap the ones that ended (no zombies while the caller lives)."""
    _children.append(child)
    for kept in list(_children):
        if kept.poll() is not None:
            _children.remove(kept)


def read_work(stdin: IO[bytes]) -> Optional[Dict[str, Any]]:
    """The work the caller hands the process; None when it died before handing any."""
    text = stdin.read()
    if not text.strip():
        return None
    work: Dict[str, Any] = json.loads(text)
    return work


def run_started(backend: SageMakerBackend, work: Dict[str, Any]) -> Dict[str, Any]:
    """In the execution's process: run it to its end (SIGINT or SIGTERM stop it)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    execution = Execution(
        backend,
        work["definition"],
        work["pipeline"],
        work["parameters"],
        echo=lambda line: print(line, flush=True),
        execution_id=work["execution_id"],
        details=work["details"],
    )
    record: Dict[str, Any] = execution.run()
    return record


def stop(backend: SageMakerBackend, record: Dict[str, Any]) -> bool:
    """Ask an Executing execution's process to stop: the marker, then SIGINT, only to the
    process the record names (never another given its pid since, never this one)."""
    pid, started = record.get("ProcessId"), record.get("ProcessStart")
    if not isinstance(pid, int) or pid == os.getpid() or not still_runs(pid, started):
        return False
    marker = backend.executions.stopping(record["PipelineExecutionId"])
    marker.write_text("stop\n")
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    return True


def main() -> int:
    work = read_work(sys.stdin.buffer)
    if work is None:
        return 1
    backend = SageMakerBackend(work["home"])
    try:
        record = run_started(backend, work)
    finally:
        backend.close()
    return 0 if record["PipelineExecutionStatus"] == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
