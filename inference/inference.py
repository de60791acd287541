"""Serve the churn model: model_fn / input_fn / predict_fn / output_fn (section 3.2).

The SageMaker XGBoost image imports this module in script mode; the local endpoint does the
same. Requests carry raw rows as they are in the source table, and the fitted recipe saved by
preprocessing is replayed on them, so a row exported from the table works as is:

  text/csv              rows of the schema's feature columns in schema order, or a header line
                        first, then columns are matched by name (id, target, unknown ignored)
  application/json      {"instances": [{"age": 40, ...}, ...]} by column name (or lists in
                        schema order); a single object is one instance
  application/jsonlines one such object (or list) per line

Answers per row the churn probability (`score`) and the label at the decision threshold
(`predicted_label`, env CHURN_DECISION_THRESHOLD, default 0.5), as text/csv `score,label`
lines, application/json {"predictions": [...]} or application/jsonlines. Bad input raises an
InferenceError whose status_code is 400 (names the record and column), 415 (content type) or
406 (Accept), so a server answers 4xx, never 5xx, for a caller's mistake.

predict_batch_fn is an addition to the SageMaker contract that SageMaker's own server ignores:
the local endpoint hands it the decoded inputs of requests that arrived together, so they share
one recipe replay and one booster call (a booster call costs about the same for 1 row as for 32).

Run as a script to score a file: python inference.py --model-dir DIR --input rows.csv
"""
import csv
import io
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import churn_recipe
except ImportError:
    # In the repository the recipe module lives with preprocessing; in a model artifact the
    # pipeline ships it beside this file (code/churn_recipe.py).
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "processing"))
    import churn_recipe

MODEL_FILE = "xgboost-model"
PREPROCESSING_FILE = "preprocessing.json"
PREPROCESSING_FORMAT = "churn-preprocessing/1"
CSV, JSON, JSONLINES = "text/csv", "application/json", "application/jsonlines"
CONTENT_TYPES = (CSV, JSON, JSONLINES)
SCORE_DECIMALS = 9
VECTOR_FORMAT_ROWS = 64  # below this a format string per row is cheaper than numpy's fixed cost
# Batch transform payloads (MaxPayloadInMB, cut to 1 MB or more), not live requests: from
# about 10,000 rows on, where pandas' fixed cost is a few percent of the parse.
BULK_CSV_BYTES = 256 * 1024


class InferenceError(ValueError):
    status_code = 400


class UnsupportedContentType(InferenceError):
    status_code = 415


class NotAcceptable(InferenceError):
    status_code = 406


class ChurnModel(object):
    """The booster and the fitted preprocessing it was trained behind."""

    def __init__(self, booster, spec):
        self.booster = booster
        self.spec = spec
        self.input_columns = spec["input_columns"]
        self.feature_names = spec["feature_names"]
        self.missing_values = set(spec.get("missing_values", []))
        self.known_columns = set(self.input_columns) | {spec.get("id_column"),
                                                        spec.get("target_column")}
        self.numeric_inputs = churn_recipe.numeric_inputs(spec["recipe"], self.input_columns)
        self.predict = _direct_predict(booster) or booster.inplace_predict  # matrix -> scores


def model_fn(model_dir):
    import xgboost as xgb

    with open(os.path.join(model_dir, PREPROCESSING_FILE), encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("format") != PREPROCESSING_FORMAT:
        raise ValueError("%s in %s has format %r; this inference code reads %r"
                         % (PREPROCESSING_FILE, model_dir, spec.get("format"), PREPROCESSING_FORMAT))
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, MODEL_FILE))  # XGBoost's own format, no pickle
    if booster.num_features() != len(spec["feature_names"]):
        raise ValueError("the booster expects %d features, %s describes %d"
                         % (booster.num_features(), PREPROCESSING_FILE, len(spec["feature_names"])))
    # One thread per worker: several workers with default OpenMP threads fight over the cores.
    booster.set_param({"nthread": int(os.environ.get("OMP_NUM_THREADS", "1"))})
    return ChurnModel(booster, spec)


def _direct_predict(booster):
    """Booster.inplace_predict without its Python wrapper, or None where that is not safe.

    A one-row inplace_predict costs about 220 us, half of it in the wrapper (type dispatch, a
    ctypes class built per call, JSON encoding), and it is the largest cost of a one-row request.
    This calls the same C function, XGBoosterPredictFromDense (XGBoost's C API, unchanged since
    1.4), with the configuration encoded once: about 110 us. It is used only on xgboost 1.4 to
    3.x, and only after it gave exactly inplace_predict's answers on probe rows."""
    import ctypes

    import xgboost
    from xgboost import core

    major, minor = (int(v) for v in xgboost.__version__.split(".")[:2])
    if not (1, 4) <= (major, minor) < (4, 0):
        return None
    config = json.dumps({"type": 0, "training": False, "iteration_begin": 0,
                         "iteration_end": 0, "missing": float("nan"), "strict_shape": False,
                         "cache_id": 0}).encode()
    predict_from_dense = core._LIB.XGBoosterPredictFromDense

    def predict(matrix):
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        rows, columns = matrix.shape
        # Out-parameters per call: a serving container may call from several threads.
        shape, dims = ctypes.POINTER(core.c_bst_ulong)(), core.c_bst_ulong()
        result, no_proxy = ctypes.POINTER(ctypes.c_float)(), ctypes.c_void_p()
        interface = b'{"data": [%d, true], "shape": [%d, %d], "typestr": "<f4", ' \
                    b'"version": 3}' % (matrix.ctypes.data, rows, columns)
        core._check_call(predict_from_dense(booster.handle, interface, config, no_proxy,
                                            ctypes.byref(shape), ctypes.byref(dims),
                                            ctypes.byref(result)))
        if dims.value != 1 or shape[0] != rows:  # not one score per row: use the wrapper
            return booster.inplace_predict(matrix)
        # XGBoost reuses the buffer (per thread) on the next call: copy the scores out now.
        return np.ctypeslib.as_array(result, shape=(rows,)).copy()

    probe = np.random.default_rng(0).normal(size=(16, booster.num_features())).astype(np.float32)
    probe[0, 0] = np.nan
    try:
        if np.array_equal(predict(probe), booster.inplace_predict(probe)):
            return predict
    except Exception:
        pass
    return None


# ----------------------------------------------------------------------------- decoding

def media_type(header):
    return (header or "").split(";")[0].strip().lower()


def input_fn(request_body, request_content_type):
    """Decode the body into raw column values; the columns are checked in predict_fn, where the
    model's schema is known."""
    content_type = media_type(request_content_type) or CSV
    if content_type not in CONTENT_TYPES:
        raise UnsupportedContentType("content type %r is not supported; send %s"
                                     % (request_content_type, ", ".join(CONTENT_TYPES)))
    if isinstance(request_body, (bytes, bytearray)):
        try:
            request_body = request_body.decode("utf-8")
        except UnicodeDecodeError:
            raise InferenceError("the request body is not UTF-8 text")
    if not request_body.strip():
        raise InferenceError("the request body is empty; send at least one row")
    if content_type == CSV:
        text = request_body.strip("\r\n")
        if len(text) >= BULK_CSV_BYTES and '"' not in text:
            return _Pending(text, bulk=True)
        return _Pending(_csv_rows(text))
    if content_type == JSON:
        try:
            payload = json.loads(request_body)
        except ValueError as e:
            raise InferenceError("the body is not valid JSON: %s" % e)
        if isinstance(payload, dict) and "instances" in payload:
            payload = payload["instances"]
        instances = payload if isinstance(payload, list) else [payload]
        return _Pending(instances, by_name=True)
    instances = []
    for n, line in enumerate(request_body.splitlines(), 1):
        if line.strip():
            try:
                instances.append(json.loads(line))
            except ValueError as e:
                raise InferenceError("JSON line %d is not valid JSON: %s" % (n, e))
    return _Pending(instances, by_name=True)


class _Pending(object):
    """Records not yet matched to the model's columns (input_fn does not see the model):
    CSV rows, JSON instances (by_name), or a bulk CSV text parsed once the columns' types are
    known."""

    def __init__(self, records, by_name=False, bulk=False):
        self.records = records
        self.by_name = by_name
        self.bulk = bulk


def _csv_rows(text):
    return [r for r in csv.reader(io.StringIO(text)) if r]


def _columns_from_bulk_csv(text, model):
    """A batch payload's columns through pandas' C parser, numbers parsed as numbers (40 ns a
    field against 250 ns for Python's float() on each string). Only bodies of at least
    BULK_CSV_BYTES come here, where pandas' fixed cost is nothing; one-row requests never touch
    pandas (read_csv on one row costs more than a whole request). Gives None when the text is
    anything but clean rows of the expected width and types (a header that does not match,
    ragged rows, a non-number in a numeric column): the row-by-row path then answers, and its
    error names the record and column."""
    import pandas as pd

    first = next(csv.reader([text[:text.find("\n")]]))
    header = bool(set(first) & model.known_columns) and not _all_numbers(first)
    width = len(first)
    if header and any(c not in first for c in model.input_columns):
        return None
    if not header and width != len(model.input_columns):
        return None
    data = text.encode("utf-8")  # pandas reads bytes a third faster than a str
    octets = np.frombuffer(data, dtype=np.uint8)
    if np.count_nonzero(octets == 44) != (width - 1) * (np.count_nonzero(octets == 10) + 1):
        return None  # a row with fewer or more fields than the first, or a blank line
    missing = [""] + sorted(model.missing_values)
    try:
        frame = pd.read_csv(io.BytesIO(data), header=0 if header else None,
                            names=None if header else model.input_columns,
                            usecols=model.input_columns, keep_default_na=False,
                            na_values=missing, low_memory=False,
                            dtype={c: (np.float64 if c in model.numeric_inputs else str)
                                   for c in model.input_columns})
    except (ValueError, pd.errors.ParserError):
        return None
    columns = {}
    for c in model.input_columns:
        values = frame[c].to_numpy(dtype=np.float64 if c in model.numeric_inputs else object)
        if c not in model.numeric_inputs:
            values[pd.isna(values)] = ""  # missing text is "" in a recipe table
        columns[c] = values
    return columns


def _columns_from_csv(rows, model):
    """CSV records -> {input column: raw values}. Records are numbered from 1, after any
    header line."""
    first = [v.strip() for v in rows[0]]
    expected = model.input_columns
    if set(first) & model.known_columns and not _all_numbers(first):
        missing = [c for c in expected if c not in first]
        if missing:
            raise InferenceError("the CSV header lacks columns %s" % ", ".join(missing))
        index = {c: first.index(c) for c in expected}
        data = rows[1:]
        if not data:
            raise InferenceError("the CSV has a header but no rows")
        layout = ", ".join(first)
    else:
        if len(first) != len(expected):
            raise InferenceError("record 1 has %d fields; expected %d in this order: %s (or "
                                 "send a header line)" % (len(first), len(expected),
                                                          ", ".join(expected)))
        index = {c: i for i, c in enumerate(expected)}
        data = rows
        layout = ", ".join(expected)
    width = len(first)
    r = next((r for r, row in enumerate(data) if len(row) != width), None)
    if r is not None:
        raise InferenceError("record %d has %d fields; expected %d (%s)"
                             % (r + 1, len(data[r]), width, layout))
    fields = np.array(data, dtype=object)  # rows x fields in one C call, not a loop per cell
    columns = {c: fields[:, i] for c, i in index.items()}
    if model.missing_values:
        for values in columns.values():
            values[np.fromiter((v in model.missing_values for v in values), bool,
                               len(values))] = ""
    return columns


def _all_numbers(fields):
    try:
        [float(f) for f in fields]
        return True
    except ValueError:
        return False


def _columns_from_instances(instances, model):
    expected = model.input_columns
    columns = {c: np.empty(len(instances), dtype=object) for c in expected}
    for r, instance in enumerate(instances):
        if isinstance(instance, list):
            if len(instance) != len(expected):
                raise InferenceError("instance %d has %d values; expected %d in this order: %s"
                                     % (r + 1, len(instance), len(expected), ", ".join(expected)))
            instance = dict(zip(expected, instance))
        if not isinstance(instance, dict):
            raise InferenceError("instance %d is not an object of column values" % (r + 1))
        for c in expected:
            if c not in instance:
                raise InferenceError("instance %d lacks column %r (send null for a missing value)"
                                     % (r + 1, c))
            value = instance[c]
            if isinstance(value, (dict, list)):
                raise InferenceError("instance %d, column %r: %r is not a single value"
                                     % (r + 1, c, value))
            columns[c][r] = "" if value is None or value in model.missing_values else value
    if not instances:
        raise InferenceError("no instances in the request")
    return columns


# ----------------------------------------------------------------------------- predicting

def predict_fn(input_data, model):
    """Raw rows -> churn probabilities (float per row)."""
    return model.predict(features(_columns(input_data, model), model))


def predict_batch_fn(inputs, model):
    """Several requests' input_fn results -> one probability array per request, computed with
    one recipe replay and one booster call. Every step is row-wise, so each request gets exactly
    what predict_fn gives it alone. Raises if any input is bad; the caller then predicts the
    inputs one by one, so each request gets its own answer or error."""
    columns = [_columns(input_data, model) for input_data in inputs]
    sizes = [len(c[model.input_columns[0]]) for c in columns]
    merged = {name: np.concatenate([c[name] for c in columns]) for name in model.input_columns}
    return np.split(model.predict(features(merged, model)), np.cumsum(sizes)[:-1])


def _columns(input_data, model):
    if input_data.by_name:
        return _columns_from_instances(input_data.records, model)
    if input_data.bulk:
        columns = _columns_from_bulk_csv(input_data.records, model)
        return columns if columns is not None else \
            _columns_from_csv(_csv_rows(input_data.records), model)
    return _columns_from_csv(input_data.records, model)


def features(columns, model):
    """Raw input columns -> the float32 matrix the booster was trained on (the fitted recipe
    replayed)."""
    try:
        table = churn_recipe.transform(columns, model.spec["recipe"], strict=True)
    except churn_recipe.InputValueError as e:
        raise InferenceError("record %d, column %r: %r is not %s"
                             % (e.row, e.column, e.value, e.expected))
    return churn_recipe.feature_matrix(table, model.feature_names)


def output_fn(prediction, accept):
    """Probabilities -> (body, content type) in the first supported type of Accept. Scores
    have SCORE_DECIMALS decimals in every format."""
    media = _choose_accept(accept)
    threshold = float(os.environ.get("CHURN_DECISION_THRESHOLD", "0.5"))
    scores = np.asarray(prediction, dtype=np.float64)
    labels = scores >= threshold
    if media == CSV:
        return _csv_lines(scores, labels), media
    pairs = zip(np.round(scores, SCORE_DECIMALS).tolist(), labels.tolist())
    if media == JSON:
        body = json.dumps({"predictions": [{"score": s, "predicted_label": int(l)}
                                           for s, l in pairs]})
    else:
        body = "".join([json.dumps({"score": s, "predicted_label": int(l)}) + "\n"
                        for s, l in pairs])
    return body, media


def _csv_lines(scores, labels):
    """`score,label` lines as "%.9f,%d" writes them. Many probabilities are written as
    fixed-width bytes by numpy instead (a million rows in 50 ms, against half a second for a
    format string per row): for booster outputs (float32 widened to float64) rounding
    scores * 10**9 to the nearest integer, ties to even, gives exactly the digits "%.9f" gives."""
    if len(scores) < VECTOR_FORMAT_ROWS or not ((scores >= 0) & (scores <= 1)).all():
        return "".join(["%.9f,%d\n" % pair for pair in zip(scores.tolist(), labels.tolist())])
    units = np.rint(scores * 10 ** SCORE_DECIMALS).astype(np.int64)
    text = np.empty((len(scores), SCORE_DECIMALS + 5), dtype=np.uint8)
    text[:, 0] = 48 + units // 10 ** SCORE_DECIMALS  # "0" or "1"
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
            return default if media == "*/*" or default.startswith(media[:-1]) else \
                (CSV if media == "text/*" else JSON)
    raise NotAcceptable("Accept %r is not supported; ask for %s"
                        % (accept, ", ".join(CONTENT_TYPES)))


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
