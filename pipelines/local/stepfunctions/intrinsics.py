"""The intrinsic functions (States.Format, States.Array, ...), parsed and evaluated as AWS does.

An expression is `States.Name(arg, ...)`; an argument is a 'string' (escapes \\' \\{ \\} \\\\
and no other: any other is a syntax error, so CreateStateMachine refuses it), a number, true,
false, null, a path ($.x, $$.x) or another call. Wrong arguments raise States.IntrinsicFailure
with the function's name; a result over the 256 KiB payload limit, States.DataLimitExceeded, as
each call returns (so nested calls cannot build unbounded text). Non-integer arguments to
MathAdd and MathRandom are rounded to the nearest integer, half up (Java's Math.round).
"""

import base64
import hashlib
import json
import math
import random
import re
import uuid
from typing import Any, Callable, Optional

from pipelines.local.stepfunctions import paths, runtime
from pipelines.local.stepfunctions.errors import INTRINSIC, RUNTIME, StatesError

# A parsed expression: ("call", name, [args]), ("literal", value) or ("path", text).
Node = tuple[Any, ...]
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_ESCAPED = "'{}\\"  # the characters a string argument escapes (the ASL spec's grammar)


def is_intrinsic(text: object) -> bool:
    return isinstance(text, str) and text.startswith("States.") and text.rstrip().endswith(")")


def parse(text: str) -> Node:
    """The call tree of an intrinsic expression: ("call", name, [args]), ("literal", v),
    ("path", text). Raises paths.PathSyntaxError on a malformed one."""
    tree, i = _call(text.strip(), 0)
    if i != len(text.strip()):
        raise paths.PathSyntaxError("%r: unexpected text after the call" % text)
    return tree


def _call(text: str, i: int) -> tuple[Node, int]:
    match = re.compile(r"States\.[A-Za-z0-9]+").match(text, i)
    if not match or not text.startswith("(", match.end()):
        raise paths.PathSyntaxError("%r is not an intrinsic function call" % text[i:])
    name, i = match.group(), match.end() + 1
    if name not in FUNCTIONS:
        raise paths.PathSyntaxError("%s is not an intrinsic function" % name)
    args: list[Node] = []
    i = _space(text, i)
    if text.startswith(")", i):
        return ("call", name, args), i + 1
    while True:
        arg, i = _argument(text, _space(text, i))
        args.append(arg)
        i = _space(text, i)
        if text.startswith(")", i):
            return ("call", name, args), i + 1
        if not text.startswith(",", i):
            raise paths.PathSyntaxError("%r: expected , or ) at character %d" % (text, i))
        i += 1


def _space(text: str, i: int) -> int:
    while i < len(text) and text[i] == " ":
        i += 1
    return i


def _argument(text: str, i: int) -> tuple[Node, int]:
    if text.startswith("'", i):
        out: list[str] = []
        j = i + 1
        while j < len(text):
            c = text[j]
            if c == "\\" and j + 1 < len(text):
                if text[j + 1] not in _ESCAPED:
                    raise paths.PathSyntaxError(
                        "%r: \\%s is not an escape (only \\' \\{ \\} \\\\ are)"
                        % (text, text[j + 1])
                    )
                out.append(text[j + 1])
                j += 2
                continue
            if c == "'":
                return ("literal", "".join(out)), j + 1
            out.append(c)
            j += 1
        raise paths.PathSyntaxError("%r: a string is not closed" % text)
    if text.startswith("States.", i):
        return _call(text, i)
    if text.startswith("$", i):
        depth, j = 0, i
        quote: Optional[str] = None
        while j < len(text):
            c = text[j]
            if quote:
                quote = None if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c in "[(":
                depth += 1
            elif c in "])":
                if depth == 0:
                    break
                depth -= 1
            elif c == "," and depth == 0:
                break
            j += 1
        path = text[i:j].strip()
        paths.parse(path)
        return ("path", path), j
    for word, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(word, i):
            return ("literal", value), i + len(word)
    match = _NUMBER.match(text, i)
    if match:
        number = float(match.group())
        literal = int(number) if match.group(1) is None and match.group(2) is None else number
        return ("literal", literal), match.end()
    raise paths.PathSyntaxError("%r: cannot read the argument at character %d" % (text, i))


def evaluate(text: str, document: Any, context: Any) -> Any:
    return _evaluate(parse(text), document, context)


def _evaluate(node: Node, document: Any, context: Any) -> Any:
    if node[0] == "literal":
        return node[1]
    if node[0] == "path":
        try:
            return paths.read(document, node[1], context)
        except LookupError:
            raise StatesError(
                RUNTIME,
                "The JSONPath %s could not be found in the input %s"
                % (node[1], json.dumps(document)),
            )
    _, name, args = node
    values = [_evaluate(a, document, context) for a in args]
    try:
        result = FUNCTIONS[name](*values)
        runtime.limit(result, "result of %s" % name)
        return result
    except StatesError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, OverflowError) as e:
        raise StatesError(INTRINSIC, "Invalid arguments in %s: %s" % (name, e))


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("%s takes numbers, not %s" % (name, json.dumps(value)))
    return value


def _integer(value: Any, name: str) -> int:
    value = _number(value, name)
    if float(value) != int(value):
        raise ValueError("%s takes integers, not %s" % (name, value))
    return int(value)


def _rounded(value: Any, name: str) -> int:
    """A number rounded to the nearest integer, half up, as AWS rounds MathAdd's and
    MathRandom's arguments (1.5 -> 2, -1.5 -> -1)."""
    value = _number(value, name)
    return value if isinstance(value, int) else int(math.floor(value + 0.5))


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError("%s takes a string, not %s" % (name, json.dumps(value)))
    return value


def _array(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("%s takes an array, not %s" % (name, json.dumps(value)))
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _java(value: Any) -> str:
    """A value as AWS's States.Format writes it: Java's Map/List toString, {k=v, k=v} and
    [a, b], strings unquoted, null/true/false/numbers as JSON writes them."""
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s=%s" % (k, _java(v)) for k, v in value.items())
    if isinstance(value, list):
        return "[%s]" % ", ".join(_java(v) for v in value)
    return _text(value)


def _format(template: Any, *args: Any) -> str:
    pieces = re.split(r"(?<!\\)\{\}", _string(template, "States.Format"))
    if len(pieces) - 1 != len(args):
        raise ValueError(
            "the template has %d placeholders and %d arguments were given"
            % (len(pieces) - 1, len(args))
        )
    out = pieces[0]
    for arg, piece in zip(args, pieces[1:]):
        out += _java(arg) + piece
    return out.replace("\\{", "{").replace("\\}", "}")


def _partition(array: Any, size: Any) -> list[list[Any]]:
    array, size = _array(array, "States.ArrayPartition"), _integer(size, "States.ArrayPartition")
    if size <= 0:
        raise ValueError("the chunk size must be positive")
    return [array[i : i + size] for i in range(0, len(array), size)]


def _range(start: Any, end: Any, step: Any) -> list[int]:
    start, end, step = (_integer(v, "States.ArrayRange") for v in (start, end, step))
    if step == 0:
        raise ValueError("the step must not be 0")
    items = range(start, end + (1 if step > 0 else -1), step)
    if len(items) > 1000:  # counted before it is built
        raise ValueError("States.ArrayRange makes at most 1000 items, not %d" % len(items))
    return list(items)


def _unique(array: Any) -> list[Any]:
    out: list[Any] = []
    seen: set[Any] = set()
    for item in _array(array, "States.ArrayUnique"):
        key = _key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _key(value: Any) -> Any:
    """A hashable key equal for equal JSON values (1 and 1.0 alike, true and 1 not)."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("l", tuple(_key(v) for v in value))
    return ("o", frozenset((k, _key(v)) for k, v in value.items()))


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _base64_encode(text: Any) -> str:
    text = _string(text, "States.Base64Encode")
    if len(text) > 10000:
        raise ValueError("States.Base64Encode takes at most 10,000 characters")
    return base64.b64encode(text.encode()).decode()


def _base64_decode(text: Any) -> str:
    text = _string(text, "States.Base64Decode")
    if len(text) > 10000:
        raise ValueError("States.Base64Decode takes at most 10,000 characters")
    return base64.b64decode(text.encode(), validate=True).decode()


_HASHES = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(data: Any, algorithm: Any) -> str:
    if algorithm not in _HASHES:
        raise ValueError("the algorithm is one of %s" % ", ".join(_HASHES))
    data = _text(data)
    if len(data) > 10000:
        raise ValueError("States.Hash takes at most 10,000 characters")
    return hashlib.new(_HASHES[algorithm], data.encode()).hexdigest()


def _merge(a: Any, b: Any, deep: Any) -> dict[str, Any]:
    if deep is not False:
        raise ValueError("only a shallow merge is supported: the third argument must be false")
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise ValueError("States.JsonMerge takes two objects")
    return dict(a, **b)


def _random(start: Any, end: Any, seed: Any = None) -> int:
    start, end = _rounded(start, "States.MathRandom"), _rounded(end, "States.MathRandom")
    rng = random.Random(_rounded(seed, "States.MathRandom")) if seed is not None else random
    return rng.randrange(start, end)


def _split(text: Any, delimiters: Any) -> list[str]:
    text, delimiters = (
        _string(text, "States.StringSplit"),
        _string(delimiters, "States.StringSplit"),
    )
    if not delimiters:
        return [text]
    return [p for p in re.split("[%s]" % re.escape(delimiters), text) if p]


def _get_item(array: Any, index: Any) -> Any:
    array, index = _array(array, "States.ArrayGetItem"), _integer(index, "States.ArrayGetItem")
    if not 0 <= index < len(array):
        raise ValueError("index %d is outside the array of %d items" % (index, len(array)))
    return array[index]


def _to_json(text: Any) -> Any:
    text = _string(text, "States.StringToJson")
    return json.loads(text) if text.strip() else None  # an empty or blank string is null


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.Format": _format,
    "States.StringToJson": _to_json,
    "States.JsonToString": lambda value: json.dumps(value, separators=(",", ":")),
    "States.Array": lambda *values: list(values),
    "States.ArrayPartition": _partition,
    "States.ArrayContains": lambda array, value: any(
        _equal(item, value) for item in _array(array, "States.ArrayContains")
    ),
    "States.ArrayRange": _range,
    "States.ArrayGetItem": _get_item,
    "States.ArrayLength": lambda array: len(_array(array, "States.ArrayLength")),
    "States.ArrayUnique": _unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _merge,
    "States.MathRandom": _random,
    "States.MathAdd": lambda a, b: _rounded(a, "States.MathAdd") + _rounded(b, "States.MathAdd"),
    "States.StringSplit": _split,
    "States.UUID": lambda: str(uuid.uuid4()),
}
