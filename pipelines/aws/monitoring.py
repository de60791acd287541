"""`churn monitor`'s service calls, on either target's clients (boto3's or the twins'): captured
requests and baselines through an `s3` client, metrics to CloudWatch.

What a Model Monitor data-quality job reads and writes (docs/container-contracts.md sections 5
and 6), with the analysis of pipelines/monitoring/:
- capture records under <DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl, the
  destination given or the one in the endpoint's DataCaptureConfig (pipelines/aws/deploy.serving);
- the baseline a model package carries as DriftCheckBaselines;
- constraint_violations.json, to S3 or to a folder;
- one feature_baseline_drift_<feature> metric per feature with PutMetricData, in Model Monitor's
  namespace with its dimensions Endpoint and MonitoringSchedule, so alarms written for Model
  Monitor's own metrics see these too.
"""

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Sequence, TypedDict

from pipelines.aws.registry import drift_baselines
from pipelines.aws.s3 import split_s3_uri
from pipelines.errors import MonitorError
from pipelines.monitoring.capture_reader import Payload, payloads_of_records
from pipelines.monitoring.drift import Violation
from pipelines.monitoring.report import NAMESPACE, VIOLATIONS_FILE, violations_json

# PutMetricData takes at most 1,000 data points per call today, 20 in older API versions and
# stand-ins; 20 per call costs nothing at a few metrics per feature.
METRICS_PER_CALL = 20


class Dimension(TypedDict):
    Name: str
    Value: str


class MetricDatum(TypedDict):
    """One entry of PutMetricData's MetricData."""

    MetricName: str
    Dimensions: list[Dimension]
    Timestamp: datetime
    Value: float
    Unit: str


def _message(error: Any) -> str:
    return error.response.get("Error", {}).get("Message") or str(error)


def _read_json(s3: Any, uri: str, what: str) -> Any:
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as e:
        raise MonitorError("cannot read the %s %s: %s" % (what, uri, _message(e)))
    try:
        return json.loads(body)
    except ValueError as e:
        raise MonitorError("the %s %s is not JSON: %s" % (what, uri, e))


def described_package(sagemaker: Any, model_package_arn: str) -> dict[str, Any]:
    """DescribeModelPackage of a version named by its ARN."""
    from botocore.exceptions import ClientError

    try:
        package: dict[str, Any] = sagemaker.describe_model_package(
            ModelPackageName=model_package_arn
        )
    except ClientError as e:
        raise MonitorError("model package %s: %s" % (model_package_arn, _message(e)))
    return package


def package_baseline(s3: Any, package: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(statistics, constraints) of a version's (a DescribeModelPackage answer's) data-quality
    DriftCheckBaselines, read through the `s3` client."""
    baselines = drift_baselines(dict(package))
    if not baselines:
        raise MonitorError(
            "model package %s has no data-quality DriftCheckBaselines" % package["ModelPackageArn"]
        )
    return (
        _read_json(s3, baselines[0], "baseline statistics"),
        _read_json(s3, baselines[1], "baseline constraints"),
    )


def _hour_of(relative_key: str) -> Optional[datetime]:
    """The UTC hour a capture object's key names (<variant>/yyyy/mm/dd/hh/<file>), or None."""
    parts = relative_key.split("/")
    try:
        y, m, d, h = (int(p) for p in parts[1:5])
        return datetime(y, m, d, h, tzinfo=timezone.utc)
    except (ValueError, IndexError):
        return None


def captured_payloads(
    s3: Any, destination: str, endpoint: str, since: Optional[datetime] = None
) -> tuple[list[Payload], int]:
    """([(content type, text)] of the requests captured for `endpoint` under `destination` at
    or after `since`, the number of unreadable lines skipped). Objects whose hour folder ends
    before `since` are not even downloaded."""
    from botocore.exceptions import ClientError

    bucket, prefix = split_s3_uri(destination)
    root = "/".join(p for p in (prefix.strip("/"), endpoint) if p) + "/"
    uri = "s3://%s/%s" % (bucket, root)
    payloads: list[Payload] = []
    objects, skipped = 0, 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
            for item in page.get("Contents", []):
                key = item["Key"]
                if not key.endswith(".jsonl"):
                    continue
                hour = _hour_of(key[len(root) :])
                if since and hour is not None and hour + timedelta(hours=1) <= since:
                    continue
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                found, unreadable = payloads_of_records(
                    body.decode("utf-8", "replace").splitlines(), since
                )
                payloads += found
                skipped += unreadable
                objects += 1
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code")
        if code == "NoSuchBucket":
            raise MonitorError(
                "capture destination %s: bucket %s does not exist" % (destination, bucket)
            )
        raise MonitorError("cannot read captured data under %s: %s" % (uri, _message(e)))
    if not objects:
        raise MonitorError(
            "no captured data for endpoint %s under %s%s"
            % (endpoint, uri, " since %s" % since.isoformat() if since else "")
        )
    return payloads, skipped


def put_report_file(s3: Any, output_uri: str, name: str, text: str) -> str:
    """A report's file `name` under the output prefix; returns its URI."""
    from botocore.exceptions import ClientError

    bucket, prefix = split_s3_uri(output_uri)
    key = "/".join(p for p in (prefix.strip("/"), name) if p)
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=text.encode("utf-8"),
            ContentType="application/json",
        )
    except ClientError as e:
        raise MonitorError("cannot write s3://%s/%s: %s" % (bucket, key, _message(e)))
    return "s3://%s/%s" % (bucket, key)


def write_violations(s3: Any, output_uri: str, violations: Sequence[Violation]) -> str:
    """constraint_violations.json under the output prefix; returns its URI."""
    return put_report_file(s3, output_uri, VIOLATIONS_FILE, violations_json(violations))


def metric_data(
    endpoint: str, schedule: str, metrics: Mapping[str, float], when: datetime
) -> list[MetricDatum]:
    """PutMetricData entries: feature_baseline_drift_<feature> with Model Monitor's
    dimensions."""
    dimensions: list[Dimension] = [
        {"Name": "Endpoint", "Value": endpoint},
        {"Name": "MonitoringSchedule", "Value": schedule},
    ]
    return [
        {
            "MetricName": "feature_baseline_drift_%s" % feature,
            "Dimensions": dimensions,
            "Timestamp": when,
            "Value": float(value),
            "Unit": "None",
        }
        for feature, value in sorted(metrics.items())
    ]


def publish(cloudwatch: Any, data: Sequence[MetricDatum], namespace: str = NAMESPACE) -> int:
    from botocore.exceptions import ClientError

    try:
        for i in range(0, len(data), METRICS_PER_CALL):
            cloudwatch.put_metric_data(
                Namespace=namespace, MetricData=data[i : i + METRICS_PER_CALL]
            )
    except ClientError as e:
        raise MonitorError(
            "CloudWatch refused the metrics (namespace %s): %s" % (namespace, _message(e))
        )
    return len(data)
