"""The SageMaker XGBoost image's algorithm mode, as a local stand-in for its built-in trainer
(docs/container-contracts.md section 2.9). The local engine runs this file for a training job
whose TrainingImage is the XGBoost image and whose hyperparameters name no `sagemaker_program`.

What it reads, as the image's algorithm mode does (sagemaker_xgboost_container's
training.run_algorithm_mode): the hyperparameters from SM_INPUT_TRAINING_CONFIG_FILE (every
value a string, as CreateTrainingJob takes them), the channels from SM_INPUT_DATA_CONFIG_FILE
and their files from SM_CHANNEL_TRAIN and SM_CHANNEL_VALIDATION, the model folder from
SM_MODEL_DIR. Written from the SageMaker documentation ("XGBoost Hyperparameters", "Input/Output
Interface for the XGBoost Algorithm", "Tune an XGBoost Model") and the container's open-source
code, none of which is copied here:

- Hyperparameters: num_round required; each documented one parsed as its type and checked
  against its range; aliases (learning_rate, min_split_loss, reg_lambda, reg_alpha); anything
  else refused. The messages are the algorithm toolkit's ("Missing required hyperparameter:
  num_round", "Hyperparameter eta: 2.0 is not in [0, 1]", "Extraneous hyperparameter found:
  x").
- Channels: train (required) and validation, File mode, each by its ContentType: text/csv
  (label in the first column, no header; csv_weights=1 puts instance weights in the second),
  text/libsvm or text/x-libsvm (the default when ContentType is absent), application/x-parquet
  (label in the first column). application/x-recordio-protobuf is refused by name: this
  stand-in does not read it.
- Training: xgboost.train with the watchlist train then validation and XGBoost's own
  EvaluationMonitor, so each round logs `[i]<TAB>train-auc:...<TAB>validation-auc:...`, the line
  the algorithm's metric definitions (`validation:auc`, ...) read; early_stopping_rounds with
  the last eval_metric on the validation channel, the best round's model kept.
- The model: `xgboost-model` written by Booster.save_model, as the image's algorithm mode
  writes it since version 1.3-1: XGBoost's binary format for the 1.x images (their XGBoost
  is older than 2.1), UBJSON for the 3.0 images (CHURN_XGBOOST_IMAGE_VERSION names the image's
  version). Never pickle.
- SIGTERM (how SageMaker stops a job): training ends after the round in progress and the model
  of the rounds done is saved, as the built-in algorithms save intermediate results.
- Failure: a mistake of the request (a ClientError on SageMaker) or of the algorithm, written
  to /opt/ml/output/failure and standard error, exit 1.
"""

import ast
import csv
import json
import logging
import os
import shutil
import sys
import tempfile

MODEL_NAME = "xgboost-model"
DOCUMENTATION = "https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html"

# Metrics XGBoost computes itself; the others the image computes in its own code.
MAXIMIZED = ["accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro",
             "map", "ndcg", "precision", "r2", "recall", "precision_macro", "precision_micro",
             "recall_macro", "recall_micro"]  # fmt: skip
MINIMIZED = ["aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
             "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss",
             "mphe", "mse", "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik"]  # fmt: skip
CONTAINER_METRICS = {"accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "mse", "r2",
                     "precision", "recall", "precision_macro", "precision_micro",
                     "recall_macro", "recall_micro"}  # fmt: skip
# XGBoost messages the image reports as the user's mistake (a ClientError), not its own.
USER_XGBOOST_ERRORS = (
    "label must be in [0,1] for logistic regression",
    "label must be in [0, num_class)",
    "feature_names mismatch",
    "Check failed: preds.size() == info.labels_.size()",
    "AUC: the dataset only contains pos or neg samples",
    "base_score must be in (0,1)",
    "label must be nonnegative",
    "Parameter reg_lambda should be greater equal to 0",
)


class UserError(Exception):
    """The request's mistake: a ClientError in the job's FailureReason."""


class AlgorithmError(Exception):
    """Anything else."""


# ----------------------------------------------------------------------------- hyperparameters


class Interval(object):
    def __init__(self, min_open=None, min_closed=None, max_open=None, max_closed=None):
        self.min_open, self.min_closed = min_open, min_closed
        self.max_open, self.max_closed = max_open, max_closed

    def __contains__(self, value):
        return not (
            (self.min_open is not None and value <= self.min_open)
            or (self.min_closed is not None and value < self.min_closed)
            or (self.max_open is not None and value >= self.max_open)
            or (self.max_closed is not None and value > self.max_closed)
        )

    def __str__(self):
        low = (
            "(%s, " % self.min_open
            if self.min_open is not None
            else "[%s, " % self.min_closed
            if self.min_closed is not None
            else "(-inf, "
        )
        high = (
            "%s)" % self.max_open
            if self.max_open is not None
            else "%s]" % self.max_closed
            if self.max_closed is not None
            else "+inf)"
        )
        return low + high


def _literal(value):
    return value if isinstance(value, (list, tuple)) else ast.literal_eval(value)


# name: (parse, range); a range is an Interval, a list of values, or None.
INT, FLOAT, TEXT = int, float, str
OBJECTIVES = ["aft_loss_distribution", "binary:logistic", "binary:logitraw", "binary:hinge",
              "count:poisson", "multi:softmax", "multi:softprob", "rank:pairwise", "rank:ndcg",
              "rank:map", "reg:linear", "reg:squarederror", "reg:logistic", "reg:gamma",
              "reg:pseudohubererror", "reg:squaredlogerror", "reg:absoluteerror", "reg:tweedie",
              "survival:aft", "survival:cox"]  # fmt: skip
UPDATERS = ["grow_colmaker", "distcol", "grow_histmaker", "grow_skmaker", "sync", "refresh",
            "prune", "shotgun", "coord_descent", "grow_quantile_histmaker"]  # fmt: skip
HYPERPARAMETERS = {
    "num_round": (INT, Interval(min_closed=1)),
    "csv_weights": (INT, Interval(min_closed=0, max_closed=1)),
    "early_stopping_rounds": (INT, Interval(min_closed=1)),
    "booster": (TEXT, ["gbtree", "gblinear", "dart"]),
    "verbosity": (INT, Interval(min_closed=0, max_closed=3)),
    "nthread": (INT, Interval(min_closed=1)),
    "eta": (FLOAT, Interval(min_closed=0, max_closed=1)),
    "gamma": (FLOAT, Interval(min_closed=0)),
    "max_depth": (INT, Interval(min_closed=0)),
    "min_child_weight": (FLOAT, Interval(min_closed=0)),
    "max_delta_step": (FLOAT, Interval(min_closed=0)),
    "subsample": (FLOAT, Interval(min_open=0, max_closed=1)),
    "colsample_bytree": (FLOAT, Interval(min_open=0, max_closed=1)),
    "colsample_bylevel": (FLOAT, Interval(min_open=0, max_closed=1)),
    "colsample_bynode": (FLOAT, Interval(min_open=0, max_closed=1)),
    "lambda": (FLOAT, Interval(min_closed=0)),
    "alpha": (FLOAT, Interval(min_closed=0)),
    "tree_method": (TEXT, ["auto", "exact", "approx", "hist", "gpu_hist"]),
    "sketch_eps": (FLOAT, Interval(min_open=0, max_open=1)),
    "scale_pos_weight": (FLOAT, Interval(min_open=0)),
    "updater": ("list", UPDATERS),
    "dsplit": (TEXT, ["row", "col"]),
    "refresh_leaf": (INT, Interval(min_closed=0, max_closed=1)),
    "process_type": (TEXT, ["default", "update"]),
    "grow_policy": (TEXT, ["depthwise", "lossguide"]),
    "max_leaves": (INT, Interval(min_closed=0)),
    "max_bin": (INT, Interval(min_closed=0)),
    "predictor": (TEXT, ["auto", "cpu_predictor", "gpu_predictor"]),
    "monotone_constraints": ("tuple", [-1, 0, 1]),
    "interaction_constraints": ("nested", Interval(min_closed=1)),
    "sample_type": (TEXT, ["uniform", "weighted"]),
    "normalize_type": (TEXT, ["tree", "forest"]),
    "rate_drop": (FLOAT, Interval(min_closed=0, max_closed=1)),
    "one_drop": (INT, Interval(min_closed=0, max_closed=1)),
    "skip_drop": (FLOAT, Interval(min_closed=0, max_closed=1)),
    "lambda_bias": (FLOAT, Interval(min_closed=0, max_closed=1)),
    "tweedie_variance_power": (FLOAT, Interval(min_open=1, max_open=2)),
    "objective": (TEXT, OBJECTIVES),
    "num_class": (INT, Interval(min_closed=2)),
    "base_score": (FLOAT, Interval(min_closed=0)),
    "_kfold": (INT, Interval(min_closed=2)),
    "_num_cv_round": (INT, Interval(min_closed=1)),
    "_tuning_objective_metric": (TEXT, ["validation:" + m for m in MAXIMIZED + MINIMIZED]),
    "eval_metric": ("list", "metrics"),
    "seed": (INT, Interval(min_open=-(2**31), max_open=2**31 - 1)),
    "num_parallel_tree": (INT, Interval(min_closed=1)),
    "save_model_on_termination": (TEXT, ["true", "false"]),
    "aft_loss_distribution": (TEXT, ["normal", "logistic", "extreme"]),
    "aft_loss_distribution_scale": (FLOAT, Interval(min_closed=0)),
    "deterministic_histogram": (TEXT, ["true", "false"]),
    "sampling_method": (TEXT, ["uniform", "gradient_based"]),
    "prob_buffer_row": (INT, Interval(min_open=1.0)),
    "use_dask_gpu_training": (TEXT, ["true", "false"]),
}
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda",
           "reg_alpha": "alpha"}  # fmt: skip
REQUIRED = ("num_round",)
# Hyperparameters of the image, not of XGBoost: not handed to xgboost.train.
NOT_XGBOOST = ("num_round", "csv_weights", "early_stopping_rounds", "_kfold", "_num_cv_round",
               "_tuning_objective_metric", "save_model_on_termination", "use_dask_gpu_training",
               "prob_buffer_row")  # fmt: skip


def _metric_ok(metric):
    if "<function" in metric:
        raise UserError("User defined evaluation metric {} is not supported yet.".format(metric))
    if "@" in metric:
        name, threshold = [part.strip() for part in metric.split("@", 1)]
        if name not in ("error", "ndcg", "map"):
            raise UserError(
                "Metric '{}' is not supported. Parameter 'eval_metric' with customized "
                "threshold should be one of these options: 'error', 'ndcg', 'map'.".format(metric)
            )
        try:
            float(threshold)
        except ValueError:
            raise UserError("Threshold value 't' in '{}@t' expects float input.".format(name))
        return True
    return metric in MAXIMIZED + MINIMIZED


def _parse(name, kind, value):
    if kind in (INT, FLOAT, TEXT):
        return kind(value)
    if kind == "list":
        return value.split(",")
    parsed = _literal(value)  # a tuple or nested list written as Python literal text
    return tuple(parsed) if kind == "tuple" else [list(inner) for inner in parsed]


def _check_range(name, kind, allowed, value):
    if allowed is None:
        return
    if kind == "list":
        ok = all(_metric_ok(v) if allowed == "metrics" else v in allowed for v in value)
        if not ok:
            shown = "the documented eval_metric values" if allowed == "metrics" else allowed
            raise UserError(
                "Hyperparameter {}: value {} not in range {}".format(name, value, shown)
            )
    elif kind == "tuple":
        if any(v not in allowed for v in value):
            raise UserError(
                "Hyperparameter {}: value {} not in range {}".format(name, value, allowed)
            )
    elif kind == "nested":
        if any(v not in allowed for inner in value for v in inner):
            raise UserError(
                "Hyperparameter {}: value {} not in range {}".format(name, value, allowed)
            )
    elif value not in allowed:
        raise UserError("Hyperparameter {}: {} is not in {}".format(name, value, allowed))


def _check_dependencies(hps):
    objective, num_class = hps.get("objective"), hps.get("num_class")
    if objective in ("multi:softmax", "multi:softprob") and num_class is None:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    if objective is None and num_class is not None:
        raise UserError(
            "Do not need to setup parameter 'num_class' for learning task other than "
            "multi-classification."
        )
    metrics = hps.get("eval_metric") or []
    if "auc" in metrics and objective is not None:
        if not objective.startswith(("binary:", "rank:")):
            raise UserError(
                "Metric 'auc' can only be applied for classification and ranking problems."
            )
    if "aft-nloglik" in metrics and objective is not None and objective != "survival:aft":
        raise UserError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")
    tree_method = hps.get("tree_method")
    if hps.get("monotone_constraints") is not None and tree_method not in ("exact", "hist"):
        raise UserError(
            "monotone_constraints can be used only when the tree_method parameter is set to "
            "either 'exact' or 'hist'."
        )
    if hps.get("interaction_constraints") is not None and tree_method not in (
        "exact",
        "hist",
        "approx",
    ):
        raise UserError(
            "interaction_constraints can be used only when the tree_method parameter is set to "
            "either 'exact', 'hist' or 'approx'."
        )


def validate_hyperparameters(raw):
    """The request's hyperparameters (strings) parsed and checked in the algorithm toolkit's
    order: aliases, required, parse (unknown names refused), ranges, dependencies."""
    given = {ALIASES.get(k, k): v for k, v in raw.items()}
    for name in REQUIRED:
        if name not in given:
            raise UserError("Missing required hyperparameter: {}".format(name))
    parsed = {}
    for name, value in given.items():
        if name not in HYPERPARAMETERS:
            raise UserError("Extraneous hyperparameter found: {}".format(name))
        kind = HYPERPARAMETERS[name][0]
        try:
            parsed[name] = _parse(name, kind, value)
        except (ValueError, SyntaxError, TypeError):
            raise UserError(
                "Hyperparameter {}: could not parse value (caused by ValueError)".format(name)
            )
    for name, value in parsed.items():
        kind, allowed = HYPERPARAMETERS[name]
        _check_range(name, kind, allowed, value)
    _check_dependencies(parsed)
    return parsed


# ----------------------------------------------------------------------------- channels

CSV, LIBSVM, PARQUET, RECORDIO = "csv", "libsvm", "parquet", "recordio-protobuf"
CONTENT_TYPES = {
    "csv": CSV,
    "text/csv": CSV,
    "libsvm": LIBSVM,
    "text/libsvm": LIBSVM,
    "text/x-libsvm": LIBSVM,
    "parquet": PARQUET,
    "application/x-parquet": PARQUET,
    "recordio-protobuf": RECORDIO,
    "application/x-recordio-protobuf": RECORDIO,
}
DEFAULT_CONTENT_TYPE = "text/libsvm"
CHANNELS = ("train", "validation", "code")


def parse_content_type(value):
    """'text/csv; label_size=1' -> 'csv' (a label_size other than 1 refused)."""
    parts = [p.strip() for p in value.lower().split(";")]
    media, params = parts[0], dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    if media not in CONTENT_TYPES:
        accepted = ", ".join(sorted(CONTENT_TYPES))
        raise UserError("{} is not an accepted ContentType: {}.".format(value, accepted))
    kind = CONTENT_TYPES[media]
    if kind == CSV and params.get("label_size", "1").strip() != "1":
        raise UserError(
            "{} is not an accepted csv ContentType. Optional parameter label_size must be "
            "equal to 1".format(value)
        )
    return kind


def validate_channels(data_config):
    """inputdataconfig.json checked as the image's channel validation does; returns
    {channel: content kind} for train and validation."""
    if "train" not in data_config:
        raise UserError("Missing required channel: train")
    kinds = {}
    for name, value in data_config.items():
        if name not in CHANNELS:
            raise UserError("Extraneous channel found: {}".format(name))
        value = dict(value)
        value.setdefault("ContentType", DEFAULT_CONTENT_TYPE)
        if name == "code":
            continue
        if value.get("TrainingInputMode", "File") != "File":
            raise UserError(
                "Channel configuration for '{}' channel is not supported locally: {} (the "
                "local algorithm reads File mode only)".format(name, value)
            )
        kind = parse_content_type(value["ContentType"])
        if kind == RECORDIO:
            raise UserError(
                "channel '{}': ContentType {} is not read by the local XGBoost algorithm; use "
                "text/csv, text/libsvm or application/x-parquet".format(name, value["ContentType"])
            )
        kinds[name] = kind
    kinds_seen = set(kinds.values())
    if len(kinds_seen) > 1:  # the image reads every channel as the train channel's type
        raise UserError(
            "the train and validation channels have different content types: {}".format(kinds)
        )
    return kinds


def data_files(folder):
    """A channel's data files: every file under it, hidden ones refused as the image refuses
    them, names starting with '_' skipped."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.startswith("."):
                raise UserError("Hidden file found in the data path! Remove that before training.")
            if not name.startswith("_"):
                found.append(os.path.join(root, name))
    return [f for f in found if os.path.getsize(f) > 0]


def _csv_delimiter(path):
    with open(path, "r", errors="ignore") as f:
        line = f.readline()
    try:
        return csv.Sniffer().sniff(line).delimiter
    except Exception as e:
        raise UserError("Could not determine delimiter on line {}:\n{}".format(line[:50], e))


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_libsvm(path):
    """The first line with features must read <label>[:<weight>] <index>:<value> ..."""
    with open(path, "r", errors="ignore") as f:
        for line in f:
            tokens = line.split()
            if not tokens:
                continue
            label = tokens[0].split(":")
            ok = len(label) <= 2 and all(_is_number(part) for part in label)
            ok = ok and all(len(t.split(":")) == 2 for t in tokens[1:])
            if not ok:
                raise UserError(
                    "First line '{}...' of file '{}' is not 'LIBSVM' format. Please ensure the "
                    "file is in 'LIBSVM' format.".format(line[:50], os.path.basename(path))
                )
            if len(tokens) > 1:
                return


def load_channel(folder, kind, csv_weights, scratch):
    """A channel's DMatrix (None when it holds no data), read as the image reads it: CSV and
    LIBSVM by XGBoost's own text parser over a folder of links to the channel's files (label
    in the first column or field), Parquet through pyarrow with the label in column 0."""
    import xgboost as xgb

    files = data_files(folder) if os.path.isdir(folder) else []
    if not files:
        return None
    if kind == PARQUET:
        import numpy as np
        import pyarrow.parquet as pq

        try:
            tables = [pq.read_table(f).to_pandas().to_numpy(dtype=np.float32) for f in files]
            data = np.vstack(tables)
            return xgb.DMatrix(data[:, 1:], label=data[:, 0])
        except Exception as e:
            raise UserError("Failed to load parquet data with exception:\n{}".format(e))
    links = tempfile.mkdtemp(prefix="channel-", dir=scratch)
    for i, path in enumerate(files):
        os.symlink(
            os.path.abspath(path), os.path.join(links, "%05d-%s" % (i, os.path.basename(path)))
        )
    if kind == CSV:
        delimiter = _csv_delimiter(files[0])
        uri = "{}?format=csv&label_column=0&delimiter={}".format(links, delimiter)
        if csv_weights == 1:
            uri += "&weight_column=1"
        try:
            matrix = xgb.DMatrix(uri)
        except Exception as e:
            raise UserError("Failed to load csv data with exception:\n{}".format(e))
    else:
        for path in files:
            _check_libsvm(path)
        try:
            matrix = xgb.DMatrix("{}?format=libsvm".format(links))
        except Exception as e:
            raise UserError("Failed to load libsvm data with exception:\n{}".format(e))
    if matrix.get_label().size == 0:
        raise UserError("Got input data without labels. Please check the input data set.")
    return matrix


# ----------------------------------------------------------------------------- training


def train(hps, train_matrix, validation_matrix, model_dir):
    """xgboost.train with the image's watchlist, evaluation log and early stopping; saves
    xgboost-model with Booster.save_model."""
    import xgboost as xgb

    config = dict(hps)
    num_round = config["num_round"]
    if "_kfold" in config or "_num_cv_round" in config:
        raise UserError("_kfold cross-validation is not run by the local XGBoost algorithm")
    eval_metric = config.get("eval_metric")
    tuning = config.get("_tuning_objective_metric")
    tuning_metrics = tuning.split(":", 1)[1].split(",") if tuning else None
    wanted = sorted(set(eval_metric or []) | set(tuning_metrics or [])) or None
    if wanted:
        custom = [m for m in wanted if m in CONTAINER_METRICS]
        if custom:
            raise UserError(
                "eval_metric {}: the image computes these in its own code; the local XGBoost "
                "algorithm has XGBoost's metrics only".format(custom)
            )
    for key in NOT_XGBOOST:
        config.pop(key, None)
    if wanted:
        config["eval_metric"] = wanted
    if config.get("updater"):
        config["updater"] = ",".join(config["updater"])
    if "monotone_constraints" in config:
        config["monotone_constraints"] = "(%s)" % ",".join(
            str(v) for v in config["monotone_constraints"]
        )
    if "interaction_constraints" in config:
        config["interaction_constraints"] = json.dumps(config["interaction_constraints"])

    rounds = hps.get("early_stopping_rounds")
    stop_metric = None
    if rounds:
        stop_metric = (tuning_metrics or eval_metric or [None])[-1]
    callbacks = [xgb.callback.EvaluationMonitor(), stop_on_sigterm(xgb)]
    if validation_matrix is not None and stop_metric and rounds:
        callbacks.append(
            xgb.callback.EarlyStopping(
                rounds=rounds,
                data_name="validation",
                metric_name=stop_metric,
                maximize=stop_metric in MAXIMIZED,
                save_best=True,
            )
        )
    watchlist = [(train_matrix, "train")]
    if validation_matrix is not None:
        watchlist.append((validation_matrix, "validation"))
    logging.info(
        "Train matrix has %d rows and %d columns", train_matrix.num_row(), train_matrix.num_col()
    )
    try:
        booster = xgb.train(
            config,
            train_matrix,
            num_boost_round=num_round,
            evals=watchlist,
            callbacks=callbacks,
            verbose_eval=False,
        )
    except Exception as e:
        if any(text in str(e) for text in USER_XGBOOST_ERRORS):
            raise UserError(str(e))
        raise AlgorithmError("XGB train call failed with exception:\n {}".format(e))
    save_model(booster, model_dir, os.environ.get("CHURN_XGBOOST_IMAGE_VERSION", ""))
    return booster


def stop_on_sigterm(xgb):
    """A callback ending training after the round in progress once SIGTERM arrives, so the
    model of the rounds done is saved: SageMaker stops a job (StopTrainingJob, a tuning job's
    early stopping, MaxRuntimeInSeconds) with SIGTERM, and its built-in algorithms save the
    intermediate model when they can ("StoppingCondition" in the API reference)."""
    import signal

    terminated = []
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))

    class StopOnSigterm(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if terminated:
                logging.info("SIGTERM received: training stops after round %d", epoch)
            return bool(terminated)

    return StopOnSigterm()


def save_model(booster, model_dir, image_version):
    """xgboost-model as the image writes it: Booster.save_model to a name without extension,
    which XGBoost before 2.1 (the 1.3-1 to 1.7-1 images) writes in its binary format and XGBoost
    2.1 and later (the 3.0 images) as UBJSON. This XGBoost's choice for an image of the other
    kind is overridden by the extension XGBoost reads as the format's name, then the file is
    renamed."""
    import xgboost as xgb

    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, MODEL_NAME)
    image_major = int(image_version.split(".")[0]) if image_version[:1].isdigit() else None
    here = tuple(int(p) for p in xgb.__version__.split(".")[:2] if p.isdigit())
    if image_major is not None and image_major < 2 and here >= (2, 1):
        booster.save_model(path + ".deprecated")
        os.replace(path + ".deprecated", path)
    elif image_major is not None and image_major >= 2 and here < (2, 1):
        booster.save_model(path + ".ubj")
        os.replace(path + ".ubj", path)
    else:
        booster.save_model(path)


def main():
    logging.basicConfig(
        format="[%(asctime)s:%(levelname)s] %(message)s",
        datefmt="%Y-%m-%d:%H:%M:%S",
        level=logging.INFO,
    )
    env = os.environ
    failure = os.path.join(env.get("SM_OUTPUT_DIR", "/opt/ml/output"), "failure")
    scratch = tempfile.mkdtemp(prefix="xgboost-algorithm-")
    try:
        with open(env["SM_INPUT_TRAINING_CONFIG_FILE"]) as f:
            raw = json.load(f)
        with open(env["SM_INPUT_DATA_CONFIG_FILE"]) as f:
            data_config = json.load(f)
        hosts = json.loads(env.get("SM_HOSTS", '["algo-1"]'))
        if len(hosts) > 1:
            raise UserError("the local XGBoost algorithm trains on one instance")
        hps = validate_hyperparameters(raw)
        kinds = validate_channels(data_config)
        train_path = env["SM_CHANNEL_TRAIN"]
        validation_path = env.get("SM_CHANNEL_VALIDATION")
        train_matrix = load_channel(train_path, kinds["train"], hps.get("csv_weights", 0), scratch)
        if train_matrix is None:
            raise UserError("No data in training channel path {}".format(train_path))
        validation_matrix = None
        if "validation" in kinds and validation_path:
            validation_matrix = load_channel(
                validation_path, kinds["validation"], hps.get("csv_weights", 0), scratch
            )
            if validation_matrix is None:
                raise UserError("No data in validation channel path {}".format(validation_path))
        train(hps, train_matrix, validation_matrix, env["SM_MODEL_DIR"])
    except (UserError, AlgorithmError) as e:
        kind = "ClientError" if isinstance(e, UserError) else "AlgorithmError"
        message = "%s: %s" % (kind, e)
        sys.stderr.write(message + "\n")
        try:
            os.makedirs(os.path.dirname(failure), exist_ok=True)
            with open(failure, "w") as f:
                f.write(message)
        except OSError:
            pass
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
