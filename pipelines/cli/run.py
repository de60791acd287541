"""`churn run`, `churn runs` and `churn run-scripts`: the pipeline on this machine."""

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from pipelines.churn.feature_group import DEFAULT_NAME as DEFAULT_GROUP
from pipelines.churn.schema_source import SchemaSource
from pipelines.churn.tuning import MAX_TRIALS, STRATEGIES
from pipelines.cli.common import (
    add_generated_data,
    add_home,
    add_schema,
    check_batch_file,
    data_or_generated,
    group_name,
    parse_params,
)
from pipelines.errors import UserError
from pipelines.local.sagemaker.jobs.container import tail
from pipelines.local.sagemaker.records import elapsed

# processing's table and recipe modules import pandas or numpy: they are imported in the
# functions that use them, so a command that reads no table starts about 0.4 s sooner.

if TYPE_CHECKING:
    from pipelines.workspace import RunResult, Workspace


def cmd_run(args: argparse.Namespace, ws: "Workspace") -> int:
    from processing.churn_io import DataError, check_table

    if args.kwargs and not args.module_name:
        raise UserError("--kwargs gives get_pipeline() arguments to the --module-name pipeline")
    if args.module_name:
        from pipelines.cli.run_module import cmd_run_module

        return cmd_run_module(args, ws)
    source = SchemaSource(args.schema)  # a wrong schema fails here, before anything starts
    data = data_or_generated(args, ws, allow_s3=True, allow_folder=True)
    if not data.startswith("s3://"):
        try:  # what the jobs would find in the header and the rows, said before anything runs
            files = check_table(data, source.schema)
        except DataError as e:
            raise UserError(str(e))
        note_absent_drops(files[0], source.schema)
    if args.batch_input and not args.batch_input.startswith("s3://"):
        # in the local store, an s3:// input is the transform step's to report
        check_batch_file(
            args.batch_input,
            "--batch-input",
            source.schema.feature_names,
            set(source.schema.feature_names) | {source.schema.target},
        )
    progress = sys.stderr if args.json else sys.stdout
    echo = lambda line: (progress.write(line + "\n"), progress.flush())  # noqa: E731
    try:
        result = ws.runs.run(
            data,
            schema=source,
            parameters=parse_params(args.param),
            echo=echo,
            batch_input=args.batch_input,
            feature_store={
                "ingest": args.ingest_features,
                "train": args.train_from_feature_store,
                "group": args.feature_group,
                "as_of": args.as_of,
            },
            spot=args.spot,
            network_isolation=args.network_isolation,
            group=args.group,
            tuning={"trials": args.tune, "strategy": args.tune_strategy},
        )
    except FileNotFoundError as e:
        raise UserError(str(e))
    if args.json:
        print(json.dumps(result.as_json(), indent=1))
    else:
        print_result(result, data)
    return 0 if result.succeeded else 1


def note_absent_drops(table: str, schema: Any) -> None:
    """A "drop" naming a column the table does not have changes nothing (columns the schema does
    not name are ignored anyway) but may be a misspelt name: said, not refused, since a table
    built from the feature store has no dropped columns at all."""
    from processing.churn_io import check_header

    header = set(check_header(table))
    absent = [c for c in schema.drop if c not in header]
    if absent:
        sys.stderr.write(
            'note: the schema\'s "drop" names %s, which %s does not have: nothing to drop '
            "(a misspelt name?)\n" % (", ".join(absent), table)
        )


def in_users_terms(reason: str, data: Optional[str]) -> str:
    """A job's failure reason as one line, naming the user's file (for a folder, its file)
    where the job named its container path (/opt/ml/processing/input/data/<file>) or, in a
    validation example, the file relative to its input ("(<file> line 5)")."""
    from processing.churn_io import csv_files

    reason = "; ".join(line.strip(" -") for line in reason.splitlines() if line.strip())
    if not data or data.startswith("s3://"):
        return reason
    if Path(data).is_dir():  # the jobs see each file at its path in the folder
        files = {os.path.relpath(f, data): f for f in csv_files(data, none_is_empty=True)}
    else:  # and a file under its own name
        files = {Path(data).name: data}
    for name, path in files.items():
        container = r"\S*/opt/ml/processing/input/data/%s(?!\w)" % re.escape(name)
        reason = re.sub(container, _literal(path), reason)
        reason = reason.replace("(%s line " % name, "(%s line " % path)
    return reason


def _literal(text: str) -> Callable[["re.Match[str]"], str]:
    """A re.sub replacement that is `text` as it is: no backslash in it is an escape."""
    return lambda match: text


def print_result(result: "RunResult", data: Optional[str] = None) -> None:
    record = result.record
    steps = record["Steps"]
    # The execution's time is what `churn runs list` and the UI show; the command's also holds
    # finding the definition, staging code and data and starting the job parent.
    print(
        "%s: %s in %.1f s (%d of %d steps from cache); %.1f s in all with the definition, "
        "staging and %s"
        % (
            record["PipelineExecutionId"],
            result.status,
            result.execution_seconds,
            sum(1 for s in steps if s["CacheHit"]),
            len(steps),
            result.seconds,
            "job parent" if result.job_parent else "no job parent",
        )
    )
    if result.metrics:
        print("test metrics: " + ", ".join("%s %.4f" % kv for kv in result.metrics.items()))
    if result.data_checks:
        print(result.data_checks.get("summary", ""))
    if result.model_package:
        p = result.model_package
        print(
            "registered %s version %d (%s); approve it with `churn models approve %s/%d`"
            % (p["group"], p["version"], p["approval_status"], p["group"], p["version"])
        )
    if result.batch_output:
        for path in result.batch_output["files"]:
            print("batch scores: %s" % path)
    if not result.succeeded:
        sys.stderr.write("failed: %s\n" % in_users_terms(record["FailureReason"], data))
        for log in result.failed_logs():
            text, path = log_tail(log)
            if text:
                sys.stderr.write("last lines of %s:\n%s\n" % (path, text))


def log_tail(log: Union[str, Path]) -> tuple[str, Path]:
    """The last lines of a failed job's log (a log file, or the first non-empty log of the job
    folder), and its path."""
    log = Path(log)
    for path in [log] if log.is_file() else sorted(log.glob("*.log")):
        text = tail(path)
        if text:
            return text, path
    return "", log


def cmd_runs(args: argparse.Namespace, ws: "Workspace") -> int:
    if args.action == "list":
        found = ws.runs.summaries()
        if args.json:
            print(json.dumps(found, indent=1))
            return 0
        if not found:
            print("no executions under %s yet; run `churn run`" % ws.home)
        for r in found:
            print(
                "%s  %-10s %s  %5.1f s  %2d/%-2d cached  AUC %-6s  %s  %s"
                % (
                    r["id"],
                    r["status"],
                    time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["start"])),
                    r["seconds"],
                    r["cache_hits"],
                    r["steps"],
                    "-" if r["auc"] is None else "%.4f" % r["auc"],
                    r["pipeline"],
                    r["input"] or "-",
                )
            )
        return 0
    if not args.id:
        raise UserError("churn runs show needs an execution id (see `churn runs list`)")
    record = ws.runs.load(args.id)
    if args.json:
        print(json.dumps(record, indent=1, default=str))
        return 0
    print(
        "%s %s: %s"
        % (record["PipelineName"], record["PipelineExecutionId"], record["PipelineExecutionStatus"])
    )
    if record["FailureReason"]:
        print("failure: %s" % record["FailureReason"])
    for s in record["Steps"]:
        took = elapsed(s)
        print(
            "  %-28s %-12s %-9s %6.1f s%s"
            % (
                s["StepName"],
                s["StepType"],
                s["StepStatus"],
                took,
                "  cache hit from %s" % s["CacheHit"] if s["CacheHit"] else "",
            )
        )
    return 0


def cmd_run_scripts(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.churn.script_run import run_sequence

    SchemaSource(args.schema)  # a wrong schema name fails here, before any job starts
    data = data_or_generated(args, ws)
    if args.data is None:
        print("generated %d seed-schema rows in %s" % (args.rows, data))
    workdir = Path(args.workdir) if args.workdir else ws.home / "script-run"
    print("running the container scripts on %s (schema %s) in %s" % (data, args.schema, workdir))
    summary = run_sequence(data, args.schema, workdir)  # a failed script: StepFailed, one error
    sd = summary["auc_std"]  # the string "NaN" below 200 test rows, by the convention
    print(
        "test AUC %.4f (bootstrap sd %s), accuracy %.4f, F1 %.4f"
        % (
            summary["auc"],
            "%.4f" % sd if isinstance(sd, float) else sd,
            summary["accuracy"],
            summary["f1"],
        )
    )
    print("model: %s" % summary["model"])
    print("scores of the first rows (probability,label): %s" % " ".join(summary["sample_scores"]))
    return 0


def trial_count(text: str) -> int:
    """An argparse type: --tune's number of trials."""
    try:
        trials = int(text)
    except ValueError:
        trials = -1
    if not 0 <= trials <= MAX_TRIALS:
        raise argparse.ArgumentTypeError("%r: a number of trials from 0 to %d" % (text, MAX_TRIALS))
    return trials


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("run", help="run the pipeline definition locally (no Docker, no AWS)")
    p.add_argument(
        "--data",
        help="raw churn CSV, a folder of CSV files with one header (every *.csv under it), or "
        "an s3:// URI in the local store (default: generated seed-schema data)",
    )
    add_schema(p)
    p.add_argument(
        "--group",
        type=group_name,
        help="model package group to register into (default: the schema's "
        "model_package_group, churn-<schema name>)",
    )
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="pipeline parameter, e.g. AucThreshold=0.8 (repeatable)",
    )
    p.add_argument(
        "--batch-input",
        metavar="CSV",
        help="also score this headerless CSV with the model once it is registered "
        "(the pipeline's BatchModel and BatchTransform steps); "
        "--param BatchJoinSource=Input appends each score to its row",
    )
    p.add_argument(
        "--ingest-features",
        action="store_true",
        help="write the validated rows to the feature group (IngestFeatures step)",
    )
    p.add_argument(
        "--train-from-feature-store",
        action="store_true",
        help="train on each customer's features as of --as-of, from the feature group's "
        "offline store (BuildDataset step)",
    )
    p.add_argument(
        "--feature-group", default=DEFAULT_GROUP, help="default: %(default)s (made if missing)"
    )
    p.add_argument("--as-of", help="ISO-8601 or epoch seconds (default: now)")
    p.add_argument(
        "--spot",
        action="store_true",
        help="Managed Spot Training as on SageMaker: TrainModel checkpoints into the local "
        "store, and a training stopped part-way resumes from its checkpoint when run again",
    )
    p.add_argument(
        "--network-isolation",
        action="store_true",
        help="the jobs that need no network run without one, as SageMaker isolates them",
    )
    p.add_argument(
        "--tune",
        type=trial_count,
        default=0,
        metavar="TRIALS",
        help="tune the hyperparameters with this many training jobs (TuneModel, a TuningStep, "
        "in place of TrainModel; pipelines/churn/tuning.py) and evaluate and register the best",
    )
    p.add_argument(
        "--tune-strategy",
        choices=STRATEGIES,
        default="Bayesian",
        help="with --tune: the tuning job's search strategy (default: %(default)s)",
    )
    p.add_argument(
        "--module-name",
        help="run another pipeline: the module whose get_pipeline() builds it, as "
        "run-pipeline --module-name takes it (e.g. pipelines.abalone.pipeline); the churn "
        "options above do not apply, --param sets its parameters (file://PATH stages a file)",
    )
    p.add_argument("--kwargs", help="with --module-name: JSON object of get_pipeline() arguments")
    add_home(p)
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    add_generated_data(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("runs", help="list local executions or show one")
    p.add_argument("action", choices=("list", "show"), help="list the executions, or show one")
    p.add_argument("id", nargs="?", help="show: the execution's id")
    add_home(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="list: a JSON list of the executions' summaries; show: the execution's record",
    )
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser(
        "run-scripts",
        help="run validate, preprocess, train, evaluate and inference in sequence on one table",
    )
    p.add_argument("--data", help="raw churn CSV (default: generate seed-schema data)")
    add_schema(p)
    add_generated_data(p)
    p.add_argument("--workdir", help="default: $CHURN_HOME/script-run")
    p.set_defaults(func=cmd_run_scripts)
