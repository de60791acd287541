"""Helpers shared by the benchmark scripts: data, timing, medians, machine description."""

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine():
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "%d cores (%s), %.0f GiB, Python %s, %s" % (
        os.cpu_count(),
        cpu,
        mem,
        platform.python_version(),
        platform.system(),
    )


def generate(rows, folder, seed=0):
    from pipelines.churn.datagen import write_csv

    path = Path(folder) / ("churn-%d.csv" % rows)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(rows, seed, path)
    return path


def timed(argv, env=None, cwd=ROOT):
    """Wall seconds of a command, which must succeed; and its stdout."""
    started = time.time()
    proc = subprocess.run(
        argv, capture_output=True, text=True, cwd=str(cwd), env=dict(os.environ, **(env or {}))
    )
    seconds = time.time() - started
    if proc.returncode != 0:
        raise RuntimeError(
            "%s failed:\n%s\n%s"
            % (" ".join(map(str, argv)), proc.stdout[-2000:], proc.stderr[-3000:])
        )
    return seconds, proc.stdout


def median(values):
    return statistics.median(values)


def median_seconds(function, runs):
    """The median wall time of `runs` calls of `function()`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return median(times)


def churn_run(home, data, *extra):
    """`churn run --json` in `home`; returns (wall seconds, result JSON)."""
    seconds, out = timed(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--json",
            "--data",
            str(data),
            "--param",
            "AucThreshold=0.5",
        ]
        + list(extra),
        env={"CHURN_HOME": str(home)},
    )
    return seconds, json.loads(out)


def script_json(script, data, workdir):
    """(wall seconds, the JSON object it prints last) of a benchmarks/ script run on a table."""
    seconds, out = timed(
        [
            sys.executable,
            str(ROOT / "benchmarks" / script),
            "--data",
            str(data),
            "--workdir",
            str(workdir),
        ]
    )
    return seconds, json.loads(out.strip().splitlines()[-1])


def in_process(data, workdir):
    """The same scripts in one process (benchmarks/inprocess.py): (seconds, its JSON)."""
    return script_json("inprocess.py", data, workdir)


def physical_floor(data, workdir):
    """benchmarks/floor.py's JSON: the work written directly with pyarrow and numpy."""
    return script_json("floor.py", data, workdir)[1]


def approved_model_home(work):
    """A churn home under `work` with a seed-schema model trained on 10k rows and approved."""
    home = work / "home"
    env = {"CHURN_HOME": str(home)}
    timed([sys.executable, "-m", "pipelines.cli", "run", "--rows", "10000"], env=env)
    timed([sys.executable, "-m", "pipelines.cli", "models", "approve", "1"], env=env)
    return home


def load_inference():
    """This checkout's inference/inference.py, imported from its file as the serving container
    imports it (it finds the recipe module beside processing/)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("inference", ROOT / "inference" / "inference.py")
    handlers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handlers)
    return handlers


def prepared_features(handlers, model, body):
    """The float matrix the booster is given for a CSV body: the floor's input."""
    matrix, _ = handlers.features(
        handlers.decoding.columns(handlers.input_fn(body, "text/csv"), model), model
    )
    return matrix


def ensure_venv(venv, packages, program):
    """`program` inside a virtualenv of its own with `packages`, created on first use: peers
    measured against the project are never its dependencies."""
    path = Path(venv) / "bin" / program
    if not path.exists():
        print("creating %s with %s (once)" % (venv, " ".join(packages)))
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(Path(venv) / "bin" / "pip"), "install", "-q"] + packages, check=True)
    return path
