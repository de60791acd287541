"""The single-process floor: the pipeline's work with the same code in ONE Python process.

    python benchmarks/inprocess.py --data CSV --workdir DIR [--schema seed]

Imports each library once, then runs validate -> baseline -> preprocess -> train -> evaluate
with the very scripts the jobs run (runpy, same arguments), on local folders. Prints one JSON
object: total wall time from interpreter start, import time, and seconds per step. It is what
`churn run` would cost with no process, container-contract or bookkeeping overhead at all.
"""

import argparse
import json
import os
import runpy
import shutil
import sys
import tarfile
import time

STARTED = time.time()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["GX_ANALYTICS_ENABLED"] = "False"

import great_expectations  # noqa: E402,F401
import matplotlib  # noqa: E402
import numpy  # noqa: E402,F401
import pandas  # noqa: E402,F401
import sklearn  # noqa: E402,F401
import xgboost  # noqa: E402,F401

matplotlib.use("Agg")
IMPORTED = time.time()


def run_script(path, args, env=None):
    os.environ.update(env or {})
    sys.argv = [path] + [str(a) for a in args]
    sys.path.insert(0, os.path.dirname(path))
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            raise RuntimeError("%s exited with %s" % (path, e.code))
    finally:
        sys.path.pop(0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--schema", default="seed")
    args = p.parse_args()
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    seconds = {}

    def step(name, script, script_args, env=None):
        t = time.time()
        run_script(os.path.join(ROOT, script), script_args, env)
        seconds[name] = round(time.time() - t, 3)

    step(
        "ValidateData",
        "processing/validate.py",
        ["--input", args.data, "--schema", args.schema, "--output-dir", work + "/validation"],
    )
    step(
        "BaselineData",
        "processing/baseline.py",
        ["--input", args.data, "--schema", args.schema, "--output-dir", work + "/baseline"],
    )
    step(
        "PreprocessData",
        "processing/preprocess.py",
        ["--input", args.data, "--schema", args.schema, "--output-dir", work + "/processed"],
    )
    step(
        "TrainModel",
        "training/train.py",
        [],
        {
            "SM_MODEL_DIR": work + "/model",
            "SM_CHANNEL_TRAIN": work + "/processed/train",
            "SM_CHANNEL_VALIDATION": work + "/processed/validation",
            "SM_CHANNEL_PREPROCESSING": work + "/processed/preprocessing",
        },
    )
    t = time.time()
    os.makedirs(work + "/artifact")
    with tarfile.open(work + "/artifact/model.tar.gz", "w:gz") as tar:
        for name in sorted(os.listdir(work + "/model")):
            tar.add(os.path.join(work, "model", name), arcname=name)
    seconds["TrainModel"] += round(time.time() - t, 3)  # SageMaker packs the model in the job
    step(
        "EvaluateModel",
        "evaluation/evaluate.py",
        [
            "--model-dir",
            work + "/artifact",
            "--test-dir",
            work + "/processed/test",
            "--output-dir",
            work + "/evaluation",
        ],
    )
    print(
        json.dumps(
            {
                "total_seconds": round(time.time() - STARTED, 3),
                "import_seconds": round(IMPORTED - STARTED, 3),
                "steps": seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
