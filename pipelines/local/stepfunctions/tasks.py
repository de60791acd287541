"""Task states: an integration called with the state's parameters in a thread of its own,
under the state's TimeoutSeconds and the execution's, with its Task* events (a mixin of the
interpreter's Machine).
"""

import concurrent.futures
import json
import threading
from typing import Any

from pipelines.local.stepfunctions import errors, processing
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integration
from pipelines.local.stepfunctions.runtime import Document, Run, TaskCall, limit


class TaskStates:
    """A Task state run: its parameters, its integration's call, its result."""

    execution: Run
    cancelled: threading.Event

    def _task(self, name: str, state: Document, effective: Any, context: Document) -> Any:
        parameters = effective
        if "Parameters" in state:
            parameters = processing.template(state["Parameters"], effective, context)
        limit(parameters, "input of state %r" % name)
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
            limit(result, "result of state %r" % name)
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
