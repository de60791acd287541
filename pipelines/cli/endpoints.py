"""`churn endpoints list | describe NAME | delete NAME`: the home's local endpoints (started by
`churn deploy --local` or a workflow's CreateEndpoint), through the `sagemaker` twin client:
ListEndpoints, DescribeEndpoint (as boto3 hands it over), DeleteEndpoint."""

import json
from typing import Dict

from pipelines.aws.errors import aws_errors


def cmd_endpoints(args, ws):
    from pipelines.local.sagemaker.api import SageMakerClient

    client = SageMakerClient(ws.sagemaker)
    if args.action == "list":
        endpoints = client.get_paginator("list_endpoints").paginate(SortOrder="Ascending")
        listed = [e for page in endpoints for e in page["Endpoints"]]
        if not listed:
            print("no local endpoints in %s (start one: churn deploy --local ...)" % ws.home)
        for e in listed:
            described = client.describe_endpoint(EndpointName=e["EndpointName"])
            url = ""
            if e["EndpointStatus"] in ("InService", "Updating"):
                url = "http://%s:%d" % ws.hosting.address(e["EndpointName"])
            print(
                "%-24s %-10s %-34s %s"
                % (e["EndpointName"], e["EndpointStatus"], described["EndpointConfigName"], url)
            )
        return 0
    if not args.name:
        from pipelines.errors import UserError

        raise UserError("%s needs an endpoint NAME (see `churn endpoints list`)" % args.action)
    with aws_errors():
        if args.action == "describe":
            described = client.describe_endpoint(EndpointName=args.name)
            print(json.dumps(described, indent=1, default=str))
            return 0
        client.delete_endpoint(EndpointName=args.name)
    print(deleted(args.name, ws.hosting.deleted.get(args.name, {})))
    return 0


# What became of a deleted endpoint's serving process (Hosting.delete_endpoint).
PROCESS_NOTES = {
    "stopped": "stopped its serving process",
    "exited": "its serving process had already exited",
    "unverified": "left process {pid} running: this system cannot tell whether it is still the "
    "endpoint's serving process (stop it yourself if it is)",
}


def deleted(name: str, processes: Dict[int, str]) -> str:
    """What `churn endpoints delete` and `churn undeploy --local` say of a deleted endpoint."""
    notes = [PROCESS_NOTES[what].format(pid=pid) for pid, what in processes.items()]
    return "; ".join(["deleted local endpoint %s" % name] + notes)


def add_parsers(sub):
    from pipelines.cli.common import add_home

    p = sub.add_parser("endpoints", help="the home's local endpoints")
    p.add_argument(
        "action",
        choices=("list", "describe", "delete"),
        help="list the home's endpoints, describe or delete one",
    )
    p.add_argument("name", nargs="?", help="describe, delete: the endpoint's name")
    add_home(p)
    p.set_defaults(func=cmd_endpoints)
