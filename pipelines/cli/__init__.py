"""The `churn` command, one module per command group.

  churn run [--data CSV|S3] [--schema S] [--param Name=Value ...] [--batch-input CSV]
            [--ingest-features] [--train-from-feature-store] [--as-of T]
            [--home DIR] [--json]                    run the pipeline locally, no Docker
  churn runs list | churn runs show ID               local executions
  churn run-scripts [--data CSV --schema NAME]       the container scripts in sequence, no engine
  churn models list [--group G] | describe V | approve V | reject V
                                                     the model registry
  churn serve | predict                              the hosting contract, and a client
  churn batch                                        batch-transform semantics on local files
  churn deploy | undeploy                            a version behind an endpoint, and down
  churn release                                      staging, its test, approval, prod with a
                                                     canary, its test (docs/release.md)
  churn endpoints list | describe NAME | delete NAME the endpoints
  churn workflow definition | run | runs | create | update | start | describe
                                                     the Step Functions workflows
  churn databrew publish | run                       the recipe as a DataBrew job
  churn monitor                                      drift against the registered baseline
  churn ui [--port 8090]                             web pages of the executions, registry and
                                                     monitoring, on 127.0.0.1
  churn features create | describe | list | delete-group | ingest | get | delete-record | dataset
                                                     the feature group (SageMaker Feature Store)
  churn lambda create | list | delete | invoke       Lambda functions (a pipeline's Lambda
                                                     steps invoke the home's locally)
  churn local [--port 4566]                          every twin over its AWS API on one port:
                                                     AWS_ENDPOINT_URL for boto3, the AWS CLI
                                                     and the SageMaker SDK (127.0.0.1)
  churn generate-data --rows N --seed S --out FILE   synthetic seed-schema customers
  churn schemas                                      list the shipped schemas

The commands that call a service (models, deploy, undeploy, release, endpoints, predict, workflow,
databrew, monitor, features, lambda) take the same target flags, --local (the default),
--region R or --profile P, or $CHURN_TARGET (pipelines/cli/target.py): the home's twins or AWS.

Errors a user can cause (pipelines.errors.UserError) print one line saying what is wrong and
what to do, and exit 1.
"""

import argparse
import sqlite3
import sys
from typing import Optional, Sequence

from pipelines.cli import (
    batch,
    data,
    databrew,
    deploy,
    endpoints,
    features,
    functions,
    local,
    models,
    monitor,
    release,
    run,
    serve,
    ui,
    workflow,
)
from pipelines.cli.common import machine_refusal, package_version, quiet_when_stdout_closes
from pipelines.cli.serve import serving_argv
from pipelines.errors import UserError
from pipelines.workspace import Workspace, home_path

# The command groups in the order `churn --help` lists them; each adds its own subcommands.
COMMAND_GROUPS = (
    run,
    models,
    serve,
    batch,
    deploy,
    release,
    endpoints,
    workflow,
    databrew,
    monitor,
    ui,
    features,
    data,
    functions,
    local,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="churn", description="Churn pipeline template tools.")
    parser.add_argument("--version", action="version", version="churn " + package_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in COMMAND_GROUPS:
        group.add_parsers(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    return quiet_when_stdout_closes(_main, argv)


def _main(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    home = home_path(getattr(args, "home", None))
    try:
        with Workspace(home, launcher=serving_argv) as ws:
            return args.func(args, ws)
    except BrokenPipeError:  # an OSError, but no error of the user's: main ends quietly
        raise
    except UserError as e:
        sys.stderr.write("churn %s: error: %s\n" % (args.command, e))
        return 1
    except (OSError, sqlite3.Error) as e:  # the machine said no: a full or read-only home...
        refusal = machine_refusal(e, home)
        if refusal is None:  # ...or it is a bug, whose traceback helps
            raise
        sys.stderr.write("churn %s: error: %s\n" % (args.command, refusal))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("churn %s: interrupted\n" % args.command)
        return 130


if __name__ == "__main__":
    sys.exit(main())
