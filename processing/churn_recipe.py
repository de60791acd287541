"""DataBrew-format recipes: fitted on the train split, replayed anywhere.

A recipe is a list of AWS Glue DataBrew steps,
`{"Action": {"Operation": "FILL_WITH_MEDIAN", "Parameters": {"sourceColumn": "x"}}}`, with every
parameter value a string (SAGEMAKER_CONTRACTS.md section 9). `fit` learns what a step needs from
the train rows only (a median, min and max, the category set) and returns the steps with a
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
"""
import copy
import json

import numpy as np

# The seed recipe spells two operations the DataBrew docs do not have; accept them as aliases.
OPERATION_ALIASES = {"CAST_COLUMN_TYPE": "CHANGE_DATA_TYPE", "NORMALIZE_COLUMN": "NORMALIZATION",
                     "SCALE": "NORMALIZATION", "TO_NUMBER_COLUMN": "CHANGE_DATA_TYPE",
                     "TO_DOUBLE_COLUMN": "CHANGE_DATA_TYPE", "TO_STRING_COLUMN": "CHANGE_DATA_TYPE"}
PARAMETER_ALIASES = {"normalizeType": "strategy", "columnType": "columnDataType",
                     "targetType": "columnDataType", "sourceColumns": "sourceColumn"}
NUMERIC_TYPES = ("byte", "short", "int", "integer", "long", "float", "double", "decimal", "number")
INTEGER_TYPES = ("byte", "short", "int", "integer", "long")
ROW_FILTERS = ("REMOVE_MISSING", "REMOVE_INVALID", "REMOVE_DUPLICATES", "DELETE_DUPLICATE_ROWS")
OPERATIONS = ("CHANGE_DATA_TYPE", "NORMALIZATION", "DELETE", "FILL_WITH_AVERAGE",
              "FILL_WITH_MEDIAN", "FILL_WITH_MODE", "FILL_WITH_CUSTOM", "FILL_WITH_NULL",
              "ONE_HOT_ENCODING", "CATEGORICAL_MAPPING") + ROW_FILTERS
TRUE_TEXT = ("true", "t", "yes", "y", "1")
FALSE_TEXT = ("false", "f", "no", "n", "0")
OTHER = "other"


class RecipeError(ValueError):
    """The recipe itself cannot be applied (unknown operation, missing parameter or column)."""


class InputValueError(ValueError):
    """A value in the data cannot be used; names the row (1-based) and the column."""

    def __init__(self, row, column, value, expected):
        self.row, self.column, self.value, self.expected = row, column, value, expected
        ValueError.__init__(self, "row %d, column %r: %r is not %s" % (row, column, value, expected))


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
            raise RecipeError('recipe step %d: expected {"Action": {"Operation": ..., '
                              '"Parameters": {...}}}' % i)
        raw_op = str(action["Operation"]).upper()
        op = OPERATION_ALIASES.get(raw_op, raw_op)
        if op not in OPERATIONS:
            raise RecipeError("recipe step %d: operation %s is not supported (supported: %s)"
                              % (i, raw_op, ", ".join(OPERATIONS + tuple(OPERATION_ALIASES))))
        params = {}
        for key, value in (action.get("Parameters") or {}).items():
            params[PARAMETER_ALIASES.get(key, key)] = value if isinstance(value, str) else json.dumps(value)
        if raw_op in ("TO_NUMBER_COLUMN", "TO_DOUBLE_COLUMN"):
            params["columnDataType"] = "double"
        elif raw_op == "TO_STRING_COLUMN":
            params["columnDataType"] = "string"
        if op != "DELETE_DUPLICATE_ROWS" and not params.get("sourceColumn"):
            raise RecipeError("recipe step %d (%s): parameter sourceColumn is required" % (i, op))
        if op == "CHANGE_DATA_TYPE":
            kind = params.get("columnDataType", "").lower()
            if kind not in NUMERIC_TYPES + ("string", "boolean"):
                raise RecipeError("recipe step %d: CHANGE_DATA_TYPE to %r is not supported; use "
                                  "one of %s, string, boolean" % (i, kind, ", ".join(NUMERIC_TYPES)))
        if op == "NORMALIZATION":
            strategy = params.setdefault("strategy", "MIN_MAX").upper()
            if strategy not in ("MIN_MAX", "Z_SCORE", "MEAN_NORMALIZATION", "SCALE_BETWEEN"):
                raise RecipeError("recipe step %d: NORMALIZATION strategy %r is not supported"
                                  % (i, strategy))
            params["strategy"] = strategy
        if op == "CATEGORICAL_MAPPING":
            try:
                mapping = json.loads(params.get("categoryMap", ""))
                assert isinstance(mapping, dict)
            except (ValueError, AssertionError):
                raise RecipeError("recipe step %d: CATEGORICAL_MAPPING needs categoryMap, a JSON "
                                  "object as a string" % i)
        if op == "FILL_WITH_CUSTOM" and "value" not in params:
            raise RecipeError("recipe step %d: FILL_WITH_CUSTOM needs a value" % i)
        out.append({"Action": {"Operation": op, "Parameters": params}})
    return out


def default_recipe(schema):
    """The recipe a schema implies: drop id and unused columns, numbers cast, median-filled and
    min-max scaled, categories one-hot encoded."""
    steps = []
    for column in ([schema.id_column] if schema.id_column else []) + schema.drop:
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
    return np.array([v is None or v == "" for v in values], dtype=bool) if values.dtype == object \
        else np.zeros(len(values), dtype=bool)


def to_float(values, column="", strict=False):
    """Text or numbers -> float64; empty text is NaN. Unconvertible text is NaN, or an
    InputValueError naming the first bad row when strict."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    try:
        return values.astype(np.float64)  # fast path: every value is a clean number
    except (ValueError, TypeError):
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and v.strip() == ""):
            out[i] = np.nan
            continue
        try:
            if isinstance(v, bool):
                raise ValueError
            out[i] = float(v)
        except (ValueError, TypeError):
            if strict:
                raise InputValueError(i + 1, column, v, "a number")
            out[i] = np.nan
    return out


def to_text(values):
    """Any column -> text; integral floats print without `.0` so 415.0 and "415" agree."""
    if values.dtype == object and all(isinstance(v, str) for v in values):
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
        raise RecipeError("column %r is text; cast it with CHANGE_DATA_TYPE before this step"
                          % column)
    return values.astype(np.float64)


# ----------------------------------------------------------------------------- fit and replay

def fit(table, steps):
    """Fit `steps` on `table` (the train split) and return (fitted_steps, transformed_table)."""
    fitted = []
    for step in normalize_steps(steps):
        step = copy.deepcopy(step)
        step["Fitted"] = _fit_step(table, step["Action"]["Operation"], step["Action"]["Parameters"])
        table = _apply_step(table, step, strict=False, filter_rows=True)
        fitted.append(step)
    return fitted, table


def transform(table, fitted_steps, strict=False, filter_rows=False):
    """Replay fitted steps. `strict` turns unconvertible values into InputValueError;
    `filter_rows` applies the row filters (data set preparation, not inference)."""
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
        if step["Action"]["Operation"] == "CHANGE_DATA_TYPE" \
                and p.get("columnDataType", "").lower() in NUMERIC_TYPES \
                and p.get("targetColumn", column) == column:
            numeric.add(column)
    return numeric


def _fit_step(table, op, p):
    col = p.get("sourceColumn")
    if op not in ("DELETE", "DELETE_DUPLICATE_ROWS") and col not in table:
        raise RecipeError("%s: column %r is not in the data (columns: %s)"
                          % (op, col, ", ".join(table)))
    if op == "NORMALIZATION":
        x = _numeric(table, col)
        x = x[~np.isnan(x)]
        if len(x) == 0:
            raise RecipeError("NORMALIZATION of %r: the train split has no values" % col)
        return {"min": float(x.min()), "max": float(x.max()), "mean": float(x.mean()),
                "std": float(x.std())}
    if op in ("FILL_WITH_AVERAGE", "FILL_WITH_MEDIAN"):
        x = _numeric(table, col)
        x = x[~np.isnan(x)]
        if len(x) == 0:
            raise RecipeError("%s of %r: the train split has no values" % (op, col))
        return {"value": float(np.mean(x) if op == "FILL_WITH_AVERAGE" else np.median(x))}
    if op == "FILL_WITH_MODE":
        values = table[col]
        present = values[~_missing(values)]
        if len(present) == 0:
            raise RecipeError("FILL_WITH_MODE of %r: the train split has no values" % col)
        uniq, counts = np.unique(present, return_counts=True)
        tied = uniq[counts == counts.max()]
        choice = p.get("modeType", "MINIMUM").upper()
        if values.dtype.kind in "fiub" and choice == "AVERAGE":
            value = float(np.mean(tied.astype(np.float64)))
        elif choice == "MAXIMUM":
            value = tied.max()
        else:
            value = tied.min()
        return {"value": value.item() if hasattr(value, "item") else value}
    if op == "ONE_HOT_ENCODING":
        text = to_text(table[col])
        present = text[text != ""]
        uniq, counts = np.unique(present, return_counts=True)
        limit = int(p.get("maxCategories", "10"))
        # Most frequent first; ties broken by value so the encoding is deterministic.
        order = sorted(range(len(uniq)), key=lambda i: (-counts[i], uniq[i]))[:limit]
        return {"categories": sorted(str(uniq[i]) for i in order)}
    return None


def _apply_step(table, step, strict, filter_rows):
    op = step["Action"]["Operation"]
    p = step["Action"]["Parameters"]
    fitted = step.get("Fitted")
    col = p.get("sourceColumn")
    table = dict(table)

    if op in ROW_FILTERS:
        if not filter_rows:
            return table
        if op == "DELETE_DUPLICATE_ROWS":
            keep = _first_occurrence(list(zip(*[to_text(v) for v in table.values()])))
        elif op == "REMOVE_DUPLICATES":
            keep = _first_occurrence(list(to_text(table[col])))
        elif op == "REMOVE_MISSING":
            keep = ~_missing(table[col])
        else:  # REMOVE_INVALID
            keep = ~np.isnan(_convert(table[col], col, p.get("columnDataType", "double"), False))
        return {name: values[keep] for name, values in table.items()}

    if op == "DELETE":
        table.pop(col, None)  # the id or a dropped column is simply absent at inference time
        return table
    if col not in table:
        raise RecipeError("%s: column %r is not in the data" % (op, col))
    values = table[col]
    target = p.get("targetColumn") or col

    if op == "CHANGE_DATA_TYPE":
        table[target] = _convert(values, col, p["columnDataType"], strict)
    elif op == "NORMALIZATION":
        x = _numeric(table, col)
        lo, hi, mean, std = fitted["min"], fitted["max"], fitted["mean"], fitted["std"]
        span = hi - lo
        strategy = p["strategy"]
        if strategy == "Z_SCORE":
            table[target] = (x - mean) / std if std > 0 else x - mean
        elif strategy == "MEAN_NORMALIZATION":
            table[target] = (x - mean) / span if span > 0 else x - mean
        else:
            scaled = (x - lo) / span if span > 0 else x - lo
            if strategy == "SCALE_BETWEEN":
                low = float(p.get("lowerBound", "0"))
                high = float(p.get("upperBound", "1"))
                scaled = low + scaled * (high - low)
            table[target] = scaled
    elif op in ("FILL_WITH_AVERAGE", "FILL_WITH_MEDIAN", "FILL_WITH_MODE", "FILL_WITH_CUSTOM"):
        value = fitted["value"] if fitted is not None else p["value"]
        missing = _missing(values)
        filled = values.copy()
        if values.dtype.kind in "fiub":
            filled = filled.astype(np.float64)
            filled[missing] = float(value)
        else:
            filled[missing] = str(value)
        table[target] = filled
    elif op == "FILL_WITH_NULL":
        pass  # missing values stay missing (NaN for numbers, "" for text)
    elif op == "ONE_HOT_ENCODING":
        text = to_text(values)
        categories = fitted["categories"]
        known = np.zeros(len(text), dtype=bool)
        encoded = {}
        for category in categories:
            hit = text == category
            known |= hit
            encoded["%s_%s" % (col, category)] = hit.astype(np.float64)
        encoded["%s_%s" % (col, OTHER)] = ((~known) & (text != "")).astype(np.float64)
        table = _replace_column(table, col, encoded)
    elif op == "CATEGORICAL_MAPPING":
        mapping = json.loads(p["categoryMap"])
        numeric = p.get("mapType", "").upper() == "NUMERIC"
        keep_others = p.get("keepOthers", "false").lower() == "true"
        other = p.get("other")
        out = []
        for v in to_text(values):
            if v in mapping:
                out.append(mapping[v])
            elif keep_others:
                out.append(v)
            else:
                out.append(other if other is not None else "")
        out = np.array(out, dtype=object)
        table[target] = to_float(out, col, strict) if numeric else out
        if filter_rows and p.get("deleteOtherRows", "false").lower() == "true":
            keep = np.array([v in mapping for v in to_text(values)], dtype=bool)
            table = {name: arr[keep] for name, arr in table.items()}
    return table


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
    columns = []
    for name in feature_names:
        values = table[name]
        if values.dtype.kind not in "fiub":
            raise RecipeError("column %r is still text after the recipe; encode it "
                              "(ONE_HOT_ENCODING, CATEGORICAL_MAPPING) or DELETE it" % name)
        columns.append(values.astype(np.float32))
    if not columns:
        return np.empty((0, 0), dtype=np.float32)
    return np.column_stack(columns)
