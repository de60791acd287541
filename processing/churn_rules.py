"""The rules a feature value obeys, from the schema: one definition for validation, the
endpoint's handler and batch scoring, so a row is scored only if training would accept it.

The schema says, per feature, what a value may be (docs/schema-file.schema.json):

  numeric      a number in the one number grammar (churn_recipe.NUMBER_PATTERN, finite);
               `integer`: a whole number (by value: 42, 42.0 and 4.2e1 are all 42);
               `min` / `max`: within those bounds
  categorical  `values`: one of them, matched exactly (case and surrounding spaces count, in
               training and in scoring alike); without `values`, one the table held when the
               model was trained (its observed categories travel in the model)
  completeness below 1: a value may be missing; 1 (the default): every value is required

and what a row that breaks a rule gets when it is scored (`on_invalid`, for the whole schema or
per feature): "refuse" (the default: the request gets a 4xx naming the row, column and value; a
batch job fails naming the line) or "flag" (the row is scored, and the answer carries a flag
naming the column and the rule). A value that is not a number where a number is needed is
always refused: there is nothing to score.

`feature_rules(schema, observed)` writes the rules as plain data (preprocess.py puts them into
preprocessing.json, so a model carries the rules of the table it was trained on); validate.py
plans its Great Expectations suite from the same schema fields and the same number grammar,
and tests hold the two to the same verdict on every value. `InputRules(spec).check(columns)`
checks the columns of a request, vectorised: a few numpy operations for all numeric features
at once, one set lookup per categorical value.

Numpy only, Python 3.9: this module runs in the processing image and in the serving container.
"""

import numpy as np

from churn_recipe import plain_text, to_float, to_text

RULES_FORMAT = "churn-input-rules/1"
REFUSE, FLAG = "refuse", "flag"
ON_INVALID = (REFUSE, FLAG)
# An unseen category is refused only where the training table's categories are known. A
# feature with more distinct values than this (a free-text or id-like column) keeps none: its
# unseen values are scored as the recipe scores them (ONE_HOT_ENCODING's `other`).
MAX_OBSERVED_CATEGORIES = 10000
SHOWN_CATEGORIES = 10  # in a message, before "... and N more"
BULK_ROWS = 10000  # from here on, membership is pandas' (imported only then)
# The flag token of each rule, in the answer's flags column ("Age:range").
MISSING, CATEGORY, RANGE, INTEGER = "missing", "category", "range", "integer"


class RuleViolation(ValueError):
    """A value breaks its feature's rule; names the row (1-based), the column and the value."""

    def __init__(self, row, column, value, problem):
        self.row, self.column, self.value, self.problem = row, column, value, problem
        ValueError.__init__(self, "row %d, column %r: %s" % (row, column, problem))


def feature_rules(schema, observed=None):
    """The rules of `schema`'s features as plain data. `observed`: {categorical feature without
    declared values: the distinct values the training table holds, or None when there were
    more than MAX_OBSERVED_CATEGORIES}."""
    observed = observed or {}
    features = []
    for f in schema.features:
        rule = {
            "name": f.name,
            "type": f.type,
            "required": f.completeness >= 1.0,
            "on_invalid": f.on_invalid,
        }
        if f.is_numeric:
            rule.update(integer=f.integer, min=f.min, max=f.max)
        elif f.values is not None:
            rule.update(values=list(f.values), values_from="schema")
        elif observed.get(f.name) is not None:
            rule.update(values=list(observed[f.name]), values_from="table")
        features.append(rule)
    return {"format": RULES_FORMAT, "features": features}


def observed_categories(distinct):
    """The distinct present values of a categorical column, sorted, or None when there are more
    than MAX_OBSERVED_CATEGORIES."""
    distinct = [str(v) for v in distinct if str(v) != ""]
    return None if len(distinct) > MAX_OBSERVED_CATEGORIES else sorted(set(distinct))


def near_miss(value, allowed):
    """The allowed value `value` differs from only in case or surrounding spaces, or None."""
    key = str(value).strip().casefold()
    for candidate in allowed:
        if candidate.strip().casefold() == key:
            return candidate
    return None


def describe_set(values, limit=SHOWN_CATEGORIES):
    shown = ", ".join(values[:limit])
    return shown + (" and %d more" % (len(values) - limit) if len(values) > limit else "")


def category_problem(value, rule):
    """Why a present categorical value breaks its rule, in words."""
    allowed = rule["values"]
    if rule.get("values_from") == "table":
        problem = "%r was never seen in training (its values: %s)" % (value, describe_set(allowed))
    else:
        problem = "%r is not one of %s" % (value, describe_set(allowed))
    twin = near_miss(value, allowed)
    if twin is not None:
        problem += " (categories match exactly, case and spaces included: did you mean %r?)" % twin
    return problem


def bounds(rule):
    lo, hi = rule.get("min"), rule.get("max")
    if lo is not None and hi is not None:
        return "outside [%s, %s]" % (lo, hi)
    return "below %s" % lo if lo is not None else "above %s" % hi


class InputRules(object):
    """The rules of one model's features (feature_rules' data), compiled for checking.

    `spec` None (a model from before models carried rules, or one trained on a prepared
    table): only the recipe's own number check applies."""

    def __init__(self, spec):
        features = (spec or {}).get("features", [])
        self.numeric = [r for r in features if r["type"] == "numeric"]
        self.categorical = [r for r in features if r["type"] == "categorical"]
        self.flags = any(r.get("on_invalid") == FLAG for r in features)
        # One vector per rule field, so every numeric feature is checked at once.
        self.low = np.array([_or(r.get("min"), -np.inf) for r in self.numeric], dtype=np.float64)
        self.high = np.array([_or(r.get("max"), np.inf) for r in self.numeric], dtype=np.float64)
        self.whole = np.array([bool(r.get("integer")) for r in self.numeric], dtype=bool)
        self.fraction_allowed = ~self.whole
        self.required = np.array([bool(r.get("required")) for r in self.numeric], dtype=bool)
        # Per categorical feature, the values a row may hold ("" when a value may be missing),
        # or None when any value may be (no categories known).
        self.accepted = {
            r["name"]: frozenset(r["values"]) | (frozenset() if r.get("required") else {""})
            for r in self.categorical
            if "values" in r
        }

    def check(self, columns, parsed_columns=()):
        """Check {column: raw values}; returns (columns, flags). The numeric features are
        parsed here (a value outside the number grammar raises the recipe's InputValueError);
        those named in `parsed_columns` come back as floats, so the recipe's cast of them costs
        nothing. A broken rule whose feature refuses raises RuleViolation for the first such
        row; flags is None when no feature flags, else one string per row naming the flagged
        columns and rules ("Age:range;Geography:category"), "" for a clean row."""
        raw = columns
        columns = dict(columns)
        n = len(next(iter(columns.values()))) if columns else 0
        broken = []  # (rule, mask of the rows that break it, each row's rule kind)
        if self.numeric:
            parsed = self._parse([columns[r["name"]] for r in self.numeric])
            for r, values in zip(self.numeric, parsed):
                if r["name"] in parsed_columns:
                    columns[r["name"]] = values
            broken += self._numeric(parsed)
        for r in self.categorical:
            broken += self._categorical(r, np.asarray(columns[r["name"]], dtype=object))
        refused = [b for b in broken if b[0].get("on_invalid", REFUSE) == REFUSE]
        if refused:
            rule, bad, _ = min(refused, key=lambda b: int(np.argmax(b[1])))  # the first row
            row = int(np.argmax(bad))
            value = raw[rule["name"]][row]
            raise RuleViolation(row + 1, rule["name"], value, self.problem(rule, value))
        if not self.flags:
            return columns, None
        flags = [[] for _ in range(n)]
        for rule, bad, kinds in broken:
            for row in np.flatnonzero(bad).tolist():
                flags[row].append("%s:%s" % (rule["name"], kinds[row]))
        return columns, [";".join(f) for f in flags]

    def _parse(self, values):
        """The numeric features' values as float64 columns (a list, or a features x rows
        matrix), parsed with the number grammar.
        A request's clean text converts in one call for all features (its fixed cost); columns
        already parsed (a batch payload's) are only checked for infinities; anything else
        (missing, bad, a JSON number among text) takes the recipe's own parse, feature by
        feature, which names the first bad value."""
        if len(values[0]) < BULK_ROWS:
            stacked = np.array(values)  # features x rows, one C call
            if stacked.dtype == object:
                try:
                    x = stacked.astype(np.float64)
                except (ValueError, TypeError, OverflowError):
                    x = None
                if x is not None and np.isfinite(x).all() and plain_text(stacked):
                    return x  # features x rows: its rows are the columns
        return [
            v if v.dtype == np.float64 and not np.isinf(v).any() else to_float(v, r["name"], True)
            for v, r in zip(values, self.numeric)
        ]

    def _numeric(self, parsed):
        """(rule, bad rows, kinds) for each numeric feature that some row breaks, given the
        parsed columns (_parse's). A request's
        few rows are checked for all features at once (rows x features: a handful of numpy
        calls, whatever the number of features), a batch payload's column by column (the
        temporaries of a whole matrix cost more than the arithmetic)."""
        if len(parsed[0]) < BULK_ROWS:
            matrix = parsed if isinstance(parsed, np.ndarray) else np.array(parsed)
            blocks = [(slice(None), matrix.T)]
        else:
            blocks = [(slice(j, j + 1), x[:, None]) for j, x in enumerate(parsed)]
        found = []
        for features, x in blocks:
            low, high = self.low[features], self.high[features]
            # NaN (missing) fails every comparison, so a missing value is outside here ...
            inside = (x >= low) & (x <= high)
            if self.whole[features].any():
                inside &= self.fraction_allowed[features] | (np.trunc(x) == x)
            bad = ~inside
            if not self.required[features].all():  # ... and bad unless it may be missing
                bad &= self.required[features] | ~np.isnan(x)
            if not bad.any():
                continue
            missing = np.isnan(x)
            kinds = np.where(missing, MISSING, np.where((x < low) | (x > high), RANGE, INTEGER))
            for j in np.flatnonzero(bad.any(axis=0)).tolist():
                rule = self.numeric[features][j]
                found.append((rule, bad[:, j], kinds[:, j]))
        return found

    def _categorical(self, rule, values):
        accepted = self.accepted.get(rule["name"])
        if accepted is not None:
            bad = ~is_member(values, accepted)
            if bad.any():  # a JSON number or boolean counts as training's text spells it
                rows = np.flatnonzero(bad)
                bad[rows] = ~is_member(to_text(values[rows]), accepted)
        elif rule.get("required"):
            bad = to_text(values) == ""
        else:
            return []
        if not bad.any():
            return []
        kinds = np.full(len(values), CATEGORY, dtype=object)
        rows = np.flatnonzero(bad)
        kinds[rows[to_text(values[rows]) == ""]] = MISSING
        return [(rule, bad, kinds)]

    @staticmethod
    def problem(rule, value):
        """Why `value` breaks `rule`, in words (the value is known to break it)."""
        text = to_text(np.array([value], dtype=object))[0]
        if rule["type"] == "categorical":
            return category_problem(text, rule) if text != "" else required(rule)
        x = float(to_float(np.array([value], dtype=object))[0])
        if np.isnan(x):
            return required(rule)
        if _or(rule.get("min"), -np.inf) <= x <= _or(rule.get("max"), np.inf):
            return "%s is not a whole number" % text.strip()
        return "%s is %s" % (text.strip(), bounds(rule))


def required(rule):
    return (
        "a value is required (the schema's completeness for %s is 1, the default; set it "
        "below 1, e.g. 0.99, to allow gaps)" % rule["name"]
    )


def is_member(values, accepted):
    """values[i] in accepted, for each i. Large columns (a batch payload's) go through pandas'
    hash table, a Python generator costs a tenth of a second per million values."""
    if len(values) < BULK_ROWS:
        return np.fromiter((v in accepted for v in values), bool, len(values))
    import pandas as pd

    return pd.Series(values, dtype=object, copy=False).isin(accepted).to_numpy()


def _or(value, default):
    return default if value is None else value
