"""`churn monitor`: captured requests against a version's data-quality baseline, locally (capture
files, EMF lines) or on AWS (capture objects in S3, PutMetricData)."""

import json
from pathlib import Path

from pipelines.aws.errors import aws_errors
from pipelines.cli.common import add_group, add_home, default_group, group_of
from pipelines.errors import RegistryError, StoreError, UserError
from pipelines.workspace import endpoint_name


def cmd_monitor(args, ws):
    """Captured requests against the version's DriftCheckBaselines (or --baseline-dir): local
    capture files and EMF lines, or on AWS (--capture-destination or --model-package-arn)
    capture objects in S3 and PutMetricData."""
    endpoint_name(args.endpoint_name)  # it names the capture's folder and the report's
    since = _since(args.since)
    schedule = args.schedule_name or "%s-adhoc" % args.endpoint_name
    if args.capture_destination or args.model_package_arn:
        return _monitor_aws(args, ws, since, schedule)
    from pipelines.monitoring.report import monitor

    if args.output and args.output.startswith("s3://"):
        raise UserError(
            "--output %s: S3 is for monitoring on AWS (with --capture-destination "
            "or --model-package-arn); give a folder here" % args.output
        )
    served = ws.endpoints.served(args.endpoint_name) or {}
    statistics, constraints, baseline = _local_baseline(args, ws, served)
    if since is None and baseline.get("Served"):
        # Traffic captured before this version served (another version under the same
        # endpoint name) would be checked against a baseline it was never scored with.
        since = _epoch(served["Since"])
    output = _output_dir(args, ws)
    violations, metrics, rows, skipped = monitor(
        statistics,
        constraints,
        str(args.capture_dir or served.get("CaptureDir") or ws.endpoints.capture_dir),
        args.endpoint_name,
        str(output),
        since,
        schedule,
        baseline,
    )
    print(
        "baseline: %s%s"
        % (baseline["description"], "; traffic since %s" % since.isoformat() if since else "")
    )
    for line in metrics:
        print(line)
    _print_skipped(skipped)
    _print_violations(violations, rows, output / "constraint_violations.json")
    return 0


def _monitor_aws(args, ws, since, schedule):
    from datetime import datetime, timezone

    from pipelines.aws import monitoring as monitor_aws
    from pipelines.aws.errors import require_credentials
    from pipelines.aws.sessions import aws_session
    from pipelines.errors import MonitorError
    from pipelines.monitoring.drift import check
    from pipelines.monitoring.report import NAMESPACE, write_violations

    namespace = args.metrics_namespace or NAMESPACE
    if args.capture_dir or args.model_version:
        raise UserError(
            "--capture-dir and --model-version read local capture and the local "
            "registry; on AWS name the baseline with --model-package-arn ARN (or "
            "--baseline-dir DIR)"
        )
    if not (args.model_package_arn or args.baseline_dir):
        raise UserError(
            "on AWS, name the baseline: --model-package-arn ARN (its "
            "DriftCheckBaselines) or --baseline-dir DIR"
        )
    session = aws_session()
    if not session.region_name:
        raise UserError("no AWS region: set AWS_DEFAULT_REGION to the endpoint's region")
    require_credentials(session)
    with aws_errors():
        s3, sagemaker = session.client("s3"), session.client("sagemaker")
        if args.baseline_dir:
            statistics, constraints, _ = _local_baseline(args, ws, {})
        else:
            statistics, constraints = monitor_aws.package_baseline(
                sagemaker, s3, args.model_package_arn
            )
        destination = args.capture_destination or monitor_aws.capture_destination(
            sagemaker, args.endpoint_name
        )
        payloads, skipped = monitor_aws.captured_payloads(
            s3, destination, args.endpoint_name, since
        )
        if not payloads:
            raise MonitorError("no captured requests for %s since %s" % (args.endpoint_name, since))
        violations, metrics, rows, unreadable = check(statistics, constraints, payloads)
        skipped += unreadable
        if args.output and args.output.startswith("s3://"):
            where = monitor_aws.write_violations(s3, args.output, violations)
        else:
            where = write_violations(violations, str(_output_dir(args, ws)))
        data = monitor_aws.metric_data(
            args.endpoint_name, schedule, metrics, datetime.now(timezone.utc)
        )
        published = monitor_aws.publish(session.client("cloudwatch"), data, namespace)
    for datum in data:
        print("%-40s %.6f" % (datum["MetricName"], datum["Value"]))
    print(
        "published %d metrics to CloudWatch %s (Endpoint=%s, MonitoringSchedule=%s)"
        % (published, namespace, args.endpoint_name, schedule)
    )
    _print_skipped(skipped)
    _print_violations(violations, rows, where)
    return 0


def _since(text):
    from datetime import datetime, timedelta, timezone

    if not text:
        return None
    text = text.strip()
    try:
        if text[-1] in "hmd" and text[:-1].isdigit():
            unit = {"h": "hours", "m": "minutes", "d": "days"}[text[-1]]
            return datetime.now(timezone.utc) - timedelta(**{unit: int(text[:-1])})
        since = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return since if since.tzinfo else since.replace(tzinfo=timezone.utc)
    except ValueError:
        raise UserError("--since %r: use an ISO time (2026-11-26T06:00:00Z) or 2h, 30m, 1d" % text)


def _local_baseline(args, ws, served):
    """(statistics, constraints, what they are) from --baseline-dir, else the DriftCheckBaselines
    of --model-version, of the version the endpoint serves, or of the newest Approved version
    of the schema's group, in that order. What they are: {"description", "ModelPackageArn" or
    "BaselineDir"}, kept in the report."""
    try:
        if args.baseline_dir:
            folder = Path(args.baseline_dir)
            return (
                json.loads((folder / "statistics.json").read_text()),
                json.loads((folder / "constraints.json").read_text()),
                {"description": "%s (--baseline-dir)" % folder, "BaselineDir": str(folder)},
            )
        group = group_of(args)
        if args.model_version:
            package = ws.versions.package(args.model_version, group or default_group())
            why = "--model-version"
        elif served.get("ModelPackageArn"):
            package = ws.versions.package(served["ModelPackageArn"], None)
            why = "the version endpoint %s serves" % args.endpoint_name
            if group and package["ModelPackageGroupName"] != group:
                raise UserError(
                    "endpoint %s serves %s/%d, not a version of group %s: its traffic is "
                    "checked against the baseline of what it serves (drop --schema/--group, "
                    "or name a version with --model-version)"
                    % (
                        args.endpoint_name,
                        package["ModelPackageGroupName"],
                        package["ModelPackageVersion"],
                        group,
                    )
                )
        else:
            package = ws.versions.package(None, group or default_group())
            why = "the newest Approved version of %s" % package["ModelPackageGroupName"]
        statistics, constraints = ws.versions.drift_baseline(package["ModelPackageArn"])
    except (OSError, ValueError, RegistryError, StoreError) as e:
        raise UserError("cannot read the baseline: %s" % e)
    name = "%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])
    return (
        statistics,
        constraints,
        {
            "description": "%s (%s)" % (name, why),
            "ModelPackageArn": package["ModelPackageArn"],
            "Served": bool(served.get("ModelPackageArn"))
            and package["ModelPackageArn"] == served["ModelPackageArn"],
        },
    )


def _epoch(seconds):
    """A UTC time, to the second: captured records name their time to the second only."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(seconds), timezone.utc) if seconds else None


def _output_dir(args, ws):
    from datetime import datetime, timezone

    from pipelines.monitoring.report import REPORT_TIME_FORMAT

    return Path(
        args.output
        or ws.endpoints.monitoring_dir
        / args.endpoint_name
        / datetime.now(timezone.utc).strftime(REPORT_TIME_FORMAT)
    )


def _print_skipped(skipped):
    if skipped:
        print(
            "skipped %d unreadable capture line%s (cut short, nested too deeply, not capture "
            "records, or a request no scoring could read)" % (skipped, "" if skipped == 1 else "s")
        )


def _print_violations(violations, rows, where):
    print(
        "%d captured rows checked; %d violation%s; %s"
        % (rows, len(violations), "" if len(violations) == 1 else "s", where)
    )
    for v in violations:
        print(
            "  %-22s %-26s %s" % (v["feature_name"], v["constraint_check_type"], v["description"])
        )


def add_parsers(sub):
    p = sub.add_parser(
        "monitor",
        help="check captured requests against the data-quality "
        "baseline (drift, types, completeness, domains)",
    )
    p.add_argument(
        "--model-version",
        help="N, GROUP/N or ARN (default: the version the endpoint serves, else the newest "
        "Approved version of the schema's group, the seed schema's when none is given)",
    )
    add_group(p, schema_default=None)
    p.add_argument("--baseline-dir", help="statistics.json + constraints.json instead")
    p.add_argument(
        "--since",
        help="ISO time or 2h / 30m / 1d (default: since the endpoint began serving the version "
        "it is checked against, else all captured data)",
    )
    p.add_argument(
        "--endpoint-name",
        default="churn-local",
        help="the endpoint whose captured requests to check (default: %(default)s)",
    )
    p.add_argument(
        "--capture-dir",
        help="where its capture is (default: a local endpoint's capture destination, else "
        "$CHURN_HOME/capture)",
    )
    p.add_argument(
        "--output", help="folder for constraint_violations.json (on AWS also s3://bucket/prefix)"
    )
    p.add_argument(
        "--capture-destination",
        help="AWS: the endpoint's capture destination s3://bucket/prefix (default: "
        "read from the endpoint's DataCaptureConfig)",
    )
    p.add_argument(
        "--model-package-arn",
        help="AWS: the registered version whose DriftCheckBaselines to check against",
    )
    p.add_argument(
        "--schedule-name",
        help="the MonitoringSchedule dimension of the metrics (default: <endpoint>-adhoc)",
    )
    p.add_argument(
        "--metrics-namespace",
        help="AWS: CloudWatch namespace (default: Model Monitor's, "
        "aws/sagemaker/Endpoints/data-metrics)",
    )
    add_home(p)
    p.set_defaults(func=cmd_monitor)
