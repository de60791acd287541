"""Reading the raw churn table, shared by the processing scripts.

Only "" and the schema's missing_values count as missing (pandas' default NA words such as "NA"
or "None" would silently turn real categories into gaps). An input is one CSV file or a folder
of them, read in name order, so ShardedByS3Key inputs and multi-file exports work.
"""

import csv
import itertools
import os

import numpy as np
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


UNREADABLE = "%s is not a readable CSV file: %s"
HEAD_BYTES = 65536  # what check_header reads to tell what a file is


def what_it_is(head):
    """What a file that is not UTF-8 CSV text is, from its first bytes, and what to do; None
    when it may be CSV text."""
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed: decompress it (gunzip), or open it and save it as UTF-8 CSV"
    if head.startswith(b"PK\x03\x04"):
        return (
            "it is a ZIP archive (an Excel .xlsx workbook is one): open the sheet and save it "
            "as UTF-8 CSV"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "it is an Excel 97-2003 workbook (.xls): open the sheet and save it as UTF-8 CSV"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it is UTF-16 text: save it as UTF-8 CSV"
    if b"\x00" in head:
        sample = head[:512]
        if max(sample[0::2].count(0), sample[1::2].count(0)) * 4 > len(sample):
            return "it looks like UTF-16 text (every other byte is 0): save it as UTF-8 CSV"
        return "it holds NUL bytes (a binary file, not text): save it as UTF-8 CSV"
    return None


def not_utf8(data, first_line, error):
    """Where a UnicodeDecodeError of `data` (whose first line is `first_line`) is, in words."""
    return (
        "line %d is not UTF-8 (byte 0x%02x: Latin-1 or Windows-1252 text?): save it as "
        "UTF-8 CSV" % (first_line + data.count(b"\n", 0, error.start), data[error.start])
    )


def check_header(name, schema=None):
    """The header line of a CSV file, refused when it is unreadable, names a column twice or
    (given a schema) lacks a column the schema requires: what a job would find, said before
    anything runs. A file that is not UTF-8 text (gzip, a workbook,
    UTF-16, Latin-1) is named for what it is."""
    with open(name, "rb") as f:
        head = f.read(HEAD_BYTES)
    what = what_it_is(head)
    if what:
        raise DataError(UNREADABLE % (name, what))
    try:
        with open(name, newline="", encoding="utf-8-sig") as f:  # a BOM is not a column name
            header = next(csv.reader(f), [])
            has_rows = bool(header) and any(line.strip() for line in itertools.islice(f, 50))
    except UnicodeDecodeError as e:
        try:  # the line, when the bad byte is in the first bytes (whose last character may
            # be cut short, unless they are the whole file)
            (head if len(head) < HEAD_BYTES else head[:-4]).decode("utf-8")
            where = "it is not UTF-8 (Latin-1 or Windows-1252 text?): save it as UTF-8 CSV"
        except UnicodeDecodeError as found:
            where = not_utf8(head, 1, found)
        raise DataError(UNREADABLE % (name, where)) from e
    except csv.Error as e:
        raise DataError(UNREADABLE % (name, e))
    if not header:
        raise DataError("%s is empty: expected a header line and rows" % name)
    if any("\x00" in column for column in header):
        raise DataError(
            UNREADABLE % (name, "its header holds NUL bytes (a binary file?): save it as UTF-8 CSV")
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
            raise DataError(
                "%s lacks columns %s (its header: %s); fix the data or the schema"
                % (name, ", ".join(missing), shown(header))
            )
        if not has_rows:
            raise DataError("%s has a header but no rows" % name)
    return header


def shown(header):
    """A header as an error message lists it: its first 20 columns."""
    return ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")


SHAPE_BLOCK = 1 << 24  # bytes check_shape reads at a time, so memory stays flat on big tables


def check_shape(name, width):
    """Refuse the first row of a CSV file whose field count is not the header's `width` (a
    comma inside an unquoted value, a row cut short), a quote that is never closed, and a line
    that is not UTF-8, naming its line (the header is line 1): a job's reader would otherwise
    fail on it, or pad a short row with missing values, after the run has started. Blank lines
    are skipped, as the readers skip them. A file without a quote character is checked by
    counting the commas of each line with numpy (1M rows, 29 MB, in 0.15 s); one with quotes,
    where a comma or a line break can be part of a value, by the csv module (0.5 s)."""
    quoted = False
    first_line = 1
    tail = b""
    with open(name, "rb") as f:
        while True:
            chunk = f.read(SHAPE_BLOCK)
            data = tail + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)  # whole lines only
            block, tail = data[:cut], data[cut:]
            if block:
                try:
                    block.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(UNREADABLE % (name, not_utf8(block, first_line, e)))
                # Quotes, and lone carriage returns (old Mac line ends), need a CSV reader.
                quoted = quoted or b'"' in block or block.count(b"\r") != block.count(b"\r\n")
                if not quoted:
                    ragged = ragged_line(block, width, skip_header=first_line == 1)
                    if ragged is not None:
                        line, fields = ragged
                        raise DataError(ragged_row(name, first_line + line, fields, width))
                first_line += block.count(b"\n")
            if not chunk:
                break
    if quoted:
        check_shape_quoted(name, width)


def ragged_line(block, width, skip_header):
    """(index, field count) of the first line of `block` (whole lines, no quotes) that has
    other than `width` fields and is not blank, or None."""
    buf = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buf == ord("\n"))
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(buf))  # the last line, without its line break
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = np.flatnonzero(buf == ord(","))
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    for i in np.flatnonzero(fields != width):
        if (i > 0 or not skip_header) and block[starts[i] : ends[i]].strip():
            return int(i), int(fields[i])
    return None


def check_shape_quoted(name, width):
    """check_shape for a file with quotes, by the csv module: each record from its first line
    to its last, so a quoted value that spans lines counts once."""
    with open(name, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        next(reader, None)  # the header, checked by check_header
        end = reader.line_num
        start = None
        for row in reader:
            start, end = end + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line, which the readers skip
            if len(row) != width:
                if next(reader, None) is None and quote_left_open(name, start):
                    raise DataError(open_quote(name, start))
                raise DataError(ragged_row(name, start, len(row), width, end))
    # A quote left open swallows the rest of the file into the last record, whatever its width.
    if start is not None and quote_left_open(name, start):
        raise DataError(open_quote(name, start))


def quote_left_open(name, line):
    """Whether the record that starts at `line` runs to the end of the file inside quotes
    (the csv module reads such a record whole unless strict)."""
    with open(name, newline="", encoding="utf-8-sig") as f:
        try:
            for _ in csv.reader(itertools.islice(f, line - 1, None), strict=True):
                pass
        except csv.Error as e:
            return "unexpected end of data" in str(e)
    return False


def ragged_row(name, line, fields, width, end=None):
    spans = " (a quoted value runs on to line %d)" % end if end and end > line else ""
    fix = (
        "a comma inside a value needs quotes"
        if fields > width
        else "every column needs a field, empty where the value is missing"
    )
    return "%s line %d has %d field%s%s, the header has %d; fix the row (%s)" % (
        name,
        line,
        fields,
        "" if fields == 1 else "s",
        spans,
        width,
        fix,
    )


def open_quote(name, line):
    return (
        "%s line %d opens a quote that is never closed; close it (a quote inside a quoted "
        'value is written twice: "")' % (name, line)
    )


def check_table(path, schema):
    """What the jobs would refuse in a table, said before anything runs and naming the file
    and line: a CSV file, or a folder of them (every *.csv under it, as the jobs read an S3
    prefix), each with a header the schema can use (check_header) and rows of its width
    (check_shape), all with the same header. Returns the files."""
    if os.path.isdir(path):
        files = csv_files(path, none_is_empty=True)
        if not files:
            raise DataError(
                "%s holds no .csv file: give a CSV file, or a folder of CSV files that share "
                "one header" % path
            )
    else:
        files = [path]
    first = None
    for name in files:
        header = check_header(name, schema)
        if first is None:
            first = (name, header)
        elif header != first[1]:
            raise DataError(
                "%s's header is not %s's (%s against %s); every file of a table needs the "
                "same header" % (name, first[0], shown(header), shown(first[1]))
            )
        check_shape(name, len(header))
    return files


def schema_columns(schema):
    """The columns a schema names: id, features, target, event time and the ones it drops.
    Others are ignored, so they can never reach a model that inference could not feed."""
    named = set(schema.required_columns) | set(schema.drop)
    return named | ({schema.event_time_column} if schema.event_time_column else set())
