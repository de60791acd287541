"""The local Step Functions service of one home, as boto3's `stepfunctions` client: state machines
and their executions (docs/adr/0011: a twin is its service's API).

State machines live in <home>/stepfunctions/state-machines/<name>.json, executions (with their
history, in GetExecutionHistory's shape) in <home>/stepfunctions/executions/<machine>/<name>.json,
each rewritten atomically as events arrive, so another process can follow a run. The calls are
boto3's (create_state_machine, update_state_machine, describe_state_machine,
list_state_machines, start_execution, describe_execution, get_execution_history,
list_executions, and their paginators), answered in the API's shapes and failing with its error
codes. StartExecution starts the execution on a thread of the calling process and answers at
once, as on AWS. A local execution lives as long as the process that started it (its thread is
a daemon: Ctrl-C stops the command at once; `wait()` waits for them): one whose process ended
first reads as FAILED, saying so. `states:
startExecution` (.sync, .sync:2) is an integration of its own, so one workflow can run another
as AWS's nested executions do.
"""

import datetime
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from pipelines.local.api import Answer, TwinClient, client_error
from pipelines.local.arns import arn
from pipelines.local.processes import process_start, still_runs
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integration, Integrations
from pipelines.local.stepfunctions.interpreter import (
    Clock,
    DefinitionError,
    Event,
    Execution,
    validate,
)
from pipelines.local.stepfunctions.runtime import TaskCall
from processing.churn_job import write_text_atomic

NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
PAGE_SIZE = 100  # ListStateMachines, ListExecutions and GetExecutionHistory's default maxResults
IDEMPOTENT_MEMBERS = ("definition", "type", "loggingConfiguration", "tracingConfiguration")


def checked_name(name: str, what: str, operation: str = "") -> str:
    """A state machine's or an execution's name, which becomes a file name: 1-80 characters
    as on AWS, of the set AWS asks for when executions are logged (letters, digits, - and _;
    so no '/' or '..' can lead out of the home). AWS accepts a few more characters (.); the
    twin refuses them rather than make them file names."""
    if not isinstance(name, str) or not name or not set(name) <= NAME_CHARACTERS or len(name) > 80:
        raise client_error(
            operation or "CreateStateMachine",
            "InvalidName",
            "Invalid Name: %r (%s names here are 1-80 letters, digits, - and _)" % (name, what),
        )
    return name


def machine_arn(name: str) -> str:
    return arn("states", "stateMachine:%s" % name)


def execution_arn(machine: str, name: str) -> str:
    return arn("states", "execution:%s:%s" % (machine, name))


def _time(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


class StepFunctions(TwinClient):
    """boto3's `stepfunctions` client over the home's state machines and executions;
    `integrations` answer the Task states."""

    service = "stepfunctions"

    def __init__(
        self, home: Union[str, Path], integrations: Integrations, clock: Optional[Clock] = None
    ) -> None:
        self.root = Path(home) / "stepfunctions"
        self.integrations = integrations
        self.clock = clock or Clock()
        self.integrations.register("states:startExecution.sync:2", self._nested(parse=True))
        self.integrations.register("states:startExecution.sync", self._nested(parse=False))
        self.integrations.register("states:startExecution", self._nested(parse=None))
        self._threads: List[threading.Thread] = []
        self._process_start = process_start(os.getpid())

    # ------------------------------------------------------------------ state machines

    def create_state_machine(self, **request: Any) -> Answer:
        """Idempotent as on AWS: the same name with the same definition, type, logging and
        tracing answers the machine that exists; with any of them different,
        StateMachineAlreadyExists."""
        op = "CreateStateMachine"
        self._request(op, request)
        name = checked_name(request["name"], "state machine", op)
        self._checked_definition(request["definition"], op)
        path = self._machine_path(name, op)
        request.setdefault("type", "STANDARD")
        if path.exists():
            record = json.loads(path.read_text())
            if any(record.get(k) != request.get(k) for k in IDEMPOTENT_MEMBERS):
                raise client_error(
                    op, "StateMachineAlreadyExists", "State Machine Already Exists: '%s'"
                    % record["stateMachineArn"],
                )  # fmt: skip
            created = record["creationDate"]
        else:
            created = time.time()
            record = {
                "stateMachineArn": machine_arn(name),
                "name": name,
                "status": "ACTIVE",
                "roleArn": request["roleArn"],
                "creationDate": created,
                "updateDate": created,
            }
            record.update({k: request[k] for k in IDEMPOTENT_MEMBERS if k in request})
            write_text_atomic(str(path), json.dumps(record, indent=1))
        return self._answer(
            op, {"stateMachineArn": record["stateMachineArn"], "creationDate": _time(created)}
        )

    def update_state_machine(self, **request: Any) -> Answer:
        op = "UpdateStateMachine"
        self._request(op, request)
        record = self._machine(request["stateMachineArn"], op)
        changes = {k: request[k] for k in ("definition", "roleArn") + IDEMPOTENT_MEMBERS[1:]
                   if k in request}  # fmt: skip
        if not changes:
            raise client_error(
                op,
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the "
                "TracingConfiguration must be specified",
            )
        if "definition" in changes:
            self._checked_definition(changes["definition"], op)
        record.update(changes, updateDate=time.time())
        write_text_atomic(str(self._machine_path(record["name"], op)), json.dumps(record, indent=1))
        return self._answer(op, {"updateDate": _time(record["updateDate"])})

    def describe_state_machine(self, **request: Any) -> Answer:
        op = "DescribeStateMachine"
        self._request(op, request)
        record = self._machine(request["stateMachineArn"], op)
        shown = {k: v for k, v in record.items() if k not in ("updateDate",)}
        shown["creationDate"] = _time(record["creationDate"])
        return self._answer(op, shown)

    def list_state_machines(self, **request: Any) -> Answer:
        op = "ListStateMachines"
        self._request(op, request)
        folder = self.root / "state-machines"
        names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
        items = []
        for name in names:
            record = json.loads((folder / ("%s.json" % name)).read_text())
            items.append(
                {
                    "stateMachineArn": record["stateMachineArn"],
                    "name": record["name"],
                    "type": record.get("type", "STANDARD"),
                    "creationDate": _time(record["creationDate"]),
                }
            )
        page, token = _page(items, request, op)
        return self._answer(op, dict({"stateMachines": page}, **token))

    # ------------------------------------------------------------------ executions

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
            op, {"executionArn": execution.arn, "startDate": _time(execution.started)}
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
        page, token = _page(shown, request, op)
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
            item["startDate"] = _time(record["startDate"])
            if record.get("stopDate") is not None:
                item["stopDate"] = _time(record["stopDate"])
            items.append(item)
        page, token = _page(items, request, op)
        return self._answer(op, dict({"executions": page}, **token))

    def wait(self) -> None:
        """Until every execution this client started has ended (a process that exits first
        ends them: they read as FAILED)."""
        for thread in list(self._threads):
            thread.join()

    # ------------------------------------------------------------------ inside

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
                        "startDate": _time(existing["startDate"])}  # fmt: skip
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

    def _checked_definition(self, text: str, op: str) -> None:
        try:
            definition = json.loads(text)
        except ValueError as e:
            raise client_error(
                op, "InvalidDefinition", "Invalid State Machine Definition: '%s'" % e
            )
        if not isinstance(definition, dict):
            raise client_error(op, "InvalidDefinition", "Invalid State Machine Definition: "
                               "not a JSON object")  # fmt: skip
        try:
            validate(definition, self.integrations)
        except DefinitionError as e:
            raise client_error(
                op, "InvalidDefinition", "Invalid State Machine Definition: '%s' (the local "
                "twin runs what it knows; see docs/workflows.md)" % e,
            )  # fmt: skip

    def _machine(self, machine: str, op: str) -> Dict[str, Any]:
        name = _arn_name(machine, "stateMachine", 1, op)[0]
        path = self._machine_path(name, op)
        if not path.exists():
            raise client_error(
                op, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'" % machine
            )
        return json.loads(path.read_text())

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
        if execution.error is not None:
            out.update(error=execution.error, cause=execution.cause)
        return out

    def _load(self, execution: str, op: str) -> Dict[str, Any]:
        machine, name = _arn_name(execution, "execution", 2, op)
        path = self._execution_path(machine, name, op)
        if not path.exists():
            raise client_error(
                op, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'" % execution
            )
        return _settled(json.loads(path.read_text()))

    def _machine_path(self, name: str, op: str) -> Path:
        return self.root / "state-machines" / ("%s.json" % checked_name(name, "state machine", op))

    def _execution_path(self, machine: str, name: str, op: str) -> Path:
        return (
            self.root
            / "executions"
            / checked_name(machine, "state machine", op)
            / ("%s.json" % checked_name(name, "execution", op))
        )


def _arn_name(value: str, kind: str, parts: int, op: str) -> List[str]:
    """The name (or machine and name) at the end of a state machine's (execution's) ARN:
    arn:aws:states:<region>:<account>:<kind>:<name>[:<name>]."""
    fields = value.split(":") if isinstance(value, str) else []
    if len(fields) != 6 + parts or fields[:3] != ["arn", "aws", "states"] or fields[5] != kind:
        raise client_error(
            op, "InvalidArn", "Invalid Arn: '%s' is not the ARN of a %s" % (value, kind)
        )
    return fields[6:]


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
    out = {k: v for k, v in record.items() if k not in ("events", "_process")}
    out["startDate"] = _time(record["startDate"])
    if record.get("stopDate") is not None:
        out["stopDate"] = _time(record["stopDate"])
    return out


def _page(items: List[Any], request: Dict[str, Any], op: str) -> tuple[List[Any], Dict[str, str]]:
    """(this page of `items`, {"nextToken": ...} when more follow), for maxResults (0 or absent:
    the default page) and the nextToken a previous page gave."""
    size = request.get("maxResults") or PAGE_SIZE
    token = request.get("nextToken")
    start = 0
    if token is not None:
        if not token.isdigit() or int(token) > len(items):
            raise client_error(op, "InvalidToken", "Invalid Token: '%s'" % token)
        start = int(token)
    end = start + size
    return items[start:end], ({"nextToken": str(end)} if end < len(items) else {})
