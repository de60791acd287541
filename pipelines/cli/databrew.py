"""`churn databrew publish | run`: the schema's PreprocessData recipe as an AWS Glue DataBrew
project (dataset, recipe, published recipe version, recipe job), in the home's DataBrew twin
by default, on AWS with --region or --profile (pipelines/cli/target.py). A DataBrew job fits
each step on the whole table, where PreprocessData fits on the train split only
(pipelines/churn/databrew.py).

  churn databrew publish --data-url S3_OR_CSV [--output-url S3] [--role-arn R] [--schema S]
  churn databrew run [--job NAME]              start the job and wait for it
"""

import argparse
from typing import TYPE_CHECKING

from pipelines.aws.databrew import publish, run_job
from pipelines.aws.errors import aws_errors
from pipelines.churn.databrew import databrew_requests
from pipelines.churn.feature_group import LOCAL_ROLE
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.churn.schema_source import SchemaSource
from pipelines.cli.common import add_home, add_schema
from pipelines.cli.target import Target, add_target, resolve
from pipelines.errors import UserError

if TYPE_CHECKING:
    from pipelines.workspace import Workspace


def _locations(args: argparse.Namespace, target: Target) -> tuple[str, str, str]:
    """(data URL, output URL, role) of publish: as given, else the local home's."""
    data_url = target.data_url(args.data_url, "databrew/input")
    output_url = args.output_url or target.local_default(
        "s3://%s/%s/databrew/prepared/" % (LOCAL_BUCKET, PREFIX)
    )
    role = args.role_arn or target.local_default(LOCAL_ROLE)
    if not (output_url and role):
        raise UserError(
            "on AWS, publish needs --data-url s3://..., --output-url s3://... and "
            "--role-arn (a role DataBrew reads and writes those with)"
        )
    return data_url, output_url, role


def cmd_publish(args: argparse.Namespace, ws: "Workspace") -> int:
    schema = SchemaSource(args.schema).schema
    target = resolve(args, ws)
    data_url, output_url, role = _locations(args, target)
    requests = databrew_requests(schema, data_url, output_url, role, args.prefix)
    with aws_errors("databrew: "):
        done = publish(target.client("databrew"), requests)
    names = done["names"]
    print(
        "dataset %s (%s), recipe %s version %s (%d steps), job %s (%s) writing CSV to %s"
        % (
            names["dataset"],
            done["dataset"],
            names["recipe"],
            done["recipe_version"],
            len(requests["recipe"]["Steps"]),
            names["job"],
            done["job"],
            output_url,
        )
    )
    return 0


def cmd_run(args: argparse.Namespace, ws: "Workspace") -> int:
    with aws_errors("databrew job %s: " % args.job):
        target = resolve(args, ws)
        described = run_job(target.client("databrew"), args.job, target.poll_seconds)
    location = described["Outputs"][0]["Location"]
    print(
        "%s: %s, output s3://%s/%s"
        % (args.job, described["State"], location["Bucket"], location.get("Key", ""))
    )
    return 0


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("databrew", help="the recipe as an AWS Glue DataBrew job (local or AWS)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    q = actions.add_parser("publish", help="create or update the dataset, recipe and job")
    q.add_argument("--data-url", required=True, help="the raw table: s3://... (locally a CSV too)")
    q.add_argument("--output-url", help="where the job writes its CSV (s3://bucket/prefix/)")
    q.add_argument("--role-arn", help="on AWS: the role DataBrew runs the job as")
    q.add_argument(
        "--prefix",
        default="churn",
        help="names: <prefix>-raw, -recipe, -prepare (default: %(default)s)",
    )
    add_schema(q)
    add_target(q)
    add_home(q)
    q.set_defaults(func=cmd_publish)
    q = actions.add_parser("run", help="start the recipe job and wait for it")
    q.add_argument("--job", default="churn-prepare", help="the job to run (default: %(default)s)")
    add_target(q)
    add_home(q)
    q.set_defaults(func=cmd_run)
