"""Validate a raw churn table against its schema with Great Expectations before preprocessing.

Runs unchanged as a SageMaker Processing job (sklearn image plus requirements.txt), under the
local runner and in a test. Reads every CSV under --input (a folder, so sharded inputs work, or
one file) as raw text, builds an expectation suite from the schema and validates the table:

  - every required column (id, features, target) is present; a missing column is reported and
    its other checks are skipped
  - numeric columns hold numbers (integer columns whole numbers: by value, so 42, 42.0 and 4.2e1
    all pass, as they do when a request is scored), checked on the raw text so the count of bad
    rows is exact
  - values lie within the schema's min / max; categorical and target values lie in their sets
  - completeness: the share of non-missing values reaches the schema's threshold
  - ids are unique; the table has at least one row

Writes <output-dir>/validation_report.json (our summary: one entry per check with its column,
outcome, bad-row count, examples and, beside each example, the file it is in, relative to the
input, and its line: the data row + 2, as the header is line 1 and rows count from 0; a row
after a blank line or a quoted line break sits further down) and
<output-dir>/ge_validation_result.json (Great Expectations' own results), each under a
temporary name and then renamed. Exits 0 when every check
passes; otherwise exits 1 with a message naming each failed check, its column and its count, also
written to /opt/ml/output/message for SageMaker's failure reason.

The table is validated in batches of --chunk-rows rows (a million by default), and its ids
compared about as many at a time, so a job's memory does not grow with the table; the same
mechanics divide the work over the instances of two jobs (the pipeline's ValidateShards and
ValidateData steps):

  --shard-of RESOURCE_CONFIG   each instance runs the suite on its share of the files and writes
                               <output-dir>/<its host>/validation_shard.json (per batch and
                               check: the count, the first bad values with the file and row of
                               each), the ids of its rows in three binary files and its GE
                               results beside it. Exits 0 whatever the data holds: a verdict
                               needs every shard.
  --merge DIR                  reads every shard result under DIR and writes the report, with
                               the verdict and exit code of an unsharded run.

An unsharded run is its batches merged, so the report is the same for any number of instances
and any batch size: counts add up, completeness is judged on the whole table, ids are compared
across batches (one range of their hashes at a time, so the merge's memory is bounded too),
and examples are the table's first bad values in file and row order.
ge_validation_result.json holds Great Expectations' own results, one per batch.
"""

import argparse
import bisect
import functools
import gc
import json
import math
import os
import re
import sys
import tempfile
import time

STARTED = time.time()  # the reported time includes the imports, most of the job's cost

# Set before Great Expectations is imported: it reads this once, and the job must not phone home.
os.environ["GX_ANALYTICS_ENABLED"] = "False"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from churn_checks import encoded  # noqa: E402
from churn_io import (  # noqa: E402
    DataError,
    column_union,
    csv_files,
    read_raw_chunks,
    schema_columns,
)
from churn_job import (  # noqa: E402
    PublishedTogether,
    add_division_arguments,
    current_host,
    shard_results,
    write_failure_message,
    write_text_atomic,
)
from churn_recipe import INTEGER_PATTERN, NUMBER_PATTERN  # noqa: E402
from churn_rules import near_miss  # noqa: E402
from churn_schema import SchemaError, load_schema  # noqa: E402

FAILURE_FILE = "/opt/ml/output/message"
REPORT_FILE = "validation_report.json"
GE_RESULT_FILE = "ge_validation_result.json"
SHARD_FILE = "validation_shard.json"
# 2: input_files relative to the input; unexpected_example_lines (file and line of each
# example) added since, which readers of 2 may ignore
FORMAT = "churn-validation/2"
SHARD_FORMAT = "churn-validation-shard/3"  # 2: one part per batch; 3: ids in binary files
# A shard's ids travel beside its result in binary files (no pickle), which the merge reads
# memory-mapped, so neither job's memory grows with the table: per batch, a (hash, shard row)
# record of each present id, sorted by hash; the ids' UTF-8 bytes in shard row order; and
# where each row's id ends in them (a missing id is empty there and has no record).
ID_RECORDS = "validation_id_records.bin"
ID_TEXT = "validation_id_text.bin"
ID_ENDS = "validation_id_ends.bin"
RECORD = np.dtype([("hash", "<u8"), ("row", "<i8")])
END = np.dtype("<i8")
ID_HASH_KEY = "churn ids unique"  # the 16 characters pandas' hash is keyed with
# A row's place in the table as one integer: its file's rank in name order, then its row.
FILE_ROW_BITS = 40

# Range and overflow checks need numbers while the type checks need the raw text, so a numeric
# column gets a parsed copy under this derived name in the frame Great Expectations sees.
PARSED_SUFFIX = " (as number)"
# An integer column's type check reads its raw text with every whole number (in any spelling
# of the number grammar, 4.2e1 too) written as "0": whole is a property of the value, as the
# input rules of scoring judge it (processing/churn_rules.py), and the examples stay raw text.
WHOLE_SUFFIX = " (whole numbers as 0)"
OVERFLOW = float("inf")  # what a number beyond a 64-bit float parses to
EXAMPLES = 5
# GE keeps the first bad values of each check; the examples come from the first of those.
PARTIAL_UNEXPECTED = 20
# Rows Great Expectations validates at a time: about 900 MB of job memory per million.
CHUNK_ROWS = 1000000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--input",
        default="/opt/ml/processing/input/data",
        help="a CSV file or a folder of CSV files (all read, in name order)",
    )
    p.add_argument("--schema", default="seed", help="shipped schema name or schema file path")
    p.add_argument("--output-dir", default="/opt/ml/processing/validation")
    add_division_arguments(p, CHUNK_ROWS, "partial result", "report")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- reading


def validation_frame(raw, schema):
    """The frame the suite runs on: the schema's columns as raw text, the target stripped (as
    preprocess compares it), plus a parsed copy of each numeric column. Text is held as
    Arrow-backed strings where pandas has them: Great Expectations' regex checks then run in
    RE2 over the whole column."""
    columns = [c for c in schema.required_columns if c in raw.columns]
    frame = raw[columns].copy()
    if ARROW_TEXT is not None:
        frame = frame.astype(ARROW_TEXT)
    if schema.target in frame.columns:
        frame[schema.target] = frame[schema.target].str.strip()
    for feature in schema.features:
        if feature.name in frame.columns and feature.is_numeric:
            derived = [feature.name + PARSED_SUFFIX]
            if feature.integer:
                derived.append(feature.name + WHOLE_SUFFIX)
            for name in derived:
                if name in frame.columns:
                    raise SchemaError(
                        "column %r clashes with a derived copy of %r; rename it"
                        % (name, feature.name)
                    )
            parsed = parse_numbers(frame[feature.name])
            frame[derived[0]] = parsed
            if feature.integer:
                whole = np.isfinite(parsed) & (parsed == np.floor(parsed))
                frame[derived[1]] = frame[feature.name].mask(whole, "0")
    return frame


def arrow_text():
    """pandas' Arrow-backed string type with NaN for missing (pandas 2.1+), or None."""
    try:
        return pd.StringDtype("pyarrow", na_value=float("nan"))
    except (TypeError, ValueError, ImportError):
        return None


ARROW_TEXT = arrow_text()


def parse_numbers(text):
    """Only values that pass the number check are parsed, so a bad value is counted once, by
    the type check, and never again by the range check. Parsed as preprocess parses them
    (numpy's float64 conversion, which is float() in C), so both read the same numbers."""
    values = text.to_numpy(dtype=object, na_value="nan")
    values[~matches(text, NUMBER_PATTERN)] = "nan"
    return pd.Series(values.astype(np.float64), index=text.index)


def matches(text, pattern):
    """re.match(pattern, value) for every value of a text column (missing: False), in one pass
    of RE2 over an Arrow array instead of a Python regex call per value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pa.array(text, type=pa.string(), from_pandas=True)
    re2 = vectorised_pattern(pattern)[: -len(r"\Z")] + r"\z"  # RE2 spells the end \z
    found = pc.match_substring_regex(values, re2)
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def vectorised_pattern(pattern):
    """`pattern` (anchored by ^ and $) spelt so that Python's re and RE2 read it alike, which
    lets pandas run it in RE2 over an Arrow column: RE2's \\s is ASCII whitespace where
    Python's is every character str.isspace() accepts, so \\s becomes that set, written out;
    Python's $ also matches before a final newline, RE2's does not, and \\Z (which pandas hands
    RE2 as \\z) is the end for both; the trailing whitespace set takes a final newline anyway.
    The patterns use nothing else the two engines read apart."""
    if not (pattern.startswith("^") and pattern.endswith(r"\s*$")):
        raise ValueError("%r does not start with ^ and end with \\s*$" % pattern)
    return pattern[:-1].replace(r"\s", python_whitespace()) + r"\Z"


@functools.lru_cache(maxsize=None)
def python_whitespace():
    # re's \s is str.isspace() (both ask Py_UNICODE_ISSPACE): one scan of every character
    # instead of a Python call per character (0.01 s against 0.28 s of each job).
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    return "[" + "".join(re.findall(r"\s", every)) + "]"


def has_bounds(feature):
    return feature.is_numeric and (feature.min is not None or feature.max is not None)


# ----------------------------------------------------------------------------- the checks


class Check(object):
    """One rule from the schema: the GE expectation that tests it and how to word the result."""

    def __init__(self, column, expectation, kwargs, rule, problem):
        self.column = column  # the table column the rule is about; None: the table
        self.expectation = expectation  # GE class name, e.g. "ExpectColumnValuesToBeBetween"
        self.kwargs = kwargs  # the expectation's arguments (incl. the column it reads)
        self.rule = rule  # what passing means, e.g. "values in [0, 120]"
        self.problem = problem  # failure wording; {rows}, {percent}, {observed} filled in


def plan_checks(schema, table_columns):
    """The suite, in report order. A missing column gets its existence check only: the rest of
    its checks would fail for the same reason and hide what to fix."""
    checks = [
        Check(
            None,
            "ExpectTableRowCountToBeBetween",
            {"min_value": 1},
            "at least 1 row",
            "{observed} rows, expected at least 1",
        )
    ]
    # Listing what the table has makes a misspelt or differently cased header easy to spot.
    shown = ", ".join(str(c) for c in table_columns[:20])
    if len(table_columns) > 20:
        shown += ", ... (%d in all)" % len(table_columns)
    for column in schema.required_columns:
        checks.append(
            Check(
                column,
                "ExpectColumnToExist",
                {"column": column},
                "column present",
                "column is missing from the table (its columns: %s)" % shown,
            )
        )
        if column in table_columns:
            checks.extend(column_checks(schema, column))
    return checks


def column_checks(schema, column):
    if column == schema.id_column:
        return [
            completeness_check(column, schema.id_completeness),
            Check(
                column,
                "ExpectColumnValuesToBeUnique",
                {"column": column},
                "ids unique",
                "{rows} have a duplicated id",
            ),
        ]
    if column == schema.target:
        return [completeness_check(column, 1.0), in_set_check(column, schema.target_values)]
    feature = schema.feature(column)
    checks = [completeness_check(column, feature.completeness, feature=True)]
    if feature.is_numeric:
        checks.append(type_check(feature))
        checks.append(finite_check(feature))
        if has_bounds(feature):
            checks.append(range_check(feature))
    elif feature.values is not None:
        checks.append(in_set_check(column, feature.values))
    return checks


def completeness_check(column, completeness, feature=False):
    """Non-missing values in at least `completeness` of the rows. A feature's failure says how
    the schema allows gaps: without "completeness" every value is required, which a user who
    never wrote that key cannot guess from a count."""
    # GE's `mostly` is the share of rows that must pass: the schema's completeness exactly.
    if not 0.0 <= completeness <= 1.0:
        raise SchemaError(
            "completeness of %r is %r; it must be between 0 and 1" % (column, completeness)
        )
    if completeness >= 1.0:
        problem = "{rows} missing"
        if feature:
            problem += (
                '; the schema requires every value of %s (a feature without "completeness" '
                'must be complete): to allow gaps, give it "completeness", e.g. 0.99 (a gap '
                'is an empty field or a spelling listed in "missing_values")' % column
            )
        return Check(
            column,
            "ExpectColumnValuesToNotBeNull",
            {"column": column},
            "no missing values",
            problem,
        )
    required = "%g%%" % (100.0 * completeness)
    return Check(
        column,
        "ExpectColumnValuesToNotBeNull",
        {"column": column, "mostly": completeness},
        "at least %s of values present" % required,
        "{rows} missing ({percent}), schema requires at least %s present" % required,
    )


def type_check(feature):
    if feature.integer:
        return Check(
            feature.name,
            "ExpectColumnValuesToMatchRegex",
            {"column": feature.name + WHOLE_SUFFIX, "regex": vectorised_pattern(INTEGER_PATTERN)},
            "whole numbers",
            "{rows} with non-integer values",
        )
    return Check(
        feature.name,
        "ExpectColumnValuesToMatchRegex",
        {"column": feature.name, "regex": vectorised_pattern(NUMBER_PATTERN)},
        "numbers",
        "{rows} with non-numeric values",
    )


def finite_check(feature):
    """Numbers the grammar allows can still overflow a 64-bit float (1e309, a 400-digit
    integer): they would become inf and erase the feature when it is scaled."""
    return Check(
        feature.name,
        "ExpectColumnValuesToNotBeInSet",
        {"column": feature.name + PARSED_SUFFIX, "value_set": [OVERFLOW, -OVERFLOW]},
        "finite numbers",
        "{rows} too large for a 64-bit float (beyond 1.8e308)",
    )


def range_check(feature):
    kwargs = {"column": feature.name + PARSED_SUFFIX}
    if feature.min is not None:
        kwargs["min_value"] = feature.min
    if feature.max is not None:
        kwargs["max_value"] = feature.max
    if feature.min is not None and feature.max is not None:
        bounds = "[%s, %s]" % (feature.min, feature.max)
        return Check(
            feature.name,
            "ExpectColumnValuesToBeBetween",
            kwargs,
            "values in %s" % bounds,
            "{rows} outside %s" % bounds,
        )
    if feature.min is not None:
        return Check(
            feature.name,
            "ExpectColumnValuesToBeBetween",
            kwargs,
            "values >= %s" % feature.min,
            "{rows} below %s" % feature.min,
        )
    return Check(
        feature.name,
        "ExpectColumnValuesToBeBetween",
        kwargs,
        "values <= %s" % feature.max,
        "{rows} above %s" % feature.max,
    )


def in_set_check(column, values):
    allowed = "{%s}" % ", ".join(values)
    return Check(
        column,
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": values},
        "values in %s" % allowed,
        "{rows} with values outside %s" % allowed,
    )


# ----------------------------------------------------------------------------- running GE


@functools.lru_cache(maxsize=None)
def ge_context():
    """One ephemeral context (no project folder, stores in memory) for every batch."""
    # Imported here, not at the top: the import takes seconds, and a missing or unreadable
    # input should fail before paying for it.
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GE fingerprints (hashes every cell of) a frame below this many bytes into a batch
    # marker nothing reads, and skips it above: 0.7 s of each million-row batch's 3.5 s.
    # Lowering GE's own threshold skips it always; its results are the same without it.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # they spam the log
    return context


def run_suite(frame, checks, suite_name):
    """Validate the frame with an in-memory suite; returns GE's suite result and one
    expectation result per check, in the order of `checks`."""
    import great_expectations as gx

    context = ge_context()
    expectations = []
    for i, check in enumerate(checks):
        expectation_class = getattr(gx.expectations, check.expectation)
        # GE returns results grouped by column, not in suite order: the index in meta maps
        # each result back to its check.
        expectations.append(expectation_class(meta={"check": i}, **check.kwargs))
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))

    asset = context.data_sources.add_pandas(suite_name).add_dataframe_asset("table")
    rows = asset.add_batch_definition_whole_dataframe("all rows")
    # A validation definition loads the batch once; Batch.validate would load it twice.
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=rows, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_UNEXPECTED},
    )
    # Nothing of this batch stays in the context: the next one would otherwise sit beside it.
    context.validation_definitions.delete(suite_name)
    context.suites.delete(suite_name)
    context.data_sources.delete(suite_name)

    by_check = {}
    for r in result.results:
        by_check[r.expectation_config.meta["check"]] = r
    return result, [by_check[i] for i in range(len(checks))]


# ----------------------------------------------------------------------------- one shard


def check_shard(schema, input_path, files, chunk_rows, folder):
    """Run the suite on these files (one instance's share of the table, or all of it), one
    batch of about `chunk_rows` rows at a time, so memory does not grow with the table.
    Returns the shard's result, JSON-safe, with one part per batch, and GE's own results;
    writes the ids of its rows into `folder`."""
    shard = {"format": SHARD_FORMAT, "schema": schema.name, "input": input_path, "parts": []}
    # Named relative to the input: every instance has its own copy of the input folder (on
    # SageMaker at the same path, under the local runner in its own host folder).
    root = input_path if os.path.isdir(input_path) else os.path.dirname(input_path)
    ge_results = []
    with PublishedTogether() as published:
        ids = IdWriter(published, folder)
        for batch in batches(files, schema, chunk_rows):
            part, ge_result = check_batch(schema, root, batch, len(ge_results), ids)
            shard["parts"].append(part)
            ge_results.append(ge_result)
            # Great Expectations' objects hold the batch's frame in reference cycles, which
            # only the cyclic collector frees: without this, batches pile up (at 10M rows a
            # peak of 2.3 GB instead of 0.9 GB).
            gc.collect()
    return shard, ge_results


class IdWriter(object):
    """Appends each batch's ids to a shard's id files."""

    def __init__(self, published, folder):
        self.records = published.file(os.path.join(folder, ID_RECORDS), binary=True)
        self.text = published.file(os.path.join(folder, ID_TEXT), binary=True)
        self.ends = published.file(os.path.join(folder, ID_ENDS), binary=True)
        self.rows = self.size = 0  # the shard's rows and id bytes so far

    def add(self, ids, rows):
        """A batch's ids (its id column, or None where no file has one) -> its records."""
        values = np.full(rows, np.nan, dtype=object) if ids is None else ids.to_numpy(object)
        arrays = encoded("id", values)
        present = np.flatnonzero(~arrays["id_missing"])
        hashes = pd.util.hash_array(values[present], hash_key=ID_HASH_KEY, categorize=False)
        order = np.argsort(hashes)
        records = np.empty(len(present), dtype=RECORD)
        records["hash"] = hashes[order]
        records["row"] = self.rows + present[order]
        self.records.write(records.tobytes())
        self.text.write(arrays["id_text"].tobytes())
        self.ends.write((self.size + arrays["id_ends"]).astype(END).tobytes())
        self.rows += rows
        self.size += len(arrays["id_text"])
        return len(records)


def batches(files, schema, rows):
    """Lists of (file, first row, frame) chunks, about `rows` rows a list: big files in
    several batches, small ones together."""
    batch, size = [], 0
    for chunk in read_raw_chunks(files, schema, object, rows):
        batch.append(chunk)
        size += len(chunk[2])
        if size >= rows:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def check_batch(schema, root, batch, index, ids):
    """The suite on one batch. Returns its part of the shard result and GE's result; its ids
    go to the `ids` writer (uniqueness is a property of the whole table: the merge compares
    every shard's)."""
    frames = [frame for _, _, frame in batch]
    raw = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    checks = plan_checks(schema, column_union(list(f.columns) for f in frames))
    ge_result, results = run_suite(
        validation_frame(raw, schema), checks, "churn-%s-%d" % (schema.name, index)
    )
    # The frame's rows are the chunks' rows in order: starts[k] is chunk k's first row.
    starts = [0]
    for f in frames:
        starts.append(starts[-1] + len(f))
    pieces = [
        {
            "path": os.path.relpath(name, root),
            "first_row": first,
            "rows": len(f),
            "columns": [str(c) for c in f.columns],
        }
        for name, first, f in batch
    ]
    checks = [shard_check(c, r, pieces, starts) for c, r in zip(checks, results)]
    records = ids.add(raw.get(schema.id_column), len(raw))
    return {"pieces": pieces, "checks": checks, "id_records": records}, ge_result


def shard_check(check, result, pieces, starts):
    """One check's outcome on a batch: GE's count and first bad values, each value
    with its file and row so the merge can put every batch's values in table order."""
    details = result.result or {}
    exception = result.exception_info or {}
    values = details.get("partial_unexpected_list") or []
    rows = details.get("partial_unexpected_index_list") or []
    if len(rows) != len(values):
        raise RuntimeError(
            "Great Expectations gave %d bad values but %d rows" % (len(values), len(rows))
        )
    examples = []
    for row, value in zip(rows, values):
        k = bisect.bisect_right(starts, row) - 1
        piece = pieces[k]
        examples.append([piece["path"], piece["first_row"] + int(row) - starts[k], plain(value)])
    unexpected = details.get("unexpected_count")
    return {
        "expectation": check.expectation,
        "column": check.column,
        "unexpected_count": None if unexpected is None else int(unexpected),
        "error": (
            str(exception.get("exception_message")) if exception.get("raised_exception") else None
        ),
        "examples": examples,
    }


def plain(value):
    """A numpy scalar as the Python value json writes (NaN stays NaN: a missing value)."""
    return value.item() if hasattr(value, "item") else value


def read_shards(folder):
    """Every shard result under `folder` (one per instance of the sharded job)."""
    shards = []
    for path in shard_results(folder, SHARD_FILE, "validate.py"):
        try:
            with open(path, encoding="utf-8") as f:
                shard = json.load(f)
        except ValueError as e:
            raise DataError("%s is not a shard result: %s" % (path, e))
        if not isinstance(shard, dict) or shard.get("format") != SHARD_FORMAT:
            raise DataError("%s is not a %s shard result" % (path, SHARD_FORMAT))
        problem = shard_problem(shard)
        if problem:
            raise DataError("%s is not a whole shard result: %s" % (path, problem))
        shard["folder"] = os.path.dirname(path)  # where its id files are
        shards.append(shard)
    return shards


def shard_problem(shard):
    """What makes a shard result unusable (a truncated or edited file), or None: the merge
    then reads only fields that are there, with the types it expects."""
    if not isinstance(shard.get("input"), str) or not isinstance(shard.get("parts"), list):
        return "it lacks its input or parts"
    for part in shard["parts"]:
        if not isinstance(part, dict) or not all(
            isinstance(part.get(k), list) for k in ("pieces", "checks")
        ):
            return "a part lacks its pieces or checks"
        if not isinstance(part.get("id_records"), int) or part["id_records"] < 0:
            return "a part lacks its count of ids"
        for piece in part["pieces"]:
            fields = [(piece.get("path"), str), (piece.get("first_row"), int),
                      (piece.get("rows"), int), (piece.get("columns"), list)]  # fmt: skip
            if not all(isinstance(v, t) for v, t in fields):
                return "a piece lacks its path, first row, row count or columns"
            if piece["first_row"] < 0 or piece["rows"] < 0:
                return "a piece has a negative first row or row count"
        for check in part["checks"]:
            count = check.get("unexpected_count")
            if not (
                isinstance(check.get("expectation"), str)
                and (count is None or isinstance(count, int))
                and isinstance(check.get("examples"), list)
                and all(isinstance(e, list) and len(e) == 3 for e in check["examples"])
            ):
                return "a check lacks its expectation, count or examples"
    return None


# ----------------------------------------------------------------------------- the merge


class Outcome(object):
    """A check's result on the whole table, from one or more shards."""

    def __init__(
        self, success, unexpected_count=None, first_bad=(), observed=None, error=None, where=()
    ):
        self.success = success
        self.unexpected_count = unexpected_count
        self.first_bad = list(first_bad)  # the table's first bad values, in row order
        self.where = list(where)  # (file, data row) of each of them, where known
        self.observed = observed
        self.error = error


def merge_shards(schema, shards, chunk_rows):
    """(input files, columns, row count, checks, outcomes) of the whole table: the checks
    an unsharded run would plan, each judged by GE's rule on the batches' summed counts."""
    for shard in shards:
        if shard.get("schema") != schema.name:
            raise DataError(
                "a shard was validated against schema %r, not %r"
                % (shard.get("schema"), schema.name)
            )
    parts = [part for shard in shards for part in shard["parts"]]
    pieces = sorted(
        (piece for part in parts for piece in part["pieces"]),
        key=lambda p: (p["path"], p["first_row"]),
    )
    if not pieces:
        raise DataError("no .csv file under %s" % shards[0]["input"])
    starts = [(p["path"], p["first_row"]) for p in pieces]
    if len(set(starts)) != len(starts):
        raise DataError("the shards overlap: some rows were validated by two instances")
    files = []
    for piece in pieces:
        if not files or files[-1] != piece["path"]:
            files.append(piece["path"])
    columns = column_union(p["columns"] for p in pieces)
    row_count = sum(p["rows"] for p in pieces)
    checks = plan_checks(schema, columns)
    outcomes = [
        (
            unique_outcome(shards, files, chunk_rows)
            if check.expectation == "ExpectColumnValuesToBeUnique"
            else merge_check(check, parts, pieces, row_count)
        )
        for check in checks
    ]
    return files, columns, row_count, checks, outcomes


def merge_check(check, parts, pieces, row_count):
    if check.expectation == "ExpectTableRowCountToBeBetween":
        return Outcome(row_count >= check.kwargs["min_value"], observed=row_count)
    if check.expectation == "ExpectColumnToExist":
        return Outcome(any(check.column in p["columns"] for p in pieces))
    unexpected, bad, errors = 0, [], []
    for part in parts:
        found = [
            c
            for c in part["checks"]
            if (c["expectation"], c["column"]) == (check.expectation, check.column)
        ]
        if found:
            unexpected += found[0]["unexpected_count"] or 0
            bad.extend(found[0]["examples"])
            if found[0]["error"]:
                errors.append(found[0]["error"])
        elif check.expectation == "ExpectColumnValuesToNotBeNull":
            # None of this batch's files has the column: each of its rows is missing there.
            unexpected += sum(p["rows"] for p in part["pieces"])
    bad.sort(key=lambda e: (e[0], e[1]))
    first_bad = [e[2] for e in bad[:PARTIAL_UNEXPECTED]]
    where = [(e[0], e[1]) for e in bad[:PARTIAL_UNEXPECTED]]
    if errors:
        return Outcome(False, unexpected, first_bad, error=errors[0], where=where)
    if check.expectation == "ExpectColumnValuesToNotBeNull":
        # GE's rule: the share of all rows that are present reaches `mostly`; an empty
        # table passes vacuously.
        mostly = check.kwargs.get("mostly", 1.0)
        success = row_count == 0 or (row_count - unexpected) / float(row_count) >= mostly
    else:
        # The other map checks have no `mostly`: one bad (non-missing) value fails them.
        success = unexpected == 0
    return Outcome(success, unexpected, first_bad, where=where)


def unique_outcome(shards, files, chunk_rows):
    """GE's uniqueness rule on every batch's ids: each present id that occurs more than once,
    in any file, counts once per row. The shards' records are compared one range of hashes
    at a time, about `chunk_rows` of them; rows whose hashes meet are then compared by their
    ids' text."""
    rank = {name: k for k, name in enumerate(files)}
    ids = [ShardIds(shard, rank) for shard in shards]
    ranges = max(1, -(-sum(s.count for s in ids) // chunk_rows))
    edges = [2**64 * r // ranges for r in range(ranges + 1)]
    count, first = 0, []  # first: (place, id) of the table's first rows with a duplicated id
    for low, high in zip(edges, edges[1:]):
        found = [s.records_between(low, high) for s in ids]
        hashes = np.concatenate([r["hash"] for r in found])
        order = np.argsort(hashes)
        ordered = hashes[order]
        met = np.zeros(len(order), dtype=bool)
        met[1:] = ordered[1:] == ordered[:-1]
        met[:-1] |= met[1:]
        met = order[met]
        if not len(met):
            continue
        rows = np.concatenate([r["row"] for r in found])[met]
        owner = np.concatenate([np.full(len(r), k) for k, r in enumerate(found)])[met]
        places, texts = [], []
        for k in np.unique(owner).tolist():
            places.append(ids[k].places(rows[owner == k]))
            texts.extend(ids[k].texts(rows[owner == k]))
        rows_met = pd.DataFrame({"place": np.concatenate(places), "id": texts})
        duplicated = rows_met[rows_met["id"].duplicated(keep=False)]
        count += len(duplicated)
        smallest = duplicated.nsmallest(PARTIAL_UNEXPECTED, "place")
        first = sorted(first + list(zip(smallest["place"].tolist(), smallest["id"].tolist())))
        first = first[:PARTIAL_UNEXPECTED]
    where = [(files[p >> FILE_ROW_BITS], p & (2**FILE_ROW_BITS - 1)) for p, _ in first]
    return Outcome(count == 0, count, [v for _, v in first], where=where)


class ShardIds(object):
    """One shard's id files, memory-mapped; a file whose size does not match the shard's
    result is refused."""

    def __init__(self, shard, file_rank):
        pieces = [piece for part in shard["parts"] for piece in part["pieces"]]
        counts = [part["id_records"] for part in shard["parts"]]
        self.folder, self.count = shard["folder"], sum(counts)
        mapped(self.folder, ID_RECORDS, RECORD, self.count)  # refused now if not whole
        self.ends = mapped(self.folder, ID_ENDS, END, sum(p["rows"] for p in pieces))
        self.text = mapped(
            self.folder, ID_TEXT, np.uint8, int(self.ends[-1]) if len(self.ends) else 0
        )
        bounds = np.cumsum([0] + counts)
        self.runs = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))  # one per batch
        # Shard row -> place in the table: its piece's file rank and first row, plus the rest.
        self.starts = np.cumsum([0] + [p["rows"] for p in pieces])
        self.firsts = np.array(
            [(file_rank[p["path"]] << FILE_ROW_BITS) + p["first_row"] for p in pieces],
            dtype=np.int64,
        )

    def records_between(self, low, high):
        """The records whose hash is at least `low` and below `high` (2**64: no bound)."""
        # Mapped afresh for each range: the pages read leave memory with the map, where one
        # map kept open would hold the whole file resident by the last range.
        records, found = mapped(self.folder, ID_RECORDS, RECORD, self.count), []
        for start, stop in self.runs:
            hashes = records["hash"][start:stop]
            a = np.searchsorted(hashes, np.uint64(low))
            b = stop - start if high >= 2**64 else np.searchsorted(hashes, np.uint64(high))
            found.append(np.array(records[start + a : start + b]))
        return np.concatenate(found) if found else np.empty(0, dtype=RECORD)

    def places(self, rows):
        """Each shard row's place in the table (its file's rank, then its row in the file)."""
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self.ends)):
            raise DataError("an id record names a row its shard does not have")
        piece = np.searchsorted(self.starts, rows, side="right") - 1
        return self.firsts[piece] + (rows - self.starts[piece])

    def texts(self, rows):
        """The ids of these shard rows."""
        # An edited ends file gives wrong or empty ids here, never an index error.
        ends = self.ends[rows]
        starts = np.where(rows > 0, self.ends[np.maximum(rows - 1, 0)], 0)
        return [
            self.text[a:b].tobytes().decode("utf-8", "replace")
            for a, b in zip(starts.tolist(), ends.tolist())
        ]


def mapped(folder, name, dtype, count):
    """`count` items of `dtype` from the binary file `name` in `folder`, memory-mapped."""
    path = os.path.join(folder, name)
    try:
        size = os.path.getsize(path)
    except OSError:
        raise DataError("%s is not a whole shard result: it lacks %s" % (folder, name))
    if size != count * np.dtype(dtype).itemsize:
        raise DataError(
            "%s is not a whole shard result: %s is cut short or edited" % (folder, name)
        )
    if count == 0:
        return np.empty(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))


# ----------------------------------------------------------------------------- reporting


def summarize(check, outcome, row_count):
    """Our report entry for one check: what it tested, whether it passed, how many rows broke
    it, a few of their values with where each first occurs, and one human sentence."""
    picked = distinct_examples(outcome.first_bad)
    entry = {
        "expectation": snake_case(check.expectation),
        "column": check.column,
        "success": bool(outcome.success),
        "unexpected_count": outcome.unexpected_count,
        "unexpected_examples": [value for value, _ in picked],
        # Beside each example: its file (relative to the input) and line, the data row + 2
        # (the header is line 1); a repeated id where it first occurs.
        "unexpected_example_lines": [
            {"file": outcome.where[i][0], "line": outcome.where[i][1] + 2}
            for _, i in picked
            if i < len(outcome.where)
        ],
        "message": "",
    }
    if outcome.error is not None:
        entry["success"] = False
        entry["message"] = "check could not run: %s" % outcome.error
    elif outcome.success:
        entry["message"] = check.rule
    else:
        count = outcome.unexpected_count or 0
        entry["message"] = fill(
            check.problem,
            {
                "rows": plural(count, "row"),
                "observed": str(outcome.observed),
                "percent": "%.2f%%" % (100.0 * count / row_count if row_count else 0.0),
            },
        )
        if entry["unexpected_examples"] and check.expectation != "ExpectColumnValuesToNotBeNull":
            lines = entry["unexpected_example_lines"]
            entry["message"] += ", e.g. %s" % ", ".join(
                repr(v) + (" (%(file)s line %(line)d)" % lines[i] if i < len(lines) else "")
                for i, v in enumerate(entry["unexpected_examples"])
            )
        if check.expectation == "ExpectColumnValuesToBeInSet":
            entry["message"] += case_hint(entry["unexpected_examples"], check.kwargs["value_set"])
    return entry


def case_hint(values, allowed):
    """A note when a bad category differs from an allowed one only in case or spaces: they are
    matched exactly, in training and in scoring alike."""
    for value in values:
        twin = near_miss(value, allowed)
        if twin is not None:
            return " (categories match exactly, case and spaces included: %r is not %r)" % (
                value,
                twin,
            )
    return ""


def snake_case(class_name):
    """GE's name of an expectation type: ExpectColumnToExist -> expect_column_to_exist."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", class_name).lower()


def distinct_examples(values):
    """(value, its index in `values`) of a few distinct bad values, JSON-safe; integral floats
    print as integers (150, not 150.0)."""
    out = []
    for i, v in enumerate(values):
        if hasattr(v, "item"):  # numpy scalar -> Python
            v = v.item()
        if isinstance(v, float):
            if math.isnan(v):
                continue
            if v.is_integer():
                v = int(v)
        if v not in [seen for seen, _ in out]:
            out.append((v, i))
        if len(out) == EXAMPLES:
            break
    return out


def fill(template, values):
    """Fill {name} placeholders. Not str.format: column names and allowed values in the
    template may contain braces of their own."""
    for name, value in values.items():
        template = template.replace("{%s}" % name, value)
    return template


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def failure_message(entries):
    failed = [e for e in entries if not e["success"]]
    lines = ["validate: %d of %d checks failed:" % (len(failed), len(entries))]
    for e in failed:
        lines.append("  - %s: %s (%s)" % (e["column"] or "table", e["message"], e["expectation"]))
    return "\n".join(lines)


def write_json_atomic(path, obj):
    write_text_atomic(path, json.dumps(obj, indent=1, default=str))


# ----------------------------------------------------------------------------- main


def validate(args):
    """Returns (exit code, message)."""
    schema = load_schema(args.schema)
    if args.chunk_rows < 1:
        raise DataError("--chunk-rows must be at least 1, not %d" % args.chunk_rows)
    if args.merge:
        return judge(args, schema, read_shards(args.merge), [])
    files = csv_files(args.input, none_is_empty=bool(args.shard_of))
    if args.shard_of:
        folder = os.path.join(args.output_dir, current_host(args.shard_of))
        shard, ge_results = check_shard(schema, args.input, files, args.chunk_rows, folder)
        return write_shard(args, folder, shard, ge_results)
    # One instance is one shard and its merge, its id files a scratch folder's.
    with tempfile.TemporaryDirectory(prefix="churn-validate-") as folder:
        shard, ge_results = check_shard(schema, args.input, files, args.chunk_rows, folder)
        shard["folder"] = folder
        return judge(args, schema, [shard], ge_results)


def judge(args, schema, shards, ge_results):
    """The report of the whole table from its shards' results: (exit code, message)."""
    files, columns, row_count, checks, outcomes = merge_shards(schema, shards, args.chunk_rows)
    entries = [summarize(c, o, row_count) for c, o in zip(checks, outcomes)]
    success = all(e["success"] for e in entries)
    report = {
        "format": FORMAT,
        "success": success,
        "schema": schema.name,
        "input_files": files,  # relative to the input folder
        "row_count": row_count,
        # Columns the schema does not name: read by no check and by no later step.
        "ignored_columns": [str(c) for c in columns if c not in schema_columns(schema)],
        "checks_total": len(entries),
        "checks_failed": sum(1 for e in entries if not e["success"]),
        "expectations": entries,
    }
    os.makedirs(args.output_dir, exist_ok=True)
    if ge_results:
        write_ge_results(args.output_dir, ge_results)
    write_json_atomic(os.path.join(args.output_dir, REPORT_FILE), report)

    if not success:
        return 1, failure_message(entries)
    return 0, "validate: %d rows, %d of %d checks passed, %.2f s" % (
        row_count,
        len(entries),
        len(entries),
        time.time() - STARTED,
    )


def write_shard(args, folder, shard, ge_results):
    """This instance's result under <output-dir>/<host>/ (its id files are there already):
    every instance uploads to the same S3 prefix, so each writes under its own name."""
    host = os.path.basename(folder)
    os.makedirs(folder, exist_ok=True)
    if ge_results:
        write_ge_results(folder, ge_results)
    write_text_atomic(os.path.join(folder, SHARD_FILE), json.dumps(shard))
    pieces = [p for part in shard["parts"] for p in part["pieces"]]
    return 0, "validate: %s checked %d rows in %d files, %.2f s (the merge gives the verdict)" % (
        host,
        sum(p["rows"] for p in pieces),
        len({p["path"] for p in pieces}),
        time.time() - STARTED,
    )


def write_ge_results(folder, ge_results):
    """Great Expectations' own results, one per batch it validated."""
    write_json_atomic(os.path.join(folder, GE_RESULT_FILE), [r.to_json_dict() for r in ge_results])


def main(argv=None):
    args = parse_args(argv)
    try:
        code, message = validate(args)
    except (SchemaError, DataError, OSError) as e:
        code, message = 1, "validate: error: %s" % e
    if code == 0:
        print(message)
    else:
        write_failure_message(message, FAILURE_FILE)
        sys.stderr.write(message + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
