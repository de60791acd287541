"""The local Step Functions service of one home: state machines and their executions.

State machines live in <home>/stepfunctions/state-machines/<name>.json, executions (with their
history, in GetExecutionHistory's shape) in <home>/stepfunctions/executions/<machine>/<name>.json,
each rewritten atomically as events arrive, so `churn workflow runs show` can follow a run
another process is executing. The calls and answers follow the Step Functions API
(CreateStateMachine, UpdateStateMachine, DescribeStateMachine, StartExecution,
DescribeExecution, GetExecutionHistory, ListExecutions); StartExecution runs the execution in
the calling thread and returns when it ends, and `states:startExecution` (.sync, .sync:2) is
an integration of its own, so one workflow can run another as AWS's nested executions do.
"""

import json
import threading
import time
import uuid
from pathlib import Path

from pipelines.errors import UserError
from pipelines.local.arns import arn
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.interpreter import Clock, DefinitionError, Execution, validate
from processing.churn_job import write_text_atomic

NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


class WorkflowError(UserError):
    """A state machine or execution that does not exist, or cannot run locally."""


def checked_name(name: str, what: str) -> str:
    """A state machine's or an execution's name, which becomes a file name: 1-80 characters
    as on AWS, of the set AWS asks for when executions are logged (so no '/' or '..' can lead
    out of the home)."""
    if not name or not set(name) <= NAME_CHARACTERS or len(name) > 80:
        raise WorkflowError("%s name %r: 1-80 letters, digits, - and _" % (what, name))
    return name


def machine_arn(name):
    return arn("states", "stateMachine:%s" % name)


def execution_arn(machine, name):
    return arn("states", "execution:%s:%s" % (machine, name))


class StepFunctions(object):
    def __init__(self, home, integrations, clock=None):
        self.root = Path(home) / "stepfunctions"
        self.integrations = integrations
        self.clock = clock or Clock()
        self.integrations.register("states:startExecution.sync:2", self._nested(parse=True))
        self.integrations.register("states:startExecution.sync", self._nested(parse=False))
        self.integrations.register("states:startExecution", self._nested(parse=None))

    # ------------------------------------------------------------------ state machines

    def create_state_machine(self, name, definition, role_arn="", update=True):
        """CreateStateMachine (or UpdateStateMachine when it exists and `update`)."""
        checked_name(name, "state machine")
        try:
            validate(definition, self.integrations)
        except DefinitionError as e:
            raise WorkflowError("state machine %s cannot run locally: %s" % (name, e))
        path = self._machine_path(name)
        if path.exists() and not update:
            raise WorkflowError("state machine %s already exists" % name)
        now = time.time()
        created = json.loads(path.read_text())["creationDate"] if path.exists() else now
        record = {
            "stateMachineArn": machine_arn(name),
            "name": name,
            "status": "ACTIVE",
            "definition": json.dumps(definition),
            "roleArn": role_arn,
            "type": "STANDARD",
            "creationDate": created,
            "updateDate": now,
        }
        write_text_atomic(str(path), json.dumps(record, indent=1))
        return {"stateMachineArn": record["stateMachineArn"], "creationDate": created}

    def describe_state_machine(self, arn_or_name):
        name = arn_or_name.rsplit(":", 1)[-1]
        path = self._machine_path(name)
        if not path.exists():
            raise WorkflowError(
                "no local state machine %s (known: %s)"
                % (name, ", ".join(self.list_state_machines()) or "none")
            )
        return json.loads(path.read_text())

    def list_state_machines(self):
        folder = self.root / "state-machines"
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []

    # ------------------------------------------------------------------ executions

    def start_execution(self, machine, input=None, name=None, listener=None):
        """Run an execution to its end; returns DescribeExecution."""
        record = self.describe_state_machine(machine)
        definition = json.loads(record["definition"])
        name = name or str(uuid.uuid4())
        path = self._execution_path(record["name"], name)
        if path.exists():
            raise WorkflowError("execution %s of %s already exists" % (name, record["name"]))
        execution = Execution(
            definition,
            self.integrations,
            input,
            name=name,
            arn=execution_arn(record["name"], name),
            state_machine_arn=record["stateMachineArn"],
            role_arn=record["roleArn"],
            clock=self.clock,
        )
        lock = threading.Lock()

        def save(event=None):
            with lock:
                write_text_atomic(str(path), json.dumps(self._record(execution), indent=1))
            if listener and event:
                listener(event)

        execution.history.listener = save
        save()
        execution.run()
        save()
        return self.describe_execution(execution.arn)

    def describe_execution(self, execution):
        record = self._load(execution)
        return {k: v for k, v in record.items() if k != "events"}

    def get_execution_history(self, execution):
        return {"events": self._load(execution)["events"]}

    def list_executions(self, machine=None):
        folder = self.root / "executions"
        if not folder.is_dir():
            return []
        pattern = "%s/*.json" % checked_name(machine, "state machine") if machine else "*/*.json"
        records = []
        for path in folder.glob(pattern):
            try:
                record = json.loads(path.read_text())
            except ValueError:
                continue
            records.append({k: v for k, v in record.items() if k != "events"})
        return sorted(records, key=lambda r: r["startDate"], reverse=True)

    # ------------------------------------------------------------------ inside

    def _nested(self, parse):
        """states:startExecution[.sync[:2]]: the child's DescribeExecution; `.sync` waits for it
        (Output a JSON string, or parsed with :2) and fails as it fails."""

        def start(parameters, call):
            child = self.start_execution(
                parameters["StateMachineArn"], parameters.get("Input"), parameters.get("Name")
            )
            if parse is None:
                return {"ExecutionArn": child["executionArn"], "StartDate": child["startDate"]}
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
            result = {
                "ExecutionArn": child["executionArn"],
                "StateMachineArn": child["stateMachineArn"],
                "Name": child["name"],
                "Status": child["status"],
                "StartDate": child["startDate"],
                "StopDate": child["stopDate"],
                "Input": child["input"],
                "Output": json.loads(output) if parse and output is not None else output,
            }
            return result

        return start

    def _record(self, execution):
        out = {
            "executionArn": execution.arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.status,
            "startDate": execution.started,
            "input": json.dumps(execution.input),
            "events": list(execution.history.events),
        }
        if execution.stopped is not None:
            out["stopDate"] = execution.stopped
        if execution.status == "SUCCEEDED":
            out["output"] = json.dumps(execution.output)
        if execution.error is not None:
            out.update(error=execution.error, cause=execution.cause)
        return out

    def _load(self, execution):
        parts = execution.split(":")
        if len(parts) < 2 or ":execution:" not in execution:
            raise WorkflowError("%r is not an execution ARN" % execution)
        path = self._execution_path(parts[-2], parts[-1])
        if not path.exists():
            raise WorkflowError("no local execution %s" % execution)
        return json.loads(path.read_text())

    def _machine_path(self, name):
        return self.root / "state-machines" / ("%s.json" % checked_name(name, "state machine"))

    def _execution_path(self, machine, name):
        return (
            self.root
            / "executions"
            / checked_name(machine, "state machine")
            / ("%s.json" % checked_name(name, "execution"))
        )
