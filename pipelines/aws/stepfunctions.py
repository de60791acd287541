"""Step Functions calls: create a state machine (or update it when it exists), start an
execution, follow one to its end, describe one with its history, list a home's or an account's
executions. Each takes a `stepfunctions` client, boto3's or the local twin's
(pipelines/local/stepfunctions/service.py): the same code runs both (docs/adr/0011). Logging to
CloudWatch Logs and X-Ray tracing are on when a log group is given, as the infrastructure
issue's stacks configure them."""

import json
import time
from typing import Any, Callable, Dict, List, Optional, Tuple


def machine_arn(region: str, account: str, name: str) -> str:
    return "arn:aws:states:%s:%s:stateMachine:%s" % (region, account, name)


def session_machine_arn(session: Any, name: str) -> str:
    """The ARN state machine `name` has in the session's account (STS) and region."""
    account = session.client("sts").get_caller_identity()["Account"]
    return machine_arn(session.region_name, account, name)


def ensure_state_machine(
    client: Any,
    name: str,
    definition: Dict[str, Any],
    role_arn: str,
    log_group_arn: Optional[str] = None,
    update: bool = True,
) -> Tuple[str, str]:
    """(ARN, "created" | "updated"): created, or updated when one of that name exists."""
    extra: Dict[str, Any] = {"tracingConfiguration": {"enabled": True}}
    if log_group_arn:
        extra["loggingConfiguration"] = {
            "level": "ERROR",
            "includeExecutionData": False,  # inputs carry data: kept out of the logs
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
        }
    body = json.dumps(definition)
    arn = find(client, name)
    if arn is None:
        created = client.create_state_machine(
            name=name, definition=body, roleArn=role_arn, type="STANDARD", **extra
        )
        return created["stateMachineArn"], "created"
    if not update:
        raise ValueError("state machine %s exists" % name)
    client.update_state_machine(stateMachineArn=arn, definition=body, roleArn=role_arn, **extra)
    return arn, "updated"


def find(client: Any, name: str) -> Optional[str]:
    """The ARN of the state machine named `name`, or None."""
    for page in client.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    return None


def start(client: Any, arn: str, document: Dict[str, Any], name: Optional[str] = None) -> str:
    request = {"stateMachineArn": arn, "input": json.dumps(document)}
    if name:
        request["name"] = name
    return client.start_execution(**request)["executionArn"]


def describe(client: Any, execution_arn: str) -> Dict[str, Any]:
    """DescribeExecution with the execution's history events."""
    described = client.describe_execution(executionArn=execution_arn)
    described.pop("ResponseMetadata", None)
    events = []
    for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    described["events"] = events
    return described


def follow(
    client: Any,
    execution_arn: str,
    on_event: Optional[Callable[[Dict[str, Any]], None]] = None,
    poll_seconds: float = 2.0,
    timeout_seconds: Optional[float] = None,
) -> Dict[str, Any]:
    """Wait for an execution to end, handing each new history event to `on_event` as it
    appears; returns its DescribeExecution. TimeoutError after `timeout_seconds`, if given."""
    seen = 0
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        described = client.describe_execution(executionArn=execution_arn)
        if on_event is not None:
            events = []
            pages = client.get_paginator("get_execution_history")
            for page in pages.paginate(executionArn=execution_arn):
                events.extend(page["events"])
            for event in events[seen:]:
                on_event(event)
            seen = len(events)
        if described["status"] != "RUNNING":
            described.pop("ResponseMetadata", None)
            return described
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("execution %s still RUNNING" % execution_arn)
        time.sleep(poll_seconds)


def executions(client: Any) -> List[Dict[str, Any]]:
    """Every execution of every state machine the client sees, newest first."""
    found = []
    for page in client.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            pages = client.get_paginator("list_executions")
            for listed in pages.paginate(stateMachineArn=machine["stateMachineArn"]):
                found.extend(listed["executions"])
    return sorted(found, key=lambda e: e["startDate"], reverse=True)
