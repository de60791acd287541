"""Batch scoring of a million rows with `churn batch` against Booster.inplace_predict on the same
matrix.

    python benchmarks/batch.py [--rows 1000000] [--runs 3]

Trains and approves a seed-schema model in a temporary home, writes --rows raw rows (no header,
the schema's feature columns) and scores them with `churn batch` (batch transform semantics:
6 MB MultiRecord payloads, one request per core at a time), --runs times. The scoring time is
what the batch worker reports after model_fn (reading, parsing, the recipe, predicting,
formatting and writing the .out file); the command's wall time, imports included, is shown
beside it. The floor is xgboost's Booster.inplace_predict on the already-prepared float
matrix of the same rows, in this process, on one thread and on every core. Medians of --runs.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import (
    approved_model_home,
    load_inference,
    machine,
    median,
    median_seconds,
    prepared_features,
    timed,
)


def write_rows(path, rows, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for start in range(0, rows, 100000):
            n = min(100000, rows - start)
            f.write(
                "".join(
                    "%d,%d,%.2f,%d,%d\n" % row
                    for row in zip(
                        rng.integers(18, 90, n),
                        rng.integers(0, 11, n),
                        rng.uniform(0, 2e5, n),
                        rng.integers(1, 5, n),
                        rng.integers(0, 2, n),
                    )
                )
            )


def prepared_matrix(model_dir, data):
    """The booster, and the float features the recipe makes of the rows."""
    inference = load_inference()
    model = inference.model_fn(str(model_dir))
    return model.booster, prepared_features(inference, model, data.read_bytes())


def predict_seconds(booster, matrix, threads, runs):
    booster.set_param({"nthread": threads})
    return median_seconds(lambda: booster.inplace_predict(matrix), runs)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1000000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="churn-batch-"))
    print("machine: %s" % machine())
    try:
        home = approved_model_home(work)
        data = work / "rows.csv"
        write_rows(data, args.rows)
        scoring, walls = [], []
        for run in range(args.runs):
            output = work / ("out-%d" % run)
            wall, out = timed(
                [
                    sys.executable,
                    "-m",
                    "pipelines.cli",
                    "batch",
                    "--input",
                    str(data),
                    "--output",
                    str(output),
                ],
                env={"CHURN_HOME": str(home)},
            )
            scoring.append(float(re.search(r"requests in ([\d.]+) s", out).group(1)))
            walls.append(wall)
            with open(output / "rows.csv.out", "rb") as f:
                assert sum(1 for _ in f) == args.rows
        model_dir = next((home / "serving").glob("*/model"))
        booster, matrix = prepared_matrix(model_dir, data)
        one = predict_seconds(booster, matrix, 1, args.runs)
        every = predict_seconds(booster, matrix, os.cpu_count(), args.runs)
        rate = args.rows / median(scoring)
        print(
            "%d rows, `churn batch` with %d concurrent requests: scoring %.2f s = %.0f rows/s "
            "(command wall time with imports %.2f s)"
            % (args.rows, os.cpu_count(), median(scoring), rate, median(walls))
        )
        print(
            "Booster.inplace_predict on the same matrix: one thread %.2f s = %.0f rows/s; "
            "%d threads %.2f s = %.0f rows/s"
            % (one, args.rows / one, os.cpu_count(), every, args.rows / every)
        )
        print(
            "churn batch / inplace_predict: %.0f%% of the %d-thread rate, %.0f%% of the "
            "one-thread rate (goal >= 50%%)"
            % (100 * rate * every / args.rows, os.cpu_count(), 100 * rate * one / args.rows)
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
