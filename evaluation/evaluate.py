"""Evaluate a trained churn model on the held-out test split.

Runs unchanged as a SageMaker Processing job (xgboost 3.0-5 image), under the local runner and in
a test. Reads

  <model-dir>/model.tar.gz   the training artifact (or --model-dir names the archive itself):
                             `xgboost-model` (XGBoost's own UBJSON format, never pickle) and
                             `preprocessing.json` at its root; unpacked into a temporary
                             folder, refusing links, devices and paths leaving the folder
  <test-dir>/*.csv           the test split: test.csv, or its parts test-part-00000.csv ...
                             (read in name order); no header, label (0/1) first, float
                             features after it

and writes to <output-dir>

  evaluation.json            model-quality metrics in the Model Monitor convention
                             (docs/container-contracts.md 4.3); the pipeline's ConditionStep reads
                             binary_classification_metrics.auc.value. Beside them, data_checks:
                             the verdict on what preprocessing found in the table (the facts in
                             the artifact's preprocessing.json) against --max-feature-auc and
                             --max-train-test-overlap: whether a feature alone separates the
                             target, whether the test split repeats the train split, whether
                             any feature varies. A second ConditionStep reads data_checks.failed
                             and stops a model that cannot be trusted from being registered,
                             naming data_checks.reason; the checks are reported when they pass.
  roc_curve.png, precision_recall_curve.png

AUC, PR AUC and the curves are computed on the predicted probabilities; --threshold turns them
into labels only for the confusion-matrix metrics (recall, precision, F-scores, rates). Every
output is written under a temporary name and renamed, so nothing half-written is published.

Every metric, its bootstrap deviation and the curves are computed from the count of churned
and retained rows per distinct predicted probability, which sums exactly over any division of
the rows. That divides the work over instances (the pipeline's EvaluateShards and
EvaluateModel steps), each part of the test split scored where it lies:

    python evaluate.py --model-dir M --test-dir T --output-dir O    the whole split, as above
    python evaluate.py ... --shard-of RESOURCE_CONFIG   this instance's parts of the split:
                                                        <output-dir>/<host>/evaluation_shard.npz
    python evaluate.py --merge DIR --model-dir M --output-dir O    the shards' counts summed
                                                        into evaluation.json and the plots

and the report is the same, byte for byte but for its evaluation_time, however the rows were
divided. The test split is read --chunk-rows rows at a time, so memory grows with the distinct
scores, not the rows. The counts are numpy arrays in an .npz archive, read with
allow_pickle=False.
"""

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
import zipfile

import numpy as np
import pandas as pd

# The shared job module ships beside this file in the evaluation code bundle; in the repository
# it lives with the processing scripts.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "processing")]
from churn_job import (  # noqa: E402
    ArchiveError,
    add_division_arguments,
    current_host,
    extract_archive,
    fail,
    shard_results,
    write_atomic,
    write_text_atomic,
)

FAILURE_FILE = "/opt/ml/output/message"
MODEL_ARCHIVE = "model.tar.gz"
BOOSTER_FILE = "xgboost-model"
PREPROCESSING_FILE = "preprocessing.json"
TEST_FILE = "test.csv"
SHARD_FILE = "evaluation_shard.npz"
SHARD_FORMAT = "churn-evaluation-shard/1"
CHUNK_ROWS = 500000  # test rows read and scored at a time: about 100 MB of features
# The share of distinctive test rows below which a train/test overlap is not judged: a handful
# of rows says nothing about a split.
MIN_DISTINCTIVE_ROWS = 20

# Objectives whose prediction is already the probability of class 1. Others (binary:hinge
# predicts 0/1 labels, regression objectives predict anything) would give meaningless curves.
PROBABILITY_OBJECTIVES = ("binary:logistic", "reg:logistic")

# The convention reports standard deviations only from 200 rows up, "NaN" below.
MIN_ROWS_FOR_DEVIATION = 200
BOOTSTRAP_RESAMPLES = 100
MAX_CURVE_POINTS = 200
F_SCORES = (("f0_5", 0.5), ("f1", 1.0), ("f2", 2.0))


class EvaluationError(ValueError):
    """The inputs cannot be evaluated; the message says why."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--model-dir",
        default="/opt/ml/processing/model",
        help="folder holding model.tar.gz, or the path of the archive itself",
    )
    p.add_argument(
        "--test-dir",
        default="/opt/ml/processing/test",
        help="folder holding the test split: test.csv or its parts, every .csv in name order",
    )
    p.add_argument("--output-dir", default="/opt/ml/processing/evaluation")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="probability at or above which a row is predicted to churn",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")
    p.add_argument(
        "--max-feature-auc",
        type=float,
        default=0.99,
        help="refuse the model when one feature alone reaches this AUC (a leak of the target)",
    )
    p.add_argument(
        "--max-train-test-overlap",
        type=float,
        default=0.05,
        help="refuse the model when more than this share of the test rows with a distinctive "
        "value repeat a train row (the same customers in both splits)",
    )
    add_division_arguments(p, CHUNK_ROWS, "score counts", "evaluation")
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------------------
# Model archive


def model_archive(model_dir):
    if os.path.isfile(model_dir):
        return model_dir
    path = os.path.join(model_dir, MODEL_ARCHIVE)
    if not os.path.isfile(path):
        raise EvaluationError(
            "no %s in %s: point --model-dir at the training step's model "
            "artifact" % (MODEL_ARCHIVE, model_dir)
        )
    return path


def load_model(archive_path, with_booster=True):
    """(booster, or None when not `with_booster`; the artifact's preprocessing.json as a dict,
    or None without one)."""
    with tempfile.TemporaryDirectory(prefix="evaluate-model-") as folder:
        try:
            extract_archive(archive_path, folder)
        except ArchiveError as e:
            raise EvaluationError(str(e))
        path = os.path.join(folder, BOOSTER_FILE)
        if not os.path.isfile(path):
            raise EvaluationError(
                "%s has no %s at its root (it holds: %s)"
                % (archive_path, BOOSTER_FILE, ", ".join(sorted(os.listdir(folder))) or "nothing")
            )
        spec = None
        if os.path.isfile(os.path.join(folder, PREPROCESSING_FILE)):
            try:
                with open(os.path.join(folder, PREPROCESSING_FILE), encoding="utf-8") as f:
                    spec = json.load(f)
            except ValueError as e:
                raise EvaluationError("%s in %s: %s" % (PREPROCESSING_FILE, archive_path, e))
        return (read_booster(path, archive_path) if with_booster else None), spec


def read_booster(path, archive_path):
    """The booster from XGBoost's own format: load_model, never pickle."""
    # Imported here, not at the top: xgboost takes 1.5-2.5 s to import, and a wrong path or an
    # unsafe archive should be reported without that wait.
    import xgboost

    booster = xgboost.Booster()
    try:
        booster.load_model(path)
    except xgboost.core.XGBoostError as e:
        raise EvaluationError(
            "%s in %s is not an XGBoost model: %s" % (BOOSTER_FILE, archive_path, first_line(e))
        )
    return booster


def first_line(error):
    """Library errors can run over many lines (XGBoost appends a C++ stack trace); the first
    says what went wrong."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# ---------------------------------------------------------------------------------------------
# Test data and predictions


def test_files(test_dir, none_is_empty=False):
    """The test split's files, every .csv in `test_dir` in name order (test.csv, or its parts
    test-part-00000.csv ...). An instance of a sharded job may be given none
    (`none_is_empty`): it then scores nothing."""
    try:
        names = sorted(n for n in os.listdir(test_dir) if n.endswith(".csv"))
    except OSError:
        names = []
    if not names and not none_is_empty:
        raise EvaluationError(
            "no %s in %s (nor its parts, test-part-*.csv): point --test-dir at the "
            "preprocessing step's test split" % (TEST_FILE, test_dir)
        )
    return [os.path.join(test_dir, n) for n in names]


def read_test_chunks(path, chunk_rows):
    """Yields (labels as 0/1 ints, float32 feature matrix) of each `chunk_rows` rows of a
    test split file."""
    line = 0
    try:
        for chunk in pd.read_csv(path, header=None, dtype=np.float32, chunksize=chunk_rows):
            table = chunk.to_numpy()
            labels = table[:, 0]
            bad = ~np.isin(labels, (0.0, 1.0))
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise EvaluationError(
                    "%s: line %d has the label %r; the first column must be 0 or 1"
                    % (path, line + row + 1, float(labels[row]))
                )
            line += len(table)
            yield labels.astype(np.int64), np.ascontiguousarray(table[:, 1:])
    except pd.errors.EmptyDataError:
        raise EvaluationError("%s is empty: expected rows of label then features" % path)
    except ValueError as e:  # pandas' ParserError and UnicodeDecodeError are ValueErrors
        if isinstance(e, EvaluationError):
            raise
        raise EvaluationError(
            "%s is not a headerless numeric CSV (label first): %s" % (path, first_line(e))
        )


def check_probability_model(booster):
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    if objective not in PROBABILITY_OBJECTIVES:
        raise EvaluationError(
            "the model's objective %r does not predict probabilities; train "
            "with one of %s" % (objective, ", ".join(PROBABILITY_OBJECTIVES))
        )


def predict_probabilities(booster, features):
    expected = booster.num_features()
    if features.shape[1] != expected:
        raise EvaluationError(
            "%s has %d feature columns after the label but the model expects "
            "%d: the test split and the model come from different "
            "preprocessing" % (TEST_FILE, features.shape[1], expected)
        )
    # The CSV has no header: its columns are in the booster's feature order by contract, so the
    # feature names the booster may carry are not compared.
    return booster.inplace_predict(features, validate_features=False).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Score counts: (scores, counts), the distinct predicted probabilities ascending and, for each,
# the rows of each class, counts[:, 0] retained and counts[:, 1] churned. They sum exactly.


def count_scores(labels, probabilities):
    scores, score_index = np.unique(probabilities, return_inverse=True)
    cells = score_index.reshape(-1) * 2 + labels  # the (score, class) cell of each row
    return scores, np.bincount(cells, minlength=2 * len(scores)).reshape(len(scores), 2)


def merge_counts(parts):
    """The (scores, counts) of the rows of all `parts` together."""
    parts = [part for part in parts if len(part[0])]
    if not parts:
        return np.array([], dtype=np.float64), np.zeros((0, 2), dtype=np.int64)
    if len(parts) == 1:
        return parts[0]
    scores, inverse = np.unique(np.concatenate([s for s, _ in parts]), return_inverse=True)
    counts = np.concatenate([c for _, c in parts])
    merged = np.stack(
        [
            np.bincount(inverse.reshape(-1), weights=counts[:, k], minlength=len(scores))
            for k in (0, 1)
        ],
        axis=1,
    )
    return scores, merged.astype(np.int64)  # exact: counts stay far below 2**53


def score_test_split(booster, files, chunk_rows):
    """The score counts of every row of `files`, scored `chunk_rows` at a time."""
    check_probability_model(booster)
    counted = merge_counts([])
    for path in files:
        for labels, features in read_test_chunks(path, chunk_rows):
            # Merged as it goes: memory holds the distinct scores, not the rows.
            counted = merge_counts(
                [counted, count_scores(labels, predict_probabilities(booster, features))]
            )
    return counted


def save_counts(path, scores, counts):
    meta = json.dumps({"format": SHARD_FORMAT})
    write_atomic(
        path,
        lambda tmp: np.savez(tmp, meta=np.array(meta), scores=scores, counts=counts),
        suffix=".npz",
    )


def load_counts(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            if json.loads(str(archive["meta"])).get("format") != SHARD_FORMAT:
                raise ValueError("not a %s archive" % SHARD_FORMAT)
            scores, counts = archive["scores"], archive["counts"]
            if (
                scores.ndim != 1
                or scores.dtype != np.float64
                or counts.shape != (len(scores), 2)
                or counts.dtype.kind != "i"
                or (counts < 0).any()
                or (np.diff(scores) <= 0).any()
                or not np.isfinite(scores).all()
            ):
                raise ValueError("its arrays are not ascending scores with their class counts")
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
        raise EvaluationError("%s is not an evaluation shard's counts: %s" % (path, e))
    return scores, counts.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Metrics
#
# Everything is computed from class counts per distinct predicted probability, `counts` of shape
# (batch, scores, 2): [..., 0] negatives, [..., 1] positives, scores ascending. A bootstrap
# resample is just another row of counts, so the reported value and its standard deviation come
# from the same code, vectorised over the resamples.


def ratio(numerator, denominator):
    """Elementwise numerator / denominator; NaN, without a warning, where the metric is
    undefined because the denominator is 0."""
    numerator, denominator = np.broadcast_arrays(
        np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    )
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def f_score(beta, tp, fn, fp):
    b2 = beta * beta
    return ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)


def roc_auc(negatives, positives, n_neg, n_pos):
    # The chance that a random positive scores above a random negative, ties counting half: the
    # Mann-Whitney form of the area under the ROC curve, equal to scikit-learn's roc_auc_score.
    negatives_below = np.cumsum(negatives, axis=-1) - negatives
    return ratio((positives * (negatives_below + 0.5 * negatives)).sum(axis=-1), n_pos * n_neg)


def average_precision(negatives, positives, n_pos):
    # scikit-learn's average_precision_score: from the highest score down, the recall each
    # threshold adds times the precision at that threshold.
    positives_down = positives[..., ::-1]
    true_positives = np.cumsum(positives_down, axis=-1)
    flagged = np.cumsum(positives_down + negatives[..., ::-1], axis=-1)
    # Where nothing is flagged yet, no recall is added either: precision 0 there is harmless.
    precision = np.nan_to_num(ratio(true_positives, flagged))
    return ratio((positives_down * precision).sum(axis=-1), n_pos)


def scalar_metrics(counts, predicted_positive):
    """{metric name: array over the batch}; `predicted_positive` flags the scores at or above
    the threshold."""
    negatives, positives = counts[..., 0], counts[..., 1]
    n_neg, n_pos = negatives.sum(axis=-1), positives.sum(axis=-1)
    tp = positives[:, predicted_positive].sum(axis=-1)
    fp = negatives[:, predicted_positive].sum(axis=-1)
    fn, tn = n_pos - tp, n_neg - fp
    rows = n_pos + n_neg
    metrics = {
        "recall": ratio(tp, n_pos),
        "precision": ratio(tp, tp + fp),
        "accuracy": ratio(tp + tn, rows),
        # The best constant classifier is the one that flags every row as positive, for accuracy
        # too, because that is what Model Monitor reports: the dev guide's example
        # (model-monitor-model-quality-metrics.md, 1 positive in 4 rows) gives
        # accuracy_best_constant_classifier 0.25, the positive share, not the 0.75 of predicting
        # the majority class; its multiclass example agrees. Keeping Monitor's definition keeps
        # this file comparable with Monitor's own reports and baselines.
        "recall_best_constant_classifier": ratio(n_pos, n_pos),
        "precision_best_constant_classifier": ratio(n_pos, rows),
        "accuracy_best_constant_classifier": ratio(n_pos, rows),
        "true_positive_rate": ratio(tp, n_pos),
        "true_negative_rate": ratio(tn, n_neg),
        "false_positive_rate": ratio(fp, n_neg),
        "false_negative_rate": ratio(fn, n_pos),
        "auc": roc_auc(negatives, positives, n_neg, n_pos),
        "pr_auc": average_precision(negatives, positives, n_pos),
    }
    for name, beta in F_SCORES:
        metrics[name] = f_score(beta, tp, fn, fp)
        metrics[name + "_best_constant_classifier"] = f_score(beta, n_pos, 0, n_neg)
    return metrics


def bootstrap_counts(counts, seed):
    """Yields, for each of BOOTSTRAP_RESAMPLES resamples of the rows drawn with replacement, the
    (scores, 2) counts of the resample. Drawn from the (scores, 2) `counts` alone, so the
    deviations do not depend on the rows' order or on how they were divided."""
    rng = np.random.default_rng(seed)
    flat = counts.reshape(-1)
    occupied = np.flatnonzero(flat)
    rows_per_cell = flat[occupied]
    n = int(rows_per_cell.sum())
    # A resample's cell counts follow a multinomial over the occupied cells, so they can be drawn
    # per cell instead of per row. Per cell costs about twice as much per draw; it wins whenever
    # cells are fewer than rows / 3, as with a small model or a large test set.
    by_cell = len(occupied) * 3 < n
    cells = None if by_cell else np.repeat(occupied, rows_per_cell)  # each row's cell
    for _ in range(BOOTSTRAP_RESAMPLES):
        if cells is None:
            resample = np.zeros(len(flat), dtype=np.int64)
            resample[occupied] = rng.multinomial(n, rows_per_cell / n)
        else:
            resample = np.bincount(cells[rng.integers(0, n, size=n)], minlength=len(flat))
        yield resample.reshape(counts.shape)


def bootstrap_deviations(counts, predicted_positive, seed):
    """{metric name: standard deviation over the bootstrap resamples, or "NaN" when fewer than
    two resamples define the metric}.

    A seeded bootstrap estimates each metric's sampling error. Model Monitor instead takes 5
    subsamples of 80 % without replacement, which reports about half the sampling error and
    varies much from run to run.
    """
    resamples = [
        scalar_metrics(resample[None], predicted_positive)
        for resample in bootstrap_counts(counts, seed)
    ]
    deviations = {}
    for name in resamples[0]:
        values = np.concatenate([resample[name] for resample in resamples])
        values = values[np.isfinite(values)]  # resamples that miss a class leave some undefined
        deviations[name] = float(np.std(values, ddof=1)) if len(values) > 1 else "NaN"
    return deviations


def thin_curve(x, y, max_points=MAX_CURVE_POINTS):
    """The curve with at most `max_points` points, first and last kept exactly. Points in line
    with their neighbours go first, as they add nothing; if too many remain, points are taken
    evenly along the curve's length so steep and flat stretches both keep their shape."""
    if len(x) > 2:
        dx, dy = np.diff(x), np.diff(y)
        turn = dx[:-1] * dy[1:] - dy[:-1] * dx[1:]
        scale = np.abs(dx[:-1] * dy[1:]) + np.abs(dy[:-1] * dx[1:])
        keep = np.concatenate([[True], np.abs(turn) > 1e-9 * scale, [True]])
        x, y = x[keep], y[keep]
    if len(x) > max_points:
        length = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
        picks = np.searchsorted(length, np.linspace(0.0, length[-1], max_points)[:-1])
        picks = np.unique(np.append(picks, len(x) - 1))
        x, y = x[picks], y[picks]
    return x.tolist(), y.tolist()


def curves(counts):
    """Full ROC and precision-recall curves from the (scores, 2) counts of the test set, from the
    highest threshold down. Both classes are present (check_both_classes), so no rate divides
    by zero, and every score holds a row, so no precision does."""
    false_positives = np.cumsum(counts[::-1, 0])
    true_positives = np.cumsum(counts[::-1, 1])
    n_neg, n_pos = false_positives[-1], true_positives[-1]
    roc = (
        np.concatenate([[0.0], false_positives / n_neg]),
        np.concatenate([[0.0], true_positives / n_pos]),
    )
    # As in scikit-learn, the precision-recall curve starts at (recall 0, precision 1) and stops
    # at the first threshold reaching full recall: lower ones only add false positives.
    full = int(np.searchsorted(true_positives, n_pos)) + 1
    tp, fp = true_positives[:full], false_positives[:full]
    pr = (np.concatenate([[0.0], tp / n_pos]), np.concatenate([[1.0], tp / (tp + fp)]))
    return roc, pr


def evaluation_report(labels, probabilities, threshold, seed):
    """evaluation.json as a dict, keys in the order of the convention."""
    return report_from_counts(*count_scores(labels, probabilities), threshold, seed)


def check_both_classes(counts, source):
    """AUC and the rates need rows of both classes."""
    totals = counts.sum(axis=0)
    if totals.sum() == 0:
        raise EvaluationError(
            "the test split (%s) has no rows: expected rows of label then features" % source
        )
    if 0 in totals:
        raise EvaluationError(
            "the test split (%s) holds only rows labelled %d; AUC and the rates need both classes"
            % (source, int(totals[1] > 0))
        )


def report_from_counts(scores, score_counts, threshold, seed):
    """evaluation.json as a dict from the score counts of the test split."""
    counts = score_counts[None]
    rows = int(score_counts.sum())
    predicted_positive = scores >= threshold
    # An undefined value (precision when no row is flagged) is reported as 0, like
    # scikit-learn's zero_division=0: the JSON must hold numbers, never NaN.
    values = {
        name: float(np.nan_to_num(v[0]))
        for name, v in scalar_metrics(counts, predicted_positive).items()
    }
    if rows >= MIN_ROWS_FOR_DEVIATION:
        deviations = bootstrap_deviations(score_counts, predicted_positive, seed)
    else:
        deviations = dict.fromkeys(values, "NaN")

    def scalar(name):
        return {"value": values[name], "standard_deviation": deviations[name]}

    (fpr, tpr), (recalls, precisions) = curves(counts[0])
    fpr, tpr = thin_curve(fpr, tpr)
    recalls, precisions = thin_curve(recalls, precisions)
    negatives, positives = counts[0, :, 0], counts[0, :, 1]
    tp, fp = int(positives[predicted_positive].sum()), int(negatives[predicted_positive].sum())
    fn, tn = int(positives.sum()) - tp, int(negatives.sum()) - fp
    metrics = {"confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}}
    metrics.update(
        (name, scalar(name))
        for name in (
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
        )
    )
    metrics["receiver_operating_characteristic_curve"] = {
        "false_positive_rates": fpr,
        "true_positive_rates": tpr,
    }
    metrics["precision_recall_curve"] = {"precisions": precisions, "recalls": recalls}
    metrics.update(
        (name, scalar(name))
        for name in (
            "auc",
            "f0_5",
            "f1",
            "f2",
            "f0_5_best_constant_classifier",
            "f1_best_constant_classifier",
            "f2_best_constant_classifier",
        )
    )
    # Extra statistic, allowed by the convention: area under the precision-recall curve
    # (average precision), more telling than ROC AUC when churners are rare.
    metrics["pr_auc"] = scalar("pr_auc")
    evaluated_at = datetime.datetime.now(datetime.timezone.utc)
    return {
        "version": 0.0,
        "dataset": {
            "item_count": rows,
            "evaluation_time": evaluated_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        },
        "binary_classification_metrics": metrics,
    }


# ---------------------------------------------------------------------------------------------
# Data checks


def judge_data(facts, max_feature_auc, max_overlap):
    """The verdict on preprocessing's data_checks facts: each check with its threshold and
    outcome, `failed` (how many failed), and `reason` (one sentence per failure, what the
    pipeline's FailStep says). Without facts (a model trained on a prepared table) nothing is
    judged and nothing fails."""
    if not facts:
        return {
            "passed": True,
            "failed": 0,
            "reason": "",
            "note": "the model's %s holds no data checks" % PREPROCESSING_FILE,
        }
    reasons = []
    aucs = facts["single_feature_auc"]
    strongest = aucs[0] if aucs else {"feature": None, "auc": 0.5}
    leak = strongest["auc"] >= max_feature_auc
    if leak:
        reasons.append(
            "feature %r alone separates the target (AUC %.4f, MaxFeatureAuc %g): it is the "
            "target under another name or a value known only after the customer left; drop it "
            "from the schema's features" % (strongest["feature"], strongest["auc"], max_feature_auc)
        )
    overlap = facts["train_test_overlap"]
    distinctive = overlap["distinctive_test_rows"]
    share = overlap["repeated"] / float(distinctive) if distinctive else 0.0
    judged = distinctive >= MIN_DISTINCTIVE_ROWS
    repeats = judged and share > max_overlap
    if repeats:
        compared = overlap.get("compared_test_rows", overlap["test_rows"])
        reasons.append(
            "%d of the %d test rows with a distinctive value%s (%.1f%%, MaxTrainTestOverlap "
            "%g) repeat a train row feature for feature: the same customers are in both "
            "splits (rows listed twice?); remove the duplicates"
            % (
                overlap["repeated"],
                distinctive,
                ""
                if compared == overlap["test_rows"]
                else " among %d test rows chosen by hash of %d" % (compared, overlap["test_rows"]),
                100.0 * share,
                max_overlap,
            )
        )
    varying = facts["varying_features"]
    constant = varying["varying"] == 0
    if constant:
        reasons.append(
            "no feature varies in the train split (%d features, each a single value): the "
            "model can only guess" % varying["features"]
        )
    return {
        "passed": not reasons,
        "failed": len(reasons),
        "reason": "; ".join(reasons),
        "single_feature_auc": {
            "passed": not leak,
            "threshold": max_feature_auc,
            "strongest": strongest,
            "features": aucs,
        },
        "train_test_overlap": dict(
            overlap,
            passed=not repeats,
            threshold=max_overlap,
            share=round(share, 6),
            judged=judged,
        ),
        "varying_features": dict(varying, passed=not constant),
    }


def data_summary(verdict):
    """One line of what the data checks found, passed or not."""
    if "single_feature_auc" not in verdict:
        return "data checks: none (%s)" % verdict["note"]
    strongest = verdict["single_feature_auc"]["strongest"]
    overlap, varying = verdict["train_test_overlap"], verdict["varying_features"]
    template = (
        "data checks: %s (strongest single feature %s AUC %.4f; %d of %d distinctive test "
        "rows repeat a train row; %d of %d features vary)"
    )
    return template % (
        "passed" if verdict["passed"] else "FAILED",
        strongest["feature"],
        strongest["auc"],
        overlap["repeated"],
        overlap["distinctive_test_rows"],
        varying["varying"],
        varying["features"],
    )


# ---------------------------------------------------------------------------------------------
# Outputs


def write_json(path, report):
    write_text_atomic(path, json.dumps(report, indent=2, allow_nan=False) + "\n")


def plot_curve(path, curve, baseline, title, xlabel, ylabel, drawstyle="default"):
    """`curve` and `baseline` are (x, y, legend label); saved as PNG. A Figure on an Agg canvas,
    not pyplot, so no display backend or global state is involved. Imported here for the same
    reason as xgboost: errors before plotting need not wait for it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(*curve[:2], label=curve[2], drawstyle=drawstyle)
    axes.plot(*baseline[:2], label=baseline[2], linestyle="--", color="grey")
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    write_atomic(path, lambda tmp: figure.savefig(tmp, format="png"))


def plot_curves(output_dir, metrics):
    roc = metrics["receiver_operating_characteristic_curve"]
    auc = metrics["auc"]["value"]
    plot_curve(
        os.path.join(output_dir, "roc_curve.png"),
        (roc["false_positive_rates"], roc["true_positive_rates"], "model (AUC = %.3f)" % auc),
        ([0, 1], [0, 1], "chance (AUC = 0.5)"),
        "ROC curve, AUC = %.3f" % auc,
        "False positive rate",
        "True positive rate",
    )
    pr = metrics["precision_recall_curve"]
    ap = metrics["pr_auc"]["value"]
    share = metrics["precision_best_constant_classifier"]["value"]
    # steps-pre: the precision at each threshold holds over the recall it adds, which is the
    # area average precision measures.
    plot_curve(
        os.path.join(output_dir, "precision_recall_curve.png"),
        (pr["recalls"], pr["precisions"], "model (PR AUC = %.3f)" % ap),
        ([0, 1], [share, share], "churn rate (%.3f)" % share),
        "Precision-recall curve (ROC AUC = %.3f)" % auc,
        "Recall",
        "Precision",
        drawstyle="steps-pre",
    )


def evaluate(args):
    started = time.time()
    if not 0.0 <= args.threshold <= 1.0:
        raise EvaluationError(
            "--threshold must be a probability in [0, 1], got %r" % args.threshold
        )
    if not 0.5 < args.max_feature_auc <= 1.0:
        raise EvaluationError(
            "--max-feature-auc (MaxFeatureAuc) must be above 0.5 and at most 1, got %r"
            % args.max_feature_auc
        )
    if not 0.0 <= args.max_train_test_overlap <= 1.0:
        raise EvaluationError(
            "--max-train-test-overlap (MaxTrainTestOverlap) must be a share from 0 to 1, got %r"
            % args.max_train_test_overlap
        )
    if args.chunk_rows < 1:
        raise EvaluationError("--chunk-rows must be at least 1, not %d" % args.chunk_rows)
    archive = model_archive(args.model_dir)
    if args.merge:
        _, spec = load_model(archive, with_booster=False)
        paths = shard_results(args.merge, SHARD_FILE, "evaluate.py")
        scores, counts = merge_counts([load_counts(path) for path in paths])
        source = "the shards' counts under %s" % args.merge
    else:
        files = test_files(args.test_dir, none_is_empty=bool(args.shard_of))
        booster, spec = load_model(archive)
        scores, counts = score_test_split(booster, files, args.chunk_rows)
        source = ", ".join(files)
        if args.shard_of:
            host = current_host(args.shard_of)
            save_counts(os.path.join(args.output_dir, host, SHARD_FILE), scores, counts)
            print(
                "evaluate: %s scored %d rows (%d distinct scores), %.2f s"
                % (host, int(counts.sum()), len(scores), time.time() - started)
            )
            return None
    check_both_classes(counts, source)
    report = report_from_counts(scores, counts, args.threshold, args.seed)
    report["data_checks"] = judge_data(
        (spec or {}).get("data_checks"), args.max_feature_auc, args.max_train_test_overlap
    )
    report["data_checks"]["summary"] = data_summary(report["data_checks"])  # churn run prints it
    metrics = report["binary_classification_metrics"]
    os.makedirs(args.output_dir, exist_ok=True)
    plot_curves(args.output_dir, metrics)
    # Last, so that once the file the ConditionStep reads exists, every output does.
    write_json(os.path.join(args.output_dir, "evaluation.json"), report)
    print(
        "evaluate: %d rows, auc %.4f, accuracy %.4f, %.2f s; %s"
        % (
            report["dataset"]["item_count"],
            metrics["auc"]["value"],
            metrics["accuracy"]["value"],
            time.time() - started,
            report["data_checks"]["summary"],
        )
    )
    return report


if __name__ == "__main__":
    try:
        evaluate(parse_args())
    except (EvaluationError, OSError) as e:
        fail("evaluate", str(e), FAILURE_FILE)
