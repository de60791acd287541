"""DataBrew-format recipes: fitted on the train split, replayed anywhere.

A recipe is a list of AWS Glue DataBrew steps,
`{"Action": {"Operation": "FILL_WITH_MEDIAN", "Parameters": {"sourceColumn": "x"}}}`, with every
parameter value a string (docs/container-contracts.md section 9). `fit` learns what a step needs
from the train rows only (a median, min and max, the category set) and returns the steps with a
`Fitted` object added; `transform` replays fitted steps on any table, so preprocessing and
inference share one implementation and serving can never lay features out differently.

A table is an ordered dict of column name -> 1-D numpy array (text columns hold Python str,
missing text is ""). Numpy only: this module runs in the processing image, in the training
image's serving container and under the local endpoint, where one-row requests must stay cheap.

Semantics worth knowing (where DataBrew leaves a choice):
- ONE_HOT_ENCODING replaces the source column with `<col>_<value>` indicator columns for the
  most frequent train values (at most `maxCategories`, default 10 as in DataBrew) plus
  `<col>_other`, which is 1 for every value not seen in train (unknown categories at inference
  time never raise). A missing value sets no indicator.
- Row filters (REMOVE_MISSING, REMOVE_INVALID, REMOVE_DUPLICATES, DELETE_DUPLICATE_ROWS) drop
  rows while preparing data sets; at inference time every request row gets an answer, so they
  are skipped there and the value stays missing.
- Text that does not convert to a number becomes missing while preparing data (DataBrew's
  NULL); at inference time it is an error naming the row and column (`strict=True`).
- A step's ConditionExpressions choose the rows it changes or removes (CONDITIONS, on
  CONDITIONAL_OPERATIONS only; anything else is refused by name, docs/workflows.md).
"""

import copy
import itertools
import json
import math
import re

import numpy as np

# The seed recipe spells two operations the DataBrew docs do not have; accept them as aliases.
OPERATION_ALIASES = {
    "CAST_COLUMN_TYPE": "CHANGE_DATA_TYPE",
    "NORMALIZE_COLUMN": "NORMALIZATION",
    "SCALE": "NORMALIZATION",
    "TO_NUMBER_COLUMN": "CHANGE_DATA_TYPE",
    "TO_DOUBLE_COLUMN": "CHANGE_DATA_TYPE",
    "TO_STRING_COLUMN": "CHANGE_DATA_TYPE",
}
PARAMETER_ALIASES = {
    "normalizeType": "strategy",
    "columnType": "columnDataType",
    "targetType": "columnDataType",
    "sourceColumns": "sourceColumn",
}
NUMERIC_TYPES = ("byte", "short", "int", "integer", "long", "float", "double", "decimal", "number")
INTEGER_TYPES = ("byte", "short", "int", "integer", "long")
FLOAT_TYPES = ("float", "double", "decimal", "number")
# The one number grammar, for training data and requests alike: plain decimal notation with an
# optional exponent, ASCII digits only, and finite in a 64-bit float. Stricter than float(),
# which also takes "nan", "inf", "1_000" and other scripts' digits: in a churn table those are
# data errors, and an overflow (1e309) would become inf and erase a scaled feature.
NUMBER_PATTERN = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
# Whole numbers; "3.0" passes because a CSV writer may print an integer column as floats.
INTEGER_PATTERN = r"^\s*[+-]?[0-9]+(\.0*)?\s*$"
NUMBER = re.compile(NUMBER_PATTERN)
POSITIVE_COUNT = re.compile(r"^0*[1-9][0-9]*$")
TRUE_TEXT = ("true", "t", "yes", "y", "1")
FALSE_TEXT = ("false", "f", "no", "n", "0")
OTHER = "other"


class RecipeError(ValueError):
    """The recipe itself cannot be applied (unknown operation, missing parameter or column)."""


class InputValueError(ValueError):
    """A value in the data cannot be used; names the row (1-based) and the column."""

    def __init__(self, row, column, value, expected):
        self.row, self.column, self.value, self.expected = row, column, value, expected
        ValueError.__init__(
            self, "row %d, column %r: %r is not %s" % (row, column, value, expected)
        )


# ----------------------------------------------------------------------------- recipe parsing


def normalize_steps(steps):
    """Check a recipe and rewrite aliases to documented DataBrew names; returns a new list."""
    if isinstance(steps, dict) and "Steps" in steps:  # DescribeRecipe response shape
        steps = steps["Steps"]
    if not isinstance(steps, list):
        raise RecipeError("a recipe is a JSON list of DataBrew steps")
    out = []
    for i, step in enumerate(steps, 1):
        action = step.get("Action") or step.get("RecipeAction") if isinstance(step, dict) else None
        if not isinstance(action, dict) or "Operation" not in action:
            raise RecipeError(
                'recipe step %d: expected {"Action": {"Operation": ..., "Parameters": {...}}}' % i
            )
        raw_op = str(action["Operation"]).upper()
        op = OPERATION_ALIASES.get(raw_op, raw_op)
        if op not in OPERATION_TABLE:
            raise RecipeError(
                "recipe step %d: operation %s is not supported (supported: %s)"
                % (i, raw_op, ", ".join(tuple(OPERATION_TABLE) + tuple(OPERATION_ALIASES)))
            )
        params = {}
        for key, value in (action.get("Parameters") or {}).items():
            params[PARAMETER_ALIASES.get(key, key)] = (
                value if isinstance(value, str) else json.dumps(value)
            )
        if raw_op in ("TO_NUMBER_COLUMN", "TO_DOUBLE_COLUMN"):
            params["columnDataType"] = "double"
        elif raw_op == "TO_STRING_COLUMN":
            params["columnDataType"] = "string"
        if op != "DELETE_DUPLICATE_ROWS" and not params.get("sourceColumn"):
            raise RecipeError("recipe step %d (%s): parameter sourceColumn is required" % (i, op))
        if op == "CHANGE_DATA_TYPE":
            kind = params.get("columnDataType", "").lower()
            if kind not in NUMERIC_TYPES + ("string", "boolean"):
                raise RecipeError(
                    "recipe step %d: CHANGE_DATA_TYPE to %r is not supported; use "
                    "one of %s, string, boolean" % (i, kind, ", ".join(NUMERIC_TYPES))
                )
        if op == "NORMALIZATION":
            strategy = params.setdefault("strategy", "MIN_MAX").upper()
            if strategy not in ("MIN_MAX", "Z_SCORE", "MEAN_NORMALIZATION", "SCALE_BETWEEN"):
                raise RecipeError(
                    "recipe step %d: NORMALIZATION strategy %r is not supported" % (i, strategy)
                )
            params["strategy"] = strategy
        if op == "CATEGORICAL_MAPPING":
            try:
                mapping = json.loads(params.get("categoryMap", ""))
                assert isinstance(mapping, dict)
            except (ValueError, AssertionError):
                raise RecipeError(
                    "recipe step %d: CATEGORICAL_MAPPING needs categoryMap, a JSON "
                    "object as a string" % i
                )
        if op == "ONE_HOT_ENCODING" and not POSITIVE_COUNT.match(params.get("maxCategories", "10")):
            raise RecipeError(
                "recipe step %d: ONE_HOT_ENCODING maxCategories %r is not a positive whole "
                "number (how many of the most frequent values get a column)"
                % (i, params["maxCategories"])
            )
        if op == "FILL_WITH_CUSTOM" and "value" not in params:
            raise RecipeError("recipe step %d: FILL_WITH_CUSTOM needs a value" % i)
        step_out = {"Action": {"Operation": op, "Parameters": params}}
        if step.get("ConditionExpressions"):
            step_out["ConditionExpressions"] = _conditions(i, op, step["ConditionExpressions"])
        out.append(step_out)
    return out


def _conditions(i, op, expressions):
    """A step's ConditionExpressions, checked: each a condition this module evaluates, on an
    operation whose conditional meaning is plain (it changes, or removes, only the rows the
    conditions choose); anything else is refused by name, never ignored."""
    if op not in CONDITIONAL_OPERATIONS:
        raise RecipeError(
            "recipe step %d: conditions on %s are not replayed (conditions are replayed on %s)"
            % (i, op, ", ".join(CONDITIONAL_OPERATIONS))
        )
    if not isinstance(expressions, list):
        raise RecipeError("recipe step %d: ConditionExpressions is a list" % i)
    out = []
    for expression in expressions:
        if not isinstance(expression, dict):
            raise RecipeError("recipe step %d: a condition is an object" % i)
        name, column = expression.get("Condition"), expression.get("TargetColumn")
        value = expression.get("Value")
        if name not in CONDITIONS:
            raise RecipeError(
                "recipe step %d: condition %s is not evaluated (evaluated: %s)"
                % (i, name, ", ".join(CONDITIONS))
            )
        if not isinstance(column, str) or not column:
            raise RecipeError("recipe step %d: condition %s needs a TargetColumn" % (i, name))
        kind = CONDITIONS[name]
        if kind is not None and not _condition_value(kind, value):
            raise RecipeError(
                "recipe step %d: condition %s needs a Value that is %s, not %r"
                % (i, name, CONDITION_VALUES[kind], value)
            )
        out.append(dict(expression))
    return out


def _condition_value(kind, value):
    """The condition's Value as `kind` reads it (None when it does not read)."""
    if not isinstance(value, str):
        return None
    if kind == "texts":
        try:
            texts = json.loads(value)
        except ValueError:
            return None
        ok = isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts)
        return texts if ok else None
    if kind == "number":
        return float(value) if NUMBER.match(value) and math.isfinite(float(value)) else None
    return value or None


def schema_recipe(schema):
    """The recipe a schema fits: its own, or the one it implies (default_recipe)."""
    return schema.recipe if schema.recipe is not None else default_recipe(schema)


def default_recipe(schema):
    """The recipe a schema implies: drop the id, event-time and unused columns, numbers cast,
    median-filled and min-max scaled, categories one-hot encoded."""
    steps = []
    named = [c for c in (schema.id_column, schema.event_time_column) if c]
    for column in named + schema.drop:
        steps.append(_step("DELETE", sourceColumn=column))
    for f in schema.features:
        if f.is_numeric:
            steps.append(_step("CHANGE_DATA_TYPE", sourceColumn=f.name, columnDataType="double"))
            steps.append(_step("FILL_WITH_MEDIAN", sourceColumn=f.name))
            steps.append(_step("NORMALIZATION", sourceColumn=f.name, strategy="MIN_MAX"))
        else:
            steps.append(_step("ONE_HOT_ENCODING", sourceColumn=f.name))
    return steps


def _step(operation, **params):
    return {"Action": {"Operation": operation, "Parameters": params}}


# ----------------------------------------------------------------------------- value helpers


def is_missing_text(values):
    return (
        np.array([v is None or v == "" for v in values], dtype=bool)
        if values.dtype == object
        else np.zeros(len(values), dtype=bool)
    )


def to_float(values, column="", strict=False):
    """Text or numbers -> float64; empty text is NaN. A value outside the number grammar
    (NUMBER_PATTERN, finite) is NaN, or an InputValueError naming the first bad row when
    strict."""
    if values.dtype.kind in "fiub":
        out = values.astype(np.float64)
        bad = np.isinf(out)
    else:
        try:
            out = values.astype(np.float64)  # fast path: every value a clean number
        except (ValueError, TypeError, OverflowError):
            out = None
        if out is not None and np.isfinite(out).all() and plain_text(values):
            return out
        out = np.empty(len(values), dtype=np.float64)
        bad = np.zeros(len(values), dtype=bool)
        for i, v in enumerate(values):
            out[i], bad[i] = _number(v)
    if bad.any():
        if strict:
            i = int(np.flatnonzero(bad)[0])
            raise InputValueError(i + 1, column, values[i], "a number")
        out[bad] = np.nan
    return out


def plain_text(values):
    """Whether the text among `values` (an array of any shape) holds nothing float() takes
    beyond the grammar (digit separators, other scripts' digits); "nan" and "inf" show as
    non-finite."""
    values = values.ravel() if isinstance(values, np.ndarray) else values
    try:
        text = "".join(values)
    except TypeError:  # JSON numbers among the text
        if any(isinstance(v, (bool, np.bool_)) for v in values):  # float() takes them: no number
            return False
        text = "".join(v for v in values if isinstance(v, str))
    return "_" not in text and text.isascii()


def _number(v):
    """(value, bad) for one raw value: missing is (NaN, False)."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return np.nan, False
    if isinstance(v, str):
        if not NUMBER.match(v):
            return np.nan, True
        x = float(v)
    elif isinstance(v, (bool, np.bool_)):
        return np.nan, True
    else:
        try:
            x = float(v)
        except (TypeError, ValueError, OverflowError):
            return np.nan, True
    return (x, False) if math.isfinite(x) else (np.nan, True)


def all_text(values):
    """Whether every value of an object array is a str: one C-level join instead of an
    isinstance call per value (a batch payload's columns hold a million)."""
    try:
        "".join(values)
    except TypeError:
        return False
    return True


def to_text(values):
    """Any column -> text; integral floats print without `.0` so 415.0 and "415" agree."""
    if values.dtype == object and all_text(values):
        return values
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out[i] = ""
        elif isinstance(v, bool) or isinstance(v, np.bool_):
            out[i] = "True" if v else "False"
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            out[i] = str(int(v))
        else:
            out[i] = str(v)
    return out


def to_boolean(values, column="", strict=False):
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(to_text(values)):
        t = v.strip().lower()
        if t == "":
            out[i] = np.nan
        elif t in TRUE_TEXT:
            out[i] = 1.0
        elif t in FALSE_TEXT:
            out[i] = 0.0
        elif strict:
            raise InputValueError(i + 1, column, v, "a boolean (true/false, yes/no, 1/0)")
        else:
            out[i] = np.nan
    return out


def _missing(values):
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype == object:
        return is_missing_text(values)
    return np.zeros(len(values), dtype=bool)


def _numeric(table, column):
    values = table[column]
    if values.dtype.kind not in "fiub":
        raise RecipeError(
            "column %r is text; cast it with CHANGE_DATA_TYPE before this step" % column
        )
    # No copy of a float column: every caller makes new arrays of it, none changes it.
    return values if values.dtype == np.float64 else values.astype(np.float64)


# ----------------------------------------------------------------------------- fit and replay


def fit(table, steps):
    """Fit `steps` on `table` (the train split) and return (fitted_steps, transformed_table).
    Every fitted number comes from the column's distinct values and their row counts, in
    ascending order (count_values), never from the rows in their order: fit_counts, given the
    same counts summed over any division of the rows, fits the same numbers, to the bit."""
    table = dict(table)  # the steps change this copy, never the caller's table or arrays
    fitted = []
    for step in normalize_steps(steps):
        step = copy.deepcopy(step)
        op, p = step["Action"]["Operation"], step["Action"]["Parameters"]
        step["Fitted"] = _fit_step(table, op, p, None)
        table = _apply_step(table, step, strict=False, filter_rows=True)
        fitted.append(step)
    return fitted, table


def fit_counts(columns, counts, steps):
    """Fit `steps` from value counts of the train rows, as fit does from the rows: `columns`
    names the table's columns in order; `counts` maps some of them to (distinct values, rows
    of each), summed over any division of the rows (a value may appear more than once). A
    value-wise step maps a column's values to values, so each fitted step sees the counts of
    its column as the rows would give them; the counts must cover every column a fitted step
    reads, or the one its values derive from. A step that drops rows (a row filter) or reads
    another column (a condition) before the last fitted step would change which rows count:
    NotReplayable names it. Returns the fitted steps."""
    steps = normalize_steps(steps)
    fitting = [i for i, s in enumerate(steps) if OPERATION_TABLE[s["Action"]["Operation"]].fit]
    last = fitting[-1] if fitting else -1
    groups = {
        name: [{name: np.asarray(v)}, np.asarray(c, np.int64)] for name, (v, c) in counts.items()
    }
    owner = {name: name if name in counts else None for name in columns}
    fitted = []
    for i, step in enumerate(steps):
        step = dict(copy.deepcopy(step), Fitted=None)
        fitted.append(step)
        if i > last:
            continue
        op, p = step["Action"]["Operation"], step["Action"]["Parameters"]
        operation = OPERATION_TABLE[op]
        source = p.get("sourceColumn")
        if operation.needs_column and source not in owner:
            raise RecipeError(
                "%s: column %r is not in the data (columns: %s)" % (op, source, ", ".join(owner))
            )
        _check_replayable(i, step, operation, owner)
        group = owner.get(source)
        if group is None:  # a column no fitted step depends on: only its name is followed
            if operation.fit:
                raise RecipeError("%s of %r: its column has no value counts" % (op, source))
            _follow_names(owner, op, p)
            continue
        table, weights = groups[group]
        step["Fitted"] = _fit_step(table, op, p, weights)
        before = set(table)
        table = _apply_step(dict(table), step, strict=False, filter_rows=False)
        groups[group][0] = table
        for name in before - set(table):
            owner.pop(name, None)
        for name in table:
            owner[name] = group
    return fitted


def removes_rows(steps):
    """What the first step of `steps` that can remove rows is (None: every row stays): a row
    filter, a CATEGORICAL_MAPPING that deletes unmapped rows."""
    for i, step in enumerate(normalize_steps(steps)):
        if not _keeps_every_row(OPERATION_TABLE[step["Action"]["Operation"]], step):
            return "%s removes rows" % _step_name(i, step)
    return None


def _keeps_every_row(operation, step):
    deletes = step["Action"]["Parameters"].get("deleteOtherRows", "false").lower() == "true"
    return operation.keep is None or (operation.keep is _keep_mapped and not deletes)


def _step_name(i, step):
    """How a message names the i-th step (from 0): "step 2 (FILL_WITH_MEDIAN of 'age')"."""
    column = step["Action"]["Parameters"].get("sourceColumn")
    return "step %d (%s of %r)" % (i + 1, step["Action"]["Operation"], column)


class NotReplayable(RecipeError):
    """A recipe whose fit depends on more than per-column value counts."""


def _check_replayable(i, step, operation, owner):
    if not _keeps_every_row(operation, step):
        raise NotReplayable(
            "%s removes rows before a fitted step, so the fit depends on whole rows, not on "
            "each column's value counts" % _step_name(i, step)
        )
    source = step["Action"]["Parameters"].get("sourceColumn")
    for expression in step.get("ConditionExpressions") or []:
        if owner.get(expression["TargetColumn"], 0) != owner.get(source, 1):
            raise NotReplayable(
                "%s changes rows chosen by column %r before a fitted step, so the fit depends "
                "on whole rows, not on each column's value counts"
                % (_step_name(i, step), expression["TargetColumn"])
            )


def _follow_names(owner, op, p):
    """Columns a step on a column without value counts writes or deletes, followed by name."""
    if op == "DELETE":
        owner.pop(p.get("sourceColumn"), None)
    elif p.get("targetColumn"):
        owner[p["targetColumn"]] = None


def transform(table, fitted_steps, strict=False, filter_rows=False):
    """Replay fitted steps. `strict` turns unconvertible values into InputValueError;
    `filter_rows` applies the row filters (data set preparation, not inference)."""
    table = dict(table)  # the steps change this copy, never the caller's table or arrays
    for step in fitted_steps:
        table = _apply_step(table, step, strict=strict, filter_rows=filter_rows)
    return table


def numeric_inputs(fitted_steps, input_columns):
    """The input columns the recipe first casts to a number: a reader may parse them as numbers
    right away (the cast then changes nothing)."""
    numeric, seen = set(), set()
    for step in fitted_steps:
        p = step["Action"]["Parameters"]
        column = p.get("sourceColumn")
        if column not in input_columns or column in seen:
            continue
        seen.add(column)
        if (
            step["Action"]["Operation"] == "CHANGE_DATA_TYPE"
            and p.get("columnDataType", "").lower() in NUMERIC_TYPES
            and p.get("targetColumn", column) == column
        ):
            numeric.add(column)
    return numeric


def integer_columns(fitted_steps):
    """The columns the recipe leaves typed as integers (a CHANGE_DATA_TYPE to an integer type,
    kept by later fills): numbers travel as float64 in a table (an integer column may hold
    NaN), so a writer that prints types needs this to print 30, not 30.0."""
    integers = set()
    for step in fitted_steps:
        op = step["Action"]["Operation"]
        p = step["Action"]["Parameters"]
        source = p.get("sourceColumn")
        target = p.get("targetColumn") or source
        if op == "CHANGE_DATA_TYPE" and p["columnDataType"].lower() in INTEGER_TYPES:
            integers.add(target)
        elif op.startswith("FILL_WITH_") and source in integers:
            integers.add(target)  # a fill keeps the column's type
        elif OPERATION_TABLE[op].apply is not None:
            integers.discard(target)  # rewritten as another type, or deleted
    return integers


# ----------------------------------------------------------------------------- operations
# One entry per operation: what it learns from the train split (fit, or None) and how it is
# replayed (apply). fit(table, p) returns the step's Fitted object; apply(table, p, fitted,
# strict) returns the new table: it may set columns of the dict it is given (fit and transform
# hand the steps a copy of the caller's) but never changes an array in place.


# The statistics each NORMALIZATION strategy scales by ("span" is max - min).
SCALING_STATISTICS = {
    "MIN_MAX": ("min", "span"),
    "SCALE_BETWEEN": ("min", "span"),
    "MEAN_NORMALIZATION": ("mean", "span"),
    "Z_SCORE": ("mean", "std"),
}


def _fit_normalization(table, p, counts):
    column = p["sourceColumn"]
    x, rows = _present_numbers(table, column, "NORMALIZATION", counts)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
        mean = np.sum(x * rows) / rows.sum()
        fitted = {
            "min": float(x[0]),
            "max": float(x[-1]),
            "mean": float(mean),
            "std": float(np.sqrt(np.sum(rows * (x - mean) ** 2) / rows.sum())),
        }
    bounds = dict(fitted, span=fitted["max"] - fitted["min"])
    overflowing = [k for k in SCALING_STATISTICS[p["strategy"]] if not math.isfinite(bounds[k])]
    if overflowing:  # scaling by inf would make every value 0 or NaN: the column blanked
        raise RecipeError(
            "NORMALIZATION (%s) of %r: its %s is not a finite number in a double (the column "
            "holds %r to %r); it cannot be scaled"
            % (p["strategy"], column, " and ".join(overflowing), fitted["min"], fitted["max"])
        )
    return fitted


def _apply_normalization(table, p, fitted, strict):
    x = _numeric(table, p["sourceColumn"])
    lo, hi, mean, std = fitted["min"], fitted["max"], fitted["mean"], fitted["std"]
    span = hi - lo
    strategy = p["strategy"]
    if strategy == "Z_SCORE":
        out = (x - mean) / std if std > 0 else x - mean
    elif strategy == "MEAN_NORMALIZATION":
        out = (x - mean) / span if span > 0 else x - mean
    else:
        out = (x - lo) / span if span > 0 else x - lo
        if strategy == "SCALE_BETWEEN":
            low = float(p.get("lowerBound", "0"))
            high = float(p.get("upperBound", "1"))
            out = low + out * (high - low)
    return _with(table, p, out)


def _fit_average(table, p, counts):
    x, rows = _present_numbers(table, p["sourceColumn"], "FILL_WITH_AVERAGE", counts)
    return {"value": float(np.sum(x * rows) / rows.sum())}


def _fit_median(table, p, counts):
    x, rows = _present_numbers(table, p["sourceColumn"], "FILL_WITH_MEDIAN", counts)
    below = np.cumsum(rows)  # rows at or below each value
    n = int(below[-1])
    ranks = sorted({(n - 1) // 2, n // 2})  # the middle row, or the two middle rows
    middle = x[np.searchsorted(below, ranks, side="right")]
    return {"value": float(np.mean(middle))}  # as np.median gives it


def _fit_mode(table, p, counts):
    col = p["sourceColumn"]
    values = table[col]
    present = ~_missing(values)
    if not present.any():
        raise RecipeError("FILL_WITH_MODE of %r: the train split has no values" % col)
    uniq, rows = count_values(values[present], None if counts is None else counts[present])
    tied = uniq[rows == rows.max()]
    choice = p.get("modeType", "MINIMUM").upper()
    if values.dtype.kind in "fiub" and choice == "AVERAGE":
        value = float(np.mean(tied.astype(np.float64)))
    elif choice == "MAXIMUM":
        value = tied.max()
    else:
        value = tied.min()
    return {"value": value.item() if hasattr(value, "item") else value}


def _apply_fill(table, p, fitted, strict):
    value = fitted["value"] if fitted is not None else p["value"]
    values = table[p["sourceColumn"]]
    missing = _missing(values)
    if values.dtype in (np.float64, object) and not p.get("targetColumn") and not missing.any():
        return table  # nothing to fill, as in most requests: no copy of the column and table
    filled = values.copy()
    if values.dtype.kind in "fiub":
        filled = filled.astype(np.float64)
        filled[missing] = float(value)
    else:
        filled[missing] = str(value)
    return _with(table, p, filled)


def _apply_nothing(table, p, fitted, strict):
    return table  # FILL_WITH_NULL: missing values stay missing (NaN for numbers, "" for text)


def _apply_change_type(table, p, fitted, strict):
    col = p["sourceColumn"]
    values = table[col]
    if (
        values.dtype == np.float64
        and p["columnDataType"].lower() in FLOAT_TYPES
        and not p.get("targetColumn")
        and not np.isinf(values).any()
    ):
        return table  # already what the cast makes (the input rules parsed it): a request's cost
    return _with(table, p, _convert(values, col, p["columnDataType"], strict))


def _apply_delete(table, p, fitted, strict):
    table.pop(p["sourceColumn"], None)  # the id or a dropped column is absent at inference time
    return table


def _fit_one_hot(table, p, counts):
    text = to_text(table[p["sourceColumn"]])
    present = text != ""
    uniq, counts = count_values(text[present], None if counts is None else counts[present])
    limit = int(p.get("maxCategories", "10"))
    # Most frequent first; ties broken by value so the encoding is deterministic.
    order = sorted(range(len(uniq)), key=lambda i: (-counts[i], uniq[i]))[:limit]
    return {"categories": sorted(str(uniq[i]) for i in order)}


def _apply_one_hot(table, p, fitted, strict):
    col = p["sourceColumn"]
    text = to_text(table[col])
    known = np.zeros(len(text), dtype=bool)
    encoded = {}
    names = ["%s_%s" % (col, category) for category in fitted["categories"]]
    _check_new_names(table, col, names + ["%s_%s" % (col, OTHER)])
    for name, category in zip(names, fitted["categories"]):
        hit = text == category
        known |= hit
        encoded[name] = hit.astype(np.float64)
    encoded["%s_%s" % (col, OTHER)] = ((~known) & (text != "")).astype(np.float64)
    return _replace_column(table, col, encoded)


def _check_new_names(table, column, names):
    """One column per name: a one-hot column named like another column (a numeric plan_pro
    beside plan's category 'pro', or a category 'other' beside the bucket of unseen ones)
    would silently replace it."""
    seen = set()
    for name in names:
        if name in seen or (name in table and name != column):
            raise RecipeError(
                "ONE_HOT_ENCODING of %r makes a column %r, which is already the name of "
                "another column; rename the feature or the category (in the table and the "
                "schema) so every encoded column has a name of its own" % (column, name)
            )
        seen.add(name)


def _apply_categorical_mapping(table, p, fitted, strict):
    col = p["sourceColumn"]
    mapping = json.loads(p["categoryMap"])
    numeric = p.get("mapType", "").upper() == "NUMERIC"
    keep_others = p.get("keepOthers", "false").lower() == "true"
    other = p.get("other")
    out = []
    for v in to_text(table[col]):
        if v in mapping:
            out.append(mapping[v])
        elif keep_others:
            out.append(v)
        else:
            out.append(other if other is not None else "")
    out = np.array(out, dtype=object)
    return _with(table, p, to_float(out, col, strict) if numeric else out)


def _keep_mapped(table, p):
    """deleteOtherRows: only the rows whose value the map names (None: every row)."""
    if p.get("deleteOtherRows", "false").lower() != "true":
        return None
    mapping = json.loads(p["categoryMap"])
    return np.array([v in mapping for v in to_text(table[p["sourceColumn"]])], dtype=bool)


def _keep_all_duplicates_removed(table, p):
    return _first_occurrence(list(zip(*[to_text(v) for v in table.values()])))


def _keep_first_of_column(table, p):
    return _first_occurrence(list(to_text(table[p["sourceColumn"]])))


def _keep_present(table, p):
    return ~_missing(table[p["sourceColumn"]])


def _keep_valid(table, p):
    col = p["sourceColumn"]
    return ~np.isnan(_convert(table[col], col, p.get("columnDataType", "double"), False))


class Operation(object):
    """fit(table, p) -> the step's Fitted object (no fit: nothing to learn);
    apply(table, p, fitted, strict) -> the new table; keep(table, p) -> the mask of rows to keep
    (or None for all), evaluated before apply and used only when preparing data sets. A row
    filter has keep and no apply."""

    def __init__(self, fit=None, apply=None, keep=None, needs_column=True):
        self.fit, self.apply, self.keep, self.needs_column = fit, apply, keep, needs_column


OPERATION_TABLE = {
    "CHANGE_DATA_TYPE": Operation(apply=_apply_change_type),
    "NORMALIZATION": Operation(fit=_fit_normalization, apply=_apply_normalization),
    "DELETE": Operation(apply=_apply_delete, needs_column=False),
    "FILL_WITH_AVERAGE": Operation(fit=_fit_average, apply=_apply_fill),
    "FILL_WITH_MEDIAN": Operation(fit=_fit_median, apply=_apply_fill),
    "FILL_WITH_MODE": Operation(fit=_fit_mode, apply=_apply_fill),
    "FILL_WITH_CUSTOM": Operation(apply=_apply_fill),
    "FILL_WITH_NULL": Operation(apply=_apply_nothing),
    "ONE_HOT_ENCODING": Operation(fit=_fit_one_hot, apply=_apply_one_hot),
    "CATEGORICAL_MAPPING": Operation(apply=_apply_categorical_mapping, keep=_keep_mapped),
    "REMOVE_MISSING": Operation(keep=_keep_present),
    "REMOVE_INVALID": Operation(keep=_keep_valid),
    "REMOVE_DUPLICATES": Operation(keep=_keep_first_of_column),
    "DELETE_DUPLICATE_ROWS": Operation(keep=_keep_all_duplicates_removed, needs_column=False),
}


# Each condition this module evaluates, and what its Value is: None (no Value), "texts" (a JSON
# array of texts: IS, IS_NOT), "text", "number" (in the one number grammar). DataBrew's list
# of conditions and their Value forms (the developer guide's recipe structure) could not be
# read here; anything else is refused by name (docs/workflows.md).
CONDITIONS = {
    "IS": "texts",
    "IS_NOT": "texts",
    "CONTAINS": "text",
    "STARTS_WITH": "text",
    "ENDS_WITH": "text",
    "IS_MISSING": None,
    "IS_NOT_MISSING": None,
    "GREATER_THAN": "number",
    "GREATER_THAN_EQUAL": "number",
    "LESS_THAN": "number",
    "LESS_THAN_EQUAL": "number",
}
CONDITION_VALUES = {
    "texts": 'a JSON array of texts, such as ["Paris"]',
    "text": "a text",
    "number": "a number",
}
CONDITION_TESTS = {
    "IS": lambda text, values: np.isin(text, values),
    "IS_NOT": lambda text, values: ~np.isin(text, values),
    "CONTAINS": lambda text, value: np.array([value in t for t in text], dtype=bool),
    "STARTS_WITH": lambda text, value: np.array([t.startswith(value) for t in text], dtype=bool),
    "ENDS_WITH": lambda text, value: np.array([t.endswith(value) for t in text], dtype=bool),
    "GREATER_THAN": np.greater,
    "GREATER_THAN_EQUAL": np.greater_equal,
    "LESS_THAN": np.less,
    "LESS_THAN_EQUAL": np.less_equal,
}
# The operations whose meaning under conditions is plain: they change, or remove, a row on
# its own values (a fill with a statistic, a cast or a scaling of a whole column has no one
# reading when only some rows are chosen, so conditions on them are refused).
CONDITIONAL_OPERATIONS = ("FILL_WITH_CUSTOM", "FILL_WITH_NULL", "REMOVE_MISSING", "REMOVE_INVALID")


def _fit_step(table, op, p, counts):
    """The step's Fitted object from the table's rows, each counted `counts` times (None:
    once)."""
    operation = OPERATION_TABLE[op]
    if operation.needs_column and p.get("sourceColumn") not in table:
        raise RecipeError(
            "%s: column %r is not in the data (columns: %s)"
            % (op, p.get("sourceColumn"), ", ".join(table))
        )
    return operation.fit(table, p, counts) if operation.fit else None


def _apply_step(table, step, strict, filter_rows):
    op = step["Action"]["Operation"]
    p = step["Action"]["Parameters"]
    operation = OPERATION_TABLE[op]
    if operation.apply is None and not filter_rows:
        return table  # a row filter: every request row gets an answer at inference time
    if operation.needs_column and p["sourceColumn"] not in table:
        raise RecipeError("%s: column %r is not in the data" % (op, p["sourceColumn"]))
    chosen = _chosen_rows(table, op, step.get("ConditionExpressions"))
    keep = operation.keep(table, p) if filter_rows and operation.keep else None
    if keep is not None and chosen is not None:
        keep = keep | ~chosen  # a row the conditions do not choose stays
    if operation.apply is not None and chosen is not None:
        # the step changes only the rows its conditions choose; a new target column holds
        # the source's values in the others
        written = p.get("targetColumn") or p["sourceColumn"]
        before = table[written] if written in table else table[p["sourceColumn"]]
        table = operation.apply(table, p, step.get("Fitted"), strict)
        table[written] = np.where(chosen, table[written], before)
    elif operation.apply is not None:
        table = operation.apply(table, p, step.get("Fitted"), strict)
    if keep is not None:
        table = {name: values[keep] for name, values in table.items()}
    return table


def _chosen_rows(table, op, expressions):
    """The rows every condition of the step holds for (None: a step without conditions)."""
    if not expressions:
        return None
    chosen = None
    for expression in expressions:
        name, column = expression["Condition"], expression["TargetColumn"]
        if column not in table:
            raise RecipeError(
                "%s: condition %s names column %r, which is not in the data" % (op, name, column)
            )
        values = table[column]
        missing = _missing(values)
        value = _condition_value(CONDITIONS[name], expression.get("Value"))
        if name == "IS_MISSING":
            holds = missing
        elif name == "IS_NOT_MISSING":
            holds = ~missing
        elif CONDITIONS[name] == "number":
            with np.errstate(invalid="ignore"):  # NaN, a missing value, compares False
                holds = CONDITION_TESTS[name](to_float(values, column), value)
        else:  # a missing value meets no condition on values
            holds = CONDITION_TESTS[name](to_text(values), value) & ~missing
        chosen = holds if chosen is None else chosen & holds
    return chosen


def _with(table, p, values):
    """The table with `values` as the step's target column (its source column by default)."""
    table[p.get("targetColumn") or p["sourceColumn"]] = values
    return table


def _present_numbers(table, column, op, counts):
    """(the column's distinct present numbers ascending, the rows holding each)."""
    x = _numeric(table, column)
    present = ~np.isnan(x)
    if not present.any():
        raise RecipeError("%s of %r: the train split has no values" % (op, column))
    return count_values(x[present], None if counts is None else counts[present])


_NAN = float("nan")


def count_values(values, counts=None):
    """(distinct values in ascending order, the rows holding each) of `values`, each row
    counted `counts` times (None: once): what fit_counts is given, summed over the rows'
    parts. -0.0 counts as 0.0. Text is counted in a dict: an object array's values need not
    be comparable with each other (text beside a JSON number)."""
    if values.dtype.kind == "f":
        values = values + 0.0  # -0.0 + 0.0 is 0.0: which of the two np.unique keeps is chance
        nan = np.isnan(values)
        if nan.any():  # one NaN, last (numpy before 1.21 keeps every NaN apart)
            uniq, rows = count_values(values[~nan], None if counts is None else counts[~nan])
            lost = int(nan.sum()) if counts is None else int(counts[nan].sum())
            return np.append(uniq, np.nan), np.append(rows, lost)
    if values.dtype != object:
        if counts is None:
            return np.unique(values, return_counts=True)
        uniq, inverse = np.unique(values, return_inverse=True)
        summed = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(uniq))
        return uniq, summed.astype(np.int64)  # exact: whole numbers below 2**53
    tally = {}
    weights = itertools.repeat(1) if counts is None else counts.tolist()
    for value, rows in zip(values.tolist(), weights):
        if value != value:  # every NaN one key: NaN is not equal to itself
            value = _NAN
        tally[value] = tally.get(value, 0) + rows
    keys = sorted(tally, key=lambda v: ("~",) if v is _NAN else (type(v).__name__, v))
    uniq = np.empty(len(keys), dtype=object)
    uniq[:] = keys
    return uniq, np.array([tally[k] for k in keys], dtype=np.int64)


def _convert(values, column, kind, strict):
    kind = kind.lower()
    if kind == "string":
        return to_text(values)
    if kind == "boolean":
        return to_boolean(values, column, strict)
    x = to_float(values, column, strict)
    return np.trunc(x) if kind in INTEGER_TYPES else x


def _replace_column(table, column, new_columns):
    """Put new_columns where `column` stood, keeping the table's column order."""
    out = {}
    for name, values in table.items():
        if name == column:
            out.update(new_columns)
        else:
            out[name] = values
    return out


def _first_occurrence(keys):
    seen = set()
    keep = np.zeros(len(keys), dtype=bool)
    for i, k in enumerate(keys):
        if k not in seen:
            seen.add(k)
            keep[i] = True
    return keep


def feature_matrix(table, feature_names):
    """Stack the named columns into a float32 matrix in training order."""
    missing = [n for n in feature_names if n not in table]
    if missing:
        raise RecipeError("the recipe did not produce feature columns %s" % ", ".join(missing))
    if not feature_names:
        return np.empty((0, 0), dtype=np.float32)
    matrix = np.empty((len(table[feature_names[0]]), len(feature_names)), dtype=np.float32)
    for j, name in enumerate(feature_names):
        values = table[name]
        if values.dtype.kind not in "fiub":
            raise RecipeError(
                "column %r is still text after the recipe; encode it "
                "(ONE_HOT_ENCODING, CATEGORICAL_MAPPING) or DELETE it" % name
            )
        matrix[:, j] = values  # cast to float32 in place: no copy per column, no stacking
    return matrix
