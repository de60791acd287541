"""Pipeline expressions (docs/container-contracts.md section 7.2) and conditions (7.3).

{"Get": "Parameters.X"}, {"Get": "Execution.PipelineExecutionId"},
{"Get": "Steps.S.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
{"Std:Join": {"On": "/", "Values": [...]}},
{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.S.PropertyFiles.F"}, "Path": "a.b"}}
"""

from __future__ import annotations  # the job processes import this: no typing at run time

import json
import re

from pipelines.errors import ChurnError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Optional, Union

    from pipelines.local.s3 import Store

_INDEX = re.compile(r"\[('([^']*)'|\"([^\"]*)\"|(\d+))\]")


class ExpressionError(ChurnError):
    """An expression that does not resolve (unknown parameter, step not run, no such path)."""


class Context(object):
    """What expressions resolve against: parameters, execution variables, step properties."""

    def __init__(self, parameters: dict[str, Any], execution: dict[str, Any], store: Store) -> None:
        self.parameters = parameters  # name -> value
        self.execution = execution  # name -> value (PipelineExecutionId, ...)
        self.properties: dict[str, Any] = {}  # step name -> Describe*-shaped dict
        self.property_files: dict[str, dict[str, str]] = {}  # step name -> {file name: s3 uri}
        self.store = store


def resolve(value: Any, ctx: Context) -> Any:
    """Replace every expression inside `value` (any JSON) by its value."""
    if isinstance(value, list):
        return [resolve(v, ctx) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Get"}:
        return get(value["Get"], ctx)
    if set(value) == {"Std:Join"}:
        join = value["Std:Join"]
        return join["On"].join(as_text(resolve(v, ctx)) for v in join["Values"])
    if set(value) == {"Std:JsonGet"}:
        return json_get(value["Std:JsonGet"], ctx)
    return {k: resolve(v, ctx) for k, v in value.items()}


def as_text(value: object) -> str:
    """A value as pipeline text: booleans lower-case, as the service renders them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def get(path: str, ctx: Context) -> Any:
    kind, _, rest = path.partition(".")
    if kind == "Parameters":
        if rest not in ctx.parameters:
            raise ExpressionError("unknown parameter %r" % rest)
        return ctx.parameters[rest]
    if kind == "Execution":
        if rest not in ctx.execution:
            raise ExpressionError("unknown execution variable %r" % rest)
        return ctx.execution[rest]
    if kind == "Steps":
        step, _, attribute = rest.partition(".")
        if attribute.startswith("PropertyFiles."):
            files = ctx.property_files.get(step, {})
            name = attribute.split(".", 1)[1]
            if name not in files:
                raise ExpressionError("step %s has no property file %s" % (step, name))
            return {"PropertyFile": files[name]}
        if step not in ctx.properties:
            raise ExpressionError("step %s has not run (referenced as %s)" % (step, path))
        return walk(ctx.properties[step], attribute, path)
    raise ExpressionError("cannot resolve %r" % path)


def walk(obj: Any, path: str, full: Optional[str] = None) -> Any:
    """Follow `A.B['name'].C[0]` through Describe*-shaped dicts; a list of named items is
    indexed by name as the SDK's Properties do (Outputs['train'])."""
    for token in _tokens(path):
        if isinstance(token, int):
            obj = obj[token]
        elif isinstance(obj, list):
            matches = [
                o
                for o in obj
                if isinstance(o, dict)
                and token
                in (
                    o.get("OutputName"),
                    o.get("ChannelName"),
                    o.get("InputName"),
                    o.get("MetricName"),
                )
            ]
            if not matches:
                raise ExpressionError("%s: no item named %r" % (full or path, token))
            obj = matches[0]
        else:
            if not isinstance(obj, dict) or token not in obj:
                raise ExpressionError("%s: no attribute %r" % (full or path, token))
            obj = obj[token]
    return obj


def _tokens(path: str) -> list[Union[str, int]]:
    tokens: list[Union[str, int]] = []
    for part in re.split(r"\.(?![^\[]*\])", path):
        name = _INDEX.split(part)[0]
        if name:
            tokens.append(name)
        for m in _INDEX.finditer(part):
            tokens.append(int(m.group(4)) if m.group(4) else (m.group(2) or m.group(3)))
    return tokens


def json_get(spec: dict[str, Any], ctx: Context) -> Any:
    if "PropertyFile" in spec:
        ref = resolve(spec["PropertyFile"], ctx)
        uri = ref["PropertyFile"] if isinstance(ref, dict) else ref
    else:
        uri = resolve(spec["S3Uri"], ctx)
    try:
        document = json.loads(ctx.store.read_bytes(uri))
    except ValueError as e:
        raise ExpressionError("property file %s is not JSON: %s" % (uri, e))
    try:
        return walk(document, spec["Path"])
    except (ExpressionError, IndexError, KeyError, TypeError):
        raise ExpressionError("property file %s has no %s" % (uri, spec["Path"]))


# ----------------------------------------------------------------------------- conditions


def _compare(kind: str, left: Any, right: Any) -> bool:
    if kind == "Equals":
        return left == right
    if isinstance(left, str) != isinstance(right, str):
        left, right = float(left), float(right)
    return {
        "GreaterThan": left > right,
        "GreaterThanOrEqualTo": left >= right,
        "LessThan": left < right,
        "LessThanOrEqualTo": left <= right,
    }[kind]


def evaluate(condition: dict[str, Any], ctx: Context) -> bool:
    kind = condition["Type"]
    if kind == "Not":
        return not evaluate(condition["Condition"], ctx)
    if kind == "Or":
        return any(evaluate(c, ctx) for c in condition["Conditions"])
    if kind == "In":
        return resolve(condition["QueryValue"], ctx) in [
            resolve(v, ctx) for v in condition["Values"]
        ]
    if kind in ("Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo"):
        return _compare(
            kind, resolve(condition["LeftValue"], ctx), resolve(condition["RightValue"], ctx)
        )
    raise ExpressionError("condition type %r is not supported" % kind)


def evaluate_all(conditions: list[dict[str, Any]], ctx: Context) -> bool:
    """The Conditions list of a ConditionStep is a conjunction."""
    return all(evaluate(c, ctx) for c in conditions)
