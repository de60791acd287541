"""What a monitoring run leaves behind: constraint_violations.json, which baseline it was checked
against, and the per-feature metrics as CloudWatch Embedded Metric Format lines where no
CloudWatch takes them (docs/container-contracts.md sections 6.4 and 5); `reports` reads a
folder's reports back (`churn ui`). `churn monitor` (pipelines/cli/monitor.py) writes them; the
service calls it makes (capture and baselines through an s3 client, PutMetricData) are in
pipelines/aws/monitoring.py."""

import calendar
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, Optional, TypedDict

from pipelines.monitoring.drift import Violation
from processing.churn_job import write_text_atomic

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
# A local report's folder: <monitoring dir>/<endpoint>/<UTC time of the run>/.
REPORT_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
VIOLATIONS_FILE = "constraint_violations.json"
# The metrics a Model Monitor job hands CloudWatch (its container writes them under
# /opt/ml/output/metrics/cloudwatch); locally they stay in the report, one EMF line each.
METRICS_FILE = "cloudwatch_metrics.jsonl"
METRIC_PREFIX = "feature_baseline_drift_"
# Which baseline a local report was checked against ({"description", "ModelPackageArn" or
# "BaselineDir"}): Model Monitor's schedule knows it; a local report keeps it beside itself.
BASELINE_FILE = "baseline.json"


class Report(TypedDict):
    """A local report as `reports` reads it back (`churn ui` draws them)."""

    time: int  # when it ran, epoch seconds (its folder's name)
    folder: str
    violations: list[Violation]
    metrics: dict[str, float]  # {feature: drift distance}
    rows: Optional[int]  # rows analysed; None for a report from before it was kept
    # what it was checked against ({"description", "ModelPackageArn" or "BaselineDir"}), or
    # None for a report from before reports named their baseline
    baseline: Optional[dict[str, Any]]


def emf_lines(
    endpoint: str,
    schedule: str,
    metrics: Mapping[str, float],
    item_count: int,
    namespace: str = NAMESPACE,
) -> list[str]:
    """CloudWatch Embedded Metric Format: one JSON line per feature drift metric."""
    now = int(time.time() * 1000)
    lines = []
    for feature, value in sorted(metrics.items()):
        metric = METRIC_PREFIX + feature
        lines.append(
            json.dumps(
                {
                    "_aws": {
                        "Timestamp": now,
                        "CloudWatchMetrics": [
                            {
                                "Namespace": namespace,
                                "Dimensions": [["Endpoint", "MonitoringSchedule"]],
                                "Metrics": [{"Name": metric, "Unit": "None"}],
                            }
                        ],
                    },
                    "Endpoint": endpoint,
                    "MonitoringSchedule": schedule,
                    metric: value,
                    "item_count": item_count,
                }
            )
        )
    return lines


def violations_json(violations: Sequence[Violation]) -> str:
    return json.dumps({"violations": violations}, indent=1)


def write_report_file(output_dir: str, name: str, text: str) -> str:
    """A report's file `name` in `output_dir`, written whole or not at all; returns its path."""
    return write_text_atomic(os.path.join(output_dir, name), text)


def reports(monitoring_dir: str, endpoint: str) -> list[Report]:
    """The local reports of `endpoint` under `monitoring_dir`, oldest first: {"time" (epoch
    seconds), "folder", "violations", "metrics" ({feature: drift distance}), "rows",
    "baseline" (what it was checked against, or None)}. A
    folder without a complete report (a run that failed, or a report from before metrics were
    kept) gives what it holds, or is left out when it holds no violations file."""
    root = os.path.join(monitoring_dir, endpoint)
    found: list[Report] = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        folder = os.path.join(root, name)
        try:
            when = calendar.timegm(time.strptime(name, REPORT_TIME_FORMAT))
            with open(os.path.join(folder, VIOLATIONS_FILE)) as f:
                violations = json.load(f)["violations"]
        except (ValueError, KeyError, TypeError, OSError):
            continue
        metrics: dict[str, float] = {}
        rows: Optional[int] = None
        try:
            with open(os.path.join(folder, METRICS_FILE)) as f:
                for line in f:
                    entry = json.loads(line)
                    for metric in entry["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                        feature = metric["Name"][len(METRIC_PREFIX) :]
                        metrics[feature] = entry[metric["Name"]]
                    rows = entry.get("item_count", rows)
        except (ValueError, KeyError, TypeError, IndexError, OSError):
            pass
        try:
            with open(os.path.join(folder, BASELINE_FILE)) as f:
                baseline = json.load(f)
        except (ValueError, OSError):
            baseline = None  # a report from before reports named their baseline
        found.append(
            {
                "time": when,
                "folder": folder,
                "violations": violations,
                "metrics": metrics,
                "rows": rows,
                "baseline": baseline if isinstance(baseline, dict) else None,
            }
        )
    return found


def monitored_endpoints(monitoring_dir: str) -> list[str]:
    """The endpoints with a folder of reports under `monitoring_dir`."""
    if not os.path.isdir(monitoring_dir):
        return []
    return sorted(
        n for n in os.listdir(monitoring_dir) if os.path.isdir(os.path.join(monitoring_dir, n))
    )
