"""`churn endpoints list | describe NAME | delete NAME`: the home's local endpoints (started by
`churn deploy --local` or a workflow's CreateEndpoint), as DescribeEndpoint reports them."""

import json
from typing import Dict


def cmd_endpoints(args, ws):
    hosting = ws.hosting
    if args.action == "list":
        endpoints = hosting.list_endpoints()
        if not endpoints:
            print("no local endpoints in %s (start one: churn deploy --local ...)" % ws.home)
        for e in endpoints:
            print(
                "%-24s %-10s %-34s %s"
                % (
                    e["EndpointName"],
                    e["EndpointStatus"],
                    e["EndpointConfigName"],
                    e.get("Url", ""),
                )
            )
        return 0
    if not args.name:
        from pipelines.errors import UserError

        raise UserError("%s needs an endpoint NAME (see `churn endpoints list`)" % args.action)
    if args.action == "describe":
        print(json.dumps(hosting.describe_endpoint(args.name), indent=1))
        return 0
    print(deleted(args.name, hosting.delete_endpoint(args.name)))
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
