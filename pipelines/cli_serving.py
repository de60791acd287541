"""The `churn` commands for the model's life after registration: serve, predict, batch,
deploy / undeploy (AWS) and monitor."""
import json
import os
import sys
import time
from pathlib import Path

from pipelines.cli_support import UserError, aws_errors, home, positive_int


def cmd_serve(args):
    import uvicorn

    from pipelines.local.registry import RegistryError
    from pipelines.serving.app import CONFIG_ENV
    from pipelines.serving.model import ModelSourceError, from_dir, from_registry

    sources = [x for x in (args.model_version, args.model_package_arn, args.model_dir) if x]
    if len(sources) > 1:
        raise UserError("give one of --model-version, --model-package-arn, --model-dir")
    try:
        if args.model_dir:
            model = from_dir(args.model_dir)
        else:
            model = from_registry(home(), sources[0] if sources else _latest(),
                                  args.allow_unapproved)
    except (ModelSourceError, RegistryError) as e:
        raise UserError(str(e))
    config = {"model_dir": model.model_dir, "code_dir": model.code_dir, "program": model.program}
    if args.capture_percent > 0:
        config["capture"] = {"destination": str(Path(args.capture_dir or home() / "capture")),
                             "endpoint": args.endpoint_name, "percent": args.capture_percent}
    os.environ[CONFIG_ENV] = json.dumps(config)
    port = args.port or int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    print("serving %s on http://%s:%d (%d worker%s); data capture %s"
          % (model.description, args.host, port, args.workers, "s" if args.workers > 1 else "",
             "%g%% to %s" % (args.capture_percent, config["capture"]["destination"])
             if "capture" in config else "off"))
    sys.stdout.flush()
    uvicorn.run("pipelines.serving.app:app_from_env", factory=True, host=args.host, port=port,
                workers=args.workers, loop="uvloop", http="httptools", log_level="warning",
                # No per-request access log and no X-Forwarded-* rewriting: a twelfth of a
                # one-row request, for nothing the hosting contract uses.
                access_log=False, proxy_headers=False, timeout_graceful_shutdown=30)
    return 0


def _latest():
    """With no model named: the newest Approved version (what the templates deploy)."""
    from pipelines.local.registry import Registry

    registry = Registry(home())
    try:
        approved = [p for p in registry.list_packages() if p["ModelApprovalStatus"] == "Approved"]
    finally:
        registry.close()
    if not approved:
        raise UserError("no Approved model version under %s: approve one (`churn models approve "
                        "N`) or name it with --model-version N --allow-unapproved" % home())
    newest = max(approved, key=lambda p: p["CreationTime"])
    return newest["ModelPackageArn"]


def cmd_predict(args):
    import urllib.error
    import urllib.request

    given = [x for x in (args.file, args.json, args.csv) if x is not None]
    if len(given) != 1:
        raise UserError("give exactly one of --file, --json, --csv")
    if args.file:
        try:
            body = Path(args.file).read_bytes()
        except OSError as e:
            raise UserError("cannot read %s: %s" % (args.file, e.strerror))
        content_type = "application/json" if args.file.endswith(".json") else \
            "application/jsonlines" if args.file.endswith(".jsonl") else "text/csv"
    elif args.json:
        body, content_type = args.json.encode(), "application/json"
    else:
        body, content_type = args.csv.encode(), "text/csv"
    if args.endpoint_name:
        sys.stdout.write(invoke_sagemaker_endpoint(args.endpoint_name, body, content_type,
                                                   args.accept))
        return 0
    request = urllib.request.Request(args.endpoint.rstrip("/") + "/invocations", data=body,
                                     headers={"Content-Type": content_type,
                                              "Accept": args.accept})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            sys.stdout.write(response.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")
        try:
            detail = json.loads(detail)["message"]
        except (ValueError, KeyError):
            pass
        raise UserError("the endpoint answered %d: %s" % (e.code, detail))
    except (urllib.error.URLError, OSError) as e:
        raise UserError("cannot reach %s (%s); is `churn serve` running?"
                        % (args.endpoint, getattr(e, "reason", e)))
    if not args.accept.endswith("csv"):
        sys.stdout.write("\n")
    return 0


def cmd_batch(args):
    """Batch transform semantics (SplitType Line, MultiRecord, AssembleWith Line) on local files,
    with the model's own inference code: <input>.out per input file, rows in input order."""
    from pipelines.local import batch_worker
    from pipelines.local.registry import RegistryError
    from pipelines.serving.model import ModelSourceError, from_dir, from_registry

    source = Path(args.input)
    if not source.exists():
        raise UserError("--input %s does not exist" % source)
    try:
        model = from_dir(args.model_dir) if args.model_dir else from_registry(
            home(), args.model_version or _latest(), args.allow_unapproved)
    except (ModelSourceError, RegistryError) as e:
        raise UserError(str(e))
    input_dir = source if source.is_dir() else None
    if input_dir is None:  # one file: give the worker a folder holding just that file
        import tempfile

        input_dir = Path(tempfile.mkdtemp(prefix="churn-batch-"))
        os.symlink(source.resolve(), input_dir / source.name)
    started = time.time()
    code = batch_worker.main([
        "--model-dir", model.model_dir, "--code-dir", model.code_dir, "--program", model.program,
        "--input-dir", str(input_dir), "--output-dir", args.output,
        "--content-type", args.content_type, "--accept", args.accept, "--split-type", "Line",
        "--strategy", "MultiRecord", "--max-payload-mb", str(args.max_payload_mb),
        "--assemble-with", "Line", "--join-source", "Input" if args.join_input else "None",
        "--concurrency", str(args.concurrency)])
    if code != 0:
        raise UserError("batch transform failed (see the message above)")
    print("scored with %s into %s in %.1f s" % (model.description, args.output,
                                               time.time() - started))
    return 0


def invoke_sagemaker_endpoint(name, body, content_type, accept):
    """InvokeEndpoint on AWS (sagemaker-runtime): the same request `churn serve` answers."""
    import boto3

    with aws_errors("endpoint %s: " % name):
        response = boto3.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=name, Body=body, ContentType=content_type, Accept=accept)
        return response["Body"].read().decode("utf-8")


def cmd_deploy(args):
    from pipelines.aws_deploy import DeployError

    with aws_errors():
        try:
            return _undeploy(args) if args.command == "undeploy" else _deploy(args)
        except DeployError as e:
            raise UserError(str(e))


def _undeploy(args):
    from pipelines.aws_deploy import undeploy

    done = undeploy(args.endpoint_name)
    print("deleted endpoint %s, config %s, models %s, monitoring schedules %s" % (
        done["endpoint"], done["endpoint_config"], ", ".join(done["models"]),
        ", ".join(done["monitoring_schedules"]) or "none"))
    return 0


def _deploy(args):
    from pipelines.aws_deploy import deploy, schedule_monitoring

    role = args.role_arn or os.environ.get("SAGEMAKER_EXECUTION_ROLE_ARN")
    if not role:
        raise UserError("--role-arn (or SAGEMAKER_EXECUTION_ROLE_ARN): the role the "
                        "endpoint's model runs as")
    done = deploy(args.model_package_arn, args.endpoint_name, role, args.instance_type,
                  args.instance_count, args.data_capture_percent, args.capture_destination,
                  args.allow_unapproved)
    print("endpoint %s: config %s, model %s; data capture %s" % (
        done["endpoint"], done["endpoint_config"], done["model"],
        "%g%% to %s" % (args.data_capture_percent, args.capture_destination)
        if args.data_capture_percent > 0 else "off"))
    if args.monitor == "hourly":
        if not args.monitoring_output:
            raise UserError("--monitor hourly needs --monitoring-output s3://... for the "
                            "monitoring reports")
        name = schedule_monitoring(args.endpoint_name, args.model_package_arn, role,
                                   args.monitoring_output)
        print("monitoring schedule %s: hourly data-quality checks, CloudWatch metrics on"
              % name)
    return 0


def cmd_monitor(args):
    """Captured requests against the version's DriftCheckBaselines (or --baseline-dir): local
    capture files and EMF lines, or on AWS (--capture-destination or --model-package-arn)
    capture objects in S3 and PutMetricData."""
    since = _since(args.since)
    schedule = args.schedule_name or "%s-adhoc" % args.endpoint_name
    if args.capture_destination or args.model_package_arn:
        return _monitor_aws(args, since, schedule)
    from pipelines.monitor import MonitorError, monitor

    if args.output and args.output.startswith("s3://"):
        raise UserError("--output %s: S3 is for monitoring on AWS (with --capture-destination "
                        "or --model-package-arn); give a folder here" % args.output)
    statistics, constraints = _local_baseline(args)
    output = _output_dir(args)
    try:
        violations, metrics, rows = monitor(statistics, constraints,
                                            str(args.capture_dir or home() / "capture"),
                                            args.endpoint_name, str(output), since, schedule)
    except MonitorError as e:
        raise UserError(str(e))
    for line in metrics:
        print(line)
    _print_violations(violations, rows, output / "constraint_violations.json")
    return 0


def _monitor_aws(args, since, schedule):
    from datetime import datetime, timezone

    import boto3
    from botocore.exceptions import NoCredentialsError

    from pipelines import monitor_aws
    from pipelines.driver import credentials_error
    from pipelines.monitor import NAMESPACE, MonitorError, check, write_violations

    namespace = args.metrics_namespace or NAMESPACE
    if args.capture_dir or args.model_version:
        raise UserError("--capture-dir and --model-version read local capture and the local "
                        "registry; on AWS name the baseline with --model-package-arn ARN (or "
                        "--baseline-dir DIR)")
    if not (args.model_package_arn or args.baseline_dir):
        raise UserError("on AWS, name the baseline: --model-package-arn ARN (its "
                        "DriftCheckBaselines) or --baseline-dir DIR")
    session = boto3.Session()
    if not session.region_name:
        raise UserError("no AWS region: set AWS_DEFAULT_REGION to the endpoint's region")
    if session.get_credentials() is None:
        raise UserError(str(credentials_error(NoCredentialsError())))
    with aws_errors():
        try:
            s3, sagemaker = session.client("s3"), session.client("sagemaker")
            if args.baseline_dir:
                statistics, constraints = _local_baseline(args)
            else:
                statistics, constraints = monitor_aws.package_baseline(sagemaker, s3,
                                                                       args.model_package_arn)
            destination = args.capture_destination or monitor_aws.capture_destination(
                sagemaker, args.endpoint_name)
            payloads = monitor_aws.captured_payloads(s3, destination, args.endpoint_name, since)
            if not payloads:
                raise MonitorError("no captured requests for %s since %s"
                                   % (args.endpoint_name, since))
            violations, metrics, rows = check(statistics, constraints, payloads)
            if args.output and args.output.startswith("s3://"):
                where = monitor_aws.write_violations(s3, args.output, violations)
            else:
                where = write_violations(violations, str(_output_dir(args)))
            data = monitor_aws.metric_data(args.endpoint_name, schedule, metrics,
                                           datetime.now(timezone.utc))
            published = monitor_aws.publish(session.client("cloudwatch"), data, namespace)
        except MonitorError as e:
            raise UserError(str(e))
    for datum in data:
        print("%-40s %.6f" % (datum["MetricName"], datum["Value"]))
    print("published %d metrics to CloudWatch %s (Endpoint=%s, MonitoringSchedule=%s)"
          % (published, namespace, args.endpoint_name, schedule))
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
        raise UserError("--since %r: use an ISO time (2026-11-26T06:00:00Z) or 2h, 30m, 1d"
                        % text)


def _local_baseline(args):
    """(statistics, constraints) from --baseline-dir, or the local version's
    DriftCheckBaselines."""
    from pipelines.local.registry import Registry, RegistryError
    from pipelines.local.store import Store, StoreError

    try:
        if args.baseline_dir:
            folder = Path(args.baseline_dir)
            return (json.loads((folder / "statistics.json").read_text()),
                    json.loads((folder / "constraints.json").read_text()))
        registry = Registry(home())
        try:
            package = registry.find(args.model_version or _latest())
        finally:
            registry.close()
        quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality")
        if not quality:
            raise UserError("model version %s has no data-quality DriftCheckBaselines"
                            % args.model_version)
        store = Store(home())
        return (json.loads(store.read_bytes(quality["Statistics"]["S3Uri"])),
                json.loads(store.read_bytes(quality["Constraints"]["S3Uri"])))
    except (OSError, ValueError, RegistryError, StoreError) as e:
        raise UserError("cannot read the baseline: %s" % e)


def _output_dir(args):
    from datetime import datetime, timezone

    return Path(args.output or home() / "monitoring" / args.endpoint_name /
                datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"))


def _print_violations(violations, rows, where):
    print("%d captured rows checked; %d violation%s; %s" % (
        rows, len(violations), "" if len(violations) == 1 else "s", where))
    for v in violations:
        print("  %-22s %-26s %s" % (v["feature_name"], v["constraint_check_type"],
                                    v["description"]))


def add_parsers(sub):
    p = sub.add_parser("serve", help="serve a model over HTTP with the SageMaker hosting "
                                     "contract and data capture")
    p.add_argument("--model-version", help="registered version: N, GROUP/N or ARN "
                                           "(default: the newest Approved one)")
    p.add_argument("--model-package-arn", help="registered version by ARN")
    p.add_argument("--model-dir", help="a trained model's folder (xgboost-model + "
                                       "preprocessing.json)")
    p.add_argument("--allow-unapproved", action="store_true",
                   help="serve a version that is not Approved")
    p.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept other machines")
    p.add_argument("--port", type=int, default=None,
                   help="default: $SAGEMAKER_BIND_TO_PORT or 8080")
    p.add_argument("--workers", type=positive_int, default=1)
    p.add_argument("--endpoint-name", default="churn-local")
    p.add_argument("--capture-percent", type=float, default=100.0,
                   help="data capture sampling percentage (0 turns capture off)")
    p.add_argument("--capture-dir", help="default: $CHURN_HOME/capture")
    p.add_argument("--home")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("predict", help="send rows to an endpoint and print the predictions")
    p.add_argument("--endpoint", default="http://127.0.0.1:8080", help="a local endpoint URL")
    p.add_argument("--endpoint-name", help="a SageMaker endpoint on AWS (InvokeEndpoint)")
    p.add_argument("--file", help="CSV, .json or .jsonl file of rows")
    p.add_argument("--json", help='e.g. \'{"instances": [{"age": 40, ...}]}\'')
    p.add_argument("--csv", help="e.g. 40,5,100000,2,1 (features in schema order)")
    p.add_argument("--accept", default="text/csv")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("batch", help="score files with batch transform semantics")
    p.add_argument("--input", required=True, help="a CSV / JSON-lines file or a folder of them "
                                                  "(no header; features in schema order)")
    p.add_argument("--output", required=True, help="folder for <input>.out files")
    p.add_argument("--model-version", help="N, GROUP/N or ARN (default: newest Approved)")
    p.add_argument("--model-dir", help="a trained model's folder instead of a version")
    p.add_argument("--allow-unapproved", action="store_true")
    p.add_argument("--content-type", default="text/csv")
    p.add_argument("--accept", default="text/csv")
    p.add_argument("--max-payload-mb", type=float, default=6.0)
    p.add_argument("--concurrency", type=positive_int, default=os.cpu_count() or 1,
                   help="requests scored at once, one core each (MaxConcurrentTransforms; "
                        "default: the number of cores)")
    p.add_argument("--join-input", action="store_true",
                   help="append each prediction to its input row (JoinSource=Input)")
    p.add_argument("--home")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("deploy", help="deploy a registered version to a SageMaker endpoint "
                                      "with data capture (AWS)")
    p.add_argument("--model-package-arn", required=True)
    p.add_argument("--endpoint-name", required=True)
    p.add_argument("--role-arn", help="execution role of the model "
                                      "(default: $SAGEMAKER_EXECUTION_ROLE_ARN)")
    p.add_argument("--instance-type", default="ml.m5.large")
    p.add_argument("--instance-count", type=positive_int, default=1)
    p.add_argument("--data-capture-percent", type=float, default=100.0)
    p.add_argument("--capture-destination", help="s3://bucket/prefix for captured data")
    p.add_argument("--allow-unapproved", action="store_true")
    p.add_argument("--monitor", choices=("none", "hourly"), default="none",
                   help="hourly data-quality monitoring against the version's baseline")
    p.add_argument("--monitoring-output", help="s3://bucket/prefix for monitoring reports")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("undeploy", help="delete an endpoint, its config, models and "
                                        "monitoring schedules (AWS)")
    p.add_argument("--endpoint-name", required=True)
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("monitor", help="check captured requests against the data-quality "
                                       "baseline (drift, types, completeness, domains)")
    p.add_argument("--model-version", help="N, GROUP/N or ARN (default: newest Approved)")
    p.add_argument("--baseline-dir", help="statistics.json + constraints.json instead")
    p.add_argument("--since", help="ISO time or 2h / 30m / 1d (default: all captured data)")
    p.add_argument("--endpoint-name", default="churn-local")
    p.add_argument("--capture-dir", help="default: $CHURN_HOME/capture")
    p.add_argument("--output", help="folder for constraint_violations.json (on AWS also "
                                    "s3://bucket/prefix)")
    p.add_argument("--capture-destination",
                   help="AWS: the endpoint's capture destination s3://bucket/prefix (default: "
                        "read from the endpoint's DataCaptureConfig)")
    p.add_argument("--model-package-arn",
                   help="AWS: the registered version whose DriftCheckBaselines to check against")
    p.add_argument("--schedule-name", help="the MonitoringSchedule dimension of the metrics "
                                           "(default: <endpoint>-adhoc)")
    p.add_argument("--metrics-namespace",
                   help="AWS: CloudWatch namespace (default: Model Monitor's, "
                        "aws/sagemaker/Endpoints/data-metrics)")
    p.add_argument("--home")
    p.set_defaults(func=cmd_monitor)
