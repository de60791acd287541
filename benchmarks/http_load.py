"""Start servers and load them with wrk on 127.0.0.1 (shared by endpoint.py and load_test.py)."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from common import ROOT


def start_churn_serve(home, workers, log, *extra):
    """`churn serve` of the home's approved model on a free port; (process, base URL)."""
    port = free_port()
    proc = start(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        + list(extra),
        env={"CHURN_HOME": str(home)},
        log=log,
    )
    url = "http://127.0.0.1:%d" % port
    wait_ready(proc, url + "/ping")
    return proc, url


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv, env=None, log=None):
    """A server process from the checkout, its output to `log`."""
    out = open(log, "w") if log else subprocess.DEVNULL
    return subprocess.Popen(
        argv,
        cwd=str(ROOT),
        env=dict(os.environ, **(env or {})),
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def wait_ready(proc, url, timeout=60):
    """Wait until `url` answers; a server that exits or stays silent is stopped, and raises."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s before answering" % (url, proc.returncode))
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("%s did not answer within %d s" % (url, timeout))


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def wrk(url, body, content_type, connections, seconds, work, accept=None):
    """One bounded wrk run (one thread) POSTing `body`; req/s, latency percentiles in ms,
    non-2xx responses and socket errors (connect, read, write, timeout)."""
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "%s"\n'
        "%s"
        % (
            lua_string(body),
            content_type,
            'wrk.headers["Accept"] = "%s"\n' % accept if accept else "",
        )
    )
    return run_wrk(url, connections, seconds, script)


def run_wrk(url, connections, seconds, script):
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            "-c%d" % connections,
            "-d%ds" % seconds,
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    figures = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx": _count(r"Non-2xx or 3xx responses: (\d+)", out),
        "socket_errors": sum(
            int(n)
            for n in re.findall(
                r"(?:connect|read|write|timeout) (\d+)", _line(r"Socket errors:.*", out)
            )
        ),
        "output": out,
    }
    for percent in ("50", "90", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\b" % percent, out, re.M)
        figures["p%s_ms" % percent] = (
            float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        )
    return figures


def lua_string(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _count(pattern, text):
    m = re.search(pattern, text)
    return int(m.group(1)) if m else 0


def _line(pattern, text):
    m = re.search(pattern, text)
    return m.group(0) if m else ""
