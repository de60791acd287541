"""`churn models`: the local model registry."""

import json
import time

from pipelines.cli.common import add_home
from pipelines.errors import UserError


def cmd_models(args, ws):
    registry = ws.registry
    if args.action == "list":
        packages = registry.list_packages(args.group)
        if not packages:
            print("no model versions registered under %s yet" % ws.home)
        for p in packages:
            print(
                "%-24s %3d  %-22s %s"
                % (
                    p["ModelPackageGroupName"],
                    p["ModelPackageVersion"],
                    p["ModelApprovalStatus"],
                    time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p["CreationTime"])),
                )
            )
        return 0
    if not args.version:
        raise UserError("churn models %s needs a VERSION (see `churn models list`)" % args.action)
    if args.action == "describe":
        print(json.dumps(registry.find(args.version, args.group), indent=1, default=str))
        return 0
    status = "Approved" if args.action == "approve" else "Rejected"
    package = registry.set_approval(args.version, status, args.description, args.group)
    print(
        "%s version %d is now %s"
        % (package["ModelPackageGroupName"], package["ModelPackageVersion"], status)
    )
    return 0


def add_parsers(sub):
    p = sub.add_parser("models", help="the local model registry")
    p.add_argument("action", choices=("list", "describe", "approve", "reject"))
    p.add_argument("version", nargs="?", help="version number, GROUP/NUMBER or ARN")
    p.add_argument("--group")
    p.add_argument("--description", help="approval note")
    add_home(p)
    p.set_defaults(func=cmd_models)
