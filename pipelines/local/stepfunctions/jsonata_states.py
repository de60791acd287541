"""States whose QueryLanguage is JSONata (a mixin of the interpreter's Machine): Arguments,
Output, Assign, Condition, Items, ItemSelector and the Wait's Seconds and Timestamp as `{% %}`
expressions over `$states` and the variables in scope, from the developer guide's
"Transforming data with JSONata in Step Functions"
(https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html) and each state's
page. What a state computes is a Step: its output, the variables it assigns, its next state.
"""

import json
from typing import Any, Callable, NamedTuple, Optional

from pipelines.local.stepfunctions import errors, expressions
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.runtime import Document
from pipelines.local.stepfunctions.variables import Context, Scope


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

    def fill(self, value: Any, states: Document) -> Any:
        """`value` with its `{% %}` expressions evaluated over `$states` and the variables."""
        return expressions.fill(value, states, self.scope.visible())

    def _jsonata_step(self, name: str, state: Document, raw: Any, context: Context) -> Step:
        """A state of any kind in JSONata, once (Retry runs it again)."""
        kind = state["Type"]
        states = _states(raw, context)
        following: Optional[str]
        if kind == "Fail":
            error, cause = (self.fill(state.get(f, ""), states) for f in ("Error", "Cause"))
            if not isinstance(error, str) or not isinstance(cause, str):
                raise StatesError(errors.RUNTIME, "Error and Cause must be strings")
            raise StatesError(error, cause)
        if kind == "Choice":
            following, rule = self._condition(name, state, states)
            chosen = rule if rule is not None else {}
            output_field = chosen.get("Output", state.get("Output", _INPUT))
            assign = chosen.get("Assign", state.get("Assign"))
            return Step(self._output(output_field, raw, states), self._assign(assign, states),
                        following)  # fmt: skip
        following = None if kind == "Succeed" else state.get("Next")
        if kind in ("Succeed", "Pass", "Wait"):
            if kind == "Wait":
                seconds, stamp = (self.fill(state.get(f), states) for f in ("Seconds", "Timestamp"))
                self._sleep(seconds if "Seconds" in state else None, stamp, context)
            output = self._output(state.get("Output", _INPUT), raw, states)
            return Step(output, self._assign(state.get("Assign"), states), following)
        arguments = self.fill(state["Arguments"], states) if "Arguments" in state else raw
        if kind == "Task":
            result = self._task(name, state, arguments, context)
        elif kind == "Parallel":
            result = self._parallel(name, state, arguments, context)
        else:
            result = self._map(name, state, raw, context)
        states = dict(states, result=result)
        output = self.fill(state["Output"], states) if "Output" in state else result
        return Step(output, self._assign(state.get("Assign"), states), following)

    def _caught(self, handler: Document, failure: StatesError, raw: Any, context: Context) -> Step:
        """A Catch in JSONata: its Output (by default the error output) and Assign, over
        `$states.errorOutput`."""
        error_output = failure.output()
        states = _states(raw, context, errorOutput=error_output)
        output = self.fill(handler["Output"], states) if "Output" in handler else error_output
        return Step(output, self._assign(handler.get("Assign"), states), handler["Next"])

    def _output(self, field: Any, raw: Any, states: Document) -> Any:
        return raw if field is _INPUT else self.fill(field, states)

    def _assign(self, assign: Optional[Document], states: Document) -> dict[str, Any]:
        return {} if not assign else dict(self.fill(assign, states))

    def _condition(
        self, name: str, state: Document, states: Document
    ) -> tuple[str, Optional[Document]]:
        """The next state and the rule that chose it (None: the Default)."""
        for rule in state.get("Choices", []):
            holds = self.fill(rule["Condition"], states)
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
        return self.fill(state["Items"], _states(raw, context))

    def _jsonata_item_input(self, state: Document, raw: Any, context: Context) -> Any:
        """One iteration's input: the ItemSelector over `$states.context.Map.Item`, by
        default the item."""
        item = context["Map"]["Item"]["Value"]
        if "ItemSelector" not in state:
            return item
        return self.fill(state["ItemSelector"], _states(raw, context))

    def _jsonata_number(self, field: str, state: Document, raw: Any, context: Context) -> Any:
        """A field that may be a number or an expression (MaxConcurrency, TimeoutSeconds)."""
        return self.fill(state.get(field), _states(raw, context))


_INPUT = object()  # a state without Output: its output is its input


def _states(raw: Any, context: Document, **more: Any) -> Document:
    """The $states variable: the state's input, the context object, and (in Output and
    Assign) the result or (in a Catch) the error output."""
    return dict({"input": raw, "context": context}, **more)
