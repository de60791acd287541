"""`churn features ...`: the churn feature group in SageMaker Feature Store, locally (the home's
twin) by default, on AWS with --region or --profile. Both go through the same calls
(pipelines/aws/featurestore.py) on clients of the same shape: boto3's `sagemaker`,
`sagemaker-featurestore-runtime` and `s3`, or the twins' (pipelines/cli/target.py chooses).

  churn features create | describe | list | delete-group
  churn features ingest --data CSV          every row as a record (PutRecord semantics)
  churn features get ID [--features a,b]    the customer's online record
  churn features delete-record ID [--hard]
  churn features dataset [--entities CSV | --as-of TIME (default now)] [--write-time-cutoff T]
                         [--out FILE]
"""

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

from pipelines.aws.errors import aws_errors
from pipelines.aws.featurestore import (
    delete_feature_group,
    delete_record,
    describe_feature_group,
    ensure_feature_group,
    feature_group_exists,
    list_feature_groups,
    online_record,
    put_records,
)
from pipelines.aws.s3 import download_prefix
from pipelines.churn.feature_group import (
    DEFAULT_NAME,
    LOCAL_ROLE,
    feature_group_request,
    layout_of,
    offline_store_root,
)
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.churn.schema_source import SchemaSource
from pipelines.churn.script_run import StepFailed, run_script
from pipelines.cli.common import add_home, add_schema, positive_int
from pipelines.cli.target import Target, add_target, resolve
from pipelines.errors import UserError

# processing's table and recipe modules import pandas or numpy: they are imported in the
# functions that use them, so a command that reads no table starts about 0.4 s sooner.

if TYPE_CHECKING:
    from pipelines.workspace import Workspace
    from processing.churn_features import FeatureGroupLayout


def _role(args: argparse.Namespace, target: Target) -> Optional[str]:
    return (
        getattr(args, "role_arn", None)
        or target.local_default(LOCAL_ROLE)
        or os.environ.get("SAGEMAKER_PIPELINE_ROLE_ARN")
    )


def _offline_store(args: argparse.Namespace, target: Target) -> Optional[str]:
    return getattr(args, "offline_store", None) or target.local_default(
        offline_store_root(LOCAL_BUCKET, PREFIX)
    )


def cmd_create(args: argparse.Namespace, ws: "Workspace") -> int:
    target = resolve(args, ws)
    schema = SchemaSource(args.schema).schema
    role, offline_store = _role(args, target), _offline_store(args, target)
    if not (role and offline_store):  # AWS has no defaults for these two
        raise UserError(
            "on AWS, create needs --role-arn (a role Feature Store may write the offline "
            "store with) and --offline-store s3://bucket/prefix"
        )
    request = feature_group_request(schema, args.feature_group, offline_store, role, args.ttl_days)
    print(ensure_feature_group(target.client("sagemaker"), request)["FeatureGroupArn"])
    return 0


def cmd_describe(args: argparse.Namespace, ws: "Workspace") -> int:
    description = describe_feature_group(resolve(args, ws).client("sagemaker"), args.feature_group)
    print(json.dumps(description, indent=1, default=str))
    return 0


def cmd_list(args: argparse.Namespace, ws: "Workspace") -> int:
    summaries = list_feature_groups(resolve(args, ws).client("sagemaker"))
    for g in summaries:
        print(
            "%-40s %-10s %s" % (g["FeatureGroupName"], g["FeatureGroupStatus"], g["CreationTime"])
        )
    if not summaries:
        print("no feature groups")
    return 0


def cmd_delete_group(args: argparse.Namespace, ws: "Workspace") -> int:
    delete_feature_group(resolve(args, ws).client("sagemaker"), args.feature_group)
    print("deleted feature group %s (its offline store stays where it is)" % args.feature_group)
    return 0


def read_table(path: str, schema: Any, group_layout: "FeatureGroupLayout") -> dict[str, list[Any]]:
    """The CSV's columns the feature group holds, as {column: [raw text]}."""
    from processing.churn_io import DataError, csv_files, read_raw_table

    try:
        table = read_raw_table(csv_files(path), schema, str)
    except DataError as e:
        raise UserError(str(e)) from None
    missing = [c for c in group_layout.table_columns if c not in table.columns]
    if missing:
        raise UserError(
            "%s has no column %s, which the feature group holds" % (path, ", ".join(missing))
        )
    return {c: table[c].fillna("").tolist() for c in group_layout.table_columns}


def event_times(
    path: str, table: Mapping[str, list[Any]], group_layout: "FeatureGroupLayout"
) -> list[float]:
    """Each row's event time: the schema's event-time column, or now for every row."""
    from processing.churn_features import FeatureGroupError, parse_event_time

    column = group_layout.table_event_time
    if not column:
        return [time.time()] * len(table[group_layout.record_identifier])
    times = []
    for line, text in enumerate(table[column], start=2):
        try:
            times.append(parse_event_time(text))
        except FeatureGroupError as e:
            raise UserError("%s line %d: %s" % (path, line, e)) from None
    return times


def require_group(target: Target, args: argparse.Namespace) -> None:
    """Refuse a missing feature group before the table is read, naming the command that
    creates it (ingest writes records; it does not create the group)."""
    if not feature_group_exists(target.client("sagemaker"), args.feature_group):
        words = ["churn", "features", "create"]
        if args.schema != "seed":
            words += ["--schema", args.schema]
        if args.feature_group != DEFAULT_NAME:
            words += ["--feature-group", args.feature_group]
        if args.home:
            words += ["--home", args.home]
        for flag in ("region", "profile"):
            if getattr(args, flag, None):
                words += ["--" + flag, getattr(args, flag)]
        if not _role(args, target):
            words += ["--role-arn", "ROLE"]
        if not _offline_store(args, target):
            words += ["--offline-store", "s3://BUCKET/PREFIX"]
        command = " ".join(shlex.quote(w) for w in words)
        raise UserError(
            "feature group %s does not exist: create it first with `%s`"
            % (args.feature_group, command)
        ) from None


def cmd_ingest(args: argparse.Namespace, ws: "Workspace") -> int:
    from processing.churn_features import FeatureGroupError, refused_record

    target = resolve(args, ws)
    schema = SchemaSource(args.schema).schema
    group_layout = layout_of(schema)
    if not Path(args.data).is_file():
        raise UserError("--data %s is not a file" % args.data)
    require_group(target, args)
    started = time.time()
    table = read_table(args.data, schema, group_layout)
    try:
        columns = group_layout.columns(table, event_times(args.data, table, group_layout))
    except FeatureGroupError as e:
        raise UserError("%s %s" % (args.data, e)) from None
    ids = columns[group_layout.record_identifier]

    def refused(index: int, error: Exception) -> UserError:  # line 1 is the header
        return UserError("%s %s" % (args.data, refused_record(index + 2, ids[index], error)))

    bulk = target.bulk_ingest()
    if bulk is not None:
        with aws_errors("feature group %s: " % args.feature_group):
            bulk(args.feature_group, columns)
    else:
        names = list(columns)
        records = [
            [{"FeatureName": n, "ValueAsString": v} for n, v in zip(names, row) if v is not None]
            for row in zip(*columns.values())
        ]
        runtime = target.client("sagemaker-featurestore-runtime")
        put_records(runtime, args.feature_group, records, args.workers, refused)
    print(
        "ingested %d records into %s in %.1f s"
        % (len(ids), args.feature_group, time.time() - started)
    )
    return 0


def cmd_get(args: argparse.Namespace, ws: "Workspace") -> int:
    runtime = resolve(args, ws).client("sagemaker-featurestore-runtime")
    names = [n.strip() for n in args.features.split(",") if n.strip()] if args.features else None
    print(json.dumps(online_record(runtime, args.feature_group, args.id, names), indent=1))
    return 0


def cmd_delete_record(args: argparse.Namespace, ws: "Workspace") -> int:
    event_time = args.event_time or "%.6f" % time.time()
    runtime = resolve(args, ws).client("sagemaker-featurestore-runtime")
    delete_record(runtime, args.feature_group, args.id, event_time, args.hard)
    print("deleted customer %s from %s" % (args.id, args.feature_group))
    return 0


def cmd_dataset(args: argparse.Namespace, ws: "Workspace") -> int:
    if args.entities and args.as_of:
        raise UserError("give --entities CSV or --as-of TIME, not both")
    target = resolve(args, ws)
    description = describe_feature_group(target.client("sagemaker"), args.feature_group)
    offline = description.get("OfflineStoreConfig", {}).get("S3StorageConfig", {})
    uri = offline.get("ResolvedOutputS3Uri")
    if not uri:
        raise UserError("feature group %s has no offline store" % args.feature_group)
    workdir = Path(tempfile.mkdtemp(prefix="churn-dataset-"))
    try:
        target.settle()  # the rows ingested so far, in the offline store
        folder = download_prefix(target.client("s3"), uri, workdir / "offline-store")
        arguments = [
            "--offline-store", folder, "--feature-group", args.feature_group,
            "--schema", SchemaSource(args.schema).path, "--output-dir", workdir / "out",
            "--as-of", args.as_of or "now", "--write-time-cutoff", args.write_time_cutoff or "none",
        ]  # fmt: skip
        if args.entities:
            arguments += ["--entities", args.entities]
        try:
            out, _ = run_script("build_dataset", arguments, workdir)
        except StepFailed as e:
            raise UserError(e.last_line.replace("build-dataset: error: ", "")) from None
        shutil.copyfile(workdir / "out" / "dataset.csv", args.out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.write(out.replace("build-dataset:", "dataset:").rstrip() + " -> %s\n" % args.out)
    return 0


def add_common(p: argparse.ArgumentParser, schema: bool = True) -> None:
    p.add_argument("--feature-group", default=DEFAULT_NAME, help="default: %(default)s")
    if schema:
        add_schema(p)
    add_target(p)
    add_home(p)


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    features = sub.add_parser("features", help="the churn feature group (SageMaker Feature Store)")
    fsub = features.add_subparsers(dest="features_command", metavar="ACTION")
    fsub.required = True

    p = fsub.add_parser("create", help="create the feature group the schema implies")
    add_common(p)
    p.add_argument("--ttl-days", type=positive_int, help="online records expire after this")
    p.add_argument("--role-arn", help="on AWS: the role Feature Store writes the offline store as")
    p.add_argument("--offline-store", help="on AWS: s3://bucket/prefix of the offline store")
    p.set_defaults(func=cmd_create)

    p = fsub.add_parser("describe", help="DescribeFeatureGroup")
    add_common(p, schema=False)
    p.set_defaults(func=cmd_describe)

    p = fsub.add_parser("list", help="the feature groups")
    add_common(p, schema=False)
    p.set_defaults(func=cmd_list)

    p = fsub.add_parser("delete-group", help="delete the feature group (not its offline data)")
    add_common(p, schema=False)
    p.set_defaults(func=cmd_delete_group)

    p = fsub.add_parser("ingest", help="write every row of a CSV as a record")
    add_common(p)
    p.add_argument("--data", required=True, help="a raw churn CSV")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=8,
        help="on AWS: PutRecord threads (default: %(default)s)",
    )
    p.set_defaults(func=cmd_ingest)

    p = fsub.add_parser("get", help="a customer's online record")
    add_common(p, schema=False)
    p.add_argument("id", help="the customer's record identifier")
    p.add_argument("--features", help="only these, comma-separated")
    p.set_defaults(func=cmd_get)

    p = fsub.add_parser("delete-record", help="delete a customer's record (soft by default)")
    add_common(p, schema=False)
    p.add_argument("id", help="the customer's record identifier")
    p.add_argument("--hard", action="store_true", help="HardDelete instead of SoftDelete")
    p.add_argument("--event-time", help="the delete's event time (default: now)")
    p.set_defaults(func=cmd_delete_record)

    p = fsub.add_parser("dataset", help="point-in-time training data from the offline store")
    add_common(p)
    p.add_argument("--entities", help="CSV of customer ids (and their times) to build rows for")
    p.add_argument(
        "--as-of",
        help="every customer's latest features at this time (ISO-8601, epoch seconds or now; "
        "default: now)",
    )
    p.add_argument("--write-time-cutoff", help="as the store knew them at this write time")
    p.add_argument("--out", default="dataset.csv", help="default: %(default)s")
    p.set_defaults(func=cmd_dataset)
