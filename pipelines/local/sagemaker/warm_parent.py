"""A warm parent for job processes: import the heavy libraries once, fork every job from it.

At small and medium data sizes a local run is dominated by each job paying 1.5-6 s of imports
(pandas, scikit-learn, xgboost, Great Expectations). This process imports them once, then forks
a child per job host; the child takes the job's environment, working directory, argv and log,
and runs the script as `python script.py args`, `python -m module args` or `python -c code`
would (runpy, with __name__ == "__main__"). Every child starts from the same pristine parent,
so jobs cannot leak state into each other (docs/adr/0002 records why jobs fork from it).

Protocol (one JSON object per line): the engine sends {"launches": [{"host", "argv", "env",
"cwd", "log", "stop"}], "timeout": seconds or null} and reads back {"results": [[host, returncode]],
"usage": {host: {"max_rss_mb", "cpu_seconds"}}, "timed_out": bool, "stopped": [host sent SIGTERM
through its stop file]}. End of input ends the
parent.

Shared (`python -m pipelines.local.sagemaker.warm_parent --serve SOCKET`): one parent for many
runs, so each pays no imports. It listens on a Unix socket only its user may open, prints
{"listening": SOCKET}, imports once and forks a session per connection; a session speaks the
protocol above over its connection and ends with it. A session whose client hangs up while a
job runs (a killed `churn run`) kills the job's hosts, as the unshared parent's death does. The
server ends when its standard input closes or its starter dies.
"""

from __future__ import annotations  # the warm parent imports nothing it does not need

import json
import os
import select
import signal
import socket
import sys
import time
import traceback

from pipelines.local.sagemaker.jobs.container import job_usage

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import IO, Any, Callable, NoReturn, Optional

# Read by these libraries at import time, so set before the imports: OpenMP threads must not
# spin-wait on a shared 2-core machine, and Great Expectations must not phone home.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["GX_ANALYTICS_ENABLED"] = "False"
PRELOAD = (
    "numpy",
    "pandas",
    "sklearn",
    "sklearn.metrics",
    "xgboost",
    "matplotlib",
    "great_expectations",
)


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG): a killed
    `churn run` takes its warm parent and the jobs forked from it along, instead of leaving
    them running. Elsewhere a no-op."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


def preload() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass  # a job that needs it will say so itself
    import matplotlib

    matplotlib.use("Agg")  # no display in a job


def run_child(launch: dict[str, Any]) -> NoReturn:
    """In the forked child: become the job's process, run it, never return."""
    die_with_parent()  # a job ends with the warm parent, as a container with its job
    code = 1
    try:
        fd = os.open(launch["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        sys.stdin = open(os.devnull)
        os.chdir(launch["cwd"])
        os.environ.clear()
        os.environ.update(launch["env"])
        argv = launch["argv"][1:]  # drop the interpreter
        extra = [p for p in launch["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        import runpy

        if argv and argv[0] == "-c":
            sys.argv = ["-c"] + argv[2:]
            sys.path[0:1] = [""] + extra
            # What `python -c CODE` does; the code is the job's own entry point.
            exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102
        elif argv and argv[0] == "-m":
            sys.argv = [argv[1]] + argv[2:]
            sys.path[0:1] = [launch["cwd"]] + extra
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            script = os.path.abspath(argv[0])
            sys.argv = [script] + argv[1:]
            sys.path[0:1] = [os.path.dirname(script)] + extra
            runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            sys.stderr.write("%s\n" % e.code)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def run_launches(
    launches: list[dict[str, Any]],
    timeout: Optional[float],
    hung_up: Optional[Callable[[], bool]] = None,
) -> dict[str, Any]:
    """Fork every launch's host and wait for all. `hung_up` (a shared parent's session) says
    whether the client went away: then the hosts are killed and the session ends."""
    pids = {}
    for launch in launches:
        pid = os.fork()
        if pid == 0:
            run_child(launch)
        pids[pid] = launch["host"]
    codes: dict[str, int] = {}
    usage: dict[str, dict[str, float]] = {}
    timed_out = False
    deadline = time.time() + timeout if timeout else None
    # A launch's stop file asks for SIGTERM (StopTrainingJob's signal), checked every 20 ms.
    stops = {pid: str(launch["stop"]) for pid, launch in zip(pids, launches) if launch.get("stop")}
    checked = 0.0
    signalled: list[str] = []  # hosts sent SIGTERM while they ran
    while len(codes) < len(pids):
        pid, status, rusage = os.wait4(-1, os.WNOHANG)
        if pid:
            host = pids[pid]
            codes[host] = os.waitstatus_to_exitcode(status)
            # ru_maxrss counts the pages shared with this parent too.
            usage[host] = job_usage(rusage)
            continue
        if (stops or hung_up) and time.time() - checked > 0.02:
            checked = time.time()
            for other in [p for p in stops if pids[p] not in codes]:
                if os.path.exists(stops[other]):
                    os.kill(other, signal.SIGTERM)
                    del stops[other]
                    signalled.append(pids[other])
            if hung_up and hung_up():
                for other, host in pids.items():
                    if host not in codes:
                        os.kill(other, signal.SIGKILL)
                os._exit(1)  # the hosts die with this session (die_with_parent)
        if deadline and time.time() > deadline:
            timed_out = True
            for other, host in pids.items():
                if host not in codes:
                    os.kill(other, signal.SIGKILL)
        time.sleep(0.005)
    return {
        "results": [[launch["host"], codes[launch["host"]]] for launch in launches],
        "usage": usage,
        "timed_out": timed_out,
        "stopped": signalled,
    }


def serve_requests(
    requests: IO[str], replies: IO[str], hung_up: Optional[Callable[[], bool]] = None
) -> None:
    """Answer each request line with one reply line until the requests end."""
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        reply = run_launches(request["launches"], request.get("timeout"), hung_up)
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main() -> None:
    die_with_parent()
    preload()
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write into the protocol stream
    serve_requests(sys.stdin, out)
    # Nothing to clean up: skip finalizing the preloaded libraries, which took seconds that the
    # run waited for at its end.
    sys.stderr.flush()
    os._exit(0)


def serve(path: str) -> None:
    """The shared parent: a session forked per connection to the socket at `path`. The
    socket is bound before the imports, so the starter need not wait for them: a client that
    connects meanwhile waits in the backlog, then for its session's {"ready": true}."""
    die_with_parent()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)  # the socket is its user's alone: a session runs any code
    try:
        listener.bind(path)
    finally:
        os.umask(old_mask)
    listener.listen(64)
    out = sys.stdout
    sys.stdout = sys.stderr
    out.write(json.dumps({"listening": path}) + "\n")
    out.flush()
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # sessions reap themselves
    while True:
        readable, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1):  # the starter is done
            sys.stderr.flush()
            os._exit(0)  # as main(): no finalizing
        if listener in readable:
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                run_session(connection)
            connection.close()


def run_session(connection: socket.socket) -> NoReturn:
    """In a session's process: the protocol over one connection, then exit."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # this process waits for its job hosts
    die_with_parent()  # sessions, and through them their jobs, end with the server
    sys.stdin.close()

    def hung_up() -> bool:  # between requests the client sends nothing: readable is EOF
        return bool(select.select([connection], [], [], 0)[0]) and not connection.recv(
            1, socket.MSG_PEEK
        )

    code = 0
    try:
        with connection.makefile("r") as requests, connection.makefile("w") as replies:
            serve_requests(requests, replies, hung_up)
    except OSError:
        code = 1  # the client went away mid-reply
    except BaseException:
        traceback.print_exc()
        code = 1
    os._exit(code)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"] and len(sys.argv) == 3:
        serve(sys.argv[2])
    else:
        main()
