"""run-pipeline: upsert a pipeline and start an execution (SageMaker project template CLI).

  run-pipeline [--module-name pipelines.churn.pipeline] --role-arn ARN \\
      [--kwargs JSON] [--tags JSON] [--description TEXT] [--wait]

Creates the pipeline or updates it when it exists, starts an execution and prints its ARN. With
--wait, polls until the execution ends, printing each step's status as it changes, and exits 1
when the execution does not succeed.
"""

import argparse
import json
import sys
import time
from typing import Any, Mapping, Optional, Sequence, TextIO

from pipelines.aws.errors import require_credentials
from pipelines.aws.pipeline_executions import execution_steps
from pipelines.cli.template import (
    add_option,
    load_pipeline,
    parse_kwargs,
    pipeline_parser,
    region_of,
    run_command,
)
from pipelines.errors import UserError

FINAL = ("Succeeded", "Failed", "Stopped")


def parse_tags(text: Optional[str]) -> list[dict[str, Any]]:
    if not text:
        return []
    try:
        tags = json.loads(text)
    except ValueError as e:
        raise UserError("--tags is not valid JSON (%s)" % e)
    if isinstance(tags, dict):  # {"k": "v"} is easier to type than the API's list
        tags = [{"Key": k, "Value": str(v)} for k, v in tags.items()]
    if not all(isinstance(t, dict) and "Key" in t and "Value" in t for t in tags):
        raise UserError('--tags must be [{"Key": ..., "Value": ...}, ...] or {"key": "value"}')
    return tags


def wait_for(execution: Any, client: Any, poll_seconds: float, out: TextIO) -> str:
    """Poll until the execution ends; print each step's status when it changes."""
    seen: dict[str, str] = {}
    list_steps = True
    while True:
        status = client.describe_pipeline_execution(PipelineExecutionArn=execution.arn)[
            "PipelineExecutionStatus"
        ]
        steps = execution_steps(client, execution.arn) if list_steps else None
        if steps is None:
            list_steps = False  # this endpoint lacks the call; the execution status still comes
        for step in steps or []:
            name, step_status = step["StepName"], step.get("StepStatus", "?")
            if seen.get(name) != step_status:
                seen[name] = step_status
                reason = step.get("FailureReason")
                out.write("  %-28s %s%s\n" % (name, step_status, (": " + reason) if reason else ""))
        if status in FINAL:
            out.write("Execution %s: %s\n" % (execution.arn, status))
            return status
        time.sleep(poll_seconds)


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    parser = pipeline_parser("run-pipeline", "Upsert a pipeline and start an execution.")
    add_option(
        parser,
        "--role-arn",
        help="IAM role SageMaker Pipelines assumes to run the pipeline (or from --config-prefix)",
    )
    parser.add_argument(
        "--config-prefix",
        help="read what is not given (role, bucket, model package group) from Parameter Store "
        "under this path, e.g. /churn/ (the infrastructure writes it)",
    )
    add_option(parser, "--tags", help='JSON list of {"Key": ..., "Value": ...} tags')
    add_option(parser, "--description", help="the pipeline's description")
    parser.add_argument("--wait", action="store_true", help="wait for the execution to end")
    parser.add_argument("--poll-seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    kwargs = parse_kwargs(args.kwargs)
    if args.config_prefix:
        from pipelines.aws.config import fill

        config = fill(args, args.config_prefix, {"role_arn": "pipeline-role-arn"},
                      region=kwargs.get("region"))  # fmt: skip
        kwargs.update(config_kwargs(config, args.config_prefix, kwargs))
    if not args.role_arn:
        raise UserError("--role-arn (or --config-prefix naming where it is in Parameter Store)")
    kwargs.setdefault("role", args.role_arn)
    tags = parse_tags(args.tags)
    from pipelines.aws.sessions import aws_session

    require_credentials(aws_session(region_of(kwargs)))
    pipeline = load_pipeline(args.module_name, kwargs)
    response = pipeline.upsert(
        role_arn=args.role_arn, description=args.description, tags=tags or None
    )
    out.write("Upserted pipeline %s\n" % response["PipelineArn"])
    execution = pipeline.start(
        parameters=feature_store_parameters(kwargs, args.role_arn, pipeline, out) or None
    )
    out.write("Execution started with PipelineExecutionArn: %s\n" % execution.arn)
    out.flush()
    if not args.wait:
        return 0
    client = pipeline.sagemaker_session.sagemaker_client
    status = wait_for(execution, client, args.poll_seconds, out)
    return 0 if status == "Succeeded" else 1


def config_kwargs(
    config: Mapping[str, str], prefix: str, given: Mapping[str, Any]
) -> dict[str, Any]:
    """get_pipeline keywords from the infrastructure's parameters, where `given` lacks them:
    the bucket, group and job prefix (the execution role may use <bucket>/<prefix>/* only),
    the KMS key for volumes and outputs, the feature group, and the VPC in VPC mode."""
    found: dict[str, Any] = {
        "default_bucket": config.get("bucket"),
        "model_package_group_name": config.get("model-package-group"),
        "base_job_prefix": prefix.strip("/"),
        "volume_kms_key": config.get("kms-key-arn"),
        "output_kms_key": config.get("kms-key-arn"),
    }
    if given.get("ingest_features") or given.get("train_from_feature_store"):
        found["FeatureGroupName"] = config.get("feature-group")  # the data stack's
    if config.get("subnets"):
        from pipelines.aws.config import split_ids

        found["subnets"] = split_ids(config["subnets"])
        found["security_group_ids"] = split_ids(config.get("security-group-ids"))
    return {k: v for k, v in found.items() if v and k not in given}


def feature_store_parameters(
    kwargs: Mapping[str, Any], role: str, pipeline: Any, out: TextIO
) -> dict[str, str]:
    """With the Feature Store options: the feature group, created (and waited for) when
    missing, and the execution parameters that name it and its offline store."""
    if not (kwargs.get("ingest_features") or kwargs.get("train_from_feature_store")):
        return {}
    from pipelines.aws.featurestore import ensure_feature_group, offline_store_uri
    from pipelines.churn.feature_group import (
        DEFAULT_NAME,
        feature_group_request,
        offline_store_root,
    )
    from pipelines.churn.schema_source import SchemaSource

    session = pipeline.sagemaker_session
    name = kwargs.get("FeatureGroupName", DEFAULT_NAME)
    offline = offline_store_root(
        kwargs.get("default_bucket") or session.default_bucket(),
        kwargs.get("base_job_prefix", "churn"),
    )
    schema = SchemaSource(kwargs.get("schema", "seed")).schema
    request = feature_group_request(schema, name, offline, role)
    description = ensure_feature_group(session.sagemaker_client, request)
    out.write("Feature group %s\n" % description["FeatureGroupArn"])
    parameters = {"FeatureGroupName": name}
    if kwargs.get("train_from_feature_store"):
        parameters["OfflineStoreUrl"] = offline_store_uri(description)
    return parameters


def entry_point() -> None:
    sys.exit(run_command(main, None, "run-pipeline"))


if __name__ == "__main__":
    entry_point()
