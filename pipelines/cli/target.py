"""Where a command's service calls go: the home's local twins or AWS, chosen once, here.

Every command that calls a service takes the same flags (`add_target`):

  --local          the home's twins (the default)
  --region R       AWS, in region R
  --profile P      AWS, with the named profile of the AWS config files (its region unless --region)

and, without a flag, $CHURN_TARGET: `local` (the default) or `aws` (the session's region and
profile, as boto3 reads them from AWS_DEFAULT_REGION, AWS_PROFILE and the config files).

`resolve(args, ws)` gives a Target: its `session` makes the clients that pipelines/aws/ calls,
boto3's or the twins', and its methods are the few things that differ between the two and are
not service calls (where a local file goes before a service can read it, the local home's
locations and role where the command line names none). No other module asks which target it has.
"""

import argparse
import os
from typing import Any, Callable, Dict, List, Optional

from pipelines.errors import UserError

TARGET_VARIABLE = "CHURN_TARGET"
TARGETS = ("local", "aws")
LOCAL_CHUNK = 200_000  # records per transaction of a local bulk ingest
# What became of a deleted local endpoint's serving process (Hosting.delete_endpoint).
PROCESS_NOTES = {
    "stopped": "stopped its serving process",
    "exited": "its serving process had already exited",
    "unverified": "left process {pid} running: this system cannot tell whether it is still the "
    "endpoint's serving process (stop it yourself if it is)",
}


def add_target(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "target", "where the calls go (default: $%s, else local)" % TARGET_VARIABLE
    )
    group.add_argument(
        "--local", action="store_true", help="the home's local twins of the AWS services"
    )
    group.add_argument("--region", help="AWS, in this region")
    group.add_argument("--profile", help="AWS, with this profile of the AWS config files")


class Target(object):
    """What a command needs to know about where its calls go; see the module's docstring."""

    name = ""
    endpoint_word = "endpoint"  # what the commands call an endpoint of this target
    elsewhere = "--local"  # the flag of the other target
    # How often a command that follows an execution asks for its history.
    poll_seconds = 2.0
    # How often a command waiting for an endpoint asks (botocore's EndpointInService waiter's
    # delay on AWS), and how long `churn release` keeps a canary by default.
    endpoint_poll_seconds = 30.0
    canary_seconds = 600
    # Whether an execution lives only as long as the command that started it (a local twin
    # runs it on a thread of that process, docs/adr/0011): `start` then waits for its end.
    executions_end_with_the_command = False

    def __init__(self, session: Any, where: str) -> None:
        self.session = session
        self.where = where  # for messages: "the local home /x/.churn", "AWS (eu-west-1)"

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def has(self, service: str) -> bool:
        """Whether the target has `service` at all (on AWS every one: whether the account may
        call it is AWS's answer), for a command that does without what it lacks (churn
        monitor keeps its metrics in the report where there is no CloudWatch)."""
        return True

    @property
    def looked_in(self) -> str:
        """Where a name was looked for, and how to look on the other target: for a one-line
        "not found"."""
        return "%s (elsewhere: %s)" % (self.where, self.elsewhere)

    def data_url(self, given: str, folder: str) -> str:
        """An s3:// URL the service reads the table `given` (a file or an s3:// URL) from."""
        raise NotImplementedError

    def local_default(self, value: str) -> Optional[str]:
        """`value` (a location or role in the local home) on the local target; None on AWS,
        where a command names its own or refuses, saying which flag it needs."""
        raise NotImplementedError

    def require(self, service: str, flags: str) -> None:
        """Refuse, before anything is made, options whose effect needs `service` where the
        target has no such service."""

    def settle(self) -> None:
        """Make what the commands wrote readable by the next call (a local twin's buffered
        offline-store rows); AWS does this on its own schedule."""

    def stepfunctions(self, make_workflows: Callable[[], Any]) -> Any:
        """The `stepfunctions` client whose state machines a workflow command runs: on AWS the
        account's (made by `churn workflow create`); locally the twin `make_workflows()` gives,
        its state machines made from the code with the local home's settings."""
        return self.client("stepfunctions")

    def endpoint_url(self, name: str) -> str:
        """Where an InService endpoint answers InvokeEndpoint."""
        return "https://runtime.sagemaker.%s.amazonaws.com/endpoints/%s/invocations" % (
            self.session.region_name,
            name,
        )

    def deleted_endpoint_notes(self, name: str) -> List[str]:
        """What a deleted endpoint left behind that its caller should know of."""
        return []

    def bulk_ingest(self) -> Optional[Callable[..., None]]:
        """A faster way than PutRecord per row to write a table into a feature group, when the
        target has one: ingest(group, {feature: [text or None]}), PutRecord's rules checked
        column by column, a transaction per chunk. None: PutRecord per row
        (pipelines/aws/featurestore.put_records)."""
        return None


class LocalTarget(Target):
    name = "local"
    endpoint_word = "local endpoint"
    elsewhere = "--region R"
    poll_seconds = 0.05  # a local execution's history is a file: following it is cheap
    endpoint_poll_seconds = 0.2  # a local endpoint starts in about a second
    canary_seconds = 5  # a local release is watched as it happens
    executions_end_with_the_command = True

    def __init__(self, ws: Any) -> None:
        super().__init__(ws.session, "the local home %s" % ws.home)
        self.ws = ws

    def data_url(self, given: str, folder: str) -> str:
        return str(self.ws.staging.stage_data(given, folder))

    def local_default(self, value: str) -> Optional[str]:
        return value

    def has(self, service: str) -> bool:
        return bool(self.session.has(service))

    def require(self, service: str, flags: str) -> None:
        raise UserError(
            "%s: needs %s, which has no local twin: AWS only (--region R)" % (flags, service)
        )

    def settle(self) -> None:
        self.ws.features.flush()

    def stepfunctions(self, make_workflows: Callable[[], Any]) -> Any:
        return make_workflows()

    def endpoint_url(self, name: str) -> str:
        return "http://%s:%d/invocations" % self.ws.hosting.address(name)

    def deleted_endpoint_notes(self, name: str) -> List[str]:
        """What became of its serving processes (Hosting.delete_endpoint): one that this
        system cannot tell is still the endpoint's is left running, and said so."""
        return [
            PROCESS_NOTES[what].format(pid=pid)
            for pid, what in self.ws.hosting.deleted.get(name, {}).items()
        ]

    def bulk_ingest(self) -> Optional[Callable[..., None]]:
        features = self.ws.features

        def ingest(group: str, columns: Dict[str, List[Any]]) -> None:
            count = len(next(iter(columns.values()))) if columns else 0
            for i in range(0, count, LOCAL_CHUNK):
                chunk = {n: v[i : i + LOCAL_CHUNK] for n, v in columns.items()}
                features.put_columns(group, chunk)
            features.flush()

        return ingest


class AwsTarget(Target):
    name = "aws"

    def data_url(self, given: str, folder: str) -> str:
        if not given.startswith("s3://"):
            raise UserError(
                "on AWS, the table must be in S3: give s3://bucket/key (not %s), or drop "
                "--region/--profile to use the local home" % given
            )
        return given

    def local_default(self, value: str) -> Optional[str]:
        return None


def resolve(args: argparse.Namespace, ws: Any, aws_only: Optional[str] = None) -> Target:
    """The target the command line (or $CHURN_TARGET) names; the one place that decides.
    `aws_only`: the command has nothing to do locally, for this reason (the target is then
    AWS without a flag, and --local is refused with it)."""
    region, profile = getattr(args, "region", None), getattr(args, "profile", None)
    if getattr(args, "local", False):
        if region or profile:
            raise UserError("--local and --region/--profile name different targets: give one")
        if aws_only:
            raise UserError("--local: %s" % aws_only)
        return LocalTarget(ws)
    if not (region or profile or aws_only):
        chosen = os.environ.get(TARGET_VARIABLE, "local").strip().lower() or "local"
        if chosen not in TARGETS:
            raise UserError(
                "%s=%s: it is local or aws" % (TARGET_VARIABLE, os.environ[TARGET_VARIABLE])
            )
        if chosen == "local":
            return LocalTarget(ws)
    from pipelines.aws.errors import aws_errors, require_credentials
    from pipelines.aws.sessions import aws_session

    with aws_errors():  # a profile that is not in the config: one line
        session = aws_session(region, profile)
    if not session.region_name:
        raise UserError(
            "no AWS region: give --region, or set AWS_DEFAULT_REGION (or the profile's region)"
        )
    require_credentials(session)
    where = "AWS (%s%s)" % (session.region_name, ", profile %s" % profile if profile else "")
    return AwsTarget(session, where)
