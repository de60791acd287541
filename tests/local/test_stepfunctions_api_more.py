"""The Step Functions twin's StopExecution, EXPRESS machines and StartSyncExecution,
RedriveExecution, ValidateStateMachineDefinition, versions and aliases, and nested executions,
each from the API reference (https://docs.aws.amazon.com/step-functions/latest/apireference/)
and the developer guide (https://docs.aws.amazon.com/step-functions/latest/dg/); every answer
is checked against its output shape while the suite runs (CHURN_CHECK_ANSWERS). Where moto has
the calls (versions and aliases), one scenario runs against a moto server and the twin."""

import json
import threading
import time

import pytest
from test_stepfunctions_api import PASS, ROLE, WAIT, code_of, create

from pipelines.aws.stepfunctions import follow
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import Clock
from pipelines.local.stepfunctions.service import StepFunctions

from conftest import aws_client

LONG_WAIT = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Seconds": 600, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
FAILS = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "E", "Cause": "c"}}}


class Flaky:
    """A Task integration that fails while `failing` is set and counts its calls."""

    def __init__(self) -> None:
        self.failing = True
        self.calls: list = []

    def __call__(self, parameters, call):
        self.calls.append((parameters, call.context["Execution"]["RedriveCount"]))
        if self.failing:
            raise StatesError("Flaky.Error", "still failing")
        return {"done": parameters}


@pytest.fixture
def flaky():
    return Flaky()


@pytest.fixture
def sfn(tmp_path, flaky):
    integrations = Integrations({"test:flaky": flaky, "test:counted": lambda p, c: {"counted": p}})
    return StepFunctions(tmp_path / "home", integrations, Clock())


def events_of(sfn, execution):
    return [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]


def started(sfn, machine, **extra):
    return sfn.start_execution(stateMachineArn=machine, **extra)["executionArn"]


def until(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


# -- StopExecution ---------------------------------------------------------------------------


@pytest.mark.fast
def test_stop_aborts_a_running_execution_with_its_error_and_cause(sfn):
    """StopExecution "Stops an execution", error and cause optional, answering stopDate
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html); the
    execution is ABORTED (ExecutionStatus) and its history ends with ExecutionAborted, whose
    details are the error and cause (API_ExecutionAbortedEventDetails.html)."""
    execution = started(sfn, create(sfn, "waits", LONG_WAIT))
    until(lambda: "WaitStateEntered" in events_of(sfn, execution))
    answer = sfn.stop_execution(executionArn=execution, error="Stopped.ByUser", cause="enough")
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "ABORTED" and described["stopDate"] == answer["stopDate"]
    assert (described["error"], described["cause"]) == ("Stopped.ByUser", "enough")
    sfn.wait()  # the run's thread ends at once: the Wait was cancelled
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert history[-1]["type"] == "ExecutionAborted"
    assert history[-1]["executionAbortedEventDetails"] == {"error": "Stopped.ByUser",
                                                           "cause": "enough"}  # fmt: skip
    assert sfn.list_executions(stateMachineArn=described["stateMachineArn"],
                               statusFilter="ABORTED")["executions"][0]["executionArn"] == execution  # fmt: skip


@pytest.mark.fast
def test_stop_without_error_and_an_execution_that_ended_and_the_errors(sfn):
    """error and cause are optional (API_StopExecution.html); an execution that already ended
    is left as it is (the API reference names no error for it); ExecutionDoesNotExist,
    InvalidArn."""
    machine = create(sfn, "waits", LONG_WAIT)
    execution = started(sfn, machine)
    sfn.stop_execution(executionArn=execution)
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "ABORTED" and "error" not in described
    done = started(sfn, create(sfn, "passes"))
    ended = follow(sfn, done, poll_seconds=0.02)
    again = sfn.stop_execution(executionArn=done, error="late")
    assert again["stopDate"] == sfn.describe_execution(executionArn=done)["stopDate"]
    assert ended["status"] == sfn.describe_execution(executionArn=done)["status"] == "SUCCEEDED"
    missing = execution.replace(execution.split(":")[-1], "nope")
    assert code_of(lambda: sfn.stop_execution(executionArn=missing)) == "ExecutionDoesNotExist"
    assert code_of(lambda: sfn.stop_execution(executionArn="nope")) == "InvalidArn"


def test_stop_reaches_an_execution_another_process_runs(tmp_path):
    """A local execution runs in the process that started it; StopExecution from another
    process (another `churn` command) aborts it there, as on AWS any caller can."""
    import subprocess
    import sys

    from conftest import ROOT

    home = tmp_path / "home"
    sfn = StepFunctions(home, Integrations(), Clock())
    machine = create(sfn, "waits", LONG_WAIT)
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys\n"
         "from pipelines.local.stepfunctions.integrations import Integrations\n"
         "from pipelines.local.stepfunctions.service import StepFunctions\n"
         "s = StepFunctions(sys.argv[1], Integrations())\n"
         "print(s.start_execution(stateMachineArn=sys.argv[2])['executionArn'], flush=True)\n"
         "s.wait()", str(home), machine],
        cwd=str(ROOT), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    execution = child.stdout.readline().strip()
    until(lambda: "WaitStateEntered" in events_of(sfn, execution), 20)
    sfn.stop_execution(executionArn=execution, cause="from elsewhere")
    assert child.wait(timeout=20) == 0  # its run ended, so its process could exit
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "ABORTED" and described["cause"] == "from elsewhere"


# -- EXPRESS and StartSyncExecution ----------------------------------------------------------


@pytest.mark.fast
def test_start_sync_execution_of_an_express_machine(sfn):
    """StartSyncExecution "Starts a Synchronous Express state machine execution" and answers
    its status (SUCCEEDED, FAILED, TIMED_OUT), output or error and cause, and billingDetails;
    "StartSyncExecution is not available for STANDARD workflows": StateMachineTypeNotSupported
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartSyncExecution.html)."""
    express = create(sfn, "quick", PASS, type="EXPRESS")
    answer = sfn.start_sync_execution(stateMachineArn=express, input='{"a": 1}', name="s1")
    assert answer["status"] == "SUCCEEDED" and json.loads(answer["output"]) == {"hi": 1}
    assert answer["input"] == '{"a": 1}' and answer["name"] == "s1"
    assert answer["executionArn"].split(":")[5:7] == ["express", "quick"]
    assert answer["billingDetails"]["billedDurationInMilliseconds"] >= 100
    assert answer["billingDetails"]["billedMemoryUsedInMB"] == 64
    failing = create(sfn, "fails", FAILS, type="EXPRESS")
    failed = sfn.start_sync_execution(stateMachineArn=failing)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "E", "c")
    assert "output" not in failed
    standard = create(sfn, "standard")
    assert code_of(lambda: sfn.start_sync_execution(stateMachineArn=standard)) == (
        "StateMachineTypeNotSupported"
    )
    assert sfn.list_state_machines()["stateMachines"][1]["type"] == "EXPRESS"


@pytest.mark.fast
def test_express_executions_are_not_described(sfn):
    """DescribeExecution, GetExecutionHistory, StopExecution and RedriveExecution: "This API
    action is not supported by EXPRESS state machines" (API_DescribeExecution.html, ...); an
    express execution's ARN (arn:...:express:...) is not an execution's: InvalidArn.
    ListExecutions of an EXPRESS machine: StateMachineTypeNotSupported
    (API_ListExecutions.html: "This API action is not supported by EXPRESS state machines")."""
    express = create(sfn, "quick", PASS, type="EXPRESS")
    execution = started(sfn, express, name="e1")
    assert execution.split(":")[5] == "express"
    sfn.wait()
    for call in (sfn.describe_execution, sfn.get_execution_history, sfn.stop_execution,
                 sfn.redrive_execution):  # fmt: skip
        assert code_of(lambda call=call: call(executionArn=execution)) == "InvalidArn"
    assert code_of(lambda: sfn.list_executions(stateMachineArn=express)) == (
        "StateMachineTypeNotSupported"
    )


@pytest.mark.fast
def test_an_express_machine_refuses_sync_and_callback_tasks(sfn):
    """ "Express Workflows do not support Job-run (.sync) or Callback (.waitForTaskToken)
    service integration patterns"
    (https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html)."""
    nested = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": "x"}, "End": True}}}  # fmt: skip
    assert code_of(lambda: create(sfn, "nests", nested, type="EXPRESS")) == "InvalidDefinition"
    assert create(sfn, "nests", nested).endswith(":nests")  # STANDARD runs it


# -- RedriveExecution ------------------------------------------------------------------------

REDRIVEN = {
    "StartAt": "First",
    "States": {
        "First": {
            "Type": "Task",
            "Resource": "arn:aws:states:::test:counted",
            "ResultPath": "$.first",
            "Next": "Second",
        },
        "Second": {"Type": "Task", "Resource": "arn:aws:states:::test:flaky", "End": True},
    },
}


@pytest.mark.fast
def test_redrive_restarts_at_the_failed_state_with_its_input(sfn, flaky):
    """RedriveExecution "continues the failed execution from the unsuccessful step and uses
    the same input. Step Functions preserves the results and execution history of the
    successful steps, and doesn't rerun these steps" with "the same ... execution ARN"
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html);
    DescribeExecution's redriveCount, redriveDate, redriveStatus (API_DescribeExecution.html);
    the ExecutionRedriven event (API_ExecutionRedrivenEventDetails.html) and the context
    object's $$.Execution.RedriveCount
    (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html)."""
    machine = create(sfn, "redriven", REDRIVEN)
    execution = started(sfn, machine, input='{"x": 1}')
    failed = follow(sfn, execution, poll_seconds=0.02)
    assert failed["status"] == "FAILED" and failed["redriveCount"] == 0
    assert failed["redriveStatus"] == "REDRIVABLE"
    first_input = flaky.calls[0][0]
    flaky.failing = False
    answer = sfn.redrive_execution(executionArn=execution)
    done = follow(sfn, execution, poll_seconds=0.02)
    assert done["status"] == "SUCCEEDED" and done["redriveCount"] == 1
    assert done["redriveDate"] == answer["redriveDate"]
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven."
    assert json.loads(done["output"]) == {"done": first_input}
    assert flaky.calls[1] == (first_input, 1)  # the same input; RedriveCount 1
    history = events_of(sfn, execution)
    assert history.count("TaskStateEntered") == 3  # First once, Second twice: First not rerun
    assert history.index("ExecutionFailed") < history.index("ExecutionRedriven")
    assert history[-1] == "ExecutionSucceeded"
    listed = sfn.list_executions(stateMachineArn=machine, redriveFilter="REDRIVEN")["executions"]
    assert [e["redriveCount"] for e in listed] == [1]
    assert (
        sfn.list_executions(stateMachineArn=machine, redriveFilter="NOT_REDRIVEN")["executions"]
        == []
    )


@pytest.mark.fast
def test_only_unsuccessful_executions_are_redriven(sfn):
    """ "You can redrive executions if your original execution ... status isn't SUCCEEDED" and
    it is not RUNNING (redriveStatusReason "Execution is RUNNING and cannot be redriven.",
    API_DescribeExecution.html): ExecutionNotRedrivable (API_RedriveExecution.html); an
    ABORTED execution is redriven (redrive-executions.html)."""
    done = started(sfn, create(sfn, "passes"))
    follow(sfn, done, poll_seconds=0.02)
    assert code_of(lambda: sfn.redrive_execution(executionArn=done)) == "ExecutionNotRedrivable"
    waiting = started(sfn, create(sfn, "waits", WAIT))
    described = sfn.describe_execution(executionArn=waiting)
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Execution is RUNNING and cannot be redriven."
    assert code_of(lambda: sfn.redrive_execution(executionArn=waiting)) == (
        "ExecutionNotRedrivable"
    )
    sfn.stop_execution(executionArn=waiting)
    assert sfn.describe_execution(executionArn=waiting)["redriveStatus"] == "REDRIVABLE"
    sfn.wait()
    sfn.redrive_execution(executionArn=waiting)  # the Wait state runs again, then Done
    finished = follow(sfn, waiting, poll_seconds=0.05)
    assert finished["status"] == "SUCCEEDED" and finished["redriveCount"] == 1
    assert "ExecutionAborted" in events_of(sfn, waiting)


def tallied(tmp_path, flaky):
    """A service whose test:tally integration counts its calls by input."""
    calls: list = []

    def tally(parameters, call):
        calls.append(parameters)
        return {"tallied": parameters}

    integrations = Integrations({"test:flaky": flaky, "test:tally": tally})
    return StepFunctions(tmp_path / "tallied", integrations, Clock()), calls


def task(resource, **fields):
    return dict({"Type": "Task", "Resource": "arn:aws:states:::test:" + resource}, **fields)


@pytest.mark.fast
def test_a_redriven_parallel_reruns_only_the_branches_that_failed(tmp_path, flaky):
    """API_RedriveExecution.html: "For workflows that include an Inline Map or Parallel state,
    RedriveExecution API action reschedules and redrives only the iterations and branches that
    failed or aborted"; the Parallel's output keeps its branches' order."""
    sfn, calls = tallied(tmp_path, flaky)
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Tally", "States": {"Tally": task("tally", End=True)}},
                    {"StartAt": "Flaky", "States": {"Flaky": task("flaky", End=True)}},
                ],
                "End": True,
            }
        },
    }
    execution = started(sfn, create(sfn, "both", definition), input='{"x": 1}')
    assert follow(sfn, execution, poll_seconds=0.02)["status"] == "FAILED"
    assert calls == [{"x": 1}]
    flaky.failing = False
    sfn.redrive_execution(executionArn=execution)
    done = follow(sfn, execution, poll_seconds=0.02)
    assert done["status"] == "SUCCEEDED"
    assert calls == [{"x": 1}]  # the branch that succeeded did not run again
    assert json.loads(done["output"]) == [{"tallied": {"x": 1}}, {"done": {"x": 1}}]
    history = events_of(sfn, execution)
    redriven = history[history.index("ExecutionRedriven") :]
    assert redriven.count("TaskStateEntered") == 1  # only the failed branch's task


@pytest.mark.fast
def test_a_redriven_inline_map_reruns_the_failed_and_aborted_iterations(tmp_path, flaky):
    """The same for an inline Map: the iteration that failed and the one never started (the
    failure stopped the Map) run again, the one that succeeded does not."""
    sfn, calls = tallied(tmp_path, flaky)
    processor = {
        "StartAt": "Which",
        "States": {
            "Which": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Flaky"}],
                "Default": "Tally",
            },
            "Flaky": task("flaky", End=True),
            "Tally": task("tally", End=True),
        },
    }
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": processor, "End": True}
        },
    }
    execution = started(sfn, create(sfn, "each", definition), input="[1, 2, 3]")
    assert follow(sfn, execution, poll_seconds=0.02)["status"] == "FAILED"
    assert calls == [1]
    flaky.failing = False
    sfn.redrive_execution(executionArn=execution)
    done = follow(sfn, execution, poll_seconds=0.02)
    assert done["status"] == "SUCCEEDED"
    assert calls == [1, 3]  # item 1 did not run again; 2 (failed) and 3 (never run) did
    assert json.loads(done["output"]) == [{"tallied": 1}, {"done": 2}, {"tallied": 3}]
    events = sfn.get_execution_history(executionArn=execution)["events"]
    at = [e["type"] for e in events].index("ExecutionRedriven")
    rerun = [e["mapIterationStartedEventDetails"]["index"] for e in events[at:]
             if e["type"] == "MapIterationStarted"]  # fmt: skip
    assert rerun == [1, 2]


# -- ValidateStateMachineDefinition ----------------------------------------------------------


@pytest.mark.fast
def test_validate_answers_ok_or_fail_with_diagnostics(sfn):
    """ValidateStateMachineDefinition: result OK or FAIL and diagnostics {severity, code,
    message, location}, codes INVALID_JSON_DESCRIPTION, SCHEMA_VALIDATION_FAILED,
    MISSING_TRANSITION_TARGET, MISSING_END_STATE, DUPLICATE_STATE_NAME; a location such as
    /States/FailState/ErrorPath
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinition.html,
    API_ValidateStateMachineDefinitionDiagnostic.html)."""

    def check(text, **extra):
        return sfn.validate_state_machine_definition(definition=text, **extra)

    assert check(json.dumps(PASS)) == {"result": "OK", "diagnostics": []}
    bad_json = check("{nope")
    assert bad_json["result"] == "FAIL"
    assert bad_json["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"
    nowhere = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}
    found = check(json.dumps(nowhere))["diagnostics"]
    assert {"code": "MISSING_TRANSITION_TARGET", "location": "/States/A/Next"}.items() <= (
        found[0].items()
    )
    assert found[0]["severity"] == "ERROR"
    endless = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}
    assert [d["code"] for d in check(json.dumps(endless))["diagnostics"]] == ["MISSING_END_STATE"]
    twice = '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}'
    assert check(twice)["diagnostics"][0]["code"] == "DUPLICATE_STATE_NAME"
    nested = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$$$", "End": True}}}]}}}  # fmt: skip
    schema = check(json.dumps(nested))["diagnostics"][0]
    assert schema["code"] == "SCHEMA_VALIDATION_FAILED"
    assert schema["location"] == "/States/P/Branches/0/States/B/InputPath"
    many = check(json.dumps(endless), maxResults=0)
    assert many["result"] == "FAIL" and "truncated" not in many


@pytest.mark.fast
def test_validate_does_not_fail_what_only_cannot_run_locally(sfn):
    """ "The result value will be OK when your workflow definition can be successfully created
    or updated" (API_ValidateStateMachineDefinition.html): a Task naming a service the twin has
    no integration for is valid on AWS, so the result is OK; the twin says it cannot run it
    locally as a WARNING (shown with severity WARNING, "ERROR returns only ERROR
    diagnostics")."""
    lambda_task = {"StartAt": "L", "States": {"L": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}}}  # fmt: skip
    quiet = sfn.validate_state_machine_definition(definition=json.dumps(lambda_task))
    assert quiet == {"result": "OK", "diagnostics": []}
    loud = sfn.validate_state_machine_definition(
        definition=json.dumps(lambda_task), severity="WARNING"
    )
    assert loud["result"] == "OK"
    assert [(d["severity"], d["location"]) for d in loud["diagnostics"]] == [
        ("WARNING", "/States/L/Resource")
    ]
    assert code_of(lambda: create(sfn, "l", lambda_task)) == "InvalidDefinition"  # locally


# -- versions and aliases --------------------------------------------------------------------


@pytest.mark.fast
def test_versions_are_snapshots_that_executions_can_start(sfn):
    """PublishStateMachineVersion creates "immutable snapshots" of the current revision and
    is idempotent for it; revisionId other than the current is ConflictException
    (API_PublishStateMachineVersion.html); CreateStateMachine and UpdateStateMachine with
    publish answer stateMachineVersionArn (API_CreateStateMachine.html,
    API_UpdateStateMachine.html); "You can start executions from versions" and
    DescribeExecution names stateMachineVersionArn (API_DescribeExecution.html);
    ListStateMachineVersions, newest first (API_ListStateMachineVersions.html)."""
    created = sfn.create_state_machine(name="v", definition=json.dumps(PASS), roleArn=ROLE,
                                       publish=True, versionDescription="first")  # fmt: skip
    machine, one = created["stateMachineArn"], created["stateMachineVersionArn"]
    assert one == machine + ":1"
    again = sfn.publish_state_machine_version(stateMachineArn=machine)
    assert again["stateMachineVersionArn"] == one  # the same revision: the same version
    other = dict(PASS, States={"Hello": dict(PASS["States"]["Hello"], Result={"hi": 2})})
    updated = sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(other),
                                       publish=True)  # fmt: skip
    two = updated["stateMachineVersionArn"]
    assert two == machine + ":2" and updated["revisionId"]
    assert code_of(lambda: sfn.publish_state_machine_version(
        stateMachineArn=machine, revisionId="stale")) == "ConflictException"  # fmt: skip
    listed = sfn.list_state_machine_versions(stateMachineArn=machine)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [two, one]
    described = sfn.describe_state_machine(stateMachineArn=one)
    assert described["description"] == "first" and json.loads(described["definition"]) == PASS
    run = follow(sfn, started(sfn, one), poll_seconds=0.02)
    assert json.loads(run["output"]) == {"hi": 1}  # version 1's definition, not the machine's
    assert run["stateMachineVersionArn"] == one and run["stateMachineArn"] == machine
    assert code_of(lambda: sfn.create_state_machine(name="w", definition=json.dumps(PASS),
                   roleArn=ROLE, versionDescription="no publish")) == "ValidationException"  # fmt: skip
    sfn.delete_state_machine_version(stateMachineVersionArn=two)
    assert code_of(lambda: started(sfn, two)) == "StateMachineDoesNotExist"


@pytest.mark.fast
def test_aliases_route_executions_to_versions(sfn):
    """CreateStateMachineAlias with a routingConfiguration of one or two versions whose
    weights sum to 100 (API_CreateStateMachineAlias.html, API_RoutingConfigurationListItem.html);
    Describe, Update, List and DeleteStateMachineAlias, a missing alias ResourceNotFound
    (API_DescribeStateMachineAlias.html); "You can't delete a state machine version currently
    referenced by one or more aliases" (API_DeleteStateMachineVersion.html: ConflictException);
    an execution of the alias's ARN runs the version and names the alias
    (API_DescribeExecution.html stateMachineAliasArn)."""
    machine = create(sfn, "aliased", PASS, publish=True)
    one = machine + ":1"
    alias = sfn.create_state_machine_alias(
        name="prod", routingConfiguration=[{"stateMachineVersionArn": one, "weight": 100}]
    )["stateMachineAliasArn"]
    assert alias == machine + ":prod"
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["name"] == "prod"
    listed = sfn.list_state_machine_aliases(stateMachineArn=machine)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [alias]
    run = follow(sfn, started(sfn, alias), poll_seconds=0.02)
    assert run["stateMachineAliasArn"] == alias and run["stateMachineVersionArn"] == one
    for weights in ([60, 30], [50]):
        routes = [{"stateMachineVersionArn": one, "weight": w} for w in weights]
        assert code_of(lambda routes=routes: sfn.update_state_machine_alias(
            stateMachineAliasArn=alias, routingConfiguration=routes)) == "ValidationException"  # fmt: skip
    assert code_of(lambda: sfn.delete_state_machine_version(stateMachineVersionArn=one)) == (
        "ConflictException"
    )
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, description="live")
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["description"] == "live"
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    assert code_of(lambda: sfn.describe_state_machine_alias(stateMachineAliasArn=alias)) == (
        "ResourceNotFound"
    )
    sfn.delete_state_machine(stateMachineArn=machine)
    assert code_of(lambda: sfn.describe_state_machine(stateMachineArn=machine)) == (
        "StateMachineDoesNotExist"
    )


def versions_scenario(client):
    """Publish, alias, describe, list, delete: what a caller sees, without the ARNs' region
    and account."""
    tail = lambda arn: arn.split(":")[5:]  # noqa: E731
    created = client.create_state_machine(name="versions", definition=json.dumps(PASS),
                                          roleArn=ROLE, publish=True)  # fmt: skip
    machine, one = created["stateMachineArn"], created["stateMachineVersionArn"]
    updated = client.update_state_machine(stateMachineArn=machine, definition=json.dumps(WAIT),
                                          publish=True, versionDescription="waits")  # fmt: skip
    two = updated["stateMachineVersionArn"]
    alias = client.create_state_machine_alias(
        name="live", description="canary",
        routingConfiguration=[{"stateMachineVersionArn": one, "weight": 90},
                              {"stateMachineVersionArn": two, "weight": 10}],
    )["stateMachineAliasArn"]  # fmt: skip
    described = client.describe_state_machine_alias(stateMachineAliasArn=alias)
    bad = [{"stateMachineVersionArn": one, "weight": 50}]
    refused = code_of(lambda: client.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=bad))  # fmt: skip
    listed = client.list_state_machine_aliases(stateMachineArn=machine)["stateMachineAliases"]
    client.delete_state_machine_alias(stateMachineAliasArn=alias)
    after = client.list_state_machine_aliases(stateMachineArn=machine)["stateMachineAliases"]
    return {
        "versions": [tail(one), tail(two)],
        "alias": tail(alias),
        "name": described["name"],
        "description": described["description"],
        "routes": [
            (tail(r["stateMachineVersionArn"]), r["weight"])
            for r in described["routingConfiguration"]
        ],  # fmt: skip
        "refused": refused,
        "listed": [tail(a["stateMachineAliasArn"]) for a in listed],
        "after delete": after,
    }


def test_versions_and_aliases_against_moto_and_the_twin(aws_env, sfn):
    """moto has versions and aliases (CreateStateMachine publish, UpdateStateMachine publish,
    the alias calls): the same calls answer the same, but for the ARNs' region and account."""
    on_moto = versions_scenario(aws_client("stepfunctions", aws_env))
    assert versions_scenario(sfn) == on_moto
    assert on_moto["refused"] == "ValidationException"


# -- nested executions -----------------------------------------------------------------------


def parent(child_arn, resource):
    return {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": resource, "End": True,
        "Parameters": {"StateMachineArn": child_arn, "Input": {"from": "parent"}}}}}  # fmt: skip


@pytest.mark.fast
def test_a_nested_execution_answers_what_describe_execution_does(sfn):
    """states:startExecution.sync answers the child's DescribeExecution (Input and Output
    JSON strings, InputDetails and OutputDetails {"Included": true}, RedriveCount,
    RedriveStatus...); .sync:2 the same with Input and Output as JSON
    (https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html)."""
    child = create(sfn, "child", PASS)
    for resource, parse in (("states:startExecution.sync", json.loads),
                            ("states:startExecution.sync:2", lambda v: v)):  # fmt: skip
        name = "p" + str(len(resource))
        output = json.loads(follow(sfn, started(sfn, create(sfn, name, parent(
            child, "arn:aws:states:::" + resource))), poll_seconds=0.02)["output"])  # fmt: skip
        assert parse(output["Output"]) == {"hi": 1}
        assert parse(output["Input"]) == {"from": "parent"}
        assert output["InputDetails"] == output["OutputDetails"] == {"Included": True}
        assert output["Status"] == "SUCCEEDED" and output["RedriveCount"] == 0
        assert output["RedriveStatus"] == "NOT_REDRIVABLE"
        assert output["StateMachineArn"] == child


@pytest.mark.fast
def test_a_missing_child_machine_fails_the_task_as_on_aws(sfn):
    """A StartExecution the API refuses fails the task with the service's exception name,
    StepFunctions.StateMachineDoesNotExistException (connect-stepfunctions.html: errors are
    the API's, prefixed StepFunctions.), its message naming only the ARN asked for."""
    create(sfn, "other")
    missing = sfn.describe_state_machine(stateMachineArn=create(sfn, "other2"))[
        "stateMachineArn"
    ].replace("other2", "absent")
    run = follow(sfn, started(sfn, create(sfn, "parent", parent(
        missing, "arn:aws:states:::states:startExecution.sync:2"))), poll_seconds=0.02)  # fmt: skip
    assert run["status"] == "FAILED"
    assert run["error"] == "StepFunctions.StateMachineDoesNotExistException"
    assert missing in run["cause"] and "other" not in run["cause"].replace(missing, "")


@pytest.mark.fast
def test_stopping_a_parent_stops_its_running_child(sfn):
    """A .sync task waits for its child; when the parent is stopped the child does not run on
    alone (the twin aborts it; connect-stepfunctions.html)."""
    child = create(sfn, "child", LONG_WAIT)
    execution = started(sfn, create(sfn, "parent", parent(
        child, "arn:aws:states:::states:startExecution.sync")))  # fmt: skip
    until(lambda: sfn.list_executions(stateMachineArn=child)["executions"])
    sfn.stop_execution(executionArn=execution)
    child_run = sfn.list_executions(stateMachineArn=child)["executions"][0]["executionArn"]
    until(lambda: sfn.describe_execution(executionArn=child_run)["status"] == "ABORTED")
    done = threading.Event()
    threading.Thread(target=lambda: (sfn.wait(), done.set()), daemon=True).start()
    assert done.wait(5)


@pytest.mark.fast
def test_stop_right_after_start_still_has_a_started_history(sfn):
    """StartExecution answers before the run's thread records ExecutionStarted: a StopExecution
    at once still gives a history that starts with ExecutionStarted and ends with
    ExecutionAborted (GetExecutionHistory's events in order, API_GetExecutionHistory.html)."""
    machine = create(sfn, "waits", LONG_WAIT)
    for _ in range(5):
        execution = started(sfn, machine)
        sfn.stop_execution(executionArn=execution)
        sfn.wait()
        history = events_of(sfn, execution)
        assert history[0] == "ExecutionStarted" and history[-1] == "ExecutionAborted"
        assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"
