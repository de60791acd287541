"""The `churn` command.

  churn run [--data CSV|S3] [--schema S] [--param Name=Value ...] [--batch-input CSV]
            [--home DIR] [--json]                    run the pipeline locally, no Docker
  churn runs list | churn runs show ID               local executions
  churn models list [--group G] | describe V | approve V | reject V
                                                     the local model registry
  churn generate-data --rows N --seed S --out FILE   synthetic seed-schema customers
  churn run-scripts [--data CSV --schema NAME]       the container scripts in sequence, no engine
  churn schemas                                      list the shipped schemas
  churn serve | predict | batch | deploy | undeploy | monitor
                                                     the registered model's life (cli_serving.py)

Errors a user can cause print one line saying what is wrong and what to do, and exit 1.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from pipelines import cli_serving
from pipelines.cli_support import UserError, home, positive_int
from processing.churn_schema import SchemaError, available_schemas, load_schema


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


def generated_data(rows, seed):
    """Seed-schema data under $CHURN_HOME/data, made once per (rows, seed)."""
    from pipelines.datagen import write_csv

    path = home() / "data" / ("churn-%d-rows-seed-%d.csv" % (rows, seed))
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(rows, seed, path)
    return str(path)


def parse_params(pairs):
    params = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError("--param %r: use Name=Value, e.g. --param AucThreshold=0.8" % pair)
        params[name] = value
    return params


def cmd_run(args):
    from pipelines.local.engine import PipelineError
    from pipelines.local.run import run_local, summary

    load_schema(args.schema)
    data = args.data
    if data is None:
        if args.schema != "seed":
            raise UserError("--schema %s needs --data: only the seed schema has generated data"
                            % args.schema)
        data = generated_data(args.rows, args.seed)
    elif not data.startswith("s3://") and not Path(data).is_file():
        raise UserError("--data %s is not a file" % data)
    if args.batch_input:
        check_batch_input(args.batch_input, load_schema(args.schema))
    progress = sys.stderr if args.json else sys.stdout
    echo = lambda line: (progress.write(line + "\n"), progress.flush())  # noqa: E731
    started = time.time()
    try:
        record, execution = run_local(home(), data, schema=args.schema,
                                      parameters=parse_params(args.param), echo=echo,
                                      batch_input=args.batch_input)
    except (PipelineError, FileNotFoundError) as e:
        raise UserError(str(e))
    result = summary(home(), record, execution)
    result["seconds"] = round(time.time() - started, 2)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print_summary(result, record)
    return 0 if result["status"] == "Succeeded" else 1


def check_batch_input(path, schema):
    """Batch transform treats every line as a record: a header line would be scored as a
    customer (or fail the job), so say so before anything runs."""
    if path.startswith("s3://"):
        return  # in the local store; the transform step reports what it finds
    if not Path(path).is_file():
        raise UserError("--batch-input %s is not a file" % path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError as e:
        raise UserError("--batch-input %s: %s" % (path, e.strerror))
    if not first.strip():
        raise UserError("--batch-input %s is empty (or starts with a blank line)" % path)
    names = set(schema.feature_names) | {schema.target}
    if {field.strip().strip('"') for field in first.split(",")} & names:
        raise UserError("--batch-input %s starts with a header line; batch transform scores "
                        "every line: give rows only, features in schema order (%s)"
                        % (path, ",".join(schema.feature_names)))


def print_summary(result, record):
    hits = sum(1 for s in result["steps"] if s["cache_hit"])
    print("%s: %s in %.1f s (%d of %d steps from cache)" % (
        result["execution_id"], result["status"], result["seconds"], hits, len(result["steps"])))
    if result["metrics"]:
        print("test metrics: " + ", ".join("%s %.4f" % kv for kv in result["metrics"].items()))
    if result["model_package"]:
        p = result["model_package"]
        print("registered %s version %d (%s); approve it with `churn models approve %d`"
              % (p["group"], p["version"], p["approval_status"], p["version"]))
    if result.get("batch_output"):
        for path in result["batch_output"]["files"]:
            print("batch scores: %s" % path)
    if result["status"] != "Succeeded":
        sys.stderr.write("failed: %s\n" % result["failure_reason"])
        for step in record["Steps"]:
            if step["StepStatus"] == "Failed" and step["Log"]:
                from pipelines.local.run import log_tail

                tail, path = log_tail(step["Log"])
                if tail:
                    sys.stderr.write("last lines of %s:\n%s\n" % (path, tail))


def cmd_runs(args):
    from pipelines.local.engine import PipelineError, list_executions, load_execution

    if args.action == "list":
        records = list_executions(home())
        if not records:
            print("no executions under %s yet; run `churn run`" % home())
        for r in records:
            print("%s  %-10s %s  %5.1f s  %s" % (
                r["PipelineExecutionId"], r["PipelineExecutionStatus"],
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["StartTime"])),
                (r["EndTime"] or time.time()) - r["StartTime"], r["PipelineName"]))
        return 0
    if not args.id:
        raise UserError("churn runs show needs an execution id (see `churn runs list`)")
    try:
        record = load_execution(home(), args.id)
    except PipelineError as e:
        raise UserError(str(e))
    if args.json:
        print(json.dumps(record, indent=1, default=str))
        return 0
    print("%s %s: %s" % (record["PipelineName"], record["PipelineExecutionId"],
                         record["PipelineExecutionStatus"]))
    if record["FailureReason"]:
        print("failure: %s" % record["FailureReason"])
    for s in record["Steps"]:
        took = (s["EndTime"] or time.time()) - s["StartTime"]
        print("  %-28s %-12s %-9s %6.1f s%s" % (
            s["StepName"], s["StepType"], s["StepStatus"], took,
            "  cache hit from %s" % s["CacheHit"] if s["CacheHit"] else ""))
    return 0


def cmd_models(args):
    from pipelines.local.registry import Registry, RegistryError

    registry = Registry(home())
    try:
        if args.action == "list":
            packages = registry.list_packages(args.group)
            if not packages:
                print("no model versions registered under %s yet" % home())
            for p in packages:
                print("%-24s %3d  %-22s %s" % (
                    p["ModelPackageGroupName"], p["ModelPackageVersion"],
                    p["ModelApprovalStatus"],
                    time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p["CreationTime"]))))
            return 0
        if not args.version:
            raise UserError("churn models %s needs a VERSION (see `churn models list`)"
                            % args.action)
        if args.action == "describe":
            package = registry.find(args.version, args.group)
        else:
            status = "Approved" if args.action == "approve" else "Rejected"
            package = registry.set_approval(args.version, status, args.description, args.group)
            print("%s version %d is now %s" % (package["ModelPackageGroupName"],
                                                package["ModelPackageVersion"], status))
            return 0
        print(json.dumps(package, indent=1, default=str))
        return 0
    except RegistryError as e:
        raise UserError(str(e))
    finally:
        registry.close()


def cmd_schemas(args):
    for name in available_schemas():
        schema = load_schema(name)
        print("%-8s %s" % (name, schema.description))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="churn", description="Churn pipeline template tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("run", help="run the pipeline definition locally (no Docker, no AWS)")
    p.add_argument("--data", help="raw churn CSV, or an s3:// URI in the local store "
                                  "(default: generated seed-schema data)")
    p.add_argument("--schema", default="seed", help="schema name (%s) or file"
                   % ", ".join(available_schemas()))
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="pipeline parameter, e.g. AucThreshold=0.8 (repeatable)")
    p.add_argument("--batch-input", metavar="CSV",
                   help="also score this headerless CSV with the model once it is registered "
                        "(the pipeline's BatchModel and BatchTransform steps); "
                        "--param BatchJoinSource=Input appends each score to its row")
    p.add_argument("--home", help="where runs, models and the local store live "
                                  "(default: $CHURN_HOME or ./.churn)")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--rows", type=positive_int, default=10000, help="rows to generate")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("runs", help="list local executions or show one")
    p.add_argument("action", choices=("list", "show"))
    p.add_argument("id", nargs="?")
    p.add_argument("--home")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("models", help="the local model registry")
    p.add_argument("action", choices=("list", "describe", "approve", "reject"))
    p.add_argument("version", nargs="?", help="version number, GROUP/NUMBER or ARN")
    p.add_argument("--group")
    p.add_argument("--description", help="approval note")
    p.add_argument("--home")
    p.set_defaults(func=cmd_models)

    cli_serving.add_parsers(sub)

    p = sub.add_parser("generate-data", help="write synthetic seed-schema customers to a CSV")
    p.add_argument("--rows", type=positive_int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_generate_data)

    p = sub.add_parser("run-scripts", help="run validate, preprocess, train, evaluate and "
                                           "inference in sequence on one table")
    p.add_argument("--data", help="raw churn CSV (default: generate seed-schema data)")
    p.add_argument("--schema", default="seed", help="schema name (%s) or file"
                   % ", ".join(available_schemas()))
    p.add_argument("--rows", type=positive_int, default=10000, help="rows to generate")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--workdir", help="default: $CHURN_HOME/script-run")
    p.set_defaults(func=cmd_run_scripts)

    p = sub.add_parser("schemas", help="list the shipped dataset schemas")
    p.set_defaults(func=cmd_schemas)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if getattr(args, "home", None):
        os.environ["CHURN_HOME"] = args.home
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
