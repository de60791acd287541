"""Data-quality monitoring of captured requests against the baseline (`churn monitor`).

Emulates Model Monitor's data-quality analysis (SAGEMAKER_CONTRACTS.md sections 5 and 6): read
the endpoint's capture files, rebuild the request rows, compare them with the baseline's
statistics.json and constraints.json and write constraint_violations.json with the checks
data_type_check, completeness_check, baseline_drift_check (L-infinity distance, Robust
correction, threshold 0.1), missing_column_check, extra_column_check and
categorical_values_check. Per-feature metrics are printed as CloudWatch Embedded Metric Format
lines. The same analysis reads S3 and publishes to CloudWatch in pipelines/monitor_aws.py.
"""
import base64
import csv
import io
import json
import math
import os
import time
from datetime import datetime, timezone

import numpy as np

C_ALPHA = 1.8  # Deequ's default for the Robust (two-sample KS) correction
NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"


class MonitorError(ValueError):
    pass


# ----------------------------------------------------------------------------- captured rows

def captured_payloads(capture_dir, endpoint, since=None):
    """(content type, text) of every captured request at or after `since` (UTC datetime)."""
    root = os.path.join(capture_dir, endpoint)
    if not os.path.isdir(root):
        raise MonitorError("no captured data for endpoint %s under %s" % (endpoint, capture_dir))
    payloads = []
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if not name.endswith(".jsonl"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                payloads += payloads_of_records(f, since)
    return payloads


def payloads_of_records(lines, since=None):
    """(content type, text) of the requests in capture-record lines, at or after `since`."""
    payloads = []
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        when = datetime.strptime(record["eventMetadata"]["inferenceTime"],
                                 "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        if since and when < since:
            continue
        data = record["captureData"]["endpointInput"]
        text = data["data"] if data["encoding"] != "BASE64" else \
            base64.b64decode(data["data"]).decode("utf-8", "replace")
        payloads.append((data["observedContentType"], text))
    return payloads


def rows_from_payloads(payloads, features):
    """Rows as {column: raw value} plus the column problems seen (missing / extra columns)."""
    rows, missing, extra = [], set(), set()
    for content_type, text in payloads:
        media = content_type.split(";")[0].strip().lower()
        if media == "text/csv":
            records = [r for r in csv.reader(io.StringIO(text.strip("\r\n"))) if r]
            if records and set(v.strip() for v in records[0]) & set(features):
                header = [v.strip() for v in records[0]]
                missing |= set(features) - set(header)
                extra |= set(header) - set(features)
                rows += [dict(zip(header, r)) for r in records[1:]]
            else:
                for r in records:
                    if len(r) < len(features):
                        missing |= set(features[len(r):])
                    elif len(r) > len(features):
                        extra.add("column %d" % (len(features) + 1))
                    rows.append(dict(zip(features, r)))
        elif media in ("application/json", "application/jsonlines"):
            if media == "application/json":
                payload = json.loads(text)
                instances = payload.get("instances", [payload]) if isinstance(payload, dict) \
                    else payload
            else:
                instances = [json.loads(l) for l in text.splitlines() if l.strip()]
            for instance in instances:
                if isinstance(instance, list):
                    instance = dict(zip(features, instance))
                missing |= set(features) - set(instance)
                extra |= set(instance) - set(features)
                rows.append(instance)
    return rows, missing, extra


# ----------------------------------------------------------------------------- distances

def numeric_distance(baseline_quantiles, values):
    """max |CDF_baseline - CDF_current| over every point of either sample."""
    base = np.sort(np.asarray(baseline_quantiles, dtype=float))
    cur = np.sort(values)
    points = np.concatenate([base, cur])
    cdf_base = np.searchsorted(base, points, side="right") / float(len(base))
    cdf_cur = np.searchsorted(cur, points, side="right") / float(len(cur))
    return float(np.max(np.abs(cdf_base - cdf_cur)))


def categorical_distance(baseline_counts, values):
    total = float(sum(baseline_counts.values()))
    current = {}
    for v in values:
        current[v] = current.get(v, 0) + 1
    n = float(len(values))
    keys = set(baseline_counts) | set(current)
    return max(abs(baseline_counts.get(k, 0) / total - current.get(k, 0) / n) for k in keys)


def robust(distance, n, m):
    return max(0.0, distance - C_ALPHA * math.sqrt((n + m) / float(n * m)))


# ----------------------------------------------------------------------------- checks

def _number(value):
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None, True
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value), True
    except (TypeError, ValueError):
        return None, False


def analyze(statistics, constraints, rows, missing, extra):
    """(violations, metrics): the checks of section 6.4 and one drift metric per feature."""
    config = constraints.get("monitoring_config", {})
    dist_config = config.get("distribution_constraints", {})
    threshold = float(dist_config.get("comparison_threshold", 0.1))
    cat_threshold = float(dist_config.get("categorical_comparison_threshold", threshold))
    type_threshold = float(config.get("datatype_check_threshold", 0.1))
    domain_threshold = float(config.get("domain_content_threshold", 0.1))
    method = dist_config.get("comparison_method", "Robust")
    stats = {f["name"]: f for f in statistics["features"]}
    violations, metrics = [], {}
    for name in sorted(missing):
        violations.append({"feature_name": name, "constraint_check_type": "missing_column_check",
                           "description": "Column %s is missing from the captured data" % name})
    for name in sorted(extra):
        violations.append({"feature_name": name, "constraint_check_type": "extra_column_check",
                           "description": "Column %s is not in the baseline" % name})
    for constraint in constraints["features"]:
        name = constraint["name"]
        if name in missing:
            continue
        raw = [row.get(name) for row in rows]
        present = [v for v in raw if not (v is None or (isinstance(v, str) and v.strip() == ""))]
        completeness = len(present) / float(len(raw)) if raw else 0.0
        if completeness < constraint.get("completeness", 0.0) - 1e-9:
            violations.append({"feature_name": name, "constraint_check_type": "completeness_check",
                               "description": "Completeness %.4f is below the baseline's %.4f"
                                              % (completeness, constraint["completeness"])})
        feature_stats = stats.get(name, {})
        if constraint["inferred_type"] in ("Integral", "Fractional"):
            parsed = [_number(v) for v in present]
            bad = sum(1 for _, ok in parsed if not ok)
            if present and bad / float(len(present)) > type_threshold:
                violations.append({"feature_name": name, "constraint_check_type": "data_type_check",
                                   "description": "%d of %d values are not numbers (threshold "
                                                  "%.2f)" % (bad, len(present), type_threshold)})
            values = np.array([v for v, ok in parsed if ok and v is not None])
            sketch = feature_stats.get("numerical_statistics", {}).get("distribution", {}).get(
                "kll", {}).get("sketch", {}).get("data", [[]])[0]
            if len(values) and sketch:
                distance = numeric_distance(sketch, values)
                n = feature_stats["numerical_statistics"]["common"]["num_present"]
                limit = threshold
            else:
                continue
        else:
            values = [str(v).strip() for v in present]
            buckets = feature_stats.get("string_statistics", {}).get("distribution", {}).get(
                "categorical", {}).get("buckets", [])
            counts = {b["value"]: b["count"] for b in buckets}
            domain = constraint.get("string_constraints", {}).get("domains")
            if domain is not None and values:
                outside = sum(1 for v in values if v not in domain)
                if outside / float(len(values)) > domain_threshold:
                    violations.append({"feature_name": name,
                                       "constraint_check_type": "categorical_values_check",
                                       "description": "%d of %d values are outside the baseline "
                                                      "domain" % (outside, len(values))})
            if not values or not counts:
                continue
            distance = categorical_distance(counts, values)
            n = sum(counts.values())
            limit = cat_threshold
        if method == "Robust":
            distance = robust(distance, n, len(values))
        metrics[name] = round(distance, 6)
        if distance > limit:
            violations.append({"feature_name": name, "constraint_check_type": "baseline_drift_check",
                               "description": "Baseline drift distance: %.4f exceeds threshold: "
                                              "%.2f" % (distance, limit)})
    return violations, metrics


def emf_lines(endpoint, schedule, metrics, item_count):
    """CloudWatch Embedded Metric Format: one JSON line per feature drift metric."""
    now = int(time.time() * 1000)
    lines = []
    for feature, value in sorted(metrics.items()):
        metric = "feature_baseline_drift_%s" % feature
        lines.append(json.dumps({"_aws": {"Timestamp": now, "CloudWatchMetrics": [{
            "Namespace": NAMESPACE, "Dimensions": [["Endpoint", "MonitoringSchedule"]],
            "Metrics": [{"Name": metric, "Unit": "None"}]}]},
            "Endpoint": endpoint, "MonitoringSchedule": schedule, metric: value,
            "item_count": item_count}))
    return lines


def check(statistics, constraints, payloads):
    """(violations, {feature: drift distance}, rows analysed) of captured requests."""
    features = [f["name"] for f in constraints["features"]]
    rows, missing, extra = rows_from_payloads(payloads, features)
    violations, metrics = analyze(statistics, constraints, rows, missing, extra)
    return violations, metrics, len(rows)


def violations_json(violations):
    return json.dumps({"violations": violations}, indent=1)


def write_violations(violations, output_dir):
    """constraint_violations.json in `output_dir`, written whole or not at all."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "constraint_violations.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(violations_json(violations))
    os.replace(path + ".tmp", path)
    return path


def monitor(statistics, constraints, capture_dir, endpoint, output_dir, since=None,
            schedule="churn-local-adhoc"):
    """Run the analysis; write constraint_violations.json (and statistics of nothing else);
    returns (violations, emf lines, rows analysed)."""
    payloads = captured_payloads(capture_dir, endpoint, since)
    if not payloads:
        raise MonitorError("no captured requests for %s since %s" % (endpoint, since))
    violations, metrics, rows = check(statistics, constraints, payloads)
    write_violations(violations, output_dir)
    return violations, emf_lines(endpoint, schedule, metrics, rows), rows
