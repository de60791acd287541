"""`churn workflow ...`: the churn workflows (Step Functions state machines generated from code,
pipelines/churn/workflows.py), printed, and run locally by the ASL interpreter.

  churn workflow definition NAME [names]      the state machine's definition, as JSON
  churn workflow run NAME [--input JSON] [--data CSV --schema S]
                                               execute it locally; prints each state
  churn workflow runs list | show ARN          the home's executions and their history
"""

import json
import sys

from pipelines.churn.schema_source import SchemaSource
from pipelines.churn.workflows import NAMES, WorkflowSettings, definition
from pipelines.cli.common import add_generated_data, add_home, add_schema, data_or_generated
from pipelines.errors import UserError


def _settings(args):
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
        )
        if getattr(args, key, None)
    }
    return values


def cmd_definition(args, ws):
    print(json.dumps(definition(args.name, WorkflowSettings(**_settings(args))), indent=1))
    return 0


def _input(text):
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise UserError("--input is not JSON: %s" % e)
    if not isinstance(value, dict):
        raise UserError("--input must be a JSON object, e.g. '{\"ModelApprovalStatus\": ...}'")
    return value


def cmd_run(args, ws):
    from pipelines.local.stepfunctions.interpreter import Clock

    document = _input(args.input)
    data = data_or_generated(args, ws, allow_s3=True)
    schema = SchemaSource(args.schema)

    def echo(event):
        kind = event["type"]
        if kind.endswith("StateEntered"):
            print("  %-34s entered" % event["stateEnteredEventDetails"]["name"])
        elif kind in ("TaskFailed", "ExecutionFailed", "ExecutionTimedOut"):
            details = next(v for k, v in event.items() if k.endswith("EventDetails"))
            print("  %s: %s: %s" % (kind, details.get("error"), details.get("cause", "")[:500]))
        sys.stdout.flush()

    service, _ = ws.workflows(schema, data, clock=Clock(args.wait_scale), **_settings(args))
    machine = "churn-" + args.name
    print("execution of %s (local)" % machine)
    result = service.start_execution(machine, document, args.execution_name, listener=echo)
    print(
        "%s: %s"
        % (
            result["status"],
            result.get("output") or "%s: %s" % (result.get("error"), result.get("cause")),
        )
    )
    print("history: churn workflow runs show %s" % result["executionArn"])
    return 0 if result["status"] == "SUCCEEDED" else 1


def cmd_runs(args, ws):
    from pipelines.local.sfn_integrations import sagemaker_integrations
    from pipelines.local.stepfunctions.integrations import Integrations
    from pipelines.local.stepfunctions.service import StepFunctions

    service = StepFunctions(ws.home, Integrations(sagemaker_integrations(ws.sagemaker, None)))
    if args.runs_action == "list":
        runs = service.list_executions()
        if not runs:
            print("no workflow executions in %s" % ws.home)
        for r in runs:
            print("%-10s %s" % (r["status"], r["executionArn"]))
        return 0
    if not args.execution:
        raise UserError("runs show needs an execution ARN (see `churn workflow runs list`)")
    described = service.describe_execution(args.execution)
    described["events"] = service.get_execution_history(args.execution)["events"]
    print(json.dumps(described, indent=1))
    return 0


def _add_names(p):
    p.add_argument("--pipeline-name")
    p.add_argument("--model-package-group")
    p.add_argument("--endpoint-name")
    p.add_argument("--role-arn", help="the SageMaker execution role the models run as")
    p.add_argument("--input-data-url", help="the raw table the pipeline trains on")
    p.add_argument("--capture-uri")
    p.add_argument("--monitoring-output-uri")
    p.add_argument("--deploy-state-machine-arn")
    p.add_argument("--databrew-job", help="a DataBrew job to run before the pipeline")


def add_parsers(sub):
    p = sub.add_parser("workflow", help="the Step Functions workflows: print, run locally")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    q = actions.add_parser("definition", help="print a workflow's state machine definition")
    q.add_argument("name", choices=NAMES)
    _add_names(q)
    add_home(q)
    q.set_defaults(func=cmd_definition)

    q = actions.add_parser("run", help="execute a workflow locally")
    q.add_argument("name", choices=NAMES)
    q.add_argument("--input", help="the execution's input, a JSON object")
    q.add_argument("--execution-name")
    q.add_argument("--data", help="the raw table (CSV, or s3:// in the local store)")
    add_schema(q)
    add_generated_data(q)
    q.add_argument(
        "--wait-scale",
        type=float,
        default=1.0,
        help="multiply every wait (Wait states, retry delays, polls) by this; tests use 0.01",
    )
    _add_names(q)
    add_home(q)
    q.set_defaults(func=cmd_run)

    q = actions.add_parser("runs", help="the home's workflow executions")
    q.add_argument("runs_action", choices=("list", "show"), metavar="list|show")
    q.add_argument("execution", nargs="?")
    add_home(q)
    q.set_defaults(func=cmd_runs)
