"""The local ASL interpreter against the worked examples of AWS's Step Functions documentation
(input and output processing, Choice rules, Retry and Catch, Map, Parallel, Wait, intrinsic
functions): each gives AWS's documented result."""

import json
import re
import threading

import pytest

from pipelines.local.stepfunctions import paths
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import DefinitionError, Execution, validate

# Every test here runs in this process, with no child process, server or browser.
pytestmark = pytest.mark.fast

START = 1_700_000_000.0


class RecordingClock:
    """Time that passes only when something sleeps; every sleep is recorded."""

    scale = 1.0

    def __init__(self):
        self.time = START
        self.sleeps = []
        self._lock = threading.Lock()

    def now(self):
        return self.time

    def sleep(self, seconds, cancelled=None):
        with self._lock:
            self.sleeps.append(seconds)
            self.time += max(0.0, seconds)

    def real_seconds(self, seconds):
        return seconds


def machine(states, start=None, **top):
    return dict({"StartAt": start or next(iter(states)), "States": states}, **top)


def run(definition, document=None, integrations=None, clock=None):
    integrations = integrations or Integrations()
    validate(definition, integrations)
    execution = Execution(
        definition, integrations, document, name="test", clock=clock or RecordingClock()
    )
    return execution.run()


def succeeded(definition, document=None, **kw):
    execution = run(definition, document, **kw)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    return execution.output


def echo(parameters, call):
    return parameters


# -- input and output processing (docs: "Processing input and output in Step Functions") --


def test_parameters_with_paths_and_static_values():
    # The ASL specification's Parameters example.
    definition = machine({"P": {"Type": "Pass", "Parameters": {
        "flagged": True, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"}},
        "End": True}})  # fmt: skip
    out = succeeded(definition, {"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]})
    assert out == {"flagged": True, "parts": {"first": 0, "last3": [30, 40, 50]}}


def test_input_path_selects_part_of_the_input():
    document = {"comment": "Example for InputPath.", "dataset1": {"val1": 1, "val2": 2, "val3": 3},
                "dataset2": {"val1": "a", "val2": "b", "val3": "c"}}  # fmt: skip
    definition = machine({"P": {"Type": "Pass", "InputPath": "$.dataset2", "End": True}})
    assert succeeded(definition, document) == {"val1": "a", "val2": "b", "val3": "c"}


def test_result_path_adds_the_result_to_the_input():
    # The "Hello, AWS Step Functions!" example of ResultPath.
    document = {"comment": "This is a test of the input and output of a Task state.",
                "details": "Default example", "who": "AWS Step Functions"}  # fmt: skip
    integrations = Integrations({"lambda:invoke": lambda p, c: "Hello, %s!" % p["who"]})
    definition = machine({"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                "ResultPath": "$.taskresult", "End": True}})  # fmt: skip
    out = succeeded(definition, document, integrations=integrations)
    assert out == dict(document, taskresult="Hello, AWS Step Functions!")


def test_result_path_null_discards_the_result_and_dollar_replaces_the_input():
    integrations = Integrations({"lambda:invoke": lambda p, c: {"r": 1}})
    for result_path, expected in (
        (None, {"a": 1}),
        ("$", {"r": 1}),
        ("$.x.y", {"a": 1, "x": {"y": {"r": 1}}}),
    ):
        definition = machine({"T": {"Type": "Task", "Resource": "lambda:invoke",
                                    "ResultPath": result_path, "End": True}})  # fmt: skip
        assert succeeded(definition, {"a": 1}, integrations=integrations) == expected


def test_result_selector_picks_from_the_result():
    # The EMR createCluster example of ResultSelector.
    result = {"resourceType": "elasticmapreduce", "resource": "createCluster.sync",
              "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}}  # fmt: skip
    integrations = Integrations({"elasticmapreduce:createCluster.sync": lambda p, c: result})
    definition = machine({"T": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync",
        "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
        "ResultPath": "$.EMROutput", "End": True}})  # fmt: skip
    out = succeeded(definition, {"Name": "MyWorkflowCluster"}, integrations=integrations)
    assert out == {"Name": "MyWorkflowCluster",
                   "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}}  # fmt: skip


def test_output_path_and_the_context_object():
    definition = machine({"P": {"Type": "Pass", "Parameters": {
        "execution.$": "$$.Execution.Name", "state.$": "$$.State.Name", "input.$": "$$.Execution.Input.a"},
        "OutputPath": "$.state", "End": True}})  # fmt: skip
    assert succeeded(definition, {"a": 5}) == "P"
    definition["States"]["P"].pop("OutputPath")
    assert succeeded(definition, {"a": 5}) == {"execution": "test", "state": "P", "input": 5}


def test_a_missing_path_fails_the_execution_with_states_runtime_that_catch_all_does_not_take():
    definition = machine({"P": {"Type": "Pass", "Parameters": {"x.$": "$.missing"}, "Next": "Done"},
                          "Done": {"Type": "Succeed"}})  # fmt: skip
    execution = run(definition, {"a": 1})
    assert execution.status == "FAILED" and execution.error == "States.Runtime"
    assert (
        "The JSONPath '$.missing' specified for the field 'x.$' could not be found"
        in execution.cause
    )


def test_result_path_through_a_non_object_is_a_result_path_match_failure():
    definition = machine({"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": True}})
    execution = run(definition, {"a": "text"})
    assert execution.error == "States.ResultPathMatchFailure"


def test_payload_over_256_kib_is_data_limit_exceeded():
    integrations = Integrations({"lambda:invoke": lambda p, c: "x" * (256 * 1024)})
    definition = machine({"T": {"Type": "Task", "Resource": "lambda:invoke", "End": True,
                                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
                          "Caught": {"Type": "Succeed"}})  # fmt: skip
    execution = run(definition, {}, integrations=integrations)
    assert execution.status == "FAILED" and execution.error == "States.DataLimitExceeded"


# -- JSONPath ------------------------------------------------------------------------------


STORE = {"store": {"book": [
    {"category": "reference", "author": "Nigel Rees", "title": "Sayings of the Century", "price": 8.95},
    {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword of Honour", "price": 12.99},
    {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553-21311-3", "price": 8.99},
], "bicycle": {"color": "red", "price": 19.95}}}  # fmt: skip


@pytest.mark.parametrize(
    "path, expected",
    [
        ("$.store.book[*].author", ["Nigel Rees", "Evelyn Waugh", "Herman Melville"]),
        ("$..author", ["Nigel Rees", "Evelyn Waugh", "Herman Melville"]),
        ("$.store.book[2].title", "Moby Dick"),
        ("$.store.book[-1].title", "Moby Dick"),
        ("$.store.book[0,1].price", [8.95, 12.99]),
        ("$.store.book[:2].price", [8.95, 12.99]),
        ("$.store.book[?(@.isbn)].title", ["Moby Dick"]),
        ("$.store.book[?(@.price < 10)].title", ["Sayings of the Century", "Moby Dick"]),
        ("$.store.book[?(@.category == 'fiction' && @.price > 10)].author", ["Evelyn Waugh"]),
        ("$.store['bicycle'].color", "red"),
        ("$..price", [8.95, 12.99, 8.99, 19.95]),
    ],
)
def test_jsonpath_as_jayway_reads_it(path, expected):
    assert paths.read(STORE, path) == expected


def test_a_definite_path_that_selects_nothing_is_an_error_and_an_indefinite_one_is_empty():
    with pytest.raises(LookupError):
        paths.read(STORE, "$.store.car")
    assert paths.read(STORE, "$.store.book[?(@.price > 100)]") == []


# -- Choice (docs: "Choice workflow state") -------------------------------------------------


DOCS_CHOICE = machine({
    "ChoiceStateX": {"Type": "Choice", "Choices": [
        {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
        {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
        {"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20},
                 {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"}],
        "Default": "DefaultState"},
    "Public": {"Type": "Pass", "Result": "Public", "End": True},
    "ValueIsZero": {"Type": "Pass", "Result": "ValueIsZero", "End": True},
    "ValueInTwenties": {"Type": "Pass", "Result": "ValueInTwenties", "End": True},
    "DefaultState": {"Type": "Fail", "Error": "DefaultStateError", "Cause": "No Matches!"},
})  # fmt: skip


@pytest.mark.parametrize(
    "document, expected",
    [
        ({"type": "Public", "value": 1}, "Public"),
        ({"type": "Private", "value": 0}, "ValueIsZero"),
        ({"type": "Private", "value": 25}, "ValueInTwenties"),
    ],
)
def test_the_documented_choice_rules(document, expected):
    assert succeeded(DOCS_CHOICE, document) == expected


def test_no_choice_matching_goes_to_the_default_which_fails_with_its_error():
    execution = run(DOCS_CHOICE, {"type": "Private", "value": 35})
    assert (execution.status, execution.error, execution.cause) == (
        "FAILED",
        "DefaultStateError",
        "No Matches!",
    )


@pytest.mark.parametrize(
    "rule, document, holds",
    [
        ({"StringMatches": "log-*.txt"}, "log-2019.txt", True),
        ({"StringMatches": "log-\\*.txt"}, "log-2019.txt", False),
        ({"StringMatches": "log-\\*.txt"}, "log-*.txt", True),
        ({"StringLessThan": "b"}, "a", True),
        ({"StringGreaterThanEquals": "b"}, "a", False),
        ({"NumericLessThanEquals": 3}, 3, True),
        ({"NumericGreaterThan": 3}, "4", False),
        ({"BooleanEquals": True}, True, True),
        ({"BooleanEquals": True}, 1, False),
        ({"TimestampEquals": "2001-01-01T12:00:00Z"}, "2001-01-01T12:00:00+00:00", True),
        ({"TimestampLessThan": "2001-01-01T12:00:00Z"}, "2001-01-01T11:59:59Z", True),
        ({"TimestampGreaterThan": "2001-01-01T12:00:00Z"}, "not a time", False),
        ({"IsNull": True}, None, True),
        ({"IsNumeric": True}, 1.5, True),
        ({"IsNumeric": True}, True, False),
        ({"IsString": False}, 3, True),
        ({"IsBoolean": True}, False, True),
        ({"IsTimestamp": True}, "2016-03-14T01:59:00Z", True),
        ({"IsTimestamp": True}, "2016-03-14", False),
    ],
)
def test_each_comparison_operator(rule, document, holds):
    definition = machine({"C": {"Type": "Choice", "Choices": [dict(rule, Variable="$.v", Next="Yes")],
                                "Default": "No"},
                          "Yes": {"Type": "Pass", "Result": True, "End": True},
                          "No": {"Type": "Pass", "Result": False, "End": True}})  # fmt: skip
    assert succeeded(definition, {"v": document}) is holds


def test_path_operators_compare_two_fields_and_is_present_sees_absence():
    definition = machine({"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.missing", "IsPresent": True, "Next": "No"},
        {"Variable": "$.a", "NumericGreaterThanPath": "$.b", "Next": "Yes"}], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": True, "End": True},
        "No": {"Type": "Pass", "Result": False, "End": True}})  # fmt: skip
    assert succeeded(definition, {"a": 2, "b": 1}) is True
    assert succeeded(definition, {"a": 1, "b": 2}) is False


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.missing", "StringEquals": "x"},
        {"Variable": "$.missing", "IsNull": True},
        {"Variable": "$.a", "NumericGreaterThanPath": "$.missing"},
    ],
)
def test_any_test_but_is_present_of_a_path_the_input_lacks_fails_the_execution(rule):
    # The Choice state page: "If the state input doesn't contain the $.type field, the
    # execution fails and an error is displayed in the execution history"; IsPresent is the
    # test that may look at an absent field.
    definition = machine({"C": {"Type": "Choice", "Choices": [dict(rule, Next="Done")],
                                "Default": "Done"}, "Done": {"Type": "Succeed"}})  # fmt: skip
    execution = run(definition, {"a": 1})
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert "The choice state's condition path references an invalid value." in execution.cause


def test_no_match_without_default_is_no_choice_matched():
    definition = machine({"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.v", "NumericEquals": 1, "Next": "Done"}]}, "Done": {"Type": "Succeed"}})  # fmt: skip
    assert run(definition, {"v": 2}).error == "States.NoChoiceMatched"


# -- Retry and Catch (docs: "Handling errors in Step Functions workflows") -------------------


def flaky(errors):
    """A task that raises each of `errors` in turn, then succeeds."""
    remaining = list(errors)

    def task(parameters, call):
        if remaining:
            raise StatesError(remaining.pop(0), "try again")
        return "done"

    return task


def test_retry_waits_interval_times_backoff_rate_per_attempt():
    # The documented retrier: IntervalSeconds 3, MaxAttempts 2, BackoffRate 1.5 -> 3 s then 4.5 s.
    clock = RecordingClock()
    integrations = Integrations({"lambda:invoke": flaky(["States.Timeout", "States.Timeout"])})
    definition = machine({"T": {"Type": "Task", "Resource": "lambda:invoke", "End": True, "Retry": [
        {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 1.5}]}})  # fmt: skip
    assert succeeded(definition, {}, integrations=integrations, clock=clock) == "done"
    assert clock.sleeps == [3, 4.5]


def test_retry_gives_up_after_max_attempts_and_caps_at_max_delay_seconds():
    clock = RecordingClock()
    error = "SageMaker.ResourceLimitExceededException"
    integrations = Integrations({"sagemaker:createTrainingJob.sync": flaky([error] * 10)})
    definition = machine({"T": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "End": True, "Retry": [{"ErrorEquals": [error], "IntervalSeconds": 10, "MaxAttempts": 4,
                                "BackoffRate": 3, "MaxDelaySeconds": 60}]}})  # fmt: skip
    execution = run(definition, {}, integrations=integrations, clock=clock)
    assert (execution.status, execution.error) == ("FAILED", error)
    assert clock.sleeps == [10, 30, 60, 60]
    failed = [e for e in execution.history.events if e["type"] == "TaskFailed"]
    assert len(failed) == 5 and failed[0]["taskFailedEventDetails"]["error"] == error


def test_full_jitter_waits_at_most_the_computed_delay():
    clock = RecordingClock()
    integrations = Integrations({"lambda:invoke": flaky(["E"] * 3)})
    definition = machine({"T": {"Type": "Task", "Resource": "lambda:invoke", "End": True, "Retry": [
        {"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 2, "JitterStrategy": "FULL"}]}})  # fmt: skip
    succeeded(definition, {}, integrations=integrations, clock=clock)
    assert len(clock.sleeps) == 3 and all(0 <= s <= m for s, m in zip(clock.sleeps, [2, 4, 8]))


def test_max_attempts_zero_never_retries_and_the_first_matching_retrier_applies():
    clock = RecordingClock()
    integrations = Integrations({"lambda:invoke": flaky(["E", "F"])})
    definition = machine({"T": {"Type": "Task", "Resource": "lambda:invoke", "End": True, "Retry": [
        {"ErrorEquals": ["F"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}]}})  # fmt: skip
    execution = run(definition, {}, integrations=integrations, clock=clock)
    assert execution.error == "F" and clock.sleeps == [1]


def test_catch_puts_error_and_cause_at_its_result_path():
    # The documented catcher: "ResultPath": "$.error-info".
    integrations = Integrations({"lambda:invoke": flaky(["CustomError"])})
    definition = machine({"T": {"Type": "Task", "Resource": "lambda:invoke", "End": True, "Catch": [
        {"ErrorEquals": ["CustomError"], "ResultPath": "$.error-info", "Next": "Fallback"}]},
        "Fallback": {"Type": "Pass", "End": True}})  # fmt: skip
    out = succeeded(definition, {"foo": "bar"}, integrations=integrations)
    assert out == {"foo": "bar", "error-info": {"Error": "CustomError", "Cause": "try again"}}


def test_task_failed_matches_any_error_but_timeout():
    for error, caught in (("SageMaker.AmazonSageMakerException", True), ("States.Timeout", False)):
        integrations = Integrations({"lambda:invoke": flaky([error])})
        definition = machine({"T": {"Type": "Task", "Resource": "lambda:invoke", "End": True, "Catch": [
            {"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]},
            "Caught": {"Type": "Pass", "Result": "caught", "End": True}})  # fmt: skip
        execution = run(definition, {}, integrations=integrations)
        assert (execution.status == "SUCCEEDED") is caught, error


def test_task_timeout_seconds_times_a_slow_task_out():
    def slow(parameters, call):
        call.sleep(120)
        return "late"

    integrations = Integrations({"lambda:invoke": slow})
    definition = machine(
        {"T": {"Type": "Task", "Resource": "lambda:invoke", "TimeoutSeconds": 60, "End": True}}
    )
    execution = run(definition, {}, integrations=integrations)
    assert execution.error == "States.Timeout"
    assert [e["type"] for e in execution.history.events][-2] == "TaskTimedOut"


def test_a_call_that_never_returns_is_stopped_by_its_timeout():
    released = threading.Event()

    def hang(parameters, call):
        call.cancelled.wait(30)
        released.set()
        return "never"

    from pipelines.local.stepfunctions.interpreter import Clock

    definition = machine(
        {"T": {"Type": "Task", "Resource": "lambda:invoke", "TimeoutSeconds": 1, "End": True}}
    )
    execution = run(
        definition, {}, integrations=Integrations({"lambda:invoke": hang}), clock=Clock(scale=0.2)
    )
    assert execution.error == "States.Timeout"
    assert released.wait(5), "the integration was not told to stop"


def test_execution_timeout_seconds_ends_the_execution_timed_out():
    definition = machine({"W": {"Type": "Wait", "Seconds": 100, "End": True}}, TimeoutSeconds=10)
    execution = run(definition, {})
    assert (
        execution.status == "TIMED_OUT"
        and execution.history.events[-1]["type"] == "ExecutionTimedOut"
    )


# -- Wait ---------------------------------------------------------------------------------


def test_wait_seconds_path_and_timestamp_path():
    clock = RecordingClock()
    definition = machine({"A": {"Type": "Wait", "SecondsPath": "$.s", "Next": "B"},
                          "B": {"Type": "Wait", "TimestampPath": "$.t", "Next": "C"},
                          "C": {"Type": "Wait", "Timestamp": "2023-11-14T22:20:00Z", "End": True}})  # fmt: skip
    # START is 2023-11-14T22:13:20Z: 5 s, then up to 22:14:00 (35 s), then to 22:20:00 (360 s).
    succeeded(definition, {"s": 5, "t": "2023-11-14T22:14:00Z"}, clock=clock)
    assert clock.sleeps == [5, 35, 360]


# -- Map and Parallel ---------------------------------------------------------------------


def test_map_with_items_path_and_item_selector_as_documented():
    document = {"ship-date": "2016-03-14T01:59:00Z", "detail": {"delivery-partner": "UQS", "shipped": [
        {"prod": "R31", "dest-code": 9511, "quantity": 1344},
        {"prod": "S39", "dest-code": 9511, "quantity": 40},
        {"prod": "R31", "dest-code": 9833, "quantity": 12}]}}  # fmt: skip
    definition = machine({"Validate-All": {"Type": "Map", "InputPath": "$.detail", "ItemsPath": "$.shipped",
        "MaxConcurrency": 0, "ItemSelector": {"parcel.$": "$$.Map.Item.Value", "courier.$": "$.delivery-partner",
                                              "index.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"StartAt": "Validate", "States": {"Validate": {
            "Type": "Pass", "Parameters": {"prod.$": "$.parcel.prod", "courier.$": "$.courier", "i.$": "$.index"},
            "End": True}}},
        "ResultPath": "$.detail.shipped", "End": True}})  # fmt: skip
    out = succeeded(definition, document)
    assert out["detail"]["shipped"] == [{"prod": "R31", "courier": "UQS", "i": 0},
                                        {"prod": "S39", "courier": "UQS", "i": 1},
                                        {"prod": "R31", "courier": "UQS", "i": 2}]  # fmt: skip
    types = [e["type"] for e in run(definition, document).history.events]
    assert types.count("MapIterationSucceeded") == 3 and "MapStateSucceeded" in types


def test_map_max_concurrency_bounds_the_iterations_at_once():
    running, peak, lock = [0], [0], threading.Lock()

    def task(parameters, call):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        threading.Event().wait(0.05)
        with lock:
            running[0] -= 1
        return parameters * 2

    definition = machine({"M": {"Type": "Map", "MaxConcurrency": 2, "ItemProcessor": {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "lambda:invoke", "End": True}}}, "End": True}})  # fmt: skip
    out = succeeded(definition, list(range(8)), integrations=Integrations({"lambda:invoke": task}))
    assert out == [i * 2 for i in range(8)] and peak[0] == 2


def test_parallel_gives_each_branch_output_in_order_and_a_failing_branch_fails_it():
    branch = lambda result: {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Result": result, "End": True}},
    }  # noqa: E731
    definition = machine({"Par": {"Type": "Parallel", "Branches": [branch("a"), branch({"b": 1})],
                                  "ResultSelector": {"first.$": "$[0]", "second.$": "$[1].b"}, "End": True}})  # fmt: skip
    assert succeeded(definition, {}) == {"first": "a", "second": 1}
    failing = {
        "StartAt": "F",
        "States": {"F": {"Type": "Fail", "Error": "BranchError", "Cause": "bad"}},
    }
    definition = machine({"Par": {"Type": "Parallel", "Branches": [branch("a"), failing], "Next": "Done",
                                  "Catch": [{"ErrorEquals": ["BranchError"], "Next": "Handled"}]},
                          "Handled": {"Type": "Pass", "End": True}, "Done": {"Type": "Succeed"}})  # fmt: skip
    assert succeeded(definition, {}) == {"Error": "BranchError", "Cause": "bad"}


# -- intrinsic functions (docs: "Intrinsic functions for JSONPath states") -------------------


@pytest.mark.parametrize(
    "expression, document, expected",
    [
        (
            "States.Format('Hello, my name is {}.', $.name)",
            {"name": "Arnav"},
            "Hello, my name is Arnav.",
        ),
        ("States.StringToJson($.someString)", {"someString": '{"number": 20}'}, {"number": 20}),
        (
            "States.JsonToString($.someJson)",
            {"someJson": {"name": "Foo", "year": 2020}},
            '{"name":"Foo","year":2020}',
        ),
        (
            "States.Array('Foo', 2020, $.someJson, null)",
            {"someJson": {"random": "abcdefg"}},
            ["Foo", 2020, {"random": "abcdefg"}, None],
        ),
        (
            "States.ArrayPartition($.inputArray,4)",
            {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
            [[1, 2, 3, 4], [5, 6, 7, 8], [9]],
        ),
        (
            "States.ArrayContains($.inputArray, $.lookingFor)",
            {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5},
            True,
        ),
        ("States.ArrayRange(1, 9, 2)", {}, [1, 3, 5, 7, 9]),
        (
            "States.ArrayGetItem($.inputArray, $.index)",
            {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5},
            6,
        ),
        ("States.ArrayLength($.inputArray)", {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, 9),
        (
            "States.ArrayUnique($.inputArray)",
            {"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]},
            [1, 2, 3, 4],
        ),
        ("States.Base64Encode($.input)", {"input": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="),
        ("States.Base64Decode($.base64)", {"base64": "RGVjb2RlZCBkYXRh"}, "Decoded data"),
        (
            "States.Hash($.Data, $.Algorithm)",
            {"Data": "input data", "Algorithm": "SHA-1"},
            "aaff4a450a104cd177d28d18d74485e8cae074b7",
        ),
        (
            "States.JsonMerge($.json1, $.json2, false)",
            {
                "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
                "json2": {"a": {"a3": 1, "a4": 2}, "c": 3},
            },
            {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3},
        ),
        ("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}, 110),
        (
            "States.StringSplit($.inputString, $.splitter)",
            {"inputString": "1,2,3,4,5", "splitter": ","},
            ["1", "2", "3", "4", "5"],
        ),
        (
            "States.StringSplit($.inputString, $.splitter)",
            {"inputString": "This.is+a,test=string", "splitter": ".+,="},
            ["This", "is", "a", "test", "string"],
        ),
        (
            "States.Format('{} \\{literal\\} \\'q\\'', States.ArrayLength($.a))",
            {"a": [1, 2]},
            "2 {literal} 'q'",
        ),
    ],
)
def test_intrinsic_functions_as_documented(expression, document, expected):
    definition = machine({"P": {"Type": "Pass", "Parameters": {"out.$": expression}, "End": True}})
    assert succeeded(definition, document) == {"out": expected}


def test_random_and_uuid_have_the_documented_form():
    definition = machine({"P": {"Type": "Pass", "Parameters": {
        "r.$": "States.MathRandom($.start, $.end)", "u.$": "States.UUID()"}, "End": True}})  # fmt: skip
    out = succeeded(definition, {"start": 1, "end": 999})
    assert 1 <= out["r"] < 999
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", out["u"]
    )


def test_an_intrinsic_with_wrong_arguments_is_an_intrinsic_failure():
    definition = machine(
        {"P": {"Type": "Pass", "Parameters": {"x.$": "States.MathAdd($.a, 'b')"}, "End": True}}
    )
    execution = run(definition, {"a": 1})
    assert execution.error == "States.IntrinsicFailure" and "States.MathAdd" in execution.cause


# -- the history, the definition checks ----------------------------------------------------


def test_history_records_every_state_entered_and_exited_in_the_get_execution_history_shape():
    integrations = Integrations({"lambda:invoke": echo})
    definition = machine({"A": {"Type": "Pass", "Next": "B"},
                          "B": {"Type": "Task", "Resource": "lambda:invoke", "Next": "C"},
                          "C": {"Type": "Succeed"}})  # fmt: skip
    events = run(definition, {"k": 1}, integrations=integrations).history.events
    assert [e["type"] for e in events] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered", "TaskScheduled",
        "TaskStarted", "TaskSucceeded", "TaskStateExited", "SucceedStateEntered", "SucceedStateExited",
        "ExecutionSucceeded"]  # fmt: skip
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[1]["stateEnteredEventDetails"] == {"name": "A", "input": "{\"k\": 1}",
                                                     "inputDetails": {"truncated": False}}  # fmt: skip
    assert json.loads(events[4]["taskScheduledEventDetails"]["parameters"]) == {"k": 1}
    assert events[4]["taskScheduledEventDetails"]["resourceType"] == "lambda"


@pytest.mark.parametrize(
    "definition, message",
    [
        (
            machine(
                {
                    "T": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::glue:startJobRun.sync",
                        "End": True,
                    }
                }
            ),
            "state 'T': arn:aws:states:::glue:startJobRun.sync has no local twin",
        ),
        (machine({"A": {"Type": "Pass", "Next": "Nowhere"}}), "Next 'Nowhere' is not a state"),
        (machine({"A": {"Type": "Pass"}}), "state 'A': needs Next or End"),
        (machine({"A": {"Type": "Pass", "InputPath": "a.b", "End": True}}), "InputPath"),
        (
            machine({"A": {"Type": "Pass", "End": True}}, QueryLanguage="XPath"),
            "QueryLanguage 'XPath' is not JSONPath or JSONata",
        ),
        (
            machine(
                {
                    "P": {
                        "Type": "Parallel",
                        "End": True,
                        "Branches": [
                            machine(
                                {"T": {"Type": "Task", "Resource": "glue:startJobRun", "End": True}}
                            )
                        ],
                    }
                }
            ),
            "branch 0: state 'T'",
        ),
    ],
)
def test_a_definition_that_cannot_run_is_refused_before_it_starts_naming_the_state(
    definition, message
):
    with pytest.raises(DefinitionError, match=re.escape(message)):
        validate(definition, Integrations())


def test_states_runtime_is_never_caught_and_data_limit_only_when_named():
    runtime = machine({"T": {"Type": "Task", "Resource": "lambda:invoke", "InputPath": "$.missing", "End": True,
                             "Catch": [{"ErrorEquals": ["States.Runtime", "States.ALL"], "Next": "Caught"}]},
                       "Caught": {"Type": "Succeed"}})  # fmt: skip
    assert (
        run(runtime, {}, integrations=Integrations({"lambda:invoke": echo})).error
        == "States.Runtime"
    )
    big = Integrations({"lambda:invoke": lambda p, c: "x" * (256 * 1024)})
    named = machine({"T": {"Type": "Task", "Resource": "lambda:invoke", "End": True,
                           "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Caught"}]},
                     "Caught": {"Type": "Pass", "Result": "caught", "End": True}})  # fmt: skip
    assert succeeded(named, {}, integrations=big) == "caught"
