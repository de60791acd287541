"""evaluation/evaluate.py, run the way the processing job runs it: a separate process on folders.

A small real XGBoost model is trained here on synthetic data whose label depends on the features;
metrics are checked against scikit-learn on the same probabilities. Crafted archives check that
extraction refuses anything that could write outside its folder.
"""

import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import xgboost
from sklearn import metrics as skm

SCRIPT = Path(__file__).resolve().parents[2] / "evaluation" / "evaluate.py"
N_FEATURES = 5
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# docs/container-contracts.md 4.3: the full binary-classification list, in its order.
CONVENTION_METRICS = (
    "confusion_matrix",
    "recall",
    "precision",
    "accuracy",
    "recall_best_constant_classifier",
    "precision_best_constant_classifier",
    "accuracy_best_constant_classifier",
    "true_positive_rate",
    "true_negative_rate",
    "false_positive_rate",
    "false_negative_rate",
    "receiver_operating_characteristic_curve",
    "precision_recall_curve",
    "auc",
    "f0_5",
    "f1",
    "f2",
    "f0_5_best_constant_classifier",
    "f1_best_constant_classifier",
    "f2_best_constant_classifier",
)
SCALARS = tuple(
    name
    for name in CONVENTION_METRICS
    if name
    not in ("confusion_matrix", "receiver_operating_characteristic_curve", "precision_recall_curve")
)


def synthetic(n, seed):
    """Labels that depend on the features, with enough noise that no threshold separates them.
    Features are multiples of 1/64, exact in float32 and in the CSV text."""
    rng = np.random.default_rng(seed)
    features = rng.integers(-256, 256, size=(n, N_FEATURES)) / 64.0
    score = features[:, 0] + 0.7 * features[:, 1] - 0.5 * features[:, 2]
    labels = (score + rng.normal(0.0, 2.0, n) > 1.0).astype(int)
    return labels, features.astype(np.float32)


def write_test_csv(folder, labels, features):
    folder.mkdir(parents=True, exist_ok=True)
    rows = np.column_stack([labels, features])
    np.savetxt(folder / "test.csv", rows, fmt=["%d"] + ["%.6f"] * features.shape[1], delimiter=",")
    return folder


def add_bytes(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def add_special(archive, name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    archive.addfile(info)


@pytest.fixture(scope="module")
def booster_bytes(tmp_path_factory):
    """A real booster saved the way training saves it: save_model to `xgboost-model`."""
    labels, features = synthetic(600, seed=1)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": 0, "nthread": 1},
        xgboost.DMatrix(features, label=labels),
        num_boost_round=30,
    )
    path = tmp_path_factory.mktemp("booster") / "xgboost-model"
    with warnings.catch_warnings():
        # Without an extension XGBoost warns that it picks UBJSON: the format the contract wants.
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(path))
    return path.read_bytes()


def write_model(folder, booster_bytes, extra=(), spec=None):
    """model.tar.gz with the training layout (preprocessing.json: `spec`), then any (name,
    TarInfo type, linkname or bytes) members in `extra`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        add_bytes(archive, "xgboost-model", booster_bytes)
        add_bytes(archive, "preprocessing.json", json.dumps(spec or {"feature_names": []}).encode())
        for name, kind, payload in extra:
            if kind == tarfile.REGTYPE:
                add_bytes(archive, name, payload)
            else:
                add_special(archive, name, kind, payload)
    return path


def predict(booster_bytes, features):
    booster = xgboost.Booster()
    booster.load_model(bytearray(booster_bytes))
    return booster.predict(xgboost.DMatrix(features))


def run(tmp_path, model, test, output, *extra):
    """evaluate.py in a child process; its temp folder is tmp_path/tmp so tests can see what
    extraction leaves behind."""
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(scratch))
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--model-dir",
            str(model),
            "--test-dir",
            str(test),
            "--output-dir",
            str(output),
        ]
        + list(extra),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def strict_json(path):
    def reject(constant):
        raise AssertionError("non-standard JSON constant %s" % constant)

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


def assert_user_error(result, *fragments):
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("evaluate: error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


# --------------------------------------------------------------------------------------------
# A good run, 300 rows


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, booster_bytes):
    root = tmp_path_factory.mktemp("good")
    labels, features = synthetic(300, seed=2)
    write_model(root / "model", booster_bytes)
    write_test_csv(root / "test", labels, features)
    result = run(root, root / "model", root / "test", root / "out")
    assert result.returncode == 0, result.stderr
    report = strict_json(root / "out" / "evaluation.json")
    return {
        "result": result,
        "report": report,
        "metrics": report["binary_classification_metrics"],
        "out": root / "out",
        "labels": labels,
        "probabilities": predict(booster_bytes, features),
    }


def test_report_follows_the_model_quality_convention(good_run):
    report, metrics = good_run["report"], good_run["metrics"]
    assert report["version"] == 0.0
    assert report["dataset"]["item_count"] == 300
    assert report["dataset"]["evaluation_time"].endswith("Z")
    assert list(metrics) == list(CONVENTION_METRICS) + ["pr_auc"]  # pr_auc: the one extra
    for name in SCALARS + ("pr_auc",):
        assert set(metrics[name]) == {"value", "standard_deviation"}, name
        assert isinstance(metrics[name]["value"], float), name
    cm = metrics["confusion_matrix"]
    assert sum(cm[actual][predicted] for actual in "01" for predicted in "01") == 300


def test_auc_is_computed_on_probabilities_not_on_rounded_labels(good_run):
    labels, probabilities = good_run["labels"], good_run["probabilities"]
    auc_on_probabilities = skm.roc_auc_score(labels, probabilities)
    auc_on_labels = skm.roc_auc_score(labels, probabilities >= 0.5)
    assert abs(auc_on_probabilities - auc_on_labels) > 0.02  # the test can tell them apart
    assert good_run["metrics"]["auc"]["value"] == pytest.approx(auc_on_probabilities, abs=1e-12)
    assert good_run["metrics"]["pr_auc"]["value"] == pytest.approx(
        skm.average_precision_score(labels, probabilities), abs=1e-12
    )


def test_threshold_metrics_match_scikit_learn(good_run):
    labels, metrics = good_run["labels"], good_run["metrics"]
    predicted = (good_run["probabilities"] >= 0.5).astype(int)
    (tn, fp), (fn, tp) = skm.confusion_matrix(labels, predicted)
    assert metrics["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    expected = {
        "recall": skm.recall_score(labels, predicted),
        "precision": skm.precision_score(labels, predicted),
        "accuracy": skm.accuracy_score(labels, predicted),
        "true_positive_rate": tp / (tp + fn),
        "true_negative_rate": tn / (tn + fp),
        "false_positive_rate": fp / (fp + tn),
        "false_negative_rate": fn / (fn + tp),
        "f0_5": skm.fbeta_score(labels, predicted, beta=0.5),
        "f1": skm.f1_score(labels, predicted),
        "f2": skm.fbeta_score(labels, predicted, beta=2),
    }
    for name, value in expected.items():
        assert metrics[name]["value"] == pytest.approx(value, abs=1e-12), name


def test_best_constant_classifier_predicts_positive_for_every_row(good_run):
    labels, metrics = good_run["labels"], good_run["metrics"]
    everyone = np.ones_like(labels)
    assert metrics["recall_best_constant_classifier"]["value"] == 1.0
    for name, value in {
        "precision": skm.precision_score(labels, everyone),
        "accuracy": skm.accuracy_score(labels, everyone),
        "f0_5": skm.fbeta_score(labels, everyone, beta=0.5),
        "f1": skm.f1_score(labels, everyone),
        "f2": skm.fbeta_score(labels, everyone, beta=2),
    }.items():
        assert metrics[name + "_best_constant_classifier"]["value"] == pytest.approx(value), name


def test_standard_deviations_are_numbers_from_200_rows(good_run):
    for name in SCALARS + ("pr_auc",):
        deviation = good_run["metrics"][name]["standard_deviation"]
        assert isinstance(deviation, float) and 0.0 <= deviation < 0.2, (name, deviation)
    assert good_run["metrics"]["auc"]["standard_deviation"] > 0.0


def test_curves_are_short_exact_and_span_the_unit_square(good_run):
    labels, probabilities, metrics = (
        good_run["labels"],
        good_run["probabilities"],
        good_run["metrics"],
    )
    roc = metrics["receiver_operating_characteristic_curve"]
    fpr, tpr = roc["false_positive_rates"], roc["true_positive_rates"]
    assert 2 < len(fpr) == len(tpr) <= 200
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    full_fpr, full_tpr, _ = skm.roc_curve(labels, probabilities, drop_intermediate=False)
    on_curve = set(zip(np.round(full_fpr, 12), np.round(full_tpr, 12)))
    assert set(zip(np.round(fpr, 12), np.round(tpr, 12))) <= on_curve

    pr = metrics["precision_recall_curve"]
    precisions, recalls = pr["precisions"], pr["recalls"]
    assert 2 < len(recalls) == len(precisions) <= 200
    assert (recalls[0], precisions[0], recalls[-1]) == (0.0, 1.0, 1.0)
    full_precision, full_recall, _ = skm.precision_recall_curve(labels, probabilities)
    on_curve = set(zip(np.round(full_recall, 12), np.round(full_precision, 12)))
    assert set(zip(np.round(recalls, 12), np.round(precisions, 12))) <= on_curve


def test_plots_and_summary_are_written(good_run):
    out = good_run["out"]
    for name in ("roc_curve.png", "precision_recall_curve.png"):
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE), name
    assert sorted(p.name for p in out.iterdir()) == [
        "evaluation.json",
        "precision_recall_curve.png",
        "roc_curve.png",
    ]  # no temp names left
    summary = good_run["result"].stdout.strip().splitlines()
    assert len(summary) == 1 and "300 rows" in summary[0] and "auc" in summary[0]


# --------------------------------------------------------------------------------------------
# Small test sets, metric helpers


def test_fewer_than_200_rows_report_NaN_deviations(tmp_path, booster_bytes):
    labels, features = synthetic(150, seed=3)
    archive = write_model(tmp_path / "model", booster_bytes)
    write_test_csv(tmp_path / "test", labels, features)
    # --model-dir may name the archive itself; a high threshold flags few rows.
    result = run(tmp_path, archive, tmp_path / "test", tmp_path / "out", "--threshold", "0.9")
    assert result.returncode == 0, result.stderr
    metrics = strict_json(tmp_path / "out" / "evaluation.json")["binary_classification_metrics"]
    for name in SCALARS + ("pr_auc",):
        assert metrics[name]["standard_deviation"] == "NaN", name
    predicted = predict(booster_bytes, features) >= 0.9
    assert metrics["confusion_matrix"]["1"]["1"] + metrics["confusion_matrix"]["0"]["1"] == int(
        predicted.sum()
    )


def load_script():
    spec = importlib.util.spec_from_file_location("evaluate_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.fast
def test_no_flagged_rows_give_zero_precision_without_nan():
    evaluate = load_script()
    labels = np.array([0, 1] * 150)
    probabilities = np.linspace(0.05, 0.45, 300)  # nothing reaches the threshold
    report = evaluate.evaluation_report(labels, probabilities, threshold=0.5, seed=0)
    json.dumps(report, allow_nan=False)
    metrics = report["binary_classification_metrics"]
    assert metrics["precision"]["value"] == 0.0 and metrics["recall"]["value"] == 0.0
    assert metrics["f1"]["value"] == 0.0


def scored_rows(n, seed, separation, distinct_scores):
    """(0/1 labels, probabilities) of `n` rows, churners scored `separation` higher on average;
    the probabilities rounded to `distinct_scores` levels, or left distinct with None."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    probabilities = np.clip(separation * labels + rng.uniform(0.0, 0.6, n), 0.0, 1.0)
    if distinct_scores:
        probabilities = np.round(probabilities * distinct_scores) / distinct_scores
    return labels, probabilities


@pytest.mark.fast
@pytest.mark.parametrize("distinct_scores", [10, None])
def test_bootstrap_deviation_matches_the_binomial_error_of_accuracy(distinct_scores):
    """Both ways of drawing resamples (per (score, class) cell when scores are few, per row when
    they are many) give the textbook standard error sqrt(a (1 - a) / n) of an accuracy a."""
    evaluate = load_script()
    n = 2000
    labels, probabilities = scored_rows(n, 8, 0.5, distinct_scores)
    report = evaluate.evaluation_report(labels, probabilities, threshold=0.5, seed=0)
    accuracy = report["binary_classification_metrics"]["accuracy"]
    expected = np.sqrt(accuracy["value"] * (1 - accuracy["value"]) / n)
    assert accuracy["standard_deviation"] == pytest.approx(expected, rel=0.25)
    again = evaluate.evaluation_report(labels, probabilities, threshold=0.5, seed=0)
    assert again["binary_classification_metrics"] == report["binary_classification_metrics"]


@pytest.mark.fast
def test_thinning_keeps_endpoints_and_at_most_200_points():
    evaluate = load_script()
    x = np.linspace(0.0, 1.0, 5001)
    y = np.sqrt(x)
    thin_x, thin_y = evaluate.thin_curve(x, y)
    assert len(thin_x) <= 200
    assert (thin_x[0], thin_y[0], thin_x[-1], thin_y[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.allclose(np.sqrt(thin_x), thin_y)  # points are taken from the curve itself
    # A straight line needs only its ends.
    assert evaluate.thin_curve(x, x) == ([0.0, 1.0], [0.0, 1.0])


# --------------------------------------------------------------------------------------------
# Unsafe archives: refused, exit 1, nothing written anywhere


def unsafe_members(tmp_path):
    """name -> (members to append after a valid model, path that must not appear or change)."""
    sentinel = tmp_path / "sentinel.txt"
    return {
        "dot-dot": ([("../evil", tarfile.REGTYPE, b"pwned")], tmp_path / "tmp" / "evil"),
        "absolute": (
            [(str(tmp_path / "absolute" / "evil"), tarfile.REGTYPE, b"pwned")],
            tmp_path / "absolute" / "evil",
        ),
        # A link out of the folder, then a file written through it.
        "symlink": (
            [
                ("escape", tarfile.SYMTYPE, str(tmp_path / "outside")),
                ("escape/evil", tarfile.REGTYPE, b"pwned"),
            ],
            tmp_path / "outside" / "evil",
        ),
        # A hard link to a file outside, then a file of the same name overwriting it.
        "hardlink": (
            [("shared", tarfile.LNKTYPE, str(sentinel)), ("shared", tarfile.REGTYPE, b"pwned")],
            sentinel,
        ),
        "device": ([("console", tarfile.CHRTYPE, "")], None),
        "fifo": ([("pipe", tarfile.FIFOTYPE, "")], None),
    }


UNSAFE_MESSAGES = {
    "dot-dot": "'..'",
    "absolute": "absolute path",
    "symlink": "symbolic link",
    "hardlink": "hard link",
    "device": "device",
    "fifo": "FIFO",
}


@pytest.mark.parametrize("case", sorted(UNSAFE_MESSAGES))
def test_unsafe_archive_is_refused_and_nothing_is_written(tmp_path, booster_bytes, case):
    members, target = unsafe_members(tmp_path)[case]
    (tmp_path / "outside").mkdir()
    (tmp_path / "sentinel.txt").write_text("original")
    write_model(tmp_path / "model", booster_bytes, members)
    write_test_csv(tmp_path / "test", *synthetic(50, seed=4))

    result = run(tmp_path, tmp_path / "model", tmp_path / "test", tmp_path / "out")

    assert_user_error(
        result, "unsafe", repr(members[0][0]), UNSAFE_MESSAGES[case], "nothing was extracted"
    )
    if target is not None:
        assert not target.exists() or target.read_text() == "original"
    assert list((tmp_path / "tmp").iterdir()) == []  # extraction folder gone, nothing beside it
    assert list((tmp_path / "outside").iterdir()) == []
    assert (tmp_path / "sentinel.txt").read_text() == "original"
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# Other user errors: one line on stderr, exit 1


def test_missing_test_csv_is_a_clear_error(tmp_path, booster_bytes):
    write_model(tmp_path / "model", booster_bytes)
    (tmp_path / "test").mkdir()
    result = run(tmp_path, tmp_path / "model", tmp_path / "test", tmp_path / "out")
    assert_user_error(result, "no test.csv in", str(tmp_path / "test"))


def test_missing_model_archive_is_a_clear_error(tmp_path):
    (tmp_path / "model").mkdir()
    write_test_csv(tmp_path / "test", *synthetic(50, seed=5))
    result = run(tmp_path, tmp_path / "model", tmp_path / "test", tmp_path / "out")
    assert_user_error(result, "no model.tar.gz in", str(tmp_path / "model"))


def test_archive_without_booster_is_a_clear_error(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    with tarfile.open(folder / "model.tar.gz", "w:gz") as archive:
        add_bytes(archive, "preprocessing.json", b"{}")
    write_test_csv(tmp_path / "test", *synthetic(50, seed=6))
    result = run(tmp_path, folder, tmp_path / "test", tmp_path / "out")
    assert_user_error(result, "has no xgboost-model", "preprocessing.json")


def test_feature_count_mismatch_is_a_clear_error(tmp_path, booster_bytes):
    write_model(tmp_path / "model", booster_bytes)
    labels, features = synthetic(50, seed=7)
    write_test_csv(tmp_path / "test", labels, features[:, :-1])
    result = run(tmp_path, tmp_path / "model", tmp_path / "test", tmp_path / "out")
    assert_user_error(result, "4 feature columns", "expects 5")
    assert not (tmp_path / "out").exists()


def test_empty_test_csv_is_a_clear_error(tmp_path, booster_bytes):
    write_model(tmp_path / "model", booster_bytes)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test.csv").write_text("")
    result = run(tmp_path, tmp_path / "model", tmp_path / "test", tmp_path / "out")
    assert_user_error(result, "is empty")


# --------------------------------------------------------------------------------------------
# Data checks: preprocessing's facts (in the artifact's preprocessing.json), judged here


def facts(top_auc=0.73, repeated=0, distinctive=280, varying=5, compared=300):
    """data_checks as processing/preprocess.py writes them."""
    return {
        "single_feature_auc": [
            {"feature": "is_active", "auc": top_auc, "rows": 700},
            {"feature": "age", "auc": 0.66, "rows": 700},
        ],
        "train_test_overlap": {
            "test_rows": 300,
            "compared_test_rows": compared,
            "distinctive_test_rows": distinctive,
            "repeated": repeated,
        },
        "varying_features": {
            "features": 5,
            "varying": varying,
            "constant": ["age", "tenure", "balance", "num_products", "is_active"][varying:],
        },
    }


@pytest.fixture(scope="module")
def test_split(tmp_path_factory):
    labels, features = synthetic(300, seed=2)
    return write_test_csv(tmp_path_factory.mktemp("split") / "test", labels, features)


@pytest.mark.parametrize(
    "found, thresholds, failed, reason",
    [
        (facts(), [], 0, ""),
        (
            facts(top_auc=1.0),
            [],
            1,
            "feature 'is_active' alone separates the target (AUC 1.0000, MaxFeatureAuc 0.99)",
        ),
        (facts(top_auc=0.95), ["--max-feature-auc", "0.9"], 1, "(AUC 0.9500, MaxFeatureAuc 0.9)"),
        (
            facts(repeated=196),
            [],
            1,
            "196 of the 280 test rows with a distinctive value (70.0%, MaxTrainTestOverlap 0.05) "
            "repeat a train row feature for feature",
        ),
        (
            facts(repeated=40, distinctive=50, compared=60),  # a table of many distinct rows
            [],
            1,
            "40 of the 50 test rows with a distinctive value among 60 test rows chosen by hash "
            "of 300 (80.0%",
        ),
        (facts(repeated=196), ["--max-train-test-overlap", "0.8"], 0, ""),
        (facts(repeated=10, distinctive=12), [], 0, ""),  # too few rows to judge a split by
        (facts(varying=0), [], 1, "no feature varies in the train split (5 features"),
        (facts(top_auc=1.0, varying=0), [], 2, "; no feature varies"),
    ],
)
def test_the_data_checks_are_judged_against_their_thresholds(
    tmp_path, booster_bytes, test_split, found, thresholds, failed, reason
):
    write_model(tmp_path / "model", booster_bytes, spec={"data_checks": found})
    result = run(tmp_path, tmp_path / "model", test_split, tmp_path / "out", *thresholds)
    assert result.returncode == 0, result.stderr
    verdict = strict_json(tmp_path / "out" / "evaluation.json")["data_checks"]
    assert (verdict["failed"], verdict["passed"]) == (failed, failed == 0)
    assert reason in verdict["reason"] and bool(verdict["reason"]) == bool(failed)
    # What was found is reported whether or not it passed: each check, its threshold, its facts.
    assert verdict["single_feature_auc"]["strongest"] == found["single_feature_auc"][0]
    assert verdict["train_test_overlap"]["repeated"] == found["train_test_overlap"]["repeated"]
    assert verdict["varying_features"]["varying"] == found["varying_features"]["varying"]
    assert ("data checks: %s" % ("passed" if not failed else "FAILED")) in result.stdout


def test_a_model_without_data_checks_is_not_judged(tmp_path, booster_bytes, test_split):
    """A model trained on a prepared table (the direct workflow) carries no facts."""
    write_model(tmp_path / "model", booster_bytes)
    result = run(tmp_path, tmp_path / "model", test_split, tmp_path / "out")
    assert result.returncode == 0 and "data checks: none" in result.stdout, result.stderr
    verdict = strict_json(tmp_path / "out" / "evaluation.json")["data_checks"]
    assert verdict["failed"] == 0 and "holds no data checks" in verdict["note"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--max-feature-auc", "0.4"], "--max-feature-auc (MaxFeatureAuc) must be above 0.5"),
        (["--max-train-test-overlap", "1.5"], "must be a share from 0 to 1, got 1.5"),
    ],
)
def test_thresholds_outside_their_range_are_one_line(
    tmp_path, booster_bytes, test_split, arguments, message
):
    write_model(tmp_path / "model", booster_bytes, spec={"data_checks": facts()})
    assert_user_error(
        run(tmp_path, tmp_path / "model", test_split, tmp_path / "out", *arguments), message
    )


# --------------------------------------------------------------------------------------------
# Divided over instances (the pipeline's EvaluateShards and EvaluateModel): the same report


def write_parts(folder, labels, features, bounds):
    """The test split as PreprocessData writes it for several instances: consecutive runs of
    rows in test-part-00000.csv ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        rows = np.column_stack([labels[start:stop], features[start:stop]])
        fmt = ["%d"] + ["%.6f"] * features.shape[1]
        np.savetxt(folder / ("test-part-%05d.csv" % i), rows, fmt=fmt, delimiter=",")
    return folder


def shard(tmp_path, host, model, test, shards, *extra):
    """evaluate.py --shard-of as one instance named `host` of a sharded job."""
    config = tmp_path / ("%s-resourceconfig.json" % host)
    config.write_text(json.dumps({"current_host": host, "hosts": ["algo-1", "algo-2", "algo-3"]}))
    return run(tmp_path, model, test, shards, "--shard-of", str(config), *extra)


def merge(tmp_path, model, shards, output, *extra):
    """evaluate.py --merge: the shards' counts into the report (no test split read)."""
    return run(tmp_path, model, tmp_path / "no-test-split", output, "--merge", str(shards), *extra)


def same_report(a, b):
    """Two evaluation.json files equal in everything but the time they were written."""
    left, right = strict_json(a), strict_json(b)
    for report in (left, right):
        report["dataset"].pop("evaluation_time")
    return left == right


def test_three_instances_write_the_report_one_instance_writes(tmp_path, booster_bytes):
    """Each instance scores its parts of the split and counts each class per distinct score;
    the merge sums the counts. The report (metrics, curves, bootstrap deviations, data checks)
    and the plots are those of one instance over all the rows, whichever way they divide: an
    instance given no part (a split in fewer files than instances) adds nothing."""
    rows = 300
    labels, features = synthetic(rows, seed=11)
    spec = {"data_checks": facts()}
    model = write_model(tmp_path / "model", booster_bytes, spec=spec)
    whole = write_test_csv(tmp_path / "whole", labels, features)
    single = run(tmp_path, model, whole, tmp_path / "single")
    assert single.returncode == 0, single.stderr

    # Three parts: algo-1 is given two (read in name order), algo-2 one, algo-3 none.
    parts = write_parts(tmp_path / "parts", labels, features, [0, 60, 120, rows])
    hosts = {"algo-1": parts / "a", "algo-2": parts / "b", "algo-3": parts / "none"}
    for name, host in (("00000", "a"), ("00001", "a"), ("00002", "b")):
        (parts / host).mkdir(exist_ok=True)
        (parts / ("test-part-%s.csv" % name)).rename(parts / host / ("test-part-%s.csv" % name))
    for host, folder in hosts.items():
        # Seven rows at a time on one instance: chunks merge as instances do.
        result = shard(tmp_path, host, model, folder, tmp_path / "shards", "--chunk-rows", "7")
        assert result.returncode == 0, result.stderr
        assert "evaluate: %s scored" % host in result.stdout
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == sorted(hosts)
    merged = merge(tmp_path, model, tmp_path / "shards", tmp_path / "merged")
    assert merged.returncode == 0, merged.stderr

    assert same_report(
        tmp_path / "single" / "evaluation.json", tmp_path / "merged" / "evaluation.json"
    )
    report = strict_json(tmp_path / "merged" / "evaluation.json")
    assert report["dataset"]["item_count"] == rows
    auc = report["binary_classification_metrics"]["auc"]["value"]
    assert auc == pytest.approx(skm.roc_auc_score(labels, predict(booster_bytes, features)))
    for plot in ("roc_curve.png", "precision_recall_curve.png"):
        assert (tmp_path / "merged" / plot).read_bytes() == (
            tmp_path / "single" / plot
        ).read_bytes()


@pytest.mark.fast
@pytest.mark.parametrize("distinct_scores", [20, None])  # resampled per cell / per row
def test_counts_summed_over_any_division_give_the_whole_splits_report(distinct_scores):
    """The pure part of the above, with both ways of drawing the bootstrap's resamples: the
    report from counts merged over uneven parts is the report of all the rows at once."""
    evaluate = load_script()
    n = 3000
    labels, probabilities = scored_rows(n, 14, 0.4, distinct_scores)
    whole = evaluate.evaluation_report(labels, probabilities, threshold=0.5, seed=0)
    bounds = [0, 1, 700, 700, 2999, n]
    parts = [
        evaluate.count_scores(labels[a:b], probabilities[a:b]) for a, b in zip(bounds, bounds[1:])
    ]
    scores, counts = evaluate.merge_counts(parts[::-1])
    divided = evaluate.report_from_counts(scores, counts, threshold=0.5, seed=0)
    for report in (whole, divided):
        report["dataset"].pop("evaluation_time")
    assert divided == whole
    assert divided["dataset"]["item_count"] == n


def test_a_merge_without_counts_or_of_one_class_is_one_line(tmp_path, booster_bytes):
    model = write_model(tmp_path / "model", booster_bytes)
    (tmp_path / "empty").mkdir()
    assert_user_error(
        merge(tmp_path, model, tmp_path / "empty", tmp_path / "out"),
        "no evaluation_shard.npz under",
        "evaluate.py --shard-of writes them",
    )
    labels, features = synthetic(100, seed=12)
    churned = write_test_csv(tmp_path / "churned", labels[labels == 1], features[labels == 1])
    assert shard(tmp_path, "algo-1", model, churned, tmp_path / "shards").returncode == 0
    assert_user_error(
        merge(tmp_path, model, tmp_path / "shards", tmp_path / "out"),
        "the test split (the shards' counts under",
        "holds only rows labelled 1; AUC and",
    )
    assert not (tmp_path / "out").exists()


def test_a_shard_file_that_is_not_counts_is_refused(tmp_path, booster_bytes):
    model = write_model(tmp_path / "model", booster_bytes)
    forged = tmp_path / "shards" / "algo-1" / "evaluation_shard.npz"
    forged.parent.mkdir(parents=True)
    meta = np.array(json.dumps({"format": "churn-evaluation-shard/1"}))
    np.savez(forged, meta=meta, scores=np.array([0.9, 0.1]), counts=np.array([[1, 2], [3, 4]]))
    assert_user_error(
        merge(tmp_path, model, tmp_path / "shards", tmp_path / "out"),
        str(forged),
        "is not an evaluation shard's counts",
        "not ascending scores",
    )
    forged.write_bytes(b"PK\x03\x04 not a zip")
    assert_user_error(
        merge(tmp_path, model, tmp_path / "shards", tmp_path / "out"),
        "is not an evaluation shard's counts",
    )
    assert not (tmp_path / "out").exists()


def test_a_bad_label_names_its_file_and_line(tmp_path, booster_bytes):
    model = write_model(tmp_path / "model", booster_bytes)
    labels, features = synthetic(40, seed=13)
    labels = labels.copy()
    labels[22] = 2
    test = write_test_csv(tmp_path / "test", labels, features)
    assert_user_error(
        run(tmp_path, model, test, tmp_path / "out", "--chunk-rows", "10"),
        "%s: line 23 has the label 2.0; the first column must be 0 or 1" % (test / "test.csv"),
    )
