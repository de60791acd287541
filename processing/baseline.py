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

    python baseline.py --input DIR_OR_CSV --schema NAME_OR_PATH --output-dir DIR
"""

import argparse
import json
import os

import numpy as np

from churn_io import DataError, csv_files, read_raw_table
from churn_job import fail, write_text_atomic
from churn_schema import SchemaError, load_schema

FAILURE_FILE = "/opt/ml/output/message"

SKETCH_SIZE = 2048
SHRINKING_FACTOR = 0.64
BUCKETS = 10
DOMAIN_LIMIT = 50  # text features with at most this many values get a domain constraint
MONITORING_CONFIG = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 0.1,
    "domain_content_threshold": 0.1,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", default="/opt/ml/processing/input/data")
    p.add_argument("--schema", default="seed")
    p.add_argument("--output-dir", default="/opt/ml/processing/baseline")
    return p.parse_args(argv)


def numeric_statistics(values, integral):
    present = values[~np.isnan(values)]
    common = {"num_present": int(len(present)), "num_missing": int(len(values) - len(present))}
    if len(present) == 0:
        return {"common": common}
    lo, hi = float(present.min()), float(present.max())
    edges = np.linspace(lo, hi, BUCKETS + 1) if hi > lo else np.array([lo] * (BUCKETS + 1))
    counts = (
        np.histogram(present, bins=edges)[0]
        if hi > lo
        else np.array([len(present)] + [0] * (BUCKETS - 1))
    )
    quantiles = np.quantile(present, np.linspace(0, 1, min(SKETCH_SIZE, len(present))))
    return {
        "common": common,
        "mean": float(present.mean()),
        "sum": float(present.sum()),
        "std_dev": float(present.std()),
        "min": lo,
        "max": hi,
        "distribution": {
            "kll": {
                "buckets": [
                    {
                        "lower_bound": float(edges[i]),
                        "upper_bound": float(edges[i + 1]),
                        "count": float(counts[i]),
                    }
                    for i in range(BUCKETS)
                ],
                "sketch": {
                    "parameters": {"c": SHRINKING_FACTOR, "k": float(SKETCH_SIZE)},
                    "data": [[float(q) for q in quantiles]],
                },
            }
        },
    }


def string_statistics(values):
    present = [v for v in values if v != ""]
    uniq, counts = (
        np.unique(np.array(present, dtype=object).astype(str), return_counts=True)
        if present
        else (np.array([]), np.array([]))
    )
    return {
        "common": {"num_present": len(present), "num_missing": len(values) - len(present)},
        "distinct_count": float(len(uniq)),
        "distribution": {
            "categorical": {
                "buckets": [{"value": str(v), "count": int(c)} for v, c in zip(uniq, counts)]
            }
        },
    }


def text_of(column):
    return [
        "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
        for v in column
    ]


def baseline(args):
    schema = load_schema(args.schema)
    table = read_raw_table(csv_files(args.input), schema, object)
    missing = [f.name for f in schema.features if f.name not in table.columns]
    if missing:
        raise DataError("columns %s are missing from the baseline data" % ", ".join(missing))
    statistics, constraints = [], []
    for f in schema.features:
        text = text_of(table[f.name].tolist())
        if f.is_numeric:
            values = numbers(text)
            inferred = "Integral" if f.integer else "Fractional"
            stats = numeric_statistics(values, f.integer)
            statistics.append(
                {"name": f.name, "inferred_type": inferred, "numerical_statistics": stats}
            )
            constraint = {
                "name": f.name,
                "inferred_type": inferred,
                "completeness": _completeness(stats["common"]),
                "num_constraints": {"is_non_negative": bool(stats.get("min", 0) >= 0)},
            }
        else:
            stats = string_statistics(text)
            statistics.append(
                {"name": f.name, "inferred_type": "String", "string_statistics": stats}
            )
            constraint = {
                "name": f.name,
                "inferred_type": "String",
                "completeness": _completeness(stats["common"]),
            }
            domain = [b["value"] for b in stats["distribution"]["categorical"]["buckets"]]
            if len(domain) <= DOMAIN_LIMIT:
                constraint["string_constraints"] = {"domains": domain}
        constraints.append(constraint)
    os.makedirs(args.output_dir, exist_ok=True)
    _write(
        os.path.join(args.output_dir, "statistics.json"),
        {"version": 0.0, "dataset": {"item_count": int(len(table))}, "features": statistics},
    )
    _write(
        os.path.join(args.output_dir, "constraints.json"),
        {"version": 0.0, "features": constraints, "monitoring_config": MONITORING_CONFIG},
    )
    print(
        "baseline: %d rows, %d features -> %s" % (len(table), len(schema.features), args.output_dir)
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


def _completeness(common):
    total = common["num_present"] + common["num_missing"]
    return round(common["num_present"] / float(total), 6) if total else 0.0


def _write(path, obj):
    write_text_atomic(path, json.dumps(obj, indent=1))


if __name__ == "__main__":
    try:
        baseline(parse_args())
    except (SchemaError, DataError, OSError) as e:
        fail("baseline", str(e), FAILURE_FILE)
