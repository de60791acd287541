"""Data-quality baseline: statistics.json and constraints.json in Model Monitor's format.

Runs as a processing job (sklearn image) on the raw training table, so that captured endpoint
requests (raw rows too) can be compared with it (docs/container-contracts.md section 6):

  statistics.json   per feature: counts, and for numbers mean, sum, std_dev, min, max, ten
                    equal-width buckets and a quantile sketch; for text the value counts
  constraints.json  per feature: type, completeness, non-negativity or the value domain, and the
                    monitoring_config (L-infinity drift, threshold 0.1)

The sketch keeps KLL's shape ({"parameters": {"c": 0.64, "k": 2048}, "data": [[...]]}) with one
level holding up to k evenly spaced quantiles of the column, which is what a drift check needs
to rebuild the baseline's distribution.

The table is read in chunks of CHUNK_ROWS rows, and each is summarised exactly and mergeably:
per numeric feature its distinct values with their counts, per text feature its value counts.
Memory holds each chunk's distinct values, combined once at the end, so it grows with the rows
only as fast as new values keep appearing; summaries merge without loss, so the statistics are
the same however the rows were divided. That divides the work over instances:

    python baseline.py --input DIR_OR_CSV --schema NAME_OR_PATH --output-dir DIR
    python baseline.py ... --shard-of RESOURCE_CONFIG   one instance's share: writes its summary,
                                                        <output-dir>/<host>/baseline_shard.npz
    python baseline.py --merge DIR --schema ... --output-dir DIR    the shards' summaries merged
                                                        into statistics.json, constraints.json

(the pipeline's BaselineShards and BaselineData steps). The summaries are numpy arrays in an
.npz archive, read with allow_pickle=False.
"""

import argparse
import json
import os
import zipfile

import numpy as np

from churn_io import DataError, csv_files, read_raw_chunks
from churn_job import (
    add_division_arguments,
    current_host,
    fail,
    shard_results,
    write_atomic,
    write_text_atomic,
)
from churn_quality import documents, feature_entries, numeric_statistics, string_statistics
from churn_schema import SchemaError, load_schema

FAILURE_FILE = "/opt/ml/output/message"
SHARD_FILE = "baseline_shard.npz"
SHARD_FORMAT = "churn-baseline-shard/1"
CHUNK_ROWS = 500000  # rows read at a time: about 200 MB of raw text in pandas


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", default="/opt/ml/processing/input/data")
    p.add_argument("--schema", default="seed")
    p.add_argument("--output-dir", default="/opt/ml/processing/baseline")
    add_division_arguments(p, CHUNK_ROWS, "summary", "baseline")
    return p.parse_args(argv)


def text_of(column):
    return [
        "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
        for v in column
    ]


# ----------------------------------------------------------------------------- summaries


class Summary(object):
    """The mergeable, exact summary of some rows: per feature, its distinct present values
    (sorted) with their counts and the number of missing values; whether any file had it."""

    def __init__(self, schema):
        self.schema = schema
        self.rows = 0
        self.values = {f.name: [] for f in schema.features}  # [(distinct values, counts)]
        self.missing = {f.name: 0 for f in schema.features}
        self.seen = {f.name: False for f in schema.features}

    def add_chunk(self, chunk):
        self.rows += len(chunk)
        for f in self.schema.features:
            if f.name not in chunk.columns:  # this file lacks it: its rows are missing there
                self.missing[f.name] += len(chunk)
                continue
            self.seen[f.name] = True
            text = text_of(chunk[f.name].tolist())
            if f.is_numeric:
                values = numbers(text)
                present = values[~np.isnan(values)] + 0.0  # + 0.0: -0.0 counts as 0.0
                self.missing[f.name] += len(values) - len(present)
                self.values[f.name].append(np.unique(present, return_counts=True))
            else:
                present = [v for v in text if v != ""]
                self.missing[f.name] += len(text) - len(present)
                self.values[f.name].append(
                    np.unique(np.array(present, dtype=str), return_counts=True)
                    if present
                    else (np.array([], dtype=str), np.array([], dtype=np.int64))
                )

    def merge(self, other):
        self.rows += other.rows
        for name in self.values:
            self.values[name].extend(other.values[name])
            self.missing[name] += other.missing[name]
            self.seen[name] = self.seen[name] or other.seen[name]

    def distinct(self, name, dtype):
        """(sorted distinct values, counts) of a feature over everything added."""
        parts = self.values[name]
        if not parts:
            return np.array([], dtype=dtype), np.array([], dtype=np.int64)
        if len(parts) == 1:
            return parts[0]
        # Each part is sorted and distinct already: look each one up in the union instead of
        # sorting every value with its inverse and weights at once (at 25M rows an instance
        # that took about 45 bytes a row).
        values = np.unique(np.concatenate([v for v, _ in parts]))
        counts = np.zeros(len(values), dtype=np.int64)
        for part_values, part_counts in parts:
            # A part's values are distinct, so no place is named twice in one addition.
            counts[np.searchsorted(values, part_values)] += part_counts
        return values, counts

    def save(self, path):
        arrays = {"rows": np.array(self.rows, dtype=np.int64)}
        meta = {"format": SHARD_FORMAT, "schema": self.schema.name, "features": []}
        for i, f in enumerate(self.schema.features):
            values, counts = self.distinct(f.name, np.float64 if f.is_numeric else str)
            arrays["values_%d" % i], arrays["counts_%d" % i] = values, counts
            arrays["missing_%d" % i] = np.array(self.missing[f.name], dtype=np.int64)
            meta["features"].append({"name": f.name, "seen": self.seen[f.name]})
        arrays["meta"] = np.array(json.dumps(meta))
        write_atomic(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")

    @classmethod
    def load(cls, schema, path):
        try:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"]))
                if meta.get("format") != SHARD_FORMAT:
                    raise ValueError("not a %s summary" % SHARD_FORMAT)
                if [m["name"] for m in meta["features"]] != [f.name for f in schema.features]:
                    raise ValueError("its features are not those of schema %r" % schema.name)
                summary = cls(schema)
                summary.rows = int(archive["rows"])
                for i, (f, m) in enumerate(zip(schema.features, meta["features"])):
                    values, counts = archive["values_%d" % i], archive["counts_%d" % i]
                    numeric = values.dtype.kind == "f"
                    if (
                        values.ndim != 1
                        or counts.shape != values.shape
                        or counts.dtype.kind != "i"
                        or (counts < 0).any()
                        or numeric != f.is_numeric
                    ):
                        raise ValueError("the arrays of %r are not a summary of it" % f.name)
                    summary.values[f.name] = [(values, counts)]
                    summary.missing[f.name] = int(archive["missing_%d" % i])
                    summary.seen[f.name] = bool(m["seen"])
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
            raise DataError("%s is not a baseline shard summary: %s" % (path, e))
        return summary


def summarise(schema, files, chunk_rows):
    summary = Summary(schema)
    wanted = {f.name for f in schema.features}
    chunks = read_raw_chunks(
        files, schema, object, chunk_rows, usecols=lambda header: [c for c in header if c in wanted]
    )
    for _, _, chunk in chunks:
        summary.add_chunk(chunk)
    return summary


def read_shards(schema, folder):
    summary = Summary(schema)
    for path in shard_results(folder, SHARD_FILE, "baseline.py"):
        summary.merge(Summary.load(schema, path))
    return summary


# ----------------------------------------------------------------------------- the baseline


def baseline(args):
    schema = load_schema(args.schema)
    if args.chunk_rows < 1:
        raise DataError("--chunk-rows must be at least 1, not %d" % args.chunk_rows)
    if args.merge:
        summary = read_shards(schema, args.merge)
    else:
        files = csv_files(args.input, none_is_empty=bool(args.shard_of))
        summary = summarise(schema, files, args.chunk_rows)
        if args.shard_of:
            host = current_host(args.shard_of)
            summary.save(os.path.join(args.output_dir, host, SHARD_FILE))
            print("baseline: %s summarised %d rows" % (host, summary.rows))
            return
    missing = [f.name for f in schema.features if not summary.seen[f.name]]
    if missing:
        raise DataError("columns %s are missing from the baseline data" % ", ".join(missing))
    entries = []
    for f in schema.features:
        if f.is_numeric:
            values, counts = summary.distinct(f.name, np.float64)
            inferred = "Integral" if f.integer else "Fractional"
            stats = numeric_statistics(np.repeat(values, counts), summary.missing[f.name])
        else:
            values, counts = summary.distinct(f.name, str)
            inferred = "String"
            stats = string_statistics(values, counts, summary.missing[f.name])
        entries.append(feature_entries(f.name, inferred, stats))
    statistics, constraints = documents(summary.rows, entries)
    os.makedirs(args.output_dir, exist_ok=True)
    _write(os.path.join(args.output_dir, "statistics.json"), statistics)
    _write(os.path.join(args.output_dir, "constraints.json"), constraints)
    print(
        "baseline: %d rows, %d features -> %s"
        % (summary.rows, len(schema.features), args.output_dir)
    )


def numbers(text):
    """float() of each value; missing or non-numeric text is not a value (validation reports
    the latter). After validation every value parses, and numpy's conversion calls float() on
    each one in C, five times faster than a loop of try/except in Python."""
    values = np.array(text, dtype=object)
    values[values == ""] = "nan"
    try:
        return values.astype(np.float64)
    except ValueError:  # text validation would have refused: per value
        return np.array([_number(v) for v in text], dtype=np.float64)


def _number(text):
    try:
        return float(text) if text != "" else np.nan
    except ValueError:
        return np.nan


def _write(path, obj):
    write_text_atomic(path, json.dumps(obj, indent=1))


if __name__ == "__main__":
    try:
        baseline(parse_args())
    except (SchemaError, DataError, OSError) as e:
        fail("baseline", str(e), FAILURE_FILE)
