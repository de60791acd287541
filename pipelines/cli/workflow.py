"""`churn workflow ...`: the churn workflows (Step Functions state machines generated from code,
pipelines/churn/workflows.py), in the home's Step Functions twin (the ASL interpreter) by
default, on AWS with --region or --profile (pipelines/cli/target.py): the same calls
(pipelines/aws/stepfunctions.py) on either.

  churn workflow definition NAME [names]      the state machine's definition, as JSON
  churn workflow run NAME [--input JSON] [--data CSV --schema S]
                                               start an execution and follow it, state by state
  churn workflow start NAME [--input JSON]    start one; prints its ARN
  churn workflow runs list | show ARN         the executions and their history
  churn workflow describe ARN                 one execution with its history
  churn workflow create | update NAME --states-role-arn R [names]
                                               the state machine on AWS (locally they are made
                                               from the code at each run)

definition, run, start, create and update take --query-language jsonata: the same workflow,
state for state, with its data handling in JSONata (Arguments, Output, Assign, Condition,
variables) instead of JSONPath (the default).
"""

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping, Optional

from pipelines.aws.config import split_ids
from pipelines.aws.errors import aws_errors
from pipelines.churn.schema_source import SchemaSource
from pipelines.churn.workflow_language import QUERY_LANGUAGES, query_language
from pipelines.churn.workflows import NAMES, WorkflowSettings, definition, training_labels
from pipelines.cli.common import add_generated_data, add_home, add_schema, data_or_generated
from pipelines.cli.target import Target, add_target, resolve
from pipelines.errors import UserError

if TYPE_CHECKING:
    from pipelines.workspace import Workspace

LOCAL_MACHINES = (
    "the local home's state machines are made from the code at each `churn workflow run`: "
    "there is nothing to create"
)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    values = {
        key: getattr(args, key)
        for key in (
            "pipeline_name",
            "model_package_group",
            "endpoint_name",
            "role_arn",
            "input_data_url",
            "capture_uri",
            "monitoring_output_uri",
            "deploy_state_machine_arn",
            "databrew_job",
            "kms_key",
            "query_language",
        )
        if getattr(args, key, None)
    }
    for key in ("subnets", "security_group_ids"):  # comma-separated, as the flags take them
        if getattr(args, key, None):
            values[key] = split_ids(getattr(args, key))
    return values


def cmd_definition(args: argparse.Namespace, ws: "Workspace") -> int:
    print(json.dumps(definition(args.name, WorkflowSettings(**_settings(args))), indent=1))
    return 0


def _input(text: Optional[str]) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise UserError("--input is not JSON: %s" % e)
    if not isinstance(value, dict):
        raise UserError("--input must be a JSON object, e.g. '{\"ModelApprovalStatus\": ...}'")
    return value


def _echo(event: dict[str, Any]) -> None:
    """A followed execution's progress, one line per state entered or failure."""
    kind = event["type"]
    if kind.endswith("StateEntered"):
        print("  %-34s entered" % event["stateEnteredEventDetails"]["name"])
    elif kind in ("TaskFailed", "ExecutionFailed", "ExecutionTimedOut"):
        details = next(v for k, v in event.items() if k.endswith("EventDetails"))
        print("  %s: %s: %s" % (kind, details.get("error"), details.get("cause", "")[:500]))
    sys.stdout.flush()


def _state_machine(args: argparse.Namespace, ws: "Workspace", target: Target) -> tuple[Any, str]:
    """(client, ARN) of the workflow's state machine on the target: in the local home, made
    from the code now (with --data staged and the local settings); on AWS, the one `churn
    workflow create` made."""
    from pipelines.aws.stepfunctions import find
    from pipelines.local.stepfunctions.interpreter import Clock

    def make_workflows() -> Any:
        data = data_or_generated(args, ws, allow_s3=True)
        settings = _settings(args)
        clock = Clock(getattr(args, "wait_scale", 1.0))
        return ws.workflows.prepare(SchemaSource(args.schema), data, clock=clock, **settings)[0]

    client = target.stepfunctions(make_workflows)
    arn = find(client, _machine_name(args))
    if arn is None:
        raise UserError(
            "no state machine %s in %s: `churn workflow create %s` first"
            % (_machine_name(args), target.where, args.name)
        )
    return client, arn


def cmd_run(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.aws.stepfunctions import follow, start

    target = resolve(args, ws)
    document = _input(args.input)
    with aws_errors("workflow %s: " % args.name):
        client, machine = _state_machine(args, ws, target)
        print("execution of %s (%s)" % (_machine_name(args), target.where))
        arn = start(client, machine, document, args.execution_name)
        result = follow(client, arn, _echo, poll_seconds=target.poll_seconds)
    print(
        "%s: %s"
        % (
            result["status"],
            result.get("output") or "%s: %s" % (result.get("error"), result.get("cause")),
        )
    )
    print("history: churn workflow runs show %s" % result["executionArn"])
    return 0 if result["status"] == "SUCCEEDED" else 1


def cmd_runs(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.aws.stepfunctions import describe, executions

    target = resolve(args, ws)
    client = target.client("stepfunctions")  # reading records runs no task
    with aws_errors("workflow runs: "):
        if args.runs_action == "list":
            runs = executions(client)
            if not runs:
                print("no workflow executions in %s" % target.where)
            for r in runs:
                print("%-10s %s" % (r["status"], r["executionArn"]))
            return 0
        if not args.execution:
            raise UserError(
                "runs show needs an execution ARN or name (see `churn workflow runs list`)"
            )
        arn = args.execution
        if ":execution:" not in arn:  # a name: the execution of that name, whichever machine
            found = [r["executionArn"] for r in executions(client) if r["name"] == arn]
            if not found:
                raise UserError("no workflow execution named %s in %s" % (arn, target.where))
            arn = found[0]
        described = describe(client, arn)
    print(json.dumps(described, indent=1, default=_json_time))
    return 0


def _json_time(value: datetime) -> str:
    """boto3's datetimes as JSON: ISO 8601, as the AWS CLI prints them."""
    return value.isoformat()


# -- on AWS -----------------------------------------------------------------------------


def _machine_name(args: argparse.Namespace) -> str:
    return "%s-%s" % (args.prefix, args.name)


def cmd_create(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.aws.stepfunctions import ensure_state_machine, find, session_machine_arn

    if args.config_prefix:
        from pipelines.aws.config import fill

        fill(
            args,
            args.config_prefix,
            {
                "states_role_arn": "states-role-arn",
                "role_arn": "pipeline-role-arn",
                "bucket": "bucket",
                "model_package_group": "model-package-group",
                "endpoint_name": "endpoint-name",
                "kms_key": "kms-key-arn",
                "subnets": "subnets",
                "security_group_ids": "security-group-ids",
            },
            ssm=resolve(args, ws, aws_only=LOCAL_MACHINES).client("ssm"),
        )
    if not args.states_role_arn:
        raise UserError(
            "--states-role-arn: the role the state machine runs as (it calls "
            "SageMaker, DataBrew and Step Functions)"
        )
    session = resolve(args, ws, aws_only=LOCAL_MACHINES).session
    settings = _settings(args)
    settings.setdefault("model_package_group", SchemaSource(args.schema).schema.model_package_group)
    with aws_errors("workflow %s: " % args.name):
        settings.update(_aws_locations(args, session, settings))
        if args.name == "train-and-deploy" and "deploy_state_machine_arn" not in settings:
            settings["deploy_state_machine_arn"] = session_machine_arn(
                session, "%s-deploy" % args.prefix
            )
        names = WorkflowSettings(**settings)
        document = definition(args.name, names)
        text = json.dumps(document)
        local = sorted(
            k
            for k, v in vars(names).items()  # the local home's stand-ins
            if isinstance(v, str)
            and v in text
            and (v.startswith("s3://churn-local/") or ":000000000000:" in v)
        )
        if local:
            raise UserError(
                "on AWS, give %s (or --config-prefix): the defaults name the local home"
                % ", ".join("--" + k.replace("_", "-") for k in local)
            )
        client = session.client("stepfunctions")
        if args.action == "update" and find(client, _machine_name(args)) is None:
            raise UserError(
                "no state machine %s in %s: create it first"
                % (_machine_name(args), session.region_name)
            )
        arn, done = ensure_state_machine(
            client, _machine_name(args), document, args.states_role_arn, args.log_group_arn
        )
    print("%s %s" % (done, arn))
    return 0


def _aws_locations(
    args: argparse.Namespace, session: Any, settings: Mapping[str, Any]
) -> dict[str, str]:
    """Where a workflow's objects go on AWS, under --bucket: capture, monitoring reports and
    (direct) the code bundles, uploaded here, the model artifacts and the region's XGBoost
    image; a flag given wins."""
    from pipelines.churn.images import model_monitor_image

    out = {"monitor_image": model_monitor_image(session.region_name)}
    if not args.bucket:
        if args.name == "direct":
            raise UserError("direct needs --bucket: its training code and models live there")
        return {k: v for k, v in out.items() if k not in settings}
    base = "s3://%s/%s" % (args.bucket, args.prefix)
    out.update(
        capture_uri=base + "/capture",
        monitoring_output_uri=base + "/monitoring",
        input_data_url=base + "/data/",
    )
    if args.name == "direct":
        from pipelines.aws.code_upload import upload
        from pipelines.churn.bundles import build_bundles
        from pipelines.churn.pipeline import xgboost_image

        schema = SchemaSource(args.schema).schema
        bundles = build_bundles()
        upload(bundles, session.client("s3"), args.bucket, args.prefix)
        out.update(
            training_code_uri=bundles["training"].uri(args.bucket, args.prefix),
            inference_code_uri=bundles["inference"].uri(args.bucket, args.prefix),
            model_output_uri=base + "/models",
            training_image=xgboost_image(session.region_name),
            **training_labels(schema),
        )
    return {k: v for k, v in out.items() if k not in settings}


def cmd_start(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.aws.stepfunctions import follow, start

    target = resolve(args, ws)
    with aws_errors("workflow %s: " % args.name):
        client, machine = _state_machine(args, ws, target)
        arn = start(client, machine, _input(args.input), args.execution_name)
        print(arn)
        sys.stdout.flush()
        if target.executions_end_with_the_command:  # it would end with this process
            follow(client, arn, poll_seconds=target.poll_seconds)
    return 0


def cmd_describe(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.aws.stepfunctions import describe

    target = resolve(args, ws)
    with aws_errors("execution %s: " % args.execution):
        described = describe(target.client("stepfunctions"), args.execution)
    print(json.dumps(described, indent=1, default=_json_time))
    return 0


def _add_names(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline-name", help="the pipeline train-and-deploy starts (ChurnPipeline)")
    p.add_argument(
        "--model-package-group",
        help="the group whose newest version train-and-deploy deploys (default: the schema's, "
        "churn-<schema name>)",
    )
    p.add_argument("--endpoint-name", help="the endpoint deploy creates or updates (churn)")
    p.add_argument("--role-arn", help="the SageMaker execution role the models run as")
    p.add_argument("--input-data-url", help="the raw table the pipeline trains on")
    p.add_argument("--capture-uri", help="s3:// prefix of the endpoint's data capture")
    p.add_argument("--monitoring-output-uri", help="s3:// prefix of the monitoring reports")
    p.add_argument("--deploy-state-machine-arn", help="the deploy workflow train-and-deploy starts")
    p.add_argument("--databrew-job", help="a DataBrew job to run before the pipeline")
    p.add_argument(
        "--kms-key", help="KMS key for the endpoint's volumes, the captures, direct's training"
    )
    p.add_argument("--subnets", help="comma-separated: the models and direct's training in the VPC")
    p.add_argument("--security-group-ids", help="comma-separated, with --subnets")


def _query_language(text: str) -> str:
    try:
        return query_language(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def _add_query_language(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--query-language",
        type=_query_language,
        metavar="|".join(q.lower() for q in QUERY_LANGUAGES),
        help="the definition's query language: jsonpath (the default: Parameters, "
        "ResultPath, intrinsic functions) or jsonata (Arguments, Output, Assign, Condition, "
        "variables); the same states either way",
    )


def _add_wait_scale(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait-scale",
        type=float,
        default=1.0,
        help="multiply every wait (Wait states, retry delays, polls) by this; tests use 0.01 "
        "(default: %(default)s)",
    )


def _add_prefix(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--prefix",
        default="churn",
        help="state machines are named <prefix>-<NAME> (default: %(default)s)",
    )


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("workflow", help="the Step Functions workflows: print, run, start")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    q = actions.add_parser("definition", help="print a workflow's state machine definition")
    q.add_argument("name", choices=NAMES, help="the workflow: %s" % ", ".join(NAMES))
    _add_names(q)
    _add_query_language(q)
    add_home(q)
    q.set_defaults(func=cmd_definition)

    q = actions.add_parser("run", help="execute a workflow and follow it, state by state")
    q.add_argument("name", choices=NAMES, help="the workflow: %s" % ", ".join(NAMES))
    q.add_argument("--input", help="the execution's input, a JSON object")
    q.add_argument("--execution-name", help="default: a new unique name")
    q.add_argument("--data", help="the raw table (CSV, or s3:// in the local store)")
    add_schema(q)
    add_generated_data(q)
    _add_wait_scale(q)
    _add_names(q)
    _add_query_language(q)
    _add_prefix(q)
    add_target(q)
    add_home(q)
    q.set_defaults(func=cmd_run)

    for action, help in (
        ("create", "create the state machine on AWS (or update it)"),
        ("update", "update the state machine on AWS"),
    ):
        q = actions.add_parser(action, help=help)
        q.add_argument("name", choices=NAMES, help="the workflow: %s" % ", ".join(NAMES))
        q.add_argument("--states-role-arn", help="the role the state machine runs as")
        q.add_argument("--log-group-arn", help="CloudWatch Logs group for the executions' logs")
        q.add_argument(
            "--bucket",
            help="S3 bucket for capture, monitoring reports and (direct) code and models",
        )
        q.add_argument(
            "--config-prefix",
            help="read the roles, bucket, group and endpoint names that are not given from "
            "Parameter Store under this path, e.g. /churn/",
        )
        add_schema(q)
        _add_prefix(q)
        add_target(q)
        add_home(q)
        _add_names(q)
        _add_query_language(q)
        q.set_defaults(func=cmd_create)

    q = actions.add_parser(
        "start",
        help="start an execution; prints its ARN (locally it runs in this command, which "
        "waits for its end)",
    )
    q.add_argument("name", choices=NAMES, help="the workflow: %s" % ", ".join(NAMES))
    q.add_argument("--input", help="the execution's input, a JSON object")
    q.add_argument("--execution-name", help="default: a new unique name")
    q.add_argument("--data", help="locally: the raw table (CSV, or s3:// in the local store)")
    add_schema(q)
    add_generated_data(q)
    _add_wait_scale(q)
    _add_names(q)
    _add_query_language(q)
    _add_prefix(q)
    add_target(q)
    add_home(q)
    q.set_defaults(func=cmd_start)

    q = actions.add_parser("describe", help="an execution, with its history")
    q.add_argument("execution", help="the execution ARN")
    add_target(q)
    add_home(q)
    q.set_defaults(func=cmd_describe)

    q = actions.add_parser("runs", help="the workflow executions")
    q.add_argument(
        "runs_action",
        choices=("list", "show"),
        metavar="list|show",
        help="list every execution, or show one with its history",
    )
    q.add_argument("execution", nargs="?", help="show: the execution's name or ARN")
    add_target(q)
    add_home(q)
    q.set_defaults(func=cmd_runs)
