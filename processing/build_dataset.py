"""BuildDataset: point-in-time-correct training data from the feature group's offline store.

    python3 build_dataset.py --offline-store DIR --feature-group NAME --schema NAME
                             [--entities DIR_OR_CSV] [--as-of TIME]
                             [--write-time-cutoff TIME] [--output-dir DIR]

Reads the offline store's Parquet objects (a ProcessingInput of its S3 prefix: the same code on
SageMaker and locally, no Athena; under a prefix holding several groups' folders, <...>/offline-
store/<group>-<creation time>/data, the newest of the named group) and gives, for each entity
and its time, the entity's latest record at or before that time: an as-of join, never a value
from the future. Among records of one event time the later PutRecord call wins
(api_invocation_time, then write_time), as in the offline store's documented deduplication; an
entity whose latest record is a delete marker is left out. --write-time-cutoff keeps only what
the store held at that time (time travel).

Entities: a CSV with the record identifier column and, optionally, a column named like the event
time feature giving each entity's own time; without --entities every entity in the store is
taken as of --as-of (default: now). The output, dataset/dataset.csv, has the raw table's columns
(the schema's id, features, target, and its event-time column when it declares one), so
PreprocessData reads it as it reads the raw table. dataset.json reports the counts.
"""

import argparse
import json
import os
import re
import sys
import time

import numpy as np
import pandas as pd
from churn_features import FeatureGroupError, definitions, parse_event_time

from churn_io import DataError, csv_files
from churn_job import fail, write_atomic, write_text_atomic
from churn_schema import SchemaError, load_schema

FAILURE_FILE = "/opt/ml/output/message"
ORDER = ("write_time", "api_invocation_time", "is_deleted")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--offline-store", default="/opt/ml/processing/input/offline-store")
    p.add_argument("--feature-group", default="")
    p.add_argument("--schema", default="seed")
    p.add_argument("--entities", default="")
    p.add_argument("--as-of", default="now", help="ISO-8601, epoch seconds, or now")
    p.add_argument("--write-time-cutoff", default="none", help="ISO-8601, epoch seconds or none")
    p.add_argument("--output-dir", default="/opt/ml/processing/dataset")
    return p.parse_args(argv)


def moment(text, what):
    if text in ("", "none", None):
        return None
    if text == "now":
        return time.time()
    try:
        return parse_event_time(text)
    except FeatureGroupError as e:
        raise DataError("%s: %s" % (what, e))


def group_folder(folder, group):
    """The newest <group>-<creation time>/data folder under an offline-store prefix, or the
    folder itself when it holds none (it is a group's ResolvedOutputS3Uri)."""
    found = []
    pattern = re.compile(r"^%s-(\d+)$" % re.escape(group)) if group else None
    for root, names, _ in os.walk(folder):
        if pattern and os.path.basename(root) == "offline-store":
            for name in names:
                match = pattern.match(name)
                if match and os.path.isdir(os.path.join(root, name, "data")):
                    found.append((int(match.group(1)), os.path.join(root, name, "data")))
    return max(found)[1] if found else folder


def read_history(folder, layout):
    """Every offline-store row (features, event time, write_time, api_invocation_time,
    is_deleted) under `folder`, times as epoch seconds."""
    import pyarrow.parquet as pq

    files = sorted(
        os.path.join(root, f)
        for root, _, names in os.walk(folder)
        for f in names
        if f.endswith(".parquet")
    )
    if not files:
        raise DataError(
            "no Parquet objects under %s: the feature group's offline store is empty (ingest "
            "rows first, or wait for the offline store: SageMaker writes it within ~15 "
            "minutes)" % folder
        )
    columns = [n for n, _ in layout.features] + list(ORDER)
    frames = [pq.read_table(f, columns=columns).to_pandas() for f in files]
    history = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    epoch = pd.Timestamp(0, tz="UTC")
    for name in ("write_time", "api_invocation_time"):  # whatever unit the files were written in
        history[name] = (history[name] - epoch) / pd.Timedelta(seconds=1)
    return history


def as_of_join(history, entities, id_column, event_column, write_time_cutoff=None):
    """For each entity row (id_column, "as_of" in epoch seconds), its latest history row with
    event time <= as_of (ties: the later api_invocation_time, then write_time), unless that
    row is a delete marker. Returns (the joined rows in entity order, counts)."""
    if write_time_cutoff is not None:
        history = history[history["write_time"] <= write_time_cutoff]
    history = history.sort_values(
        [event_column, "api_invocation_time", "write_time"], kind="mergesort"
    )
    left = entities[[id_column, "as_of"]].copy()
    left[id_column] = left[id_column].astype(object)
    left["as_of"] = left["as_of"].astype("float64")
    left["\0order"] = np.arange(len(left))
    left = left.sort_values("as_of", kind="mergesort")
    right = history.rename(columns={event_column: "\0event"}).copy()
    right[id_column] = right[id_column].astype(object)
    right["\0event"] = right["\0event"].astype("float64")
    right[event_column] = right["\0event"]
    joined = pd.merge_asof(
        left,
        right,
        left_on="as_of",
        right_on="\0event",
        by=id_column,
        direction="backward",
        allow_exact_matches=True,
    )
    joined = joined.sort_values("\0order", kind="mergesort")
    unmatched = joined["\0event"].isna()
    deleted = joined["is_deleted"].fillna(False).astype(bool) & ~unmatched
    kept = joined[~unmatched & ~deleted]
    counts = {
        "entities": int(len(entities)),
        "rows": int(len(kept)),
        "without_history": int(unmatched.sum()),
        "deleted": int(deleted.sum()),
    }
    return kept, counts


def read_entities(path, layout, as_of):
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in csv_files(path)]
    entities = pd.concat(frames, ignore_index=True)
    if layout.record_identifier not in entities.columns:
        raise DataError(
            "the entities have no %s column (the record identifier); columns: %s"
            % (layout.record_identifier, ", ".join(entities.columns))
        )
    if layout.event_time in entities.columns:
        times = []
        for i, text in enumerate(entities[layout.event_time], start=2):
            if text.strip() == "":
                times.append(as_of)
                continue
            try:
                times.append(parse_event_time(text))
            except FeatureGroupError as e:
                raise DataError("entities line %d: %s" % (i, e))
        entities["as_of"] = times
    else:
        entities["as_of"] = as_of
    entities[layout.record_identifier] = entities[layout.record_identifier].str.strip()
    return entities


def table_text(kept, layout):
    """The joined rows with the raw table's columns, as text a CSV reader reads back."""
    out = pd.DataFrame(index=kept.index)
    for name, kind in layout.features:
        if name not in layout.table_columns:
            continue
        column = kept[name]
        if kind == "Integral":
            out[name] = column.astype("Int64").astype(str).replace("<NA>", "")
        elif kind == "Fractional":
            out[name] = [("" if pd.isna(v) else repr(float(v))) for v in column]
        else:
            out[name] = column.fillna("").astype(str)
    return out


def build(args):
    schema = load_schema(args.schema)
    layout = definitions(schema)
    as_of = moment(args.as_of, "--as-of")
    cutoff = moment(args.write_time_cutoff, "--write-time-cutoff")
    history = read_history(group_folder(args.offline_store, args.feature_group), layout)
    if args.entities:
        entities = read_entities(args.entities, layout, as_of)
    else:
        ids = pd.unique(history[layout.record_identifier])
        entities = pd.DataFrame({layout.record_identifier: ids, "as_of": as_of})
        entities = entities.sort_values(layout.record_identifier, kind="mergesort")
    kept, counts = as_of_join(
        history, entities, layout.record_identifier, layout.event_time, cutoff
    )
    if not len(kept):
        raise DataError(
            "no entity has a record at or before its time (%d entities, %d without history, "
            "%d deleted)" % (counts["entities"], counts["without_history"], counts["deleted"])
        )
    table = table_text(kept, layout)
    write_atomic(
        os.path.join(args.output_dir, "dataset.csv"),
        lambda f: table.to_csv(f, index=False),
    )
    counts.update(as_of=as_of if not args.entities else None, write_time_cutoff=cutoff)
    write_text_atomic(os.path.join(args.output_dir, "dataset.json"), json.dumps(counts, indent=1))
    print(
        "build-dataset: %d rows for %d entities (%d without history, %d deleted)"
        % (counts["rows"], counts["entities"], counts["without_history"], counts["deleted"])
    )


if __name__ == "__main__":
    try:
        build(parse_args())
    except (SchemaError, DataError, FeatureGroupError, OSError) as e:
        fail("build-dataset", str(e), FAILURE_FILE)
    sys.exit(0)
