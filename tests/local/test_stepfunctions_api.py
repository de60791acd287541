"""The Step Functions twin is boto3's `stepfunctions` client (docs/adr/0011): its calls, answers
and error codes are the API's, from the API reference
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_Operations.html) and
botocore's model; every answer is checked against its output shape while the suite runs
(CHURN_CHECK_ANSWERS, tests/conftest.py). And one scenario through pipelines/aws/stepfunctions.py
runs against a moto server and against the twin with the same observable result."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from pipelines.aws.stepfunctions import describe, ensure_state_machine, find, follow, start
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import Clock
from pipelines.local.stepfunctions.service import StepFunctions

from conftest import aws_client

ROLE = "arn:aws:iam::123456789012:role/churn-states"
PASS = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": {"hi": 1}, "End": True}}}
WAIT = {
    "StartAt": "Wait",
    "States": {"Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"}, "Done": {"Type": "Succeed"}},
}


@pytest.fixture
def sfn(tmp_path):
    return StepFunctions(tmp_path / "home", Integrations(), Clock())


def code_of(call):
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


def create(sfn, name, document=PASS, **extra):
    return sfn.create_state_machine(
        name=name, definition=json.dumps(document), roleArn=ROLE, **extra
    )["stateMachineArn"]


@pytest.mark.fast
def test_create_is_idempotent_and_a_different_definition_already_exists(sfn):
    """CreateStateMachine: "an idempotent API ... based on the state machine name, definition,
    type, LoggingConfiguration and TracingConfiguration"; a different definition is
    StateMachineAlreadyExists (API_CreateStateMachine.html)."""
    arn = create(sfn, "m1")
    assert create(sfn, "m1") == arn
    assert code_of(lambda: create(sfn, "m1", WAIT)) == "StateMachineAlreadyExists"
    assert code_of(lambda: create(sfn, "m 1")) == "InvalidName"
    bad = {"StartAt": "Nowhere", "States": {"A": {"Type": "Succeed"}}}
    assert code_of(lambda: create(sfn, "m2", bad)) == "InvalidDefinition"
    assert code_of(lambda: sfn.create_state_machine(
        name="m3", definition="{not json", roleArn=ROLE)) == "InvalidDefinition"  # fmt: skip
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == json.dumps(PASS)


@pytest.mark.fast
def test_describe_update_and_their_errors(sfn):
    """DescribeStateMachine: StateMachineDoesNotExist, InvalidArn (API_DescribeStateMachine.html);
    UpdateStateMachine with nothing to update: MissingRequiredParameter
    (API_UpdateStateMachine.html)."""
    arn = create(sfn, "m1")
    missing = arn.replace(":m1", ":m9")
    assert code_of(lambda: sfn.describe_state_machine(stateMachineArn=missing)) == (
        "StateMachineDoesNotExist"
    )
    assert code_of(lambda: sfn.describe_state_machine(stateMachineArn="m1")) == "InvalidArn"
    assert code_of(lambda: sfn.update_state_machine(stateMachineArn=arn)) == (
        "MissingRequiredParameter"
    )
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(WAIT))
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == WAIT
    with pytest.raises(Exception, match="Invalid type for parameter"):  # boto3's own check
        sfn.describe_state_machine(stateMachineArn=7)


@pytest.mark.fast
def test_start_answers_at_once_and_the_execution_runs_on(sfn):
    """StartExecution starts an execution and answers its ARN and start date
    (API_StartExecution.html): it does not wait for the end."""
    arn = create(sfn, "waits", WAIT)
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=arn, name="e1", input="{}")["executionArn"]
    assert time.monotonic() - started < 0.5
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    done = follow(sfn, execution, poll_seconds=0.05)
    assert done["status"] == "SUCCEEDED" and time.monotonic() - started >= 1


@pytest.mark.fast
def test_execution_errors(sfn):
    """ExecutionAlreadyExists for a closed execution of that name; the same name and input of
    a running one answers that one; InvalidExecutionInput; ExecutionDoesNotExist
    (API_StartExecution.html, API_DescribeExecution.html)."""
    arn = create(sfn, "waits", WAIT)
    first = sfn.start_execution(stateMachineArn=arn, name="e1", input='{"a": 1}')
    again = sfn.start_execution(stateMachineArn=arn, name="e1", input='{"a": 1}')
    assert again["executionArn"] == first["executionArn"]
    other = lambda: sfn.start_execution(stateMachineArn=arn, name="e1", input='{"a": 2}')
    assert code_of(other) == "ExecutionAlreadyExists"
    follow(sfn, first["executionArn"], poll_seconds=0.05)
    same = lambda: sfn.start_execution(stateMachineArn=arn, name="e1", input='{"a": 1}')
    assert code_of(same) == "ExecutionAlreadyExists"
    bad_input = lambda: sfn.start_execution(stateMachineArn=arn, input="{oops")
    assert code_of(bad_input) == "InvalidExecutionInput"
    gone = first["executionArn"].replace(":e1", ":e9")
    assert code_of(lambda: sfn.describe_execution(executionArn=gone)) == "ExecutionDoesNotExist"


@pytest.mark.fast
def test_lists_page_as_the_api_pages(sfn):
    """maxResults and nextToken (API_ListStateMachines.html, API_ListExecutions.html), and
    boto3's paginators over them."""
    arns = [create(sfn, "m%d" % i) for i in range(3)]
    first = sfn.list_state_machines(maxResults=2)
    assert [m["name"] for m in first["stateMachines"]] == ["m0", "m1"] and first["nextToken"]
    rest = sfn.list_state_machines(maxResults=2, nextToken=first["nextToken"])
    assert [m["name"] for m in rest["stateMachines"]] == ["m2"] and "nextToken" not in rest
    pages = list(sfn.get_paginator("list_state_machines").paginate(maxResults=1))
    assert [p["stateMachines"][0]["stateMachineArn"] for p in pages] == arns
    assert code_of(lambda: sfn.list_state_machines(nextToken="junk")) == "InvalidToken"
    for i in range(3):
        follow(sfn, start(sfn, arns[0], {"i": i}), poll_seconds=0.02)
    listed = sfn.list_executions(stateMachineArn=arns[0], statusFilter="SUCCEEDED")
    assert len(listed["executions"]) == 3
    assert sfn.list_executions(stateMachineArn=arns[0], statusFilter="FAILED")["executions"] == []


def scenario(client):
    """Create, update, find, start, follow and describe through pipelines/aws/stepfunctions.py:
    what a caller sees, without the service's own identifiers."""
    arn, created = ensure_state_machine(client, "scenario", PASS, ROLE)
    again, updated = ensure_state_machine(client, "scenario", PASS, ROLE)
    execution = start(client, find(client, "scenario"), {"x": 1}, name="run-1")
    follow(client, execution, poll_seconds=0.2, timeout_seconds=60)
    described = describe(client, execution)
    machine = client.describe_state_machine(stateMachineArn=arn)
    return {
        "created": created,
        "updated": updated,
        "same arn": again == arn,
        "arn shape": arn.split(":")[:3] + arn.split(":")[5:],
        "definition": json.loads(machine["definition"]),
        "execution": execution.split(":")[5:],
        "status": described["status"],
        "input": json.loads(described["input"]),
        "output": json.loads(described["output"]),
        "first event": described["events"][0]["type"],
        "last event": described["events"][-1]["type"],
        "missing": code_of(lambda: client.describe_execution(executionArn=execution + "x")),
    }


def test_one_scenario_through_the_same_code_against_moto_and_the_twin(aws_env, moto_executes, sfn):
    """moto's Step Functions runs Pass states when told to (its executor) and answers the same;
    the ARNs' region and account differ, so the comparison leaves them out."""
    on_moto = scenario(aws_client("stepfunctions", aws_env))
    assert scenario(sfn) == on_moto
    assert on_moto["status"] == "SUCCEEDED" and on_moto["output"] == {"hi": 1}


def test_an_execution_whose_process_was_killed_reads_as_failed(tmp_path):
    """A local execution runs in the process that started it: killed with it, it would read
    RUNNING for good. DescribeExecution and ListExecutions find its process gone: FAILED."""
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    home = tmp_path / "home"
    sfn = StepFunctions(home, Integrations(), Clock())
    long_wait = dict(WAIT, States=dict(WAIT["States"], Wait={"Type": "Wait", "Seconds": 600,
                                                              "Next": "Done"}))  # fmt: skip
    arn = create(sfn, "waits", long_wait)
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys\n"
         "from pipelines.local.stepfunctions.integrations import Integrations\n"
         "from pipelines.local.stepfunctions.service import StepFunctions\n"
         "s = StepFunctions(sys.argv[1], Integrations())\n"
         "print(s.start_execution(stateMachineArn=sys.argv[2], name='e1')['executionArn'],"
         " flush=True)", str(home), arn],
        cwd=str(ROOT), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    execution = child.stdout.readline().strip()
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    child.send_signal(signal.SIGKILL)
    child.wait()
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "FAILED" and "killed" in described["cause"]
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["status"] for e in listed] == ["FAILED"]
