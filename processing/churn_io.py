"""Reading the raw churn table, shared by the processing scripts.

Only "" and the schema's missing_values count as missing (pandas' default NA words such as "NA"
or "None" would silently turn real categories into gaps). An input is one CSV file or a folder
of them, read in name order, so ShardedByS3Key inputs and multi-file exports work.
"""

import csv
import os

import pandas as pd


class DataError(ValueError):
    """The input cannot be read as a table; the message says why."""


def csv_files(path):
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
    if not files:
        raise DataError("no .csv file under %s" % path)
    return files


def read_raw_table(files, schema, dtype):
    """Concatenate the CSV files; `dtype` as for pandas.read_csv. A header that names a column
    twice is refused (pandas would silently rename the second one)."""
    frames = []
    for name in files:
        check_header(name)
        try:
            frames.append(
                pd.read_csv(
                    name, dtype=dtype, keep_default_na=False, na_values=[""] + schema.missing_values
                )
            )
        except pd.errors.EmptyDataError:
            raise DataError("%s is empty: expected a header line and rows" % name)
        except (pd.errors.ParserError, UnicodeDecodeError) as e:
            raise DataError("%s is not a readable CSV file: %s" % (name, str(e).strip()))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def check_header(name):
    try:
        with open(name, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
    except (csv.Error, UnicodeDecodeError) as e:
        raise DataError("%s is not a readable CSV file: %s" % (name, e))
    seen = set()
    for column in header:
        if column in seen:
            raise DataError(
                "%s names column %r twice in its header; every column needs its own name"
                % (name, column)
            )
        seen.add(column)


def schema_columns(schema):
    """The columns a schema names: id, features, target and the ones it drops. Others are
    ignored, so they can never reach a model that inference could not feed."""
    return set(schema.required_columns) | set(schema.drop)
