"""ValidateStateMachineDefinition, an operation of boto3's `stepfunctions` client over the
home's local Step Functions (a mixin of service.py's StepFunctions): `result` OK or FAIL and
`diagnostics` [{severity, code, message, location}] with the codes the API reference lists
(API_ValidateStateMachineDefinitionDiagnostic.html: INVALID_JSON_DESCRIPTION,
SCHEMA_VALIDATION_FAILED, MISSING_TRANSITION_TARGET, MISSING_END_STATE, DUPLICATE_STATE_NAME,
INVALID_STATE_NAME) and locations in its format (/States/<StateName>/<FieldName>).

The checks are the interpreter's `validate` (which stops at a definition's first error, so one
ERROR of its own at most) and a few of the twin's. What a definition AWS accepts cannot do
locally (a Task whose integration has no local twin, a callback, an activity, what of a
Distributed Map the twin does not run: an inventory manifest ItemReader, a WriterConfig) is no
error of the definition: it is a WARNING with the twin's own code
LOCAL_TWIN_UNSUPPORTED, so the result stays OK as on AWS, and is shown, as every warning, when
`severity` is WARNING (the default, ERROR, shows errors only).
"""

import json
import re
from typing import Any, Dict, List, Optional, Tuple

from pipelines.local.api import Answer
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import DefinitionError, validate
from pipelines.local.stepfunctions.machines import StateMachines, express_patterns

LOCAL = "LOCAL_TWIN_UNSUPPORTED"  # the twin's warning code: valid on AWS, cannot run locally
STATE_NAME_LIMIT = 80  # "State names ... must be 80 characters or fewer" (the States Language)
DIAGNOSTICS_LIMIT = 100  # maxResults' default and maximum
PREFIXES = (
    (re.compile(r"state '((?:[^'\\]|\\.)*)': "), "/States/%s"),
    (re.compile(r"branch (\d+): "), "/Branches/%s"),
    (re.compile(r"item processor: "), "/ItemProcessor"),
)
FIELD = re.compile(r"([A-Z][A-Za-z]+)(?=[ :])")
Diagnostic = Dict[str, str]


class AnyResource(Integrations):
    """Integrations that know every resource: validating against them checks the definition
    alone, not what runs locally."""

    def lookup(self, resource: object) -> Any:
        return (lambda parameters, call: None) if isinstance(resource, str) else None


def location(message: str) -> Tuple[Optional[str], str]:
    """(/States/<name>[/Branches/<i>/States/<name>...][/<Field>], the message's last part) of
    a DefinitionError's message, whose prefixes name the state it is about."""
    path, rest = "", message
    while True:
        for pattern, form in PREFIXES:
            found = pattern.match(rest)
            if found:
                path += form % found.groups() if found.groups() else form
                rest = rest[found.end() :]
                break
        else:
            break
    field = FIELD.match(rest)
    if field:
        path += "/" + field.group(1)
    return path or None, rest


def _code(message: str) -> str:
    if re.search(r"(Next|Default) .* is not a state", message):
        return "MISSING_TRANSITION_TARGET"
    return "SCHEMA_VALIDATION_FAILED"


def _duplicates(text: str) -> List[str]:
    """The state names a definition's JSON gives twice in one States object (json.loads keeps
    the last and says nothing)."""
    found: List[str] = []

    def pairs(items: List[Tuple[str, Any]]) -> Dict[str, Any]:
        keys = [k for k, _ in items]
        if items and all(isinstance(v, dict) and "Type" in v for _, v in items):  # States
            found.extend(k for i, k in enumerate(keys) if k in keys[:i])
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    return found


def _names(definition: Any, where: str = "") -> List[Tuple[str, str]]:
    """(location, name) of every state, nested ones too."""
    out: List[Tuple[str, str]] = []
    for name, state in (definition.get("States") or {}).items():
        here = "%s/States/%s" % (where, name)
        out.append((here, name))
        if isinstance(state, dict):
            for i, branch in enumerate(state.get("Branches") or []):
                if isinstance(branch, dict):
                    out += _names(branch, "%s/Branches/%d" % (here, i))
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, dict):
                out += _names(processor, here + "/ItemProcessor")
    return out


class DefinitionValidation(StateMachines):
    """ValidateStateMachineDefinition over the integrations of StateMachines."""

    def validate_state_machine_definition(self, **request: Any) -> Answer:
        op = "ValidateStateMachineDefinition"
        self._request(op, request)
        found = self._diagnostics(request["definition"], request.get("type", "STANDARD"))
        result = "FAIL" if any(d["severity"] == "ERROR" for d in found) else "OK"
        if request.get("severity", "ERROR") == "ERROR":
            found = [d for d in found if d["severity"] == "ERROR"]
        size = request.get("maxResults") or DIAGNOSTICS_LIMIT
        answer: Dict[str, Any] = {"result": result, "diagnostics": found[:size]}
        if len(found) > size:
            answer["truncated"] = True
        return self._answer(op, answer)

    def _diagnostics(self, text: str, kind: str) -> List[Diagnostic]:
        def diagnostic(severity: str, code: str, message: str, where: Optional[str]) -> Diagnostic:
            out = {"severity": severity, "code": code, "message": message}
            return dict(out, location=where) if where else out

        try:
            definition = json.loads(text)
            duplicates = _duplicates(text)
        except ValueError as e:
            return [diagnostic("ERROR", "INVALID_JSON_DESCRIPTION", str(e), None)]
        if not isinstance(definition, dict):
            return [diagnostic("ERROR", "SCHEMA_VALIDATION_FAILED", "The definition is not a "
                               "JSON object", None)]  # fmt: skip
        found = [diagnostic("ERROR", "DUPLICATE_STATE_NAME", "The state name %r appears more "
                            "than once" % name, None) for name in duplicates]  # fmt: skip
        for where, name in _names(definition):
            if not name or len(name) > STATE_NAME_LIMIT:
                message = "A state name is 1 to %d characters: %r" % (STATE_NAME_LIMIT, name)
                found.append(diagnostic("ERROR", "INVALID_STATE_NAME", message, where))
        try:
            validate(definition, AnyResource())
            if kind == "EXPRESS":
                express_patterns(definition)
        except DefinitionError as e:
            at, rest = location(str(e))
            severity = "WARNING" if "locally" in rest else "ERROR"
            code = LOCAL if severity == "WARNING" else _code(rest)
            found.append(diagnostic(severity, code, str(e), at))
        states = definition.get("States")
        if (
            isinstance(states, dict)
            and states
            and not any(
                isinstance(s, dict) and (s.get("End") or s.get("Type") in ("Succeed", "Fail"))
                for s in states.values()
            )
        ):
            found.append(diagnostic("ERROR", "MISSING_END_STATE", "No state ends the "
                                    "execution (End, Succeed or Fail)", "/States"))  # fmt: skip
        found += [
            diagnostic("WARNING", LOCAL, "%s has no local twin: this workflow cannot run "
                       "locally (on AWS it runs as written)" % resource, where)
            for where, resource in self._without_twin(definition)
        ]  # fmt: skip
        return found

    def _without_twin(self, definition: Any, where: str = "") -> List[Tuple[str, str]]:
        """(location, resource) of each Task whose integration has no local twin."""
        out = []
        for name, state in (definition.get("States") or {}).items():
            if not isinstance(state, dict):
                continue
            here = "%s/States/%s" % (where, name)
            resource = state.get("Resource")
            if state.get("Type") == "Task" and self.integrations.lookup(resource) is None:
                out.append((here + "/Resource", str(resource)))
            for i, branch in enumerate(state.get("Branches") or []):
                if isinstance(branch, dict):
                    out += self._without_twin(branch, "%s/Branches/%d" % (here, i))
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, dict):
                out += self._without_twin(processor, here + "/ItemProcessor")
        return out
