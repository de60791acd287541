"""What boto3 checks before it sends a request (types, required members, minimum lengths), with
botocore's own validator and service model: the twins refuse what boto3 would; and what the
service checks after it (constraint_violations: enums, maximum lengths, patterns), from the same
model, for a twin to refuse as its service does."""

import functools
import re
import sys
import unicodedata
from typing import Any, Dict, List, Match, Optional, Pattern, Tuple

_MODELS: Dict[str, Any] = {}
# Java regular-expression syntax the service models use that Python's re does not read: a
# range of UTF-16 surrogate pairs (the supplementary planes) and Unicode categories.
_PAIR = r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})"
_SURROGATE_PAIRS = re.compile(_PAIR + "-" + _PAIR, re.I)
_CATEGORY = re.compile(r"\\p\{([A-Z][a-z]?)\}")
# Java's POSIX classes the models use (sagemaker-runtime's headers: \p{ASCII}*, [\p{Print}]*).
_POSIX = {"ASCII": "\\x00-\\x7F", "Print": "\\x20-\\x7E"}
_POSIX_CLASS = re.compile(r"\\p\{(ASCII|Print)\}")


def check_parameters(service: str, operation: str, params: Dict[str, Any]) -> None:
    """Raises botocore's ParamValidationError, as a boto3 client does."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import ParamValidator

    model = _model(service).operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


def constraint_violations(service: str, operation: str, params: Dict[str, Any]) -> List[str]:
    """What the service's own validation refuses and botocore does not check (enum values,
    maximum lengths and counts, patterns, text that is not valid UTF-8), as AWS words each:
    ["Value 'x' at 'targetStores.1.member' failed to satisfy constraint: Member must ..."].
    Patterns are matched against the whole value, as the services match them."""
    found: List[str] = []
    _walk(_model(service).operation_model(operation).input_shape, params, "", found)
    return found


def _walk(shape: Any, value: Any, path: str, found: List[str]) -> None:
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                where = name[:1].lower() + name[1:]
                _walk(member, value[name], "%s.%s" % (path, where) if path else where, found)
    elif kind == "list" and isinstance(value, list):
        if len(value) > meta.get("max", len(value)):
            found.append(
                _violation(
                    value, path, "Member must have length less than or equal to %d" % meta["max"]
                )
            )
        for i, item in enumerate(value, start=1):
            _walk(shape.member, item, "%s.%d.member" % (path, i), found)
    elif kind == "string" and isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            found.append(
                _violation(
                    value, path, "Member must be valid UTF-8 text (it holds a lone surrogate)"
                )
            )
            return
        if shape.enum and value not in shape.enum:
            found.append(
                _violation(
                    value, path, "Member must satisfy enum value set: [%s]" % ", ".join(shape.enum)
                )
            )
        elif len(value) > meta.get("max", len(value)):
            found.append(
                _violation(
                    value, path, "Member must have length less than or equal to %d" % meta["max"]
                )
            )
        elif "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):
            found.append(
                _violation(
                    value,
                    path,
                    "Member must satisfy regular expression pattern: %s" % meta["pattern"],
                )
            )
    elif kind in ("integer", "long") and isinstance(value, int):
        if value > meta.get("max", value):
            found.append(
                _violation(
                    value, path, "Member must have value less than or equal to %d" % meta["max"]
                )
            )


def output_shape(service: str, operation: str) -> Any:
    """The operation's answer shape in botocore's model, for a twin to answer as boto3 parses."""
    return _model(service).operation_model(operation).output_shape


@functools.lru_cache(maxsize=None)
def _pattern(java: str) -> Pattern[str]:
    """A model's pattern (Java syntax) as Python's re reads it, matched with DOTALL."""

    def pairs(m: Match[str]) -> str:
        low, high = (
            0x10000 + ((int(a, 16) - 0xD800) << 10) + (int(b, 16) - 0xDC00)
            for a, b in (m.group(1, 2), m.group(3, 4))
        )
        return "\\U%08X-\\U%08X" % (low, high)

    python = _SURROGATE_PAIRS.sub(pairs, _posix_classes(java))
    python = _CATEGORY.sub(lambda m: _category_ranges(m.group(1)), python)
    return re.compile(python, re.DOTALL)


def _posix_classes(java: str) -> str:
    """Java's \\p{ASCII} and \\p{Print} as ranges (bracketed outside a character class), and
    its end of input \\z as Python's \\Z."""
    out: List[str] = []
    in_class, i = False, 0
    while i < len(java):
        found = _POSIX_CLASS.match(java, i)
        if found:
            ranges = _POSIX[found.group(1)]
            out.append(ranges if in_class else "[%s]" % ranges)
            i = found.end()
        elif java[i] == "\\":
            pair = java[i : i + 2]
            out.append("\\Z" if pair == "\\z" else pair)
            i += 2
        else:
            in_class = True if java[i] == "[" else False if java[i] == "]" else in_class
            out.append(java[i])
            i += 1
    return "".join(out)


@functools.lru_cache(maxsize=None)
def _category_ranges(category: str) -> str:
    """The code points of a Unicode category (L, or Lu) as ranges inside a character class,
    as \\p{L} stands inside the models' classes."""
    ranges: List[Tuple[int, int]] = []
    start: Optional[int] = None
    previous = 0
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)).startswith(category):
            if start is None:
                start = code
            previous = code
        elif start is not None:
            ranges.append((start, previous))
            start = None
    if start is not None:
        ranges.append((start, previous))
    return "".join("\\U%08X-\\U%08X" % r for r in ranges)


def _violation(value: Any, path: str, rule: str) -> str:
    if isinstance(value, list):
        value = "[%s]" % ", ".join(map(str, value))
    text = str(value).encode("utf-8", "replace").decode("utf-8")
    if len(text) > 80:  # a 350 KB value is named, not echoed
        text = text[:77] + "..."
    return "Value '%s' at '%s' failed to satisfy constraint: %s" % (text, path, rule)


def _model(service: str) -> Any:
    if service not in _MODELS:
        import botocore.session

        _MODELS[service] = botocore.session.get_session().get_service_model(service)
    return _MODELS[service]


def answer_problems(service: str, operation: str, answer: Dict[str, Any]) -> List[str]:
    """Where a twin's answer differs from what boto3 would hand its caller for `operation`:
    members the output shape lacks, required members missing, wrong types (botocore's own
    validator over the output shape), and timestamps that are not datetimes (boto3 parses
    every timestamp member into one)."""
    import datetime

    from botocore.validate import ParamValidator

    shape = output_shape(service, operation)
    if shape is None:
        return [] if not answer else ["%s answers nothing, not %r" % (operation, answer)]
    report = ParamValidator().validate(answer, shape)
    problems = report.generate_report().splitlines() if report.has_errors() else []

    def walk(shape: Any, value: Any, path: str) -> None:
        kind = shape.type_name
        if kind == "timestamp" and not isinstance(value, datetime.datetime):
            problems.append("%s: a timestamp boto3 gives as a datetime, not %r" % (path, value))
        elif kind == "structure" and isinstance(value, dict):
            for name, member in shape.members.items():
                if name in value:
                    walk(member, value[name], "%s.%s" % (path, name))
        elif kind == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                walk(shape.member, item, "%s[%d]" % (path, i))
        elif kind == "map" and isinstance(value, dict):
            for key, item in value.items():
                walk(shape.value, item, "%s[%r]" % (path, key))

    walk(shape, answer, operation)
    return [p.strip() for p in problems]


def pagination(service: str, operation: str) -> Optional[Dict[str, Any]]:
    """botocore's pagination config of an operation (input_token, output_token, limit_key,
    result_key), or None when boto3 offers no paginator for it."""
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    try:
        config = loader.load_service_model(service, "paginators-1")
    except Exception:  # a service without paginators
        return None
    return config.get("pagination", {}).get(operation)


def operation_of(service: str, method_name: str) -> str:
    """The operation boto3's client method `method_name` calls (list_state_machines ->
    ListStateMachines), by botocore's own naming."""
    from botocore import xform_name

    for operation in _model(service).operation_names:
        if xform_name(operation) == method_name:
            return operation
    raise AttributeError("%s has no operation for %s" % (service, method_name))


def error_status(service: str, code: str) -> int:
    """The HTTP status the service answers its error `code` with: the error shape's
    httpStatusCode in its model; 400, a client's fault, when the model gives none (every error
    of a JSON-protocol service such as sagemaker answers 400)."""
    from botocore.model import NoShapeFoundError

    try:
        shape = _model(service).shape_for(code)
    except NoShapeFoundError:
        return 400
    return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
