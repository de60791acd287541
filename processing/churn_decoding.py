"""Request bodies -> raw column values, for the churn model's input columns.

Shipped in the inference code bundle beside inference.py (it lives with the other modules that
several bundles share); the local endpoint's data capture and drift monitoring read captured
requests with the same rules, so a body means one thing everywhere:

  text/csv              rows of the feature columns in schema order, or a header line first,
                        then columns are matched by name (id, target, unknown ignored)
  application/json      {"instances": [{"age": 40, ...}, ...]} by column name (or lists in
                        schema order); a single object is one instance
  application/jsonlines one such object (or list) per line

`model` below is anything with input_columns, known_columns, missing_values and numeric_inputs
(inference.ChurnModel). Bad input raises an InferenceError whose status_code is 400 (names the
record and column), 415 (content type) or 406 (Accept).
"""

import csv
import io
import json

import numpy as np

CSV, JSON, JSONLINES = "text/csv", "application/json", "application/jsonlines"
CONTENT_TYPES = (CSV, JSON, JSONLINES)
# Batch transform payloads (MaxPayloadInMB, cut to 1 MB or more), not live requests: from
# about 10,000 rows on, where pandas' fixed cost is a few percent of the parse.
BULK_CSV_BYTES = 256 * 1024


class InferenceError(ValueError):
    """The request cannot be scored. `record`: the 1-based record of the body it is about,
    when one is (a batch job turns it into the line of its input file)."""

    status_code = 400

    def __init__(self, message, record=None):
        ValueError.__init__(self, message)
        self.record = record


class UnsupportedContentType(InferenceError):
    status_code = 415


class NotAcceptable(InferenceError):
    status_code = 406


def media_type(header):
    """The media type of a Content-Type or Accept part: 'text/csv; charset=x' -> 'text/csv'."""
    return (header or "").split(";")[0].strip().lower()


def decode(request_body, request_content_type):
    """Decode the body into raw column values; the columns are checked in predict_fn, where the
    model's schema is known."""
    content_type = media_type(request_content_type) or CSV
    if content_type not in CONTENT_TYPES:
        raise UnsupportedContentType(
            "content type %r is not supported; send %s"
            % (request_content_type, ", ".join(CONTENT_TYPES))
        )
    if isinstance(request_body, (bytes, bytearray)):
        try:
            request_body = request_body.decode("utf-8")
        except UnicodeDecodeError:
            raise InferenceError("the request body is not UTF-8 text")
    if not request_body.strip():
        raise InferenceError("the request body is empty; send at least one row")
    if content_type == CSV:
        # Line ends may be \n, \r\n or \r alone: made \n once here, so that every reader
        # below (the csv module, the bulk path's line count, pandas) sees the same lines.
        if "\r" in request_body:
            request_body = request_body.replace("\r\n", "\n").replace("\r", "\n")
        text = request_body.strip("\n")
        if len(text) >= BULK_CSV_BYTES and '"' not in text:
            return Pending(text, bulk=True)
        return Pending(csv_rows(text))
    return Pending(json_instances(request_body, content_type), by_name=True)


def json_instances(text, content_type):
    """The instances of an application/json body ({"instances": [...]}, a list, or one object)
    or of application/jsonlines (one instance a line)."""
    if content_type == JSON:
        try:
            payload = json.loads(text)
        except ValueError as e:
            raise InferenceError("the body is not valid JSON: %s" % e)
        except RecursionError:
            raise InferenceError("the body nests JSON arrays or objects too deeply")
        if isinstance(payload, dict) and "instances" in payload:
            payload = payload["instances"]
        return payload if isinstance(payload, list) else [payload]
    instances = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                instances.append(json.loads(line))
            except ValueError as e:
                raise InferenceError("JSON line %d is not valid JSON: %s" % (n, e), record=n)
            except RecursionError:
                raise InferenceError(
                    "JSON line %d nests arrays or objects too deeply" % n, record=n
                )
    return instances


class Pending(object):
    """Records not yet matched to the model's columns (input_fn does not see the model):
    CSV rows, JSON instances (by_name), or a bulk CSV text parsed once the columns' types are
    known."""

    def __init__(self, records, by_name=False, bulk=False):
        self.records = records
        self.by_name = by_name
        self.bulk = bulk


def csv_rows(text):
    """The records of a CSV body. Line endings may be \n, \r\n or \r alone; a record the csv
    module cannot read (a field over its 128 KB limit, a quote left open at the end) is the
    caller's mistake."""
    reader = csv.reader(io.StringIO(text, newline=None))
    try:
        return [r for r in reader if r]
    except csv.Error as e:
        if "field limit" in str(e):
            raise InferenceError(
                "line %d of the CSV body has a field longer than %d characters; no column "
                "value is that long: check the line ends and the quotes"
                % (reader.line_num, csv.field_size_limit())
            )
        raise InferenceError("line %d of the CSV body cannot be read: %s" % (reader.line_num, e))


def _columns_from_bulk_csv(text, model):
    """A batch payload's columns through pandas' C parser, numbers parsed as numbers (40 ns a
    field against 250 ns for Python's float() on each string). Only bodies of at least
    BULK_CSV_BYTES come here, where pandas' fixed cost is nothing; one-row requests never touch
    pandas (read_csv on one row costs more than a whole request). Gives None when the text is
    anything but clean rows of the expected width and types (a header that does not match,
    ragged rows, a non-number in a numeric column): the row-by-row path then answers, and its
    error names the record and column."""
    import pandas as pd

    first = csv_rows(text.partition("\n")[0])[0]  # no quotes here: the first line is a record
    header = is_header(first, model.known_columns)
    width = len(first)
    if header and any(c not in first for c in model.input_columns):
        return None
    if not header and width != len(model.input_columns):
        return None
    data = text.encode("utf-8")  # pandas reads bytes a third faster than a str
    octets = np.frombuffer(data, dtype=np.uint8)
    if np.count_nonzero(octets == 44) != (width - 1) * (np.count_nonzero(octets == 10) + 1):
        return None  # a row with fewer or more fields than the first, or a blank line
    missing = [""] + sorted(model.missing_values)
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            header=0 if header else None,
            names=None if header else model.input_columns,
            usecols=model.input_columns,
            keep_default_na=False,
            na_values=missing,
            low_memory=False,
            dtype={
                c: (np.float64 if c in model.numeric_inputs else str) for c in model.input_columns
            },
        )
    except (ValueError, pd.errors.ParserError):
        return None
    columns = {}
    for c in model.input_columns:
        values = frame[c].to_numpy(dtype=np.float64 if c in model.numeric_inputs else object)
        if c not in model.numeric_inputs:
            values[pd.isna(values)] = ""  # missing text is "" in a recipe table
        columns[c] = values
    return columns


def _columns_from_csv(rows, model):
    """CSV records -> {input column: raw values}. Records are numbered from 1, after any
    header line."""
    first = [v.strip() for v in rows[0]]
    expected = model.input_columns
    if is_header(first, model.known_columns):
        twice = sorted({c for c in first if first.count(c) > 1})
        if twice:
            raise InferenceError("the CSV header names column %r twice" % twice[0])
        missing = [c for c in expected if c not in first]
        if missing:
            raise InferenceError("the CSV header lacks columns %s" % ", ".join(missing))
        index = {c: first.index(c) for c in expected}
        data = rows[1:]
        if not data:
            raise InferenceError("the CSV has a header but no rows")
        layout = ", ".join(first)
    else:
        if len(first) != len(expected):
            raise InferenceError(
                "record 1 has %d fields; expected %d in this order: %s (or "
                "send a header line)" % (len(first), len(expected), ", ".join(expected)),
                record=1,
            )
        index = {c: i for i, c in enumerate(expected)}
        data = rows
        layout = ", ".join(expected)
    width = len(first)
    r = next((r for r, row in enumerate(data) if len(row) != width), None)
    if r is not None:
        raise InferenceError(
            "record %d has %d fields; expected %d (%s)" % (r + 1, len(data[r]), width, layout),
            record=r + 1,
        )
    fields = np.array(data, dtype=object)  # rows x fields in one C call, not a loop per cell
    columns = {c: fields[:, i] for c, i in index.items()}
    if model.missing_values:
        for values in columns.values():
            values[np.fromiter((v in model.missing_values for v in values), bool, len(values))] = ""
    return columns


def is_header(fields, known_columns):
    """A CSV's first record is a header when it names a known column and is not all numbers
    (the one rule for requests, batch payloads and captured data)."""
    if not {f.strip() for f in fields} & set(known_columns):
        return False
    try:
        [float(f) for f in fields]
        return False
    except ValueError:
        return True


def _columns_from_instances(instances, model):
    expected = model.input_columns
    columns = {c: np.empty(len(instances), dtype=object) for c in expected}
    for r, instance in enumerate(instances):
        if isinstance(instance, list):
            if len(instance) != len(expected):
                raise InferenceError(
                    "instance %d has %d values; expected %d in this order: %s"
                    % (r + 1, len(instance), len(expected), ", ".join(expected)),
                    record=r + 1,
                )
            instance = dict(zip(expected, instance))
        if not isinstance(instance, dict):
            raise InferenceError(
                "instance %d is not an object of column values" % (r + 1), record=r + 1
            )
        for c in expected:
            if c not in instance:
                raise InferenceError(
                    "instance %d lacks column %r (send null for a missing value)" % (r + 1, c),
                    record=r + 1,
                )
            value = instance[c]
            if isinstance(value, (dict, list)):
                raise InferenceError(
                    "instance %d, column %r: %r is not a single value" % (r + 1, c, value),
                    record=r + 1,
                )
            columns[c][r] = "" if value is None or value in model.missing_values else value
    if not instances:
        raise InferenceError("no instances in the request")
    return columns


def columns(input_data, model):
    """decode()'s records matched to the model's input columns: {column: raw values}."""
    if input_data.by_name:
        return _columns_from_instances(input_data.records, model)
    if input_data.bulk:
        found = _columns_from_bulk_csv(input_data.records, model)
        return (
            found if found is not None else _columns_from_csv(csv_rows(input_data.records), model)
        )
    return _columns_from_csv(input_data.records, model)
