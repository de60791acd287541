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
    errors,
    expressions,
    intrinsics,
    paths,
    processing,
)
from pipelines.local.stepfunctions.branches import BranchStates
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.runtime import (
    Clock,
    Document,
    Event,
    History,
    iso,
    limit,
)
from pipelines.local.stepfunctions.tasks import TaskStates

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
JSONPATH, JSONATA = "JSONPath", expressions.JSONATA
QUERY_LANGUAGES = (JSONPATH, JSONATA)
JSONATA_TYPES = ("Task", "Pass", "Choice", "Succeed", "Fail")  # the kinds that run in JSONata
# The fields AWS refuses in a JSONata state (it has Arguments and Output instead)
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
)
RETRYING = ("Task", "Parallel", "Map")  # the states with a Retry field
LONGEST_WAIT = 2**31  # seconds: a Wait further ahead fails at once with States.Runtime


class DefinitionError(ValueError):
    """A definition that cannot run: the message names the state."""


def validate(
    definition: Document, integrations: Integrations, where: str = "", inherited: str = JSONPATH
) -> None:
    """Every state reachable and well formed, every path readable and every JSONata expression
    parsed, every Task resource one the integrations know. Raises DefinitionError naming the
    state."""
    top = expressions.language(definition, inherited)
    if top not in QUERY_LANGUAGES:
        raise DefinitionError("%sQueryLanguage %r is not JSONPath or JSONata" % (where, top))
    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        raise DefinitionError("%sthe definition has no States" % where)
    if definition.get("StartAt") not in states:
        raise DefinitionError("%sStartAt %r is not a state" % (where, definition.get("StartAt")))
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
        for field in ("Parameters", "ResultSelector", "ItemSelector"):
            _check_template(state.get(field), here + field)
        if kind == "Wait" and "Timestamp" in state and choice.timestamp(state["Timestamp"]) is None:
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
                validate(branch, integrations, "%sbranch %d: " % (here, i), language)
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor is None:
                raise DefinitionError("%sa Map needs an ItemProcessor" % here)
            refused = distributed.refusal(name, state, integrations, language)  # its Mode
            if refused:
                raise DefinitionError(here + refused)
            validate(processor, integrations, "%sitem processor: " % here, language)


def _check_jsonata(state: Document, where: str) -> None:
    """A JSONata state: of the kinds that run locally, without JSONPath's fields, its
    expressions parsed."""
    kind = state["Type"]
    if kind not in JSONATA_TYPES:
        raise DefinitionError(
            "%sa %s state in JSONata does not run locally yet (JSONPath does)" % (where, kind)
        )
    for field in JSONPATH_FIELDS:
        if field in state:
            raise DefinitionError(
                "%s%s is a JSONPath field: a JSONata state has Arguments and Output instead"
                % (where, field)
            )
    if isinstance(state.get("TimeoutSeconds"), str):
        raise DefinitionError("%sTimeoutSeconds as an expression does not run locally yet" % where)
    for field in ("Arguments", "Output", "Error", "Cause"):
        _check_expressions(state.get(field), where + field)
    for i, catcher in enumerate(state.get("Catch", [])):
        if "ResultPath" in catcher:
            raise DefinitionError(
                "%sCatch %d: ResultPath is a JSONPath field: a JSONata Catch has Output"
                % (where, i)
            )
        _check_expressions(catcher.get("Output"), "%sCatch %d: Output" % (where, i))


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
    _check_expressions(rule.get("Condition"), where + "Condition")
    _check_expressions(rule.get("Output"), where + "Output")


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
    """One run of a definition. `run()` returns itself with status SUCCEEDED, FAILED or
    TIMED_OUT, output or error and cause, and history.events."""

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
    ) -> None:
        self.definition = definition
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

    def context(self) -> Document:
        return {
            "Execution": {
                "Id": self.arn,
                "Input": self.input,
                "Name": self.name,
                "RoleArn": self.role_arn,
                "StartTime": iso(self.started),
                "RedriveCount": 0,
            },
            "StateMachine": {
                "Id": self.state_machine_arn,
                "Name": self.state_machine_arn.rsplit(":", 1)[-1],
            },
        }

    def run(self) -> "Execution":
        self.history.add(
            "ExecutionStarted",
            {
                "input": json.dumps(self.input),
                "inputDetails": {"truncated": False},
                "roleArn": self.role_arn,
            },
        )
        try:
            limit(self.input, "the execution input")
            self.output = Machine(self, self.definition).run(self.input, self.context())
            self.status = "SUCCEEDED"
            self.history.add(
                "ExecutionSucceeded",
                {"output": json.dumps(self.output), "outputDetails": {"truncated": False}},
            )
        except StatesError as e:
            # A Fail state without Error or Cause: the execution has none (not "")
            self.error, self.cause = e.error or None, e.cause or None
            details = {k: v for k, v in (("error", self.error), ("cause", self.cause)) if v}
            if e.error == errors.TIMEOUT and self._past_deadline():
                self.status = "TIMED_OUT"
                self.history.add("ExecutionTimedOut", details)
            else:
                self.status = "FAILED"
                self.history.add("ExecutionFailed", details)
        finally:
            self.cancelled.set()
            self.stopped = self.clock.now()
        return self

    def _past_deadline(self) -> bool:
        return self.timeout_at is not None and self.own_time() >= self.timeout_at - 1e-6

    def check_deadline(self) -> None:
        if self._past_deadline():
            raise StatesError(errors.TIMEOUT, "The execution timed out")


class Machine(TaskStates, BranchStates):
    """A definition's states (the top level, a Parallel branch, a Map's item processor): the
    run from state to state, input and output, Retry and Catch, and the states of no work of
    their own (Pass, Choice, Wait, Succeed, Fail); Task states are TaskStates', Parallel and
    Map BranchStates'."""

    execution: Execution

    def __init__(
        self,
        execution: Execution,
        definition: Document,
        cancelled: Optional[threading.Event] = None,
        inherited: str = JSONPATH,
    ) -> None:
        self.execution = execution
        self.language = expressions.language(definition, inherited)
        self.states = definition["States"]
        self.start = definition["StartAt"]
        self.cancelled = cancelled or execution.cancelled

    def run(self, document: Any, context: Document) -> Any:
        name = self.start
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
        self, name: str, state: Document, raw: Any, context: Document
    ) -> tuple[Optional[str], Any]:
        kind = state["Type"]
        history = self.execution.history
        history.add(
            kind + "StateEntered",
            {"name": name, "input": json.dumps(raw), "inputDetails": {"truncated": False}},
        )
        entered: Document = {"Name": name, "EnteredTime": iso(self.execution.clock.now())}
        if kind in RETRYING:  # RetryCount only where a Retry can run the state again
            entered["RetryCount"] = 0
        context = dict(context, State=entered)
        following: Optional[str]
        jsonata = expressions.language(state, self.language) == JSONATA
        try:
            if jsonata and kind in ("Fail", "Choice", "Succeed"):
                following, output = self._jsonata_state(name, state, raw, context)
            elif kind == "Fail":
                raise self._fail(state, raw, context)
            elif kind == "Choice":
                effective = self._input(state, raw, context)
                following = self._choose(name, state, effective, context)
                output = self._output(state, effective, context)
            elif kind in ("Succeed", "Wait"):
                effective = self._input(state, raw, context)
                if kind == "Wait":
                    self._wait(state, effective, context)
                output = self._output(state, effective, context)
                following = None if kind == "Succeed" else state.get("Next")
            else:
                output = self._with_retries(name, state, raw, context)
                following = state.get("Next")
        except StatesError as e:
            handler = self._catcher(state, e)
            if handler is None:
                raise
            if jsonata:
                output = e.output()
                if "Output" in handler:
                    states = _states(raw, context, errorOutput=output)
                    output = expressions.fill(handler["Output"], states)
            else:
                output = processing.place(raw, e.output(), handler.get("ResultPath", "$"))
            following = handler["Next"]
        else:
            limit(output, "output of state %r" % name)
        history.add(
            kind + "StateExited",
            {"name": name, "output": json.dumps(output), "outputDetails": {"truncated": False}},
        )
        return following, output  # None after an End state

    # -- input and output ----------------------------------------------------------------

    def _input(self, state: Document, raw: Any, context: Document) -> Any:
        if "InputPath" not in state:
            return raw
        return processing.select(raw, state["InputPath"], context, "InputPath")

    def _output(self, state: Document, document: Any, context: Document) -> Any:
        if "OutputPath" not in state:
            return document
        return processing.select(document, state["OutputPath"], context, "OutputPath")

    def _finish(self, state: Document, raw: Any, result: Any, context: Document) -> Any:
        """ResultSelector, ResultPath and OutputPath over a Task's, Map's or Parallel's result."""
        if "ResultSelector" in state:
            result = processing.template(state["ResultSelector"], result, context)
        combined = processing.place(raw, result, state.get("ResultPath", "$"))
        return self._output(state, combined, context)

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

    def _choose(self, name: str, state: Document, effective: Any, context: Document) -> str:
        for rule in state.get("Choices", []):
            if choice.evaluate(rule, effective, context):
                return rule["Next"]
        if "Default" in state:
            return state["Default"]
        raise StatesError(
            errors.NO_CHOICE, "No Choice rule of state %r matched, and it has no Default" % name
        )

    def _wait(self, state: Document, effective: Any, context: Document) -> None:
        clock = self.execution.clock
        if "Seconds" in state:
            seconds = state["Seconds"]
        elif "SecondsPath" in state:
            seconds = processing.select(effective, state["SecondsPath"], context, "SecondsPath")
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
                raise StatesError(errors.RUNTIME, "SecondsPath must select a non-negative integer")
        else:
            stamp = state.get("Timestamp")
            if "TimestampPath" in state:
                stamp = processing.select(
                    effective, state["TimestampPath"], context, "TimestampPath"
                )
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
        execution = self.execution
        since, timeout_at = execution.own_time(), execution.timeout_at
        if timeout_at is not None and since + seconds > timeout_at:
            seconds = max(0.0, timeout_at - since)  # only what the execution has left
        clock.sleep(seconds, self.cancelled)
        execution.waited(since, seconds)
        execution.check_deadline()

    def _with_retries(self, name: str, state: Document, raw: Any, context: Document) -> Any:
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
                context = dict(context, State=dict(context["State"], RetryCount=sum(attempts)))
                self.execution.clock.sleep(delay, self.cancelled)
                self.execution.check_deadline()

    def _catcher(self, state: Document, error: StatesError) -> Optional[Document]:
        for catcher in state.get("Catch", []):
            if errors.matches(error.error, catcher.get("ErrorEquals", [])):
                return catcher
        return None

    def _jsonata_state(
        self, name: str, state: Document, raw: Any, context: Document
    ) -> tuple[Optional[str], Any]:
        """A Fail, Choice or Succeed state in JSONata: its Error and Cause, its rules'
        Conditions, its Output (by default its input)."""
        kind = state["Type"]
        states = _states(raw, context)
        if kind == "Fail":
            error, cause = (expressions.fill(state.get(f, ""), states) for f in ("Error", "Cause"))
            if not isinstance(error, str) or not isinstance(cause, str):
                raise StatesError(errors.RUNTIME, "Error and Cause must be strings")
            raise StatesError(error, cause)
        output_field: Any = state.get("Output", _INPUT)
        following: Optional[str] = None
        if kind == "Choice":
            following, rule = self._condition(name, state, states)
            if rule is not None and "Output" in rule:
                output_field = rule["Output"]
        output = raw if output_field is _INPUT else expressions.fill(output_field, states)
        return following, output

    def _condition(
        self, name: str, state: Document, states: Document
    ) -> tuple[str, Optional[Document]]:
        """The next state and the rule that chose it (None: the Default)."""
        for rule in state.get("Choices", []):
            holds = expressions.fill(rule["Condition"], states)
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

    def _run_jsonata(self, name: str, state: Document, raw: Any, context: Document) -> Any:
        """A Pass or Task state in JSONata: Arguments (by default the input) to the Task,
        Output over its result (by default the result; a Pass's, its input)."""
        states = _states(raw, context)
        if state["Type"] == "Pass":
            return expressions.fill(state["Output"], states) if "Output" in state else raw
        arguments = expressions.fill(state["Arguments"], states) if "Arguments" in state else raw
        result = self._task(name, state, arguments, context)
        if "Output" not in state:
            return result
        return expressions.fill(state["Output"], dict(states, result=result))

    def _run(self, name: str, state: Document, raw: Any, context: Document) -> Any:
        kind = state["Type"]
        if expressions.language(state, self.language) == JSONATA:
            return self._run_jsonata(name, state, raw, context)
        effective = self._input(state, raw, context)
        if kind == "Pass":
            if "Parameters" in state:
                effective = processing.template(state["Parameters"], effective, context)
            result = state["Result"] if "Result" in state else effective
            combined = processing.place(raw, result, state.get("ResultPath", "$"))
            return self._output(state, combined, context)
        if kind == "Task":
            result = self._task(name, state, effective, context)
        elif kind == "Parallel":
            result = self._parallel(name, state, effective, context)
        else:
            result = self._map(name, state, effective, context)
        return self._finish(state, raw, result, context)

    def _branch(self, definition: Document) -> "Machine":
        return Machine(self.execution, definition, threading.Event(), self.language)


_INPUT = object()  # a state without Output: its output is its input


def _states(raw: Any, context: Document, **more: Any) -> Document:
    """The $states variable: the state's input, the context object, and (in Output) the
    result or (in a Catch) the error output."""
    return dict({"input": raw, "context": context}, **more)
