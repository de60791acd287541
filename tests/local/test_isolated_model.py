"""A network-isolated pipeline locally: the jobs that need no network run with loopback only,
the serving code travels in the model artifact (code/), and the isolated batch model scores
from it, as an isolated SageMaker container must."""

import json
import subprocess
import sys
import tarfile

import pandas as pd

from conftest import ROOT


def test_an_isolated_model_serves_from_the_code_packed_in_its_artifact(tmp_path, seed_csv):
    rows = pd.read_csv(seed_csv)[["age", "tenure", "balance", "num_products", "is_active"]]
    (tmp_path / "score.csv").write_text(rows.head(200).to_csv(header=False, index=False))
    home = tmp_path / "home"
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--home", str(home), "--rows", "3000",
         "--network-isolation", "--batch-input", str(tmp_path / "score.csv"), "--json"],
        cwd=str(ROOT), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "Succeeded"
    store = home / "s3" / "churn-local"
    (artifact,) = store.glob("churn/models/*/output/model.tar.gz")
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    assert {"xgboost-model", "preprocessing.json", "code/inference.py"} <= set(names), names
    # The registered version names that folder, not an S3 tarball.
    versions = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "models", "describe", "1", "--home", str(home)],
        cwd=str(ROOT), capture_output=True, text=True,
    )  # fmt: skip
    assert versions.returncode == 0, versions.stderr
    container = json.loads(versions.stdout)["InferenceSpecification"]["Containers"][0]
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    # The isolated batch model scored every row from that code.
    (scores,) = store.glob("churn/batch/output/*/score.csv.out")
    values = [float(line.split(",")[0]) for line in scores.read_text().splitlines()]
    assert len(values) == 200 and all(0.0 <= v <= 1.0 for v in values)
