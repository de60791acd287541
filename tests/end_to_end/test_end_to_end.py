"""The five container scripts in sequence on real tables: validate -> preprocess -> train ->
evaluate -> inference, each a child process on its own folders, as `make run` does."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pipelines.churn.script_run import run_sequence

from conftest import BANK, ROOT, TELCO, load_inference, needs_shared_data, reaches_reference_auc

sys.path.insert(0, str(ROOT / "processing"))
from preprocess import hash_split, split_hashes  # noqa: E402

from churn_schema import load_schema  # noqa: E402


def test_make_run_equivalent_on_generated_data(tmp_path):
    """`churn run-scripts` with defaults: generates seed data and runs every script."""
    env = {"CHURN_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run-scripts", "--rows", "5000"],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "generated 5000 seed-schema rows" in proc.stdout
    auc = float(proc.stdout.split("test AUC ")[1].split()[0])
    assert auc > 0.7  # random labels (the seed's generator) would give 0.5
    report = json.loads((tmp_path / "home/script-run/evaluation/evaluation.json").read_text())
    assert report["binary_classification_metrics"]["auc"]["value"] == pytest.approx(auc, abs=1e-4)


@needs_shared_data
@pytest.mark.parametrize("data, schema", [(BANK, "bank"), (TELCO, "telco")])
# bigml runs through `churn run` as a user's own table (tests/end_to_end/test_local_run.py)
def test_public_tables_reach_the_reference_auc(tmp_path, data, schema):
    summary = run_sequence(str(data), schema, tmp_path, echo=lambda *_: None)
    assert isinstance(summary["auc_std"], float) and 0 < summary["auc_std"] < 0.02
    assert reaches_reference_auc(schema, summary["auc"], summary["auc_std"]), summary
    assert len(summary["sample_scores"]) == 5


@needs_shared_data
def test_serving_replays_exactly_the_training_features(bank_model):
    """Raw test rows through inference.py score exactly as the preprocessed test.csv does."""
    import xgboost

    inference = load_inference()

    raw = pd.read_csv(BANK, dtype={"CustomerId": str})  # the id is text, as the job reads it
    hashes = split_hashes(raw, load_schema("bank"), 42)
    test_rows = raw.iloc[hash_split(hashes, raw.Exited.to_numpy(), 0.15, 0.15)["test"]]
    model = inference.model_fn(str(bank_model["model"]))
    served = inference.predict_fn(
        inference.input_fn(test_rows.to_csv(index=False), "text/csv"), model
    )
    test = pd.read_csv(bank_model["processed"] / "test" / "test.csv", header=None).to_numpy()
    booster = xgboost.Booster()
    booster.load_model(str(bank_model["model"] / "xgboost-model"))
    assert len(served) == len(test) == len(test_rows) > 1000
    np.testing.assert_allclose(served, booster.inplace_predict(test[:, 1:]), atol=1e-6)
