"""JSONata in states whose QueryLanguage is JSONata (docs/adr/0012): `{% expression %}` strings
anywhere in a field's JSON, each parsed once (a syntax error refuses the definition) and
evaluated with the `$states` variable bound and the functions Step Functions adds to JSONata's
own library ($partition, $range, $hash, $random, $uuid, $parse), implemented from the
developer guide ("Transforming data with JSONata in Step Functions")."""

import functools
import hashlib
import json
import math
import random
import re
import threading
import uuid
from typing import Any, Callable, Optional

from jsonata import Jsonata
from jsonata.functions import Functions
from jsonata.utils import Utils

from pipelines.local.stepfunctions.errors import QUERY_EVALUATION, StatesError

JSONATA = "JSONata"
_EVAL = re.compile(r"\$eval\s*\(")
MOST_ITEMS = 256 * 1024 // 2  # numbers in a 256 KiB payload at most ("0," each)
MOST_CHARACTERS = 10 * 1024 * 1024  # a string no payload or variable (10 MiB in all) can hold
EVALUATION_MILLISECONDS = 10_000  # one expression's evaluation, at most
EVALUATION_DEPTH = 1_000  # its nesting (recursive functions), at most
_HASHES = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


class ExpressionSyntaxError(ValueError):
    """A `{% %}` string that is not a JSONata expression."""


def language(state: dict[str, Any], inherited: str) -> str:
    """The state's query language: its own QueryLanguage, else its machine's."""
    return str(state.get("QueryLanguage", inherited))


def is_expression(value: Any) -> bool:
    """A whole string `{% ... %}` (no space before `{%` or after `%}`): anything else is a
    literal, as on AWS."""
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


class Expression:
    """One parsed expression; evaluations of it are serialised (jsonata-python keeps per-call
    state on the parsed object, and Parallel branches run on threads)."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self._parsed = Jsonata(text[2:-2])
        except Exception as e:  # jsonata-python raises JException (a RuntimeError) on syntax
            raise ExpressionSyntaxError("%s: %s" % (text, e)) from e
        for name, function in _FUNCTIONS.items():
            self._parsed.register_lambda(name, function)
        # null stays JSON null, apart from undefined (None): "returned nothing" is an error
        self._parsed.output_convert_nulls = False
        self._lock = threading.Lock()

    def evaluate(
        self, states: dict[str, Any], variables: Optional[dict[str, Any]] = None, field: str = ""
    ) -> Any:
        """The expression's value with `$states` and the workflow's variables bound; an
        expression that returns nothing (undefined) or a function fails, as on AWS, with
        States.QueryEvaluationError naming `field`."""
        try:
            with self._lock:
                frame = self._parsed.create_frame(self._parsed.environment)
                for name, value in dict(variables or {}, states=states).items():
                    frame.bind(name, value)
                # a runaway expression (deep recursion, an endless loop) stops, as a service's
                # must: the twin's bounds, AWS documents none
                frame.set_runtime_bounds(EVALUATION_MILLISECONDS, EVALUATION_DEPTH)
                value = self._parsed.evaluate(None, frame)
        except StatesError:
            raise
        except Exception as e:
            raise StatesError(
                QUERY_EVALUATION, "An error occurred while evaluating %s: %s" % (self.text, e)
            ) from e
        if value is None:
            raise StatesError(
                QUERY_EVALUATION,
                "The JSONata expression '%s' specified for the field '%s' returned nothing "
                "(undefined)." % (self.text[2:-2].strip(), field),
            )
        return _plain(value, self.text)


@functools.lru_cache(maxsize=4096)
def parsed(text: str) -> Expression:
    """The expression `text` parsed (once per process: definitions repeat their expressions)."""
    return Expression(text)


def check(value: Any) -> None:
    """Every `{% %}` string in `value` parses, none is opened without being closed, none calls
    $eval; raises ExpressionSyntaxError. (A string that only ends with %} is a literal.)"""
    if isinstance(value, str) and value.startswith("{%") and not value.endswith("%}"):
        raise ExpressionSyntaxError(
            "%r opens a JSONata expression but does not close it: write {%% ... %%}" % value
        )
    if is_expression(value):
        if _EVAL.search(value):
            raise ExpressionSyntaxError(
                "%s: $eval is not available in Step Functions (use $parse)" % value
            )
        parsed(value)
    elif isinstance(value, dict):
        for item in value.values():
            check(item)
    elif isinstance(value, list):
        for item in value:
            check(item)


def mentions(value: Any, member: str) -> bool:
    """Whether an expression in `value` reads `$states.<member>`."""
    if is_expression(value):
        return re.search(r"\$states\s*\.\s*%s\b" % re.escape(member), value) is not None
    if isinstance(value, dict):
        return any(mentions(v, member) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, member) for v in value)
    return False


def fill(
    value: Any, states: dict[str, Any], variables: Optional[dict[str, Any]] = None, field: str = ""
) -> Any:
    """`value` (the value of `field`) with each `{% %}` string replaced by its expression's
    value."""
    if is_expression(value):
        return parsed(value).evaluate(states, variables, field)
    if isinstance(value, dict):
        return {k: fill(v, states, variables, "%s/%s" % (field, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, states, variables, "%s[%d]" % (field, i)) for i, v in enumerate(value)]
    return value


def _plain(value: Any, text: str) -> Any:
    """jsonata-python's values as JSON: its sequences (list subclasses) as plain lists, its
    null as None; a function (an expression whose value is a lambda) refused: it is not JSON."""
    if value is Utils.NULL_VALUE or value is None:
        return None
    if isinstance(value, dict):
        return {key: _plain(item, text) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, text) for item in value]
    if not isinstance(value, (str, int, float, bool)):
        raise StatesError(
            QUERY_EVALUATION, "The value of %s is a function, not a JSON value" % text
        )
    return value


# -- the functions Step Functions adds ---------------------------------------------------------


def _integer(value: Any, what: str) -> int:
    """An integer argument: "functions that require integer values as parameters will
    automatically round down any non-integer numbers provided" (the JSONata guide)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError("%s must be a number, not %r" % (what, value))
    return math.floor(value)


def _partition(array: Any, size: Any) -> list[Any]:
    """$partition(array, chunkSize): the array in chunks of chunkSize, the last maybe shorter."""
    if not isinstance(array, list):
        raise ValueError("$partition: the first argument must be an array")
    n = _integer(size, "$partition's chunk size")
    if n < 1:
        raise ValueError("$partition: the chunk size must be positive")
    items = list(array)
    return [items[i : i + n] for i in range(0, len(items), n)]


def _range(start: Any, end: Any, step: Any) -> list[int]:
    """$range(start, end, step): start to end inclusive by step (negative counts down)."""
    first, last = _integer(start, "$range's start"), _integer(end, "$range's end")
    by = _integer(step, "$range's step")
    if by == 0:
        raise ValueError("$range: the step must not be 0")
    numbers = range(first, last + (1 if by > 0 else -1), by)
    if len(numbers) > MOST_ITEMS:  # counted before a list is built
        raise ValueError(
            "$range: %d numbers, more than the %d any 256 KiB payload can hold"
            % (len(numbers), MOST_ITEMS)
        )
    return list(numbers)


def _hash(data: Any, algorithm: Any) -> str:
    """$hash(data, algorithm): the hex digest of the string's UTF-8 bytes."""
    if not isinstance(data, str):
        raise ValueError("$hash: the data must be a string")
    if algorithm not in _HASHES:
        raise ValueError("$hash: the algorithm must be one of %s" % ", ".join(_HASHES))
    return hashlib.new(_HASHES[algorithm], data.encode("utf-8")).hexdigest()


def _random(seed: Optional[Any] = None) -> float:
    """$random([seed]): a number in [0, 1); the same seed gives the same number."""
    if seed is None:
        return random.random()  # noqa: S311 -- not for security, as on AWS
    return random.Random(_integer(seed, "$random's seed")).random()  # noqa: S311


def _uuid() -> str:
    """$uuid(): a version 4 UUID."""
    return str(uuid.uuid4())


def _parse(text: Any) -> Any:
    """$parse(jsonString): the JSON value a string holds."""
    if not isinstance(text, str):
        raise ValueError("$parse: the argument must be a string")
    return json.loads(text)


def _pad(text: Any, width: Any, char: Any = None) -> Any:
    """JSONata's $pad, refusing a width no payload or variable could hold before it builds
    the string ($pad('a', 1e9) would take minutes and gigabytes)."""
    if (
        isinstance(width, (int, float))
        and not isinstance(width, bool)
        and abs(width) > MOST_CHARACTERS
    ):
        raise ValueError("$pad: a width of %d is more than any payload or variable holds" % width)
    return Functions.pad(text, width, char)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "pad": _pad,
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "random": _random,
    "uuid": _uuid,
    "parse": _parse,
}
