"""Model Monitor's data-quality formats, one implementation (docs/container-contracts.md
section 6): a feature's entries in statistics.json and constraints.json, and the analysis of rows
against a baseline that constraint_violations.json reports.

Three callers share it: baseline.py (the churn pipeline's BaselineData job, features from the
schema), `churn monitor` (pipelines/monitoring/drift.py, captured requests against a version's
baseline) and the local engine's QualityCheck step (pipelines/local/sagemaker/quality_check.py,
any table, its features' types inferred from the values as Model Monitor's analyzer does).
Python 3.9, numpy only: it travels in the baseline job's code bundle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional, TypedDict, Union

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

Row = Mapping[str, Any]  # one table row: column -> value


class Violation(TypedDict):
    """One entry of constraint_violations.json (section 6.4), as Model Monitor writes it."""

    feature_name: str
    constraint_check_type: str
    description: str


SKETCH_SIZE = 2048
SHRINKING_FACTOR = 0.64
BUCKETS = 10
DOMAIN_LIMIT = 50  # text features with at most this many values get a domain constraint
C_ALPHA = 1.8  # Deequ's default for the Robust (two-sample KS) correction
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


# ----------------------------------------------------------------------------- the baseline


def numeric_statistics(present, missing):
    """Model Monitor's numerical statistics of the present values, sorted (so the sums are the
    same whichever instances read which rows)."""
    common = {"num_present": int(len(present)), "num_missing": int(missing)}
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


def string_statistics(values, counts, missing):
    """Model Monitor's string statistics from the value counts (values sorted)."""
    return {
        "common": {"num_present": int(counts.sum()), "num_missing": int(missing)},
        "distinct_count": float(len(values)),
        "distribution": {
            "categorical": {
                "buckets": [{"value": str(v), "count": int(c)} for v, c in zip(values, counts)]
            }
        },
    }


def completeness(common):
    total = common["num_present"] + common["num_missing"]
    return round(common["num_present"] / float(total), 6) if total else 0.0


def feature_entries(name, inferred, stats):
    """(statistics.json entry, constraints.json entry) of a feature whose statistics are
    `stats` (numeric_statistics for Integral and Fractional, else string_statistics)."""
    constraint = {
        "name": name,
        "inferred_type": inferred,
        "completeness": completeness(stats["common"]),
    }
    if inferred in ("Integral", "Fractional"):
        constraint["num_constraints"] = {"is_non_negative": bool(stats.get("min", 0) >= 0)}
        return {"name": name, "inferred_type": inferred, "numerical_statistics": stats}, constraint
    domain = [b["value"] for b in stats["distribution"]["categorical"]["buckets"]]
    if len(domain) <= DOMAIN_LIMIT:
        constraint["string_constraints"] = {"domains": domain}
    return {"name": name, "inferred_type": "String", "string_statistics": stats}, constraint


def documents(item_count, entries):
    """statistics.json and constraints.json from the features' (statistics, constraint)
    entries, in order."""
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": int(item_count)},
        "features": [s for s, _ in entries],
    }
    constraints = {
        "version": 0.0,
        "features": [c for _, c in entries],
        "monitoring_config": MONITORING_CONFIG,
    }
    return statistics, constraints


def inferred_type(present):
    """Integral, Fractional or String, from a column's present values as text: a number type
    only when every present value is one (a column of no value is String)."""
    if not present:
        return "String"
    integral = True
    for text in present:
        number, ok = as_number(text)
        if not ok or number is None or math.isinf(number) or math.isnan(number):
            return "String"
        integral = integral and number.is_integer() and "." not in text and "e" not in text.lower()
    return "Integral" if integral else "Fractional"


def table_baseline(columns, rows):
    """statistics.json and constraints.json of a table whose features' types are not known
    beforehand (the QualityCheck step's dataset): `rows` are mappings of column to value,
    missing being absent, None or blank text."""
    entries = []
    for name in columns:
        raw = [row.get(name) for row in rows]
        present = [str(v).strip() for v in raw if not is_missing(v)]
        missing = len(raw) - len(present)
        kind = inferred_type(present)
        if kind == "String":
            values, counts = np.unique(np.array(present, dtype=str), return_counts=True)
            stats = string_statistics(values, counts, missing)
        else:
            numbers = np.sort(np.array([float(v) for v in present], dtype=np.float64)) + 0.0
            stats = numeric_statistics(numbers, missing)
        entries.append(feature_entries(name, kind, stats))
    return documents(len(rows), entries)


# ----------------------------------------------------------------------------- the analysis


def numeric_distance(baseline_quantiles: Sequence[float], values: npt.ArrayLike) -> float:
    """max |CDF_baseline - CDF_current| over every point of either sample."""
    base = np.sort(np.asarray(baseline_quantiles, dtype=float))
    cur = np.sort(values)
    points = np.concatenate([base, cur])
    cdf_base = np.searchsorted(base, points, side="right") / float(len(base))
    cdf_cur = np.searchsorted(cur, points, side="right") / float(len(cur))
    return float(np.max(np.abs(cdf_base - cdf_cur)))


def categorical_distance(baseline_counts: Mapping[str, float], values: Sequence[str]) -> float:
    total = float(sum(baseline_counts.values()))
    current: dict[str, int] = {}
    for v in values:
        current[v] = current.get(v, 0) + 1
    n = float(len(values))
    keys = set(baseline_counts) | set(current)
    return max(abs(baseline_counts.get(k, 0) / total - current.get(k, 0) / n) for k in keys)


def robust(distance: float, n: float, m: float) -> float:
    return max(0.0, distance - C_ALPHA * math.sqrt((n + m) / float(n * m)))


def is_missing(value: object) -> bool:
    """No value: absent, null or blank text (what completeness counts as missing)."""
    return value is None or (isinstance(value, str) and value.strip() == "")


def as_number(value: Any) -> tuple[Optional[float], bool]:
    """(the number, whether it is one); (None, True) for a missing value."""
    if is_missing(value):
        return None, True
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value), True
    except (TypeError, ValueError):
        return None, False


def analyze(
    statistics: dict[str, Any],
    constraints: dict[str, Any],
    rows: Sequence[Row],
    missing: Iterable[str],
    extra: Iterable[str],
) -> tuple[list[Violation], dict[str, float]]:
    """(violations, metrics): the checks of section 6.4 and one drift metric per feature."""
    config = constraints.get("monitoring_config", {})
    dist_config = config.get("distribution_constraints", {})
    threshold = float(dist_config.get("comparison_threshold", 0.1))
    cat_threshold = float(dist_config.get("categorical_comparison_threshold", threshold))
    type_threshold = float(config.get("datatype_check_threshold", 0.1))
    domain_threshold = float(config.get("domain_content_threshold", 0.1))
    method = dist_config.get("comparison_method", "Robust")
    stats = {f["name"]: f for f in statistics["features"]}
    violations: list[Violation] = []
    metrics: dict[str, float] = {}
    for name in sorted(missing):
        violations.append(
            {
                "feature_name": name,
                "constraint_check_type": "missing_column_check",
                "description": "Column %s is missing from the captured data" % name,
            }
        )
    for name in sorted(extra):
        violations.append(
            {
                "feature_name": name,
                "constraint_check_type": "extra_column_check",
                "description": "Column %s is not in the baseline" % name,
            }
        )
    for constraint in constraints["features"]:
        name = constraint["name"]
        if name in missing:
            continue
        values: Union[npt.NDArray[np.float64], list[str]]
        raw = [row.get(name) for row in rows]
        present = [v for v in raw if not is_missing(v)]
        complete = len(present) / float(len(raw)) if raw else 0.0
        if complete < constraint.get("completeness", 0.0) - 1e-9:
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "completeness_check",
                    "description": "Completeness %.4f is below the baseline's %.4f"
                    % (complete, constraint["completeness"]),
                }
            )
        feature_stats = stats.get(name, {})
        if constraint["inferred_type"] in ("Integral", "Fractional"):
            parsed = [as_number(v) for v in present]
            bad = sum(1 for _, ok in parsed if not ok)
            if present and bad / float(len(present)) > type_threshold:
                violations.append(
                    {
                        "feature_name": name,
                        "constraint_check_type": "data_type_check",
                        "description": "%d of %d values are not numbers (threshold "
                        "%.2f)" % (bad, len(present), type_threshold),
                    }
                )
            values = np.array([v for v, ok in parsed if ok and v is not None])
            sketch = (
                feature_stats.get("numerical_statistics", {})
                .get("distribution", {})
                .get("kll", {})
                .get("sketch", {})
                .get("data", [[]])[0]
            )
            if len(values) and sketch:
                distance = numeric_distance(sketch, values)
                n = feature_stats["numerical_statistics"]["common"]["num_present"]
                limit = threshold
            else:
                continue
        else:
            values = [str(v).strip() for v in present]
            buckets = (
                feature_stats.get("string_statistics", {})
                .get("distribution", {})
                .get("categorical", {})
                .get("buckets", [])
            )
            counts = {b["value"]: b["count"] for b in buckets}
            domain = constraint.get("string_constraints", {}).get("domains")
            if domain is not None and values:
                outside = sum(1 for v in values if v not in domain)
                if outside / float(len(values)) > domain_threshold:
                    violations.append(
                        {
                            "feature_name": name,
                            "constraint_check_type": "categorical_values_check",
                            "description": "%d of %d values are outside the baseline "
                            "domain" % (outside, len(values)),
                        }
                    )
            if not values or not counts:
                continue
            distance = categorical_distance(counts, values)
            n = sum(counts.values())
            limit = cat_threshold
        if method == "Robust":
            distance = robust(distance, n, len(values))
        metrics[name] = round(distance, 6)
        if distance > limit:
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "baseline_drift_check",
                    "description": "Baseline drift distance: %.4f exceeds threshold: "
                    "%.2f" % (distance, limit),
                }
            )
    return violations, metrics
