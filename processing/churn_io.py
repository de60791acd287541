"""Reading the raw churn table, shared by the processing scripts.

Only "" and the schema's missing_values count as missing (pandas' default NA words such as "NA"
or "None" would silently turn real categories into gaps). An input is one CSV file or a folder
of them, read in name order, so ShardedByS3Key inputs and multi-file exports work.
"""

import csv
import itertools
import os

import pandas as pd


class DataError(ValueError):
    """The input cannot be read as a table; the message says why."""


def csv_files(path, none_is_empty=False):
    """The CSV files of an input, in name order. `none_is_empty`: a folder without one is an
    empty share (a sharded job's instance that got no file), not an error."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise DataError("input %s does not exist" % path)
    files = sorted(
        os.path.join(root, f)
        for root, _, names in os.walk(path)
        for f in names
        if f.lower().endswith(".csv")
    )
    if not files and not none_is_empty:
        raise DataError("no .csv file under %s" % path)
    return files


def read_raw_table(files, schema, dtype):
    """Concatenate the CSV files; `dtype` as for pandas.read_csv. A header that names a column
    twice is refused (pandas would silently rename the second one)."""
    frames = [frame for _, _, frame in read_raw_chunks(files, schema, dtype)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_raw_chunks(files, schema, dtype, rows=None, usecols=None):
    """(file, its first row in the chunk, frame) for each chunk of at most `rows` rows (None:
    each file whole) of the CSV files, read as read_raw_table reads them, so a job's memory
    need not grow with the table. A file with a header and no rows gives one empty frame.
    `usecols(header)`: the columns to keep."""
    for name in files:
        header = check_header(name)
        try:
            reader = pd.read_csv(
                name,
                dtype=dtype,
                keep_default_na=False,
                na_values=[""] + schema.missing_values,
                usecols=None if usecols is None else usecols(header),
                chunksize=rows,
            )
            if rows is None:
                yield name, 0, reader
                continue
            first = 0
            with reader:
                for chunk in reader:
                    yield name, first, chunk.reset_index(drop=True)
                    first += len(chunk)
        except pd.errors.EmptyDataError:
            raise DataError("%s is empty: expected a header line and rows" % name)
        except (pd.errors.ParserError, UnicodeDecodeError) as e:
            raise DataError("%s is not a readable CSV file: %s" % (name, str(e).strip()))


def column_union(headers):
    """The columns of several files, in order of first appearance: the columns of their
    concatenation (a file lacking a column holds missing values in it)."""
    union = []
    seen = set()
    for header in headers:
        for column in header:
            if column not in seen:
                seen.add(column)
                union.append(column)
    return union


def check_header(name, schema=None):
    """The header line of a CSV file, refused when it is unreadable, names a column twice or
    (given a schema) lacks a column the schema requires: what a job would find, said before
    anything runs."""
    try:
        with open(name, newline="", encoding="utf-8-sig") as f:  # a BOM is not a column name
            header = next(csv.reader(f), [])
            has_rows = bool(header) and any(line.strip() for line in itertools.islice(f, 50))
    except (csv.Error, UnicodeDecodeError) as e:
        raise DataError("%s is not a readable CSV file: %s" % (name, e))
    if not header:
        raise DataError("%s is empty: expected a header line and rows" % name)
    if any("\x00" in column for column in header):
        raise DataError(
            "%s is not a readable CSV file: its header holds NUL bytes (a binary file?)" % name
        )
    seen = set()
    for column in header:
        if column in seen:
            raise DataError(
                "%s names column %r twice in its header; every column needs its own name"
                % (name, column)
            )
        seen.add(column)
    if schema is not None:
        missing = [c for c in schema.required_columns if c not in seen]
        if missing:
            shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")
            raise DataError(
                "%s lacks columns %s (its header: %s); fix the data or the schema"
                % (name, ", ".join(missing), shown)
            )
        if not has_rows:
            raise DataError("%s has a header but no rows" % name)
    return header


def schema_columns(schema):
    """The columns a schema names: id, features, target, event time and the ones it drops.
    Others are ignored, so they can never reach a model that inference could not feed."""
    named = set(schema.required_columns) | set(schema.drop)
    return named | ({schema.event_time_column} if schema.event_time_column else set())
