"""JSONPath as Step Functions evaluates it (Jayway JsonPath semantics).

A definite path (names and indices only) selects one value; an indefinite one (wildcards,
slices, unions, deep scans, filters) selects the list of what it matches, possibly empty.
Reference paths (ResultPath, a Choice rule's Variable) are the definite ones, and ResultPath
writes through them, creating objects on the way.
"""

import copy
import re
from typing import Any, Iterator, Optional, Union

from pipelines.local.stepfunctions import variables
from pipelines.local.stepfunctions.errors import StatesError

_NAME = re.compile(r"[^.\[\]()'\" ,=<>!&|?@]+")
_VARIABLE = variables.NAME
MISSING = object()
# A parsed path's step: ("name", str), ("index", int), ("slice", start, stop, step), ("wild",),
# ("union", [key, ...]), ("filter", _Filter) or ("deep", segment).
Segment = tuple[Any, ...]


class PathSyntaxError(ValueError):
    """A path that is not JSONPath: a definition error, found before the run starts."""


def parse(path: str) -> list[Segment]:
    """The segments of a path: ("name", str), ("index", int), ("slice", start, stop, step),
    ("wild",), ("union", [key, ...]), ("filter", test), each as ("deep", segment) under `..`."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise PathSyntaxError("%r is not a JSONPath (it must start with $)" % (path,))
    name = variable(path)
    if name is not None:
        text = path[1 + len(name) :]
    else:
        text = path[2:] if path.startswith("$$") else path[1:]
    segments: list[Segment] = []
    i = 0
    while i < len(text):
        deep = text.startswith("..", i)
        if deep or text[i] == ".":
            i += 2 if deep else 1
            if i < len(text) and text[i] == "[":
                segment, i = _bracket(text, i, path)
            elif text.startswith("*", i):
                segment, i = ("wild",), i + 1
            else:
                match = _NAME.match(text, i)
                if not match:
                    raise PathSyntaxError("%r: a name is missing at character %d" % (path, i))
                segment, i = ("name", match.group()), match.end()
        elif text[i] == "[":
            segment, i = _bracket(text, i, path)
        else:
            raise PathSyntaxError("%r: unexpected %r at character %d" % (path, text[i], i))
        segments.append(("deep", segment) if deep else segment)
    return segments


def _bracket(text: str, i: int, path: str) -> tuple[Segment, int]:
    end = _closing(text, i, path)
    inner = text[i + 1 : end].strip()
    if inner == "*":
        return ("wild",), end + 1
    if inner.startswith("?"):
        body = inner[1:].strip()
        if not (body.startswith("(") and body.endswith(")")):
            raise PathSyntaxError("%r: a filter is written [?(...)]" % path)
        return ("filter", _Filter(body[1:-1], path)), end + 1
    if ":" in inner and not inner.startswith(("'", '"')):
        parts = [p.strip() for p in inner.split(":")]
        if len(parts) > 3 or not all(re.fullmatch(r"-?\d*", p) for p in parts):
            raise PathSyntaxError("%r: bad slice [%s]" % (path, inner))
        bounds = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
        return ("slice", bounds[0], bounds[1], bounds[2]), end + 1
    keys = [_key(k.strip(), path) for k in _split_union(inner)]
    if len(keys) == 1:
        key = keys[0]
        return (("index", key) if isinstance(key, int) else ("name", key)), end + 1
    return ("union", keys), end + 1


def _closing(text: str, i: int, path: str) -> int:
    depth, quote, escaped = 0, None, False
    for j in range(i, len(text)):
        c = text[j]
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise PathSyntaxError("%r: a [ is not closed" % path)


def _split_union(inner: str) -> list[str]:
    parts: list[str] = []
    current, quote, escaped = "", None, False
    for c in inner:
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == ",":
            parts.append(current)
            current = ""
            continue
        current += c
    return parts + [current]


def _key(text: str, path: str) -> Union[str, int]:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", text[1:-1])  # a backslash escapes the next character
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    raise PathSyntaxError("%r: [%s] is neither a quoted name nor an index" % (path, text))


def variable(path: str) -> Optional[str]:
    """The variable a path starts from ($name.field: "name"), or None for a path of the
    state's input ($) or of the context object ($$)."""
    match = _VARIABLE.match(path, 1)
    return match.group() if match and path.startswith("$") else None


def is_definite(path: str) -> bool:
    return all(s[0] in ("name", "index") for s in parse(path))


def read(document: Any, path: str, context: Any = None) -> Any:
    """The value `path` selects (a path starting $$ reads the context object, one starting
    $name the variable `name`). A definite path that selects nothing, or a variable that is
    not assigned, raises LookupError; an indefinite one gives a list."""
    segments = parse(path)
    name = variable(path)
    if name is not None:
        root = variables.lookup(context, name)
    else:
        root = context if path.startswith("$$") else document
    if all(s[0] in ("name", "index") for s in segments):
        value = root
        for _, key in segments:
            value = _child(value, key)
            if value is MISSING:
                raise LookupError(path)
        return value
    values = [root]
    for segment in segments:
        values = [v for value in values for v in _select(value, segment, root)]
    return values


def _child(value: Any, key: Union[str, int]) -> Any:
    if isinstance(key, int):
        if isinstance(value, list) and -len(value) <= key < len(value):
            return value[key]
        return MISSING
    if isinstance(value, dict):
        return value.get(key, MISSING)
    return MISSING


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    return []


def _select(value: Any, segment: Segment, root: Any) -> list[Any]:
    kind = segment[0]
    if kind == "deep":
        found: list[Any] = []
        for node in _walk(value):
            found.extend(_select(node, segment[1], root))
        return found
    if kind in ("name", "index"):
        child = _child(value, segment[1])
        return [] if child is MISSING else [child]
    if kind == "wild":
        return _children(value)
    if kind == "slice":
        return value[slice(*segment[1:])] if isinstance(value, list) else []
    if kind == "union":
        return [c for c in (_child(value, k) for k in segment[1]) if c is not MISSING]
    return [c for c in _children(value) if segment[1].test(c, root)]


def _walk(value: Any) -> Iterator[Any]:
    yield value
    for child in _children(value):
        yield from _walk(child)


def write(document: Any, path: str, value: Any) -> Any:
    """A copy of `document` with `value` at the reference path `path` ("$" replaces it),
    creating the objects on the way; a path through something not an object raises
    StatesError(States.ResultPathMatchFailure)."""
    segments = parse(path)
    if not all(s[0] == "name" or s[0] == "index" for s in segments):
        raise PathSyntaxError("%r is not a reference path" % path)
    if not segments:
        return value
    result = copy.deepcopy(document)
    if not isinstance(result, dict):
        raise _match_failure(path, document)
    node: Union[dict[str, Any], list[Any]] = result
    for kind, key in segments[:-1]:
        child = _child(node, key)
        if child is MISSING and kind == "name" and isinstance(node, dict):
            child = node[key] = {}
        if not isinstance(child, (dict, list)):
            raise _match_failure(path, document)
        node = child
    kind, key = segments[-1]
    if kind == "name" and isinstance(node, dict):
        node[key] = value
    elif kind == "index" and isinstance(node, list) and -len(node) <= key < len(node):
        node[key] = value
    else:
        raise _match_failure(path, document)
    return result


def _match_failure(path: str, document: Any) -> StatesError:
    import json

    return StatesError(
        "States.ResultPathMatchFailure",
        "Unable to apply ResultPath %s to input %s" % (path, json.dumps(document)),
    )


# A filter's parsed test: ("or" | "and", left, right), ("not", node), ("exists", operand),
# ("compare", op, left, right); an operand is ("literal", value) or ("path", text).
Node = tuple[Any, ...]


class _Filter:
    """A filter's test, [?(@.price < 10 && @.category == 'fiction')]: comparisons of @ or $
    paths with literals or paths, existence (@.isbn), && and ||, ! and parentheses."""

    _TOKEN = re.compile(
        r"\s*(?:(?P<op>==|!=|<=|>=|<|>|&&|\|\||!|\(|\))"
        r"|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
        r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
        r"|(?P<word>true|false|null)\b"
        r"|(?P<path>[@$](?:\.\.?[^\s.\[\]()=<>!&|]+|\[[^\]]*\])*))"
    )

    def __init__(self, text: str, path: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        i = 0
        text = text.strip()
        while i < len(text):
            match = self._TOKEN.match(text, i)
            if not match or match.end() == i:
                raise PathSyntaxError("%r: cannot read the filter at %r" % (path, text[i:]))
            kind = match.lastgroup
            assert kind is not None  # every alternative of _TOKEN is a named group
            self.tokens.append((kind, match.group(kind)))
            i = match.end()
        self.path = path
        self.tree, rest = self._or(0)
        if rest != len(self.tokens):
            raise PathSyntaxError("%r: the filter does not end where expected" % path)

    def _or(self, i: int) -> tuple[Node, int]:
        left, i = self._and(i)
        while i < len(self.tokens) and self.tokens[i] == ("op", "||"):
            right, i = self._and(i + 1)
            left = ("or", left, right)
        return left, i

    def _and(self, i: int) -> tuple[Node, int]:
        left, i = self._unary(i)
        while i < len(self.tokens) and self.tokens[i] == ("op", "&&"):
            right, i = self._unary(i + 1)
            left = ("and", left, right)
        return left, i

    def _unary(self, i: int) -> tuple[Node, int]:
        if i < len(self.tokens) and self.tokens[i] == ("op", "!"):
            inner, i = self._unary(i + 1)
            return ("not", inner), i
        if i < len(self.tokens) and self.tokens[i] == ("op", "("):
            inner, i = self._or(i + 1)
            if i >= len(self.tokens) or self.tokens[i] != ("op", ")"):
                raise PathSyntaxError("%r: a ( is not closed in the filter" % self.path)
            return inner, i + 1
        left, i = self._operand(i)
        ops = ("==", "!=", "<", "<=", ">", ">=")
        if i < len(self.tokens) and self.tokens[i][0] == "op" and self.tokens[i][1] in ops:
            right, j = self._operand(i + 1)
            return ("compare", self.tokens[i][1], left, right), j
        return ("exists", left), i

    def _operand(self, i: int) -> tuple[Node, int]:
        if i >= len(self.tokens):
            raise PathSyntaxError("%r: the filter ends too early" % self.path)
        kind, text = self.tokens[i]
        if kind == "str":
            return ("literal", text[1:-1].replace("\\'", "'").replace('\\"', '"')), i + 1
        if kind == "num":
            number = float(text)
            return (
                "literal",
                int(number) if number.is_integer() and "." not in text else number,
            ), i + 1
        if kind == "word":
            return ("literal", {"true": True, "false": False, "null": None}[text]), i + 1
        if kind == "path":
            return ("path", text), i + 1
        raise PathSyntaxError("%r: unexpected %r in the filter" % (self.path, text))

    def test(self, item: Any, root: Any) -> bool:
        return bool(self._eval(self.tree, item, root))

    def _value(self, operand: Node, item: Any, root: Any) -> Any:
        if operand[0] == "literal":
            return operand[1]
        text = operand[1]
        base = item if text.startswith("@") else root
        try:
            return read(base, "$" + text[1:])
        except LookupError:
            return MISSING

    def _eval(self, node: Node, item: Any, root: Any) -> Any:
        kind = node[0]
        if kind == "or":
            return self._eval(node[1], item, root) or self._eval(node[2], item, root)
        if kind == "and":
            return self._eval(node[1], item, root) and self._eval(node[2], item, root)
        if kind == "not":
            return not self._eval(node[1], item, root)
        if kind == "exists":
            return self._value(node[1], item, root) is not MISSING
        _, op, left, right = node
        a, b = self._value(left, item, root), self._value(right, item, root)
        if a is MISSING or b is MISSING:
            return False
        if op == "==":
            return _same(a, b)
        if op == "!=":
            return not _same(a, b)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        if not (numbers or (isinstance(a, str) and isinstance(b, str))):
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b
