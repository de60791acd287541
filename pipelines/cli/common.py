"""What the `churn` command groups share: argument types and the options every group that
reads a home takes."""

import argparse
import errno
import importlib.metadata
import os
import re
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Optional, Sequence, TypeVar

from pipelines.errors import UserError
from processing.churn_schema import SAGEMAKER_NAME, available_schemas

if TYPE_CHECKING:  # the command opens it; the groups only call it
    from pipelines.workspace import Workspace

N = TypeVar("N", int, float)


def _number(text: str, cast: Callable[[str], N], ok: Callable[[N], bool], wanted: str) -> N:
    """An argparse type: `text` cast, and refused (NaN included) unless ok(value)."""
    value: Optional[N]
    try:
        value = cast(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError("%r is not %s" % (text, wanted))
    return value


def positive_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a positive whole number")


def positive_float(text: str) -> float:
    return _number(text, float, lambda v: v > 0, "a positive number")


def port_number(text: str) -> int:
    return _number(text, int, lambda v: 1 <= v <= 65535, "a port number (1 to 65535)")


def percentage(text: str) -> float:
    return _number(text, float, lambda v: 0.0 <= v <= 100.0, "a percentage from 0 to 100")


def add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home",
        help="where runs, models and the local store live (default: $CHURN_HOME or ./.churn)",
    )


def add_schema(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--schema",
        default="seed",
        help="schema name (%s) or file (default: %%(default)s)" % ", ".join(available_schemas()),
    )


def group_name(text: str) -> str:
    """An argparse type: a model package group name as SageMaker allows it."""
    if not SAGEMAKER_NAME.match(text):
        raise argparse.ArgumentTypeError(
            "%r is not a model package group name (letters, digits and single hyphens, at "
            "most 63, starting with a letter or digit)" % text
        )
    return text


def add_group(parser: argparse.ArgumentParser, schema_default: Optional[str] = "seed") -> None:
    """--schema and --group: the model package group a command picks versions in (the newest
    Approved by default), the schema's unless --group names one. `schema_default` None: no
    group unless one of them is given."""
    parser.add_argument(
        "--schema",
        default=schema_default,
        help="the table's schema (%s, or a file); its versions are in its model package group"
        % ", ".join(available_schemas())
        + (" (default: %(default)s)" if schema_default else ""),
    )
    parser.add_argument(
        "--group",
        type=group_name,
        help="model package group (default: the schema's model_package_group, churn-<name>)",
    )


def add_model_choice(parser: argparse.ArgumentParser, verb: str) -> None:
    """The options that say which model a serving command uses: a registered version (by
    number in the schema's group, GROUP/N or ARN; the newest Approved by default), or a trained
    model's folder. `verb`: what the command does with it ("serve", "score with")."""
    parser.add_argument(
        "--model-version",
        help="N, GROUP/N or ARN (default: the newest Approved version of the schema's group)",
    )
    parser.add_argument(
        "--model-dir",
        help="a trained model's folder (xgboost-model + preprocessing.json) instead of a version",
    )
    parser.add_argument(
        "--allow-unapproved", action="store_true", help="%s a version that is not Approved" % verb
    )
    add_group(parser)


def add_version_choice(parser: argparse.ArgumentParser, verb: str) -> None:
    """The options that say which registered version a command takes: by ARN, or by number in
    the schema's group, GROUP/N or ARN (the newest Approved by default). `verb`: what the
    command does with it ("deploy", "release")."""
    parser.add_argument("--model-package-arn", help="the registered version to %s, by ARN" % verb)
    parser.add_argument(
        "--model-version",
        help="N, GROUP/N or ARN (default: the newest Approved version of the schema's group)",
    )
    add_group(parser)
    parser.add_argument(
        "--allow-unapproved", action="store_true", help="%s a version that is not Approved" % verb
    )


def group_of(args: argparse.Namespace) -> Optional[str]:
    """The model package group a command's --group or --schema names (None: neither given)."""
    from pipelines.churn.schema_source import SchemaSource

    if args.group:
        return args.group
    return SchemaSource(args.schema).schema.model_package_group if args.schema else None


def default_group() -> str:
    """The seed schema's group: what a command given no --schema means."""
    from pipelines.churn.schema_source import SchemaSource

    return SchemaSource("seed").schema.model_package_group


def add_generated_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rows", type=positive_int, default=10000, help="rows to generate (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: %(default)s)")


def data_or_generated(
    args: argparse.Namespace, ws: "Workspace", allow_s3: bool = False, allow_folder: bool = False
) -> str:
    """--data (a file; with allow_s3 an s3:// URI in the local store; with allow_folder a
    folder of CSV files), or generated seed-schema data when the schema is the seed's."""
    if args.data is None:
        if args.schema != "seed":
            raise UserError(
                "--schema %s needs --data: only the seed schema has generated data" % args.schema
            )
        return ws.staging.generated_data(args.rows, args.seed)
    if allow_s3 and args.data.startswith("s3://"):
        return args.data
    if allow_folder and Path(args.data).is_dir():
        return args.data
    if not Path(args.data).is_file():
        raise UserError(
            "--data %s is not a file%s" % (args.data, " or a folder" if allow_folder else "")
        )
    return args.data


def parse_params(pairs: Optional[Iterable[str]]) -> dict[str, str]:
    params = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError("--param %r: use Name=Value, e.g. --param AucThreshold=0.8" % pair)
        params[name] = value
    return params


def check_batch_file(
    path: str, flag: str, features: Iterable[str], names: Iterable[str], csv_header: bool = True
) -> None:
    """What batch transform would mishandle, refused before anything runs: every line is a
    record, so a header line would be scored as a customer, and a blank line would be skipped,
    after which output line N no longer answers input line N."""
    if not Path(path).is_file():
        raise UserError("%s %s is not a file" % (flag, path))
    if Path(path).stat().st_size == 0:
        raise UserError("%s %s is empty: give one record a line" % (flag, path))
    try:
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    raise UserError(
                        "%s %s: line %d is blank; batch transform would skip it and the output "
                        "lines would no longer match the input lines: remove blank lines"
                        % (flag, path, number)
                    )
                if number == 1 and csv_header:
                    fields = line.decode("utf-8", "replace").split(",")
                    if {field.strip().strip('"') for field in fields} & set(names):
                        raise UserError(
                            "%s %s starts with a header line; batch transform scores every "
                            "line: give rows only, features in schema order (%s), as "
                            "`churn data features --data TABLE --schema S --out ROWS` writes"
                            % (flag, path, ",".join(features))
                        )
    except OSError as e:
        raise UserError("%s %s: %s" % (flag, path, e.strerror))


# SQLite's own words (sqlite3_errstr) when the machine refuses a write; Python before 3.11 keeps
# no error code on the exception, so the message is what tells these from a bug.
SQLITE_READ_ONLY = ("attempt to write a readonly database", "unable to open database file")
SQLITE_FULL = ("database or disk is full",)
READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def machine_refusal(error: BaseException, home: Path) -> Optional[str]:
    """The one line for an error that is the machine refusing (a read-only or full home, a
    file the user may not write, a missing folder), saying where and what to do; None for
    any other error, a bug whose traceback helps. SQLite does not say which file it was
    refused: the home's databases are under `home`."""
    if isinstance(error, sqlite3.Error):
        if str(error) not in SQLITE_READ_ONLY + SQLITE_FULL:
            return None
        where, what = home, "%s (a database under %s)" % (error, home)
        read_only, full = str(error) in SQLITE_READ_ONLY, str(error) in SQLITE_FULL
    elif isinstance(error, OSError):
        where = Path(error.filename) if error.filename else home
        what = str(error.strerror or error)
        what += " (%s)" % error.filename if error.filename else ""
        read_only, full = error.errno in READ_ONLY_ERRNOS, error.errno in FULL_ERRNOS
    else:
        return None
    if read_only:
        in_home = where == home or home in where.parents
        return "%s: make %s writable%s" % (
            what,
            home if in_home else where,
            ", or give another home with --home or CHURN_HOME" if in_home else "",
        )
    if full:
        return "%s: free some space on its disk and run the command again" % what
    return what


# What a shell reports for a command that a closed pipe stopped (128 + SIGPIPE), as `yes | head`.
CLOSED_STDOUT_EXIT = 141


def quiet_when_stdout_closes(
    main: Callable[[Optional[Sequence[str]]], int], argv: Optional[Sequence[str]]
) -> int:
    """main(argv), ending quietly with CLOSED_STDOUT_EXIT when its reader goes away (`churn runs
    list | head`): Python ignores SIGPIPE, so the write raises instead of the process ending as
    Unix tools do. stdout is flushed here, so a pipe that breaks on the last lines is caught too,
    and then pointed at /dev/null so the interpreter's own flush at exit has nowhere to fail."""
    try:
        try:
            return main(argv)
        finally:  # also after argparse's --help, whose SystemExit passes through
            sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return CLOSED_STDOUT_EXIT


DISTRIBUTION = "churn-pipelines"  # setup.py's name


def package_version() -> str:
    """The installed package's version; from setup.py in the checkout when it is not installed
    (`python -m pipelines.cli` in a clone), as that is the version it would install."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        setup = Path(__file__).resolve().parents[2] / "setup.py"
        try:
            found = re.search(r"""\bversion\s*=\s*["']([^"']+)["']""", setup.read_text())
        except OSError:
            found = None
        return found.group(1) if found else "unknown (not installed, no setup.py)"
