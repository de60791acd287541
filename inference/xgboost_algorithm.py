"""The SageMaker XGBoost image's algorithm-mode inference, as a local stand-in for its built-in
server (docs/container-contracts.md section 3.4). A local endpoint or transform job serving a
model whose container is the XGBoost image with no SAGEMAKER_PROGRAM imports this module as
the serving layer imports any inference code: model_fn once, then input_fn, predict_fn and
output_fn per request.

Written from the SageMaker documentation (the XGBoost page's "Input/Output Interface",
"Common Data Formats for Inference") and what the image's open-source server
(algorithm_mode/serve.py, serve_utils.py) does, none of it copied:

- model_fn: every file of the model folder whose name does not start with '.', each loaded
  with Booster.load_model (xgboost-model, in XGBoost's binary format or UBJSON); several files
  are an ensemble (averaged; voted for multi:softmax and binary:hinge) unless
  SAGEMAKER_INFERENCE_ENSEMBLE is not 'true'. The image also tries pickle first, for models of
  its versions before 1.3-1: this module never unpickles, and says so.
- input_fn: text/csv (no label, no header; the delimiter sniffed from the first line; an empty
  field is missing), text/libsvm and text/x-libsvm (indices as given: index i is column i).
  application/x-recordio-protobuf is refused by name here; any other type, application/json
  included, is a 415 as in the image. An empty body is a 204.
- output_fn: Accept text/csv (the default, or SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT; one score a
  line), application/json (`{"predictions": [{"score": 0.12}, ...]}`); in a transform job
  (SAGEMAKER_BATCH) one score a line whatever the Accept. SAGEMAKER_INFERENCE_OUTPUT selects
  content (predicted_label, probability, probabilities, raw_score, raw_scores, labels,
  predicted_score) for text/csv, application/json and application/jsonlines. Any other Accept
  is a 406.
"""

import csv
import json
import os

ACCEPTS = ["application/json", "application/jsonlines", "application/x-recordio-protobuf",
           "text/csv"]  # fmt: skip
SELECTABLE = {
    "reg:squarederror": ["predicted_score"],
    "reg:logistic": ["predicted_score"],
    "reg:gamma": ["predicted_score"],
    "reg:absoluteerror": ["predicted_score"],
    "reg:tweedie": ["predicted_score"],
    "binary:logistic": ["predicted_label", "labels", "probability", "probabilities",
                        "raw_score", "raw_scores"],
    "binary:logitraw": ["predicted_label", "labels", "raw_score", "raw_scores"],
    "binary:hinge": ["predicted_label", "labels", "raw_score", "raw_scores"],
    "multi:softmax": ["predicted_label", "labels", "raw_score", "raw_scores"],
    "multi:softprob": ["predicted_label", "labels", "probability", "probabilities",
                       "raw_score", "raw_scores"],
}  # fmt: skip


LOADED = [None]  # the model model_fn loaded (one per serving process)


class InferenceError(Exception):
    """A request the server answers with `status_code` and this message."""

    def __init__(self, message, status_code):
        super(InferenceError, self).__init__(message)
        self.status_code = status_code


class Model(object):
    def __init__(self, boosters, objective, num_class):
        self.boosters = boosters
        self.objective = objective
        self.num_class = num_class


def model_fn(model_dir):
    import xgboost as xgb

    names = sorted(
        n
        for n in os.listdir(model_dir)
        if os.path.isfile(os.path.join(model_dir, n)) and not n.startswith(".")
    )
    if not names:
        raise InferenceError("Unable to load model: no model file in %s" % model_dir, 500)
    if os.environ.get("SAGEMAKER_INFERENCE_ENSEMBLE", "true") != "true":
        names = names[:1]
    boosters = []
    for name in names:
        path = os.path.join(model_dir, name)
        booster = xgb.Booster()
        try:
            booster.load_model(path)
        except Exception as e:
            raise InferenceError(
                "Model %s cannot be loaded: %s (a pickled model, as the image's versions before "
                "1.3-1 wrote, is not loaded locally)" % (path, e),
                500,
            )
        booster.set_param("nthread", 1)
        boosters.append(booster)
    config = json.loads(boosters[0].save_config())["learner"]
    objective = config["objective"]["name"]
    num_class = config.get("learner_model_param", {}).get("num_class", "")
    LOADED[0] = Model(boosters, objective, num_class)
    return LOADED[0]


def _media(value):
    return (value or "").split(";")[0].strip().lower()


def _csv_matrix(text):
    import numpy as np
    import xgboost as xgb

    sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [["nan" if x == "" else x for x in line.split(delimiter)] for line in text.split("\n")]
    return xgb.DMatrix(np.array(rows).astype(float))


def _libsvm_matrix(text):
    import numpy as np
    import xgboost as xgb
    from scipy.sparse import csr_matrix

    rows, cols, values = [], [], []
    for row, line in enumerate(text.split("\n")):
        for item in line.split(" "):
            if ":" in item:
                index, value = item.split(":")[:2]
                rows.append(row)
                cols.append(int(index))
                values.append(float(value))
    return xgb.DMatrix(csr_matrix((np.array(values), (np.array(rows), np.array(cols)))))


def input_fn(body, content_type):
    if len(body) == 0:
        raise InferenceError("", 204)
    media = _media(content_type)
    if media == "text/csv":
        kind, parse = "csv", _csv_matrix
    elif media in ("text/libsvm", "text/x-libsvm"):
        kind, parse = "libsvm", _libsvm_matrix
    elif media == "application/x-recordio-protobuf":
        raise InferenceError(
            "Content-type %s is not read by the local XGBoost algorithm; send text/csv or "
            "text/libsvm" % content_type,
            415,
        )
    else:
        raise InferenceError("Content-type {} is not supported.".format(content_type), 415)
    try:
        return parse(bytes(body).strip().decode("utf-8"))
    except Exception as e:
        raise InferenceError(
            "Loading {0} data failed with Exception, please ensure data is in {0} format:\n"
            " {1}\n {2}".format(kind, type(e), e),
            415,
        )


def predict_fn(data, model):
    import numpy as np

    try:
        predictions = [b.predict(data, validate_features=False) for b in model.boosters]
    except Exception as e:
        raise InferenceError("Unable to evaluate payload provided: %s" % e, 400)
    if len(predictions) == 1:
        return predictions[0]
    if model.objective in ("multi:softmax", "binary:hinge"):  # a vote
        stacked = np.stack(predictions)
        voted = []
        for column in stacked.T:
            values, counts = np.unique(column, return_counts=True)
            voted.append(values[np.argmax(counts)])
        return np.array(voted)
    return np.mean(predictions, axis=0)


def _accept(accept):
    media = _media(accept)
    if not media or media == "*/*":
        return os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    if media not in ACCEPTS:
        raise InferenceError(
            "Accept type {} is not supported. Please use supported accept types: {}.".format(
                accept, ACCEPTS
            ),
            406,
        )
    return media


def _selected(prediction, keys, objective, num_class):
    import numpy as np

    nan = float("nan")
    multi_prob = objective == "multi:softprob"
    out = {}
    for key in keys:
        if key not in SELECTABLE[objective]:
            out[key] = nan
        elif key == "predicted_label":
            if objective in ("binary:hinge", "multi:softmax"):
                out[key] = prediction.item()
            elif objective == "binary:logistic":
                out[key] = int(prediction > 0.5)
            elif objective == "binary:logitraw":
                out[key] = int(prediction > 0)
            else:
                out[key] = int(np.argmax(prediction))
        elif key == "labels":
            out[key] = [0, 1] if objective.startswith("binary:") else list(range(int(num_class)))
        elif key in ("probability", "raw_score"):
            out[key] = max(prediction).item() if multi_prob else prediction.item()
        elif key in ("probabilities", "raw_scores"):
            if multi_prob:
                out[key] = prediction.tolist()
            else:
                out[key] = [1.0 - prediction.item(), prediction.item()]
        elif key == "predicted_score":
            out[key] = prediction.item()
    return out


def _selectable(prediction, accept, model, batch):
    keys = os.environ["SAGEMAKER_INFERENCE_OUTPUT"].replace(" ", "").lower().split(",")
    if model.objective not in SELECTABLE:
        raise InferenceError(
            "Objective `{}` unsupported for selectable inference predictions.".format(
                model.objective
            ),
            500,
        )
    rows = [_selected(p, keys, model.objective, model.num_class) for p in prediction]
    if accept == "application/json":
        return json.dumps({"predictions": rows})
    if accept == "application/jsonlines":
        return "".join(json.dumps(row) + "\n" for row in rows)
    if accept == "text/csv":
        lines = [
            ",".join('"{}"'.format(r[k]) if isinstance(r[k], list) else str(r[k]) for k in keys)
            for r in rows
        ]
        return "\n".join(lines) + ("\n" if batch else "")
    raise InferenceError(
        "Cannot encode selected predictions into accept type '{}' locally.".format(accept), 500
    )


def output_fn(prediction, accept):
    accept = _accept(accept)
    batch = bool(os.environ.get("SAGEMAKER_BATCH"))
    if os.environ.get("SAGEMAKER_INFERENCE_OUTPUT") is not None:
        # Selected content needs the model's objective: output_fn is not given the model.
        return _selectable(prediction, accept, LOADED[0], batch), accept
    values = prediction.tolist()
    if batch:
        return "\n".join(map(str, values)) + "\n", accept
    if accept == "application/json":
        return json.dumps({"predictions": [{"score": v} for v in values]}), accept
    if accept == "text/csv":
        return _csv_lines(values), accept
    raise RuntimeError("the image's encoder has no %s for plain predictions" % accept)


def _csv_lines(values):
    """One line per prediction, the fields of a row (multi:softprob) comma-separated."""
    lines = []
    for value in values:
        if isinstance(value, list):
            lines.append(",".join(str(v) for v in value))
        else:
            lines.append(str(value))
    return "".join(line + "\n" for line in lines)
