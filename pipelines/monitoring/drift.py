"""Model Monitor's data-quality analysis, emulated (docs/container-contracts.md section 6):
captured request rows against the baseline's statistics.json and constraints.json, with the
checks data_type_check, completeness_check, baseline_drift_check (L-infinity distance, Robust
correction, threshold 0.1), missing_column_check, extra_column_check and
categorical_values_check, and one drift metric per feature."""

from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

import numpy as np

from pipelines.monitoring.capture_reader import Payload, Row, rows_from_payloads
from processing.churn_quality import (
    Violation,
    analyze,
    categorical_distance,
    numeric_distance,
    robust,
)
from processing.churn_quality import as_number as _number
from processing.churn_quality import is_missing as _missing

# The analysis itself is processing/churn_quality.py's, which the QualityCheck step of the local
# engine and the baseline job share; these names are this module's interface too.
__all__ = [
    "FeatureDistribution",
    "Violation",
    "analyze",
    "categorical_distance",
    "check",
    "distributions",
    "numeric_distance",
    "robust",
]


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
