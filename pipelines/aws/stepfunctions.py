"""Step Functions calls: create a state machine (or update it when it exists), start an
execution, describe one with its history. Logging to CloudWatch Logs and X-Ray tracing are on
when a log group is given, as the infrastructure issue's stacks configure them."""

import json


def machine_arn(region, account, name):
    return "arn:aws:states:%s:%s:stateMachine:%s" % (region, account, name)


def ensure_state_machine(client, name, definition, role_arn, log_group_arn=None, update=True):
    """(ARN, "created" | "updated"): created, or updated when one of that name exists."""
    extra = {"tracingConfiguration": {"enabled": True}}
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


def find(client, name):
    """The ARN of the state machine named `name`, or None."""
    for page in client.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    return None


def start(client, arn, document, name=None):
    request = {"stateMachineArn": arn, "input": json.dumps(document)}
    if name:
        request["name"] = name
    return client.start_execution(**request)["executionArn"]


def describe(client, execution_arn):
    """DescribeExecution with the execution's history events."""
    described = client.describe_execution(executionArn=execution_arn)
    described.pop("ResponseMetadata", None)
    events = []
    for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    described["events"] = events
    return described
