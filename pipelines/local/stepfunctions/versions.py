"""State machine versions and aliases, operations of boto3's `stepfunctions` client over the
home's local Step Functions (a mixin of service.py's StepFunctions): PublishStateMachineVersion
(and CreateStateMachine's and UpdateStateMachine's `publish`), ListStateMachineVersions,
DeleteStateMachineVersion, CreateStateMachineAlias, DescribeStateMachineAlias,
UpdateStateMachineAlias, ListStateMachineAliases, DeleteStateMachineAlias; DescribeStateMachine
of a version's ARN; and which definition a StartExecution of a machine's, a version's
(`...:stateMachine:<name>:<n>`) or an alias's (`...:stateMachine:<name>:<alias>`) ARN runs.

A version is an immutable snapshot of a machine's current revision,
<home>/stepfunctions/versions/<machine>/<n>.json, numbered from 1 and never reused; an alias,
<home>/stepfunctions/aliases/<machine>/<alias>.json, routes executions to one version or
between two by weight (API_CreateStateMachineAlias.html, concepts-state-machine-version.html,
concepts-state-machine-alias.html in the developer guide).
"""

import json
import random
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from pipelines.local.api import Answer, client_error
from pipelines.local.stepfunctions.machines import (
    StateMachines,
    checked_name,
    machine_arn,
    machine_reference,
    paged,
    when,
)
from processing.churn_job import write_text_atomic

SNAPSHOT = ("definition", "roleArn", "type", "loggingConfiguration", "tracingConfiguration",
            "revisionId")  # fmt: skip


class Target:
    """What a StartExecution of a machine's, version's or alias's ARN runs: the machine's
    record, the definition and role (the version's when there is one), and the version and
    alias ARNs the execution is described with."""

    def __init__(
        self,
        machine: Dict[str, Any],
        version: Optional[Dict[str, Any]] = None,
        alias_arn: Optional[str] = None,
    ) -> None:
        self.machine = machine
        source = version or machine
        self.definition: str = source["definition"]
        self.role_arn: str = source["roleArn"]
        self.type: str = source.get("type", "STANDARD")
        self.version_arn: Optional[str] = version["stateMachineVersionArn"] if version else None
        self.alias_arn = alias_arn


class Versions(StateMachines):
    """Versions and aliases of the state machines of StateMachines."""

    def create_state_machine(self, **request: Any) -> Answer:
        """CreateStateMachine; with `publish`, version 1 of it (versionDescription its
        description), whose ARN the answer carries."""
        answer = super().create_state_machine(**request)
        if request.get("publish"):
            record = self._machine(answer["stateMachineArn"], "CreateStateMachine")
            version = self._publish(record, request.get("versionDescription"))
            answer = dict(answer, stateMachineVersionArn=version["stateMachineVersionArn"])
        return self._answer("CreateStateMachine", answer)

    def update_state_machine(self, **request: Any) -> Answer:
        """UpdateStateMachine: the answer carries the new revisionId; with `publish`, a version
        of the updated machine."""
        op = "UpdateStateMachine"
        answer = super().update_state_machine(**request)
        record = self._machine(request["stateMachineArn"], op)
        answer = dict(answer, revisionId=record["revisionId"])
        if request.get("publish"):
            version = self._publish(record, request.get("versionDescription"))
            answer["stateMachineVersionArn"] = version["stateMachineVersionArn"]
        return self._answer(op, answer)

    def describe_state_machine(self, **request: Any) -> Answer:
        """A version's ARN describes that version (its definition, revisionId, description);
        an alias's is refused (DescribeStateMachineAlias describes it)."""
        op = "DescribeStateMachine"
        self._request(op, request)
        name, qualifier = machine_reference(request["stateMachineArn"], op)
        if qualifier is None:
            return super().describe_state_machine(**request)
        if not qualifier.isdigit():
            message = "Invalid Arn: '%s': describe an alias with DescribeStateMachineAlias"
            raise client_error(op, "ValidationException", message % request["stateMachineArn"])
        version = self._version(request["stateMachineArn"], op)
        shown = {k: version[k] for k in SNAPSHOT + ("description",) if k in version}
        shown.update(
            stateMachineArn=version["stateMachineVersionArn"],
            name=name,
            status="ACTIVE",
            creationDate=when(version["creationDate"]),
        )
        return self._answer(op, shown)

    def publish_state_machine_version(self, **request: Any) -> Answer:
        """Idempotent as on AWS: the machine's current revision already published answers that
        version; a revisionId other than the current one is ConflictException."""
        op = "PublishStateMachineVersion"
        self._request(op, request)
        record = self._machine(request["stateMachineArn"], op)
        if request.get("revisionId") not in (None, record["revisionId"]):
            raise client_error(
                op, "ConflictException", "Failed to publish the State Machine version for "
                "revision %s. The current State Machine revision is %s."
                % (request["revisionId"], record["revisionId"]),
            )  # fmt: skip
        version = self._publish(record, request.get("description"))
        return self._answer(op, {"stateMachineVersionArn": version["stateMachineVersionArn"],
                                 "creationDate": when(version["creationDate"])})  # fmt: skip

    def list_state_machine_versions(self, **request: Any) -> Answer:
        """Newest first, as the API reference says."""
        op = "ListStateMachineVersions"
        self._request(op, request)
        record = self._machine(request["stateMachineArn"], op)
        items = [
            {"stateMachineVersionArn": v["stateMachineVersionArn"],
             "creationDate": when(v["creationDate"])}
            for v in reversed(self._versions(record["name"]))
        ]  # fmt: skip
        page, token = paged(items, request, op)
        return self._answer(op, dict({"stateMachineVersions": page}, **token))

    def delete_state_machine_version(self, **request: Any) -> Answer:
        """A version an alias routes to cannot be deleted (ConflictException); one that does
        not exist: nothing to do, as the API documents no error for it."""
        op = "DeleteStateMachineVersion"
        self._request(op, request)
        arn = request["stateMachineVersionArn"]
        name, qualifier = machine_reference(arn, op)
        if qualifier is None or not qualifier.isdigit():
            raise client_error(op, "ValidationException", "Invalid Arn: '%s' is not the ARN of "
                               "a state machine version" % arn)  # fmt: skip
        for alias in self._aliases(name):
            if any(r["stateMachineVersionArn"] == arn for r in alias["routingConfiguration"]):
                raise client_error(
                    op, "ConflictException", "Version to be deleted must not be referenced by "
                    "an alias. Current list of aliases referencing this version: [%s]"
                    % alias["stateMachineAliasArn"],
                )  # fmt: skip
        self._version_path(name, qualifier, op).unlink(missing_ok=True)
        return self._answer(op, {})

    def create_state_machine_alias(self, **request: Any) -> Answer:
        """Idempotent on name, routing and description; the same name otherwise is
        ConflictException."""
        op = "CreateStateMachineAlias"
        self._request(op, request)
        alias = checked_name(request["name"], "alias", op)
        if alias.isdigit():
            raise client_error(op, "InvalidName", "Invalid Name: '%s' (an alias name is not a "
                               "number: that would be a version)" % alias)  # fmt: skip
        machine = self._routing(request["routingConfiguration"], op)
        path = self._alias_path(machine, alias, op)
        if path.exists():
            record = json.loads(path.read_text())
            if record["routingConfiguration"] != request["routingConfiguration"] or record.get(
                "description"
            ) != request.get("description"):
                message = "Alias %s already exists with a different configuration"
                raise client_error(
                    op, "ConflictException", message % record["stateMachineAliasArn"]
                )
        else:
            now = time.time()
            record = {
                "stateMachineAliasArn": "%s:%s" % (machine_arn(machine), alias),
                "name": alias,
                "routingConfiguration": request["routingConfiguration"],
                "creationDate": now,
                "updateDate": now,
            }
            if "description" in request:
                record["description"] = request["description"]
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(str(path), json.dumps(record, indent=1))
        return self._answer(op, {"stateMachineAliasArn": record["stateMachineAliasArn"],
                                 "creationDate": when(record["creationDate"])})  # fmt: skip

    def describe_state_machine_alias(self, **request: Any) -> Answer:
        op = "DescribeStateMachineAlias"
        self._request(op, request)
        record = self._alias(request["stateMachineAliasArn"], op)
        shown = dict(record, creationDate=when(record["creationDate"]),
                     updateDate=when(record["updateDate"]))  # fmt: skip
        return self._answer(op, shown)

    def update_state_machine_alias(self, **request: Any) -> Answer:
        op = "UpdateStateMachineAlias"
        self._request(op, request)
        record = self._alias(request["stateMachineAliasArn"], op)
        if "routingConfiguration" not in request and "description" not in request:
            raise client_error(op, "ValidationException", "Either the description or the "
                               "RoutingConfiguration must be specified")  # fmt: skip
        name, alias = machine_reference(record["stateMachineAliasArn"], op)
        if "routingConfiguration" in request:
            if self._routing(request["routingConfiguration"], op) != name:
                raise client_error(op, "ValidationException", "The versions of an alias must "
                                   "be versions of its state machine %s" % name)  # fmt: skip
            record["routingConfiguration"] = request["routingConfiguration"]
        if "description" in request:
            record["description"] = request["description"]
        record["updateDate"] = time.time()
        write_text_atomic(str(self._alias_path(name, str(alias), op)), json.dumps(record, indent=1))
        return self._answer(op, {"updateDate": when(record["updateDate"])})

    def list_state_machine_aliases(self, **request: Any) -> Answer:
        op = "ListStateMachineAliases"
        self._request(op, request)
        record = self._machine(request["stateMachineArn"], op)
        items = [{"stateMachineAliasArn": a["stateMachineAliasArn"],
                  "creationDate": when(a["creationDate"])}
                 for a in self._aliases(record["name"])]  # fmt: skip
        page, token = paged(items, request, op)
        return self._answer(op, dict({"stateMachineAliases": page}, **token))

    def delete_state_machine_alias(self, **request: Any) -> Answer:
        op = "DeleteStateMachineAlias"
        self._request(op, request)
        self._alias(request["stateMachineAliasArn"], op)
        name, alias = machine_reference(request["stateMachineAliasArn"], op)
        self._alias_path(name, str(alias), op).unlink(missing_ok=True)
        return self._answer(op, {})

    def _target(self, arn: str, op: str) -> Target:
        """What StartExecution of `arn` runs: the machine's current definition, a version's,
        or the version an alias routes this execution to (by its weights)."""
        name, qualifier = machine_reference(arn, op)
        machine = self._machine(machine_arn(name), op)
        if qualifier is None:
            return Target(machine)
        if qualifier.isdigit():
            return Target(machine, self._version(arn, op))
        alias = self._alias(arn, op)
        routes = alias["routingConfiguration"]
        chosen = random.choices(routes, weights=[r["weight"] for r in routes])[0]
        return Target(machine, self._version(chosen["stateMachineVersionArn"], op), arn)

    def _publish(self, record: Dict[str, Any], description: Optional[str]) -> Dict[str, Any]:
        """The version of the machine's current revision: the one published already, or the
        next number's."""
        versions = self._versions(record["name"])
        if versions and versions[-1].get("revisionId") == record["revisionId"]:
            return versions[-1]
        number = record.get("_lastVersion", 0) + 1
        version = {k: record[k] for k in SNAPSHOT if k in record}
        version.update(
            stateMachineVersionArn="%s:%d" % (record["stateMachineArn"], number),
            creationDate=time.time(),
        )
        if description is not None:
            version["description"] = description
        path = self._version_path(record["name"], str(number), "PublishStateMachineVersion")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(str(path), json.dumps(version, indent=1))
        record["_lastVersion"] = number
        machine = self._machine_path(record["name"], "PublishStateMachineVersion")
        write_text_atomic(str(machine), json.dumps(record, indent=1))
        return version

    def _versions(self, machine: str) -> List[Dict[str, Any]]:
        """The machine's versions, oldest first."""
        folder = self.root / "versions" / machine
        paths = sorted(folder.glob("*.json"), key=lambda p: int(p.stem)) if folder.is_dir() else []
        return [json.loads(p.read_text()) for p in paths]

    def _version(self, arn: str, op: str) -> Dict[str, Any]:
        name, qualifier = machine_reference(arn, op)
        path = self._version_path(name, str(qualifier), op)
        if not path.exists():
            raise client_error(
                op, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'" % arn
            )
        return json.loads(path.read_text())

    def _aliases(self, machine: str) -> List[Dict[str, Any]]:
        folder = self.root / "aliases" / machine
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
        return [json.loads(p.read_text()) for p in paths]

    def _alias(self, arn: str, op: str) -> Dict[str, Any]:
        name, qualifier = machine_reference(arn, op)
        if qualifier is None or qualifier.isdigit():
            raise client_error(op, "InvalidArn", "Invalid Arn: '%s' is not the ARN of a state "
                               "machine alias" % arn)  # fmt: skip
        path = self._alias_path(name, qualifier, op)
        if not path.exists():
            raise client_error(
                op, "ResourceNotFound", "State Machine Alias Does Not Exist: '%s'" % arn
            )
        return json.loads(path.read_text())

    def _routing(self, routes: List[Dict[str, Any]], op: str) -> str:
        """The machine an alias's routing configuration routes to: one or two distinct versions
        of one machine that exist, their weights summing to 100."""
        if sum(r["weight"] for r in routes) != 100:
            raise client_error(op, "ValidationException", "The sum of the weights in the routing "
                               "configuration must be equal to 100")  # fmt: skip
        names = {machine_reference(r["stateMachineVersionArn"], op)[0] for r in routes}
        arns = [r["stateMachineVersionArn"] for r in routes]
        if len(names) != 1 or len(set(arns)) != len(arns):
            raise client_error(op, "ValidationException", "The routing configuration must name "
                               "distinct versions of one state machine")  # fmt: skip
        for arn in arns:
            machine, number = machine_reference(arn, op)
            if number is None or not number.isdigit():
                raise client_error(op, "InvalidArn", "Invalid Arn: '%s' is not the ARN of a "
                                   "state machine version" % arn)  # fmt: skip
            if not self._version_path(machine, number, op).exists():
                raise client_error(op, "ResourceNotFound", "State Machine Version Does Not "
                                   "Exist: '%s'" % arn)  # fmt: skip
        return names.pop()

    def _version_path(self, machine: str, number: str, op: str) -> Path:
        return (
            self.root
            / "versions"
            / checked_name(machine, "state machine", op)
            / ("%s.json" % checked_name(number, "version", op))
        )

    def _alias_path(self, machine: str, alias: str, op: str) -> Path:
        return (
            self.root
            / "aliases"
            / checked_name(machine, "state machine", op)
            / ("%s.json" % checked_name(alias, "alias", op))
        )
