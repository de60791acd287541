"""What the SageMaker project templates' commands, `get-pipeline-definition` and `run-pipeline`,
share: load a pipeline module, call its get_pipeline(**kwargs), and turn the mistakes users make
into one clear line."""

import argparse
import importlib
import json
import os
import sys
from typing import Any, Callable, Mapping, Optional, Sequence

from pipelines.aws.errors import credentials_error
from pipelines.churn.sdk import quiet_sdk
from pipelines.cli.common import quiet_when_stdout_closes
from pipelines.errors import UserError

DEFAULT_MODULE = "pipelines.churn.pipeline"

# A command's main: argv (None: sys.argv[1:]) to its exit code.
Main = Callable[[Optional[Sequence[str]]], int]


def pipeline_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The flags the SageMaker project templates' commands share."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "-n",
        "--module-name",
        default=DEFAULT_MODULE,
        help="module with get_pipeline() (default: %(default)s)",
    )
    add_option(parser, "--kwargs", help="JSON object of get_pipeline() arguments")
    return parser


def add_option(parser: argparse.ArgumentParser, flag: str, **kwargs: Any) -> None:
    """`--flag`, and `-flag` as the SageMaker project templates spell it (their buildspecs
    call `run-pipeline -role-arn ... -kwargs ...`): accepted, but left out of --help, which
    would otherwise show every option twice in two spellings."""
    action = parser.add_argument(flag, **kwargs)
    parser.add_argument(
        flag[1:], dest=action.dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def parse_kwargs(text: Optional[str]) -> dict[str, Any]:
    if not text:
        return {}
    try:
        kwargs = json.loads(text)
    except ValueError as e:
        raise UserError("--kwargs is not valid JSON (%s): %r" % (e, text))
    if not isinstance(kwargs, dict):
        raise UserError('--kwargs must be a JSON object, e.g. \'{"region": "us-east-1"}\'')
    return kwargs


def region_of(kwargs: Mapping[str, Any]) -> str:
    region = (
        kwargs.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        raise UserError('no AWS region: pass "region" in --kwargs or set AWS_DEFAULT_REGION')
    return region


def load_pipeline(module_name: str, kwargs: Mapping[str, Any]) -> Any:
    """Import `module_name` and call its get_pipeline(**kwargs), region filled in from the
    environment when kwargs lack it."""
    quiet_sdk()
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UserError(
            "cannot import module %r (%s); pass the dotted name of a module with "
            "get_pipeline(), e.g. pipelines.churn.pipeline" % (module_name, e)
        )
    if not hasattr(module, "get_pipeline"):
        raise UserError("module %r has no get_pipeline() function" % module_name)
    kwargs = dict(kwargs, region=region_of(kwargs))
    try:
        return module.get_pipeline(**kwargs)
    except (TypeError, ValueError) as e:
        raise UserError(str(e))


def run_command(main: Main, argv: Optional[Sequence[str]], prog: str) -> int:
    """Run main(argv); user mistakes become one line on stderr and exit code 1, and a closed
    stdout ends it quietly, as it ends `churn`."""
    return quiet_when_stdout_closes(lambda a: _one_line_errors(main, a, prog), argv)


def _one_line_errors(main: Main, argv: Optional[Sequence[str]], prog: str) -> int:
    try:
        return main(argv)
    except UserError as e:
        sys.stderr.write("%s: error: %s\n" % (prog, e))
        return 1
    except Exception as e:
        friendly = credentials_error(e)
        if friendly is None:
            raise
        sys.stderr.write("%s: error: %s\n" % (prog, friendly))
        return 1
