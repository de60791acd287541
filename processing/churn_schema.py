"""Dataset schema: the one file that describes a churn table to every step.

A schema is a JSON file naming the id column, the target and its churned value, the feature
columns in order (numeric or categorical, with validation bounds), columns to drop, which raw
strings mean "missing", and optionally a DataBrew recipe. Shipped schemas live in
`schemas/<name>.json` beside this module and are addressed by name; any other path works too,
so a user's own table needs a schema file and no code.

Standard library only: this module runs inside the SageMaker processing image.
"""

import json
import os
import re

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")
FEATURE_TYPES = ("numeric", "categorical")
# What scoring does with a row that breaks a feature's rule (processing/churn_rules.py).
ON_INVALID = ("refuse", "flag")
# SageMaker's pattern for a model package group's name (CreateModelPackageGroup) and an
# endpoint's (CreateEndpoint), API reference: letters, digits and single hyphens, at most 63.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class SchemaError(ValueError):
    """The schema file itself is wrong; the message says what to fix."""


class Feature(object):
    def __init__(
        self,
        name,
        type,
        min=None,
        max=None,
        integer=False,
        values=None,
        completeness=1.0,
        on_invalid="refuse",
    ):
        self.name = name
        self.type = type
        self.min = min
        self.max = max
        self.integer = integer
        self.values = values
        self.completeness = completeness
        self.on_invalid = on_invalid

    @property
    def is_numeric(self):
        return self.type == "numeric"


class Schema(object):
    """A parsed, checked schema. Raw target values are compared as stripped strings."""

    def __init__(self, raw, source):
        self.source = source
        where = "schema %s" % source
        if not isinstance(raw, dict):
            raise SchemaError("%s: expected a JSON object at the top level" % where)
        unknown = set(raw) - {
            "name",
            "description",
            "id_column",
            "event_time_column",
            "target",
            "features",
            "drop",
            "missing_values",
            "recipe",
            "id_completeness",
            "on_invalid",
            "model_package_group",
        }
        if unknown:
            raise SchemaError("%s: unknown keys %s" % (where, ", ".join(sorted(unknown))))
        check_types(raw, where)
        self.name = raw.get("name") or os.path.splitext(os.path.basename(source))[0]
        self.description = raw.get("description", "")
        self.id_column = raw.get("id_column")
        # Feature Store's event time (processing/churn_features.py); like a dropped column,
        # never a feature.
        self.event_time_column = raw.get("event_time_column")
        self.drop = list(raw.get("drop", []))
        self.missing_values = [str(v) for v in raw.get("missing_values", [])]
        self.recipe = raw.get("recipe")
        # The model registry's group for this table's versions: every command that picks
        # "the newest Approved version" picks it in the group of the schema it is given.
        self.model_package_group = raw.get("model_package_group") or default_group(self.name)
        on_invalid = raw.get("on_invalid", "refuse")

        target = raw.get("target")
        if not isinstance(target, dict) or "column" not in target or "positive" not in target:
            raise SchemaError(
                '%s: "target" needs "column" and "positive" (the raw value that '
                'means churned), e.g. {"column": "churn", "positive": "1"}' % where
            )
        self.target = target["column"]
        self.positive = _raw_string(target["positive"])
        self.target_values = [_raw_string(v) for v in target.get("values", [])]
        if not self.target_values:
            raise SchemaError(
                '%s: "target.values" must list every allowed raw target value' % where
            )
        if self.positive not in self.target_values:
            raise SchemaError(
                "%s: target.positive %r is not among target.values %r"
                % (where, self.positive, self.target_values)
            )

        features = raw.get("features")
        if not isinstance(features, list) or not features:
            raise SchemaError(
                '%s: "features" must be a non-empty list of '
                '{"name": ..., "type": "numeric"|"categorical"}' % where
            )
        self.features = []
        for i, spec in enumerate(features):
            if not isinstance(spec, dict) or "name" not in spec:
                raise SchemaError("%s: features[%d] needs a name" % (where, i))
            if spec.get("type") not in FEATURE_TYPES:
                raise SchemaError(
                    "%s: feature %r has type %r; use numeric or categorical"
                    % (where, spec["name"], spec.get("type"))
                )
            extra = set(spec) - {
                "name",
                "type",
                "min",
                "max",
                "integer",
                "values",
                "completeness",
                "on_invalid",
            }
            if extra:
                raise SchemaError(
                    "%s: feature %r has unknown keys %s"
                    % (where, spec["name"], ", ".join(sorted(extra)))
                )
            values = spec.get("values")
            self.features.append(
                Feature(
                    spec["name"],
                    spec["type"],
                    spec.get("min"),
                    spec.get("max"),
                    bool(spec.get("integer", False)),
                    [_raw_string(v) for v in values] if values is not None else None,
                    float(spec.get("completeness", 1.0)),
                    spec.get("on_invalid", on_invalid),
                )
            )
        self.id_completeness = float(raw.get("id_completeness", 1.0))

        names = [self.target] + self.feature_names + self.drop
        names += [c for c in (self.id_column, self.event_time_column) if c]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise SchemaError(
                "%s: columns named more than once: %s" % (where, ", ".join(duplicated))
            )

    @property
    def feature_names(self):
        return [f.name for f in self.features]

    @property
    def required_columns(self):
        """Every column the raw table must have (dropped columns are optional)."""
        cols = ([self.id_column] if self.id_column else []) + self.feature_names + [self.target]
        return cols

    def feature(self, name):
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)


# ----------------------------------------------------------------------------- field types
# The same rules as docs/schema-file.schema.json (a test checks that both agree), written with
# the standard library: this module runs in processing images that have no JSON Schema library.


def _is_text(v):
    return isinstance(v, str)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_scalar(v):
    return isinstance(v, (str, int, float))  # a raw CSV value, JSON numbers and booleans too


def _expect(ok, where, field, wanted, value):
    if not ok:
        raise SchemaError("%s: %s must be %s, not %s" % (where, field, wanted, json.dumps(value)))


def _text_list(where, field, value):
    _expect(
        isinstance(value, list) and all(_is_text(v) and v for v in value),
        where,
        field,
        "a list of column names (non-empty strings)" if field == "drop" else "a list of strings",
        value,
    )


def check_types(raw, where):
    """Every field of a schema file has the type it needs; the error names the field."""
    for field in ("name", "description"):
        if field in raw:
            _expect(_is_text(raw[field]), where, field, "a string", raw[field])
    for field in ("id_column", "event_time_column"):
        if raw.get(field) is not None:
            _expect(
                _is_text(raw[field]) and raw[field],
                where,
                field,
                "a column name (a non-empty string) or null",
                raw[field],
            )
    if "on_invalid" in raw:
        v = raw["on_invalid"]
        _expect(v in ON_INVALID, where, "on_invalid", '"refuse" or "flag"', v)
    if raw.get("model_package_group") is not None:
        v = raw["model_package_group"]
        _expect(
            _is_text(v) and SAGEMAKER_NAME.match(v),
            where,
            "model_package_group",
            "a model package group name (letters, digits and hyphens, at most 63, starting "
            "with a letter or digit)",
            v,
        )
    if "id_completeness" in raw:
        v = raw["id_completeness"]
        _expect(_is_number(v) and 0 <= v <= 1, where, "id_completeness", "a number from 0 to 1", v)
    if "drop" in raw:
        _text_list(where, "drop", raw["drop"])
    if "missing_values" in raw:
        _text_list(where, "missing_values", raw["missing_values"])
    if raw.get("recipe") is not None:
        _expect(
            isinstance(raw["recipe"], (list, dict)),
            where,
            "recipe",
            "a list of DataBrew steps or null",
            raw["recipe"],
        )
    target = raw.get("target")
    if isinstance(target, dict):
        if "column" in target:
            _expect(
                _is_text(target["column"]) and target["column"],
                where,
                "target.column",
                "a column name (a non-empty string)",
                target["column"],
            )
        if "positive" in target:
            _expect(
                _is_scalar(target["positive"]),
                where,
                "target.positive",
                "a raw value (string, number or boolean)",
                target["positive"],
            )
        if "values" in target:
            _expect(
                isinstance(target["values"], list) and all(_is_scalar(v) for v in target["values"]),
                where,
                "target.values",
                "a list of raw values",
                target["values"],
            )
        unknown = set(target) - {"column", "positive", "values"}
        if unknown:
            unknown = ", ".join(sorted(unknown))
            raise SchemaError("%s: target has unknown keys %s" % (where, unknown))
    features = raw.get("features")
    for i, spec in enumerate(features if isinstance(features, list) else []):
        at = "features[%d]" % i
        if not isinstance(spec, dict):
            _expect(False, where, at, "an object", spec)
        if "name" in spec:
            _expect(
                _is_text(spec["name"]) and spec["name"],
                where,
                at + ".name",
                "a column name (a non-empty string)",
                spec["name"],
            )
        for bound in ("min", "max"):
            if spec.get(bound) is not None:
                _expect(
                    _is_number(spec[bound]), where, "%s.%s" % (at, bound), "a number", spec[bound]
                )
        if _is_number(spec.get("min")) and _is_number(spec.get("max")):
            _expect(spec["min"] <= spec["max"], where, at + ".min", "at most max", spec["min"])
        if "integer" in spec:
            _expect(
                isinstance(spec["integer"], bool),
                where,
                at + ".integer",
                "true or false",
                spec["integer"],
            )
        if spec.get("values") is not None:
            _expect(
                isinstance(spec["values"], list)
                and spec["values"]
                and all(_is_scalar(v) for v in spec["values"]),
                where,
                at + ".values",
                "a non-empty list of raw values or null",
                spec["values"],
            )
        if "on_invalid" in spec:
            _expect(
                spec["on_invalid"] in ON_INVALID,
                where,
                at + ".on_invalid",
                '"refuse" or "flag"',
                spec["on_invalid"],
            )
        if "completeness" in spec:
            v = spec["completeness"]
            _expect(
                _is_number(v) and 0 <= v <= 1,
                where,
                at + ".completeness",
                "a number from 0 to 1",
                v,
            )


def default_group(schema_name):
    """The model package group a schema names by default: churn-<its name>, spelt as SageMaker
    allows (letters, digits and single hyphens)."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", schema_name).strip("-")
    return ("churn-" + slug if slug else "churn")[:63].rstrip("-")


def _raw_string(value):
    """Raw CSV values are text; JSON numbers and booleans in a schema mean their CSV spelling."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value).strip()


def is_shipped(path):
    """Whether `path` is one of the shipped schemas (addressed by name, shipped with the code)."""
    return os.path.dirname(os.path.realpath(path)) == os.path.realpath(SCHEMA_DIR)


def available_schemas():
    return sorted(f[:-5] for f in os.listdir(SCHEMA_DIR) if f.endswith(".json"))


def resolve_schema_path(name_or_path):
    """A shipped schema name (`seed`, `bank`, ...) or a path to a schema file."""
    if os.path.isfile(name_or_path):
        return name_or_path
    shipped = os.path.join(SCHEMA_DIR, name_or_path + ".json")
    if os.sep not in name_or_path and os.path.isfile(shipped):
        return shipped
    raise SchemaError(
        "schema %r is neither a file nor a shipped schema name (%s)"
        % (name_or_path, ", ".join(available_schemas()))
    )


def load_schema(name_or_path):
    path = resolve_schema_path(name_or_path)
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except ValueError as e:
        raise SchemaError("schema %s is not valid JSON: %s" % (path, e))
    except RecursionError:
        raise SchemaError(
            "schema %s nests arrays or objects too deeply to read; a schema is a few levels "
            "deep (docs/schema-file.schema.json)" % path
        )
    return Schema(raw, path)
