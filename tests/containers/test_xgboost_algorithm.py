"""training/xgboost_algorithm.py and inference/xgboost_algorithm.py, the stand-ins for the
SageMaker XGBoost image's algorithm mode (docs/container-contracts.md sections 2.9 and 3.4),
run as the image runs them: the trainer as a process on a folder laid out as /opt/ml, the
inference module imported as the serving layer imports it. Real data: the bank churn table
of ../shared/data, one-hot encoded, label first.

What each test checks comes from the documentation:
- "Input/Output Interface for the XGBoost Algorithm" (xgboost.html): text/csv with the target
  in the first column and no header, text/libsvm (the default content type),
  application/x-parquet; for inference text/csv without the label and text/libsvm.
- "XGBoost Hyperparameters" (xgboost_hyperparameters.html): num_round required; eta in
  [0, 1]; early_stopping_rounds on the validation channel's last eval_metric.
- "Tune an XGBoost Model" (xgboost-tuning.html): validation:auc among the metrics computed.
- "Use XGBoost with model files" (xgboost.html): 1.3-1 and later save the model with
  Booster.save_model, earlier versions pickle.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import BANK, ROOT

TRAINER = ROOT / "training" / "xgboost_algorithm.py"
VALIDATION_AUC = r".*\[[0-9]+\].*#011validation-auc:(\S+)"  # the algorithm's definition


def bank_table():
    """The bank table as the algorithm wants it: numbers only, the label (Exited) first."""
    import pandas as pd

    if not BANK.is_file():
        pytest.skip("../shared/data is not next to this checkout")
    table = pd.read_csv(BANK).drop(columns=["RowNumber", "CustomerId", "Surname"])
    table = pd.get_dummies(table, columns=["Geography", "Gender"], dtype=float)
    label = table.pop("Exited")
    return pd.concat([label, table], axis=1).astype(float)


def libsvm_lines(frame, zeros=False):
    """label index:value ...; a zero is left out (missing, to XGBoost) unless `zeros`."""
    lines = []
    for row in frame.itertuples(index=False):
        values = enumerate(row[1:])
        fields = ["%g" % row[0]] + ["%d:%r" % (i, v) for i, v in values if zeros or v != 0]
        lines.append(" ".join(fields))
    return "\n".join(lines) + "\n"


def layout(root, hyperparameters, channels, content_type="text/csv"):
    """/opt/ml under `root` as SageMaker lays it out for the algorithm: the config files and
    each channel's files; returns the environment the image's algorithm mode reads."""
    config = root / "opt/ml/input/config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    data_config = {}
    for name, files in channels.items():
        folder = root / "opt/ml/input/data" / name
        folder.mkdir(parents=True)
        for filename, content in files.items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(folder / filename, mode) as f:
                f.write(content)
        data_config[name] = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                             "RecordWrapperType": "None"}  # fmt: skip
        if content_type is not None:
            data_config[name]["ContentType"] = content_type
    (config / "inputdataconfig.json").write_text(json.dumps(data_config))
    env = dict(
        os.environ,
        SM_INPUT_TRAINING_CONFIG_FILE=str(config / "hyperparameters.json"),
        SM_INPUT_DATA_CONFIG_FILE=str(config / "inputdataconfig.json"),
        SM_CHANNEL_TRAIN=str(root / "opt/ml/input/data/train"),
        SM_MODEL_DIR=str(root / "opt/ml/model"),
        SM_OUTPUT_DIR=str(root / "opt/ml/output"),
        SM_HOSTS='["algo-1"]',
        SM_CURRENT_HOST="algo-1",
        CHURN_XGBOOST_IMAGE_VERSION="1.7-1",
    )
    if "validation" in channels:
        env["SM_CHANNEL_VALIDATION"] = str(root / "opt/ml/input/data/validation")
    return env


def train(root, hyperparameters, channels, content_type="text/csv", version="1.7-1"):
    env = layout(root, hyperparameters, channels, content_type)
    env["CHURN_XGBOOST_IMAGE_VERSION"] = version
    return subprocess.run(
        [sys.executable, str(TRAINER)], env=env, capture_output=True, text=True, timeout=300
    )


def failure(root):
    return (root / "opt/ml/output/failure").read_text()


HPS = {"num_round": "40", "objective": "binary:logistic", "eval_metric": "auc", "max_depth": "5",
       "eta": "0.2", "early_stopping_rounds": "5"}  # fmt: skip


@pytest.fixture(scope="module")
def split():
    table = bank_table()
    return table.iloc[:8000], table.iloc[8000:]


def csv_text(frame):
    return frame.to_csv(header=False, index=False)


def test_csv_channels_log_the_algorithms_eval_lines_and_save_a_booster(tmp_path, split):
    """CSV, label first, no header; the log's per-round lines are what the validation:auc
    definition reads once CloudWatch shows tabs as #011; early stopping keeps the best round;
    xgboost-model is Booster.save_model's binary format for the 1.7-1 image, not a pickle."""
    import re

    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    train_rows, validation_rows = split
    proc = train(tmp_path, HPS, {"train": {"train.csv": csv_text(train_rows)},
                                 "validation": {"validation.csv": csv_text(validation_rows)}})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rounds = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    assert rounds[0].startswith("[0]\ttrain-auc:") and "\tvalidation-auc:" in rounds[0]
    values = [float(re.match(VALIDATION_AUC, r.replace("\t", "#011")).group(1)) for r in rounds]
    assert max(values) > 0.84  # the README's reference AUC for this table is 0.866 +- 0.006
    model_file = tmp_path / "opt/ml/model/xgboost-model"
    assert model_file.read_bytes()[:4] == b"binf"  # XGBoost's binary format, as 1.7 writes it
    booster = xgb.Booster(model_file=str(model_file))
    best = int(np.argmax(values))
    if len(rounds) < 40:  # stopped early: the model is cut at the best round
        assert booster.num_boosted_rounds() == best + 1
        assert best + 1 < len(rounds) <= best + 1 + 5  # five rounds with no gain
    scores = booster.predict(xgb.DMatrix(validation_rows.iloc[:, 1:].to_numpy()))
    assert roc_auc_score(validation_rows.iloc[:, 0], scores) == pytest.approx(
        values[best], abs=1e-4
    )


def test_the_3_0_image_writes_ubjson_and_libsvm_is_the_default_content_type(tmp_path, split):
    train_rows, _ = split
    hps = {"num_round": "5", "objective": "binary:logistic"}
    proc = train(tmp_path, hps, {"train": {"train.libsvm": libsvm_lines(train_rows)}},
                 content_type=None, version="3.0-5")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("[4]\ttrain-logloss:")
    assert (tmp_path / "opt/ml/model/xgboost-model").read_bytes()[:1] == b"{"  # UBJSON


def test_parquet_channels_train_with_the_label_in_column_0(tmp_path, split):
    import io

    train_rows, validation_rows = split
    files = {}
    for name, frame in (("train", train_rows), ("validation", validation_rows)):
        buffer = io.BytesIO()
        frame.set_axis([str(c) for c in frame.columns], axis=1).to_parquet(buffer)
        files[name] = {name + ".parquet": buffer.getvalue()}
    proc = train(tmp_path, dict(HPS, num_round="10"), files, content_type="application/x-parquet")
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.splitlines()[-1].rsplit(":", 1)[1]) > 0.8


@pytest.mark.parametrize(
    "hyperparameters, message",
    [
        ({"objective": "binary:logistic"}, "ClientError: Missing required hyperparameter: num_round"),
        (dict(HPS, eta="2"), "ClientError: Hyperparameter eta: 2.0 is not in [0, 1]"),
        (dict(HPS, learning_rate="1.5"), "ClientError: Hyperparameter eta: 1.5 is not in [0, 1]"),
        (dict(HPS, num_round="ten"), "ClientError: Hyperparameter num_round: could not parse value"),
        (dict(HPS, n_estimators="5"), "ClientError: Extraneous hyperparameter found: n_estimators"),
        (dict(HPS, objective="reg:squarederror"),
         "ClientError: Metric 'auc' can only be applied for classification and ranking problems."),
        (dict(HPS, objective="multi:softmax"),
         "ClientError: Require input for parameter 'num_class' for multi-classification"),
    ],
)  # fmt: skip
def test_hyperparameters_are_refused_with_the_toolkits_words(tmp_path, hyperparameters, message):
    proc = train(tmp_path, hyperparameters, {"train": {"train.csv": "1,2,3\n0,1,1\n"}})
    assert proc.returncode == 1
    assert failure(tmp_path).startswith(message), failure(tmp_path)
    assert message in proc.stderr


@pytest.mark.parametrize(
    "content_type, channels, message",
    [
        ("application/x-recordio-protobuf", {"train": {"a": "x"}},
         "ContentType application/x-recordio-protobuf is not read by the local XGBoost algorithm"),
        ("text/csv; label_size=2", {"train": {"a": "1,2\n"}},
         "text/csv; label_size=2 is not an accepted csv ContentType"),
        ("text/csv", {"validation": {"a": "1,2\n"}}, "Missing required channel: train"),
        ("text/csv", {"train": {"a": "1,2\n"}, "test": {"a": "1,2\n"}},
         "Extraneous channel found: test"),
        ("text/csv", {"train": {".hidden": "1,2\n"}}, "Hidden file found in the data path!"),
        ("text/csv", {"train": {"a": "1,2\n"}, "validation": {}},
         "No data in validation channel path"),
        (None, {"train": {"a": "1,2,3\n"}}, "is not 'LIBSVM' format"),
    ],
)  # fmt: skip
def test_channels_are_read_by_content_type_and_refused_as_the_image_refuses(
    tmp_path, content_type, channels, message
):
    proc = train(tmp_path, {"num_round": "2"}, channels, content_type=content_type)
    assert proc.returncode == 1
    assert message in failure(tmp_path), failure(tmp_path)


# ----------------------------------------------------------------------------- inference


def load_algorithm_inference():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "xgboost_algorithm_inference", ROOT / "inference" / "xgboost_algorithm.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained(tmp_path_factory, split):
    root = tmp_path_factory.mktemp("algorithm-model")
    train_rows, validation_rows = split
    proc = train(root, dict(HPS, num_round="20"), {"train": {"t.csv": csv_text(train_rows)},
                                                   "validation": {"v.csv": csv_text(validation_rows)}})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return root / "opt/ml/model", validation_rows


def test_inference_answers_csv_libsvm_and_json_as_the_image_does(trained, monkeypatch):
    """Common Data Formats for Inference: CSV without the label, libsvm; answers one score a
    line (text/csv) or {"predictions": [{"score": s}]} (application/json); a JSON request is
    not an input format of the algorithm (415), an unknown Accept a 406, an empty body 204."""
    import xgboost as xgb

    monkeypatch.delenv("SAGEMAKER_BATCH", raising=False)
    monkeypatch.delenv("SAGEMAKER_INFERENCE_OUTPUT", raising=False)
    inference = load_algorithm_inference()
    model_dir, rows = trained
    model = inference.model_fn(str(model_dir))
    features = rows.iloc[:5, 1:]
    expected = xgb.Booster(model_file=str(model_dir / "xgboost-model")).predict(
        xgb.DMatrix(features.to_numpy())
    )

    def call(body, content_type, accept):
        data = inference.input_fn(body, content_type)
        return inference.output_fn(inference.predict_fn(data, model), accept)

    body, media = call(features.to_csv(header=False, index=False).encode(), "text/csv", None)
    assert media == "text/csv"
    assert [float(v) for v in body.splitlines()] == pytest.approx(expected.tolist(), abs=1e-6)
    libsvm = "\n".join(
        line.split(" ", 1)[1] for line in libsvm_lines(rows.iloc[:5], zeros=True).splitlines()
    )
    body, _ = call(libsvm.encode(), "text/libsvm", "application/json")
    scores = [p["score"] for p in json.loads(body)["predictions"]]
    assert scores == pytest.approx(expected.tolist(), abs=1e-6)

    for body, content_type, accept, status in (
        (b'{"instances": [[1, 2]]}', "application/json", "text/csv", 415),
        (b"1,2,3", "text/csv", "text/html", 406),
        (b"", "text/csv", "text/csv", 204),
    ):
        with pytest.raises(inference.InferenceError) as refused:
            call(body, content_type, accept)
        assert refused.value.status_code == status

    monkeypatch.setenv("SAGEMAKER_INFERENCE_OUTPUT", "predicted_label,probability")
    body, _ = call(
        features.to_csv(header=False, index=False).encode(), "text/csv", "application/json"
    )
    first = json.loads(body)["predictions"][0]
    assert first == {
        "predicted_label": int(expected[0] > 0.5),
        "probability": pytest.approx(float(expected[0])),
    }


def test_a_pickled_model_is_never_loaded(tmp_path):
    """Images before 1.3-1 pickled the booster; the local stand-in refuses to unpickle."""
    import pickle

    (tmp_path / "xgboost-model").write_bytes(pickle.dumps({"not": "a booster"}))
    inference = load_algorithm_inference()
    with pytest.raises(inference.InferenceError, match="pickled model"):
        inference.model_fn(str(tmp_path))
