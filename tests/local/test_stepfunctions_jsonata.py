"""JSONata in the local ASL interpreter (docs/adr/0012), from the Step Functions developer
guide: "Transforming data with JSONata in Step Functions"
(https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html): its examples'
inputs and outputs, the $states variable, the functions Step Functions adds, and the JSONPath
fields a JSONata state may not have; the Choice, Pass, Task, Succeed and Fail state pages for
their JSONata fields (Condition, Arguments, Output, Error, Cause)."""

import hashlib
import json
import re

import pytest
from botocore.exceptions import ClientError

from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import DefinitionError, Execution, validate
from pipelines.local.stepfunctions.runtime import Clock
from pipelines.local.stepfunctions.service import StepFunctions

ECHO = "arn:aws:states:::lambda:invoke"


def machine(states, start=None, **top):
    return dict(
        {"StartAt": start or next(iter(states)), "QueryLanguage": "JSONata"}, States=states, **top
    )


def integrations(task=None):
    return Integrations({ECHO: task or (lambda parameters, call: parameters)})


def run(definition, document=None, task=None):
    known = integrations(task)
    validate(definition, known)
    return Execution(definition, known, document, name="test").run()


def succeeded(definition, document=None, task=None):
    execution = run(definition, document, task)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    return execution.output


def evaluate(expression, document=None):
    """One expression evaluated by a Pass state's Output."""
    return succeeded(machine({"P": {"Type": "Pass", "Output": expression, "End": True}}), document)


# -- 1. Arguments: the guide's conversion example (input {"title": "Doctor"}; the "name" field
# reads a variable, which this slice does not have, so it is left out) ---------------------


@pytest.mark.fast
def test_arguments_evaluate_expressions_and_leave_other_strings_literal():
    seen = []

    def task(parameters, call):
        seen.append(parameters)
        return {"ok": True}

    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Arguments": {
                    "static": "Hello",
                    "title": "{% $states.input.title %}",
                    "not-evaluated": "$customerName",
                },
                "End": True,
            }
        }
    )
    # "Output" left out: a Task's output is its result ($states.result)
    assert succeeded(definition, {"title": "Doctor"}, task) == {"ok": True}
    assert seen == [{"static": "Hello", "title": "Doctor", "not-evaluated": "$customerName"}]


@pytest.mark.fast
def test_expressions_anywhere_in_arguments_and_a_task_without_arguments_gets_its_input():
    seen = []

    def task(parameters, call):
        seen.append(parameters)
        return parameters

    nested = {
        "T": {
            "Type": "Task",
            "Resource": ECHO,
            "Arguments": {"a": [{"b": "{% $states.input.n * 2 %}"}, " {% 1 %}"], "c": 1},
            "Next": "U",
        },
        "U": {"Type": "Task", "Resource": ECHO, "End": True},
    }
    out = succeeded(machine(nested), {"n": 21}, task)
    # a string with a space before {% is a literal (the guide: it must start with {% and end
    # with %})
    assert seen == [{"a": [{"b": 42}, " {% 1 %}"], "c": 1}, out]
    assert out == {"a": [{"b": 42}, " {% 1 %}"], "c": 1}


# -- 2. Output and $states: input, result, context ---------------------------------------


@pytest.mark.fast
def test_output_reads_the_result_the_input_and_the_context():
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Arguments": {"price": "{% $states.input.price %}"},
                "Output": {
                    "charged": "{% $states.result.price * $states.input.quantity %}",
                    "state": "{% $states.context.State.Name %}",
                    "execution": "{% $states.context.Execution.Name %}",
                },
                "End": True,
            }
        }
    )
    assert succeeded(definition, {"price": 5, "quantity": 3}) == {
        "charged": 15,
        "state": "T",
        "execution": "test",
    }


@pytest.mark.fast
def test_a_whole_string_expression_gives_its_value_of_any_type():
    document = {"items": [{"price": 2}, {"price": 3}], "name": "Ada"}
    assert evaluate("{% $sum($states.input.items.price) %}", document) == 5
    assert evaluate("{% $states.input.items.price %}", document) == [2, 3]
    assert evaluate("{% 'Hello ' & $states.input.name %}", document) == "Hello Ada"
    assert evaluate("{% $states.input.items[price > 2] %}", document) == {"price": 3}
    assert evaluate({"n": "{% $count($states.input.items) %}", "k": [1]}, document) == {
        "n": 2,
        "k": [1],
    }


@pytest.mark.fast
def test_pass_and_succeed_without_output_pass_their_input_on():
    definition = machine(
        {"P": {"Type": "Pass", "Next": "S"}, "S": {"Type": "Succeed"}},
    )
    assert succeeded(definition, {"a": 1}) == {"a": 1}
    definition["States"]["S"]["Output"] = "{% $states.input.a + 1 %}"
    assert succeeded(definition, {"a": 1}) == 2


# -- 3. QueryLanguage per state: a JSONata state in a JSONPath machine, and the reverse -------


@pytest.mark.fast
def test_query_language_per_state():
    definition = {
        "StartAt": "Path",
        "States": {
            "Path": {"Type": "Pass", "Parameters": {"x.$": "$.a"}, "Next": "Nata"},
            "Nata": {
                "QueryLanguage": "JSONata",
                "Type": "Pass",
                "Output": {"y": "{% $states.input.x * 10 %}"},
                "End": True,
            },
        },
    }
    assert succeeded(definition, {"a": 4}) == {"y": 40}


# -- 4. Choice: Condition, a rule's Output, Default; a non-boolean Condition --------------


def _choice():
    return machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $states.input.age >= 18 %}",
                        "Next": "Adult",
                        "Output": {"who": "adult"},
                    },
                    {"Condition": "{% $contains($states.input.name, 'Kid') %}", "Next": "Kid"},
                ],
                "Default": "Other",
                "Output": {"who": "{% $states.input.name %}"},
            },
            "Adult": {"Type": "Succeed"},
            "Kid": {"Type": "Succeed"},
            "Other": {"Type": "Succeed"},
        }
    )


@pytest.mark.fast
def test_choice_conditions_pick_the_next_state_and_the_output():
    adult = run(_choice(), {"age": 30, "name": "Ada"})
    assert adult.output == {"who": "adult"}
    entered = [e for e in adult.history.events if e["type"] == "SucceedStateEntered"]
    assert entered[0]["stateEnteredEventDetails"]["name"] == "Adult"
    assert succeeded(_choice(), {"age": 9, "name": "Kid Ada"}) == {"who": "Kid Ada"}
    other = run(_choice(), {"age": 9, "name": "Bob"})
    assert other.output == {"who": "Bob"}
    assert [
        e["stateEnteredEventDetails"]["name"]
        for e in other.history.events
        if e["type"] == "SucceedStateEntered"
    ] == ["Other"]


@pytest.mark.fast
def test_a_condition_that_is_not_a_boolean_fails_with_query_evaluation_error():
    definition = _choice()
    definition["States"]["C"]["Choices"][0]["Condition"] = "{% $states.input.age %}"
    execution = run(definition, {"age": 30, "name": "Ada"})
    assert execution.status == "FAILED"
    assert execution.error == "States.QueryEvaluationError"


# -- 5. Fail: Error and Cause as expressions; Catch: Output with $states.errorOutput ------


@pytest.mark.fast
def test_fail_error_and_cause_are_evaluated():
    definition = machine(
        {
            "F": {
                "Type": "Fail",
                "Error": "{% $states.input.code %}",
                "Cause": "{% 'failed: ' & $states.input.why %}",
            }
        }
    )
    execution = run(definition, {"code": "Custom.Error", "why": "no stock"})
    assert (execution.status, execution.error, execution.cause) == (
        "FAILED",
        "Custom.Error",
        "failed: no stock",
    )


@pytest.mark.fast
def test_catch_output_reads_the_error_output_and_the_input():
    def task(parameters, call):
        raise RuntimeError("boom")

    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Output": {
                            "error": "{% $states.errorOutput.Error %}",
                            "order": "{% $states.input.order %}",
                        },
                        "Next": "Done",
                    }
                ],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        }
    )
    assert succeeded(definition, {"order": 7}, task) == {"error": "States.TaskFailed", "order": 7}
    del definition["States"]["T"]["Catch"][0]["Output"]  # the default: the error output
    assert succeeded(definition, {"order": 7}, task) == {
        "Error": "States.TaskFailed",
        "Cause": "RuntimeError: boom",
    }


@pytest.mark.fast
def test_an_expression_that_fails_to_evaluate_is_query_evaluation_error():
    execution = run(
        machine({"P": {"Type": "Pass", "Output": "{% $parse('not json') %}", "End": True}})
    )
    assert (execution.status, execution.error) == ("FAILED", "States.QueryEvaluationError")


# -- 6. The functions Step Functions adds (the guide's "JSONata functions provided by Step
# Functions"; the values of $partition and $range as the guide gives them) ------------------


@pytest.mark.fast
def test_partition_and_range():
    assert evaluate("{% $partition([1, 2, 3, 4], 2) %}") == [[1, 2], [3, 4]]
    assert evaluate("{% $partition([1, 2, 3, 4, 5, 6, 7, 8, 9], 3) %}") == [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
    ]
    assert evaluate("{% $partition([1, 2, 3], 2) %}") == [[1, 2], [3]]
    assert evaluate("{% $range(0, 10, 2) %}") == [0, 2, 4, 6, 8, 10]
    assert evaluate("{% $range(5, 1, -2) %}") == [5, 3, 1]


@pytest.mark.fast
def test_hash_random_uuid_parse():
    assert (
        evaluate("{% $hash('input data', 'SHA-256') %}")
        == hashlib.sha256(b"input data").hexdigest()
    )
    assert (
        evaluate("{% $hash($states.input.content, 'MD5') %}", {"content": "x"})
        == hashlib.md5(b"x").hexdigest()
    )
    first = evaluate("{% $random() %}")
    assert 0 <= first < 1
    seeded = "{% [$random($states.input.seed), $random($states.input.seed)] %}"
    one, two = evaluate(seeded, {"seed": 7})
    assert one == two and 0 <= one < 1  # the same seed, the same number
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        evaluate("{% $uuid() %}"),
    )
    assert evaluate("""{% $parse('{"key": "value", "n": [1, 2]}') %}""") == {
        "key": "value",
        "n": [1, 2],
    }


# -- 7. Refused at CreateStateMachine, naming the state: JSONPath fields, a syntax error, a
# JSONPath Choice rule -------------------------------------------------------------------------


@pytest.mark.fast
@pytest.mark.parametrize(
    "state, message",
    [
        ({"Type": "Pass", "InputPath": "$.a", "End": True}, "InputPath is a JSONPath field"),
        ({"Type": "Pass", "Parameters": {"a": 1}, "End": True}, "Parameters is a JSONPath field"),
        ({"Type": "Pass", "ResultPath": "$.a", "End": True}, "ResultPath is a JSONPath field"),
        ({"Type": "Pass", "OutputPath": "$.a", "End": True}, "OutputPath is a JSONPath field"),
        (
            {"Type": "Task", "Resource": ECHO, "ResultSelector": {"a": 1}, "End": True},
            "ResultSelector is a JSONPath field",
        ),
        ({"Type": "Pass", "Output": "{% 1 + %}", "End": True}, "Output"),
        (
            {"Type": "Task", "Resource": ECHO, "Arguments": {"a": ["{% $x( %}"]}, "End": True},
            "Arguments",
        ),
        (
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.a", "NumericEquals": 1, "Next": "X"}],
                "Default": "X",
            },
            "Condition, not NumericEquals, Variable",
        ),
        (
            {"Type": "Choice", "Choices": [{"Condition": "{% ( %}", "Next": "X"}], "Default": "X"},
            "Condition",
        ),
        (
            {
                "Type": "Task",
                "Resource": ECHO,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "X"}],
                "End": True,
            },
            "Catch 0: ResultPath",
        ),
        (
            {"Type": "Wait", "SecondsPath": "$.s", "End": True},
            "SecondsPath is a JSONPath field",
        ),
        (
            {
                "Type": "Map",
                "ItemsPath": "$.a",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            },
            "ItemsPath is a JSONPath field",
        ),  # fmt: skip
        ({"Type": "Wait", "Seconds": "{% $x + %}", "End": True}, "Seconds"),
    ],
)
def test_jsonpath_fields_and_syntax_errors_are_refused_naming_the_state(state, message):
    definition = machine({"Bad": state, "X": {"Type": "Succeed"}})
    with pytest.raises(DefinitionError) as refused:
        validate(definition, integrations())
    assert "state 'Bad': " in str(refused.value)
    assert message in str(refused.value)


@pytest.mark.fast
def test_create_state_machine_refuses_a_syntax_error_as_invalid_definition(tmp_path):
    sfn = StepFunctions(tmp_path / "home", integrations(), Clock())
    definition = machine(
        {"Broken": {"Type": "Pass", "Output": "{% $states.input. %}", "End": True}}
    )
    with pytest.raises(ClientError) as refused:
        sfn.create_state_machine(
            name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::1:role/r"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "Broken" in refused.value.response["Error"]["Message"]


# -- 8. Bounded: an expression that would build more than any payload holds, or whose value is
# no JSON, fails the state with States.QueryEvaluationError at once (a hostile review's cases:
# the twin must neither crash nor run for minutes) ----------------------------------------------


@pytest.mark.fast
@pytest.mark.parametrize(
    "expression",
    [
        "$range(0, 1e9, 1)",
        "$pad('a', 1e9)",
        "$sum",
        "$error('boom')",
        "$partition([1], 0)",
        "$hash('a', 'SHA-3')",
        "$parse('{')",
        "$states.input.nothing",
    ],
)
def test_hostile_expressions_fail_the_state_cleanly(expression):
    definition = machine({"P": {"Type": "Pass", "Output": "{% " + expression + " %}", "End": True}})
    execution = run(definition, {})
    assert (execution.status, execution.error) == ("FAILED", "States.QueryEvaluationError")
    assert "'P'" in execution.cause
