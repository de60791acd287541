"""A Map state in Distributed mode (ItemProcessor.ProcessorConfig Mode DISTRIBUTED): its items
(map_items.py), ItemSelector, ItemBatcher, each item (batch) a child workflow execution of its
own in a Map Run, the failure thresholds, and ResultWriter's files (map_items.py).

The S3 calls are the integrations' map resources (integrations.py: arn:aws:states:::s3:getObject,
s3:listObjectsV2, s3:putObject), so this module never sees a store; the Map Run and its children
are recorded through the execution's `map_runs` (MapRuns: in memory here, in the home through
the service). What validate() asks of a Map state (`refusal`, `is_distributed`) is
distributed_checks.py's.
"""

import concurrent.futures
import json
import threading
import uuid
from typing import Any, Callable, Iterator, Optional

from pipelines.local.stepfunctions import errors
from pipelines.local.stepfunctions.distributed_checks import (
    label_of,
    not_number,
    not_whole,
)
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.map_items import (
    Fields,
    batches,
    input_items,
    read_items,
    shown,
    write_results,
)
from pipelines.local.stepfunctions.runtime import Document, Run

CHILD_THREADS = 40  # children at once locally (AWS runs up to 10,000)
EXPRESS_SECONDS = 300  # an EXPRESS child's longest run
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


class MapRun:
    """A Map Run: what DescribeMapRun answers, and its children (executions)."""

    def __init__(
        self,
        arn: str,
        execution_arn: str,
        state_machine_arn: str,
        execution_type: str,
        max_concurrency: int,
        percentage: float,
        count: int,
        started: float,
    ) -> None:
        self.arn = arn
        self.execution_arn = execution_arn
        self.state_machine_arn = state_machine_arn
        self.execution_type = execution_type
        self.max_concurrency = max_concurrency
        self.tolerated_percentage = percentage
        self.tolerated_count = count
        self.started = started
        self.stopped: Optional[float] = None
        self.status = "RUNNING"
        self.error: Optional[str] = None
        self.cause: Optional[str] = None
        zero = dict.fromkeys(
            ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total",
             "resultsWritten"), 0,
        )  # fmt: skip
        self.item_counts = dict(zero)
        self.execution_counts = dict(zero)
        self.lock = threading.Lock()

    def count(self, what: str, items: int, change: int = 1) -> None:
        with self.lock:
            self.item_counts[what] += items * change
            self.execution_counts[what] += change


class MapRuns:
    """Where an execution's Distributed Maps record their Map Runs and children. This one
    keeps them in memory; the service's (map_runs.py) keeps them in the home."""

    def __init__(self) -> None:
        self.runs: dict[str, MapRun] = {}
        self.children: dict[str, list[Any]] = {}

    def run_changed(self, run: MapRun) -> None:
        self.runs[run.arn] = run

    def child_changed(self, run: MapRun, child: Any) -> None:
        """`child` is an interpreter.Execution with `map_run_arn` and `item_count`."""
        known = self.children.setdefault(run.arn, [])
        if child not in known:
            known.append(child)


# -- running one ----------------------------------------------------------------------------


def run_map(
    execution: Run, cancelled: threading.Event, name: str, state: Document, effective: Any,
    context: Document, language: str = "JSONPath",
) -> Any:  # fmt: skip
    """The Distributed Map state `name` over its effective input (in JSONata its raw input):
    its result (the children's outputs in order, or with a ResultWriter the Map Run's ARN and
    the manifest's place). Its children are the processor's executions, in the state's
    `language` unless the processor names its own.

    The order of events is AWS's (as recorded against it): MapStateStarted (length 0 with an
    ItemReader, whose items are read inside the Map Run), the thresholds' and MaxItemsPath's
    States.Runtime before the Map Run, MapRunStarted, then MapRunSucceeded or MapRunFailed
    (States.ItemReaderFailed among them) and MapStateSucceeded or MapStateFailed."""
    history = execution.history
    fields = Fields(name, effective, context, language)
    reading = "ItemReader" in state
    items: list[Any] = [] if reading else input_items(state, fields)
    history.add("MapStateStarted", {"length": len(items)})
    concurrency = _max_concurrency(state, fields)
    percentage = _threshold(state, "ToleratedFailurePercentage", fields)
    count = _threshold(state, "ToleratedFailureCount", fields)
    most = _max_items(state, fields) if reading else 0
    processor = dict({"QueryLanguage": language}, **state["ItemProcessor"])
    arn = execution.arn.split(":")
    region, account, machine = arn[3], arn[4], arn[6].split("/")[0]
    label, run_id = label_of(name, state), str(uuid.uuid4())
    prefix = "arn:aws:states:%s:%s:" % (region, account)
    run = MapRun(
        "%smapRun:%s/%s:%s" % (prefix, machine, label, run_id),
        execution.arn,
        # The Map Run's (and its children's) state machine: <machine>/<label>, as recorded
        "%s/%s" % (execution.state_machine_arn, label) if execution.state_machine_arn else "",
        processor["ProcessorConfig"]["ExecutionType"],
        concurrency,
        float(percentage or 0),
        int(count or 0),
        execution.clock.now(),
    )
    recorder: MapRuns = execution.map_runs
    recorder.run_changed(run)
    history.add("MapRunStarted", {"mapRunArn": run.arn})
    children = _Children(execution, run, recorder, processor,
                         "%sexecution:%s/%s:%s:" % (prefix, machine, label, run_id))  # fmt: skip
    try:
        try:
            if reading:
                items = read_items(execution, state["ItemReader"], most, fields)
            with run.lock:
                run.item_counts["total"] = run.item_counts["pending"] = len(items)
            inputs = batches(state.get("ItemBatcher"), _selected(state, items, fields), fields)
            total = len(items)
            children.run_all(
                inputs, concurrency or CHILD_THREADS, cancelled,
                lambda failed: _exceeded(failed, total, percentage, count),
            )  # fmt: skip
            result: Any = [child.result for child in children.started]
            with run.lock:  # as recorded against AWS: also when written to the output
                run.execution_counts["resultsWritten"] = len(children.started)
                run.item_counts["resultsWritten"] = sum(c.items for c in children.started)
            if "ResultWriter" in state:
                result = write_results(execution, run, children, state["ResultWriter"], fields)
            if children.exceeded:
                raise StatesError(errors.EXCEEDED_THRESHOLD, THRESHOLD_CAUSE)
        except StatesError as e:
            run.status, run.error, run.cause = "FAILED", e.error, e.cause
            raise
        run.status = "SUCCEEDED"
    except StatesError as e:
        run.stopped = execution.clock.now()
        recorder.run_changed(run)
        history.add("MapRunFailed", {"error": e.error, "cause": e.cause})
        history.add("MapStateFailed")
        raise
    run.stopped = execution.clock.now()
    recorder.run_changed(run)
    history.add("MapRunSucceeded")
    history.add("MapStateSucceeded")
    return result


def _selected(state: Document, items: list[Any], fields: Fields) -> Iterator[Any]:
    """Each item as its child gets it: through the ItemSelector over $$.Map.Item (in JSONata
    `$states.context.Map.Item`)."""
    selector = state.get("ItemSelector", state.get("Parameters"))
    for index, item in enumerate(items):
        if selector is None or (not selector and not fields.jsonata):
            yield item
            continue
        item_context = dict(fields.context, Map={"Item": {"Index": index, "Value": item}})
        yield fields.template(selector, "ItemSelector", item_context)


def _exceeded(failed: int, total: int, percentage: Optional[float], count: Optional[int]) -> bool:
    """maprun-fail-threshold.html: without a threshold any failure fails the Map Run; with
    them, more failed items than ToleratedFailureCount or a larger share than
    ToleratedFailurePercentage (None: that one is not given)."""
    if percentage is None and count is None:
        return failed > 0
    if count is not None and failed > count:
        return True
    return percentage is not None and total > 0 and failed * 100.0 / total > percentage


def _max_concurrency(state: Document, fields: Fields) -> int:
    if fields.jsonata and "MaxConcurrency" in state:
        value = fields.given(state, "MaxConcurrency")
        if not_whole(value) or value < 0:
            raise fields.bad("MaxConcurrency", value, "a non-negative integer")
        return int(value)
    if "MaxConcurrencyPath" not in state:
        return int(state.get("MaxConcurrency", 0))
    value = fields.select(state["MaxConcurrencyPath"], "MaxConcurrencyPath")
    if not_whole(value) or value < 0:
        raise StatesError(
            errors.RUNTIME,
            "The MaxConcurrencyPath selected %s, not a non-negative integer" % json.dumps(value),
        )
    return int(value)


def _threshold(state: Document, field: str, fields: Fields) -> Any:
    """ToleratedFailurePercentage or ToleratedFailureCount, given, through its Path or in
    JSONata an expression (None: neither); a Path's bad value is States.Runtime with the cause
    AWS gives (recorded), an expression's States.QueryEvaluationError."""
    percentage = field == "ToleratedFailurePercentage"
    if fields.jsonata:
        value = fields.given(state, field)
        if value is not None and (
            (not_number(value) or not 0 <= value <= 100)
            if percentage
            else (not_whole(value) or value < 0)
        ):
            raise fields.bad(
                field, value, "a number from 0 to 100" if percentage else "a non-negative integer"
            )
        return value
    if field + "Path" not in state:
        return state.get(field)
    path = state[field + "Path"]
    value = fields.select(path, field + "Path")
    if not_number(value) if percentage else not_whole(value):
        raise StatesError(
            errors.RUNTIME,
            'The %sPath field refers to value "%s" which is not a valid %s: %s'
            % (field, shown(value), "float" if percentage else "integer", path),
        )
    if percentage and not 0 <= value <= 100:
        raise StatesError(errors.RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
    if not percentage and value < 0:
        raise StatesError(errors.RUNTIME, "ToleratedFailureCount cannot be negative.")
    return value


def _max_items(state: Document, fields: Fields) -> int:
    """ReaderConfig MaxItems, or MaxItemsPath's integer or in JSONata MaxItems' expression's
    (not checked further here: a negative one fails the Map Run's reading, a larger one than
    MaxItems may be is taken, as AWS does with a Path)."""
    config = state["ItemReader"].get("ReaderConfig", {})
    if fields.jsonata:
        value = fields.given(config, "MaxItems")
        if value is not None and not_whole(value):
            raise fields.bad("ItemReader ReaderConfig MaxItems", value, "an integer")
        return int(value or 0)
    if "MaxItemsPath" not in config:
        return int(config.get("MaxItems", 0))
    path = config["MaxItemsPath"]
    value = fields.select(path, "MaxItemsPath")
    if not_whole(value):
        raise StatesError(
            errors.RUNTIME,
            'The MaxItemsPath field refers to value "%s" which is not a valid integer: %s'
            % (shown(value), path),
        )
    return int(value)


class _Child:
    """One item (batch) of a Map Run: its input, and once it ran, its execution."""

    def __init__(self, index: int, document: Any, items: int) -> None:
        self.index = index
        self.input = document
        self.items = items
        self.execution: Any = None
        self.result: Any = None
        self.aborted = False


class _Children:
    """A Map Run's children, run at most `limit` at once; once the failures exceed the
    thresholds (or the parent is cancelled), those running are aborted and the rest stay
    pending."""

    def __init__(
        self, parent: Run, run: MapRun, recorder: MapRuns, processor: Document, arn_prefix: str
    ) -> None:
        self.parent = parent
        self.run = run
        self.recorder = recorder
        self.processor = processor
        self.arn_prefix = arn_prefix
        self.started: list[_Child] = []
        self.pending: list[_Child] = []
        self.failed_items = 0
        self.exceeded = False
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.running: set[Any] = set()

    def run_all(
        self, batches: Iterator[tuple[Any, int]], limit: int, cancelled: threading.Event,
        exceeded: Callable[[int], bool],
    ) -> None:  # fmt: skip
        futures: "list[concurrent.futures.Future[None]]" = []
        slots = threading.Semaphore(max(1, min(limit, CHILD_THREADS)))
        with concurrent.futures.ThreadPoolExecutor(max(1, min(limit, CHILD_THREADS))) as pool:
            try:
                self._dispatch(pool, futures, slots, batches, cancelled, exceeded)
            except BaseException:  # an item that cannot be batched: the run stops here
                self._abort_running()
                raise
            with self.run.lock:
                self.run.execution_counts["total"] = len(self.started) + len(self.pending)
            while not all(f.done() for f in futures):
                self._watch(cancelled)
                concurrent.futures.wait(futures, timeout=0.05)
            for future in futures:
                future.result()  # a defect of the twin is raised, not lost
        with self.run.lock:
            self.run.execution_counts["total"] = len(self.started) + len(self.pending)
            self.run.execution_counts["pending"] = len(self.pending)
        self.parent.check_deadline()
        if cancelled.is_set() and self.parent.status == "RUNNING" and not self.exceeded:
            raise StatesError(errors.BRANCH_FAILED, "Cancelled: another branch failed")

    def _dispatch(
        self, pool: concurrent.futures.ThreadPoolExecutor,
        futures: "list[concurrent.futures.Future[None]]", slots: threading.Semaphore,
        batches: Iterator[tuple[Any, int]], cancelled: threading.Event,
        exceeded: Callable[[int], bool],
    ) -> None:  # fmt: skip
        """Each batch started as a slot frees, or once the run stops kept pending."""
        for index, (document, items) in enumerate(batches):
            child = _Child(index, document, items)
            while not slots.acquire(timeout=0.05):
                self._watch(cancelled)
            self._watch(cancelled)
            if self.stop.is_set():
                slots.release()
                self.pending.append(child)
                continue
            self.started.append(child)
            futures.append(pool.submit(self._one, child, slots, exceeded))

    def _watch(self, cancelled: threading.Event) -> None:
        """The parent cancelled (a sibling branch failed) or past its deadline: abort all."""
        deadline = self.parent.deadline
        past = deadline is not None and self.parent.clock.now() >= deadline
        if (cancelled.is_set() or past) and not self.stop.is_set():
            self._abort_running()

    def _abort_running(self) -> None:
        self.stop.set()
        with self.lock:
            for execution in self.running:
                execution.aborting = True
                execution.cancelled.set()

    def _one(self, child: _Child, slots: threading.Semaphore, exceeded: Callable[[int], bool]
             ) -> None:  # fmt: skip
        try:
            if self.stop.is_set():
                self.started.remove(child)
                self.pending.append(child)
                return
            self._execute(child)
            if child.execution.status != "SUCCEEDED" and not child.aborted:
                with self.lock:
                    self.failed_items += child.items
                    over = exceeded(self.failed_items)
                if over and not self.stop.is_set():
                    self.exceeded = True
                    self._abort_running()
        finally:
            slots.release()

    def _execute(self, child: _Child) -> None:
        parent, run = self.parent, self.run
        name = str(uuid.uuid4())
        # A child is an execution of the parent's kind (interpreter.Execution), made through
        # its class: this module is imported by the interpreter, not the other way round.
        make: Callable[..., Any] = type(parent)
        execution = make(
            self.processor,
            parent.integrations,
            child.input,
            name=name,
            arn=self.arn_prefix + name,
            state_machine_arn=run.state_machine_arn,
            role_arn=parent.role_arn,
            clock=parent.clock,
        )
        execution.map_runs = MapRuns()  # no Distributed Map inside one (refused)
        execution.map_run_arn = run.arn
        execution.item_count = child.items
        execution.aborting = False
        ends = [t for t in (parent.deadline,) if t is not None]
        if run.execution_type == "EXPRESS":
            ends.append(execution.started + EXPRESS_SECONDS)
        if ends:
            execution.timeout_at = min(ends)
        child.execution = execution
        execution.history.listener = lambda event: self.recorder.child_changed(run, execution)
        with run.lock:
            run.item_counts["pending"] -= child.items
        run.count("running", child.items)
        with self.lock:
            self.running.add(execution)
        if self.stop.is_set():
            execution.aborting = True
            execution.cancelled.set()
        self.recorder.child_changed(run, execution)
        self.recorder.run_changed(run)
        execution.run()
        with self.lock:
            self.running.discard(execution)
        run.count("running", child.items, -1)
        if execution.status != "SUCCEEDED" and execution.aborting:
            _aborted(execution)
            child.aborted = True
        status = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timedOut",
                  "ABORTED": "aborted"}[execution.status]  # fmt: skip
        run.count(status, child.items)
        if execution.status == "SUCCEEDED":
            child.result = execution.output
        else:
            child.result = {"Error": execution.error or "", "Cause": execution.cause or ""}
        self.recorder.child_changed(run, execution)
        self.recorder.run_changed(run)


def _aborted(execution: Any) -> None:
    """A child the Map Run stopped is ABORTED, as AWS has it, not FAILED: its last event says
    so."""
    execution.status, execution.error, execution.cause = "ABORTED", None, None
    events = execution.history.events
    if events and events[-1]["type"] in ("ExecutionFailed", "ExecutionTimedOut"):
        last = events[-1]
        events[-1] = {k: v for k, v in last.items() if not k.endswith("EventDetails")}
        events[-1]["type"] = "ExecutionAborted"


# -- items --------------------------------------------------------------------------------------
