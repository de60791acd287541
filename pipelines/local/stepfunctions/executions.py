"""Executions, the operations of boto3's `stepfunctions` client over the home's local Step
Functions (a mixin of service.py's StepFunctions): StartExecution, DescribeExecution,
GetExecutionHistory, ListExecutions, and the `states:startExecution` integration that runs one
workflow from another. An execution (its history in GetExecutionHistory's shape) is a file
<home>/stepfunctions/executions/<machine>/<name>.json rewritten atomically as events arrive; it
runs on a daemon thread of the process that started it, and a RUNNING one whose process is gone
reads as FAILED.
"""

import datetime
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from pipelines.local.api import Answer, client_error
from pipelines.local.arns import arn
from pipelines.local.processes import still_runs
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integration
from pipelines.local.stepfunctions.interpreter import Clock, Event, Execution
from pipelines.local.stepfunctions.machines import (
    StateMachines,
    arn_name,
    checked_name,
    paged,
    when,
)
from pipelines.local.stepfunctions.runtime import TaskCall
from processing.churn_job import write_text_atomic


def execution_arn(machine: str, name: str) -> str:
    return arn("states", "execution:%s:%s" % (machine, name))


def _settled(record: Dict[str, Any]) -> Dict[str, Any]:
    """A RUNNING execution whose process is gone was killed with it: FAILED, as its history's
    last event cannot say otherwise (the record on disk is left for that process's pid to
    tell again; nothing is written by a reader)."""
    process = record.get("_process", {})
    if record["status"] != "RUNNING" or still_runs(process.get("pid"), process.get("start")):
        return record
    return dict(
        record,
        status="FAILED",
        stopDate=(
            datetime.datetime.fromisoformat(record["events"][-1]["timestamp"]).timestamp()
            if record.get("events")
            else record["startDate"]
        ),
        error="States.Runtime",
        cause="the process running this execution ended before it did (killed?); start it again",
    )


def _described(record: Dict[str, Any]) -> Dict[str, Any]:
    """DescribeExecution's answer from an execution's record."""
    out = {k: v for k, v in record.items() if k != "events" and not k.startswith("_")}
    out["startDate"] = when(record["startDate"])
    if record.get("stopDate") is not None:
        out["stopDate"] = when(record["stopDate"])
    return out


class Executions(StateMachines):
    """StartExecution, DescribeExecution, GetExecutionHistory, ListExecutions, and the
    `states:startExecution` integration (`_nested`), over the state machines of
    StateMachines; `clock` times the executions."""

    clock: Clock
    _threads: List[threading.Thread]
    _process_start: Optional[str]

    def start_execution(self, **request: Any) -> Answer:
        """Starts the execution on a thread of this process and answers at once. The same name
        and input as an execution still running answers that execution, as AWS does; a closed
        one, or different input, is ExecutionAlreadyExists."""
        op = "StartExecution"
        self._request(op, request)
        execution = self._execution(request, op)
        if isinstance(execution, dict):  # the running execution of that name and input
            return self._answer(op, execution)
        thread = threading.Thread(
            target=self._run, args=(execution,), name=execution.name, daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return self._answer(
            op, {"executionArn": execution.arn, "startDate": when(execution.started)}
        )

    def describe_execution(self, **request: Any) -> Answer:
        op = "DescribeExecution"
        self._request(op, request)
        return self._answer(op, _described(self._load(request["executionArn"], op)))

    def get_execution_history(self, **request: Any) -> Answer:
        op = "GetExecutionHistory"
        self._request(op, request)
        events = self._load(request["executionArn"], op)["events"]
        if request.get("reverseOrder"):
            events = events[::-1]
        shown = []
        for event in events:
            event = dict(event, timestamp=datetime.datetime.fromisoformat(event["timestamp"]))
            if request.get("includeExecutionData") is False:
                event = {k: v for k, v in event.items() if not k.endswith("EventDetails")}
            shown.append(event)
        page, token = paged(shown, request, op)
        return self._answer(op, dict({"events": page}, **token))

    def list_executions(self, **request: Any) -> Answer:
        """The executions of `stateMachineArn`, newest first."""
        op = "ListExecutions"
        self._request(op, request)
        if "stateMachineArn" not in request:
            raise client_error(
                op, "ValidationException", "stateMachineArn or mapRunArn must be specified"
            )
        machine = self._machine(request["stateMachineArn"], op)["name"]
        folder = self.root / "executions" / machine
        records = []
        for path in folder.glob("*.json") if folder.is_dir() else []:
            try:
                record = _settled(json.loads(path.read_text()))
            except ValueError:
                continue
            if request.get("statusFilter") in (None, record["status"]):
                records.append(record)
        records.sort(key=lambda r: r["startDate"], reverse=True)
        items = []
        for record in records:
            item = {k: record[k] for k in ("executionArn", "stateMachineArn", "name", "status")}
            item["startDate"] = when(record["startDate"])
            if record.get("stopDate") is not None:
                item["stopDate"] = when(record["stopDate"])
            items.append(item)
        page, token = paged(items, request, op)
        return self._answer(op, dict({"executions": page}, **token))

    def wait(self) -> None:
        """Until every execution this client started has ended (a process that exits first
        ends them: they read as FAILED)."""
        for thread in list(self._threads):
            thread.join()

    def _execution(self, request: Dict[str, Any], op: str) -> Union[Execution, Answer]:
        """A new Execution for StartExecution's request, saved as RUNNING; or the description
        of the running execution the request repeats."""
        record = self._machine(request["stateMachineArn"], op)
        text = request.get("input", "{}")
        try:
            document = json.loads(text)
        except ValueError as e:
            raise client_error(
                op, "InvalidExecutionInput", "Invalid State Machine Execution Input: '%s'" % e
            )
        name = checked_name(request.get("name") or str(uuid.uuid4()), "execution", op)
        path = self._execution_path(record["name"], name, op)
        if path.exists():
            existing = json.loads(path.read_text())
            if existing["status"] == "RUNNING" and existing["input"] == json.dumps(document):
                return {"executionArn": existing["executionArn"],
                        "startDate": when(existing["startDate"])}  # fmt: skip
            raise client_error(
                op, "ExecutionAlreadyExists", "Execution Already Exists: '%s'"
                % execution_arn(record["name"], name),
            )  # fmt: skip
        execution = Execution(
            json.loads(record["definition"]),
            self.integrations,
            document,
            name=name,
            arn=execution_arn(record["name"], name),
            state_machine_arn=record["stateMachineArn"],
            role_arn=record["roleArn"],
            clock=self.clock,
        )
        lock = threading.Lock()

        def save(event: Optional[Event] = None) -> None:
            with lock:
                write_text_atomic(str(path), json.dumps(self._record(execution), indent=1))

        execution.history.listener = save
        save()
        return execution

    def _run(self, execution: Execution) -> None:
        try:
            execution.run()
        except Exception as e:  # a defect of the twin: the execution fails, saying so
            execution.status, execution.stopped = "FAILED", self.clock.now()
            execution.error, execution.cause = "States.Runtime", "%s: %s" % (type(e).__name__, e)
        write_text_atomic(
            str(self._execution_path(execution.arn.split(":")[-2], execution.name, "")),
            json.dumps(self._record(execution), indent=1),
        )

    def _nested(self, parse: Optional[bool]) -> Integration:
        """states:startExecution[.sync[:2]]: the child's DescribeExecution; `.sync` waits for it
        (Output a JSON string, or parsed with :2) and fails as it fails."""

        def start(parameters: Dict[str, Any], call: TaskCall) -> Dict[str, Any]:
            request: Dict[str, Any] = {"stateMachineArn": parameters["StateMachineArn"]}
            if "Input" in parameters:
                given = parameters["Input"]
                request["input"] = given if isinstance(given, str) else json.dumps(given)
            if parameters.get("Name"):
                request["name"] = parameters["Name"]
            execution = self._execution(request, "StartExecution")
            if isinstance(execution, dict):
                raise StatesError(
                    "StepFunctions.ExecutionAlreadyExistsException", execution["executionArn"]
                )
            self._run(execution)
            child = _described(self._record(execution))
            if parse is None:
                return {"ExecutionArn": child["executionArn"], "StartDate": execution.started}
            if child["status"] != "SUCCEEDED":
                raise StatesError(
                    "States.TaskFailed",
                    json.dumps(
                        {
                            "ExecutionArn": child["executionArn"],
                            "Status": child["status"],
                            "Error": child.get("error"),
                            "Cause": child.get("cause"),
                        }
                    ),
                )
            output = child.get("output")
            return {
                "ExecutionArn": child["executionArn"],
                "StateMachineArn": child["stateMachineArn"],
                "Name": child["name"],
                "Status": child["status"],
                "StartDate": execution.started,
                "StopDate": execution.stopped,
                "Input": child["input"],
                "Output": json.loads(output) if parse and output is not None else output,
            }

        return start

    def _record(self, execution: Execution) -> Dict[str, Any]:
        out = {
            "executionArn": execution.arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.status,
            "startDate": execution.started,
            "input": json.dumps(execution.input),
            "events": list(execution.history.events),
            # Which process runs it: a RUNNING record whose process is gone was killed.
            "_process": {"pid": os.getpid(), "start": self._process_start},
        }
        if execution.stopped is not None:
            out["stopDate"] = execution.stopped
        if execution.status == "SUCCEEDED":
            out["output"] = json.dumps(execution.output)
        for key, value in (("error", execution.error), ("cause", execution.cause)):
            if value is not None:
                out[key] = value
        return out

    def _load(self, execution: str, op: str) -> Dict[str, Any]:
        machine, name = arn_name(execution, "execution", 2, op)
        path = self._execution_path(machine, name, op)
        if not path.exists():
            raise client_error(
                op, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'" % execution
            )
        return _settled(json.loads(path.read_text()))

    def _execution_path(self, machine: str, name: str, op: str) -> Path:
        return (
            self.root
            / "executions"
            / checked_name(machine, "state machine", op)
            / ("%s.json" % checked_name(name, "execution", op))
        )
