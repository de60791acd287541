"""An Amazon States Language interpreter: one execution of a state machine definition.

Every state type (Task, Pass, Choice, Wait, Succeed, Fail, Parallel, inline Map), input and
output processing (processing.py), Retry and Catch, TimeoutSeconds on tasks and on the whole
execution, the 256 KiB payload limit, the context object, and a history of events in the shape
of GetExecutionHistory. Task states call integrations: callables looked up by resource ARN
(integrations.py); a definition naming one that has no local twin is refused before it starts.

Time is a Clock: the real one, one that shortens waits by a factor, or in tests one that only
records what it was asked to sleep.
"""

import concurrent.futures
import json
import random
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from pipelines.local.stepfunctions import choice, errors, intrinsics, paths, processing
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integration, Integrations

PAYLOAD_LIMIT = 256 * 1024
MAP_CONCURRENCY = 40  # an inline Map's iterations at once when MaxConcurrency is 0, as on AWS
# A definition, a state, the context object: JSON documents of the Amazon States Language.
Document = dict[str, Any]
Event = dict[str, Any]  # one of GetExecutionHistory's events
STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")


class Clock:
    """Wall-clock time; `scale` < 1 shortens every wait (Wait states, retry delays, polls)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float, cancelled: Optional[threading.Event] = None) -> None:
        seconds = max(0.0, seconds) * self.scale
        if cancelled is not None:
            cancelled.wait(seconds)
        else:
            time.sleep(seconds)

    def real_seconds(self, seconds: float) -> float:
        return seconds * self.scale


class DefinitionError(ValueError):
    """A definition that cannot run: the message names the state."""


class TaskCall:
    """What an integration gets besides its parameters: the state's name, the clock, and a
    way to learn it was cancelled (the state timed out, a sibling branch failed)."""

    def __init__(
        self,
        state: str,
        resource: str,
        context: Document,
        clock: Clock,
        cancelled: threading.Event,
        deadline: Optional[float],
    ) -> None:
        self.state = state
        self.resource = resource
        self.context = context
        self.clock = clock
        self.cancelled = cancelled
        self.deadline = deadline

    def sleep(self, seconds: float) -> None:
        """A poll's wait: returns early and raises States.Timeout when the state times out."""
        if self.deadline is not None:
            seconds = min(seconds, max(0.0, self.deadline - self.clock.now()))
        self.clock.sleep(seconds, self.cancelled)
        self.check()

    def check(self) -> None:
        if self.cancelled.is_set() or (
            self.deadline is not None and self.clock.now() >= self.deadline
        ):
            raise StatesError(errors.TIMEOUT, "The task timed out or was cancelled")


def validate(definition: Document, integrations: Integrations, where: str = "") -> None:
    """Every state reachable and well formed, every path readable, every Task resource one
    the integrations know. Raises DefinitionError naming the state."""
    if definition.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise DefinitionError(
            "%sQueryLanguage %s: only JSONPath runs locally" % (where, definition["QueryLanguage"])
        )
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
        if state.get("QueryLanguage", "JSONPath") != "JSONPath":
            raise DefinitionError("%sonly JSONPath runs locally" % here)
        targets = [state["Next"]] if "Next" in state else []
        targets += [c["Next"] for c in state.get("Catch", [])]
        if kind == "Choice":
            targets += [r["Next"] for r in state.get("Choices", [])]
            targets += [state["Default"]] if "Default" in state else []
            for rule in state.get("Choices", []):
                _check_rule(rule, here)
        elif kind not in ("Succeed", "Fail") and not state.get("End") and "Next" not in state:
            raise DefinitionError("%sneeds Next or End" % here)
        for target in targets:
            if target not in states:
                raise DefinitionError("%sNext %r is not a state" % (here, target))
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
        ):
            value = state.get(field)
            if isinstance(value, str) and not intrinsics.is_intrinsic(value):
                _parse(value, here + field)
        for field in ("Parameters", "ResultSelector", "ItemSelector"):
            _check_template(state.get(field), here + field)
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
                validate(branch, integrations, "%sbranch %d: " % (here, i))
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor is None:
                raise DefinitionError("%sa Map needs an ItemProcessor" % here)
            mode = (processor.get("ProcessorConfig") or {}).get("Mode", "INLINE")
            if mode != "INLINE" or "ItemReader" in state:
                raise DefinitionError("%sonly an inline Map runs locally" % here)
            validate(processor, integrations, "%sitem processor: " % here)


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


class History:
    """Events in GetExecutionHistory's shape: id, previousEventId, timestamp, type, details."""

    def __init__(self, clock: Clock, listener: Optional[Callable[[Event], None]] = None) -> None:
        self.events: list[Event] = []
        self.clock = clock
        self.listener = listener
        self._lock = threading.Lock()

    def add(
        self, kind: str, details: Optional[Document] = None, previous: Optional[int] = None
    ) -> int:
        with self._lock:
            event: Event = {
                "timestamp": _iso(self.clock.now()),
                "type": kind,
                "id": len(self.events) + 1,
                "previousEventId": previous if previous is not None else len(self.events),
            }
            if details is not None:
                event[_details_key(kind)] = details
            self.events.append(event)
        if self.listener:
            self.listener(event)
        return event["id"]


def _details_key(kind: str) -> str:
    if kind.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if kind.endswith("StateExited"):
        return "stateExitedEventDetails"
    return kind[0].lower() + kind[1:] + "EventDetails"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


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
        self.deadline = self.started + timeout if timeout else None

    def context(self) -> Document:
        return {
            "Execution": {
                "Id": self.arn,
                "Input": self.input,
                "Name": self.name,
                "RoleArn": self.role_arn,
                "StartTime": _iso(self.started),
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
            _limit(self.input, "the execution input")
            self.output = Machine(self, self.definition).run(self.input, self.context())
            self.status = "SUCCEEDED"
            self.history.add(
                "ExecutionSucceeded",
                {"output": json.dumps(self.output), "outputDetails": {"truncated": False}},
            )
        except StatesError as e:
            self.error, self.cause = e.error, e.cause
            if e.error == errors.TIMEOUT and self._past_deadline():
                self.status = "TIMED_OUT"
                self.history.add("ExecutionTimedOut", {"error": e.error, "cause": e.cause})
            else:
                self.status = "FAILED"
                self.history.add("ExecutionFailed", {"error": e.error, "cause": e.cause})
        finally:
            self.cancelled.set()
            self.stopped = self.clock.now()
        return self

    def _past_deadline(self) -> bool:
        return self.deadline is not None and self.clock.now() >= self.deadline

    def check_deadline(self) -> None:
        if self._past_deadline():
            raise StatesError(errors.TIMEOUT, "The execution timed out")


def _limit(value: Any, what: str) -> None:
    size = len(json.dumps(value).encode())
    if size > PAYLOAD_LIMIT:
        raise StatesError(
            errors.DATA_LIMIT,
            "The %s is %d bytes, over the limit of %d bytes" % (what, size, PAYLOAD_LIMIT),
        )


# What Parallel and Map run concurrently: (machine, its input, the context object)
Work = tuple["Machine", Any, Document]


class Machine:
    """A definition's states (the top level, a Parallel branch, a Map's item processor)."""

    def __init__(
        self,
        execution: Execution,
        definition: Document,
        cancelled: Optional[threading.Event] = None,
    ) -> None:
        self.execution = execution
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
        context = dict(
            context,
            State={"Name": name, "EnteredTime": _iso(self.execution.clock.now()), "RetryCount": 0},
        )
        following: Optional[str]
        try:
            if kind == "Fail":
                raise self._fail(state, raw, context)
            if kind == "Choice":
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
            output = processing.place(raw, e.output(), handler.get("ResultPath", "$"))
            following = handler["Next"]
        else:
            _limit(output, "output of state %r" % name)
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
        deadline = self.execution.deadline
        if deadline is not None and clock.now() + seconds > deadline:
            clock.sleep(deadline - clock.now(), self.cancelled)
            self.execution.check_deadline()
        clock.sleep(seconds, self.cancelled)

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

    def _run(self, name: str, state: Document, raw: Any, context: Document) -> Any:
        kind = state["Type"]
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

    def _task(self, name: str, state: Document, effective: Any, context: Document) -> Any:
        parameters = effective
        if "Parameters" in state:
            parameters = processing.template(state["Parameters"], effective, context)
        _limit(parameters, "input of state %r" % name)
        resource = state["Resource"]
        integration = self.execution.integrations.lookup(resource)
        if integration is None:  # validate() refuses such a definition before it runs
            raise StatesError(errors.TASK_FAILED, "%s has no local twin" % resource)
        kind, action = _resource_parts(resource)
        history = self.execution.history
        clock = self.execution.clock
        timeout = state.get("TimeoutSeconds")
        if "TimeoutSecondsPath" in state:
            timeout = processing.select(
                effective, state["TimeoutSecondsPath"], context, "TimeoutSecondsPath"
            )
        deadline = clock.now() + timeout if timeout else None
        if self.execution.deadline is not None:
            deadline = min(deadline or self.execution.deadline, self.execution.deadline)
        history.add(
            "TaskScheduled",
            {
                "resourceType": kind,
                "resource": action,
                "region": "local",
                "parameters": json.dumps(parameters),
                **({"timeoutInSeconds": timeout} if timeout else {}),
            },
        )
        history.add("TaskStarted", {"resourceType": kind, "resource": action})
        cancelled = threading.Event()
        call = TaskCall(name, resource, context, clock, cancelled, deadline)
        try:
            result = self._call(integration, parameters, call)
            if deadline is not None and clock.now() >= deadline:
                raise StatesError(errors.TIMEOUT, "The state %r timed out" % name)
            _limit(result, "result of state %r" % name)
        except StatesError as e:
            if e.error == errors.TIMEOUT:
                history.add(
                    "TaskTimedOut",
                    {"resourceType": kind, "resource": action, "error": e.error, "cause": e.cause},
                )
            else:
                history.add(
                    "TaskFailed",
                    {"resourceType": kind, "resource": action, "error": e.error, "cause": e.cause},
                )
            raise
        history.add(
            "TaskSucceeded",
            {
                "resourceType": kind,
                "resource": action,
                "output": json.dumps(result),
                "outputDetails": {"truncated": False},
            },
        )
        return result

    def _call(self, integration: Integration, parameters: Any, call: TaskCall) -> Any:
        """The integration in a thread of its own, so a state's TimeoutSeconds holds even for
        a call that never returns (it is told to stop through call.cancelled)."""
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sfn-task")
        future = pool.submit(integration, parameters, call)
        try:
            while True:
                wait = 0.05
                if call.deadline is not None:
                    left = call.clock.real_seconds(call.deadline - call.clock.now())
                    wait = max(0.0, min(wait, left))
                if concurrent.futures.wait([future], timeout=wait).done:
                    return _result(future)
                if self.cancelled.is_set():
                    call.cancelled.set()
                    raise StatesError(errors.BRANCH_FAILED, "Cancelled")
                if call.deadline is not None and call.clock.now() >= call.deadline:
                    call.cancelled.set()
                    raise StatesError(errors.TIMEOUT, "The state %r timed out" % call.state)
        finally:
            pool.shutdown(wait=False)

    def _parallel(self, name: str, state: Document, effective: Any, context: Document) -> Any:
        history = self.execution.history
        history.add("ParallelStateStarted")
        branches = state["Branches"]
        try:
            results = self._concurrently(
                [
                    (Machine(self.execution, b, threading.Event()), effective, context)
                    for b in branches
                ],
                len(branches),
            )
        except StatesError:
            history.add("ParallelStateFailed")
            raise
        history.add("ParallelStateSucceeded")
        return results

    def _map(self, name: str, state: Document, effective: Any, context: Document) -> Any:
        items = effective
        if "ItemsPath" in state:
            items = processing.select(effective, state["ItemsPath"], context, "ItemsPath")
        if not isinstance(items, list):
            raise StatesError(errors.RUNTIME, "The Map state %r's items are not an array" % name)
        selector = state.get("ItemSelector", state.get("Parameters"))
        processor = state.get("ItemProcessor") or state["Iterator"]
        history = self.execution.history
        history.add("MapStateStarted", {"length": len(items)})
        work: list[Work] = []
        for index, item in enumerate(items):
            item_context = dict(context, Map={"Item": {"Index": index, "Value": item}})
            value = processing.template(selector, effective, item_context) if selector else item
            work.append((Machine(self.execution, processor, threading.Event()), value, context))
        limit = state.get("MaxConcurrency", 0) or MAP_CONCURRENCY
        try:
            results = self._concurrently(work, limit, map_state=name)
        except StatesError:
            history.add("MapStateFailed")
            raise
        history.add("MapStateSucceeded")
        return results

    def _concurrently(
        self, work: list[Work], limit: int, map_state: Optional[str] = None
    ) -> list[Any]:
        """Each (machine, input, context) run, at most `limit` at once; the results in order.
        The first failure cancels the others and is raised."""
        history = self.execution.history
        results: list[Any] = [None] * len(work)
        failure: list[StatesError] = []

        def one(i: int) -> None:
            machine, document, context = work[i]
            if map_state is not None:
                history.add("MapIterationStarted", {"name": map_state, "index": i})
            try:
                results[i] = machine.run(document, context)
            except StatesError as e:
                if map_state is not None:
                    history.add("MapIterationFailed", {"name": map_state, "index": i})
                if not failure:
                    failure.append(e)
                for other, _, _ in work:
                    other.cancelled.set()
                return
            if map_state is not None:
                history.add("MapIterationSucceeded", {"name": map_state, "index": i})

        done = threading.Event()

        def forward_cancel() -> None:
            """A cancelled parent (a sibling of its own failed) cancels its children."""
            while not done.is_set():
                if self.cancelled.wait(0.05):
                    for machine, _, _ in work:
                        machine.cancelled.set()
                    return

        threading.Thread(target=forward_cancel, daemon=True).start()
        try:
            with concurrent.futures.ThreadPoolExecutor(max(1, min(limit, len(work) or 1))) as pool:
                list(pool.map(one, range(len(work))))
        finally:
            done.set()
        if failure:
            raise failure[0]
        return results


def _result(future: "concurrent.futures.Future[Any]") -> Any:
    try:
        return future.result()
    except StatesError:
        raise
    except Exception as e:  # an integration's defect: the execution fails with its text
        raise StatesError(errors.TASK_FAILED, "%s: %s" % (type(e).__name__, e))


def _resource_parts(resource: str) -> tuple[str, str]:
    """("sagemaker", "createTrainingJob.sync") from
    arn:aws:states:::sagemaker:createTrainingJob.sync."""
    tail = resource.split(":::", 1)[-1] if ":::" in resource else resource
    kind, _, action = tail.partition(":")
    return kind, action
