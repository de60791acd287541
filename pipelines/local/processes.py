"""Which process a record names. A record that says a job, an execution or an endpoint runs
keeps its process's pid and start time: with both, a reader tells a process that still runs
from one that was killed, and never mistakes a later process the system gave the same pid."""

import os
import subprocess
from typing import Optional


def process_alive(pid: object) -> bool:
    """Whether process `pid` runs: not gone, and not a zombie (exited, not yet reaped). An id
    that is not a positive int (a record from before process ids were kept) counts as alive,
    so its record is left as it is."""
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc (macOS): kill(0) said it exists
        return True


def process_start(pid: int) -> Optional[str]:
    """When process `pid` started, as the system tells it: Linux's /proc/PID/stat field 22
    (clock ticks after boot), else ps's lstart (macOS, the BSDs). With the pid it names one
    process: a later process given the same pid started later. None when it cannot be told
    (no such process, neither source)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return "ticks " + f.read().rsplit(")", 1)[1].split()[19]  # fields 3.. follow ")"
    except (OSError, IndexError):
        pass
    try:
        found = subprocess.run(
            ["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    started = found.stdout.strip()
    return "lstart " + started if found.returncode == 0 and started else None


def same_process(pid: int, start: Optional[str]) -> Optional[bool]:
    """Whether `pid` still names the process that started at `start`: True, False, or None
    when it cannot be told (no start recorded, or a system that tells none)."""
    now = process_start(pid)
    return None if start is None or now is None else start == now


def still_runs(pid: object, start: Optional[str]) -> bool:
    """Whether the process recorded as (pid, start) runs: alive, and not another process
    given its pid since (when that can be told)."""
    if not process_alive(pid):
        return False
    return not isinstance(pid, int) or same_process(pid, start) is not False
