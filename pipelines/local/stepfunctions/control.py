"""What a caller does to executions besides starting and reading them, operations of boto3's
`stepfunctions` client over the home's local Step Functions (a mixin of service.py's
StepFunctions): StopExecution, RedriveExecution, StartSyncExecution (EXPRESS machines), and the
`states:startExecution` integration (.sync, .sync:2) that runs one workflow from another.

RedriveExecution restarts an unsuccessful STANDARD execution "from the unsuccessful step" with
"the same input", "the same state machine definition and execution ARN", keeping the history
of the successful steps (API_RedriveExecution.html; redrive-executions.html in the developer
guide): the twin finds in the history the top-level state that was entered and never exited,
and runs again from it with the input it was entered with. A Parallel or inline Map state
there reruns only the branches and iterations that failed or were aborted (redrives.py).
"""

import json
import math
import time
from typing import Any, Dict, List, Optional, Tuple

from botocore.exceptions import ClientError

from pipelines.local.api import Answer, client_error
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.executions import (
    Executions,
    TwinExecution,
    begun,
    redrive_status,
)
from pipelines.local.stepfunctions.integrations import Integration
from pipelines.local.stepfunctions.machines import when
from pipelines.local.stepfunctions.redrives import BranchOutcomes
from pipelines.local.stepfunctions.runtime import Document, Event, TaskCall

STOP_WAIT_SECONDS = 5.0  # how long StopExecution waits for another process to abort its run
BILLED_MEMORY_MB = 64  # an Express execution is billed in 64 MB steps: the least, locally


def resume_point(definition: Document, events: List[Event], given: Any) -> Tuple[str, Any]:
    """(the state a redrive starts at, its input): the last top-level state entered and never
    exited, with the input it was entered with; after a state that exited (the run ended
    between two states), the state it leads to, with its output (a Choice, or a state with no
    Next, runs again with its input); with no state entered, StartAt with the execution's
    input. State names are unique in a whole definition, so the top-level ones are known by
    name."""
    top = definition["States"]
    last: Optional[Tuple[bool, Document]] = None
    inputs: Dict[str, Any] = {}
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        if details is None or details.get("name") not in top:
            continue
        entered = "stateEnteredEventDetails" in event
        if entered:
            inputs[details["name"]] = json.loads(details["input"])
        last = (entered, details)
    if last is None:
        return definition["StartAt"], given
    entered, details = last
    name = details["name"]
    state = top[name]
    if not entered and "Next" in state and state.get("Type") != "Choice":
        return state["Next"], json.loads(details["output"])
    return name, inputs[name]


class ExecutionControl(Executions):
    """StopExecution, RedriveExecution, StartSyncExecution and the nested executions'
    integration, over the executions of Executions."""

    def stop_execution(self, **request: Any) -> Answer:
        """A running execution ends ABORTED with the error and cause given (both optional),
        its history's last event ExecutionAborted. One already ended is left as it is: the
        API reference names no error for it, and the answer is its own stopDate."""
        op = "StopExecution"
        self._request(op, request)
        arn = request["executionArn"]
        record = self._load(arn, op)
        error, cause = request.get("error"), request.get("cause")
        running = self._running.get(arn)
        if running is not None:
            begun(running)  # StartExecution answers before its thread records ExecutionStarted
            running.abort(error, cause)
            return self._answer(op, {"stopDate": when(running.stopped or self.clock.now())})
        if record["status"] == "RUNNING":  # run by another process, which watches for this
            stop = self._path_of(arn, op).with_suffix(".stop")
            stop.write_text(json.dumps({"error": error, "cause": cause}))
            waited = 0.0
            while record["status"] == "RUNNING" and waited < STOP_WAIT_SECONDS:
                time.sleep(0.05)
                waited += 0.05
                record = self._load(arn, op)
        return self._answer(op, {"stopDate": when(record.get("stopDate") or time.time())})

    def redrive_execution(self, **request: Any) -> Answer:
        """Only a FAILED, TIMED_OUT or ABORTED STANDARD execution that stopped in the last 14
        days (ExecutionNotRedrivable otherwise, saying why); it runs again on a thread of this
        process, RUNNING, with the same ARN, its redriveCount one more, its history going on
        with ExecutionRedriven. clientToken is accepted; the twin keeps no tokens."""
        op = "RedriveExecution"
        self._request(op, request)
        arn = request["executionArn"]
        record = self._load(arn, op)
        status = redrive_status(record, time.time())
        if status["redriveStatus"] != "REDRIVABLE":
            raise client_error(op, "ExecutionNotRedrivable", status["redriveStatusReason"])
        definition = record.get("_definition")
        if definition is None:  # recorded before redrives were: the machine's definition now
            definition = json.loads(self._machine(record["stateMachineArn"], op)["definition"])
        given = json.loads(record["input"])
        start_at, start_input = resume_point(definition, record["events"], given)
        count = record.get("redriveCount", 0) + 1
        execution = TwinExecution(
            definition,
            self.integrations,
            given,
            name=record["name"],
            arn=arn,
            state_machine_arn=record["stateMachineArn"],
            role_arn=record.get("_roleArn", ""),
            clock=self.clock,
            start_at=start_at,
            start_input=start_input,
            redrive_count=count,
            origin={
                k: record[k]
                for k in ("stateMachineVersionArn", "stateMachineAliasArn")
                if k in record
            },  # fmt: skip
        )
        # a Parallel or inline Map it starts at reruns only the branches that did not succeed
        execution.branches = BranchOutcomes(start_at, record.get("_branches", {}).get(start_at))
        execution.started = record["startDate"]  # its start; TimeoutSeconds counts from now
        execution.history.events = list(record["events"])
        execution.earlier = len(record["events"])
        execution.redrive = {"redriveCount": count, "redriveDate": self.clock.now()}
        self._saving(execution)
        self._start(execution)
        return self._answer(op, {"redriveDate": when(execution.redrive["redriveDate"])})

    def start_sync_execution(self, **request: Any) -> Answer:
        """An EXPRESS machine's execution run to its end before the answer (status SUCCEEDED,
        FAILED or TIMED_OUT, its output or error and cause, billingDetails); a STANDARD machine
        is StateMachineTypeNotSupported (API_StartSyncExecution.html)."""
        op = "StartSyncExecution"
        self._request(op, request)
        if self._target(request["stateMachineArn"], op).type != "EXPRESS":
            raise client_error(op, "StateMachineTypeNotSupported", "This operation is not "
                               "supported by this type of state machine")  # fmt: skip
        execution = self._execution(request, op)
        assert isinstance(execution, TwinExecution)  # an EXPRESS name repeats no running one
        self._run(execution)
        stopped = execution.stopped or self.clock.now()
        answer: Dict[str, Any] = {
            "executionArn": execution.arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "startDate": when(execution.started),
            "stopDate": when(stopped),
            "status": execution.status,
            "input": json.dumps(execution.input),
            "inputDetails": {"included": True},
            "billingDetails": {
                "billedMemoryUsedInMB": BILLED_MEMORY_MB,
                # billed in 100 ms steps, at least one
                "billedDurationInMilliseconds": max(
                    100, int(math.ceil((stopped - execution.started) * 10)) * 100
                ),
            },
        }
        if execution.status == "SUCCEEDED":
            answer.update(output=json.dumps(execution.output), outputDetails={"included": True})
        for key, value in (("error", execution.error), ("cause", execution.cause)):
            if value is not None:
                answer[key] = value
        return self._answer(op, answer)

    def _nested(self, parse: Optional[bool]) -> Integration:
        """states:startExecution[.sync[:2]] (connect-stepfunctions.html): without .sync the
        child's ExecutionArn and StartDate at once; with it, the child's DescribeExecution in
        the integration's capitalized names once it ends (Input and Output JSON strings, or
        parsed with :2), failing as States.TaskFailed with that description as the cause when
        the child does not succeed. A request the API refuses fails the task with
        StepFunctions.<code>Exception, the API's message as the cause."""

        def start(parameters: Dict[str, Any], call: TaskCall) -> Dict[str, Any]:
            request: Dict[str, Any] = {"stateMachineArn": parameters["StateMachineArn"]}
            if "Input" in parameters:
                given = parameters["Input"]
                request["input"] = given if isinstance(given, str) else json.dumps(given)
            if parameters.get("Name"):
                request["name"] = parameters["Name"]
            try:
                execution = self._execution(request, "StartExecution")
            except ClientError as e:
                code, message = e.response["Error"]["Code"], e.response["Error"]["Message"]
                raise StatesError(
                    "StepFunctions.%s"
                    % (code if code.endswith("Exception") else code + "Exception"),
                    "%s (Service: AWSStepFunctions; Status Code: 400; Error Code: %s)"
                    % (message, code),
                )
            if isinstance(execution, dict):
                raise StatesError(
                    "StepFunctions.ExecutionAlreadyExistsException", execution["executionArn"]
                )
            thread = self._start(execution)
            if parse is None:
                return {"ExecutionArn": execution.arn, "StartDate": execution.started}
            while thread.is_alive():
                thread.join(0.05)
                if call.cancelled.is_set():  # the parent's task ended first: so does the child
                    execution.abort("States.Aborted", "The parent execution's task was stopped")
            return self._child(execution, bool(parse))

        return start

    def _child(self, execution: TwinExecution, parse: bool) -> Dict[str, Any]:
        """An ended child's description, as `.sync` (`parse` False) or `.sync:2` gives it."""
        record = self._record(execution)

        def data(text: str) -> Any:
            return json.loads(text) if parse else text

        out: Dict[str, Any] = {
            "ExecutionArn": execution.arn,
            "StateMachineArn": execution.state_machine_arn,
            "Name": execution.name,
            "Status": record["status"],
            "StartDate": execution.started,
            "StopDate": record.get("stopDate"),
            "Input": data(record["input"]),
            "InputDetails": {"Included": True},
        }
        for key in ("stateMachineVersionArn", "stateMachineAliasArn"):
            if key in record:
                out[key[0].upper() + key[1:]] = record[key]
        if ":express:" not in execution.arn:
            status = redrive_status(record, time.time())
            out["RedriveCount"] = record.get("redriveCount", 0)
            out["RedriveStatus"] = status["redriveStatus"]
            if "redriveStatusReason" in status:
                out["RedriveStatusReason"] = status["redriveStatusReason"]
        if record["status"] == "SUCCEEDED":
            out.update(Output=data(record["output"]), OutputDetails={"Included": True})
            return out
        out.update({k.capitalize(): record[k] for k in ("error", "cause") if k in record})
        raise StatesError("States.TaskFailed", json.dumps(out))
