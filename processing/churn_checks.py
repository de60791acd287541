"""What the split shows about a table (preprocessing.json's data_checks and input rules'
categories), computed from counts: each feature's distinct values with their rows per class
and split, the train rows' distinct tuple hashes and a bounded sample of the test rows.

A summary of the whole table and the merge of the summaries of its parts give the same report
to the bit (ADR 0017): every number comes from counts that add up, in an order that depends on
the values alone, and the overlap check's sample is chosen by hash, not by position.

A summary is a dict:
  rows          {split: [retained, churned]}
  train         {feature: (distinct raw values, retained rows, churned rows)} of the train split
  held_out      the same of the validation and test rows, for categorical features
  train_tuples  the smallest OVERLAP_TUPLES distinct hashes of the train rows' features
  test_tuples   the feature hashes of the test rows at or below the part's largest train hash
                kept (all of them while the part has fewer distinct train rows)
  test_values   {feature: those test rows' raw values}
"""

import json
import zipfile

import numpy as np
import pandas as pd

from churn_job import write_atomic
from churn_recipe import count_values, to_float
from churn_rules import observed_categories

SPLITS = ("train", "validation", "test")
# The distinct train rows the train/test overlap check compares the test rows with, at most:
# below it the check is exact; above it, it judges the test rows whose features hash at or
# below the largest of the train rows' smallest hashes (a sample no division changes).
OVERLAP_TUPLES = 2**20
ALL = np.uint64(2**64 - 1)


def summarize(frame, labels, splits, schema, compared=OVERLAP_TUPLES):
    """The summary of `frame` (raw features, its rows in any order), split as `splits` says
    ({split: row indices}), with its rows' 0/1 `labels`; `compared` bounds the distinct train
    rows the overlap check compares (OVERLAP_TUPLES; smaller in tests)."""
    assignment = np.zeros(len(frame), dtype=np.int8)
    for i, name in enumerate(SPLITS):
        assignment[splits[name]] = i
    train = assignment == 0
    held_out = ~train
    summary = {
        "rows": {
            name: [int(((assignment == i) & (labels == c)).sum()) for c in (0, 1)]
            for i, name in enumerate(SPLITS)
        },
        "train": {},
        "held_out": {},
    }
    for f in schema.features:
        values = frame[f.name].to_numpy()
        summary["train"][f.name] = class_counts(values[train], labels[train])
        if not f.is_numeric:
            summary["held_out"][f.name] = class_counts(values[held_out], labels[held_out])
    tuples = pd.util.hash_pandas_object(frame[schema.feature_names], index=False).to_numpy()
    summary["train_tuples"] = np.unique(tuples[train])[:compared]
    test = assignment == 2
    kept = test & (tuples <= largest_compared(summary["train_tuples"], compared))
    summary["test_tuples"] = tuples[kept]
    summary["test_values"] = {name: frame[name].to_numpy()[kept] for name in schema.feature_names}
    return summary


def empty_summary(schema):
    """The summary of no rows (an instance ShardedByS3Key gave no object)."""
    nothing = (np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64))
    return {
        "rows": {name: [0, 0] for name in SPLITS},
        "train": {f.name: nothing for f in schema.features},
        "held_out": {f.name: nothing for f in schema.features if not f.is_numeric},
        "train_tuples": np.zeros(0, np.uint64),
        "test_tuples": np.zeros(0, np.uint64),
        "test_values": {name: np.zeros(0) for name in schema.feature_names},
    }


def class_counts(values, labels):
    """(distinct values, retained rows, churned rows) of a column's rows."""
    retained, churned = count_values(values[labels == 0]), count_values(values[labels == 1])
    zeros = (np.zeros(len(retained[0]), np.int64), np.zeros(len(churned[0]), np.int64))
    return (
        np.concatenate([retained[0], churned[0]]),
        np.concatenate([retained[1], zeros[1]]),
        np.concatenate([zeros[0], churned[1]]),
    )


def largest_compared(train_tuples, compared):
    """The largest feature hash the overlap check compares: every hash while fewer than
    `compared` distinct train rows are kept."""
    return train_tuples[-1] if len(train_tuples) >= compared else ALL


def merge(summaries, compared=OVERLAP_TUPLES):
    """The summary of the table whose parts `summaries` summarise."""
    merged = {
        "rows": {
            name: [sum(s["rows"][name][c] for s in summaries) for c in (0, 1)] for name in SPLITS
        }
    }
    for part in ("train", "held_out"):
        merged[part] = {}
        for name in summaries[0][part]:
            # An empty part's arrays are float64: left out, they cannot widen an integer column.
            given = [s[part][name] for s in summaries if len(s[part][name][0])]
            given = given or [summaries[0][part][name]]
            values, retained, churned = (np.concatenate([g[k] for g in given]) for k in range(3))
            uniq, rows = count_values(values, retained)  # each value once: the summary of a
            merged[part][name] = (uniq, rows, count_values(values, churned)[1])  # share stays small
    train_tuples = np.unique(np.concatenate([s["train_tuples"] for s in summaries]))
    merged["train_tuples"] = train_tuples[:compared]
    largest = largest_compared(merged["train_tuples"], compared)
    kept = [s["test_tuples"] <= largest for s in summaries]
    merged["test_tuples"] = np.concatenate([s["test_tuples"][k] for s, k in zip(summaries, kept)])
    merged["test_values"] = {
        name: np.concatenate([s["test_values"][name][k] for s, k in zip(summaries, kept)])
        for name in summaries[0]["test_values"]
    }
    return merged


def recipe_counts(summary):
    """{feature: (distinct values, train rows)}: what churn_recipe.fit_counts fits from."""
    return {
        name: (v, retained + churned) for name, (v, retained, churned) in summary["train"].items()
    }


def table_categories(summary, schema):
    """The categories the whole table holds, for the categorical features whose schema entry
    declares no `values`: a request's category must be one of them (a row of the table is never
    refused, whichever split it fell in)."""
    categories = {}
    for f in schema.features:
        if f.is_numeric or f.values is not None:
            continue
        values = np.concatenate([summary["train"][f.name][0], summary["held_out"][f.name][0]])
        present = count_values(values[~missing(values)])[0]
        categories[f.name] = observed_categories(present)
    return categories


def missing(values):
    """pandas' missing values (NaN, None) of a raw column."""
    return pd.isna(values)


def data_checks(summary, schema):
    """What the split shows about the table, judged later (evaluation/evaluate.py) against the
    pipeline's thresholds, on the raw features the schema names:

    single_feature_auc  each feature alone as a score of the target: a numeric feature's values
                        on the train split (missing below every value); a categorical
                        feature's train churn rate per category, scored on the held-out rows.
                        max(AUC, 1 - AUC): a feature that is the target reversed separates it
                        as well. A copy of the target gives 1.0.
    train_test_overlap  the test rows that hold a distinctive value (one the train split holds
                        at most once, in any feature) and repeat a train row feature for
                        feature. Customers alike in every feature are common where features
                        take few values, and such repeats are no leak; a repeat of a row with
                        a distinctive value is the same customer in both splits. Over at most
                        OVERLAP_TUPLES distinct train rows (compared_test_rows says how many
                        test rows were compared).
    varying_features    the features with more than one value in the train split."""
    aucs, constant = [], []
    for f in schema.features:
        values, retained, churned = summary["train"][f.name]
        if len(count_values(values)[0]) <= 1:
            constant.append(f.name)
        if f.is_numeric:
            x = to_float(values)
            auc = counted_auc(np.where(np.isnan(x), -np.inf, x), retained, churned)
            rows = int(retained.sum() + churned.sum())
        else:
            auc, rows = category_auc(summary["train"][f.name], summary["held_out"][f.name])
        aucs.append({"feature": f.name, "auc": round(max(auc, 1.0 - auc), 6), "rows": rows})
    aucs.sort(key=lambda a: -a["auc"])
    features = schema.feature_names
    return {
        "single_feature_auc": aucs,
        "train_test_overlap": train_test_overlap(summary, features),
        "varying_features": {
            "features": len(features),
            "varying": len(features) - len(constant),
            "constant": constant,
        },
    }


def counted_auc(scores, retained, churned):
    """The area under the ROC curve of scores held by `retained` and `churned` rows each, ties
    counting half (Mann-Whitney, as roc_auc_score gives it), in integers until the one division;
    0.5 when a class is absent."""
    uniq, inverse = np.unique(scores, return_inverse=True)
    inverse = inverse.reshape(-1)
    negatives = np.bincount(inverse, weights=retained, minlength=len(uniq)).astype(np.int64)
    positives = np.bincount(inverse, weights=churned, minlength=len(uniq)).astype(np.int64)
    p, n = int(positives.sum()), int(negatives.sum())
    if p == 0 or n == 0:
        return 0.5
    below = np.cumsum(negatives) - negatives
    twice = 2 * int(np.dot(positives, below)) + int(np.dot(positives, negatives))
    return twice / (2.0 * p * n)


def category_auc(train, held_out):
    """(AUC, rows) of the train split's churn rate per category as the score of the held-out
    rows; a category the train split lacks scores the train split's churn rate."""
    values, retained, churned = train
    categories, rows_retained = count_values(category_text(values), retained)
    _, rows_churned = count_values(category_text(values), churned)
    rate = dict(zip(categories.tolist(), (rows_churned / (rows_retained + rows_churned)).tolist()))
    overall = float(churned.sum()) / float(retained.sum() + churned.sum())
    values, retained, churned = held_out
    scores = np.array([rate.get(c, overall) for c in category_text(values).tolist()])
    return counted_auc(scores, retained, churned), int(retained.sum() + churned.sum())


def category_text(values):
    """A categorical column's raw values as the categories the checks group by ("" missing)."""
    text = np.empty(len(values), dtype=object)
    text[:] = ["" if m else str(v) for v, m in zip(values.tolist(), missing(values).tolist())]
    return text


def train_test_overlap(summary, features):
    """{test_rows, compared_test_rows, distinctive_test_rows, repeated}: see data_checks."""
    test_rows = sum(summary["rows"]["test"])
    distinctive = np.zeros(len(summary["test_tuples"]), dtype=bool)
    for name in features:
        values, retained, churned = summary["train"][name]
        seen = train_count(values, retained + churned, summary["test_values"][name])
        distinctive |= seen <= 1
    repeated = np.isin(summary["test_tuples"], summary["train_tuples"])
    return {
        "test_rows": int(test_rows),
        "compared_test_rows": int(len(distinctive)),
        "distinctive_test_rows": int(distinctive.sum()),
        "repeated": int((distinctive & repeated).sum()),
    }


def train_count(values, counts, wanted):
    """How many train rows hold each of the `wanted` raw values (missing matches missing)."""
    if values.dtype.kind in "fiu" and wanted.dtype.kind in "fiu":  # numbers: a sorted search
        uniq, rows = count_values(values.astype(np.float64), counts)  # ascending, NaN last
        wanted = wanted.astype(np.float64)
        nan = np.isnan(uniq)
        found = np.where(np.isnan(wanted), rows[nan].sum(), 0)
        uniq, rows = uniq[~nan], rows[~nan]
        if len(uniq):
            at = np.minimum(np.searchsorted(uniq, wanted), len(uniq) - 1)
            found = np.where(uniq[at] == wanted, rows[at], found)
        return found
    tally = {}
    for value, rows, absent in zip(values.tolist(), counts.tolist(), missing(values).tolist()):
        key = None if absent else value
        tally[key] = tally.get(key, 0) + rows
    absent = missing(wanted).tolist()
    return np.array(
        [tally.get(None if a else v, 0) for v, a in zip(wanted.tolist(), absent)], dtype=np.int64
    )


# ----------------------------------------------------------------------------- summary files
# A divided PreprocessData's instances hand their summaries to the merge as .npz archives,
# read with allow_pickle=False: text travels as UTF-8 bytes with offsets and a missing mask.

SUMMARY_FORMAT = "churn-preprocess-summary/1"


def save_summary(path, summary, schema, columns, sample):
    """Write `summary` of a table whose header is `columns`, with a few raw rows (`sample`, a
    list of lists) the merge replays the recipe on to learn its columns."""
    arrays, names = {}, schema.feature_names
    for part in ("train", "held_out"):
        for k, name in enumerate(names):
            if name in summary[part]:
                for j, array in enumerate(summary[part][name]):
                    arrays.update(encoded("%s_%d_%d" % (part, k, j), array))
    for k, name in enumerate(names):
        arrays.update(encoded("test_values_%d" % k, summary["test_values"][name]))
    arrays["train_tuples"], arrays["test_tuples"] = summary["train_tuples"], summary["test_tuples"]
    meta = {
        "format": SUMMARY_FORMAT,
        "rows": summary["rows"],
        "features": names,
        "columns": columns,
        "sample": sample,
    }
    arrays["meta"] = np.array(json.dumps(meta, default=plain))
    write_atomic(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")


def plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError("not JSON serializable: %r" % (value,))


def encoded(key, values):
    """{key...: arrays} that hold `values` without pickling: numbers as they are; text (an
    object array of str and missing values) as UTF-8 bytes, their ends and a missing mask."""
    import pyarrow as pa  # in the processing image's requirements; read by the jobs that write

    if values.dtype != object:
        return {key: values}
    absent = np.asarray(missing(values), dtype=bool)
    present = [None if a else v for v, a in zip(values.tolist(), absent.tolist())]
    try:  # Arrow writes the bytes in C: a missing value is empty there
        text = pa.array(present, type=pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # not all str: as str() writes them
        text = pa.array([None if v is None else str(v) for v in present], type=pa.string())
    _, offsets, data = text.buffers()
    ends = np.frombuffer(offsets, dtype=np.int32)[1 : len(text) + 1].astype(np.int64)
    size = int(ends[-1]) if len(ends) else 0
    data = np.frombuffer(data, dtype=np.uint8)[:size].copy() if size else np.zeros(0, np.uint8)
    return {key + "_text": data, key + "_ends": ends, key + "_missing": absent}


def decoded(archive, key):
    if key in archive:
        return archive[key]
    data, ends = archive[key + "_text"].tobytes(), archive[key + "_ends"]
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    values = np.empty(len(ends), dtype=object)
    values[:] = [data[s:e].decode("utf-8") for s, e in zip(starts.tolist(), ends.tolist())]
    values[archive[key + "_missing"]] = np.nan
    return values


def load_summary(path, schema):
    """(summary, columns, sample) of a summary file; a file of another format or schema is one
    clear error."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            if meta.get("format") != SUMMARY_FORMAT:
                raise ValueError("not a %s archive" % SUMMARY_FORMAT)
            if meta["features"] != schema.feature_names:
                raise ValueError("its features are not schema %s's" % schema.name)
            names = meta["features"]
            summary = {"rows": meta["rows"], "train": {}, "held_out": {}, "test_values": {}}
            for part in ("train", "held_out"):
                for k, name in enumerate(names):
                    if part + "_%d_0" % k in archive or part + "_%d_0_text" % k in archive:
                        summary[part][name] = tuple(
                            decoded(archive, "%s_%d_%d" % (part, k, j)) for j in range(3)
                        )
            for k, name in enumerate(names):
                summary["test_values"][name] = decoded(archive, "test_values_%d" % k)
            summary["train_tuples"] = archive["train_tuples"]
            summary["test_tuples"] = archive["test_tuples"]
            check_summary(summary)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
        raise OSError("%s is not a preprocessing shard's summary: %s" % (path, e))
    return summary, meta["columns"], meta["sample"]


def check_summary(summary):
    """A summary's arrays agree with each other (a forged or truncated file fails here, not
    as a wrong report)."""
    for part in ("train", "held_out"):
        for values, retained, churned in summary[part].values():
            if not (len(values) == len(retained) == len(churned)):
                raise ValueError("its value counts are of different lengths")
            if retained.dtype.kind != "i" or churned.dtype.kind != "i":
                raise ValueError("its counts are not whole numbers")
            if (retained < 0).any() or (churned < 0).any():
                raise ValueError("it holds negative counts")
    if summary["train_tuples"].dtype != np.uint64 or summary["test_tuples"].dtype != np.uint64:
        raise ValueError("its row hashes are not 64-bit")
    if any(len(v) != len(summary["test_tuples"]) for v in summary["test_values"].values()):
        raise ValueError("its test rows are of different lengths")
