"""`churn generate-data`, `churn schemas` and `churn data features`: tables, the schemas that
describe them, and a table's feature rows as batch scoring reads them."""

import argparse
import csv
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.churn.schema_source import SchemaSource
from pipelines.cli.common import add_schema, positive_int
from pipelines.errors import UserError
from processing.churn_job import write_atomic
from processing.churn_schema import available_schemas, load_schema

# processing's table and recipe modules import pandas or numpy: they are imported in the
# functions that use them, so a command that reads no table starts about 0.4 s sooner.

if TYPE_CHECKING:
    from pipelines.workspace import Workspace


def cmd_generate_data(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.churn.datagen import write_csv

    out = Path(args.out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    rate = write_csv(args.rows, args.seed, out)
    print("wrote %d rows to %s (churn rate %.1f%%)" % (args.rows, out, 100 * rate))
    return 0


def cmd_schemas(args: argparse.Namespace, ws: "Workspace") -> int:
    for name in available_schemas():
        print("%-8s %s" % (name, load_schema(name).description))
    return 0


def cmd_data_features(args: argparse.Namespace, ws: "Workspace") -> int:
    """The table's feature columns, in schema order, as headerless rows: what `churn batch`
    and `churn run --batch-input` score (the id, the target and every other column left out;
    a missing value written as an empty field)."""
    from processing.churn_io import DataError, check_header, csv_files, read_raw_chunks

    schema = SchemaSource(args.schema).schema
    source = Path(args.data)
    if not source.exists():
        raise UserError("--data %s does not exist" % source)
    try:
        files = csv_files(str(source))
        for name in files:
            check_header(name, schema)
    except DataError as e:
        raise UserError(str(e))
    features = schema.feature_names
    count = 0

    def write(tmp: str) -> None:
        nonlocal count
        with open(tmp, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            try:
                for _, _, chunk in read_raw_chunks(files, schema, str, 100000):
                    writer.writerows(chunk[features].fillna("").itertuples(index=False))
                    count += len(chunk)
            except DataError as e:
                raise UserError(str(e))

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, write)
    print(
        "wrote %d rows of %s's features (%s) to %s"
        % (count, schema.name, ", ".join(features), args.out)
    )
    return 0


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("generate-data", help="write synthetic seed-schema customers to a CSV")
    p.add_argument(
        "--rows", type=positive_int, default=10000, help="customers to write (default: %(default)s)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="same seed, same rows (default: %(default)s)"
    )
    p.add_argument("--out", required=True, help="the CSV file to write")
    p.set_defaults(func=cmd_generate_data)

    p = sub.add_parser("schemas", help="list the shipped dataset schemas")
    p.set_defaults(func=cmd_schemas)

    p = sub.add_parser("data", help="tables: a table's feature rows for batch scoring")
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")
    actions.required = True
    f = actions.add_parser(
        "features",
        help="write a table's feature columns as headerless rows in schema order, what "
        "`churn batch` and `churn run --batch-input` score",
    )
    f.add_argument("--data", required=True, help="a CSV table with a header, or a folder of them")
    add_schema(f)
    f.add_argument("--out", required=True, help="the rows' file")
    f.set_defaults(func=cmd_data_features)
