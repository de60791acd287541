"""Throughput and latency of `churn serve` (data capture at 100%) against the in-process floor.

    python benchmarks/endpoint.py [--seconds 5] [--workers 2]

Trains and approves a seed-schema model in a temporary home, starts `churn serve` on 127.0.0.1
with capture on, and loads it with wrk (a separate, compiled process; `apt-get install wrk`) at
concurrency 1, 8 and 32 with 1-row and 100-row CSV bodies, each run bounded in time. The floor
is measured in this process on the same model: xgboost's one-row Booster.inplace_predict, and
the whole handler chain (input_fn -> predict_fn -> output_fn) without HTTP. Loopback only.
Not yet here (see the serving issue): MLServer serving the same booster side by side.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, machine, timed

ROW = "40,5,100000,2,1\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url, body, connections, seconds, work):
    script = work / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.body = %r\n'
                      'wrk.headers["Content-Type"] = "text/csv"\n'
                      'wrk.headers["Accept"] = "text/csv"\n' % body)
    out = subprocess.run(["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--latency",
                          "-s", str(script), url + "/invocations"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return rps, float(p99.group(1)) * scale, int(errors.group(1)) if errors else 0, \
        socket_errors.group(1) if socket_errors else "none"


def floor(model_dir, seconds=2.0):
    sys.path.insert(0, str(ROOT / "inference"))
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("inference", ROOT / "inference" / "inference.py")
    handlers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handlers)
    model = handlers.model_fn(str(model_dir))
    matrix = np.array([[0.2, 0.5, 0.4, 0.3, 1.0]], dtype=np.float32)

    def rate(call):
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            call()
            n += 1
        return n / (time.perf_counter() - started)

    booster = rate(lambda: model.booster.inplace_predict(matrix))
    chain = rate(lambda: handlers.output_fn(handlers.predict_fn(
        handlers.input_fn(ROW, "text/csv"), model), "text/csv"))
    return booster, chain


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="churn-endpoint-"))
    home = work / "home"
    env = {"CHURN_HOME": str(home)}
    print("machine: %s" % machine())
    server = None
    try:
        timed([sys.executable, "-m", "pipelines.cli", "run", "--rows", "10000"], env=env)
        timed([sys.executable, "-m", "pipelines.cli", "models", "approve", "1"], env=env)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "serve", "--port",
                                   str(port), "--workers", str(args.workers)], cwd=str(ROOT),
                                  env=dict(os.environ, **env), stdout=subprocess.DEVNULL)
        url = "http://127.0.0.1:%d" % port
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/ping", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        model_dir = next((home / "serving").glob("*/model"))
        booster, chain = floor(model_dir)
        print("in-process floor: Booster.inplace_predict 1 row %.0f calls/s; handler chain "
              "(input_fn -> output_fn) 1 row %.0f calls/s" % (booster, chain))
        print("churn serve, %d workers, data capture 100%%, wrk -t1, %d s per run:"
              % (args.workers, args.seconds))
        print("%6s %12s %10s %12s %8s %s" % ("rows", "concurrency", "req/s", "rows/s",
                                             "p99 ms", "errors"))
        bodies = {1: ROW, 100: ROW * 100}
        for rows, body in bodies.items():
            for connections in (1, 8, 32):
                rps, p99, errors, socket_errors = wrk(url, body, connections, args.seconds, work)
                print("%6d %12d %10.0f %12.0f %8.2f non-2xx %d, socket %s"
                      % (rows, connections, rps, rps * rows, p99, errors, socket_errors))
        print("1-row throughput at concurrency 8 vs one-core inplace_predict: see the table "
              "(goal >= 1.0x, p99 <= 5 ms)")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
