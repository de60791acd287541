"""`churn batch`: batch transform semantics on local files with the model's own inference code."""

import os
import subprocess
import sys

import pandas as pd

from conftest import ROOT, score_rows


def test_batch_scores_every_row_in_input_order(seed_model, seed_csv, tmp_path):
    rows = pd.read_csv(seed_csv)[["age", "tenure", "balance", "num_products", "is_active"]]
    text = rows.to_csv(header=False, index=False)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "customers.csv").write_text(text)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "batch",
            "--model-dir",
            str(seed_model["model"]),
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "out"),
            "--max-payload-mb",
            "0.02",
            "--join-input",
        ],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(os.environ, CHURN_HOME=str(tmp_path / "home")),
    )
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "out" / "customers.csv.out").read_text().splitlines()
    inputs = text.splitlines()
    assert len(lines) == len(inputs) == 3000
    assert all(out.startswith(row + ",") for row, out in zip(inputs, lines))
    assert [line.split(",", 5)[5] for line in lines] == score_rows(seed_model["model"], text)


def test_batch_refuses_a_bad_object_whole(seed_model, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("40,5,100000,2,1\n40,5,lots,2,1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "batch",
            "--model-dir",
            str(seed_model["model"]),
            "--input",
            str(bad),
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
    )
    assert proc.returncode == 1
    assert "bad.csv failed: InferenceError: record 2, column 'balance'" in proc.stderr
    assert not (tmp_path / "out" / "bad.csv.out").exists()  # no partial output
