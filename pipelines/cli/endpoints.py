"""`churn endpoints list | describe NAME | delete NAME`: the target's endpoints (locally those
`churn deploy` or a workflow's CreateEndpoint started), through its `sagemaker` client:
ListEndpoints, DescribeEndpoint (as boto3 hands it over), DeleteEndpoint."""

import argparse
import json
from typing import TYPE_CHECKING

from pipelines.aws.errors import aws_errors
from pipelines.cli.common import add_home
from pipelines.cli.target import add_target, resolve
from pipelines.errors import UserError

if TYPE_CHECKING:
    from pipelines.workspace import Workspace


def cmd_endpoints(args: argparse.Namespace, ws: "Workspace") -> int:
    target = resolve(args, ws)
    client = target.client("sagemaker")
    if args.action == "list":
        with aws_errors():
            pages = client.get_paginator("list_endpoints").paginate(SortOrder="Ascending")
            listed = [e for page in pages for e in page["Endpoints"]]
            if not listed:
                print(
                    "no %ss in %s (start one: churn deploy ...)"
                    % (target.endpoint_word, target.where)
                )
            for e in listed:
                described = client.describe_endpoint(EndpointName=e["EndpointName"])
                url = ""
                if e["EndpointStatus"] in ("InService", "Updating"):
                    url = target.endpoint_url(e["EndpointName"])
                print(
                    "%-24s %-10s %-34s %s"
                    % (e["EndpointName"], e["EndpointStatus"], described["EndpointConfigName"], url)
                )
        return 0
    if not args.name:
        raise UserError("%s needs an endpoint NAME (see `churn endpoints list`)" % args.action)
    with aws_errors():
        if args.action == "describe":
            described = client.describe_endpoint(EndpointName=args.name)
            print(json.dumps(described, indent=1, default=str))
            return 0
        client.delete_endpoint(EndpointName=args.name)
    notes = target.deleted_endpoint_notes(args.name)
    print("; ".join(["deleted %s %s" % (target.endpoint_word, args.name)] + notes))
    return 0


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("endpoints", help="the endpoints: list, describe, delete")
    p.add_argument(
        "action",
        choices=("list", "describe", "delete"),
        help="list the home's endpoints, describe or delete one",
    )
    p.add_argument("name", nargs="?", help="describe, delete: the endpoint's name")
    add_target(p)
    add_home(p)
    p.set_defaults(func=cmd_endpoints)
