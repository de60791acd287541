"""Model Monitor's data-quality analysis, emulated (docs/container-contracts.md section 6):
captured request rows against the baseline's statistics.json and constraints.json, with the
checks data_type_check, completeness_check, baseline_drift_check (L-infinity distance, Robust
correction, threshold 0.1), missing_column_check, extra_column_check and
categorical_values_check, and one drift metric per feature."""

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional, TypedDict, Union

import numpy as np
import numpy.typing as npt

from pipelines.monitoring.capture_reader import Payload, Row, rows_from_payloads

C_ALPHA = 1.8  # Deequ's default for the Robust (two-sample KS) correction


class Violation(TypedDict):
    """One entry of constraint_violations.json (section 6.4), as Model Monitor writes it."""

    feature_name: str
    constraint_check_type: str
    description: str


class DistributionBucket(TypedDict):
    """A bucket of a feature's distribution: each side as a fraction of its rows."""

    label: str
    baseline: float
    captured: float


class FeatureDistribution(TypedDict):
    """A baseline feature's distribution beside the captured rows' (`distributions`)."""

    name: str
    type: str  # the baseline's inferred_type: Integral, Fractional or String
    buckets: list[DistributionBucket]


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


def _missing(value: object) -> bool:
    """No value: absent, null or blank text (what completeness counts as missing)."""
    return value is None or (isinstance(value, str) and value.strip() == "")


def _number(value: Any) -> tuple[Optional[float], bool]:
    if _missing(value):
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
        present = [v for v in raw if not _missing(v)]
        completeness = len(present) / float(len(raw)) if raw else 0.0
        if completeness < constraint.get("completeness", 0.0) - 1e-9:
            violations.append(
                {
                    "feature_name": name,
                    "constraint_check_type": "completeness_check",
                    "description": "Completeness %.4f is below the baseline's %.4f"
                    % (completeness, constraint["completeness"]),
                }
            )
        feature_stats = stats.get(name, {})
        if constraint["inferred_type"] in ("Integral", "Fractional"):
            parsed = [_number(v) for v in present]
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


def check(
    statistics: dict[str, Any], constraints: dict[str, Any], payloads: Iterable[Payload]
) -> tuple[list[Violation], dict[str, float], int, int]:
    """(violations, {feature: drift distance}, rows analysed, payloads skipped as unreadable)
    of captured requests."""
    features = [f["name"] for f in constraints["features"]]
    rows, missing, extra, unreadable = rows_from_payloads(payloads, features)
    violations, metrics = analyze(statistics, constraints, rows, missing, extra)
    return violations, metrics, len(rows), unreadable


def distributions(
    statistics: dict[str, Any], rows: Sequence[Row], most_values: int = 20
) -> list[FeatureDistribution]:
    """Each baseline feature's distribution beside the captured rows', in the baseline's own
    buckets (its KLL histogram, or its most frequent values): [{"name", "type", "buckets":
    [{"label", "baseline", "captured"}]}] with each side as fractions of its rows. Captured
    numbers outside the baseline's range get a bucket of their own on each end; values the
    baseline never saw are counted under "other"."""
    out: list[FeatureDistribution] = []
    for feature in statistics["features"]:
        name = feature["name"]
        present = [row.get(name) for row in rows if not _missing(row.get(name))]
        rows_out: list[DistributionBucket]
        if "numerical_statistics" in feature:
            buckets = feature["numerical_statistics"]["distribution"]["kll"]["buckets"]
            if not buckets:
                continue
            edges = [b["lower_bound"] for b in buckets] + [buckets[-1]["upper_bound"]]
            values = np.array([v for v, ok in map(_number, present) if ok and v is not None])
            below = int(np.sum(values < edges[0]))
            above = int(np.sum(values > edges[-1]))
            inside = values[(values >= edges[0]) & (values <= edges[-1])]
            counts = np.histogram(inside, bins=edges)[0] if len(inside) else [0] * len(buckets)
            base_total = float(sum(b["count"] for b in buckets)) or 1.0
            cur_total = float(len(values)) or 1.0
            rows_out = [
                {
                    "label": "%g to %g" % (b["lower_bound"], b["upper_bound"]),
                    "baseline": b["count"] / base_total,
                    "captured": int(c) / cur_total,
                }
                for b, c in zip(buckets, counts)
            ]
            if below:
                rows_out.insert(
                    0, {"label": "< %g" % edges[0], "baseline": 0.0, "captured": below / cur_total}
                )
            if above:
                rows_out.append(
                    {"label": "> %g" % edges[-1], "baseline": 0.0, "captured": above / cur_total}
                )
            out.append({"name": name, "type": feature["inferred_type"], "buckets": rows_out})
        else:
            buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
            base = {b["value"]: b["count"] for b in buckets}
            base_total = float(sum(base.values())) or 1.0
            current: dict[str, int] = {}
            for v in present:
                current[str(v).strip()] = current.get(str(v).strip(), 0) + 1
            cur_total = float(len(present)) or 1.0
            shown = sorted(base, key=lambda v: -base[v])[:most_values]
            rows_out = [
                {
                    "label": v,
                    "baseline": base[v] / base_total,
                    "captured": current.get(v, 0) / cur_total,
                }
                for v in shown
            ]
            other_base = sum(c for v, c in base.items() if v not in shown)
            other_cur = sum(c for v, c in current.items() if v not in shown)
            if other_base or other_cur:
                rows_out.append(
                    {
                        "label": "other",
                        "baseline": other_base / base_total,
                        "captured": other_cur / cur_total,
                    }
                )
            out.append({"name": name, "type": feature["inferred_type"], "buckets": rows_out})
    return out
