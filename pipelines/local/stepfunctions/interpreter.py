"""An Amazon States Language interpreter: one execution of a state machine definition.

Every state type (Task, Pass, Choice, Wait, Succeed, Fail, Parallel, inline Map), input and
output processing (processing.py), Retry and Catch, TimeoutSeconds on tasks and on the whole
execution, the 256 KiB payload limit, the context object, and a history of events in the shape
of GetExecutionHistory. Task states call integrations: callables looked up by resource ARN
(integrations.py); a definition naming one that has no local twin is refused before it starts.

Task states are tasks.py's, Parallel and Map states branches.py's; what a running execution's
states share (its clock, history, the payload limit) runtime.py's. Time is a Clock: the real
one, one that shortens waits by a factor, or in tests one that only records what it was asked
to sleep.
"""

import json
import random
import threading
import uuid
from typing import Any, Callable, Optional

from pipelines.local.stepfunctions import (
    choice,
    distributed,
    distributed_checks,
    errors,
    expressions,
    intrinsics,
    paths,
    processing,
)
from pipelines.local.stepfunctions.branches import BranchStates
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.jsonata_states import MOST_SECONDS, JsonataStates, Step
from pipelines.local.stepfunctions.redrives import BranchOutcomes
from pipelines.local.stepfunctions.runtime import (
    Clock,
    Document,
    Event,
    History,
    iso,
    limit,
)
from pipelines.local.stepfunctions.tasks import TaskStates
from pipelines.local.stepfunctions.variables import ASSIGNING, Context, Scope, check_name

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
JSONPATH, JSONATA = "JSONPath", expressions.JSONATA
QUERY_LANGUAGES = (JSONPATH, JSONATA)
# The fields AWS refuses in a JSONata state (it has Arguments, Output, Items and expressions
# in Seconds, Timestamp, MaxConcurrency... instead)
JSONPATH_FIELDS = (
    "InputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "OutputPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "MaxConcurrencyPath",
)
# The fields of a JSONata state that may hold {% %} expressions
JSONATA_FIELDS = ("Arguments", "Output", "Assign", "Error", "Cause", "Items", "ItemSelector",
                  "Seconds", "Timestamp", "MaxConcurrency")  # fmt: skip
RETRYING = ("Task", "Parallel", "Map")  # the states with a Retry field
LONGEST_WAIT = 2**31  # seconds: a Wait further ahead fails at once with States.Runtime


class DefinitionError(ValueError):
    """A definition that cannot run: the message names the state."""


def validate(
    definition: Document,
    integrations: Integrations,
    where: str = "",
    inherited: str = JSONPATH,
    outer: frozenset[str] = frozenset(),
) -> None:
    """Every state reachable and well formed, every path readable and every JSONata expression
    parsed, every Assign's names ones this scope may assign (not those of the scopes around
    it, `outer`), every Task resource one the integrations know. Raises DefinitionError
    naming the state."""
    top = expressions.language(definition, inherited)
    if top not in QUERY_LANGUAGES:
        raise DefinitionError("%sQueryLanguage %r is not JSONPath or JSONata" % (where, top))
    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        raise DefinitionError("%sthe definition has no States" % where)
    if definition.get("StartAt") not in states:
        raise DefinitionError("%sStartAt %r is not a state" % (where, definition.get("StartAt")))
    inner = outer | _assigned_names(states, outer, where)
    for name, state in states.items():
        here = "%sstate %r: " % (where, name)
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            raise DefinitionError("%sType %r is not a state type" % (here, kind))
        language = expressions.language(state, top)
        if language not in QUERY_LANGUAGES:
            raise DefinitionError(
                "%sQueryLanguage %r is not JSONPath or JSONata" % (here, language)
            )
        targets = [state["Next"]] if "Next" in state else []
        targets += [c["Next"] for c in state.get("Catch", [])]
        if kind == "Choice":
            targets += [r["Next"] for r in state.get("Choices", [])]
            targets += [state["Default"]] if "Default" in state else []
            for rule in state.get("Choices", []):
                if language == JSONATA:
                    _check_condition(rule, here)
                else:
                    _check_rule(rule, here)
        elif kind not in ("Succeed", "Fail") and not state.get("End") and "Next" not in state:
            raise DefinitionError("%sneeds Next or End" % here)
        for target in targets:
            if target not in states:
                raise DefinitionError("%sNext %r is not a state" % (here, target))
        if language == JSONATA:
            _check_jsonata(state, here)
        else:
            _check_jsonpath(state, here)
        if isinstance(state.get("ResultPath"), str) and paths.variable(state["ResultPath"]):
            raise DefinitionError(
                "%sResultPath %r names a variable: a variable is set by Assign"
                % (here, state["ResultPath"])
            )
        for field in (
            "InputPath",
            "OutputPath",
            "ItemsPath",
            "SecondsPath",
            "TimestampPath",
            "ErrorPath",
            "CausePath",
            "ResultPath",
            "TimeoutSecondsPath",
            "MaxConcurrencyPath",
        ):
            value = state.get(field)
            if isinstance(value, str) and not intrinsics.is_intrinsic(value):
                _parse(value, here + field)
        if language == JSONPATH:
            for field in ("Parameters", "ResultSelector", "ItemSelector"):
                _check_template(state.get(field), here + field)
            for holder, at in _assigners(state, here):
                _check_template(holder.get("Assign"), at + "Assign")
        stamp = state.get("Timestamp")
        if (
            kind == "Wait"
            and stamp is not None
            and language == JSONPATH
            and choice.timestamp(stamp) is None
        ):
            raise DefinitionError(
                "%sTimestamp %r is not an RFC 3339 timestamp (2024-08-18T17:33:00Z)"
                % (here, state["Timestamp"])
            )
        if kind == "Task":
            if "Resource" not in state:
                raise DefinitionError("%sa Task needs a Resource" % here)
            if integrations.lookup(state["Resource"]) is None:
                raise DefinitionError(
                    "%s%s has no local twin: this workflow cannot run locally (on AWS it runs "
                    "as written)" % (here, state["Resource"])
                )
        if kind == "Parallel":
            for i, branch in enumerate(state.get("Branches", [])):
                validate(branch, integrations, "%sbranch %d: " % (here, i), language, inner)
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor is None:
                raise DefinitionError("%sa Map needs an ItemProcessor" % here)
            refused = distributed_checks.refusal(name, state, integrations, language)  # its Mode
            if refused:
                raise DefinitionError(here + refused)
            # a Distributed Map's children are executions of their own, reading no variables
            # of this one's
            around = frozenset() if distributed_checks.is_distributed(state) else inner
            validate(processor, integrations, "%sitem processor: " % here, language, around)


def _assigners(state: Document, where: str) -> list[tuple[Document, str]]:
    """What in a state may have an Assign (the state, its Choice rules, its Catchers), each
    with where it is."""
    found = [(state, where)]
    found += [(r, "%sChoices %d: " % (where, i)) for i, r in enumerate(state.get("Choices", []))]
    found += [(c, "%sCatch %d: " % (where, i)) for i, c in enumerate(state.get("Catch", []))]
    return [(holder, at) for holder, at in found if isinstance(holder, dict)]


def _assigned_names(states: Document, outer: frozenset[str], where: str) -> frozenset[str]:
    """The variables a machine's states assign: each name one a variable may have, on a state
    that may assign, and not a variable of a scope around (a Parallel branch or Map iteration
    reads those, but cannot assign them)."""
    names: set[str] = set()
    for name, state in states.items():
        for holder, at in _assigners(state, "%sstate %r: " % (where, name)):
            assign = holder.get("Assign")
            if assign is None:
                continue
            if holder is state and state.get("Type") not in ASSIGNING:
                raise DefinitionError("%sa %s state has no Assign" % (at, state.get("Type")))
            if not isinstance(assign, dict):
                raise DefinitionError("%sAssign must be an object" % at)
            for key in assign:
                variable = key[:-2] if key.endswith(".$") else key
                problem = check_name(variable)
                if problem:
                    raise DefinitionError("%sAssign: %s" % (at, problem))
                if variable in outer:
                    raise DefinitionError(
                        "%sAssign: $%s is a variable of the scope around this Parallel branch "
                        "or Map iteration, which can read it but not assign it" % (at, variable)
                    )
                names.add(variable)
    return frozenset(names)


def _check_jsonata(state: Document, where: str) -> None:
    """A JSONata state: without JSONPath's fields, its expressions parsed, `$states.result`
    only where a result exists (a Task's, Parallel's or Map's Output and Assign) and
    `$states.errorOutput` only in a Catch, as AWS checks them at CreateStateMachine."""
    for field in JSONPATH_FIELDS:
        if field in state:
            raise DefinitionError(
                "%s%s is a JSONPath field: a JSONata state has Arguments and Output instead"
                % (where, field)
            )
    with_result = ("Output", "Assign") if state["Type"] in ("Task", "Parallel", "Map") else ()
    for field in JSONATA_FIELDS + ("TimeoutSeconds", "HeartbeatSeconds"):
        _check_expressions(state.get(field), where + field)
        _check_reach(state.get(field), where + field, field in with_result, False)
    for i, rule in enumerate(state.get("Choices", [])):
        for field in ("Condition", "Output", "Assign"):
            _check_reach(rule.get(field), "%sChoices %d: %s" % (where, i, field), False, False)
    for i, catcher in enumerate(state.get("Catch", [])):
        if "ResultPath" in catcher:
            raise DefinitionError(
                "%sCatch %d: ResultPath is a JSONPath field: a JSONata Catch has Output"
                % (where, i)
            )
        for field in ("Output", "Assign"):
            _check_expressions(catcher.get(field), "%sCatch %d: %s" % (where, i, field))
            _check_reach(catcher.get(field), "%sCatch %d: %s" % (where, i, field), False, True)


def _check_reach(value: Any, where: str, result: bool, error_output: bool) -> None:
    """`$states.result` and `$states.errorOutput` only where they exist."""
    for name, allowed in (("result", result), ("errorOutput", error_output)):
        if not allowed and expressions.mentions(value, name):
            raise DefinitionError(
                "%s: $states.%s is not available here (%s)" % (where, name, _REACH[name])
            )


_REACH = {
    "result": "only a Task's, Parallel's or Map's Output and Assign have a result",
    "errorOutput": "only a Catch's Output and Assign have an error output",
}


def _check_jsonpath(state: Document, where: str) -> None:
    """A JSONPath state: without JSONata's fields."""
    for field in ("Arguments", "Output", "Items"):
        if field in state:
            raise DefinitionError(
                "%s%s is a JSONata field: set QueryLanguage to JSONata to use it" % (where, field)
            )
    for i, catcher in enumerate(state.get("Catch", [])):
        if "Output" in catcher:
            raise DefinitionError(
                "%sCatch %d: Output is a JSONata field: a JSONPath Catch has ResultPath"
                % (where, i)
            )


def _check_condition(rule: Document, where: str) -> None:
    operators = sorted(k for k in rule if k == "Variable" or k in choice.OPERATORS)
    for nested in ("And", "Or", "Not"):
        if nested in rule:
            operators.append(nested)
    if operators:
        raise DefinitionError(
            "%sa JSONata Choice rule has a Condition, not %s" % (where, ", ".join(operators))
        )
    if not expressions.is_expression(rule.get("Condition")) and not isinstance(
        rule.get("Condition"), bool
    ):
        raise DefinitionError("%sa JSONata Choice rule needs a Condition {%% ... %%}" % where)
    for field in ("Condition", "Output", "Assign"):
        _check_expressions(rule.get(field), where + field)


def _check_expressions(value: Any, where: str) -> None:
    try:
        expressions.check(value)
    except expressions.ExpressionSyntaxError as e:
        raise DefinitionError("%s: %s" % (where, e))


def _parse(path: str, where: str) -> None:
    try:
        paths.parse(path)
    except paths.PathSyntaxError as e:
        raise DefinitionError("%s: %s" % (where, e))


def _check_template(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$"):
                if not isinstance(item, str):
                    raise DefinitionError("%s: %s must be a path or an intrinsic" % (where, key))
                try:
                    (intrinsics.parse if intrinsics.is_intrinsic(item) else paths.parse)(item)
                except paths.PathSyntaxError as e:
                    raise DefinitionError("%s: %s: %s" % (where, key, e))
            else:
                _check_template(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_template(item, where)


def _check_rule(rule: Document, where: str) -> None:
    for nested in ("And", "Or"):
        if nested in rule:
            for r in rule[nested]:
                _check_rule(r, where)
            return
    if "Not" in rule:
        _check_rule(rule["Not"], where)
        return
    try:
        operator = choice.operator_of(rule)
    except ValueError as e:
        raise DefinitionError("%s%s" % (where, e))
    _parse(rule.get("Variable", ""), where + "Variable")
    if operator.endswith("Path"):
        _parse(rule[operator], where + operator)


class Execution:
    """One run of a definition. `run()` returns itself with status SUCCEEDED, FAILED,
    TIMED_OUT or ABORTED (`abort()`), output or error and cause, and history.events.

    A redrive (RedriveExecution) runs again from the state `start_at` with `start_input`, the
    input that state was entered with, after the events of the attempts before it (which the
    caller puts in history.events); its context's Execution.RedriveCount is `redrive_count`
    and its history begins with ExecutionRedriven instead of ExecutionStarted."""

    def __init__(
        self,
        definition: Document,
        integrations: Integrations,
        input: Any = None,
        name: Optional[str] = None,
        arn: Optional[str] = None,
        state_machine_arn: str = "",
        role_arn: str = "",
        clock: Optional[Clock] = None,
        listener: Optional[Callable[[Event], None]] = None,
        start_at: Optional[str] = None,
        start_input: Any = None,
        redrive_count: int = 0,
    ) -> None:
        self.definition = definition
        self.start_at = start_at
        self.start_input = start_input
        self.redrive_count = redrive_count
        # (error, cause) once abort() was called: the run ends ABORTED
        self.aborted: Optional[tuple[Optional[str], Optional[str]]] = None
        self._end_lock = threading.Lock()
        self.integrations = integrations
        self.input = {} if input is None else input
        self.name = name or str(uuid.uuid4())
        self.arn = arn or "arn:aws:states:local:000000000000:execution:local:%s" % self.name
        self.clock = clock or Clock()
        self.history = History(self.clock, listener)
        self.state_machine_arn = state_machine_arn
        self.role_arn = role_arn
        self.status = "RUNNING"
        self.output: Any = None
        self.error: Optional[str] = None
        self.cause: Optional[str] = None
        self.started = self.clock.now()
        self.stopped: Optional[float] = None
        self.cancelled = threading.Event()
        timeout = definition.get("TimeoutSeconds")
        self.timeout_at = self.started + timeout if timeout else None
        # The seconds Wait states passed over in less time (a clock that shortens waits): the
        # execution's own time is the clock's plus these, and TimeoutSeconds counts in it.
        self.skipped = 0.0
        self._skip_lock = threading.Lock()
        self.map_runs = distributed.MapRuns()  # the service's keeps them in the home
        self.branches = BranchOutcomes()  # a redrive's (control.py) keeps those that succeeded

    @property
    def deadline(self) -> Optional[float]:
        """When, on the clock, the execution times out (as far as its waits so far say)."""
        return None if self.timeout_at is None else self.timeout_at - self.skipped

    def own_time(self) -> float:
        return self.clock.now() + self.skipped

    def waited(self, since: float, seconds: float) -> None:
        """A wait begun at own_time() `since` of `seconds` is over: own time is at least its
        end (waits at once in parallel branches count once)."""
        with self._skip_lock:
            self.skipped = max(self.skipped, since + seconds - self.clock.now())

    def pause(self, seconds: float, cancelled: threading.Event) -> None:
        """A wait of `seconds` of the execution's own time (a Wait state, a retry's delay): on
        a clock that shortens waits it passes sooner, counted whole towards TimeoutSeconds,
        and it never outlasts the execution, which times out at its end."""
        since = self.own_time()
        if self.timeout_at is not None and since + seconds > self.timeout_at:
            seconds = max(0.0, self.timeout_at - since)  # only what the execution has left
        self.clock.sleep(seconds, cancelled)
        self.waited(since, seconds)
        self.check_deadline()

    def context(self) -> Document:
        return {
            "Execution": {
                "Id": self.arn,
                "Input": self.input,
                "Name": self.name,
                "RoleArn": self.role_arn,
                "StartTime": iso(self.started),
                "RedriveCount": self.redrive_count,
            },
            "StateMachine": {
                "Id": self.state_machine_arn,
                "Name": self.state_machine_arn.rsplit(":", 1)[-1],
            },
        }

    def run(self) -> "Execution":
        if self.redrive_count:
            self.history.add("ExecutionRedriven", {"redriveCount": self.redrive_count})
        else:
            self.history.add(
                "ExecutionStarted",
                {
                    "input": json.dumps(self.input),
                    "inputDetails": {"truncated": False},
                    "roleArn": self.role_arn,
                },
            )
        definition, document = self.definition, self.input
        if self.start_at is not None:
            definition, document = dict(definition, StartAt=self.start_at), self.start_input
        try:
            limit(document, "execution input")
            output = Machine(self, definition).run(document, self.context())
            with self._end_lock:
                if self.aborted is None:
                    self.output, self.status = output, "SUCCEEDED"
                    self.stopped = self.clock.now()  # before the event, which a reader awaits
                    self.history.add(
                        "ExecutionSucceeded",
                        {"output": json.dumps(output), "outputDetails": {"truncated": False}},
                    )
        except StatesError as e:
            with self._end_lock:
                if self.aborted is None:
                    self._failed(e)
        finally:
            self.cancelled.set()
            with self._end_lock:
                if self.aborted is not None:
                    self.status = "ABORTED"
                elif self.stopped is None:
                    self.stopped = self.clock.now()
        return self

    def _failed(self, e: StatesError) -> None:
        # A Fail state without Error or Cause: the execution has none (not "")
        self.error, self.cause = e.error or None, e.cause or None
        self.stopped = self.clock.now()  # before the event, which a reader awaits
        details = {k: v for k, v in (("error", self.error), ("cause", self.cause)) if v}
        if e.error == errors.TIMEOUT and self._past_deadline():
            self.status = "TIMED_OUT"
            self.history.add("ExecutionTimedOut", details)
        else:
            self.status = "FAILED"
            self.history.add("ExecutionFailed", details)

    def abort(self, error: Optional[str] = None, cause: Optional[str] = None) -> bool:
        """StopExecution: a running execution ends now, ABORTED with this error and cause (its
        history's last event ExecutionAborted; what its states were doing is cancelled, and
        whatever they record afterwards is not kept). False if it had already ended."""
        with self._end_lock:
            if self.status != "RUNNING" or self.aborted is not None or self.stopped is not None:
                return False
            self.aborted = (error, cause)
            self.error, self.cause = error, cause
            self.stopped = self.clock.now()
            details = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
            self.history.add("ExecutionAborted", details, last=True)
        self.cancelled.set()
        return True

    def _past_deadline(self) -> bool:
        return self.timeout_at is not None and self.own_time() >= self.timeout_at - 1e-6

    def check_deadline(self) -> None:
        if self._past_deadline():
            raise StatesError(errors.TIMEOUT, "The execution timed out")


class Machine(TaskStates, BranchStates, JsonataStates):
    """A definition's states (the top level, a Parallel branch, a Map's item processor) in a
    scope of variables of their own: the run from state to state, input and output, Assign,
    Retry and Catch, and the states of no work of their own (Pass, Choice, Wait, Succeed,
    Fail); Task states are TaskStates', Parallel and Map BranchStates', and every state in
    JSONata JsonataStates'."""

    execution: Execution

    def __init__(
        self,
        execution: Execution,
        definition: Document,
        cancelled: Optional[threading.Event] = None,
        inherited: str = JSONPATH,
        outer: Optional[Scope] = None,
    ) -> None:
        self.execution = execution
        self.language = expressions.language(definition, inherited)
        self.states = definition["States"]
        self.start = definition["StartAt"]
        self.cancelled = cancelled or execution.cancelled
        self.scope = Scope(outer)

    def run(self, document: Any, context: Document) -> Any:
        name = self.start
        context = Context(context, self.scope)
        while True:
            if self.cancelled.is_set() and self.execution.status == "RUNNING":
                raise StatesError(errors.BRANCH_FAILED, "Cancelled: another branch failed")
            self.execution.check_deadline()
            state = self.states[name]
            following, document = self._state(name, state, document, context)
            if following is None:
                return document
            name = following

    def _state(
        self, name: str, state: Document, raw: Any, context: Context
    ) -> tuple[Optional[str], Any]:
        kind = state["Type"]
        history = self.execution.history
        entered_at = history.add(
            kind + "StateEntered",
            {"name": name, "input": json.dumps(raw), "inputDetails": {"truncated": False}},
        )
        entered: Document = {"Name": name, "EnteredTime": iso(self.execution.clock.now())}
        if kind in RETRYING:  # RetryCount only where a Retry can run the state again
            entered["RetryCount"] = 0
        context = context.with_fields(State=entered)
        try:
            step = self._with_retries(name, state, raw, context)
        except StatesError as e:
            failure = errors.located(e, name, entered_at)
            handler = self._catcher(state, failure)
            if handler is None:
                raise failure from None
            if expressions.language(state, self.language) == JSONATA:
                step = self._caught(handler, failure, raw, context)
            else:
                output = processing.place(raw, failure.output(), handler.get("ResultPath", "$"))
                assigned = self._assigned(handler, failure.output(), context)
                step = Step(output, assigned, handler["Next"])
            caught = True
        else:
            caught = False
        try:
            if not caught:
                limit(step.output, "output of state '%s'" % name)
            self.scope.assign(step.assigned, name)  # after the output: it never sees them
        except StatesError as e:
            raise errors.located(e, name, entered_at) from None
        history.add(
            kind + "StateExited",
            {
                "name": name,
                "output": json.dumps(step.output),
                "outputDetails": {"truncated": False},
                **({"assignedVariables": {k: json.dumps(v) for k, v in step.assigned.items()},
                    "assignedVariablesDetails": {"truncated": False}} if step.assigned else {}),
            },
        )  # fmt: skip
        return step.following, step.output

    # -- input and output ----------------------------------------------------------------

    def _input(self, state: Document, raw: Any, context: Document) -> Any:
        if "InputPath" not in state:
            return raw
        return processing.select(raw, state["InputPath"], context, "InputPath")

    def _selected(self, state: Document, document: Any, context: Document) -> Any:
        """OutputPath over the state's output."""
        if "OutputPath" not in state:
            return document
        return processing.select(document, state["OutputPath"], context, "OutputPath")

    def _assigned(self, where: Document, document: Any, context: Document) -> dict[str, Any]:
        """A JSONPath Assign (of a state, a Choice rule or a Catch) over `document`: the
        state's result (as ResultSelector reads it), a Choice's or Wait's input (after
        InputPath), a Catch's error output."""
        if not where.get("Assign"):
            return {}
        return dict(processing.template(where["Assign"], document, context))

    # -- the state types -----------------------------------------------------------------

    def _fail(self, state: Document, raw: Any, context: Document) -> StatesError:
        error, cause = state.get("Error", ""), state.get("Cause", "")
        for field in ("ErrorPath", "CausePath"):
            expression = state.get(field)
            if expression is None:
                continue
            value = (
                intrinsics.evaluate(expression, raw, context)
                if intrinsics.is_intrinsic(expression)
                else processing.select(raw, expression, context, field)
            )
            if not isinstance(value, str):
                raise StatesError(errors.RUNTIME, "%s must select a string" % field)
            if field == "ErrorPath":
                error = value
            else:
                cause = value
        return StatesError(error, cause)

    def _choose(
        self, name: str, state: Document, effective: Any, context: Document
    ) -> tuple[str, Document]:
        """The next state and the rule that chose it (the state itself for the Default)."""
        for rule in state.get("Choices", []):
            if choice.evaluate(rule, effective, context):
                return rule["Next"], rule
        if "Default" in state:
            return state["Default"], state
        raise StatesError(
            errors.NO_CHOICE, "No Choice rule of state %r matched, and it has no Default" % name
        )

    def _wait(self, state: Document, effective: Any, context: Document) -> None:
        seconds = stamp = None
        if "Seconds" in state:
            seconds = state["Seconds"]
        elif "SecondsPath" in state:
            seconds = processing.select(effective, state["SecondsPath"], context, "SecondsPath")
        elif "TimestampPath" in state:
            stamp = processing.select(effective, state["TimestampPath"], context, "TimestampPath")
        else:
            stamp = state.get("Timestamp")
        self._sleep(seconds, stamp, context)

    def _sleep(self, seconds: Any, stamp: Any, context: Document) -> None:
        """A Wait of `seconds` (a non-negative integer) or until `stamp` (an RFC 3339
        timestamp), on the execution's clock and within its TimeoutSeconds."""
        clock = self.execution.clock
        if seconds is not None:
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int)
                or not 0 <= seconds <= MOST_SECONDS
            ):
                raise StatesError(
                    errors.RUNTIME,
                    "The Wait state %r's seconds are %s, not an integer from 0 to %d"
                    % (context["State"]["Name"], json.dumps(seconds), MOST_SECONDS),
                )
        else:
            moment = choice.timestamp(stamp)
            if moment is None:
                raise StatesError(errors.RUNTIME, "%r is not an RFC 3339 timestamp" % (stamp,))
            seconds = moment.timestamp() - clock.now()
        if seconds > LONGEST_WAIT:
            raise StatesError(
                errors.RUNTIME,
                "The Wait state %r would wait %d seconds, more than the %d a wait can last"
                % (context["State"]["Name"], seconds, LONGEST_WAIT),
            )
        self.execution.pause(seconds, self.cancelled)

    def _with_retries(self, name: str, state: Document, raw: Any, context: Context) -> Step:
        """The state run, and run again as its first Retry matching the error says (each
        retrier counts its own attempts)."""
        retriers = state.get("Retry", [])
        attempts = [0] * len(retriers)
        while True:
            try:
                return self._run(name, state, raw, context)
            except StatesError as e:
                matching = [
                    i for i, r in enumerate(retriers) if errors.matches(e.error, r["ErrorEquals"])
                ]
                if not matching or attempts[matching[0]] >= retriers[matching[0]].get(
                    "MaxAttempts", 3
                ):
                    raise
                i = matching[0]
                retrier = retriers[i]
                delay = retrier.get("IntervalSeconds", 1) * (
                    retrier.get("BackoffRate", 2.0) ** attempts[i]
                )
                if "MaxDelaySeconds" in retrier:
                    delay = min(delay, retrier["MaxDelaySeconds"])
                if retrier.get("JitterStrategy", "NONE") == "FULL":
                    delay = random.uniform(0, delay)
                attempts[i] += 1
                context = context.with_fields(
                    State=dict(context["State"], RetryCount=sum(attempts))
                )
                self.execution.pause(delay, self.cancelled)

    def _catcher(self, state: Document, error: StatesError) -> Optional[Document]:
        for catcher in state.get("Catch", []):
            if errors.matches(error.error, catcher.get("ErrorEquals", [])):
                return catcher
        return None

    def _run(self, name: str, state: Document, raw: Any, context: Context) -> Step:
        """The state, once: its output, the variables it assigns, its next state."""
        kind = state["Type"]
        if expressions.language(state, self.language) == JSONATA:
            return self._jsonata_step(name, state, raw, context)
        if kind == "Fail":
            raise self._fail(state, raw, context)
        effective = self._input(state, raw, context)
        following = None if kind == "Succeed" else state.get("Next")
        if kind in ("Choice", "Wait", "Succeed"):
            assigned = self._assigned(state, effective, context)
            if kind == "Choice":
                following, rule = self._choose(name, state, effective, context)
                if rule is not state:  # the state's Assign applies whichever rule matches
                    assigned.update(self._assigned(rule, effective, context))
            elif kind == "Wait":
                self._wait(state, effective, context)
            return Step(self._selected(state, effective, context), assigned, following)
        if kind == "Pass":
            if "Parameters" in state:
                effective = processing.template(state["Parameters"], effective, context)
            result = state["Result"] if "Result" in state else effective
        else:
            if kind == "Task":
                result = self._task(name, state, effective, context)
            elif kind == "Parallel":
                result = self._parallel(name, state, effective, context)
            else:
                result = self._map(name, state, effective, context)
        # "the assign step in a JSONPath task occurs at the same time as the ResultSelector":
        # both read the raw result
        assigned = self._assigned(state, result, context)
        if "ResultSelector" in state:
            result = processing.template(state["ResultSelector"], result, context)
        combined = processing.place(raw, result, state.get("ResultPath", "$"))
        return Step(self._selected(state, combined, context), assigned, following)

    def _branch(self, definition: Document) -> "Machine":
        return Machine(self.execution, definition, threading.Event(), self.language, self.scope)
