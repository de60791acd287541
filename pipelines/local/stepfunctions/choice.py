"""A Choice state's rules: every comparison operator, its Path form, And / Or / Not, and the
type tests (IsPresent, IsNull, IsNumeric, IsString, IsBoolean, IsTimestamp)."""

import re
from datetime import datetime
from typing import Any, Callable, Mapping, Optional

from pipelines.local.stepfunctions import errors, paths
from pipelines.local.stepfunctions.errors import StatesError

_KINDS = {"String": str, "Numeric": (int, float), "Boolean": bool, "Timestamp": str}
_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
OPERATORS = {
    kind + relation + suffix
    for kind in _KINDS
    for relation in _RELATIONS
    if kind != "Boolean" or relation == "Equals"
    for suffix in ("", "Path")
} | {"StringMatches", "IsPresent", "IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def timestamp(value: Any) -> Optional[datetime]:
    """An RFC 3339 timestamp (the profile ASL accepts: an upper-case T, a zone) as a datetime,
    or None when `value` is not one."""
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def operator_of(rule: Mapping[str, Any]) -> str:
    found = [k for k in rule if k in OPERATORS]
    if len(found) != 1:
        raise ValueError("a Choice rule needs exactly one comparison operator: %s" % sorted(rule))
    return found[0]


def evaluate(rule: Mapping[str, Any], document: Any, context: Any) -> bool:
    """Whether `rule` holds for `document` (a state's effective input)."""
    if "And" in rule:
        return all(evaluate(r, document, context) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate(r, document, context) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate(rule["Not"], document, context)
    operator = operator_of(rule)
    try:
        value = paths.read(document, rule["Variable"], context)
        present = True
    except LookupError:
        value, present = None, False
    expected = rule[operator]
    if operator == "IsPresent":
        return present == expected
    if not present:  # only IsPresent may test a path the input lacks (the Choice state page)
        raise _invalid_path(rule["Variable"])
    if operator.startswith("Is"):
        kind = operator[2:]
        holds = {
            "Null": value is None,
            "Numeric": _is_number(value),
            "String": isinstance(value, str),
            "Boolean": isinstance(value, bool),
            "Timestamp": timestamp(value) is not None,
        }[kind]
        return holds == expected
    if operator.endswith("Path"):
        operator = operator[: -len("Path")]
        try:
            expected = paths.read(document, expected, context)
        except LookupError:
            raise _invalid_path(expected) from None
    if operator == "StringMatches":
        return isinstance(value, str) and _matches(value, expected)
    kind = next(k for k in _KINDS if operator.startswith(k))
    relation = _RELATIONS[operator[len(kind) :]]
    if kind == "Numeric":
        return _is_number(value) and _is_number(expected) and relation(value, expected)
    if kind == "Boolean":
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    if kind == "Timestamp":
        a, b = timestamp(value), timestamp(expected)
        return a is not None and b is not None and relation(a, b)
    return isinstance(value, str) and isinstance(expected, str) and relation(value, expected)


def _invalid_path(path: str) -> StatesError:
    """AWS's failure for a rule whose path selects nothing: "If the state input doesn't
    contain the $.type field, the execution fails" (the developer guide's Choice state page)."""
    return StatesError(
        errors.RUNTIME,
        "Invalid path '%s': The choice state's condition path references an invalid value." % path,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _matches(value: str, pattern: str) -> bool:
    """StringMatches: * matches any run of characters; \\* is a literal star, \\\\ a backslash."""
    out, i = "", 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += ".*" if pattern[i] == "*" else re.escape(pattern[i])
        i += 1
    return re.fullmatch(out, value, flags=re.DOTALL) is not None
