"""Serve the churn model: model_fn / input_fn / predict_fn / output_fn
(docs/container-contracts.md section 3.2).

The SageMaker XGBoost image imports this module in script mode; the local endpoint does the
same. Requests carry raw rows as they are in the source table (text/csv with or without a
header, application/json, application/jsonlines: churn_decoding.py decodes them), and the
fitted recipe saved by preprocessing is replayed on them, so a row exported from the table
works as is. The booster is called through churn_predictor.py.

Before the recipe, each row is checked against the rules of the table the model was trained
on (churn_rules.py, carried in preprocessing.json): types, allowed categories, whole numbers,
declared ranges, required values. A row that breaks a rule is refused (400 naming the record,
column and value), or, where the schema says "flag", scored with a flag.

Answers per row the churn probability (`score`) and the label at the decision threshold
(`predicted_label`, env CHURN_DECISION_THRESHOLD, default 0.5), as text/csv `score,label`
lines, application/json {"predictions": [...]} or application/jsonlines. A model whose schema
flags rows adds each row's flags: a third CSV field (`0.1,0,Age:range;Geography:category`, empty
for a clean row) or `"flags": [...]`. Bad input raises an InferenceError whose status_code is
400 (names the record and column), 415 (content type) or 406 (Accept), so a server answers 4xx,
never 5xx, for a caller's mistake.

predict_batch_fn is an addition to the SageMaker contract that SageMaker's own server ignores:
the local endpoint hands it the decoded inputs of requests that arrived together, so they share
one recipe replay and one booster call (a booster call costs about the same for 1 row as for 32).

Run as a script to score a file: python inference.py --model-dir DIR --input rows.csv
"""

import json
import os
import sys

import numpy as np

# The predictor, decoding and recipe modules ship beside this file in the inference code bundle
# (code/); in the repository the last two live with the processing scripts.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "processing")]
import churn_decoding as decoding  # noqa: E402
import churn_recipe  # noqa: E402
import churn_rules  # noqa: E402
from churn_decoding import (  # noqa: E402,F401
    BULK_CSV_BYTES,
    CONTENT_TYPES,
    CSV,
    JSON,
    InferenceError,
    NotAcceptable,
    UnsupportedContentType,
    media_type,
)
from churn_predictor import direct_predict  # noqa: E402

MODEL_FILE = "xgboost-model"
PREPROCESSING_FILE = "preprocessing.json"
# 1: no input rules (models registered before models carried them, or trained on a prepared
# table): only the recipe's number check applies. 2: input_rules.
PREPROCESSING_FORMATS = ("churn-preprocessing/1", "churn-preprocessing/2")
SCORE_DECIMALS = 9
VECTOR_FORMAT_ROWS = 64  # below this a format string per row is cheaper than numpy's fixed cost


class ChurnModel(object):
    """The booster and the fitted preprocessing it was trained behind."""

    def __init__(self, booster, spec):
        self.booster = booster
        self.spec = spec
        self.input_columns = spec["input_columns"]
        self.feature_names = spec["feature_names"]
        self.missing_values = set(spec.get("missing_values", []))
        self.known_columns = set(self.input_columns) | {
            spec.get("id_column"),
            spec.get("target_column"),
        }
        self.numeric_inputs = churn_recipe.numeric_inputs(spec["recipe"], self.input_columns)
        self.rules = churn_rules.InputRules(spec.get("input_rules"))
        self.predict = direct_predict(booster) or booster.inplace_predict  # matrix -> scores


class Flagged(object):
    """Scores with their rows' flags (a model whose schema flags rows that break a rule)."""

    def __init__(self, scores, flags):
        self.scores = scores
        self.flags = flags  # one string per row: "Age:range;Geography:category", or ""

    def __len__(self):
        return len(self.scores)


def model_fn(model_dir):
    import xgboost as xgb

    with open(os.path.join(model_dir, PREPROCESSING_FILE), encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("format") not in PREPROCESSING_FORMATS:
        raise ValueError(
            "%s in %s has format %r; this inference code reads %s"
            % (
                PREPROCESSING_FILE,
                model_dir,
                spec.get("format"),
                " or ".join(repr(f) for f in PREPROCESSING_FORMATS),
            )
        )
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, MODEL_FILE))  # XGBoost's own format, no pickle
    if booster.num_features() != len(spec["feature_names"]):
        raise ValueError(
            "the booster expects %d features, %s describes %d"
            % (booster.num_features(), PREPROCESSING_FILE, len(spec["feature_names"]))
        )
    # One thread per worker: several workers with default OpenMP threads fight over the cores.
    booster.set_param({"nthread": int(os.environ.get("OMP_NUM_THREADS", "1"))})
    return ChurnModel(booster, spec)


# ----------------------------------------------------------------------------- predicting


def input_fn(request_body, request_content_type):
    """Decode the body into raw column values (churn_decoding.py); the columns are checked in
    predict_fn, where the model's schema is known."""
    return decoding.decode(request_body, request_content_type)


def predict_fn(input_data, model):
    """Raw rows -> churn probabilities (float per row), with their flags when the model's
    schema flags rows (Flagged)."""
    matrix, flags = features(decoding.columns(input_data, model), model)
    scores = model.predict(matrix)
    return scores if flags is None else Flagged(scores, flags)


def predict_batch_fn(inputs, model):
    """Several requests' input_fn results -> one prediction per request (as predict_fn gives),
    computed with one rule check, one recipe replay and one booster call. Every step is
    row-wise, so each request gets exactly what predict_fn gives it alone. Raises if any input
    is bad; the caller then predicts the inputs one by one, so each request gets its own answer
    or error."""
    columns = [decoding.columns(input_data, model) for input_data in inputs]
    sizes = [len(c[model.input_columns[0]]) for c in columns]
    merged = {name: np.concatenate([c[name] for c in columns]) for name in model.input_columns}
    matrix, flags = features(merged, model)
    cuts = np.cumsum(sizes)[:-1]
    scores = np.split(model.predict(matrix), cuts)
    if flags is None:
        return scores
    bounds = [0] + cuts.tolist() + [len(flags)]
    return [Flagged(s, flags[a:b]) for s, a, b in zip(scores, bounds, bounds[1:])]


def features(columns, model):
    """Raw input columns -> (the float32 matrix the booster was trained on, the rows' flags or
    None): the input rules checked, then the fitted recipe replayed."""
    try:
        columns, flags = model.rules.check(columns, model.numeric_inputs)
        table = churn_recipe.transform(columns, model.spec["recipe"], strict=True)
    except churn_rules.RuleViolation as e:
        raise InferenceError(
            "record %d, column %r: %s" % (e.row, e.column, e.problem), record=e.row
        )
    except churn_recipe.InputValueError as e:
        raise InferenceError(
            "record %d, column %r: %r is not %s" % (e.row, e.column, e.value, e.expected),
            record=e.row,
        )
    return churn_recipe.feature_matrix(table, model.feature_names), flags


def output_fn(prediction, accept):
    """Probabilities (with their rows' flags, for a Flagged prediction) -> (body, content type)
    in the first supported type of Accept. Scores have SCORE_DECIMALS decimals in every
    format."""
    media = _choose_accept(accept)
    threshold = float(os.environ.get("CHURN_DECISION_THRESHOLD", "0.5"))
    flags = prediction.flags if isinstance(prediction, Flagged) else None
    scores = np.asarray(prediction.scores if flags is not None else prediction, dtype=np.float64)
    labels = scores >= threshold
    if media == CSV:
        if flags is not None:
            return _flagged_csv_lines(scores, labels, flags), media
        return _csv_lines(scores, labels), media
    answers = [
        {"score": s, "predicted_label": int(label)}
        for s, label in zip(np.round(scores, SCORE_DECIMALS).tolist(), labels.tolist())
    ]
    if flags is not None:
        for answer, flag in zip(answers, flags):
            answer["flags"] = flag.split(";") if flag else []
    if media == JSON:
        body = json.dumps({"predictions": answers})
    else:
        body = "".join([json.dumps(answer) + "\n" for answer in answers])
    return body, media


def _flagged_csv_lines(scores, labels, flags):
    """`score,label,flags` lines; the flags field is quoted as CSV quotes a field when a column
    name holds a comma or a quote."""
    out = []
    for score, label, flag in zip(scores.tolist(), labels.tolist(), flags):
        if "," in flag or '"' in flag:
            flag = '"%s"' % flag.replace('"', '""')
        out.append("%.9f,%d,%s\n" % (score, label, flag))
    return "".join(out)


def _csv_lines(scores, labels):
    """`score,label` lines as "%.9f,%d" writes them. Many probabilities are written as
    fixed-width bytes by numpy instead (a million rows in 50 ms, against half a second for a
    format string per row): for booster outputs (float32 widened to float64) rounding
    scores * 10**9 to the nearest integer, ties to even, gives exactly the digits "%.9f" gives."""
    if len(scores) < VECTOR_FORMAT_ROWS or not ((scores >= 0) & (scores <= 1)).all():
        return "".join(["%.9f,%d\n" % pair for pair in zip(scores.tolist(), labels.tolist())])
    units = np.rint(scores * 10**SCORE_DECIMALS).astype(np.int64)
    text = np.empty((len(scores), SCORE_DECIMALS + 5), dtype=np.uint8)
    text[:, 0] = 48 + units // 10**SCORE_DECIMALS  # "0" or "1"
    text[:, 1] = 46  # "."
    for position in range(SCORE_DECIMALS + 1, 1, -1):
        text[:, position] = 48 + units % 10
        units //= 10
    text[:, -3] = 44  # ","
    text[:, -2] = 48 + labels
    text[:, -1] = 10  # "\n"
    return text.tobytes().decode("ascii")


def _choose_accept(accept):
    default = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
    if not accept:
        return default
    for part in accept.split(","):
        media = media_type(part)
        if media in CONTENT_TYPES:
            return media
        if media in ("*/*", "text/*", "application/*"):
            return (
                default
                if media == "*/*" or default.startswith(media[:-1])
                else (CSV if media == "text/*" else JSON)
            )
    raise NotAcceptable(
        "Accept %r is not supported; ask for %s" % (accept, ", ".join(CONTENT_TYPES))
    )


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(description="Score a file with a trained churn model.")
    p.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    p.add_argument("--input", required=True, help="request body file ('-' for stdin)")
    p.add_argument("--content-type", default=CSV)
    p.add_argument("--accept", default=CSV)
    args = p.parse_args(argv)
    try:
        body = sys.stdin.read() if args.input == "-" else open(args.input, "rb").read()
        model = model_fn(args.model_dir)
        out, _ = output_fn(predict_fn(input_fn(body, args.content_type), model), args.accept)
    except (InferenceError, OSError, ValueError) as e:
        sys.stderr.write("inference: error: %s\n" % e)
        return 1
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
