"""What the states of a running execution share (interpreter.py runs them): its Clock, its
History of events in GetExecutionHistory's shape, the TaskCall an integration is handed, the
256 KiB payload limit, and Run, what the states need of the execution they are part of.
"""

import json
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Protocol

from pipelines.local.stepfunctions import errors
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.redrives import BranchOutcomes

PAYLOAD_LIMIT = 256 * 1024
# A definition, a state, the context object: JSON documents of the Amazon States Language.
Document = dict[str, Any]
Event = dict[str, Any]  # one of GetExecutionHistory's events


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


class History:
    """Events in GetExecutionHistory's shape: id, previousEventId, timestamp, type, details."""

    def __init__(self, clock: Clock, listener: Optional[Callable[[Event], None]] = None) -> None:
        self.events: list[Event] = []
        self.clock = clock
        self.listener = listener
        # An aborted execution's history ends with ExecutionAborted: what its states still
        # record while they wind down is not kept.
        self.closed = False
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        details: Optional[Document] = None,
        previous: Optional[int] = None,
        last: bool = False,
    ) -> int:
        """The event's id; `last`: no event is kept after this one."""
        with self._lock:
            if self.closed:
                return len(self.events)
            self.closed = last
            event: Event = {
                "timestamp": iso(self.clock.now()),
                "type": kind,
                "id": len(self.events) + 1,
                "previousEventId": previous if previous is not None else len(self.events),
            }
            if details is not None:
                event[details_key(kind)] = details
            self.events.append(event)
        if self.listener:
            self.listener(event)
        return event["id"]


def details_key(kind: str) -> str:
    if kind.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if kind.endswith("StateExited"):
        return "stateExitedEventDetails"
    return kind[0].lower() + kind[1:] + "EventDetails"


def iso(seconds: float) -> str:
    """As AWS writes the context object's times: 2019-03-26T20:14:13.192Z."""
    stamp = datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def limit(value: Any, what: str) -> None:
    size = len(json.dumps(value).encode())
    if size > PAYLOAD_LIMIT:
        raise StatesError(
            errors.DATA_LIMIT,
            "The %s is %d bytes, over the limit of %d bytes" % (what, size, PAYLOAD_LIMIT),
        )


class Throttled:
    """`write` called at most once per `interval` seconds however often a state's events ask
    for it, the last request never lost (a timer writes it): an execution's record, rewritten
    as events arrive, would otherwise cost the square of its events (a 2,000-item Map took
    minutes)."""

    def __init__(self, write: Callable[[], None], interval: float = 0.25) -> None:
        self.write = write
        self.interval = interval
        self._lock = threading.Lock()
        self._last = 0.0
        self._timer: Optional[threading.Timer] = None

    def __call__(self, event: Optional[Event] = None) -> None:
        """A write asked for by `event`: at once for the execution's own events (its start,
        its end, a stop), which callers wait on; otherwise within `interval`."""
        if event is not None and event["type"].startswith("Execution"):
            self.flush()
            return
        with self._lock:
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self._due)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._write()

    def close(self) -> None:
        """No pending write left to come (the run has ended, and its last event was written
        at once): a later one could overwrite a redrive's record."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def flush(self) -> None:
        """Written now, and no pending write left to come after (the run has ended)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._write()

    def _due(self) -> None:
        with self._lock:
            if self._timer is None:  # flushed meanwhile
                return
            self._timer = None
            self._write()

    def _write(self) -> None:
        self._last = time.monotonic()
        self.write()


class Run(Protocol):
    """What a state machine's states need of the execution they are part of
    (interpreter.Execution)."""

    integrations: Integrations
    history: History
    clock: Clock
    status: str
    arn: str
    state_machine_arn: str
    role_arn: str
    map_runs: Any  # distributed.MapRuns: where its Distributed Maps record their Map Runs
    branches: BranchOutcomes  # its Parallel and Map states' branches, kept for a redrive

    @property
    def deadline(self) -> Optional[float]: ...

    def check_deadline(self) -> None: ...
