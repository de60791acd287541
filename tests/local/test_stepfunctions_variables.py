"""Workflow variables in the local ASL interpreter, in both query languages, from the developer
guide's "Passing data between states with variables"
(https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html): the states that
may Assign, `$name` in JSONPath paths, `.$` fields, intrinsics and Choice rules and in JSONata
expressions, the scope rules (Parallel branches and Map iterations read the outer variables, not
each other's, and cannot assign the outer ones), assignment after the state's output, the
256 KiB limit on one Assign; and JSONata in the states that had only JSONPath until now (Wait,
Parallel, Map), from the guide's "Transforming data with JSONata in Step Functions"
(https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html) and the Wait,
Parallel and Map state pages."""

import json

import pytest
from test_stepfunctions_jsonata import ECHO, integrations, machine, run, succeeded

from pipelines.local.stepfunctions.interpreter import DefinitionError, validate
from pipelines.local.stepfunctions.variables import ASSIGN_LIMIT

pytestmark = pytest.mark.fast


def jsonpath(states, start=None):
    return {"StartAt": start or next(iter(states)), "States": states}


def refused(definition):
    with pytest.raises(DefinitionError) as caught:
        validate(definition, integrations())
    return str(caught.value)


# -- Assign and $name in JSONPath ------------------------------------------------------------


def test_jsonpath_assign_then_read_in_parameters_paths_and_intrinsics():
    # "To set a variable, provide a JSON object with the variable names and values"; "To
    # reference a variable, prepend the name with a dollar sign ($)".
    definition = jsonpath(
        {
            "Set": {
                "Type": "Pass",
                "Assign": {"productName": "product1", "count": 42, "available": True,
                           "order.$": "$.order"},
                "Next": "Use",
            },
            "Use": {
                "Type": "Pass",
                "Parameters": {
                    "name.$": "$productName",
                    "first.$": "$order.items[0]",
                    "label.$": "States.Format('{} x {}', $productName, $count)",
                },
                "End": True,
            },
        }
    )  # fmt: skip
    out = succeeded(definition, {"order": {"items": ["a", "b"]}})
    assert out == {"name": "product1", "first": "a", "label": "product1 x 42"}


def test_jsonpath_assign_reads_the_raw_result_and_the_output_does_not_see_it():
    # "the assign step in a JSONPath task occurs at the same time as the ResultSelector": both
    # read the raw result; the variables take effect after the state's output.
    definition = jsonpath(
        {
            "Call": {
                "Type": "Task",
                "Resource": ECHO,
                "Parameters": {"price": 7},
                "ResultSelector": {"cost.$": "$.price"},
                "Assign": {"cost.$": "$.price"},
                "ResultPath": "$.call",
                "Next": "Show",
            },
            "Show": {"Type": "Pass", "Parameters": {"cost.$": "$cost", "call.$": "$.call"},
                     "End": True},
        }
    )  # fmt: skip
    assert succeeded(definition, {}) == {"cost": 7, "call": {"cost": 7}}


def test_choice_rules_assign_and_wait_assign_over_the_effective_input():
    definition = jsonpath(
        {
            "Pick": {
                "Type": "Choice",
                "InputPath": "$.in",
                "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 1, "Assign": {"size": "big"},
                     "Next": "Hold"},
                ],
                "Default": "Hold",
                "Assign": {"size": "small"},
            },
            "Hold": {"Type": "Wait", "Seconds": 0, "Assign": {"n.$": "$.n"}, "Next": "Show"},
            "Show": {"Type": "Pass", "Parameters": {"size.$": "$size", "n.$": "$n"}, "End": True},
        }
    )  # fmt: skip
    assert succeeded(definition, {"in": {"n": 5}}) == {"size": "big", "n": 5}
    assert succeeded(definition, {"in": {"n": 0}}) == {"size": "small", "n": 0}


def test_a_catchers_assign_reads_the_error_output():
    def fails(parameters, call):
        raise RuntimeError("boom")

    definition = jsonpath(
        {
            "Call": {
                "Type": "Task",
                "Resource": ECHO,
                "Assign": {"never": True},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"why.$": "$.Cause"},
                           "ResultPath": "$.error", "Next": "Show"}],
                "End": True,
            },
            "Show": {"Type": "Pass", "Parameters": {"why.$": "$why"}, "End": True},
        }
    )  # fmt: skip
    assert succeeded(definition, {}, task=fails) == {"why": "RuntimeError: boom"}


def test_an_assign_sees_the_values_from_before_the_state():
    # Every expression of an Assign reads the variables as they were when the state was
    # entered: two variables swap.
    definition = jsonpath(
        {
            "Init": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "Swap"},
            "Swap": {"Type": "Pass", "Assign": {"x.$": "$y", "y.$": "$x"}, "Next": "Show"},
            "Show": {"Type": "Pass", "Parameters": {"x.$": "$x", "y.$": "$y"}, "End": True},
        }
    )
    assert succeeded(definition) == {"x": 2, "y": 1}


def test_reading_a_variable_never_assigned_fails_with_states_runtime():
    definition = jsonpath({"Use": {"Type": "Pass", "Parameters": {"a.$": "$nope"}, "End": True}})
    execution = run(definition, {})
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert "$nope" in execution.cause


# -- Assign and variables in JSONata ---------------------------------------------------------


def test_jsonata_assign_output_and_the_next_state_see_what_they_should():
    definition = machine(
        {
            "Call": {
                "Type": "Task",
                "Resource": ECHO,
                "Arguments": {"price": "{% $states.input.price %}"},
                "Assign": {"price": "{% $states.result.price %}", "old": "{% $exists($price) %}"},
                "Output": {"seen": "{% $exists($price) %}"},
                "Next": "Show",
            },
            "Show": {"Type": "Pass", "Output": {"price": "{% $price %}",
                     "old": "{% $old %}", "input": "{% $states.input %}"}, "End": True},
        }
    )  # fmt: skip
    out = succeeded(definition, {"price": 3})
    assert out == {"price": 3, "old": False, "input": {"seen": False}}


def test_jsonata_catch_assign_reads_states_error_output():
    def fails(parameters, call):
        raise RuntimeError("no stock")

    definition = machine(
        {
            "Call": {
                "Type": "Task",
                "Resource": ECHO,
                "Catch": [{"ErrorEquals": ["States.TaskFailed"],
                           "Assign": {"error": "{% $states.errorOutput.Error %}"},
                           "Next": "Show"}],
                "End": True,
            },
            "Show": {"Type": "Pass", "Output": "{% $error %}", "End": True},
        }
    )  # fmt: skip
    assert succeeded(definition, {}, task=fails) == "States.TaskFailed"


# -- scopes ------------------------------------------------------------------------------------


def test_map_iterations_read_outer_variables_and_keep_their_own_to_themselves():
    definition = machine(
        {
            "Set": {"Type": "Pass", "Assign": {"rate": 10}, "Next": "Each"},
            "Each": {
                "Type": "Map",
                "Items": "{% $states.input.items %}",
                "ItemProcessor": {
                    "StartAt": "Mine",
                    "States": {
                        "Mine": {"Type": "Pass", "Assign": {"mine": "{% $states.input %}"},
                                 "Next": "Times"},
                        "Times": {"Type": "Pass", "Output": "{% $mine * $rate %}", "End": True},
                    },
                },
                "Next": "After",
            },
            "After": {"Type": "Pass",
                      "Output": {"results": "{% $states.input %}", "mine": "{% $exists($mine) %}"},
                      "End": True},
        }
    )  # fmt: skip
    assert succeeded(definition, {"items": [1, 2, 3]}) == {"results": [10, 20, 30], "mine": False}


def test_parallel_branches_do_not_see_each_others_variables():
    branch = lambda first: {  # noqa: E731
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {first: 1}, "Next": "B"},
            "B": {"Type": "Pass", "Output": "{% [$exists($left), $exists($right)] %}", "End": True},
        },
    }
    definition = machine(
        {"Both": {"Type": "Parallel", "Branches": [branch("left"), branch("right")], "End": True}}
    )
    assert succeeded(definition, {}) == [[True, False], [False, True]]


def test_an_inner_scope_assigning_an_outer_variable_is_refused():
    definition = machine(
        {
            "Set": {"Type": "Pass", "Assign": {"total": 0}, "Next": "Each"},
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Add", "States": {
                    "Add": {"Type": "Pass", "Assign": {"total": 1}, "End": True}}},
                "End": True,
            },
        }
    )  # fmt: skip
    message = refused(definition)
    assert "state 'Add'" in message and "$total" in message


# -- what a definition may not do ---------------------------------------------------------------


@pytest.mark.parametrize(
    "state, message",
    [
        ({"Type": "Succeed", "Assign": {"a": 1}}, "a Succeed state has no Assign"),
        ({"Type": "Fail", "Assign": {"a": 1}}, "a Fail state has no Assign"),
        ({"Type": "Pass", "Assign": {"states": 1}, "End": True}, "$states is reserved"),
        ({"Type": "Pass", "Assign": {"1st": 1}, "End": True}, "is not a variable name"),
        ({"Type": "Pass", "Assign": {"a-b": 1}, "End": True}, "is not a variable name"),
        ({"Type": "Pass", "ResultPath": "$x", "End": True}, "ResultPath '$x' names a variable"),
        ({"Type": "Pass", "Assign": {"a.$": "$.b["}, "End": True}, "Assign"),
    ],
)
def test_definitions_aws_refuses_are_refused_naming_the_state(state, message):
    text = refused(jsonpath({"Bad": state}))
    assert "state 'Bad': " in text and message in text


def test_one_assign_over_256_kib_fails_with_data_limit_exceeded():
    big = "x" * (ASSIGN_LIMIT // 2)
    definition = machine(
        {"Set": {"Type": "Pass", "Assign": {"a": big, "b": "{% $states.input.b %}"}, "End": True}}
    )
    execution = run(definition, {"b": big})
    assert (execution.status, execution.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'Set'" in execution.cause
    assert succeeded(definition, {"b": "small"}) == {"b": "small"}


def test_the_history_records_the_assigned_variables_as_json_strings():
    definition = machine({"Set": {"Type": "Pass", "Assign": {"a": {"b": [1]}}, "End": True}})
    execution = run(definition, {})
    exited = [e for e in execution.history.events if e["type"] == "PassStateExited"][0]
    details = exited["stateExitedEventDetails"]
    assert json.loads(details["assignedVariables"]["a"]) == {"b": [1]}
    assert details["assignedVariablesDetails"] == {"truncated": False}


# -- JSONata in Wait, Parallel and Map ---------------------------------------------------------


def test_jsonata_wait_takes_seconds_and_timestamp_expressions():
    definition = machine(
        {
            "Pause": {"Type": "Wait", "Seconds": "{% $states.input.delay %}", "Next": "Until"},
            "Until": {"Type": "Wait", "Timestamp": "{% $states.input.at %}",
                      "Output": {"waited": True}, "End": True},
        }
    )  # fmt: skip
    out = succeeded(definition, {"delay": 0, "at": "2001-01-01T00:00:00Z"})
    assert out == {"waited": True}
    execution = run(definition, {"delay": "soon", "at": "2001-01-01T00:00:00Z"})
    assert (execution.status, execution.error) == ("FAILED", "States.QueryEvaluationError")


def test_jsonata_parallel_arguments_feed_every_branch_and_output_reads_the_results():
    branch = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    definition = machine(
        {
            "Both": {
                "Type": "Parallel",
                "Arguments": {"n": "{% $states.input.n * 2 %}"},
                "Branches": [branch, branch],
                "Output": "{% $sum($states.result.n) %}",
                "End": True,
            }
        }
    )
    assert succeeded(definition, {"n": 3}) == 12


def test_jsonata_map_items_item_selector_and_max_concurrency():
    definition = machine(
        {
            "Each": {
                "Type": "Map",
                "Items": "{% $states.input.orders[price > 1] %}",
                "ItemSelector": {
                    "index": "{% $states.context.Map.Item.Index %}",
                    "price": "{% $states.context.Map.Item.Value.price %}",
                    "currency": "{% $states.input.currency %}",
                },
                "MaxConcurrency": "{% $states.input.workers %}",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    document = {"orders": [{"price": 1}, {"price": 2}, {"price": 3}], "currency": "EUR",
                "workers": 1}  # fmt: skip
    assert succeeded(definition, document) == [
        {"index": 0, "price": 2, "currency": "EUR"},
        {"index": 1, "price": 3, "currency": "EUR"},
    ]
    execution = run(definition, dict(document, workers="many"))
    assert (execution.status, execution.error) == ("FAILED", "States.QueryEvaluationError")


def test_jsonata_map_items_that_are_not_an_array_fail_with_query_evaluation_error():
    definition = machine(
        {
            "Each": {
                "Type": "Map",
                "Items": "{% $states.input.one %}",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    execution = run(definition, {"one": "a"})
    assert (execution.status, execution.error) == ("FAILED", "States.QueryEvaluationError")
