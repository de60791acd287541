"""`churn models`: the model registry of the command's target (the home's twin by default, AWS
with --region), through pipelines/aws/registry.py on its `sagemaker` and `s3` clients."""

import argparse
import json
import re
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from pipelines.aws.errors import aws_errors
from pipelines.aws.registry import find_package, list_versions, set_approval, version_metrics
from pipelines.cli.common import add_group, add_home, group_of
from pipelines.cli.target import Target, add_target, resolve
from pipelines.errors import UserError

if TYPE_CHECKING:
    from pipelines.workspace import Workspace


def schema_of(package: Dict[str, Any]) -> Optional[str]:
    """The schema a version was trained with: RegisterModel's CustomerMetadataProperties, or
    its description for versions registered before those carried it."""
    named = (package.get("CustomerMetadataProperties") or {}).get("schema")
    if named:
        return named
    found = re.search(r"\(schema ([^)]+)\)", package.get("ModelPackageDescription") or "")
    return found.group(1) if found else None


def listing(target: Target, group: Optional[str]) -> List[Dict[str, Any]]:
    """What `churn models list` shows of each version."""
    s3 = target.client("s3")
    return [
        {
            "group": p["ModelPackageGroupName"],
            "version": p["ModelPackageVersion"],
            "status": p["ModelApprovalStatus"],
            "auc": version_metrics(s3, p).get("auc"),
            "schema": schema_of(p),
            "created": p["CreationTime"].timestamp(),
            "arn": p["ModelPackageArn"],
        }
        for p in list_versions(target.client("sagemaker"), group)
    ]


def cmd_models(args: argparse.Namespace, ws: "Workspace") -> int:
    with aws_errors():
        return _models(args, resolve(args, ws))


def _models(args: argparse.Namespace, target: Target) -> int:
    sm = target.client("sagemaker")
    group = group_of(args)
    if args.action == "list":
        versions = listing(target, group)
        if args.json:
            print(json.dumps(versions, indent=1))
            return 0
        if not versions:
            print(
                "no model versions registered in %s%s yet"
                % (target.where, " in group %s" % group if group else "")
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
        package = find_package(sm, args.version, group, "in %s" % target.where)
        print(json.dumps(package, indent=1, default=str))
        return 0
    status = "Approved" if args.action == "approve" else "Rejected"
    package = set_approval(sm, args.version, status, args.description, group)
    print(
        "%s version %d is now %s"
        % (package["ModelPackageGroupName"], package["ModelPackageVersion"], status)
    )
    return 0


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("models", help="the model registry: list, describe, approve, reject")
    p.add_argument(
        "action",
        choices=("list", "describe", "approve", "reject"),
        help="list the versions, describe one, approve or reject it",
    )
    p.add_argument("version", nargs="?", help="version number, GROUP/NUMBER or ARN")
    add_group(p, schema_default=None)
    p.add_argument("--description", help="approval note (approve, reject)")
    p.add_argument("--json", action="store_true", help="list: one JSON list of the versions")
    add_target(p)
    add_home(p)
    p.set_defaults(func=cmd_models)
