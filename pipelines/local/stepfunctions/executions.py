"""Executions, the operations of boto3's `stepfunctions` client over the home's local Step
Functions (a mixin of service.py's StepFunctions): StartExecution (of a machine's, a version's
or an alias's ARN), DescribeExecution, GetExecutionHistory, ListExecutions, and the
`states:startExecution` integration that runs one workflow from another. An execution (its
history in GetExecutionHistory's shape) is a file
<home>/stepfunctions/executions/<machine>/<name>.json rewritten atomically as events arrive; it
runs on a daemon thread of the process that started it, and a RUNNING one whose process is gone
reads as FAILED. An EXPRESS machine's executions keep no such record: AWS answers
DescribeExecution and GetExecutionHistory for none of them (their ARNs,
arn:aws:states:<region>:<account>:express:<machine>:<name>:<id>, are InvalidArn there).
"""

import datetime
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from pipelines.local.api import Answer, client_error
from pipelines.local.arns import arn
from pipelines.local.processes import still_runs
from pipelines.local.stepfunctions.interpreter import Clock, Execution
from pipelines.local.stepfunctions.machines import arn_name, checked_name, paged, when
from pipelines.local.stepfunctions.runtime import Throttled
from pipelines.local.stepfunctions.versions import Versions
from processing.churn_job import write_text_atomic

REDRIVE_DAYS = 14  # "didn't complete successfully in the last 14 days" (API_RedriveExecution)
UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")


def execution_arn(machine: str, name: str) -> str:
    return arn("states", "execution:%s:%s" % (machine, name))


def express_arn(machine: str, name: str) -> str:
    return arn("states", "express:%s:%s:%s" % (machine, name, uuid.uuid4()))


def redrive_status(record: Dict[str, Any], now: float) -> Dict[str, Any]:
    """DescribeExecution's redriveStatus (and redriveStatusReason when NOT_REDRIVABLE) of an
    execution's record (the reasons are the API reference's, API_DescribeExecution.html)."""
    status = record["status"]
    if status in UNSUCCESSFUL:
        if now - record.get("stopDate", now) <= REDRIVE_DAYS * 86400:
            return {"redriveStatus": "REDRIVABLE"}
        reason = "Execution redrivable period exceeded."
    else:
        reason = "Execution is %s and cannot be redriven." % status
    return {"redriveStatus": "NOT_REDRIVABLE", "redriveStatusReason": reason}


class TwinExecution(Execution):
    """The interpreter's Execution with what the service records besides its run: the version
    and alias ARNs it was started through (`origin`) and its redrives (`redrive`:
    redriveCount, redriveDate)."""

    def __init__(self, *args: Any, origin: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origin: Dict[str, Any] = origin or {}
        self.redrive: Dict[str, Any] = {}
        self.earlier = 0  # the events of the attempts before a redrive, in history.events
        self.saver: Optional[Throttled] = None  # what writes its record (none if EXPRESS)


def begun(execution: "TwinExecution", seconds: float = 2.0) -> bool:
    """Once the run has recorded its first event (ExecutionStarted, ExecutionRedriven), which
    an abort must follow: the run's thread records it as it starts."""
    deadline = time.monotonic() + seconds
    while len(execution.history.events) <= execution.earlier and time.monotonic() < deadline:
        time.sleep(0.005)
    return len(execution.history.events) > execution.earlier


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
    for key in ("stopDate", "redriveDate"):
        if record.get(key) is not None:
            out[key] = when(record[key])
    out["inputDetails"] = {"included": True}
    if "output" in out:
        out["outputDetails"] = {"included": True}
    out.setdefault("redriveCount", 0)
    out.update(redrive_status(record, time.time()))
    return out


class Executions(Versions):
    """StartExecution, DescribeExecution, GetExecutionHistory, ListExecutions, and the
    `states:startExecution` integration (`_nested`), over the state machines of StateMachines
    and their versions and aliases (Versions); `clock` times the executions."""

    clock: Clock
    _threads: List[threading.Thread]
    _process_start: Optional[str]
    _running: Dict[str, "TwinExecution"]  # this process's running executions, by ARN

    def start_execution(self, **request: Any) -> Answer:
        """Starts the execution on a thread of this process and answers at once. The same name
        and input as an execution still running answers that execution, as AWS does; a closed
        one, or different input, is ExecutionAlreadyExists."""
        op = "StartExecution"
        self._request(op, request)
        execution = self._execution(request, op)
        if isinstance(execution, dict):  # the running execution of that name and input
            return self._answer(op, execution)
        self._start(execution)
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
        """The executions of `stateMachineArn` (of a version's or alias's ARN: those started
        through it), newest first; an EXPRESS machine's are StateMachineTypeNotSupported, as
        AWS keeps none."""
        op = "ListExecutions"
        self._request(op, request)
        if "stateMachineArn" not in request:
            raise client_error(
                op, "ValidationException", "stateMachineArn or mapRunArn must be specified"
            )
        given = request["stateMachineArn"]
        target = self._target(given, op)
        if target.type == "EXPRESS":
            raise client_error(op, "StateMachineTypeNotSupported", "This operation is not "
                               "supported by this type of state machine")  # fmt: skip
        folder = self.root / "executions" / target.machine["name"]
        wanted = {"status": request.get("statusFilter"), "redriven": request.get("redriveFilter")}
        records = []
        for path in folder.glob("*.json") if folder.is_dir() else []:
            try:
                record = _settled(json.loads(path.read_text()))
            except ValueError:
                continue
            if given not in (target.machine["stateMachineArn"],
                             record.get("stateMachineVersionArn"),
                             record.get("stateMachineAliasArn")):  # fmt: skip
                continue
            redriven = "REDRIVEN" if record.get("redriveCount") else "NOT_REDRIVEN"
            if wanted["status"] in (None, record["status"]) and wanted["redriven"] in (
                None, redriven,
            ):  # fmt: skip
                records.append(record)
        records.sort(key=lambda r: r["startDate"], reverse=True)
        items = []
        for record in records:
            item = {k: record[k] for k in ("executionArn", "stateMachineArn", "name", "status")}
            for key in ("stateMachineVersionArn", "stateMachineAliasArn", "redriveCount"):
                if key in record:
                    item[key] = record[key]
            for key in ("startDate", "stopDate", "redriveDate"):
                if record.get(key) is not None:
                    item[key] = when(record[key])
            items.append(item)
        page, token = paged(items, request, op)
        return self._answer(op, dict({"executions": page}, **token))

    def wait(self) -> None:
        """Until every execution this client started has ended (a process that exits first
        ends them: they read as FAILED)."""
        for thread in list(self._threads):
            thread.join()

    def _execution(self, request: Dict[str, Any], op: str) -> Union[TwinExecution, Answer]:
        """A new Execution for StartExecution's request, saved as RUNNING (an EXPRESS one is
        not saved); or the description of the running execution the request repeats."""
        target = self._target(request["stateMachineArn"], op)
        record = target.machine
        text = request.get("input", "{}")
        try:
            document = json.loads(text)
        except ValueError as e:
            raise client_error(
                op, "InvalidExecutionInput", "Invalid State Machine Execution Input: '%s'" % e
            )
        name = checked_name(request.get("name") or str(uuid.uuid4()), "execution", op)
        express = target.type == "EXPRESS"
        path = self._execution_path(record["name"], name, op)
        if path.exists() and not express:
            existing = json.loads(path.read_text())
            if existing["status"] == "RUNNING" and existing["input"] == json.dumps(document):
                return {"executionArn": existing["executionArn"],
                        "startDate": when(existing["startDate"])}  # fmt: skip
            raise client_error(
                op, "ExecutionAlreadyExists", "Execution Already Exists: '%s'"
                % execution_arn(record["name"], name),
            )  # fmt: skip
        versions = (("stateMachineVersionArn", target.version_arn),
                    ("stateMachineAliasArn", target.alias_arn))  # fmt: skip
        execution = TwinExecution(
            json.loads(target.definition),
            self.integrations,
            document,
            name=name,
            arn=(express_arn if express else execution_arn)(record["name"], name),
            state_machine_arn=record["stateMachineArn"],
            role_arn=target.role_arn,
            clock=self.clock,
            origin={k: v for k, v in versions if v},
        )
        if not express:
            self._saving(execution)
        return execution

    def _saving(self, execution: TwinExecution) -> None:
        """The execution's record written now and as events arrive (at most four times a
        second: a follower sees each event within a quarter of a second, and _run writes the
        end at once)."""
        path = self._path_of(execution.arn)

        def save() -> None:
            write_text_atomic(str(path), json.dumps(self._record(execution), indent=1))

        execution.saver = Throttled(save)
        execution.history.listener = execution.saver
        save()

    def _start(self, execution: TwinExecution) -> threading.Thread:
        self._running[execution.arn] = execution
        thread = threading.Thread(
            target=self._run, args=(execution,), name=execution.name, daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return thread

    def _run(self, execution: TwinExecution) -> None:
        """The execution run to its end, in this thread; StopExecution from this process
        aborts it through _running, from another through a stop request file next to its
        record (watched while it runs)."""
        express = ":express:" in execution.arn
        self._running[execution.arn] = execution
        if not express:
            threading.Thread(target=self._watch_stop, args=(execution,), daemon=True).start()
        defect = False
        try:
            execution.run()
        except Exception as e:  # a defect of the twin: the execution fails, saying so
            if execution.aborted is None:
                execution.status, execution.stopped = "FAILED", self.clock.now()
                execution.error = "States.Runtime"
                execution.cause = "%s: %s" % (type(e).__name__, e)
                defect = True
        finally:
            self._running.pop(execution.arn, None)
        if execution.saver is not None:  # its end was written with its last event
            (execution.saver.flush if defect else execution.saver.close)()
            self._path_of(execution.arn).with_suffix(".stop").unlink(missing_ok=True)

    def _watch_stop(self, execution: TwinExecution) -> None:
        stop = self._path_of(execution.arn).with_suffix(".stop")
        while not execution.cancelled.wait(0.1):
            if stop.exists() and begun(execution):
                try:
                    request = json.loads(stop.read_text())
                except ValueError:
                    continue  # being written
                execution.abort(request.get("error"), request.get("cause"))
                return

    def _record(self, execution: TwinExecution) -> Dict[str, Any]:
        status = "ABORTED" if execution.aborted is not None else execution.status
        out = {
            "executionArn": execution.arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": execution.started,
            "input": json.dumps(execution.input),
            "events": list(execution.history.events),
            # Which process runs it: a RUNNING record whose process is gone was killed.
            "_process": {"pid": os.getpid(), "start": self._process_start},
            # What it runs, for a redrive ("the same state machine definition")
            "_definition": execution.definition,
            "_roleArn": execution.role_arn,
            # The branches of an unfinished Parallel or inline Map that a redrive need not rerun
            "_branches": execution.branches.record(),
        }
        out.update(execution.origin)
        out.update(execution.redrive)
        if execution.stopped is not None:
            out["stopDate"] = execution.stopped
        if status == "SUCCEEDED":
            out["output"] = json.dumps(execution.output)
        for key, value in (("error", execution.error), ("cause", execution.cause)):
            if value is not None:
                out[key] = value
        return out

    def _load(self, execution: str, op: str) -> Dict[str, Any]:
        path = self._path_of(execution, op)
        if not path.exists():
            raise client_error(
                op, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'" % execution
            )
        return _settled(json.loads(path.read_text()))

    def _path_of(self, execution: str, op: str = "") -> Path:
        """The record of a (standard) execution's ARN; an EXPRESS execution's is InvalidArn,
        as AWS answers (Describe, history, Stop and Redrive are not for them)."""
        machine, name = arn_name(execution, "execution", 2, op or "DescribeExecution")
        return self._execution_path(machine, name, op)

    def _execution_path(self, machine: str, name: str, op: str) -> Path:
        return (
            self.root
            / "executions"
            / checked_name(machine, "state machine", op)
            / ("%s.json" % checked_name(name, "execution", op))
        )
