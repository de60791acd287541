"""State machines, the operations of boto3's `stepfunctions` client over the home's local Step
Functions (a mixin of service.py's StepFunctions): CreateStateMachine (idempotent as on AWS),
UpdateStateMachine, DescribeStateMachine, ListStateMachines, DeleteStateMachine, each machine
a file <home>/stepfunctions/state-machines/<name>.json rewritten atomically; a definition is
validated by the interpreter before it is kept. And what the executions' operations share with
them: names and ARNs, answers' times, nextToken paging.
"""

import datetime
import json
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

from pipelines.local.api import Answer, TwinClient, client_error
from pipelines.local.arns import arn
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import DefinitionError, validate
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


def when(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def arn_name(value: str, kind: str, parts: int, op: str) -> List[str]:
    """The name (or machine and name) at the end of a state machine's (execution's) ARN:
    arn:aws:states:<region>:<account>:<kind>:<name>[:<name>]."""
    fields = value.split(":") if isinstance(value, str) else []
    if len(fields) != 6 + parts or fields[:3] != ["arn", "aws", "states"] or fields[5] != kind:
        raise client_error(
            op, "InvalidArn", "Invalid Arn: '%s' is not the ARN of a %s" % (value, kind)
        )
    return fields[6:]


def machine_reference(value: str, op: str) -> tuple[str, Optional[str]]:
    """(machine name, qualifier) of a state machine's ARN, a version's (qualifier the version
    number, `...:stateMachine:<name>:3`) or an alias's (its name, `...:stateMachine:<name>:prod`);
    the qualifier None for the machine's own ARN."""
    fields = value.split(":") if isinstance(value, str) else []
    if (
        len(fields) not in (7, 8)
        or fields[:3] != ["arn", "aws", "states"]
        or (fields[5] != "stateMachine")
    ):
        raise client_error(
            op, "InvalidArn", "Invalid Arn: '%s' is not the ARN of a stateMachine" % value
        )
    return fields[6], (fields[7] if len(fields) == 8 else None)


def paged(items: List[Any], request: Dict[str, Any], op: str) -> tuple[List[Any], Dict[str, str]]:
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


class StateMachines(TwinClient):
    """CreateStateMachine, UpdateStateMachine, DescribeStateMachine, ListStateMachines, over
    `self.root` (the home's stepfunctions folder); `integrations` are what a definition's Task
    states may name."""

    service = "stepfunctions"
    root: Path
    integrations: Integrations

    def create_state_machine(self, **request: Any) -> Answer:
        """Idempotent as on AWS: the same name with the same definition, type, logging and
        tracing answers the machine that exists; with any of them different,
        StateMachineAlreadyExists."""
        op = "CreateStateMachine"
        self._request(op, request)
        name = checked_name(request["name"], "state machine", op)
        request.setdefault("type", "STANDARD")
        self._checked_definition(request["definition"], op, request["type"])
        if "versionDescription" in request and not request.get("publish"):
            raise client_error(op, "ValidationException", "Version description can only be set "
                               "when publish is true")  # fmt: skip
        path = self._machine_path(name, op)
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
                "revisionId": str(uuid.uuid4()),
            }
            record.update({k: request[k] for k in IDEMPOTENT_MEMBERS if k in request})
            write_text_atomic(str(path), json.dumps(record, indent=1))
        return self._answer(
            op, {"stateMachineArn": record["stateMachineArn"], "creationDate": when(created)}
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
        if "versionDescription" in request and not request.get("publish"):
            raise client_error(op, "ValidationException", "Version description can only be set "
                               "when publish is true")  # fmt: skip
        if "definition" in changes:
            self._checked_definition(changes["definition"], op, record.get("type", "STANDARD"))
        if any(record.get(k) != v for k, v in changes.items()):
            record["revisionId"] = str(uuid.uuid4())  # a new revision: what a version snapshots
        record.update(changes, updateDate=time.time())
        write_text_atomic(str(self._machine_path(record["name"], op)), json.dumps(record, indent=1))
        return self._answer(op, {"updateDate": when(record["updateDate"])})

    def describe_state_machine(self, **request: Any) -> Answer:
        op = "DescribeStateMachine"
        self._request(op, request)
        record = self._machine(request["stateMachineArn"], op)
        shown = {k: v for k, v in record.items() if k != "updateDate" and not k.startswith("_")}
        shown["creationDate"] = when(record["creationDate"])
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
                    "creationDate": when(record["creationDate"]),
                }
            )
        page, token = paged(items, request, op)
        return self._answer(op, dict({"stateMachines": page}, **token))

    def delete_state_machine(self, **request: Any) -> Answer:
        """Deletes the machine, its versions and aliases; executions already started run on and
        stay readable. A machine that does not exist: nothing to do (the API documents no error
        for it). A version's or alias's ARN is a ValidationException (they have their own
        Delete calls)."""
        op = "DeleteStateMachine"
        self._request(op, request)
        name, qualifier = machine_reference(request["stateMachineArn"], op)
        if qualifier is not None:
            raise client_error(
                op, "ValidationException", "Invalid Arn: '%s': delete a version or an alias with "
                "DeleteStateMachineVersion or DeleteStateMachineAlias" % request["stateMachineArn"],
            )  # fmt: skip
        self._machine_path(name, op).unlink(missing_ok=True)
        for folder in ("versions", "aliases"):
            shutil.rmtree(self.root / folder / name, ignore_errors=True)
        return self._answer(op, {})

    def _checked_definition(self, text: str, op: str, kind: str = "STANDARD") -> None:
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
            if kind == "EXPRESS":
                express_patterns(definition)
        except DefinitionError as e:
            raise client_error(
                op, "InvalidDefinition", "Invalid State Machine Definition: '%s' (the local "
                "twin runs what it knows; see docs/workflows.md)" % e,
            )  # fmt: skip

    def _machine(self, machine: str, op: str) -> Dict[str, Any]:
        name = arn_name(machine, "stateMachine", 1, op)[0]
        path = self._machine_path(name, op)
        if not path.exists():
            raise client_error(
                op, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'" % machine
            )
        return json.loads(path.read_text())

    def _machine_path(self, name: str, op: str) -> Path:
        return self.root / "state-machines" / ("%s.json" % checked_name(name, "state machine", op))


def express_patterns(definition: Any, where: str = "") -> None:
    """An EXPRESS machine's Task states call services only as Request Response: "Express
    Workflows do not support the Run a Job (.sync) or Wait for Callback (.waitForTaskToken)
    service integration patterns" (developer guide, choosing-workflow-type.html)."""
    for name, state in (definition.get("States") or {}).items():
        resource = state.get("Resource", "") if state.get("Type") == "Task" else ""
        if isinstance(resource, str) and (
            resource.endswith(".waitForTaskToken") or re.search(r"\.sync(:\d+)?$", resource)
        ):
            raise DefinitionError(
                "%sstate %r: an EXPRESS state machine does not support %s (.sync and "
                ".waitForTaskToken are for STANDARD ones)" % (where, name, resource)
            )
        for i, branch in enumerate(state.get("Branches", [])):
            express_patterns(branch, "%sstate %r: branch %d: " % (where, name, i))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            express_patterns(processor, "%sstate %r: item processor: " % (where, name))
