"""The local ASL interpreter's states as AWS runs them, each from AWS's documentation: the
Amazon States Language spec (https://states-language.net/spec.html) and the Step Functions
developer guide's pages on the Parallel, Map, Fail and Wait states and the context object
(https://docs.aws.amazon.com/step-functions/latest/dg/)."""

import json
import re
import threading

import pytest
from botocore.exceptions import ClientError
from test_stepfunctions_interpreter import RecordingClock, machine, run, succeeded

from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.runtime import Clock
from pipelines.local.stepfunctions.service import StepFunctions


def echo_branch():
    return {"StartAt": "E", "States": {"E": {"Type": "Pass", "End": True}}}


# -- 1. Parallel: "Parameters" (developer guide, "Parallel workflow state": Parameters is one
# of its fields; the spec: Parameters makes the effective input of the state) --------------


@pytest.mark.fast
def test_parallel_parameters_give_each_branch_the_templated_input():
    definition = machine({"P": {"Type": "Parallel", "Branches": [echo_branch(), echo_branch()],
                                "Parameters": {"who.$": "$.name", "fixed": 1}, "End": True}})  # fmt: skip
    out = succeeded(definition, {"name": "ana", "other": True})
    assert out == [{"who": "ana", "fixed": 1}, {"who": "ana", "fixed": 1}]


# -- 2. Map: "MaxConcurrencyPath" (developer guide, "Map state in Inline mode": a reference path
# to the maximum concurrency from the state input; it must select a non-negative integer) -----


def _map(**fields):
    return machine({"M": dict({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "lambda:invoke", "End": True}}},
        "End": True}, **fields)})  # fmt: skip


@pytest.mark.fast
def test_map_max_concurrency_path_is_read_from_the_input_and_a_bad_value_is_states_runtime():
    running, peak, lock = [0], [0], threading.Lock()

    def task(parameters, call):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        threading.Event().wait(0.05)
        with lock:
            running[0] -= 1
        return parameters

    integrations = Integrations({"lambda:invoke": task})
    definition = _map(MaxConcurrencyPath="$.limit")
    out = succeeded(definition, {"items": list(range(6)), "limit": 1}, integrations=integrations)
    assert out == list(range(6)) and peak[0] == 1
    for bad in (-1, 1.5, "2", True):
        execution = run(definition, {"items": [1], "limit": bad}, integrations=integrations)
        assert (execution.status, execution.error) == ("FAILED", "States.Runtime"), bad


# -- 3. Fail: Error and Cause are optional (developer guide, "Fail workflow state"); an
# execution failed without them has none (ExecutionFailedEventDetails: both optional) ------


@pytest.mark.fast
def test_a_fail_state_without_error_or_cause_leaves_them_out():
    execution = run(machine({"F": {"Type": "Fail"}}), {})
    assert execution.status == "FAILED"
    assert execution.error is None and execution.cause is None
    failed = execution.history.events[-1]
    assert failed["type"] == "ExecutionFailed"
    assert failed["executionFailedEventDetails"] == {}
    only_error = run(machine({"F": {"Type": "Fail", "Error": "Oops"}}), {})
    assert (only_error.error, only_error.cause) == ("Oops", None)
    assert only_error.history.events[-1]["executionFailedEventDetails"] == {"error": "Oops"}


# -- 4. The context object (developer guide, "Accessing execution data from the Context
# object"): StartTime in ISO 8601 as AWS writes it, and State.RetryCount where a state retries


def flaky(failures):
    remaining = [failures]

    def task(parameters, call):
        if remaining[0]:
            remaining[0] -= 1
            raise StatesError("Flaky", "try again")
        return parameters

    return task


@pytest.mark.fast
def test_the_context_object_start_time_and_retry_count():
    definition = machine({
        "P": {"Type": "Pass", "Parameters": {"state.$": "$$.State", "start.$": "$$.Execution.StartTime"},
              "ResultPath": "$.pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": "lambda:invoke", "Parameters": {"retry.$": "$$.State.RetryCount"},
              "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 3}], "ResultPath": "$.task", "End": True}})  # fmt: skip
    out = succeeded(definition, {}, integrations=Integrations({"lambda:invoke": flaky(2)}))
    assert out["pass"]["start"] == "2023-11-14T22:13:20.000Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", out["pass"]["start"])
    assert "RetryCount" not in out["pass"]["state"]  # a Pass state does not retry
    assert set(out["pass"]["state"]) == {"Name", "EnteredTime"}
    assert out["task"] == {"retry": 2}  # the third attempt, after two retries


# -- 5. JSONPath: a bracketed name with an escaped backslash (Jayway, whose JSONPath Step
# Functions reads: a backslash escapes the next character inside quotes) ----------------------


@pytest.mark.fast
def test_a_bracketed_name_with_a_backslash_is_found():
    definition = machine({"P": {"Type": "Pass", "Parameters": {"v.$": "$['a\\\\b']"}, "End": True}})
    assert succeeded(definition, {"a\\b": 7}) == {"v": 7}


# -- 6. Wait (developer guide, "Wait workflow state": Timestamp must be an RFC 3339 timestamp
# with an upper-case T and Z; a wait further ahead than Step Functions can hold fails) --------


@pytest.mark.fast
def test_a_wait_more_than_two_to_the_31_seconds_ahead_fails_at_once():
    clock = RecordingClock()
    far = machine({"W": {"Type": "Wait", "TimestampPath": "$.t", "End": True}})
    execution = run(far, {"t": "2999-01-01T00:00:00Z"}, clock=clock)
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    seconds = machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}})
    execution = run(seconds, {"s": 2**31 + 1}, clock=clock)
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert clock.sleeps == []


@pytest.mark.fast
def test_an_invalid_wait_timestamp_is_refused_at_create_state_machine(tmp_path):
    sfn = StepFunctions(tmp_path / "home", Integrations(), Clock())
    definition = machine(
        {"Later": {"Type": "Wait", "Timestamp": "2024-08-18 17:33:00", "End": True}}
    )
    with pytest.raises(ClientError) as refused:
        sfn.create_state_machine(
            name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::1:role/r"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "Later" in refused.value.response["Error"]["Message"]


# -- 7. The execution's TimeoutSeconds (spec: "If provided, [it is] the maximum number of
# seconds an execution of the state machine can run") holds when waits are scaled ------------


@pytest.mark.fast
def test_execution_timeout_fires_during_a_scaled_wait():
    definition = machine({"W": {"Type": "Wait", "Seconds": 10, "End": True}}, TimeoutSeconds=2)
    execution = run(definition, {}, clock=Clock(scale=0.05))
    assert execution.status == "TIMED_OUT"


@pytest.mark.fast
def test_execution_timeout_counts_a_retrys_delay_when_waits_are_scaled():
    # A Retry's IntervalSeconds is the execution's time as a Wait's is: 10 s of delay in an
    # execution of TimeoutSeconds 5 times it out, however short the scaled clock makes it.
    def fails(parameters, call):
        raise StatesError("Busy", "try later")

    definition = machine(
        {"T": {"Type": "Task", "Resource": "lambda:invoke", "End": True,
               "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 10, "MaxAttempts": 3}]}},
        TimeoutSeconds=5,
    )  # fmt: skip
    execution = run(definition, {}, Integrations({"lambda:invoke": fails}), Clock(scale=0.001))
    assert (execution.status, execution.error) == ("TIMED_OUT", "States.Timeout")


# -- Causes as AWS words them: "An error occurred while executing the state 'X' (entered at the
# event id #N). ..." for States.Runtime, States.DataLimitExceeded and
# States.QueryEvaluationError (the error examples of the developer guide's "Handling errors in
# Step Functions workflows" and "Transforming data with JSONata", whose causes begin so) -------


@pytest.mark.fast
def test_a_states_runtime_cause_names_the_state_and_the_event_it_entered_at():
    definition = machine(
        {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {"Type": "Pass", "Parameters": {"a.$": "$.missing"}, "End": True},
        }
    )
    execution = run(definition, {})
    assert execution.error == "States.Runtime"
    assert execution.cause.startswith(
        "An error occurred while executing the state 'Second' (entered at the event id #4). "
        "The JSONPath '$.missing' specified for the field 'a.$' could not be found"
    ), execution.cause
    entered = [e for e in execution.history.events if e["type"] == "PassStateEntered"][1]
    assert entered["id"] == 4


@pytest.mark.fast
def test_a_data_limit_cause_names_the_state_once_even_from_inside_a_map():
    big = "x" * (256 * 1024)
    inner = {"StartAt": "Grow", "States": {"Grow": {"Type": "Pass", "Result": big, "End": True}}}
    definition = machine(
        {"Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": inner, "End": True}}
    )
    execution = run(definition, {"items": [1]})
    assert execution.error == "States.DataLimitExceeded"
    assert execution.cause.count("An error occurred while executing the state") == 1
    assert execution.cause.startswith(
        "An error occurred while executing the state 'Grow' (entered at the event id #"
    ), execution.cause
