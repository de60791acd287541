"""`churn deploy` and `churn undeploy`: a registered version behind a SageMaker endpoint with
data capture (and hourly monitoring), and down again, on the command's target
(pipelines/cli/target.py): pipelines/aws/deploy.py on boto3's clients or the twins'. Locally
the endpoint is `churn serve` of the version, run in the background (one process, whatever
--instance-count); what needs a service without a twin (Application Auto Scaling, Parameter
Store, Model Monitor's image) is refused by that twin or lookup, in one line."""

import argparse
import os
from typing import TYPE_CHECKING, Dict, List, Optional

from pipelines.aws.config import split_ids
from pipelines.aws.errors import aws_errors
from pipelines.churn.feature_group import LOCAL_ROLE
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.cli.common import add_home, add_version_choice, group_of, percentage, positive_int
from pipelines.cli.target import Target, add_target, resolve
from pipelines.errors import UserError
from pipelines.workspace import endpoint_name

if TYPE_CHECKING:
    from pipelines.aws.scaling import AutoScaling, BlueGreen
    from pipelines.workspace import Workspace


def cmd_deploy(args: argparse.Namespace, ws: "Workspace") -> int:
    target = resolve(args, ws)
    with aws_errors("endpoint %s: " % args.endpoint_name):
        if args.command == "undeploy":
            return _undeploy(args, target)
        return _deploy(args, ws, target)


def _undeploy(args: argparse.Namespace, target: Target) -> int:
    from pipelines.aws.deploy import undeploy

    done = undeploy(args.endpoint_name, session=target.session)
    print(
        "; ".join(
            [
                "deleted %s %s, config %s, models %s, monitoring schedules %s"
                % (
                    target.endpoint_word,
                    done["endpoint"],
                    done["endpoint_config"],
                    ", ".join(done["models"]),
                    ", ".join(done["monitoring_schedules"]) or "none",
                )
            ]
            + target.deleted_endpoint_notes(args.endpoint_name)
        )
    )
    return 0


def _deploy(args: argparse.Namespace, ws: "Workspace", target: Target) -> int:
    """The version behind the endpoint through pipelines/aws/deploy.py, on the target's
    clients (boto3's or the twins': a local endpoint is `churn serve` of the version in the
    background), then wait until the endpoint serves the new configuration."""
    from pipelines.aws.deploy import deploy, schedule_monitoring, wait_until_serving
    from pipelines.aws.registry import find_package

    scaling, rollout = _scaling(args), _rollout(args)
    for needed, service, flags in (
        (scaling, "Application Auto Scaling", "--autoscale-min/max/target"),
        (rollout, "CloudWatch alarms to roll back on", "--blue-green"),
        (args.monitor == "hourly", "SageMaker Model Monitor", "--monitor hourly"),
        (args.config_prefix, "Parameter Store", "--config-prefix"),
    ):
        if needed:
            target.require(service, flags)
    if args.config_prefix:
        from pipelines.aws.config import fill

        config = fill(
            args,
            args.config_prefix,
            {
                "role_arn": "pipeline-role-arn",
                "kms_key_arn": "kms-key-arn",
                "subnets": "subnets",
                "security_group_ids": "security-group-ids",
                "rollback_alarms": "rollback-alarms",
            },
            ssm=target.client("ssm"),
        )
        if "bucket" in config:
            base = "s3://%s/%s" % (config["bucket"], args.config_prefix.strip("/"))
            args.capture_destination = args.capture_destination or base + "/capture"
            args.monitoring_output = args.monitoring_output or base + "/monitoring"
    endpoint_name(args.endpoint_name)
    role = (
        args.role_arn
        or target.local_default(LOCAL_ROLE)
        or os.environ.get("SAGEMAKER_EXECUTION_ROLE_ARN")
    )
    if not role:
        raise UserError(
            "--role-arn (or SAGEMAKER_EXECUTION_ROLE_ARN, or --config-prefix): the role the "
            "endpoint's model runs as"
        )
    if args.monitor == "hourly" and not args.monitoring_output:
        raise UserError(
            "--monitor hourly needs --monitoring-output s3://... for the monitoring reports"
        )
    sm = target.client("sagemaker")
    ref = args.model_package_arn or args.model_version
    package = find_package(sm, ref, group_of(args))
    destination = args.capture_destination or target.local_default(
        "s3://%s/%s/capture" % (LOCAL_BUCKET, PREFIX)
    )
    done = deploy(
        package["ModelPackageArn"],
        args.endpoint_name,
        role,
        args.instance_type,
        args.instance_count,
        args.data_capture_percent,
        destination,
        args.allow_unapproved,
        session=target.session,
        kms_key=args.kms_key_arn or None,
        vpc=_vpc(args),
        scaling=scaling,
        rollout=rollout,
        network_isolation=args.network_isolation,
    )
    described = wait_until_serving(sm, args.endpoint_name, done["endpoint_config"])
    print(
        "%s %s InService at %s: config %s, model %s; data capture %s"
        % (
            target.endpoint_word,
            described["EndpointName"],
            target.endpoint_url(args.endpoint_name),
            described["EndpointConfigName"],
            done["model"],
            "%g%% to %s" % (args.data_capture_percent, destination)
            if args.data_capture_percent > 0
            else "off",
        )
    )
    if args.blue_green:
        print(
            "rollout: canary %g%% of the capacity, %d s, then the rest; rolls back on %s"
            % (args.canary_percent, args.canary_wait, args.rollback_alarms)
            if done["rollout"]
            else "rollout: a new endpoint, nothing to shift from (blue/green applies to updates)"
        )
    if args.autoscale_max:
        print(
            "auto-scaling: %d to %d instances, holding %g invocations per instance per minute"
            % (args.autoscale_min, args.autoscale_max, args.autoscale_target)
        )
    if args.monitor == "hourly":
        from pipelines.churn.images import model_monitor_image

        image = model_monitor_image(target.session.region_name)
        name = schedule_monitoring(
            args.endpoint_name,
            package["ModelPackageArn"],
            role,
            args.monitoring_output,
            image,
            session=target.session,
        )
        print("monitoring schedule %s: hourly data-quality checks, CloudWatch metrics on" % name)
    return 0


def _vpc(args: argparse.Namespace) -> Optional[Dict[str, List[str]]]:
    subnets, groups = split_ids(args.subnets), split_ids(args.security_group_ids)
    if bool(subnets) != bool(groups):
        raise UserError("--subnets and --security-group-ids: an endpoint's VPC needs both")
    return {"Subnets": subnets, "SecurityGroupIds": groups} if subnets else None


def _scaling(args: argparse.Namespace) -> "Optional[AutoScaling]":
    from pipelines.aws.scaling import AutoScaling

    given = [args.autoscale_min, args.autoscale_max, args.autoscale_target]
    if not any(v is not None for v in given):
        return None
    if any(v is None for v in given):
        raise UserError(
            "auto-scaling needs --autoscale-min, --autoscale-max and --autoscale-target "
            "(invocations per instance per minute) together"
        )
    return AutoScaling(args.autoscale_min, args.autoscale_max, args.autoscale_target)


def _rollout(args: argparse.Namespace) -> "Optional[BlueGreen]":
    from pipelines.aws.scaling import BlueGreen

    if not args.blue_green:
        return None
    return BlueGreen(
        args.canary_percent, args.canary_wait, args.bake_seconds, split_ids(args.rollback_alarms)
    )


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "deploy",
        help="deploy a registered version behind an endpoint with data capture",
    )
    add_version_choice(p, "deploy")
    p.add_argument("--endpoint-name", required=True, help="the endpoint to create or update")
    p.add_argument(
        "--role-arn", help="execution role of the model (default: $SAGEMAKER_EXECUTION_ROLE_ARN)"
    )
    p.add_argument(
        "--instance-type", default="ml.m5.large", help="the endpoint's (default: %(default)s)"
    )
    p.add_argument(
        "--instance-count",
        type=positive_int,
        default=1,
        help="instances behind the endpoint (default: %(default)s)",
    )
    p.add_argument(
        "--data-capture-percent",
        type=percentage,
        default=100.0,
        help="share of the requests captured; 0 turns capture off (default: %(default)s)",
    )
    p.add_argument("--capture-destination", help="s3://bucket/prefix for captured data")
    p.add_argument(
        "--monitor",
        choices=("none", "hourly"),
        default="none",
        help="hourly data-quality monitoring against the version's baseline (default: %(default)s)",
    )
    p.add_argument("--monitoring-output", help="s3://bucket/prefix for monitoring reports")
    p.add_argument("--kms-key-arn", help="encrypt the instances' volumes and the captures")
    p.add_argument("--subnets", help="comma-separated subnet ids: the model runs in the VPC")
    p.add_argument("--security-group-ids", help="comma-separated, with --subnets")
    p.add_argument(
        "--network-isolation",
        action="store_true",
        help="no network for the model's container (a version whose serving code is in its "
        "artifact: registered by a pipeline built with network_isolation)",
    )
    p.add_argument("--autoscale-min", type=positive_int, help="fewest instances")
    p.add_argument("--autoscale-max", type=positive_int, help="most instances")
    p.add_argument(
        "--autoscale-target",
        type=float,
        help="invocations per instance per minute that target tracking holds",
    )
    p.add_argument(
        "--blue-green",
        action="store_true",
        help="update a live endpoint blue/green: a canary share first, rolled back by itself "
        "when a --rollback-alarms alarm fires",
    )
    p.add_argument("--canary-percent", type=float, default=10.0, help="default: %(default)s")
    p.add_argument(
        "--canary-wait", type=int, default=600, help="seconds on the canary (default: 600)"
    )
    p.add_argument(
        "--bake-seconds",
        type=int,
        default=600,
        help="seconds the old fleet stays up after the shift, for a rollback (default: 600)",
    )
    p.add_argument("--rollback-alarms", help="comma-separated CloudWatch alarm names")
    p.add_argument(
        "--config-prefix",
        help="on AWS: read the role, capture and monitoring locations that are not given from "
        "Parameter Store under this path, e.g. /churn/",
    )
    add_target(p)
    add_home(p)
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser(
        "undeploy", help="delete an endpoint, its config, models and monitoring schedules"
    )
    p.add_argument("--endpoint-name", required=True, help="the endpoint to delete")
    add_target(p)
    add_home(p)
    p.set_defaults(func=cmd_deploy)
