"""`churn release`: the staged flow the release CodePipeline runs on AWS, on the command's
target (docs/release.md).

  (a) deploy the version to <prefix>-staging            pipelines/aws/deploy.py
  (b) test staging                                       pipelines/aws/stage_test.py
  (c) approval: --approve, or a y/N question on a terminal
  (d) deploy to <prefix>-prod: created, or updated blue/green with a canary
  (e) test prod; on failure, update prod back to the endpoint config it served before

One line per step. A failure stops the flow in one line and exits 1: a version that fails on
staging never reaches prod. Every call goes through the target's clients, so the flow is the
same on the local twins (the hosting twin shifts the canary: pipelines/local/sagemaker/
shifting.py) and on AWS; where the CodePipeline's rollback is CloudWatch alarms, this flow's
is its own test of prod.
"""

import argparse
import math
import os
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from pipelines.aws.errors import aws_errors
from pipelines.churn.feature_group import LOCAL_ROLE
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.cli.common import (
    add_home,
    add_version_choice,
    group_of,
    positive_float,
    positive_int,
)
from pipelines.cli.target import LocalTarget, Target, add_target, resolve
from pipelines.errors import UserError
from pipelines.workspace import endpoint_name

if TYPE_CHECKING:
    from pipelines.workspace import Workspace


def cmd_release(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.aws.registry import find_package
    from pipelines.aws.stage_test import sample_rows
    from pipelines.churn.schema_source import SchemaSource

    target = resolve(args, ws)
    staging = endpoint_name("%s-staging" % args.prefix)
    prod = endpoint_name("%s-prod" % args.prefix)
    role = (
        args.role_arn
        or target.local_default(LOCAL_ROLE)
        or os.environ.get("SAGEMAKER_EXECUTION_ROLE_ARN")
    )
    if not role:
        raise UserError(
            "--role-arn (or SAGEMAKER_EXECUTION_ROLE_ARN): the role the endpoints' models run as"
        )
    rows = sample_rows(SchemaSource(args.schema).schema)
    sm = target.client("sagemaker")
    runtime = target.client("sagemaker-runtime")
    with aws_errors():
        package = find_package(sm, args.model_package_arn or args.model_version, group_of(args))
    version = "version %s of %s" % (
        package.get("ModelPackageVersion", "?"),
        package.get("ModelPackageGroupName", "?"),
    )
    flow = _Flow(args, target, sm, runtime, role, rows, package["ModelPackageArn"])

    # (a) + (b): a version that fails here never reaches prod.
    config = flow.deploy(staging)
    print("staging: %s serves %s (config %s)" % (version, staging, config))
    if not flow.test(staging, args.p99_ms):
        raise UserError("%s failed on %s: %s not touched" % (version, staging, prod))

    # (c)
    _approve(args, "promote %s to %s?" % (version, prod))

    # (d) + (e)
    previous = flow.serving_config(prod)
    config = flow.deploy(prod, canary=previous is not None)
    print(
        "prod: %s serves %s (config %s)%s"
        % (
            version,
            prod,
            config,
            ", after a canary of %g%% for %d s" % (args.canary_percent, flow.canary_wait)
            if previous
            else ", created",
        )
    )
    if flow.test(prod, args.prod_p99_ms or args.p99_ms):
        return 0
    if previous is None:
        raise UserError(
            "%s failed on %s, which served nothing before: nothing to roll back to (remove it "
            "with `churn undeploy --endpoint-name %s`)" % (version, prod, prod)
        )
    flow.roll_back(prod, previous)
    print("prod: rolled back: %s serves config %s again" % (prod, previous))
    raise UserError("%s failed on %s and was rolled back" % (version, prod))


class _Flow(object):
    """The release's calls, on the target's clients."""

    def __init__(
        self,
        args: argparse.Namespace,
        target: Target,
        sm: Any,
        runtime: Any,
        role: str,
        rows: List[str],
        package_arn: str,
    ) -> None:
        self.args, self.target, self.sm, self.runtime = args, target, sm, runtime
        self.role, self.rows, self.package_arn = role, rows, package_arn
        self.capture = args.capture_destination or target.local_default(
            "s3://%s/%s/capture" % (LOCAL_BUCKET, PREFIX)
        )
        self.canary_wait: int = args.canary_wait or target.canary_seconds

    def deploy(self, name: str, canary: bool = False) -> str:
        """The version behind endpoint `name`, waited for until it serves; its config's name."""
        from pipelines.aws.deploy import deploy, wait_until_serving
        from pipelines.aws.scaling import BlueGreen

        rollout = None
        if canary:
            rollout = BlueGreen(
                self.args.canary_percent, self.canary_wait, 0, alarms=(), require_alarms=False
            )
        with aws_errors("endpoint %s: " % name):
            done = deploy(
                self.package_arn,
                name,
                self.role,
                self.args.instance_type,
                self.args.instance_count,
                100 if self.capture else 0,
                self.capture,
                self.args.allow_unapproved,
                session=self.target.session,
                rollout=rollout,
            )
            wait_until_serving(self.sm, name, done["endpoint_config"], self._waiter())
        return str(done["endpoint_config"])

    def test(self, name: str, p99_budget_ms: float) -> bool:
        from pipelines.aws.stage_test import stage_test

        report = stage_test(
            self.runtime, name, self.rows, self.args.requests, self.args.concurrency, p99_budget_ms
        )
        print(report.line())
        return report.passed

    def serving_config(self, name: str) -> Optional[str]:
        """The endpoint config `name` serves, or None when there is no such endpoint."""
        from pipelines.aws.deploy import config_served

        with aws_errors("endpoint %s: " % name):
            return config_served(self.sm, name)

    def roll_back(self, name: str, config: str) -> None:
        """Back to `config`, all at once, waited for until it serves it."""
        from pipelines.aws.deploy import roll_back

        with aws_errors("endpoint %s: " % name):
            roll_back(self.sm, name, config, self._waiter())

    def _waiter(self) -> Dict[str, Any]:
        """Long enough for the new fleet's start (an hour on AWS, as botocore's waiter), the
        canary and its final baking period."""
        delay = self.target.endpoint_poll_seconds
        return {"Delay": delay, "MaxAttempts": math.ceil((3600 + 2 * self.canary_wait) / delay)}


def _approve(args: argparse.Namespace, question: str) -> None:
    """(c): --approve, else a y/N answer on a terminal; with no terminal, refused."""
    if args.approve:
        print("approval: given by --approve")
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError("approval: no terminal to ask on: pass --approve to %s" % question[:-1])
    # Not input(): without readline it writes its prompt to stderr.
    sys.stdout.write("%s [y/N] " % question)
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise UserError("approval: not given: prod not touched")
    print("approval: given")


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from pipelines.aws import stage_test

    p = sub.add_parser(
        "release",
        help="the staged release: staging, its test, approval, prod with a canary, its test",
    )
    add_version_choice(p, "release")
    p.add_argument(
        "--prefix",
        default="churn",
        help="the endpoints are PREFIX-staging and PREFIX-prod (default: %(default)s)",
    )
    p.add_argument(
        "--approve",
        action="store_true",
        help="approve the promotion to prod (default: ask on a terminal, refuse without one)",
    )
    p.add_argument(
        "--canary-percent",
        type=positive_float,
        default=10.0,
        help="share of prod's traffic the new version gets first (default: %(default)s)",
    )
    p.add_argument(
        "--canary-wait",
        type=positive_int,
        help="seconds on the canary, then as long for the final baking period (default: %d "
        "locally, %d on AWS)" % (LocalTarget.canary_seconds, Target.canary_seconds),
    )
    p.add_argument(
        "--requests",
        type=positive_int,
        default=stage_test.REQUESTS,
        help="requests of each endpoint's load test (default: %(default)s)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=stage_test.CONCURRENCY,
        help="threads of the load test (default: %(default)s)",
    )
    p.add_argument(
        "--p99-ms",
        type=positive_float,
        default=stage_test.P99_BUDGET_MS,
        help="the load test's p99 latency budget in ms (default: %(default)s)",
    )
    p.add_argument(
        "--prod-p99-ms",
        type=positive_float,
        help="prod's own budget, when its objective is not staging's (default: --p99-ms)",
    )
    p.add_argument(
        "--role-arn", help="execution role of the models (default: $SAGEMAKER_EXECUTION_ROLE_ARN)"
    )
    p.add_argument(
        "--instance-type", default="ml.m5.large", help="the endpoints' (default: %(default)s)"
    )
    p.add_argument(
        "--instance-count",
        type=positive_int,
        default=1,
        help="instances behind each endpoint (default: %(default)s)",
    )
    p.add_argument(
        "--capture-destination",
        help="s3://bucket/prefix for captured data (default: the local store's; none on AWS)",
    )
    add_target(p)
    add_home(p)
    p.set_defaults(func=cmd_release)
