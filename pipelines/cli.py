"""The `churn` command.

  churn generate-data --rows N --seed S --out FILE   synthetic seed-schema customers
  churn run-scripts [--data CSV --schema NAME]       run the container scripts in sequence
  churn schemas                                      list the shipped schemas

Errors a user can cause print one line saying what is wrong and what to do, and exit 1.
"""
import argparse
import os
import sys
from pathlib import Path

from processing.churn_schema import SchemaError, available_schemas, load_schema

DEFAULT_HOME = ".churn"


def home():
    return Path(os.environ.get("CHURN_HOME", DEFAULT_HOME))


def cmd_generate_data(args):
    from pipelines.datagen import write_csv

    out = Path(args.out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    frame = write_csv(args.rows, args.seed, out)
    print("wrote %d rows to %s (churn rate %.1f%%)" % (len(frame), out, 100 * frame.churn.mean()))
    return 0


def cmd_run_scripts(args):
    from pipelines.script_run import StepFailed, run_sequence

    load_schema(args.schema)  # a wrong schema name fails here, before any job starts
    workdir = Path(args.workdir) if args.workdir else home() / "script-run"
    data = args.data
    if data is None:
        if args.schema != "seed":
            raise UserError("--schema %s needs --data: only the seed schema has generated data"
                            % args.schema)
        from pipelines.datagen import write_csv

        data = str(home() / "data" / ("churn-%d-rows-seed-%d.csv" % (args.rows, args.seed)))
        Path(data).parent.mkdir(parents=True, exist_ok=True)
        write_csv(args.rows, args.seed, data)
        print("generated %d seed-schema rows in %s" % (args.rows, data))
    elif not Path(data).is_file():
        raise UserError("--data %s is not a file" % data)
    print("running the container scripts on %s (schema %s) in %s" % (data, args.schema, workdir))
    try:
        summary = run_sequence(data, args.schema, workdir)
    except StepFailed as e:
        raise UserError(str(e))
    sd = summary["auc_std"]  # the string "NaN" below 200 test rows, by the convention
    print("test AUC %.4f (bootstrap sd %s), accuracy %.4f, F1 %.4f"
          % (summary["auc"], "%.4f" % sd if isinstance(sd, float) else sd, summary["accuracy"],
             summary["f1"]))
    print("model: %s" % summary["model"])
    print("scores of the first rows (probability,label): %s" % " ".join(summary["sample_scores"]))
    return 0


def cmd_schemas(args):
    for name in available_schemas():
        schema = load_schema(name)
        print("%-8s %s" % (name, schema.description))
    return 0


class UserError(Exception):
    """Something the user can fix; printed as one line without a traceback."""


def build_parser():
    parser = argparse.ArgumentParser(prog="churn", description="Churn pipeline template tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("generate-data", help="write synthetic seed-schema customers to a CSV")
    p.add_argument("--rows", type=_positive_int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_generate_data)

    p = sub.add_parser("run-scripts", help="run validate, preprocess, train, evaluate and "
                                           "inference in sequence on one table")
    p.add_argument("--data", help="raw churn CSV (default: generate seed-schema data)")
    p.add_argument("--schema", default="seed", help="schema name (%s) or file"
                   % ", ".join(available_schemas()))
    p.add_argument("--rows", type=_positive_int, default=10000, help="rows to generate")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--workdir", help="default: $CHURN_HOME/script-run")
    p.set_defaults(func=cmd_run_scripts)

    p = sub.add_parser("schemas", help="list the shipped dataset schemas")
    p.set_defaults(func=cmd_schemas)
    return parser


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("%r is not a positive whole number" % text)
    return value


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UserError, SchemaError) as e:
        sys.stderr.write("churn %s: error: %s\n" % (args.command, e))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("churn %s: interrupted\n" % args.command)
        return 130


if __name__ == "__main__":
    sys.exit(main())
