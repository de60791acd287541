"""JSONata in states whose QueryLanguage is JSONata (docs/adr/0012): `{% expression %}` strings
anywhere in a field's JSON, each parsed once (a syntax error refuses the definition) and
evaluated with the `$states` variable bound and the functions Step Functions adds to JSONata's
own library ($partition, $range, $hash, $random, $uuid, $parse), implemented from the
developer guide ("Transforming data with JSONata in Step Functions")."""

import functools
import hashlib
import json
import random
import threading
import uuid
from typing import Any, Callable, Optional

from jsonata import Jsonata

from pipelines.local.stepfunctions.errors import QUERY_EVALUATION, StatesError

JSONATA = "JSONata"
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
        self._lock = threading.Lock()

    def evaluate(self, states: dict[str, Any], variables: Optional[dict[str, Any]] = None) -> Any:
        """The expression's value with `$states` and the workflow's variables bound."""
        bindings = dict(variables or {}, states=states)
        try:
            with self._lock:
                value = self._parsed.evaluate(None, bindings)
        except StatesError:
            raise
        except Exception as e:
            raise StatesError(
                QUERY_EVALUATION, "An error occurred while evaluating %s: %s" % (self.text, e)
            ) from e
        return _plain(value)


@functools.lru_cache(maxsize=4096)
def parsed(text: str) -> Expression:
    """The expression `text` parsed (once per process: definitions repeat their expressions)."""
    return Expression(text)


def check(value: Any) -> None:
    """Every `{% %}` string in `value` parses; raises ExpressionSyntaxError."""
    if is_expression(value):
        parsed(value)
    elif isinstance(value, dict):
        for item in value.values():
            check(item)
    elif isinstance(value, list):
        for item in value:
            check(item)


def fill(value: Any, states: dict[str, Any], variables: Optional[dict[str, Any]] = None) -> Any:
    """`value` with each `{% %}` string replaced by its expression's value."""
    if is_expression(value):
        return parsed(value).evaluate(states, variables)
    if isinstance(value, dict):
        return {key: fill(item, states, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, states, variables) for item in value]
    return value


def _plain(value: Any) -> Any:
    """jsonata-python's sequences (list subclasses) as plain lists, and a function (an
    expression whose value is a lambda) refused: it is not JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if callable(value):
        raise StatesError(QUERY_EVALUATION, "an expression's value is a function, not JSON")
    return value


# -- the functions Step Functions adds ---------------------------------------------------------


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError("%s must be an integer, not %r" % (what, value))
    return int(value)


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
    return list(range(first, last + (1 if by > 0 else -1), by))


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


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "random": _random,
    "uuid": _uuid,
    "parse": _parse,
}
