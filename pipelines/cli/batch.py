"""`churn batch`: batch-transform semantics (SplitType Line, MultiRecord, AssembleWith Line) on
local files, with the model's own inference code: <input>.out per input file, rows in input
order."""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.cli.common import (
    add_home,
    add_model_choice,
    check_batch_file,
    positive_float,
    positive_int,
)
from pipelines.cli.serve import servable
from pipelines.errors import UserError

if TYPE_CHECKING:
    from pipelines.workspace import Workspace


def cmd_batch(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.serving import batch_transform

    source = Path(args.input)
    if not source.exists():
        raise UserError("--input %s does not exist" % source)
    model = servable(args, ws, args.model_version)
    spec = json.loads((Path(model.model_dir) / "preprocessing.json").read_text())
    names = set(spec["input_columns"]) | {spec.get("id_column"), spec.get("target_column")}
    for path in sorted(source.rglob("*")) if source.is_dir() else [source]:
        if path.is_file():  # the same refusals as churn run --batch-input
            check_batch_file(
                str(path),
                "--input",
                spec["input_columns"],
                names - {None},
                csv_header=args.content_type.startswith("text/csv"),
            )
    input_dir = source if source.is_dir() else None
    if input_dir is None:  # one file: give the worker a folder holding just that file
        input_dir = Path(tempfile.mkdtemp(prefix="churn-batch-"))
        os.symlink(source.resolve(), input_dir / source.name)
    # Every object's scores go into a folder beside the output first and move into it only when
    # every object succeeded: a refused line leaves nothing behind, not the objects before it.
    output = Path(args.output)
    made = [p for p in [output] + list(output.parents) if not p.exists()]
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".churn-batch-", dir=str(output)))
    started = time.time()
    worker = batch_transform.parse_args(
        [
            "--model-dir",
            model.model_dir,
            "--code-dir",
            model.code_dir,
            "--program",
            model.program,
            "--input-dir",
            str(input_dir),
            "--output-dir",
            str(staging),
            "--content-type",
            args.content_type,
            "--accept",
            args.accept,
            "--split-type",
            "Line",
            "--strategy",
            "MultiRecord",
            "--max-payload-mb",
            str(args.max_payload_mb),
            "--assemble-with",
            "Line",
            "--join-source",
            "Input" if args.join_input else "None",
            "--concurrency",
            str(args.concurrency),
        ]
    )
    try:
        done = batch_transform.transform_all(worker)  # "N objects, N requests in S s"
        for path in sorted(staging.rglob("*.out")):
            target = output / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    except batch_transform.TransformError as e:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in made:  # the folders this command made, now empty again
            folder.rmdir()
        raise UserError("%s; nothing was written to %s" % (e, output))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(
        "scored with %s into %s in %.1f s (%s)"
        % (model.description, args.output, time.time() - started, done)
    )
    return 0


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("batch", help="score files with batch transform semantics")
    p.add_argument(
        "--input",
        required=True,
        help="a CSV / JSON-lines file or a folder of them (no header; features in schema order)",
    )
    p.add_argument("--output", required=True, help="folder for <input>.out files")
    add_model_choice(p, "score with")
    p.add_argument(
        "--content-type",
        default="text/csv",
        help="the input's type: text/csv or application/jsonlines (default: %(default)s)",
    )
    p.add_argument(
        "--accept",
        default="text/csv",
        help="the scores' type: text/csv, application/json or application/jsonlines "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--max-payload-mb",
        type=positive_float,
        default=6.0,
        help="MaxPayloadInMB: records per request up to this size (default: %(default)s)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="requests scored at once, one core each (MaxConcurrentTransforms; "
        "default: the number of cores)",
    )
    p.add_argument(
        "--join-input",
        action="store_true",
        help="append each prediction to its input row (JoinSource=Input)",
    )
    add_home(p)
    p.set_defaults(func=cmd_batch)
