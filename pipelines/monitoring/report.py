"""What a monitoring run leaves behind: constraint_violations.json and the per-feature metrics
as CloudWatch Embedded Metric Format lines (docs/container-contracts.md sections 6.4 and 5);
`monitor` runs the local analysis end to end (`churn monitor`). The same analysis reads S3 and
publishes to CloudWatch in pipelines/aws/monitoring.py."""

import json
import os
import time

from pipelines.errors import MonitorError
from pipelines.monitoring.capture_reader import captured_payloads
from pipelines.monitoring.drift import check
from processing.churn_job import write_text_atomic

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"


def emf_lines(endpoint, schedule, metrics, item_count):
    """CloudWatch Embedded Metric Format: one JSON line per feature drift metric."""
    now = int(time.time() * 1000)
    lines = []
    for feature, value in sorted(metrics.items()):
        metric = "feature_baseline_drift_%s" % feature
        lines.append(
            json.dumps(
                {
                    "_aws": {
                        "Timestamp": now,
                        "CloudWatchMetrics": [
                            {
                                "Namespace": NAMESPACE,
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


def violations_json(violations):
    return json.dumps({"violations": violations}, indent=1)


def write_violations(violations, output_dir):
    """constraint_violations.json in `output_dir`, written whole or not at all."""
    return write_text_atomic(
        os.path.join(output_dir, "constraint_violations.json"), violations_json(violations)
    )


def monitor(
    statistics,
    constraints,
    capture_dir,
    endpoint,
    output_dir,
    since=None,
    schedule="churn-local-adhoc",
):
    """Run the analysis; write constraint_violations.json (and statistics of nothing else);
    returns (violations, emf lines, rows analysed, unreadable capture lines skipped)."""
    payloads, skipped = captured_payloads(capture_dir, endpoint, since)
    if not payloads:
        raise MonitorError("no captured requests for %s since %s" % (endpoint, since))
    violations, metrics, rows = check(statistics, constraints, payloads)
    write_violations(violations, output_dir)
    return violations, emf_lines(endpoint, schedule, metrics, rows), rows, skipped
