"""`churn monitor`: the requests an endpoint captured, checked against a version's data-quality
baseline, on the command's target (pipelines/cli/target.py), one path for both: the version
and its baseline read through the target's `sagemaker` and `s3` clients, the capture through
its `s3` client from where the endpoint's DataCaptureConfig puts it, the report to a folder or
s3://, and the metrics published to CloudWatch, or kept as Embedded Metric Format lines in the
report where the target has none (the local home). A capture folder (--capture-dir, or where
`churn serve --endpoint-name` captured: it is no service's endpoint) is read as a folder on
either target."""

import argparse
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from pipelines.aws import monitoring as monitor_aws
from pipelines.aws.errors import aws_errors
from pipelines.aws.registry import find_package
from pipelines.cli.common import add_group, add_home, default_group, group_of
from pipelines.cli.target import Target, add_target, resolve
from pipelines.errors import MonitorError, RegistryError, StoreError, UserError
from pipelines.monitoring.capture_reader import Payload
from pipelines.monitoring.capture_reader import captured_payloads as captured_in_folder
from pipelines.monitoring.drift import Violation, check
from pipelines.monitoring.report import (
    BASELINE_FILE,
    METRICS_FILE,
    NAMESPACE,
    REPORT_TIME_FORMAT,
    VIOLATIONS_FILE,
    emf_lines,
    violations_json,
    write_report_file,
)
from pipelines.workspace import endpoint_name

if TYPE_CHECKING:
    from pipelines.workspace import Workspace

Json = Dict[str, Any]


@dataclass
class Served:
    """What an endpoint serves, as far as it is known."""

    package_arn: Optional[str] = None  # the version (None: a model folder, or unknown)
    since: Optional[datetime] = None  # when it began serving it, to the second
    # The capture: an endpoint's DataCaptureConfig destination (s3://), or the folder `churn
    # serve` captured into; None when there is none.
    capture: Optional[str] = None
    on_target: bool = False  # an endpoint of the target (else a `churn serve` record, or none)


def cmd_monitor(args: argparse.Namespace, ws: "Workspace") -> int:
    """Captured requests against the version's DriftCheckBaselines (or --baseline-dir), on
    the target's clients; see the module's docstring."""
    endpoint_name(args.endpoint_name)  # it names the capture's folder and the report's
    since = _since(args.since)
    named = [
        flag
        for flag, given in (
            ("--baseline-dir", args.baseline_dir),
            ("--model-version", args.model_version),
            ("--model-package-arn", args.model_package_arn),
        )
        if given
    ]
    if len(named) > 1:
        raise UserError("%s each name the baseline: give one" % " and ".join(named))
    if args.capture_dir and args.capture_destination:
        raise UserError("--capture-dir and --capture-destination each name the capture: give one")
    with aws_errors():
        return _monitor(args, ws, resolve(args, ws), since)


def _monitor(
    args: argparse.Namespace, ws: "Workspace", target: Target, since: Optional[datetime]
) -> int:
    endpoint = args.endpoint_name
    schedule = args.schedule_name or "%s-adhoc" % endpoint
    namespace = args.metrics_namespace or NAMESPACE
    known: List[Served] = []

    def served() -> Served:  # asked for only when a flag does not say what it would
        if not known:
            known.append(_served(ws, target, endpoint))
        return known[0]

    statistics, constraints, baseline = _baseline(args, target, served)
    if since is None and baseline.get("Served"):
        # Traffic captured before this version served (another version under the same
        # endpoint name) would be checked against a baseline it was never scored with.
        since = served().since
    payloads, skipped = _captured(args, ws, target, served, since)
    if not payloads:
        raise MonitorError("no captured requests for %s since %s" % (endpoint, since))
    violations, metrics, rows, unreadable = check(statistics, constraints, payloads)
    write = _report(args.output or str(_output_dir(ws, endpoint)), target)
    to_cloudwatch = target.has("cloudwatch")
    # Where there is no CloudWatch the report keeps the metrics, as Embedded Metric Format
    # lines (what a Model Monitor container hands CloudWatch; `churn ui` draws them).
    lines = [] if to_cloudwatch else emf_lines(endpoint, schedule, metrics, rows, namespace)
    if not to_cloudwatch:
        write(METRICS_FILE, "".join(line + "\n" for line in lines))
    write(BASELINE_FILE, json.dumps(baseline))
    where = write(VIOLATIONS_FILE, violations_json(violations))  # last: the report is whole
    if to_cloudwatch:
        lines = _publish(target.client("cloudwatch"), endpoint, schedule, metrics, namespace)
    print(
        "baseline: %s%s"
        % (baseline["description"], "; traffic since %s" % since.isoformat() if since else "")
    )
    for line in lines:
        print(line)
    _print_skipped(skipped + unreadable)
    _print_violations(violations, rows, where)
    return 0


def _publish(
    cloudwatch: Any, endpoint: str, schedule: str, metrics: Dict[str, float], namespace: str
) -> List[str]:
    """PutMetricData of the drift metrics, with Model Monitor's dimensions; what to print."""
    data = monitor_aws.metric_data(endpoint, schedule, metrics, datetime.now(timezone.utc))
    published = monitor_aws.publish(cloudwatch, data, namespace)
    return ["%-40s %.6f" % (datum["MetricName"], datum["Value"]) for datum in data] + [
        "published %d metrics to CloudWatch %s (Endpoint=%s, MonitoringSchedule=%s)"
        % (published, namespace, endpoint, schedule)
    ]


def _served(ws: "Workspace", target: Target, endpoint: str) -> Served:
    """What `endpoint` serves: the target's endpoint of that name, read through its
    `sagemaker` client (pipelines/aws/deploy.serving), else what `churn serve --endpoint-name`
    recorded in the home."""
    from pipelines.aws.deploy import serving_if_any

    found = serving_if_any(target.client("sagemaker"), endpoint)
    if found:
        return Served(
            found["ModelPackageArn"],
            _epoch(found["Since"].timestamp()),
            found["CaptureDestination"],
            on_target=True,
        )
    record = ws.endpoints.served(endpoint) or {}
    return Served(
        record.get("ModelPackageArn"), _epoch(record.get("Since")), record.get("CaptureDir")
    )


def _captured(
    args: argparse.Namespace,
    ws: "Workspace",
    target: Target,
    served: Callable[[], Served],
    since: Optional[datetime],
) -> Tuple[List[Payload], int]:
    """The captured requests (and the unreadable lines skipped): from --capture-dir, from
    --capture-destination or the target's endpoint's DataCaptureConfig through the target's
    `s3` client, else from the folder `churn serve` captured into."""
    endpoint = args.endpoint_name
    if args.capture_dir:
        return captured_in_folder(str(args.capture_dir), endpoint, since)
    destination = args.capture_destination
    if not destination and served().on_target:
        destination = served().capture
        if not destination:
            raise MonitorError(
                "endpoint %s does not capture data (its endpoint config has no "
                "DataCaptureConfig); deploy it with --data-capture-percent > 0" % endpoint
            )
    if destination:
        s3 = target.client("s3")
        return monitor_aws.captured_payloads(s3, destination, endpoint, since)
    folder = Path(served().capture or ws.endpoints.capture_dir)
    if not (folder / endpoint).is_dir():
        raise MonitorError(
            "no captured data for endpoint %s under %s (where `churn serve` captures), and no "
            "endpoint %s in %s: name the capture with --capture-dir DIR or "
            "--capture-destination s3://..." % (endpoint, folder, endpoint, target.looked_in)
        )
    return captured_in_folder(str(folder), endpoint, since)


def _report(output: str, target: Target) -> Callable[[str, str], str]:
    """write(name, text) -> where: a file of the report, in the folder `output` or under the
    s3:// prefix `output` (through the target's `s3` client)."""
    if output.startswith("s3://"):
        s3 = target.client("s3")
        return lambda name, text: monitor_aws.put_report_file(s3, output, name, text)
    return lambda name, text: str(write_report_file(output, name, text))


def _since(text: Optional[str]) -> Optional[datetime]:
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


def _baseline(
    args: argparse.Namespace, target: Target, served: Callable[[], Served]
) -> Tuple[Json, Json, Json]:
    """(statistics, constraints, what they are) from --baseline-dir, else the DriftCheckBaselines
    of --model-package-arn, of --model-version, of the version the endpoint serves, or of the
    newest Approved version of the schema's group, in that order, from the target's registry.
    What they are: {"description", "ModelPackageArn" or "BaselineDir", "Served"}, kept in the
    report."""
    try:
        if args.baseline_dir:
            folder = Path(args.baseline_dir)
            return (
                json.loads((folder / "statistics.json").read_text()),
                json.loads((folder / "constraints.json").read_text()),
                {"description": "%s (--baseline-dir)" % folder, "BaselineDir": str(folder)},
            )
        sm = target.client("sagemaker")
        where = "in %s" % target.where
        group = group_of(args)
        serving = None
        if args.model_package_arn:
            package = monitor_aws.described_package(sm, args.model_package_arn)
            why = "--model-package-arn"
        elif args.model_version:
            package = find_package(sm, args.model_version, group or default_group(), where)
            why = "--model-version"
        elif served().package_arn:
            serving = served().package_arn
            package = find_package(sm, serving, None, where)
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
            package = find_package(sm, None, group or default_group(), where)
            why = "the newest Approved version of %s" % package["ModelPackageGroupName"]
        statistics, constraints = monitor_aws.package_baseline(target.client("s3"), package)
    except (OSError, ValueError, RegistryError, StoreError) as e:
        raise UserError("cannot read the baseline: %s" % e)
    name = "%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])
    return (
        statistics,
        constraints,
        {
            "description": "%s (%s)" % (name, why),
            "ModelPackageArn": package["ModelPackageArn"],
            "Served": package["ModelPackageArn"] == serving,
        },
    )


def _epoch(seconds: Optional[float]) -> Optional[datetime]:
    """A UTC time, to the second: captured records name their time to the second only."""
    return datetime.fromtimestamp(int(seconds), timezone.utc) if seconds else None


def _output_dir(ws: "Workspace", endpoint: str) -> Path:
    """The default report folder: <monitoring dir>/<endpoint>/<UTC time of the run>/."""
    stamp = datetime.now(timezone.utc).strftime(REPORT_TIME_FORMAT)
    return Path(ws.endpoints.monitoring_dir) / endpoint / stamp


def _print_skipped(skipped: int) -> None:
    if skipped:
        print(
            "skipped %d unreadable capture line%s (cut short, nested too deeply, not capture "
            "records, or a request no scoring could read)" % (skipped, "" if skipped == 1 else "s")
        )


def _print_violations(violations: List[Violation], rows: int, where: str) -> None:
    print(
        "%d captured rows checked; %d violation%s; %s"
        % (rows, len(violations), "" if len(violations) == 1 else "s", where)
    )
    for v in violations:
        print(
            "  %-22s %-26s %s" % (v["feature_name"], v["constraint_check_type"], v["description"])
        )


def add_parsers(sub: Any) -> None:
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
        help="a folder of capture files, as `churn serve --capture-dir` writes (default: the "
        "endpoint's DataCaptureConfig destination, else where `churn serve --endpoint-name` "
        "captured, else $CHURN_HOME/capture)",
    )
    p.add_argument(
        "--output",
        help="folder or s3://bucket/prefix for the report (default: "
        "$CHURN_HOME/monitoring/<endpoint>/<UTC time>/)",
    )
    p.add_argument(
        "--capture-destination",
        help="the endpoint's capture destination s3://bucket/prefix, read through the target's "
        "S3 (default: the one in the endpoint's DataCaptureConfig)",
    )
    p.add_argument(
        "--model-package-arn",
        help="the registered version, by ARN, whose DriftCheckBaselines to check against",
    )
    p.add_argument(
        "--schedule-name",
        help="the MonitoringSchedule dimension of the metrics (default: <endpoint>-adhoc)",
    )
    p.add_argument(
        "--metrics-namespace",
        help="the metrics' CloudWatch namespace (default: Model Monitor's, "
        "aws/sagemaker/Endpoints/data-metrics)",
    )
    add_target(p)
    add_home(p)
    p.set_defaults(func=cmd_monitor)
