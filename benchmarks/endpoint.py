"""Throughput and latency of `churn serve` (data capture at 100%) side by side with MLServer
serving the same booster, and the in-process floor.

    python benchmarks/endpoint.py [--seconds 5] [--runs 3] [--workers 2] [--no-mlserver]

Trains and approves a seed-schema model in a temporary home, then starts on 127.0.0.1:
- `churn serve` with --workers 2 and data capture at 100%, taking raw CSV rows (the recipe is
  replayed per request);
- MLServer 1.7 with its XGBoost runtime (V2 REST, default settings, one OpenMP thread as ours)
  on the same booster file, taking the already-prepared float features as V2 JSON. It runs
  from its own virtualenv, created on first use (--mlserver-venv; not a project dependency;
  uvloop pinned to 0.21 because its default parallel-worker mode dies at start-up with 0.22).
Each is loaded with wrk (a separate, compiled process; `apt-get install wrk`), one thread, at
concurrency 1, 8 and 32 with 1-row and 100-row requests, the two servers taking turns; every
figure is the median of --runs runs. The floor, measured in this process on the same model: one
row through xgboost's Booster.inplace_predict on one thread, and the whole handler chain
(input_fn -> predict_fn -> output_fn) without HTTP. Loopback only.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import (
    approved_model_home,
    ensure_venv,
    load_inference,
    machine,
    median,
    prepared_features,
)
from http_load import free_port, start, start_churn_serve, stop, wait_ready, wrk

ROW = "40,5,100000,2,1\n"
MLSERVER_PACKAGES = ["mlserver==1.7.*", "mlserver-xgboost==1.7.*", "uvloop==0.21.*"]
DEFAULT_VENV = Path.home() / ".cache" / "churn-benchmarks" / "mlserver-1.7"


def rate(call, seconds):
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        n += 1
    return n / (time.perf_counter() - started)


def floor(handlers, model, runs):
    """Calls per second on one thread: inplace_predict of one prepared row, and the chain."""
    model.booster.set_param({"nthread": 1})
    matrix = prepared_features(handlers, model, ROW)
    booster = median(
        [rate(lambda: model.booster.inplace_predict(matrix), 2.0) for _ in range(runs)]
    )
    chain = median(
        [
            rate(
                lambda: handlers.output_fn(
                    handlers.predict_fn(handlers.input_fn(ROW, "text/csv"), model), "text/csv"
                ),
                2.0,
            )
            for _ in range(runs)
        ]
    )
    return booster, chain


def ensure_mlserver(venv):
    return ensure_venv(venv, MLSERVER_PACKAGES, "mlserver")


def start_mlserver(mlserver, model_file, work):
    folder = work / "mlserver"
    folder.mkdir()
    shutil.copy(model_file, folder / "model.ubj")  # a file name MLServer's runtime knows
    (folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "churn",
                "implementation": "mlserver_xgboost.XGBoostModel",
                "parameters": {"uri": "./model.ubj", "version": "v1"},
            }
        )
    )
    port = free_port()
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": port,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
            }
        )
    )
    proc = start(
        [str(mlserver), "start", str(folder)],
        env={"OMP_NUM_THREADS": "1"},
        log=work / "mlserver.log",
    )
    url = "http://127.0.0.1:%d" % port
    wait_ready(proc, url + "/v2/models/churn/ready", timeout=120)
    return proc, url + "/v2/models/churn/infer"


def v2_body(matrix):
    return json.dumps(
        {
            "inputs": [
                {
                    "name": "predict",
                    "shape": list(matrix.shape),
                    "datatype": "FP32",
                    "data": [round(float(v), 7) for v in matrix.ravel()],
                }
            ]
        }
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    p.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--mlserver-venv", type=Path, default=DEFAULT_VENV)
    p.add_argument("--no-mlserver", action="store_true")
    args = p.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    mlserver = None if args.no_mlserver else ensure_mlserver(args.mlserver_venv)
    work = Path(tempfile.mkdtemp(prefix="churn-endpoint-"))
    print("machine: %s" % machine())
    servers = []
    try:
        home = approved_model_home(work)
        ours, base = start_churn_serve(home, args.workers, work / "serve.log")
        servers.append(ours)
        model_dir = next((home / "serving").glob("*/model"))
        handlers = load_inference()
        model = handlers.model_fn(str(model_dir))
        targets = {"churn serve": (base + "/invocations", "text/csv", {1: ROW, 100: ROW * 100})}
        if mlserver is not None:
            proc, url = start_mlserver(mlserver, model_dir / "xgboost-model", work)
            servers.append(proc)
            targets["MLServer 1.7"] = (
                url,
                "application/json",
                {n: v2_body(prepared_features(handlers, model, ROW * n)) for n in (1, 100)},
            )
        booster, chain = floor(handlers, model, args.runs)
        print(
            "in-process floor, one thread: Booster.inplace_predict 1 row %.0f calls/s; "
            "handler chain (input_fn -> output_fn) 1 row %.0f calls/s" % (booster, chain)
        )
        print(
            "wrk -t1, %d s per run, median of %d runs; churn serve: %d workers, data capture "
            "100%%" % (args.seconds, args.runs, args.workers)
        )
        print(
            "%-12s %5s %11s %9s %10s %8s  %s"
            % ("server", "rows", "concurrency", "req/s", "rows/s", "p99 ms", "failures")
        )
        results = {}
        for rows in (1, 100):
            for connections in (1, 8, 32):
                runs = {name: [] for name in targets}
                for _ in range(args.runs):
                    for name, (url, content_type, bodies) in targets.items():
                        runs[name].append(
                            wrk(
                                url,
                                bodies[rows],
                                content_type,
                                connections,
                                args.seconds,
                                work,
                                accept=content_type,
                            )
                        )
                for name, figures in runs.items():
                    rps = median([f["rps"] for f in figures])
                    p99 = median([f["p99_ms"] for f in figures])
                    failures = sum(f["non_2xx"] + f["socket_errors"] for f in figures)
                    results[name, rows, connections] = rps, p99
                    print(
                        "%-12s %5d %11d %9.0f %10.0f %8.2f  %d"
                        % (name, rows, connections, rps, rps * rows, p99, failures)
                    )
        report(results, booster, "MLServer 1.7" in targets)
    finally:
        for proc in servers:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def report(results, booster, with_mlserver):
    ours_1 = max(results["churn serve", 1, c][0] for c in (1, 8, 32))
    ours_100 = max(results["churn serve", 100, c][0] for c in (1, 8, 32))
    rps_8, p99_8 = results["churn serve", 1, 8]
    print(
        "churn serve 1 row at concurrency 8: %.0f req/s = %.2fx one-thread inplace_predict "
        "(goal >= 1.0), p99 %.2f ms (goal <= 5)" % (rps_8, rps_8 / booster, p99_8)
    )
    if with_mlserver:
        ml_1 = max(results["MLServer 1.7", 1, c][0] for c in (1, 8, 32))
        ml_100 = max(results["MLServer 1.7", 100, c][0] for c in (1, 8, 32))
        print(
            "peak 1 row: churn serve %.0f req/s, MLServer %.0f req/s: %.1fx (goal >= 4)"
            % (ours_1, ml_1, ours_1 / ml_1)
        )
        print(
            "peak 100 rows: churn serve %.0f req/s, MLServer %.0f req/s: %.1fx (goal >= 2.5)"
            % (ours_100, ml_100, ours_100 / ml_100)
        )


if __name__ == "__main__":
    main()
