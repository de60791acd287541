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
    is_deleted) under `folder` as a pyarrow Table, the two write times as epoch seconds."""
    import pyarrow as pa
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
    missing = [c for c in columns if c not in pq.read_schema(files[0]).names]
    if missing:
        raise DataError(
            "the offline store's Parquet objects lack the schema's feature%s %s: the feature "
            "group was not made from this schema (`churn features create --schema S` makes "
            "one; another group's objects are read as they are, docs/feature-store.md)"
            % ("s" if len(missing) > 1 else "", ", ".join(missing))
        )
    history = pa.concat_tables([pq.read_table(f, columns=columns) for f in files])
    for name in ("write_time", "api_invocation_time"):  # whatever unit the files were written in
        micros = history[name].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        seconds = pa.array(micros.to_numpy(zero_copy_only=False) / 1e6)
        history = history.set_column(history.schema.get_field_index(name), name, seconds)
    return history


def as_of_join(history, entities, id_column, event_column, write_time_cutoff=None):
    """For each entity row (id_column, "as_of" in epoch seconds), its latest history row with
    event time <= as_of (ties: the later api_invocation_time, then write_time), unless that
    row is a delete marker. `history` is a pyarrow Table (or a DataFrame). Returns (the joined
    rows in entity order as a DataFrame with "as_of", counts).

    Exact and vectorised: the entities' distinct ids get codes, and a hash join gives each of
    their customers' history rows its code (the other customers' rows drop out); event times
    become ranks of their sorted set, so (code, rank) is one int64 key; those rows are sorted
    by it (and, among equal keys, by api_invocation_time and write_time), and one binary
    search per entity finds its last record at or before its time. No float arithmetic
    touches the times."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(history, pd.DataFrame):
        history = pa.Table.from_pandas(history, preserve_index=False)
    if write_time_cutoff is not None:
        history = history.filter(pc.less_equal(history["write_time"], write_time_cutoff))
    as_of = np.asarray(entities["as_of"], dtype=np.float64)
    encoded = pc.dictionary_encode(
        _one_array(pa.array(entities[id_column].astype(str), type=pa.string()))
    )
    entity_code = encoded.indices.to_numpy().astype(np.int64)
    # Arrow's hash join partitions its table to stay in cache and probes on every core: on a
    # history in event-time order (as the offline store's hourly files hold it) it is several
    # times faster than encoding every history id in one dictionary.
    codes = pa.table({"id": encoded.dictionary, "code": np.arange(len(encoded.dictionary))})
    rows = pa.table(
        {"id": pc.cast(history[id_column], pa.string()), "row": np.arange(len(history))}
    )
    joined = rows.join(codes, "id", join_type="inner", use_threads=True)
    row = joined["row"].to_numpy()
    code = joined["code"].to_numpy()
    times, ranks = _ranks(history[event_column].to_numpy())
    span = len(times) + 1
    key = code * span + ranks[row]
    order = _argsort(key)
    sorted_key = key[order]
    # Records of one customer and one event time: the later call wins, so those few runs are
    # ordered by (api_invocation_time, write_time) too, in place.
    tied = np.flatnonzero(sorted_key[1:] == sorted_key[:-1])
    if len(tied):
        runs = np.unique(np.concatenate([tied, tied + 1]))
        at = order[runs]
        order[runs] = at[
            np.lexsort(
                (
                    history["write_time"].to_numpy()[row[at]],
                    history["api_invocation_time"].to_numpy()[row[at]],
                    key[at],
                )
            )
        ]
    # The rank of the latest event time <= as_of (-1: before them all), then that entity's
    # last record with a rank at most that.
    entity_key = entity_code * span + _searchsorted(times, as_of) - 1
    position = _searchsorted(sorted_key, entity_key) - 1
    safe = np.clip(position, 0, max(len(order) - 1, 0))
    matched = position >= 0
    if len(order):
        matched &= code[order[safe]] == entity_code
    latest = row[order[safe]] if len(order) else safe
    deleted_column = pc.fill_null(history["is_deleted"], False).to_numpy(zero_copy_only=False)
    deleted = matched & (deleted_column[latest] if len(order) else matched)
    keep = matched & ~deleted
    kept = history.take(pa.array(latest[keep])).to_pandas()
    kept.index = np.flatnonzero(keep)
    kept["as_of"] = as_of[keep]
    counts = {
        "entities": int(len(entities)),
        "rows": int(keep.sum()),
        "without_history": int((~matched).sum()),
        "deleted": int(deleted.sum()),
    }
    return kept, counts


def _ranks(values):
    """(the sorted distinct values, each value's index among them)."""
    order = np.argsort(values)
    ordered = values[order]
    new = np.empty(len(values), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.cumsum(new) - 1
    return ordered[new], ranks


def _argsort(key):
    """np.argsort(key) on two cores: numpy sorts without the GIL, so the lower and upper
    halves of the key range sort at once."""
    if len(key) < 1_000_000 or (os.cpu_count() or 1) < 2:
        return np.argsort(key)
    from concurrent.futures import ThreadPoolExecutor

    low = key < np.median(key[:: max(1, len(key) // 10_000)])
    halves = [np.flatnonzero(low), np.flatnonzero(~low)]
    with ThreadPoolExecutor(2) as pool:
        sorted_halves = pool.map(lambda rows: rows[np.argsort(key[rows])], halves)
        return np.concatenate(list(sorted_halves))


def _one_array(values):
    """A pyarrow Array, whether pyarrow handed a ChunkedArray (Arrow-backed pandas strings,
    several Parquet files) or an Array."""
    return values.combine_chunks() if hasattr(values, "combine_chunks") else values


def _searchsorted(haystack, needles, side="right"):
    """np.searchsorted with the needles looked up in sorted order: the same answer, several
    times faster on millions of random needles (the search stays in cache)."""
    order = np.argsort(needles)
    found = np.empty(len(needles), dtype=np.int64)
    found[order] = np.searchsorted(haystack, needles[order], side=side)
    return found


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


def utc(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def why_empty(history, layout, entities, counts, own_times):
    """Why the join gave no row, in one line, rather than an empty dataset: most often the time
    asked for precedes every record's event time (a table without an event-time column is
    stamped with its ingest time, so an --as-of before the ingest finds nothing)."""
    import pyarrow.compute as pc

    if not counts["entities"]:
        return "the entities hold no rows: give the ids (and times) to build rows for"
    found = (
        "no entity has a record at or before its time (%(entities)d entities, "
        "%(without_history)d without history, %(deleted)d deleted)" % counts
    )
    earliest = pc.min(history[layout.event_time]).as_py()
    latest = float(np.max(entities["as_of"]))
    if earliest is None or latest >= earliest:
        return found
    if own_times:
        return (
            "%s: the latest of their times, %s, precedes every record's event time (the "
            "earliest is %s)" % (found, utc(latest), utc(earliest))
        )
    return (
        "no customer has a record at or before --as-of %s: it precedes every record's event "
        "time (the earliest is %s; rows of a table without an event-time column carry their "
        "ingest time); give a later --as-of, or none for now" % (utc(latest), utc(earliest))
    )


def build(args):
    schema = load_schema(args.schema)
    layout = definitions(schema)
    as_of = moment(args.as_of, "--as-of")
    cutoff = moment(args.write_time_cutoff, "--write-time-cutoff")
    history = read_history(group_folder(args.offline_store, args.feature_group), layout)
    if args.entities:
        entities = read_entities(args.entities, layout, as_of)
    else:
        ids = sorted(history[layout.record_identifier].unique().to_pylist())
        entities = pd.DataFrame({layout.record_identifier: ids, "as_of": as_of})
    kept, counts = as_of_join(
        history, entities, layout.record_identifier, layout.event_time, cutoff
    )
    if not len(kept):
        raise DataError(why_empty(history, layout, entities, counts, bool(args.entities)))
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
