"""`churn generate-data` and `churn schemas`: tables and the schemas that describe them."""

from pathlib import Path

from pipelines.cli.common import positive_int
from processing.churn_schema import available_schemas, load_schema


def cmd_generate_data(args, ws):
    from pipelines.churn.datagen import write_csv

    out = Path(args.out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    frame = write_csv(args.rows, args.seed, out)
    print("wrote %d rows to %s (churn rate %.1f%%)" % (len(frame), out, 100 * frame.churn.mean()))
    return 0


def cmd_schemas(args, ws):
    for name in available_schemas():
        print("%-8s %s" % (name, load_schema(name).description))
    return 0


def add_parsers(sub):
    p = sub.add_parser("generate-data", help="write synthetic seed-schema customers to a CSV")
    p.add_argument("--rows", type=positive_int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_generate_data)

    p = sub.add_parser("schemas", help="list the shipped dataset schemas")
    p.set_defaults(func=cmd_schemas)
