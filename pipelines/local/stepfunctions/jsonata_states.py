"""States whose QueryLanguage is JSONata (a mixin of the interpreter's Machine): Arguments,
Output, Assign, Condition, Items, ItemSelector and the Wait's Seconds and Timestamp as `{% %}`
expressions over `$states` and the variables in scope, from the developer guide's
"Transforming data with JSONata in Step Functions"
(https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html) and each state's
page. What a state computes is a Step: its output, the variables it assigns, its next state.
"""

import json
from typing import Any, Callable, NamedTuple, Optional

from pipelines.local.stepfunctions import choice, errors, expressions
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.runtime import Document
from pipelines.local.stepfunctions.variables import Context, Scope

MOST_SECONDS = 99999999  # a Wait's Seconds: "an integer value from 0 to 99999999"


class Step(NamedTuple):
    """What a state gives when it ends well: its output, the variables its Assign gives
    (assigned once the output is computed), and the next state (None after an End)."""

    output: Any
    assigned: dict[str, Any]
    following: Optional[str]


class JsonataStates:
    """The JSONata forms of the states; `_task`, `_parallel`, `_map` and `_sleep` run what
    the JSONPath forms run too."""

    scope: Scope
    # the Machine's, TaskStates' and BranchStates', declared for the type checker
    _task: Callable[[str, Document, Any, Document], Any]
    _parallel: Callable[[str, Document, Any, Document], Any]
    _map: Callable[[str, Document, Any, Context], Any]
    _sleep: Callable[[Any, Any, Document], None]

    def fill(self, value: Any, states: Document, field: str) -> Any:
        """`value` (the value of `field`) with its `{% %}` expressions evaluated over `$states`
        and the variables."""
        return expressions.fill(value, states, self.scope.visible(), field)

    def _jsonata_step(self, name: str, state: Document, raw: Any, context: Context) -> Step:
        """A state of any kind in JSONata, once (Retry runs it again)."""
        kind = state["Type"]
        states = _states(raw, context)
        following: Optional[str]
        if kind == "Fail":
            error, cause = (self.fill(state.get(f, ""), states, f) for f in ("Error", "Cause"))
            if not isinstance(error, str) or not isinstance(cause, str):
                raise StatesError(errors.RUNTIME, "Error and Cause must be strings")
            raise StatesError(error, cause)
        if kind == "Choice":
            following, rule = self._condition(name, state, states)
            chosen = rule if rule is not None else {}
            output_field = chosen.get("Output", state.get("Output", _INPUT))
            # the state's Assign "applies regardless of which choice rule matches", the rule's
            # when it matches
            assigned = dict(self._assign(state.get("Assign"), states))
            assigned.update(self._assign(chosen.get("Assign"), states))
            return Step(self._output(output_field, raw, states), assigned, following)
        following = None if kind == "Succeed" else state.get("Next")
        if kind in ("Succeed", "Pass", "Wait"):
            if kind == "Wait":
                self._jsonata_wait(name, state, states, context)
            output = self._output(state.get("Output", _INPUT), raw, states)
            return Step(output, self._assign(state.get("Assign"), states), following)
        arguments = (
            self.fill(state["Arguments"], states, "Arguments") if "Arguments" in state else raw
        )
        if kind == "Task":
            if isinstance(state.get("TimeoutSeconds"), str):
                timeout = self.fill(state["TimeoutSeconds"], states, "TimeoutSeconds")
                _check_integer(timeout, 1, "TimeoutSeconds", name)
                state = dict(state, TimeoutSeconds=timeout)
            result = self._task(name, state, arguments, context)
        elif kind == "Parallel":
            result = self._parallel(name, state, arguments, context)
        else:
            result = self._map(name, state, raw, context)
        states = dict(states, result=result)
        output = self.fill(state["Output"], states, "Output") if "Output" in state else result
        return Step(output, self._assign(state.get("Assign"), states), following)

    def _caught(self, handler: Document, failure: StatesError, raw: Any, context: Context) -> Step:
        """A Catch in JSONata: its Output (by default the error output) and Assign, over
        `$states.errorOutput`."""
        error_output = failure.output()
        states = _states(raw, context, errorOutput=error_output)
        output = (
            self.fill(handler["Output"], states, "Output") if "Output" in handler else error_output
        )
        return Step(output, self._assign(handler.get("Assign"), states), handler["Next"])

    def _output(self, field: Any, raw: Any, states: Document) -> Any:
        return raw if field is _INPUT else self.fill(field, states, "Output")

    def _assign(self, assign: Optional[Document], states: Document) -> dict[str, Any]:
        return {} if not assign else dict(self.fill(assign, states, "Assign"))

    def _jsonata_wait(self, name: str, state: Document, states: Document, context: Context) -> None:
        """A JSONata Wait: Seconds (a non-negative integer) or Timestamp (RFC 3339), each a
        value or an expression; a value of the wrong type fails the state with
        States.QueryEvaluationError, as the guide's "Handling expression errors" says."""
        if "Seconds" in state:
            seconds = self.fill(state["Seconds"], states, "Seconds")
            _check_integer(seconds, 0, "Seconds", name, MOST_SECONDS)
            self._sleep(seconds, None, context)
            return
        stamp = self.fill(state.get("Timestamp"), states, "Timestamp")
        if choice.timestamp(stamp) is None:
            raise StatesError(
                errors.QUERY_EVALUATION,
                "The Timestamp of state '%s' is %s, not an RFC 3339 timestamp such as "
                "2024-08-18T17:33:00Z" % (name, json.dumps(stamp)),
            )
        self._sleep(None, stamp, context)

    def _condition(
        self, name: str, state: Document, states: Document
    ) -> tuple[str, Optional[Document]]:
        """The next state and the rule that chose it (None: the Default)."""
        for rule in state.get("Choices", []):
            holds = self.fill(rule["Condition"], states, "Condition")
            if not isinstance(holds, bool):
                raise StatesError(
                    errors.QUERY_EVALUATION,
                    "The Condition %s of state %r is %s, not a boolean"
                    % (rule["Condition"], name, json.dumps(holds)),
                )
            if holds:
                return str(rule["Next"]), rule
        if "Default" in state:
            return str(state["Default"]), None
        raise StatesError(
            errors.NO_CHOICE, "No Choice rule of state %r matched, and it has no Default" % name
        )

    def _jsonata_items(self, name: str, state: Document, raw: Any, context: Context) -> Any:
        """A JSONata Map's items: its Items (an array or an expression), by default its input."""
        if "Items" not in state:
            return raw
        return self.fill(state["Items"], _states(raw, context), "Items")

    def _jsonata_item_input(self, state: Document, raw: Any, context: Context) -> Any:
        """One iteration's input: the ItemSelector over `$states.context.Map.Item`, by
        default the item."""
        item = context["Map"]["Item"]["Value"]
        if "ItemSelector" not in state:
            return item
        return self.fill(state["ItemSelector"], _states(raw, context), "ItemSelector")

    def _jsonata_number(self, field: str, state: Document, raw: Any, context: Context) -> Any:
        """A field that may be a number or an expression (MaxConcurrency, TimeoutSeconds)."""
        return self.fill(state.get(field), _states(raw, context), field)


_INPUT = object()  # a state without Output: its output is its input


def _check_integer(
    value: Any, least: int, field: str, state: str, most: Optional[int] = None
) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < least
        or (most is not None and value > most)
    ):
        raise StatesError(
            errors.QUERY_EVALUATION,
            "The %s of state '%s' is %s, not an integer from %d%s"
            % (field, state, json.dumps(value), least, " to %d" % most if most else " up"),
        )


def _states(raw: Any, context: Document, **more: Any) -> Document:
    """The $states variable: the state's input, the context object, and (in Output and
    Assign) the result or (in a Catch) the error output."""
    return dict({"input": raw, "context": context}, **more)
