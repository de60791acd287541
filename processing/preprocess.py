"""Preprocess a raw churn table for XGBoost: hashed split, recipe fitted on train only.

Runs unchanged as a SageMaker Processing job (sklearn image), under the local runner and in a
test. Reads every CSV under --input (a folder, so sharded inputs work, or one file), maps the
target to 0/1 with the schema, splits rows into train / validation / test by a seeded hash of
each row's id (no row's split depends on another row), fits the DataBrew recipe on the train
rows and replays it on all three. Writes

  <output-dir>/train/train.csv, validation/validation.csv, test/test.csv
      label first, no header: the SageMaker XGBoost CSV convention. With --train-parts K > 1
      (TrainingInstanceCount) the train split is K files instead, train/train-part-00000.csv
      ..., consecutive runs of its rows whose concatenation is byte for byte the single
      train.csv: the train channel is ShardedByS3Key, so each training host downloads only its
      part. --test-parts K (ProcessingInstanceCount) does the same for the test split, which
      EvaluateShards scores ShardedByS3Key.
  <output-dir>/preprocessing/preprocessing.json
      the fitted recipe and feature order that inference replays, the rules a request's values
      must obey (processing/churn_rules.py: the schema's, with the categories the table holds
      for categorical features that declare none), and what the split shows about the table
      (data_checks, which EvaluateModel judges before a version may be registered): how well
      each feature alone separates the target, how many test rows repeat a train row, and
      which features vary at all

The pipeline runs this whole-table mode only for a recipe that can remove rows. Otherwise it
divides the job (ADR 0017): --shard-of (PreprocessShards) summarises each instance's rows in
counts, --merge (PreprocessData) fits the recipe and the data checks from the summaries and
writes preprocessing.json as this mode would, --apply (PreprocessApply) replays it on each
instance's rows and writes its part of each split.

Every file is written under a temporary name and renamed, so nothing half-written is published.
"""

import argparse
import json
import os
import time

import numpy as np
import pandas as pd

from churn_checks import (
    data_checks,
    empty_summary,
    load_summary,
    merge,
    recipe_counts,
    save_summary,
    summarize,
    table_categories,
)
from churn_io import (
    DataError,
    check_header,
    column_union,
    csv_files,
    read_raw_chunks,
    read_raw_table,
    schema_columns,
)
from churn_job import (
    PublishedTogether,
    current_host,
    fail,
    shard_results,
    write_atomic,
    write_text_atomic,
)
from churn_recipe import (
    InputValueError,
    NotReplayable,
    RecipeError,
    feature_matrix,
    fit,
    fit_counts,
    normalize_steps,
    removes_rows,
    schema_recipe,
    transform,
)
from churn_rules import feature_rules
from churn_schema import SchemaError, load_schema

FORMAT = "churn-preprocessing/2"  # 2: input_rules
FAILURE_FILE = "/opt/ml/output/message"
SPLITS = ("train", "validation", "test")
CHUNK_ROWS = 500000  # a divided job's rows at a time: a few hundred MB with the recipe's copies
CSV_BLOCK_ROWS = 100000  # formatted at a time: a 10M-row split's text would not fit in memory


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--input",
        default="/opt/ml/processing/input/data",
        help="a CSV file or a folder of CSV files (all read, in name order)",
    )
    p.add_argument("--schema", default="seed", help="shipped schema name or schema file path")
    p.add_argument(
        "--recipe",
        default=None,
        help="DataBrew recipe JSON file; default: the schema's recipe, else the "
        "recipe the schema implies",
    )
    p.add_argument("--output-dir", default="/opt/ml/processing")
    p.add_argument("--validation-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--train-parts",
        type=int,
        default=1,
        help="files to write the train split as, one per training host (default 1)",
    )
    p.add_argument(
        "--test-parts",
        type=int,
        default=1,
        help="files to write the test split as, one per evaluating instance (default 1)",
    )
    p.add_argument(
        "--chunk-rows",
        type=int,
        default=CHUNK_ROWS,
        help="rows read and worked on at a time by --shard-of and --apply (default %d)"
        % CHUNK_ROWS,
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--shard-of",
        metavar="RESOURCE_CONFIG",
        help="PreprocessShards: summarise this instance's rows (its host named in this "
        "resourceconfig.json) under <output-dir>/<host>/ for --merge",
    )
    mode.add_argument(
        "--merge",
        metavar="DIR",
        help="PreprocessData divided: fit the recipe and the data checks from the summaries "
        "under DIR and write <output-dir>/preprocessing.json, reading no rows",
    )
    mode.add_argument(
        "--apply",
        metavar="DIR",
        help="PreprocessApply: replay the preprocessing.json under DIR on this instance's "
        "rows and write its part of each split, numbered by its place among the hosts "
        "--resource-config lists",
    )
    p.add_argument(
        "--resource-config",
        default="/opt/ml/config/resourceconfig.json",
        help="this instance's resourceconfig.json, naming its host and the job's hosts "
        "(--apply; default the processing contract's)",
    )
    return p.parse_args(argv)


def read_table(path, schema, none_is_empty=False):
    """Raw CSV -> DataFrame (None for an instance given no file, with `none_is_empty`). Text
    columns (categories, id, target) stay text; numbers parse."""
    files = csv_files(path, none_is_empty)
    if not files:
        return None
    df = read_raw_table(files, schema, text_types(schema))
    df = df[named_columns(df.columns, schema)]
    if len(df) == 0:
        raise DataError("the input has a header but no rows")
    return df


def read_chunks(files, schema, rows):
    """(its first row's number in the share, frame) for each chunk of at most `rows` rows of
    the files, read as read_table reads them (the same columns in every chunk, in the order
    of the files' headers), so a divided job's memory follows the chunk, not its share."""
    if not files:  # ShardedByS3Key gave this instance no object
        return
    kept = named_columns(column_union([check_header(name) for name in files]), schema)
    first = 0
    for _, _, chunk in read_raw_chunks(files, schema, text_types(schema), rows):
        if len(chunk):
            yield first, chunk.reindex(columns=kept)
            first += len(chunk)


def text_types(schema):
    """The columns read as text (categories, id, target); the numbers parse."""
    text_columns = [f.name for f in schema.features if not f.is_numeric] + [schema.target]
    if schema.id_column:
        text_columns.append(schema.id_column)
    return {c: str for c in text_columns}


def named_columns(columns, schema):
    """The columns the schema names, in the table's order; a required one missing is an
    error, one it does not name is said and ignored."""
    missing = [c for c in schema.required_columns if c not in columns]
    if missing:
        raise DataError(
            "columns %s are missing (the table has: %s); fix the data or the schema"
            % (", ".join(missing), ", ".join(map(str, columns)))
        )
    named = schema_columns(schema)
    ignored = [c for c in columns if c not in named]
    if ignored:
        print("preprocess: ignoring columns the schema does not name: %s" % ", ".join(ignored))
    return [c for c in columns if c in named]


def labels_from_target(raw, schema, first_row=0):
    """The 0/1 labels of the target's values; `first_row`: the number of rows before these
    (a chunk's), for the error's row number."""
    text = pd.Series(raw).fillna("").astype(str).str.strip().to_numpy()
    bad = ~np.isin(text, schema.target_values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            "target column %r has %d values outside %s (first at data row %d: %r)"
            % (
                schema.target,
                int(bad.sum()),
                schema.target_values,
                first_row + first + 1,
                text[first],
            )
        )
    return (text == schema.positive).astype(np.int8)


def hash_split(hashes, labels, validation_fraction, test_fraction):
    """Row indices per split, chosen row by row from each row's 64-bit hash (split_hashes):
    test below the test fraction of the hash's range, validation below the two fractions' sum,
    train above. A row's split depends on its own key and the seed alone, never on the other
    rows or their order, so any division of the table over instances splits it as one instance
    does, and a customer's repeated rows stay in one split. Each class is divided in the
    fractions in expectation, not to the row (ADR 0017). Rows keep their order in a split."""
    splits = assign_splits(hashes, validation_fraction, test_fraction)
    check_classes({n: [int((labels[i] == c).sum()) for c in (0, 1)] for n, i in splits.items()})
    return splits


def assign_splits(hashes, validation_fraction, test_fraction):
    """{split: row indices} by the rows' hashes alone (hash_split without the class check,
    which a divided job makes on the whole table's counts)."""
    if not (
        0 < validation_fraction < 1
        and 0 < test_fraction < 1
        and validation_fraction + test_fraction < 1
    ):
        raise DataError("validation and test fractions must be in (0, 1) and sum below 1")
    test_below = int(test_fraction * 2**64)  # exact: a double times a power of two
    validation_below = test_below + int(validation_fraction * 2**64)
    assignment = np.zeros(len(hashes), dtype=np.int8)
    assignment[hashes < np.uint64(validation_below)] = 1
    assignment[hashes < np.uint64(test_below)] = 2
    return {name: np.flatnonzero(assignment == i) for i, name in enumerate(SPLITS)}


def check_classes(rows):
    """Every split must hold both classes: {split: [retained rows, churned rows]}."""
    for name in SPLITS:
        if 0 in rows[name]:
            churned = sum(r[1] for r in rows.values())
            retained = sum(r[0] for r in rows.values())
            raise DataError(
                "the %s split has no %s rows: the table has %d churned and %d "
                "retained rows, too few to split; add rows or change the fractions"
                % (name, "churned" if rows[name][1] == 0 else "retained", churned, retained)
            )


def split_hashes(df, schema, seed):
    """Each raw row's seeded 64-bit hash: of its id, or of the whole raw row where the schema
    has no id or the row's id is missing (hashing a missing id would put every such row in one
    split)."""
    key = "%016x" % (seed % 2**64)  # the 16 characters pandas' hash is keyed with
    if schema.id_column:
        ids = df[schema.id_column]
        missing = (ids.isna() | (ids.astype(str).str.strip() == "")).to_numpy()
        hashes = pd.util.hash_pandas_object(ids, index=False, hash_key=key).to_numpy()
        if not missing.any():
            return hashes
        rows = pd.util.hash_pandas_object(df[missing], index=False, hash_key=key).to_numpy()
        hashes = hashes.copy()  # pandas' array is read-only
        hashes[missing] = rows
        return hashes
    return pd.util.hash_pandas_object(df, index=False, hash_key=key).to_numpy()


def as_table(df):
    return {str(c): df[c].to_numpy() for c in df.columns}


def check_reproducible(fitted, df, schema, feature_names):
    """A request carries the schema's features only: the fitted recipe replayed on just those
    columns must give every feature the model is trained on, or the registered model would
    answer every request with an error."""
    sample = as_table(df[schema.feature_names].head(5))
    try:
        produced = transform(sample, fitted)
    except RecipeError as e:
        raise RecipeError(
            "the recipe needs more than the schema's features (%s): %s"
            % (", ".join(schema.feature_names), e)
        )
    missing = [name for name in feature_names if name not in produced]
    if missing:
        raise RecipeError(
            "the recipe makes features %s from columns a request does not carry; list those "
            "columns in the schema's features, or change the recipe" % ", ".join(missing)
        )


def write_xgboost_csv(path, labels, features):
    """Label first, no header, no index: what the XGBoost container's CSV reader expects.
    Nine significant digits round-trip float32 exactly: training then sees the very values
    inference computes, which matters because tree split points are data values. The bytes are
    those of pandas' to_csv(float_format="%.9g"), written a block of rows at a time: pandas
    checks every value for NaN in Python before formatting it, three quarters of its time."""

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            write_csv_rows(f, labels, features)

    write_atomic(path, write)


def write_csv_rows(f, labels, features):
    """Append rows to an open text file as write_xgboost_csv writes them."""
    labels = np.asarray(labels).astype(np.float32).astype(np.int8)
    features = np.asarray(features, dtype=np.float32)
    for start in range(0, len(labels), CSV_BLOCK_ROWS):
        block = slice(start, start + CSV_BLOCK_ROWS)
        columns = [[str(v) for v in labels[block].tolist()]]
        columns += [format_floats(column) for column in features[block].T]
        f.write("".join(",".join(row) + "\n" for row in zip(*columns)))


def format_floats(values):
    """What to_csv(float_format="%.9g") writes for each value: "%.9g" of the value widened to
    a double, and nothing for NaN."""
    text = ["%.9g" % v for v in values.astype(np.float64).tolist()]
    for i in np.flatnonzero(np.isnan(values)).tolist():
        text[i] = ""
    return text


SPLIT_READERS = {"train": "training", "test": "processing"}  # the instances given its parts


def check_parts(name, parts):
    if parts < 1:
        raise DataError("--%s-parts is %d; it must be at least 1" % (name, parts))


def split_files(folder, name, parts, row_count):
    """(path, row slice) of each file a split is written as: one file, or `parts` consecutive
    runs of rows as even as they divide."""
    check_parts(name, parts)
    if parts == 1:
        return [(os.path.join(folder, name + ".csv"), slice(None))]
    if row_count < parts:
        raise DataError(
            "the %s split has %d rows, fewer than the %d %s instances that each need a "
            "part; use fewer instances or a larger table"
            % (name, row_count, parts, SPLIT_READERS[name])
        )
    bounds = [row_count * i // parts for i in range(parts + 1)]
    return [
        (os.path.join(folder, "%s-part-%05d.csv" % (name, i)), slice(bounds[i], bounds[i + 1]))
        for i in range(parts)
    ]


def preprocess(args):
    """One of the job's four modes: the whole table on one instance (default), or a divided
    job's three steps (--shard-of, --merge, --apply)."""
    started = time.time()
    schema = load_schema(args.schema)
    if args.merge:
        return fit_from_summaries(args, schema, started)
    if args.apply:
        return apply_to_share(args, schema, started)
    steps = recipe_steps(args, schema)
    if args.shard_of:
        return summarize_share(args, schema, started)
    df = read_table(args.input, schema)
    labels = labels_from_target(df[schema.target], schema)
    hashes = split_hashes(df, schema, args.seed)
    splits = hash_split(hashes, labels, args.validation_fraction, args.test_fraction)
    df = df.drop(columns=[schema.target])

    tables = split_tables(df, labels, splits)
    fitted, tables["train"] = fit(tables["train"], steps)
    for name in ("validation", "test"):
        tables[name] = transform(tables[name], fitted, filter_rows=True)
    feature_names = [c for c in tables["train"] if c != LABEL]
    check_reproducible(fitted, df, schema, feature_names)

    parts = {"train": args.train_parts, "test": args.test_parts}
    files = {  # every split's files known before any is written: a refusal publishes nothing
        name: split_files(
            os.path.join(args.output_dir, name), name, parts.get(name, 1), len(tables[name][LABEL])
        )
        for name in SPLITS
    }
    write_splits(tables, feature_names, files)
    rows = {
        name: split_rows(int((tables[name][LABEL] == 0).sum()), int(tables[name][LABEL].sum()))
        for name in SPLITS
    }
    summary = summarize(df, labels, splits, schema)
    path = os.path.join(args.output_dir, "preprocessing", "preprocessing.json")
    spec = write_spec(path, args, schema, fitted, feature_names, summary, rows)
    print(
        "preprocess: %d rows -> %s; %d features; %.2f s"
        % (len(labels), split_sizes(rows), len(feature_names), time.time() - started)
    )
    return spec


LABEL = "\0label"  # rides along in a split's table so row filters drop the label with its row
SUMMARY_FILE = "preprocess_summary.npz"
SAMPLE_ROWS = 5  # raw rows a summary carries for the merge to lay the recipe's columns out


def recipe_steps(args, schema):
    """The recipe to fit: --recipe, else the schema's, else the one the schema implies."""
    if args.recipe:
        with open(args.recipe, encoding="utf-8") as f:
            steps = json.load(f)
    else:
        steps = schema_recipe(schema)
    steps = normalize_steps(steps)
    for step in steps:
        if step["Action"]["Parameters"].get("sourceColumn") == schema.target:
            raise RecipeError(
                "the recipe touches the target column %r; the schema maps the "
                "target, leave it out of the recipe" % schema.target
            )
    return steps


def split_tables(df, labels, splits):
    """{split: table of its rows, the label beside the columns}."""
    tables = {}
    for name, idx in splits.items():
        table = as_table(df.iloc[idx])
        table[LABEL] = labels[idx]
        tables[name] = table
    return tables


def write_splits(tables, feature_names, files):
    for name, table in tables.items():
        matrix = feature_matrix(table, feature_names)
        for path, part in files[name]:
            write_xgboost_csv(path, table[LABEL][part], matrix[part])


def split_rows(retained, churned):
    """A split's size and churn rate, as preprocessing.json records them."""
    rows = retained + churned
    return {"rows": rows, "positive_rate": round(churned / float(rows), 6)}


def split_sizes(rows):
    return ", ".join("%s %d" % (n, rows[n]["rows"]) for n in SPLITS)


def summarize_share(args, schema, started):
    """PreprocessShards: this instance's rows summarised (churn_checks), --chunk-rows at a
    time, for the merge."""
    host = current_host(args.shard_of)
    summary, columns, sample = empty_summary(schema), None, []
    for first, chunk in read_chunks(csv_files(args.input, True), schema, args.chunk_rows):
        labels = labels_from_target(chunk[schema.target], schema, first)
        hashes = split_hashes(chunk, schema, args.seed)
        splits = assign_splits(hashes, args.validation_fraction, args.test_fraction)
        frame = chunk.drop(columns=[schema.target])
        summary = merge([summary, summarize(frame, labels, splits, schema)])
        if columns is None:  # the first rows: what the merge lays the recipe's columns out on
            columns = [str(c) for c in frame.columns]
            head = frame.head(SAMPLE_ROWS).astype(object)
            sample = head.where(head.notna(), None).to_numpy().tolist()
    save_summary(
        os.path.join(args.output_dir, host, SUMMARY_FILE), summary, schema, columns, sample
    )
    print(
        "preprocess: %s summarised %d rows; %.2f s"
        % (host, sum(sum(r) for r in summary["rows"].values()), time.time() - started)
    )


def fit_from_summaries(args, schema, started):
    """PreprocessData divided: the instances' summaries merged; the recipe fitted from their
    value counts (fit_counts) and the data checks from their counts; no row is read."""
    steps = recipe_steps(args, schema)
    removing = removes_rows(steps)
    if removing:
        raise NotReplayable(
            "%s; a divided PreprocessData writes each instance's rows as they come, so the "
            "recipe must keep every row: run with ProcessingInstanceCount 1" % removing
        )
    shares = [
        load_summary(path, schema)
        for path in shard_results(args.merge, SUMMARY_FILE, "preprocess.py --shard-of")
    ]
    given = [share for share in shares if share[1] is not None]
    if not given:
        raise DataError("no instance was given a row of the table under %s" % args.merge)
    columns, sample = given[0][1], given[0][2]
    for _, other, _ in given:
        if other != columns:
            raise DataError(
                "the instances read tables with different headers (%s; %s)"
                % (", ".join(columns), ", ".join(other))
            )
    summary = merge([share[0] for share in given])
    check_classes(summary["rows"])
    fitted = fit_counts(columns, recipe_counts(summary), steps)
    sample = pd.DataFrame(sample, columns=columns).infer_objects()
    laid_out = transform(as_table(sample), fitted, filter_rows=True)
    feature_names = list(laid_out)
    check_reproducible(fitted, sample, schema, feature_names)
    rows = {name: split_rows(*summary["rows"][name]) for name in SPLITS}
    path = os.path.join(args.output_dir, "preprocessing.json")
    spec = write_spec(path, args, schema, fitted, feature_names, summary, rows)
    print(
        "preprocess: %d rows in %d summaries -> %s; %d features; %.2f s"
        % (
            sum(r["rows"] for r in rows.values()),
            len(shares),
            split_sizes(rows),
            len(feature_names),
            time.time() - started,
        )
    )
    return spec


def apply_to_share(args, schema, started):
    """PreprocessApply: the fitted recipe replayed on this instance's rows, --chunk-rows at a
    time, written as its part of each split: the train rows as --train-parts files (dealt
    round-robin, so the parts differ by a row at most and training host t reads part t of
    every instance), validation and test as one file each, numbered by the instance's place
    among the job's hosts so the parts' names are in the instances' order. Nothing is
    published until every row is written."""
    with open(os.path.join(args.apply, "preprocessing.json"), encoding="utf-8") as f:
        spec = json.load(f)
    removing = removes_rows(spec["recipe"])
    if removing:
        raise NotReplayable("%s: PreprocessApply writes every row it is given" % removing)
    split = spec["split"]
    place, hosts = host_place(args.resource_config)
    check_parts("train", args.train_parts)
    parts = {"train": args.train_parts, "validation": 1, "test": 1}
    rows = dict.fromkeys(SPLITS, 0)
    with PartWriter(args.output_dir, place, parts) as writer:
        for first, chunk in read_chunks(csv_files(args.input, True), schema, args.chunk_rows):
            labels = labels_from_target(chunk[schema.target], schema, first)
            hashes = split_hashes(chunk, schema, split["seed"])
            splits = assign_splits(hashes, split["validation_fraction"], split["test_fraction"])
            tables = split_tables(chunk.drop(columns=[schema.target]), labels, splits)
            for name, table in tables.items():
                table = transform(table, spec["recipe"], filter_rows=True)
                dealt = (rows[name] + np.arange(len(table[LABEL]))) % parts[name]
                writer.write(
                    name, dealt, table[LABEL], feature_matrix(table, spec["feature_names"])
                )
                rows[name] += len(table[LABEL])
    print(
        "preprocess: %s wrote %s; %.2f s"
        % (
            hosts[place],
            split_sizes({n: {"rows": r} for n, r in rows.items()}),
            time.time() - started,
        )
    )


class PartWriter(PublishedTogether):
    """The split files of one PreprocessApply instance, written a chunk at a time and
    published together when every chunk is in (a file no row reached is not created: a host
    given none reads the other instances' parts)."""

    def __init__(self, output_dir, place, parts):
        super(PartWriter, self).__init__()
        self.output_dir, self.place, self.parts = output_dir, place, parts

    def path(self, name, part):
        number = self.place * self.parts[name] + part
        return os.path.join(self.output_dir, name, "%s-part-%05d.csv" % (name, number))

    def write(self, name, part, labels, matrix):
        for p in np.unique(part).tolist():
            chosen = part == p
            write_csv_rows(self.file(self.path(name, p)), labels[chosen], matrix[chosen])


def host_place(resource_config):
    """(this instance's index among the job's hosts, the hosts) from resourceconfig.json."""
    host = current_host(resource_config)
    with open(resource_config, encoding="utf-8") as f:
        hosts = json.load(f).get("hosts")
    if not isinstance(hosts, list) or host not in hosts:
        raise OSError("%s does not list this instance %r among its hosts" % (resource_config, host))
    return hosts.index(host), hosts


def write_spec(path, args, schema, fitted, feature_names, summary, rows):
    """preprocessing.json: the fitted recipe, the features, the input rules, the data checks
    and the split, as one instance and a divided job both write it."""
    spec = {
        "format": FORMAT,
        "schema": schema.name,
        "id_column": schema.id_column,
        "target_column": schema.target,
        "positive_value": schema.positive,
        "input_columns": schema.feature_names,
        "missing_values": schema.missing_values,
        "input_rules": feature_rules(schema, table_categories(summary, schema)),
        "recipe": fitted,
        "feature_names": feature_names,
        "data_checks": data_checks(summary, schema),
        "split": {
            "seed": args.seed,
            "validation_fraction": args.validation_fraction,
            "test_fraction": args.test_fraction,
            "splits": rows,
        },
    }
    try:  # inference replays these numbers: Infinity or NaN in them would poison every answer
        text = json.dumps(spec, indent=1, default=_json_default, allow_nan=False)
    except ValueError:
        raise DataError(
            "the fitted recipe holds a value that is not a finite number; check the numeric "
            "columns for overflowing values"
        )
    write_text_atomic(path, text)
    return spec


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError("not JSON serializable: %r" % (value,))


if __name__ == "__main__":
    try:
        preprocess(parse_args())
    except (SchemaError, RecipeError, DataError, InputValueError, OSError) as e:
        fail("preprocess", str(e), FAILURE_FILE)
