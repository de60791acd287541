"""A churn table as a SageMaker Feature Store feature group: the feature definitions a schema
implies, the event time of a row, and the record a row becomes.

    definitions(schema)          -> FeatureGroupLayout (record identifier, event time, features)
    parse_event_time(raw)        -> epoch seconds (float), from ISO-8601 or epoch seconds
    layout.record(row, event)    -> [{"FeatureName", "ValueAsString"}], PutRecord's Record
    refused_record(line, id, e)  -> how an ingest reports a record PutRecord refused

Standard library only: ingest.py and build_dataset.py run it in the processing image, and
pipelines/churn builds the CreateFeatureGroup request from the same function, so the group's
definitions and the records written to it can never disagree.
"""

import datetime
import re

try:  # beside it in a job's code bundle
    from churn_recipe import INTEGER_PATTERN, NUMBER
except ImportError:  # imported by pipelines/ as processing.churn_features
    from processing.churn_recipe import INTEGER_PATTERN, NUMBER

INTEGER = re.compile(INTEGER_PATTERN)

RESERVED_NAMES = ("is_deleted", "write_time", "api_invocation_time")
FEATURE_NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")
# The feature that holds the ingest time when the table has no event-time column of its own.
INGEST_EVENT_TIME = "event_time"
# Epoch seconds pass 1e11 only in the year 5138: a larger value is milliseconds (or finer),
# which SageMaker's Fractional event time would read as a date thousands of years ahead.
MILLISECONDS_FROM = 1e11
ISO_8601 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class FeatureGroupError(ValueError):
    """A schema or a row that cannot become a feature group or a record; says what to fix."""


class FeatureGroupLayout(object):
    """The feature group of a schema: `record_identifier`, `event_time` (a feature name),
    `table_event_time` (the table's own event-time column, or None: the ingest time),
    `features` [(name, FeatureType)] in table order, and the columns a record comes from."""

    def __init__(self, record_identifier, event_time, table_event_time, features, missing):
        self.record_identifier = record_identifier
        self.event_time = event_time
        self.table_event_time = table_event_time
        self.features = features
        self.types = dict(features)
        self.missing = set(missing)

    def feature_definitions(self):
        return [{"FeatureName": n, "FeatureType": t} for n, t in self.features]

    @property
    def table_columns(self):
        """The raw table's columns the group holds, in order (the ingest time is not one)."""
        return [n for n, _ in self.features if n != self.event_time or self.table_event_time]

    def record(self, row, event_time):
        """PutRecord's Record for a row (a dict of raw strings); a missing value is left out,
        which the feature store stores as null."""
        record = []
        for name, kind in self.features:
            if name == self.event_time:
                value = format_event_time(event_time)
            else:
                value = self.value(name, kind, row.get(name))
            if value is not None:
                record.append({"FeatureName": name, "ValueAsString": value})
        return record

    def columns(self, table, event_times):
        """What record() makes of each row, column by column ({feature: [text or None]}) for
        a table given as {column: [raw text]}: the bulk form of a local ingest."""
        out = {}
        for name, kind in self.features:
            if name == self.event_time:
                out[name] = [format_event_time(t) for t in event_times]
                continue
            values = []
            for line, raw in enumerate(table[name], start=2):  # line 1 is the header
                try:
                    values.append(self.value(name, kind, raw))
                except FeatureGroupError as e:
                    raise FeatureGroupError("line %d: %s" % (line, e))
            out[name] = values
        return out

    def value(self, name, kind, raw):
        """A raw value as the feature's ValueAsString, or None when it is missing."""
        value = (raw or "").strip()
        if value == "" or value in self.missing:
            if name == self.record_identifier:
                raise FeatureGroupError("a row has no %s (the record identifier)" % name)
            return None
        return integral(value, name) if kind == "Integral" else value


def definitions(schema):
    """The feature group a schema implies: the id column a String record identifier, integer
    features and an integer target Integral, other numbers Fractional, categories String, and
    a Fractional event time (epoch seconds, never milliseconds in an Integral)."""
    if not schema.id_column:
        raise FeatureGroupError(
            'schema %s has no "id_column": a feature group needs a record identifier; set '
            '"id_column" to the column that names each customer' % schema.source
        )
    features = [(schema.id_column, "String")]
    for f in schema.features:
        if not f.is_numeric:
            features.append((f.name, "String"))
        else:
            features.append((f.name, "Integral" if f.integer else "Fractional"))
    integer_target = all(INTEGER.match(v) for v in schema.target_values)
    features.append((schema.target, "Integral" if integer_target else "String"))
    table_event_time = getattr(schema, "event_time_column", None)
    event_time = table_event_time or INGEST_EVENT_TIME
    if not table_event_time and event_time in [n for n, _ in features]:
        raise FeatureGroupError(
            "the table has a column %r, the name the ingest time would take: set "
            '"event_time_column" to it if it holds event times, or rename it' % event_time
        )
    features.append((event_time, "Fractional"))
    for name, _ in features:
        if name in RESERVED_NAMES:
            raise FeatureGroupError(
                "column %r: %s are reserved names in SageMaker Feature Store; rename the "
                "column in the table and the schema" % (name, ", ".join(RESERVED_NAMES))
            )
        if not FEATURE_NAME.match(name):
            raise FeatureGroupError(
                "column %r cannot be a feature name: SageMaker Feature Store takes 1-64 "
                "letters, digits, '-' and '_', starting and ending with a letter or digit; "
                "rename the column in the table and the schema" % name
            )
    return FeatureGroupLayout(
        schema.id_column, event_time, table_event_time, features, schema.missing_values
    )


def integral(value, name):
    """An Integral feature's value as SageMaker takes it: a 64-bit integer ('42.0' as '42')."""
    if value.isdigit() and value.isascii() and len(value) < 19 and value[:1] != "0":
        return value  # already canonical (the common case, kept cheap for bulk ingest)
    if INTEGER.match(value):
        number = int(value.strip().split(".")[0])
        if -(2**63) <= number < 2**63:
            return str(number)
    raise FeatureGroupError("%s: %r is not a 64-bit integer (an Integral feature)" % (name, value))


def refused_record(line, record_id, error):
    """How the IngestFeatures job and `churn features ingest` report a record PutRecord
    refused (error: botocore's ClientError): its line in the table, its record identifier and
    the service's error code and message."""
    detail = getattr(error, "response", {}).get("Error", {})
    shown = (
        record_id
        if len(record_id) <= 40
        else "%s... (%d characters)"
        % (
            record_id[:30],
            len(record_id),
        )
    )
    return "line %d (record %r): PutRecord refused it: %s: %s" % (
        line,
        shown,
        detail.get("Code", type(error).__name__),
        detail.get("Message", str(error)),
    )


def parse_event_time(raw):
    """Epoch seconds (float) of an event time written as epoch seconds or ISO-8601 (a time
    without an offset is UTC). Milliseconds are refused, not guessed."""
    text = str(raw).strip()
    if NUMBER.match(text):
        seconds = float(text)
        if not 0 <= seconds < MILLISECONDS_FROM:
            raise FeatureGroupError(
                "event time %r: epoch seconds from 0 to 1e11 expected (a value this large is "
                "milliseconds; divide by 1000)" % text
            )
        return seconds
    match = ISO_8601.match(text)
    if not match:
        raise FeatureGroupError(
            "event time %r: use ISO-8601 (2024-05-02T13:44:01Z) or epoch seconds" % text
        )
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    tz = datetime.timezone.utc
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        tz = datetime.timezone(
            sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        )
    try:
        moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as e:
        raise FeatureGroupError("event time %r: %s" % (text, e))
    return (moment - EPOCH).total_seconds() + (float(fraction) if fraction else 0.0)


def format_event_time(seconds):
    """A Fractional event time's ValueAsString: epoch seconds, microseconds at most."""
    text = "%.6f" % seconds
    return text.rstrip("0").rstrip(".") if "." in text else text
