"""`churn batch`: batch transform semantics on local files with the model's own inference code."""

import os
import subprocess
import sys

import pandas as pd

from conftest import ROOT, churn_cli, score_rows


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
    """The line of the input file (not a record of some payload), and nothing written: not the
    bad object's scores, nor those of the objects before it."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("40,5,100000,2,1\n")
    bad = folder / "bad.csv"
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
            str(folder),
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        "churn batch: error: bad.csv line 2, column 'balance': 'lots' is not a number; "
        "nothing was written to %s\n" % (tmp_path / "out")
    )
    assert not (tmp_path / "out").exists()  # no output, no staging folder left


def register(home, model_tarball, code_tarball):
    """A registered version whose artifact and code are the given archives in the store."""
    from pipelines.local.sagemaker.backend import SageMakerBackend

    backend = SageMakerBackend(home)
    backend.store.put_bytes("s3://churn-local/m/model.tar.gz", model_tarball)
    backend.store.put_bytes("s3://churn-local/c/sourcedir.tar.gz", code_tarball)
    env = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://churn-local/c/sourcedir.tar.gz",
    }
    backend.registry.create_model_package(
        {
            "ModelPackageGroupName": "G",
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": "i",
                        "ModelDataUrl": "s3://churn-local/m/model.tar.gz",
                        "Environment": env,
                    }
                ]
            },
        }
    )
    backend.close()


def batch_with_version(home, tmp_path, text):
    (tmp_path / "rows.csv").write_text(text)
    return churn_cli(
        home,
        "batch",
        "--model-version",
        "G/1",
        "--allow-unapproved",
        "--input",
        tmp_path / "rows.csv",
        "--output",
        tmp_path / "out",
    )


def test_a_failed_unpack_is_not_reused_once_the_artifact_is_repaired(seed_model, tmp_path):
    """After one failed or interrupted unpack, serving/<digest>/ was reused forever, even after
    the artifact was repaired: a model is unpacked into a temporary folder, renamed into place
    whole, and keyed by the archives' content."""
    from pipelines.churn.bundles import build_bundles
    from pipelines.local.sagemaker.jobs.training import pack_model

    model = pack_model([seed_model["model"]], tmp_path / "model.tar.gz").read_bytes()
    code = build_bundles()["inference"].objects()["sourcedir.tar.gz"]
    home = tmp_path / "home"
    register(home, model, code[: len(code) // 2])  # a code archive cut short
    broken = batch_with_version(home, tmp_path, "40,5,100000,2,1\n")
    assert broken.returncode == 1 and "Traceback" not in broken.stderr, broken.stderr
    assert "is not a readable tar archive" in broken.stderr

    register(home, model, code)  # repaired: the same URI, now whole
    repaired = batch_with_version(home, tmp_path, "40,5,100000,2,1\n")
    assert repaired.returncode == 0, repaired.stderr
    assert (tmp_path / "out" / "rows.csv.out").read_text() == score_rows(
        seed_model["model"], "40,5,100000,2,1\n"
    )[0] + "\n"
    assert [p.name for p in (home / "serving").iterdir() if p.name.startswith(".")] == []


def test_a_gzip_bomb_artifact_is_refused_on_the_serving_path(tmp_path):
    """churn serve/batch extracted a 3 MB gzip bomb to 3 GiB, then served; they now use the one
    extractor with its member, size and ratio limits."""
    from test_churn_job import gzip_bomb

    from pipelines.churn.bundles import build_bundles

    bomb = gzip_bomb(tmp_path / "bomb.tar.gz", 300 * 1024**2).read_bytes()
    home = tmp_path / "home"
    register(home, bomb, build_bundles()["inference"].objects()["sourcedir.tar.gz"])
    proc = batch_with_version(home, tmp_path, "40,5,100000,2,1\n")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "times its own size at most); nothing was extracted" in proc.stderr
    assert not (home / "serving").exists() or list((home / "serving").rglob("*")) == []
    assert not (tmp_path / "out").exists()


def test_a_corrupt_model_dir_is_one_line(seed_model, tmp_path):
    """A corrupt booster in --model-dir was an XGBoost traceback with a C++ stack."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(seed_model["model"], model)
    (model / "xgboost-model").write_bytes(b"{ this is not a booster")
    (tmp_path / "rows.csv").write_text("40,5,100000,2,1\n")
    proc = churn_cli(
        tmp_path / "home",
        "batch",
        "--model-dir",
        model,
        "--input",
        tmp_path / "rows.csv",
        "--output",
        tmp_path / "out",
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "cannot be loaded: XGBoostError" in lines[0]
    assert not (tmp_path / "out").exists()


def test_churn_batch_refuses_what_batch_input_refuses(seed_model, tmp_path):
    """churn batch dropped blank lines, so output line N stopped matching input line N, and
    accepted a header that churn run --batch-input refuses."""
    cases = {
        "blank.csv": ("40,5,100000,2,1\n\n41,5,0,1,0\n", "line 2 is blank"),
        "header.csv": (
            "age,tenure,balance,num_products,is_active\n40,5,1,2,1\n",
            "starts with a header line",
        ),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        proc = churn_cli(
            tmp_path / "home",
            "batch",
            "--model-dir",
            seed_model["model"],
            "--input",
            tmp_path / name,
            "--output",
            tmp_path / "out",
        )
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1 and message in lines[0], proc.stderr
        assert not (tmp_path / "out").exists()
