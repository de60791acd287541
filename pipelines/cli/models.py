"""`churn models`: the local model registry, through pipelines/aws/registry.py with the twin's
`sagemaker` client (the same calls AWS's registry answers)."""

import json
import re
import time

from pipelines.aws.registry import find_package, list_versions, set_approval
from pipelines.cli.common import add_group, add_home, group_of
from pipelines.errors import UserError


def schema_of(package):
    """The schema a version was trained with: RegisterModel's CustomerMetadataProperties, or
    its description for versions registered before those carried it."""
    named = (package.get("CustomerMetadataProperties") or {}).get("schema")
    if named:
        return named
    found = re.search(r"\(schema ([^)]+)\)", package.get("ModelPackageDescription") or "")
    return found.group(1) if found else None


def listing(ws, group):
    """What `churn models list` shows of each version."""
    return [
        {
            "group": p["ModelPackageGroupName"],
            "version": p["ModelPackageVersion"],
            "status": p["ModelApprovalStatus"],
            "auc": ws.version_metrics(p).get("auc"),
            "schema": schema_of(p),
            "created": p["CreationTime"].timestamp(),
            "arn": p["ModelPackageArn"],
        }
        for p in list_versions(ws.sagemaker_client, group)
    ]


def cmd_models(args, ws):
    sm = ws.sagemaker_client
    group = group_of(args)
    if args.action == "list":
        versions = listing(ws, group)
        if args.json:
            print(json.dumps(versions, indent=1))
            return 0
        if not versions:
            print(
                "no model versions registered under %s%s yet"
                % (ws.home, " in group %s" % group if group else "")
            )
        for v in versions:
            print(
                "%-24s %3d  %-22s AUC %-6s  %-10s %s"
                % (
                    v["group"],
                    v["version"],
                    v["status"],
                    "-" if v["auc"] is None else "%.4f" % v["auc"],
                    v["schema"] or "-",
                    time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v["created"])),
                )
            )
        return 0
    if not args.version:
        raise UserError("churn models %s needs a VERSION (see `churn models list`)" % args.action)
    if args.action == "describe":
        package = find_package(sm, args.version, group, "under %s" % ws.home)
        print(json.dumps(package, indent=1, default=str))
        return 0
    status = "Approved" if args.action == "approve" else "Rejected"
    package = set_approval(sm, args.version, status, args.description, group)
    print(
        "%s version %d is now %s"
        % (package["ModelPackageGroupName"], package["ModelPackageVersion"], status)
    )
    return 0


def add_parsers(sub):
    p = sub.add_parser("models", help="the local model registry")
    p.add_argument(
        "action",
        choices=("list", "describe", "approve", "reject"),
        help="list the versions, describe one, approve or reject it",
    )
    p.add_argument("version", nargs="?", help="version number, GROUP/NUMBER or ARN")
    add_group(p, schema_default=None)
    p.add_argument("--description", help="approval note (approve, reject)")
    p.add_argument("--json", action="store_true", help="list: one JSON list of the versions")
    add_home(p)
    p.set_defaults(func=cmd_models)
