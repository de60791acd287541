"""Input and output processing of a state: InputPath, Parameters and ResultSelector payload
templates (fields ending `.$`: a path or an intrinsic function), ResultPath, OutputPath."""

import json
from typing import Any, Optional

from pipelines.local.stepfunctions import intrinsics, paths
from pipelines.local.stepfunctions.errors import RUNTIME, StatesError


def select(document: Any, path: Optional[str], context: Any, field: str) -> Any:
    """InputPath / OutputPath / ItemsPath: null gives {}, a path its value."""
    if path is None:
        return {}
    try:
        return paths.read(document, path, context)
    except LookupError:
        raise StatesError(
            RUNTIME,
            "Invalid path '%s' : No results for path: %s (the %s of the input %s)"
            % (path, path, field, _short(document)),
        )


def template(value: Any, document: Any, context: Any) -> Any:
    """A payload template filled in from `document` and the context object."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key.endswith(".$"):
                out[key[:-2]] = _dynamic(key, item, document, context)
            else:
                out[key] = template(item, document, context)
        return out
    if isinstance(value, list):
        return [template(item, document, context) for item in value]
    return value


def _dynamic(key: str, expression: str, document: Any, context: Any) -> Any:
    if intrinsics.is_intrinsic(expression):
        return intrinsics.evaluate(expression, document, context)
    try:
        return paths.read(document, expression, context)
    except LookupError:
        raise StatesError(
            RUNTIME,
            "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'"
            % (expression, key, _short(context if expression.startswith("$$") else document)),
        )


def place(state_input: Any, result: Any, result_path: Optional[str]) -> Any:
    """ResultPath: the result put into the state's raw input (null: the input unchanged)."""
    if result_path is None:
        return state_input
    return paths.write(state_input, result_path, result)


def _short(document: Any) -> str:
    text = json.dumps(document)
    return text if len(text) <= 1000 else text[:1000] + "..."
