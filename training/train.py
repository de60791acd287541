"""Train the churn model: XGBoost script mode (docs/container-contracts.md section 2).

The SageMaker XGBoost image runs this file as `python -m train --max_depth 5 ...` with the data
channels in SM_CHANNEL_*; the local runner and the tests do the same on their own folders.
Channels: train and validation (headerless CSV, label first) and preprocessing (the fitted
preprocessing.json, which is copied next to the model so the artifact describes itself).

Writes to SM_MODEL_DIR:
  xgboost-model       the booster in XGBoost's own UBJSON format (never pickle), cut at the
                      best validation round when early stopping triggers
  preprocessing.json  what inference replays on raw rows
Logs one `[i]<TAB>train-auc:...<TAB>validation-auc:...` line per round, the lines the metric
definition regex `validation-auc:([0-9.]+)` picks up. The image imports this module to serve,
so everything runs under `if __name__ == "__main__"`.

With --label_column (the guide's DataBrew -> training shape), the train channel is a prepared
table instead: CSV with a header, the label in that column (1 where it equals --label_positive,
when given), every other column a numeric feature; the validation channel is optional (without
it, no early stopping), and the preprocessing.json written beside the model passes those
columns through, so the model answers rows as the table holds them.

With several hosts (SM_HOSTS), the hosts train one model together through XGBoost's collective:
the first host runs the tracker, each host trains on its share of the rows (its part of a
ShardedByS3Key channel, as the pipeline's train channel is; of a FullyReplicated one, every
size-th row), every host evaluates on all validation rows, and the first host saves the model.

Checkpoints (Managed Spot Training): when the checkpoint folder exists (SageMaker makes
CheckpointConfig.LocalPath, /opt/ml/checkpoints, and fills it from CheckpointConfig.S3Uri before
the job starts), the first host saves the booster there every --checkpoint_interval rounds, as
checkpoint-<fingerprint>-<rounds>.ubj, and a job that starts over (after a Spot interruption)
resumes from the newest one. The fingerprint covers the hyperparameters and the bytes of the
first host's channels, so a checkpoint of other data or other settings is never resumed. After
a resume, early stopping's patience counts from the checkpoint's round.
"""

import argparse
import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import time

# The shared job module ships beside this file in the training code bundle; in the repository it
# lives with the processing scripts.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "processing")]
from churn_job import ArchiveError, extract_archive, fail, write_atomic, write_text_atomic  # noqa: E402

MODEL_FILE = "xgboost-model"
TRACKER_PORT = 9099  # as the SageMaker XGBoost container's distributed training uses
PREPROCESSING_FILE = "preprocessing.json"
CHECKPOINT_NAME = re.compile(r"checkpoint-([0-9a-f]{12})-([0-9]{6})\.ubj")
CHECKPOINTS_KEPT = 2  # the newest, and the one before it in case the newest was cut short


class TrainingError(ValueError):
    """Missing or unusable input; the message says what to fix."""


def parse_args(argv=None):
    env = os.environ.get
    p = argparse.ArgumentParser(description="Train the churn XGBoost model (script mode).")
    # Hyperparameters: the seed template's values are the defaults.
    p.add_argument("--max_depth", type=int, default=5)
    p.add_argument("--eta", type=float, default=0.2)
    p.add_argument("--gamma", type=float, default=4.0)
    p.add_argument("--min_child_weight", type=float, default=6.0)
    p.add_argument("--subsample", type=float, default=0.8)
    # The share of features each tree sees (XGBoost's default, 1.0, is all of them); the
    # template's tuning searches it (pipelines/churn/tuning.py).
    p.add_argument("--colsample_bytree", type=float, default=1.0)
    p.add_argument("--objective", default="binary:logistic")
    p.add_argument("--num_round", type=int, default=100)
    p.add_argument(
        "--early_stopping_rounds",
        type=int,
        default=10,
        help="stop when validation AUC has not improved for this many rounds; 0 = off",
    )
    # Early stopping watches the last metric. Validation logloss is smooth where AUC moves in
    # steps on a few thousand rows, so it stops less at random (bank: AUC 0.861 vs 0.860).
    p.add_argument(
        "--eval_metric",
        default="auc,logloss",
        help="comma-separated; the last one drives early stopping",
    )
    # A prepared table instead of PreprocessData's split (the guide's DataBrew -> training
    # shape): CSV with a header, the label in the column of this name, every other column a
    # numeric feature; validation optional; preprocessing.json is written to say so.
    p.add_argument("--label_column", default="")
    p.add_argument(
        "--label_positive", default="", help="with --label_column: the label value that is 1"
    )
    p.add_argument(
        "--checkpoint_interval",
        type=int,
        default=10,
        help="rounds between checkpoints (when the checkpoint folder exists)",
    )
    p.add_argument("--tree_method", default="hist")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--nthread", type=int, default=int(env("SM_NUM_CPUS", "0")), help="0 = all cores"
    )
    # Channels and output, SageMaker's paths by default.
    p.add_argument("--model-dir", default=env("SM_MODEL_DIR", "/opt/ml/model"))
    p.add_argument("--train", default=env("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    p.add_argument(
        "--validation", default=env("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    )
    p.add_argument(
        "--preprocessing",
        default=env("SM_CHANNEL_PREPROCESSING", "/opt/ml/input/data/preprocessing"),
    )
    # Optional: the serving code's sourcedir.tar.gz, packed into the model as code/ for a
    # network-isolated model, which cannot fetch SAGEMAKER_SUBMIT_DIRECTORY from S3.
    p.add_argument(
        "--inference", default=env("SM_CHANNEL_INFERENCE", "/opt/ml/input/data/inference")
    )
    # CheckpointConfig.LocalPath; the local runner names its stand-in folder.
    p.add_argument("--checkpoint-dir", default=env("CHURN_CHECKPOINT_DIR", "/opt/ml/checkpoints"))
    args, unknown = p.parse_known_args(argv)
    if unknown:
        # SageMaker passes every hyperparameter it was given; an unknown one is a typo to see,
        # not a reason to lose a training job.
        print("train: ignoring unknown arguments %s" % " ".join(unknown))
    return args


def read_channel(path, name):
    """All CSV files of a channel -> (labels, features) as float32 arrays."""
    import numpy as np
    import pandas as pd

    files = _csv_files(path, name)
    try:
        frames = [pd.read_csv(f, header=None, dtype=np.float32) for f in files]
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise TrainingError(
            "channel %s: %s is not numeric headerless CSV (label first): %s" % (name, path, e)
        )
    data = (
        np.concatenate([f.to_numpy() for f in frames]) if len(frames) > 1 else frames[0].to_numpy()
    )
    if data.shape[0] == 0 or data.shape[1] < 2:
        raise TrainingError("channel %s: need rows with a label and at least one feature" % name)
    return data[:, 0], data[:, 1:]


def read_prepared(path, name, label_column, positive=""):
    """All CSV files of a channel of a prepared table (header row) -> (labels, features,
    feature names): the label from `label_column` (1 where it equals `positive`, when given),
    every other column a numeric feature."""
    import numpy as np
    import pandas as pd

    files = _csv_files(path, name)
    try:
        table = pd.concat(
            [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files], ignore_index=True
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise TrainingError("channel %s: %s is not CSV with a header row: %s" % (name, path, e))
    if label_column not in table.columns:
        raise TrainingError(
            "channel %s: no column %r (label_column) in %s; columns: %s"
            % (name, label_column, path, ", ".join(table.columns))
        )
    label = table.pop(label_column).str.strip()
    if positive:
        labels = (label == positive).to_numpy(dtype=np.float32)
    else:
        labels = pd.to_numeric(label, errors="coerce").to_numpy(dtype=np.float32)
        if np.isnan(labels).any() or not np.isin(labels, (0.0, 1.0)).all():
            raise TrainingError(
                "channel %s: label column %r holds values other than 0 and 1 (set "
                "label_positive to the value that means churn)" % (name, label_column)
            )
    features = table.apply(lambda c: pd.to_numeric(c.str.strip().replace("", None)))
    bad = [c for c in features.columns if features[c].dtype == object]
    if bad or table.shape[1] == 0:
        raise TrainingError(
            "channel %s: columns %s are not numeric (a prepared table holds numbers only)"
            % (name, ", ".join(bad) or "(none)")
        )
    return labels, features.to_numpy(dtype=np.float32), list(table.columns)


def prepared_spec(feature_names, label_column, positive):
    """preprocessing.json for a model trained on a prepared table: requests carry the prepared
    columns, converted to numbers and passed through (no recipe to replay)."""
    return {
        "format": "churn-preprocessing/1",
        "schema": "prepared",
        "id_column": None,
        "target_column": label_column,
        "positive_value": positive or "1",
        "input_columns": feature_names,
        "missing_values": [""],
        "recipe": [
            {
                "Action": {
                    "Operation": "CHANGE_DATA_TYPE",
                    "Parameters": {"sourceColumn": n, "columnDataType": "double"},
                },
                "Fitted": None,
            }
            for n in feature_names
        ],
        "feature_names": feature_names,
    }


def _csv_files(path, name):
    files = (
        sorted(glob.glob(os.path.join(path, "**", "*.csv"), recursive=True))
        if os.path.isdir(path)
        else ([path] if os.path.isfile(path) else [])
    )
    if not files:
        raise TrainingError("channel %s: no .csv file under %s" % (name, path))
    return files


def find_preprocessing(args):
    for folder in (args.preprocessing, args.train):
        candidate = os.path.join(folder, PREPROCESSING_FILE)
        if os.path.isfile(candidate):
            return candidate
    raise TrainingError(
        "%s not found in the preprocessing channel (%s) or the train channel; "
        "the model must carry the preprocessing that inference replays"
        % (PREPROCESSING_FILE, args.preprocessing)
    )


def pack_serving_code(channel, target):
    """The inference channel's archives unpacked into the model's code/ (safely: no links, no
    names leaving it), when the job has that channel."""
    if not os.path.isdir(channel):
        return
    archives = sorted(glob.glob(os.path.join(channel, "*.tar.gz")))
    if not archives:
        raise TrainingError("channel inference: no .tar.gz of serving code in %s" % channel)
    for archive in archives:
        try:
            extract_archive(
                archive, target, label="channel inference: " + os.path.basename(archive)
            )
        except ArchiveError as e:
            raise TrainingError(str(e))


class Cluster(object):
    """Where this host stands in a multi-host job (SM_HOSTS / SM_CURRENT_HOST)."""

    def __init__(self):
        self.hosts = sorted(json.loads(os.environ.get("SM_HOSTS", "[]")) or ["algo-1"])
        self.current = os.environ.get("SM_CURRENT_HOST", self.hosts[0])
        self.rank = self.hosts.index(self.current) if self.current in self.hosts else 0
        self.size = len(self.hosts)
        config = json.loads(os.environ.get("SM_INPUT_DATA_CONFIG", "{}"))
        # A FullyReplicated channel gives every host all rows; each then trains on its share.
        self.replicated = {
            name: c.get("S3DistributionType", "FullyReplicated") == "FullyReplicated"
            for name, c in config.items()
        }

    @property
    def is_master(self):
        return self.rank == 0

    def share(self, labels, features, channel):
        if self.size == 1 or not self.replicated.get(channel, True):
            return labels, features
        return labels[self.rank :: self.size], features[self.rank :: self.size]

    def tracker_address(self):
        """The local runner names a loopback tracker (CHURN_TRACKER_URI=host:port); on
        SageMaker the first host runs it, and its name resolves once the cluster's DNS is up."""
        uri = os.environ.get("CHURN_TRACKER_URI")
        if uri:
            host, port = uri.rsplit(":", 1)
            return host, int(port)
        for _ in range(60):
            try:
                return socket.gethostbyname(self.hosts[0]), TRACKER_PORT
            except socket.gaierror:
                time.sleep(2)
        raise TrainingError("cannot resolve the first host %s of %s" % (self.hosts[0], self.hosts))


class Checkpoints(object):
    """The checkpoint folder of one training: its fingerprint's files, newest first."""

    def __init__(self, folder, fingerprint):
        self.folder, self.fingerprint = folder, fingerprint

    def rounds(self):
        """Rounds of this fingerprint's checkpoints, newest first."""
        found = []
        for name in os.listdir(self.folder):
            match = CHECKPOINT_NAME.fullmatch(name)
            if match and match.group(1) == self.fingerprint:
                found.append(int(match.group(2)))
        return sorted(found, reverse=True)

    def path(self, rounds):
        return os.path.join(self.folder, "checkpoint-%s-%06d.ubj" % (self.fingerprint, rounds))

    def save(self, booster):
        rounds = booster.num_boosted_rounds()
        write_atomic(self.path(rounds), booster.save_model, suffix=".ubj")
        for old in self.rounds()[CHECKPOINTS_KEPT:]:
            os.unlink(self.path(old))


def open_checkpoints(args, params, cluster, channel_dirs):
    """Checkpoints when the folder exists, with the fingerprint every host agrees on (the
    first host's: in a sharded job each host holds other rows); else None."""
    if not os.path.isdir(args.checkpoint_dir):
        return None
    digest = hashlib.sha256(
        json.dumps(
            # nthread changes no model; a restarted job may get another thread budget
            [
                {k: v for k, v in params.items() if k != "nthread"},
                args.num_round,
                args.early_stopping_rounds,
                cluster.size,
            ],
            sort_keys=True,
            default=str,
        ).encode()
    )
    for folder in channel_dirs:
        for path in sorted(glob.glob(os.path.join(folder, "**", "*"), recursive=True)):
            if os.path.isfile(path):
                digest.update(os.path.relpath(path, folder).encode() + b"\0")
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
    fingerprint = "%012x" % first_hosts(cluster, int(digest.hexdigest()[:12], 16))
    return Checkpoints(args.checkpoint_dir, fingerprint)


def first_hosts(cluster, value):
    """The first host's `value` (a non-negative int below 2**63) on every host."""
    if cluster.size == 1:
        return value
    import numpy as np
    import xgboost as xgb

    mine = np.array([value if cluster.is_master else 0], dtype=np.int64)
    return int(xgb.collective.allreduce(mine, xgb.collective.Op.SUM)[0])


def resume_point(checkpoints, cluster):
    """(checkpoint path or None, rounds done): the newest checkpoint the first host has; every
    host resumes from that round (SageMaker gives each host the same S3 prefix)."""
    if checkpoints is None:
        return None, 0
    found = checkpoints.rounds()
    rounds = first_hosts(cluster, found[0] if found else 0)
    if not rounds:
        return None, 0
    path = checkpoints.path(rounds)
    if not os.path.isfile(path):
        raise TrainingError(
            "checkpoint %s of the first host is missing on %s: the hosts' checkpoint folders "
            "differ" % (os.path.basename(path), cluster.current)
        )
    return path, rounds


def round_logger(offset):
    """XGBoost's per-round log line, numbered from the start of the whole training: a resumed
    job goes on at [offset], not at [0]."""
    import xgboost as xgb

    class RoundLogger(xgb.callback.EvaluationMonitor):
        def after_iteration(self, model, epoch, evals_log):
            return super().after_iteration(model, epoch + offset, evals_log)

    return RoundLogger()


def checkpoint_callback(checkpoints, cluster, interval):
    import xgboost as xgb

    class SaveCheckpoint(xgb.callback.TrainingCallback):
        # Every `interval` rounds, not every round: a save writes the whole model, so saving
        # each of n rounds would write O(n^2) bytes.
        def after_iteration(self, model, epoch, evals_log):
            if cluster.is_master and model.num_boosted_rounds() % interval == 0:
                checkpoints.save(model)  # the hosts hold the same model; one writes it
            return False

    return SaveCheckpoint()


@contextlib.contextmanager
def collective(cluster):
    """Join the other hosts in XGBoost's collective, so they train one model together."""
    if cluster.size == 1:
        yield
        return
    import xgboost as xgb
    from xgboost.tracker import RabitTracker

    host, port = cluster.tracker_address()
    tracker = None
    if cluster.is_master:
        tracker = RabitTracker(n_workers=cluster.size, host_ip=host, port=port, sortby="task")
        tracker.start()
    with xgb.collective.CommunicatorContext(
        dmlc_tracker_uri=host,
        dmlc_tracker_port=port,
        dmlc_task_id=cluster.current,
        dmlc_retry=30,
        dmlc_timeout=600,
    ):
        yield
    if tracker is not None:
        tracker.wait_for()


# XGBoost refuses feature names holding '[', ']' or '<' (a band like '<30k' one-hot encodes to
# 'income_<30k'). The booster gets them escaped, HTML-style and with '&' escaped first, so that
# distinct names stay distinct; preprocessing.json keeps the table's own names, which is what
# scoring reads (the booster is given a matrix in that order, never names).
BOOSTER_NAME_ESCAPES = (("&", "&amp;"), ("[", "&#91;"), ("]", "&#93;"), ("<", "&lt;"))


def booster_feature_names(feature_names):
    """The names XGBoost accepts for `feature_names`, one to one."""
    escaped = []
    for name in feature_names:
        for char, escape in BOOSTER_NAME_ESCAPES:
            name = name.replace(char, escape)
        escaped.append(name)
    return escaped


def train(args):
    cluster = Cluster()
    with collective(cluster):
        return _train(args, cluster)


def _train(args, cluster):
    import xgboost as xgb

    started = time.time()
    if args.label_column:
        y_train, x_train, feature_names = read_prepared(
            args.train, "train", args.label_column, args.label_positive
        )
        spec = prepared_spec(feature_names, args.label_column, args.label_positive)
        preprocessing = None
        y_train, x_train = cluster.share(y_train, x_train, channel="train")
        if os.path.isdir(args.validation):
            y_val, x_val, _ = read_prepared(
                args.validation, "validation", args.label_column, args.label_positive
            )
        else:  # no held-out rows: no early stopping (the guide's shape trains on one table)
            y_val, x_val, args.early_stopping_rounds = None, None, 0
    else:
        preprocessing = find_preprocessing(args)
        with open(preprocessing, encoding="utf-8") as f:
            spec = json.load(f)
        feature_names = spec.get("feature_names")
        y_train, x_train = cluster.share(*read_channel(args.train, "train"), channel="train")
        # Every host evaluates on all validation rows: XGBoost's distributed AUC is the mean
        # of the hosts' own AUCs, which is the single-host AUC (and so picks the same early-
        # stopping round) only when each host holds the same rows.
        y_val, x_val = read_channel(args.validation, "validation")
    if feature_names is not None and len(feature_names) != x_train.shape[1]:
        raise TrainingError(
            "train data has %d features but %s names %d"
            % (x_train.shape[1], PREPROCESSING_FILE, len(feature_names))
        )
    if x_val is not None and x_val.shape[1] != x_train.shape[1]:
        raise TrainingError(
            "validation data has %d features, train data %d" % (x_val.shape[1], x_train.shape[1])
        )

    if feature_names is not None:
        feature_names = booster_feature_names(feature_names)
    dtrain = xgb.DMatrix(x_train, label=y_train, feature_names=feature_names)
    # Early stopping reads the last of `evals`. With validation rows only they are scored each
    # round: scoring the train rows too cost three times the boosting itself (an AUC sorts
    # every row each round); their metrics are logged once, for the model kept.
    evals = [(dtrain, "train")]
    if x_val is not None:
        evals = [(xgb.DMatrix(x_val, label=y_val, feature_names=feature_names), "validation")]
    params = {
        "max_depth": args.max_depth,
        "eta": args.eta,
        "gamma": args.gamma,
        "min_child_weight": args.min_child_weight,
        "subsample": args.subsample,
        "colsample_bytree": args.colsample_bytree,
        "objective": args.objective,
        "eval_metric": args.eval_metric.split(","),
        "tree_method": args.tree_method,
        "seed": args.seed,
    }
    if args.nthread > 0:
        params["nthread"] = args.nthread
    channel_dirs = [
        d for d in (args.train, args.validation, args.preprocessing) if os.path.isdir(d)
    ]
    checkpoints = open_checkpoints(args, params, cluster, channel_dirs)
    checkpoint, done = resume_point(checkpoints, cluster)
    if checkpoint:
        print(
            "train: resuming from checkpoint %s (%d of %d rounds done)"
            % (os.path.basename(checkpoint), done, args.num_round)
        )
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=max(0, args.num_round - done),
        evals=evals,
        early_stopping_rounds=args.early_stopping_rounds or None,
        verbose_eval=False,
        xgb_model=checkpoint,
        callbacks=[round_logger(done)]
        + (
            [checkpoint_callback(checkpoints, cluster, max(1, args.checkpoint_interval))]
            if checkpoints
            else []
        ),
    )
    rounds = booster.num_boosted_rounds()
    if args.early_stopping_rounds and hasattr(booster, "best_iteration"):
        rounds = booster.best_iteration + 1
        booster = booster[:rounds]  # serve the best round, not the last one
    if x_val is not None:  # on every host: in a cluster the metric is collective
        scores = booster.eval(dtrain, "train").split("\t")[1:]  # "[0]\ttrain-auc:..."
        print("train: the model kept, on the train rows: %s" % " ".join(scores))

    if not cluster.is_master:  # every host holds the same model; one saves it
        print(
            "train: %s of %s done (%d rows); %s saves the model"
            % (cluster.current, cluster.hosts, len(y_train), cluster.hosts[0])
        )
        return booster
    os.makedirs(args.model_dir, exist_ok=True)
    # save_model picks the format from the extension: write UBJSON under a temporary name,
    # then publish it as `xgboost-model`, the name the XGBoost serving image looks for.
    write_atomic(os.path.join(args.model_dir, MODEL_FILE), booster.save_model, suffix=".ubj")
    pack_serving_code(args.inference, os.path.join(args.model_dir, "code"))
    target = os.path.join(args.model_dir, PREPROCESSING_FILE)
    if preprocessing:
        shutil.copyfile(preprocessing, target)  # byte for byte what PreprocessData wrote
    else:
        write_text_atomic(target, json.dumps(spec, indent=1))
    print(
        "train: %d rows%s, %d features, %d rounds kept; model in %s; %.2f s"
        % (
            len(y_train),
            " on each of %d hosts" % cluster.size if cluster.size > 1 else "",
            x_train.shape[1],
            rounds,
            args.model_dir,
            time.time() - started,
        )
    )
    sys.stdout.flush()
    return booster


if __name__ == "__main__":
    try:
        train(parse_args())
    except (TrainingError, OSError) as e:
        # The job's FailureReason for SageMaker (section 2.5).
        fail(
            "train",
            str(e),
            os.path.join(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"), "failure"),
        )
