"""How fast `churn ui` renders a large home: 500 executions and 200 registered versions.

    python benchmarks/ui.py [--executions 500 --versions 200 --repeat 7]

The home is made for real: one `churn run`-equivalent execution (Workspace.run), then reruns
from the step cache, `--versions` of them passing (each registers a version) and the rest
failing at the AUC gate (AucThreshold=0.99). `churn ui` then
serves it on 127.0.0.1 and each page is fetched over HTTP: the first (cold) request, then the
median of --repeat. The baseline, measured in the same command, is reading the same facts
in-process with no page: the workspace's execution summaries and registry listing (what
`churn runs list` and `churn models list` read), so the ratio is what rendering and HTTP add.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, machine, median, median_seconds

from pipelines.workspace import Workspace


def make_home(home, executions, versions):
    started = time.time()
    with Workspace(home) as ws:
        data = ws.staging.generated_data(2000, 0)
        for i in range(executions):
            passing = i < versions
            ws.runs.run(data, parameters={} if passing else {"AucThreshold": 0.99})
    print(
        "made %d executions, %d versions in %.0f s" % (executions, versions, time.time() - started)
    )


def timed_get(url):
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
        assert r.status == 200, (url, r.status)
    return time.perf_counter() - t, len(body)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--executions", type=int, default=500)
    p.add_argument("--versions", type=int, default=200)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--home", help="reuse (or make) the home here")
    args = p.parse_args()
    print(machine())
    home = Path(args.home or tempfile.mkdtemp(prefix="churn-ui-bench-"))
    if not (home / "executions").is_dir():
        make_home(home, args.executions, args.versions)
    with Workspace(home) as ws:
        summaries = ws.runs.summaries()
        packages = ws.registry.list_packages()
        passing = next(s for s in summaries if s["status"] == "Succeeded")["id"]
        failing = next(s for s in summaries if s["status"] == "Failed")["id"]
        newest = max(p["ModelPackageVersion"] for p in packages)
        baseline = {
            "execution summaries": median_seconds(ws.execution_summaries, args.repeat),
            "registry listing": median_seconds(ws.registry.list_packages, args.repeat),
        }
    print("home %s: %d executions, %d versions" % (home, len(summaries), len(packages)))
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "ui", "--home", str(home), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
    )
    try:
        url = re.search(r"(http://\S+/) ", server.stdout.readline()).group(1).rstrip("/")
        pages = [
            ("/executions", "execution summaries"),
            ("/executions?status=Failed", "execution summaries"),
            ("/executions/%s" % passing, None),
            ("/executions/%s" % failing, None),
            ("/executions/%s/steps/TrainModel" % passing, None),
            ("/models", "registry listing"),
            ("/models/churn-seed/%d" % newest, None),
            ("/models/compare?a=churn-seed/1&b=churn-seed/%d" % newest, None),
            ("/monitoring", None),
        ]
        print(
            "%-58s %9s %9s %9s %s" % ("page", "cold ms", "median ms", "KB", "vs reading the facts")
        )
        worst = 0.0
        for path, against in pages:
            cold, size = timed_get(url + path)
            warm = median([timed_get(url + path)[0] for _ in range(args.repeat)])
            worst = max(worst, warm)
            ratio = (
                "%.1fx %s (%.0f ms)" % (warm / baseline[against], against, baseline[against] * 1000)
                if against
                else ""
            )
            print(
                "%-58s %9.0f %9.0f %9.0f %s"
                % (path[:58], cold * 1000, warm * 1000, size / 1024.0, ratio)
            )
        print("slowest page, median: %.0f ms (goal: under 300 ms)" % (worst * 1000))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
