"""train.py in script mode: SM_* channels in, a self-describing, pickle-free model out."""

import re
import subprocess
import sys

import pytest

from conftest import run

# The metric definition the pipeline gives the TrainingStep; CloudWatch shows a tab as #011.
VALIDATION_AUC = re.compile(r".*\[[0-9]+\].*#011validation-auc:([0-9.]+)")


def channels(processed, model_dir):
    return {
        "SM_MODEL_DIR": str(model_dir),
        "SM_CHANNEL_TRAIN": str(processed / "train"),
        "SM_CHANNEL_VALIDATION": str(processed / "validation"),
        "SM_CHANNEL_PREPROCESSING": str(processed / "preprocessing"),
    }


def test_model_artifact_is_xgboost_format_with_its_preprocessing(seed_model):
    model = seed_model["model"]
    assert sorted(p.name for p in model.iterdir()) == ["preprocessing.json", "xgboost-model"]
    assert model.joinpath("xgboost-model").read_bytes()[:1] == b"{"  # UBJSON, not pickle
    assert (model / "preprocessing.json").read_bytes() == (
        seed_model["processed"] / "preprocessing" / "preprocessing.json"
    ).read_bytes()


def test_model_loads_in_a_fresh_process_without_our_code(seed_model, tmp_path):
    code = (
        "import xgboost, numpy\n"
        "b = xgboost.Booster()\n"
        "b.load_model(%r)\n"
        "print(b.num_features(), float(b.inplace_predict(numpy.zeros((1, 5)))[0]))\n"
        % str(seed_model["model"] / "xgboost-model")
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code], cwd=str(tmp_path), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    features, score = proc.stdout.split()
    assert features == "5" and 0 < float(score) < 1


def test_validation_auc_lines_match_the_metric_definition(seed_model, tmp_path):
    proc = run(
        "training/train.py",
        "--num_round",
        "7",
        "--early_stopping_rounds",
        "0",
        env=channels(seed_model["processed"], tmp_path / "m"),
        check=0,
    )
    values = [VALIDATION_AUC.match(line.replace("\t", "#011")) for line in proc.stdout.splitlines()]
    values = [float(m.group(1)) for m in values if m]
    assert len(values) == 7 and all(0.5 < v <= 1 for v in values)
    # Each round scores the validation rows only (the train rows' AUC, a sort of every row each
    # round, cost more than the boosting); the model kept is scored on the train rows once.
    rounds = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    assert len(rounds) == 7 and not [line for line in rounds if "train-" in line]
    kept = [
        line for line in proc.stdout.splitlines() if "the model kept, on the train rows" in line
    ]
    assert len(kept) == 1 and re.search(r"train-auc:0\.\d+ train-logloss:0\.\d+$", kept[0])


def test_hyperparameters_arrive_as_cli_args_and_training_is_deterministic(seed_model, tmp_path):
    import xgboost

    args = [
        "--max_depth",
        "3",
        "--num_round",
        "12",
        "--early_stopping_rounds",
        "0",
        "--sagemaker_extra",
        "ignored",
    ]
    for name in ("a", "b"):
        proc = run(
            "training/train.py",
            *args,
            env=channels(seed_model["processed"], tmp_path / name),
            check=0,
        )
    assert "ignoring unknown arguments --sagemaker_extra ignored" in proc.stdout
    booster = xgboost.Booster()
    booster.load_model(str(tmp_path / "a" / "xgboost-model"))
    assert booster.num_boosted_rounds() == 12
    assert (tmp_path / "a/xgboost-model").read_bytes() == (
        tmp_path / "b/xgboost-model"
    ).read_bytes()


def test_early_stopping_keeps_the_best_round(seed_model, tmp_path):
    import xgboost

    proc = run(
        "training/train.py",
        "--num_round",
        "300",
        "--eta",
        "0.5",
        env=channels(seed_model["processed"], tmp_path),
        check=0,
    )
    kept = int(re.search(r"(\d+) rounds kept", proc.stdout).group(1))
    booster = xgboost.Booster()
    booster.load_model(str(tmp_path / "xgboost-model"))
    assert booster.num_boosted_rounds() == kept < 300


def test_missing_channel_is_one_clear_error(seed_model, tmp_path):
    env = channels(seed_model["processed"], tmp_path / "m")
    env["SM_CHANNEL_VALIDATION"] = str(tmp_path / "nowhere")
    proc = run("training/train.py", env=env)
    assert proc.returncode == 1
    assert "channel validation: no .csv file under" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.fast
def test_the_three_tables_of_xgboost_defaults_agree():
    """train.py's argument defaults, the pipeline's parameter defaults and the workflows' guide
    hyperparameters are three tables of the same values, with nothing tying them: a default
    changed in one would train a different model depending on the path taken."""
    import importlib.util

    from pipelines.churn.pipeline import PARAMETER_DEFAULTS
    from pipelines.churn.workflows import GUIDE_HYPERPARAMETERS

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("train_script", ROOT / "training" / "train.py")
    train = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "training"))
    try:
        spec.loader.exec_module(train)
    finally:
        sys.path.remove(str(ROOT / "training"))
    script = vars(train.parse_args([]))
    parameters = {
        "max_depth": "MaxDepth",
        "eta": "Eta",
        "gamma": "Gamma",
        "min_child_weight": "MinChildWeight",
        "subsample": "Subsample",
        "num_round": "NumRound",
        "early_stopping_rounds": "EarlyStoppingRounds",
    }
    assert {k: script[k] for k in parameters} == {
        k: PARAMETER_DEFAULTS[p] for k, p in parameters.items()
    }
    assert GUIDE_HYPERPARAMETERS == {k: script[k] for k in GUIDE_HYPERPARAMETERS}
