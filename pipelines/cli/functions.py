"""`churn lambda create | list | delete | invoke`: Lambda functions in the home's Lambda twin
by default, on AWS with --region or --profile (pipelines/cli/target.py). What a pipeline's
Lambda step invokes locally is the function of that name registered here.

  churn lambda create --name F --handler app.handler --code FOLDER_OR_ZIP
                      [--runtime python3.11] [--timeout 120] [--memory 128] [--env K=V ...]
                      [--role-arn R]     created, or its code updated when F exists
  churn lambda list
  churn lambda delete --name F
  churn lambda invoke --name F [--event JSON]   its answer, and the log on standard error
"""

import argparse
import json
import sys
from typing import TYPE_CHECKING, Dict, List

from pipelines.aws import functions
from pipelines.aws.errors import aws_errors
from pipelines.cli.common import add_home
from pipelines.cli.target import add_target, resolve
from pipelines.errors import UserError

if TYPE_CHECKING:
    from pipelines.workspace import Workspace

# The twin checks no roles; on AWS a function needs one Lambda can assume.
LOCAL_ROLE = "arn:aws:iam::000000000000:role/churn-local-lambda"


def _environment(pairs: List[str]) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError("--env %s: give KEY=VALUE" % pair)
        found[key] = value
    return found


def cmd_lambda(args: argparse.Namespace, ws: "Workspace") -> int:
    target = resolve(args, ws)
    client = target.client("lambda")
    if args.action == "list":
        with aws_errors():
            listed = functions.list_functions(client)
        if not listed:
            print(
                "no Lambda functions in %s (register one: churn lambda create ...)" % target.where
            )
        for f in listed:
            print("%-32s %-12s %-28s %5d s" % (f["FunctionName"], f.get("Runtime", ""),
                                                f.get("Handler", ""), f["Timeout"]))  # fmt: skip
        return 0
    if not args.name:
        raise UserError("lambda %s needs --name" % args.action)
    if args.action == "create":
        if not (args.handler and args.code):
            raise UserError("lambda create needs --handler module.function and --code")
        role = args.role_arn or target.local_default(LOCAL_ROLE)
        if not role:
            raise UserError("on AWS, lambda create needs --role-arn (a role Lambda can assume)")
        code = functions.package(args.code)
        with aws_errors("lambda %s: " % args.name):
            done, configuration = functions.create_or_update(
                client, args.name, args.handler, code, role, args.runtime, args.timeout,
                args.memory, _environment(args.env),
            )  # fmt: skip
        print("%s %s (%s, %d bytes of code) in %s" % (
            done, configuration["FunctionArn"], configuration["Handler"],
            configuration["CodeSize"], target.where,
        ))  # fmt: skip
        return 0
    if args.action == "delete":
        with aws_errors("lambda %s: " % args.name):
            functions.delete(client, args.name)
        print("deleted %s" % args.name)
        return 0
    try:
        event = json.loads(args.event)
    except ValueError as e:
        raise UserError("--event is not JSON: %s" % e)
    with aws_errors("lambda %s: " % args.name):
        result, error, log = functions.invoke(client, args.name, event)
    sys.stderr.write(log)
    print(json.dumps(result, indent=1))
    return 1 if error else 0


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("lambda", help="Lambda functions: create, list, delete, invoke")
    p.add_argument(
        "action",
        choices=("create", "list", "delete", "invoke"),
        help="create (or update the code of) a function, list them, delete one, or invoke one",
    )
    p.add_argument("--name", help="the function's name")
    p.add_argument("--handler", help="create: module.function, as Lambda's Handler")
    p.add_argument("--code", help="create: a folder (zipped as it is) or a .zip package")
    p.add_argument("--runtime", default="python3.11", help="create (default: %(default)s)")
    p.add_argument(
        "--timeout",
        type=int,
        default=120,
        help="create: seconds (default: %(default)s, the SageMaker SDK's Lambda helper's)",
    )
    p.add_argument("--memory", type=int, default=128, help="create: MB (default: %(default)s)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="create: an environment variable (repeat; default: none)")  # fmt: skip
    p.add_argument("--role-arn", help="create, on AWS: the function's execution role")
    p.add_argument("--event", default="{}", help="invoke: the event, as JSON (default: {})")
    add_target(p)
    add_home(p)
    p.set_defaults(func=cmd_lambda)
