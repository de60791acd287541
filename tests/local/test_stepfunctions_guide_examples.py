"""Every example of JSONata and of workflow variables in the Step Functions developer guide that
states an input and an output (or a variable's value), run through the local interpreter with
the guide's own definitions, inputs and outputs; and every rule those pages state for variables
and JSONata (scope, names, limits, evaluation order, errors), each test naming its page and
section. Many fail until the interpreter has JSONata in Wait/Parallel/Map and `Assign`: they are
the specification for that work, not to be marked xfail.

Pages, read through the search tool (docs, pages and code corpora) on 2026-12-07:

- https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html ("Transforming
  data with JSONata in Step Functions"): a verbatim copy of the English page was found in the
  code corpus; every section used below.
- https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html ("Passing data
  between states with variables"): a verbatim copy of the English page was found in the code
  corpus; every section used below.
- https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html ("Choice Rules
  (JSONata)"): the docs corpus has the rule examples ($foo = 1, $type = 'local', ...); the
  newer Chinese edition (docs.amazonaws.cn/zh_cn/.../state-choice.md) adds a rule's own
  `Assign` and a state-level `Assign` that "applies whichever rule matches"; the English page
  of that edition was not retrievable.
- https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html (fields Seconds and
  Timestamp in JSONata): retrieved from the docs corpus; the page has no JSONata example with
  an input and an output, so the tests check the field rules it states.
- https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html (Arguments, Output,
  Assign): the field list was retrieved; the page's only full example is JSONPath.
- https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html (the
  JSONata Map context example with Map.Item.Index/Value/Source): only a condensed copy (in the
  code corpus) was retrievable, not the page itself.
- https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemselector.html (the
  ItemSelector example, JSONPath): retrieved from the docs corpus.
- The state-map, state-map-inline, state-pass, state-task, state-fail and state-succeed pages,
  and the Workflow Studio "Using JSONata" pages, were not retrievable beyond their openings
  (field lists without examples); the Map state's JSONata MaxConcurrency is as the AWS CDK
  reference gives it (MapJsonataProps.jsonata_max_concurrency).

Where the guide names no error for a rule (a variable out of scope, an undefined variable), a
test accepts either a refusal when the definition is validated or a failed execution.
"""

import hashlib
import json
import re

import pytest
from test_stepfunctions_jsonata import ECHO, integrations, machine, run, succeeded

from pipelines.local.stepfunctions.interpreter import DefinitionError, validate

TRANSFORMING = "https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html"
VARIABLES = "https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html"
QUERY_ERROR = "States.QueryEvaluationError"
KIB = 1024


def jsonpath(states, start=None, **top):
    """A JSONPath machine (the default query language)."""
    return dict({"StartAt": start or next(iter(states))}, States=states, **top)


def capturing(result=None):
    """A task that records its parameters and answers `result` (its parameters if None)."""
    calls = []

    def task(parameters, call):
        calls.append(parameters)
        return parameters if result is None else result

    return calls, task


def refused(definition, *named):
    """Refused at validation, the message naming each of `named` (the field or variable the
    rule is about, so that a refusal for another reason does not pass)."""
    with pytest.raises(DefinitionError) as raised:
        validate(definition, integrations())
    message = str(raised.value)
    for name in named:
        assert name in message, message
    return message


def failed(definition, document=None, task=None, error=QUERY_ERROR):
    execution = run(definition, document, task)
    assert execution.status == "FAILED", execution.output
    if error is not None:
        assert execution.error == error, (execution.error, execution.cause)
    return execution


def refused_or_failed(definition, document=None, task=None, error=None):
    """The guide states the rule but not when it is enforced: a refusal at validation, or a
    failed execution."""
    try:
        validate(definition, integrations())
    except DefinitionError:
        return
    failed(definition, document, task, error)


def assigning(variables, following):
    """A JSONata Pass state that assigns `variables` and passes its input on to `following`."""
    return {"Type": "Pass", "Assign": variables, "Next": following}


# == transforming-data.html =====================================================================


# TRANSFORMING, opening section: "Given input { "title" : "Doctor" } and variable customerName
# assigned to "María", both state machines will produce the following JSON result"
GUIDE_CONVERSION_RESULT = {
    "static": "Hello",
    "title": "Doctor",
    "name": "María",
    "not-evaluated": "$customerName",
}


@pytest.mark.fast
def test_transforming_conversion_example_jsonpath_parameters_read_a_variable():
    calls, task = capturing({"done": True})
    definition = jsonpath(
        {
            "Set": {"Type": "Pass", "Assign": {"customerName": "María"}, "Next": "T"},
            "T": {
                "QueryLanguage": "JSONPath",
                "Type": "Task",
                "Resource": ECHO,
                "Parameters": {
                    "static": "Hello",
                    "title.$": "$.title",
                    "name.$": "$customerName",
                    "not-evaluated": "$customerName",
                },
                "End": True,
            },
        }
    )
    succeeded(definition, {"title": "Doctor"}, task)
    assert calls == [GUIDE_CONVERSION_RESULT]


@pytest.mark.fast
def test_transforming_conversion_example_jsonata_arguments_read_a_variable():
    calls, task = capturing({"done": True})
    definition = machine(
        {
            "Set": assigning({"customerName": "María"}, "T"),
            "T": {
                "QueryLanguage": "JSONata",
                "Type": "Task",
                "Resource": ECHO,
                "Arguments": {
                    "static": "Hello",
                    "title": "{% $states.input.title %}",
                    "name": "{% $customerName %}",
                    "not-evaluated": "$customerName",
                },
                "End": True,
            },
        }
    )
    succeeded(definition, {"title": "Doctor"}, task)
    assert calls == [GUIDE_CONVERSION_RESULT]


@pytest.mark.fast
def test_transforming_assign_and_output_occur_in_parallel():
    # TRANSFORMING, opening section: "Assign and Output steps occur in parallel. If you choose to
    # transform data during variable assignment, that transformed data will not be available in
    # the Output step."
    definition = machine(
        {
            "Init": assigning({"total": 1}, "Both"),
            "Both": {
                "Type": "Pass",
                "Assign": {"total": "{% $states.input.price * 2 %}"},
                "Output": {"seen": "{% $total %}", "again": "{% $states.input.price * 2 %}"},
                "Next": "After",
            },
            "After": {"Type": "Pass", "Output": {"total": "{% $total %}"}, "End": True},
        }
    )
    execution = run(definition, {"price": 21})
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output == {"total": 42}
    outputs = [
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in execution.history.events
        if e["type"] == "PassStateExited" and e["stateExitedEventDetails"]["name"] == "Both"
    ]
    assert outputs == [{"seen": 1, "again": 42}]


@pytest.mark.fast
def test_transforming_query_language_defaults_to_jsonpath_and_output_is_jsonata_only():
    # TRANSFORMING, "QueryLanguage field": "If the top-level QueryLanguage field is omitted, it
    # defaults to "JSONPath"."; "Arguments and Output Fields": "The Arguments and Output fields
    # only support JSONata, so it is invalid to use them with workflows that use JSONPath."
    refused(jsonpath({"P": {"Type": "Pass", "Output": {"a": 1}, "End": True}}), "Output")
    refused(
        jsonpath({"T": {"Type": "Task", "Resource": ECHO, "Arguments": {"a": 1}, "End": True}}),
        "Arguments",
    )


@pytest.mark.fast
def test_transforming_an_unclosed_expression_is_a_validation_error():
    # TRANSFORMING, "Writing JSONata expressions in JSON strings": "Improperly opening or closing
    # the expression will result in a validation error."
    refused(machine({"P": {"Type": "Pass", "Output": "{% $states.input.a", "End": True}}), "Output")


@pytest.mark.fast
def test_transforming_timeout_seconds_as_an_expression():
    # TRANSFORMING, "Writing JSONata expressions in JSON strings": "TimeoutSeconds" :
    # "{% $timeout %}"; "Handling expression errors": a string $timeout is a type
    # incompatibility, a negative one a value out of range, both States.QueryEvaluationError.
    def definition():
        return machine(
            {
                "Set": assigning({"timeout": "{% $states.input.timeout %}"}, "T"),
                "T": {
                    "Type": "Task",
                    "Resource": ECHO,
                    "TimeoutSeconds": "{% $timeout %}",
                    "Arguments": {"ok": True},
                    "End": True,
                },
            }
        )

    assert succeeded(definition(), {"timeout": 30}) == {"ok": True}
    failed(definition(), {"timeout": "30"})
    failed(definition(), {"timeout": -5})


@pytest.mark.fast
def test_transforming_arguments_field_reads_a_variable():
    # TRANSFORMING, "Writing JSONata expressions in JSON strings": "Arguments" :
    # {"field1" : "{% $name %}"} in a Task state
    calls, task = capturing({"ok": 1})
    definition = machine(
        {
            "Set": assigning({"name": "Ada"}, "T"),
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Arguments": {"field1": "{% $name %}"},
                "End": True,
            },
        }
    )
    succeeded(definition, {}, task)
    assert calls == [{"field1": "Ada"}]


@pytest.mark.fast
def test_transforming_map_items_with_an_expression_element():
    # TRANSFORMING, "Writing JSONata expressions in JSON strings": "Items": [1, "{% $two %}", 3]
    # in a Map state
    definition = machine(
        {
            "Set": assigning({"two": 2}, "M"),
            "M": {
                "Type": "Map",
                "Items": [1, "{% $two %}", 3],
                "ItemProcessor": {
                    "StartAt": "Echo",
                    "States": {"Echo": {"Type": "Pass", "End": True}},
                },
                "End": True,
            },
        }
    )
    assert succeeded(definition, {}) == [1, 2, 3]


@pytest.mark.fast
def test_transforming_map_items_must_evaluate_to_an_array_or_object():
    # TRANSFORMING: "The Map state Items field will accept a JSON array, a JSON object, or a
    # JSONata expression that must evaluate to an array or object."; "Handling expression
    # errors": a type the field will not accept is States.QueryEvaluationError.
    def mapping(items):
        return machine(
            {
                "M": {
                    "Type": "Map",
                    "Items": items,
                    "ItemProcessor": {
                        "StartAt": "Echo",
                        "States": {"Echo": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            }
        )

    assert succeeded(mapping("{% $states.input.list %}"), {"list": ["a", "b"]}) == ["a", "b"]
    failed(mapping("{% $states.input.text %}"), {"text": "not a list"})


@pytest.mark.fast
def test_transforming_resource_and_type_must_be_constant_strings():
    # TRANSFORMING, "Writing JSONata expressions in JSON strings": "each state's Type field must
    # be set to a constant string. Similarly, the Task state's Resource field must be a
    # constant string."
    refused(
        machine(
            {"T": {"Type": "Task", "Resource": "{% $states.input.arn %}", "End": True}},
        )
    )
    refused(machine({"T": {"Type": "{% 'Pass' %}", "End": True}}))


@pytest.mark.fast
@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Pass", "Output": "{% $states.result %}", "End": True},
        {
            "Type": "Task",
            "Resource": ECHO,
            "Arguments": {"a": "{% $states.result %}"},
            "End": True,
        },
        {"Type": "Task", "Resource": ECHO, "Output": "{% $states.errorOutput %}", "End": True},
        {"Type": "Pass", "Assign": {"e": "{% $states.errorOutput %}"}, "End": True},
    ],
    ids=["pass-result", "task-arguments-result", "task-output-erroroutput", "pass-assign-error"],
)
def test_transforming_result_and_error_output_where_not_accessible_are_refused(state):
    # TRANSFORMING, "Reserved variable : $states": "Attempting to access $states.result or
    # $states.errorOutput in fields and states where they are not accessible will be caught at
    # creation, update, or validation of the state machine."
    message = refused(machine({"Bad": state}))
    assert "result" in message or "errorOutput" in message, message


@pytest.mark.fast
def test_transforming_error_output_in_a_catch_assign_and_output():
    # TRANSFORMING, "Reserved variable : $states": "$states.errorOutput can be used in the Catch
    # field's Assign or Output."
    def boom(parameters, call):
        raise RuntimeError("no stock")

    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"failure": "{% $states.errorOutput.Error %}"},
                        "Output": {"cause": "{% $states.errorOutput.Cause %}"},
                        "Next": "Done",
                    }
                ],
                "End": True,
            },
            "Done": {
                "Type": "Pass",
                "Output": {"failure": "{% $failure %}", "cause": "{% $states.input.cause %}"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {}, boom) == {
        "failure": "States.TaskFailed",
        "cause": "RuntimeError: no stock",
    }


@pytest.mark.fast
def test_transforming_type_error_is_query_evaluation_error():
    # TRANSFORMING, "Handling expression errors": "Type error - An expression, such as
    # {% $x + $y %}, will fail if $x or $y is not a number."
    definition = machine(
        {
            "Set": assigning({"x": "{% $states.input.x %}", "y": "{% $states.input.y %}"}, "Add"),
            "Add": {"Type": "Pass", "Output": "{% $x + $y %}", "End": True},
        }
    )
    assert succeeded(definition, {"x": 1, "y": 2}) == 3
    failed(definition, {"x": 1, "y": "two"})


@pytest.mark.fast
def test_transforming_an_undefined_result_is_query_evaluation_error():
    # TRANSFORMING, "Handling expression errors": "Failure to return a result - JSON cannot
    # represent an undefined value expression, so the expression
    # {% $data.thisFieldDoesNotExist %} would result in an error."
    definition = machine(
        {
            "Set": assigning({"data": {"present": 1}}, "Read"),
            "Read": {"Type": "Pass", "Output": "{% $data.thisFieldDoesNotExist %}", "End": True},
        }
    )
    failed(definition, {})
    failed(
        machine({"P": {"Type": "Pass", "Output": "{% $states.input.missing %}", "End": True}}),
        {"present": 1},
    )


@pytest.mark.fast
def test_transforming_a_function_value_is_query_evaluation_error():
    # TRANSFORMING, "Handling expression errors": a value JSON cannot represent fails with
    # States.QueryEvaluationError ("In each case, the interpreter will throw the error:
    # States.QueryEvaluationError"). $sum without arguments is JSONata's function itself, which
    # JSON cannot represent (the Output must not crash the interpreter).
    failed(machine({"P": {"Type": "Pass", "Output": {"f": "{% $sum %}"}, "End": True}}), {})


@pytest.mark.fast
def test_transforming_a_task_catches_query_evaluation_error():
    # TRANSFORMING, "Handling expression errors": "Your Task, Map, and Parallel states can provide
    # a Catch field to catch the error, and a Retry field to retry on the error."
    calls, task = capturing()

    def definition(catchable):
        return machine(
            {
                catchable: {
                    "Type": catchable,
                    "Resource": ECHO,
                    "Arguments": {"sum": "{% $states.input.x + $states.input.y %}"},
                    "Retry": [{"ErrorEquals": [QUERY_ERROR], "MaxAttempts": 1}],
                    "Catch": [{"ErrorEquals": [QUERY_ERROR], "Next": "Recovered"}],
                    "End": True,
                },
                "Recovered": {"Type": "Pass", "End": True},
            }
        )

    output = succeeded(definition("Task"), {"x": 1, "y": "two"}, task)
    assert output["Error"] == QUERY_ERROR
    assert calls == []  # the Arguments never evaluated, so no call was made

    parallel = machine(
        {
            "P": {
                "Type": "Parallel",
                "Arguments": "{% $states.input.x + $states.input.y %}",
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}],
                "Catch": [{"ErrorEquals": [QUERY_ERROR], "Next": "Recovered"}],
                "End": True,
            },
            "Recovered": {"Type": "Pass", "End": True},
        }
    )
    assert succeeded(parallel, {"x": 1, "y": "two"})["Error"] == QUERY_ERROR

    mapping = machine(
        {
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.x + $states.input.y %}",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "Catch": [{"ErrorEquals": [QUERY_ERROR], "Next": "Recovered"}],
                "End": True,
            },
            "Recovered": {"Type": "Pass", "End": True},
        }
    )
    assert succeeded(mapping, {"x": 1, "y": "two"})["Error"] == QUERY_ERROR


@pytest.mark.fast
@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Task", "Resource": ECHO, "TimeoutSecondsPath": "$.t", "End": True},
        {"Type": "Wait", "SecondsPath": "$.s", "End": True},
        {"Type": "Wait", "TimestampPath": "$.t", "End": True},
        {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
            "End": True,
        },
        {
            "Type": "Map",
            "Parameters": {"a": 1},
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
            "End": True,
        },
        {
            "Type": "Parallel",
            "Parameters": {"a": 1},
            "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}],
            "End": True,
        },
        {
            "Type": "Parallel",
            "ResultSelector": {"a.$": "$[0]"},
            "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}],
            "End": True,
        },
        {"Type": "Wait", "Seconds": 0, "OutputPath": "$.a", "End": True},
    ],
    ids=[
        "TimeoutSecondsPath",
        "SecondsPath",
        "TimestampPath",
        "ItemsPath",
        "map-Parameters",
        "parallel-Parameters",
        "parallel-ResultSelector",
        "wait-OutputPath",
    ],
)
def test_transforming_path_fields_are_refused_in_jsonata_states(state, request):
    # TRANSFORMING, "No more path fields" and "Arguments and Output Fields": "InputPath,
    # Parameters, ResultSelector, ResultPath, OutputPath, and other JSONPath fields are only
    # supported in JSONPath, so it is invalid to use path-based fields when using JSONata";
    # "the Map state ItemsPath has been replaced with the Items field"
    field = request.node.callspec.id.split("-")[-1]
    refused(machine({"Bad": state}), field)


@pytest.mark.fast
def test_transforming_items_is_refused_in_a_jsonpath_map():
    # TRANSFORMING, "No more path fields": Items replaced ItemsPath for JSONata; Items is not a
    # JSONPath field.
    refused(
        jsonpath(
            {
                "M": {
                    "Type": "Map",
                    "Items": [1, 2],
                    "ItemProcessor": {
                        "StartAt": "I",
                        "States": {"I": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            }
        ),
        "Items",
    )


@pytest.mark.fast
def test_transforming_output_accepts_any_json_value():
    # TRANSFORMING, "Arguments and Output Fields": "Output can also accept any type of JSON value
    # too, for example: "Output":true, "Output":42."
    assert succeeded(machine({"P": {"Type": "Pass", "Output": True, "End": True}}), {}) is True
    assert succeeded(machine({"P": {"Type": "Pass", "Output": 42, "End": True}}), {}) == 42


@pytest.mark.fast
def test_transforming_choice_check_price_condition_reads_a_variable():
    # TRANSFORMING, "Choice state": "Condition": "{% $current_price <=
    # $states.input.desired_price %}", "Default": "Pause"
    definition = machine(
        {
            "Store": assigning({"current_price": "{% $states.input.current_price %}"}, "Check"),
            "Check": {
                "Type": "Choice",
                "Default": "Pause",
                "Choices": [
                    {
                        "Condition": "{% $current_price <= $states.input.desired_price %}",
                        "Next": "Send Notification",
                    }
                ],
            },
            "Send Notification": {"Type": "Succeed", "Output": "notify"},
            "Pause": {"Type": "Succeed", "Output": "pause"},
        }
    )
    assert succeeded(definition, {"current_price": 9, "desired_price": 10}) == "notify"
    assert succeeded(definition, {"current_price": 11, "desired_price": 10}) == "pause"


@pytest.mark.fast
def test_transforming_condition_is_only_for_jsonata():
    # TRANSFORMING, "Choice state": "Variables and comparison fields are only available for
    # JSONPath. Condition is only available for JSONata."
    refused(
        jsonpath(
            {
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% true %}", "Next": "X"}],
                    "Default": "X",
                },
                "X": {"Type": "Succeed"},
            }
        ),
        "Condition",
    )


@pytest.mark.fast
def test_transforming_example_input_and_output():
    # TRANSFORMING, "JSONata examples" > "Example: Input and Output" (definition, input and output
    # as the guide gives them)
    definition = {
        "Comment": "Input and Output example using JSONata",
        "QueryLanguage": "JSONata",
        "StartAt": "Basic Input and Output",
        "States": {
            "Basic Input and Output": {
                "QueryLanguage": "JSONata",
                "Type": "Succeed",
                "Output": {
                    "lastName": "{% 'Last=>' & $states.input.customer.lastName %}",
                    "orderValue": "{% $states.input.order.total %}",
                },
            }
        },
    }
    document = {
        "customer": {"firstName": "Martha", "lastName": "Rivera"},
        "order": {"items": 7, "total": 27.91},
    }
    assert succeeded(definition, document) == {"lastName": "Last=>Rivera", "orderValue": 27.91}


@pytest.mark.fast
def test_transforming_example_filtering_with_jsonata():
    # TRANSFORMING, "JSONata examples" > "Example: Filtering with JSONata"
    definition = {
        "Comment": "Filter products using JSONata",
        "QueryLanguage": "JSONata",
        "StartAt": "FilterDietProducts",
        "States": {
            "FilterDietProducts": {
                "Type": "Pass",
                "Output": {"dietProducts": "{% $states.input.products[calories=0] %}"},
                "End": True,
            }
        },
    }
    document = {
        "products": [
            {"calories": 140, "flavour": "Cola", "name": "Product-1"},
            {"calories": 0, "flavour": "Cola", "name": "Product-2"},
            {"calories": 160, "flavour": "Orange", "name": "Product-3"},
            {"calories": 100, "flavour": "Orange", "name": "Product-4"},
            {"calories": 0, "flavour": "Lime", "name": "Product-5"},
        ]
    }
    assert succeeded(definition, document) == {
        "dietProducts": [
            {"calories": 0, "flavour": "Cola", "name": "Product-2"},
            {"calories": 0, "flavour": "Lime", "name": "Product-5"},
        ]
    }


def _assign_then_read(assign, document=None):
    """The functions section's examples are Assign fields: assign, then read every variable."""
    definition = machine(
        {
            "Assign": assigning(assign, "Read"),
            "Read": {
                "Type": "Pass",
                "Output": {name: "{%% $%s %%}" % name for name in assign},
                "End": True,
            },
        }
    )
    return succeeded(definition, document)


@pytest.mark.fast
def test_transforming_functions_partition_and_range_in_assign():
    # TRANSFORMING, "JSONata functions provided by Step Functions": $partition, $range
    out = _assign_then_read(
        {
            "arrayPartition": "{% $partition([1,2,3,4], $states.input.chunkSize) %}",
            "arrayRange": "{% $range(0, 10, 2) %}",
        },
        {"chunkSize": 2},
    )
    assert out == {"arrayPartition": [[1, 2], [3, 4]], "arrayRange": [0, 2, 4, 6, 8, 10]}
    # "The length of the last array chunk may be less than the length of the previous array
    # chunks"
    assert _assign_then_read(
        {"arrayPartition": "{% $partition([1,2,3,4], $states.input.chunkSize) %}"},
        {"chunkSize": 3},
    ) == {"arrayPartition": [[1, 2, 3], [4]]}


@pytest.mark.fast
def test_transforming_functions_round_non_integer_arguments_down():
    # TRANSFORMING, "JSONata functions provided by Step Functions": "Built-in JSONata functions
    # that require integer values as parameters will automatically round down any non-integer
    # numbers provided."
    assert _assign_then_read({"p": "{% $partition([1,2,3,4], 2.7) %}"}) == {"p": [[1, 2], [3, 4]]}


@pytest.mark.fast
def test_transforming_functions_hash_random_uuid_parse_in_assign():
    # TRANSFORMING, "JSONata functions provided by Step Functions": $hash (with the algorithm in
    # a variable), $random with and without a seed, $uuid, $parse
    definition = machine(
        {
            "Algorithm": assigning({"hashAlgorithmName": "SHA-256"}, "Assign"),
            "Assign": assigning(
                {
                    "myHash": "{% $hash($states.input.content, $hashAlgorithmName) %}",
                    "randNoSeed": "{% $random() %}",
                    "randSeeded": "{% $random($states.input.seed) %}",
                    "uniqueId": "{% $uuid() %}",
                    "deserializedPayload": "{% $parse($states.input.json_string) %}",
                },
                "Read",
            ),
            "Read": {
                "Type": "Pass",
                "Output": {
                    "myHash": "{% $myHash %}",
                    "randNoSeed": "{% $randNoSeed %}",
                    "randSeeded": "{% $randSeeded %}",
                    "again": "{% $random($states.input.seed) %}",
                    "uniqueId": "{% $uniqueId %}",
                    "deserializedPayload": "{% $deserializedPayload %}",
                },
                "End": True,
            },
        }
    )
    document = {"content": "input data", "seed": 7, "json_string": '{"a": [1, 2]}'}
    out = succeeded(definition, document)
    assert out["myHash"] == hashlib.sha256(b"input data").hexdigest()
    assert 0 <= out["randNoSeed"] < 1
    assert out["randSeeded"] == out["again"]  # "same seed returns identical number"
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", out["uniqueId"]
    )
    assert out["deserializedPayload"] == {"a": [1, 2]}


@pytest.mark.fast
def test_transforming_eval_is_not_available():
    # TRANSFORMING (current edition, "Supported JSONata version"): "All built-in JSONata
    # functions ... are supported, with one exception: $eval is not available - use $parse
    # instead." Also the $parse entry: "$eval is not supported in Step Functions workflows."
    refused_or_failed(
        machine({"P": {"Type": "Pass", "Output": "{% $eval('1 + 1') %}", "End": True}}),
        {},
        error=QUERY_ERROR,
    )


# == workflow-variables.html ====================================================================


@pytest.mark.fast
def test_variables_assign_constants_and_reference_them_with_a_dollar():
    # VARIABLES, "Conceptual overview of variables": "Assign": {"productName": "product1",
    # "count" : 42, "available" : true}; "To reference a variable, prepend the name with a dollar
    # sign ($), for example, $productName."
    definition = machine(
        {
            "Set": assigning({"productName": "product1", "count": 42, "available": True}, "Get"),
            "Get": {
                "Type": "Pass",
                "Output": ["{% $productName %}", "{% $count %}", "{% $available %}"],
                "End": True,
            },
        }
    )
    assert succeeded(definition, {}) == ["product1", 42, True]


@pytest.mark.fast
def test_variables_step_one_stores_and_step_five_reads():
    # VARIABLES, "Conceptual overview of variables": Step 1 stores the API data in 'x'; Steps 2
    # to 4 neither need nor pass it; Step 5 reads it.
    calls, task = capturing({"data": {"id": 7}})
    states = {
        "Step 1": {
            "Type": "Task",
            "Resource": ECHO,
            "Arguments": {},
            "Assign": {"x": "{% $states.result.data %}"},
            "Output": {},
            "Next": "Step 2",
        }
    }
    for n in (2, 3, 4):
        states["Step %d" % n] = {"Type": "Pass", "Output": {"step": n}, "Next": "Step %d" % (n + 1)}
    states["Step 5"] = {"Type": "Pass", "Output": {"x": "{% $x %}"}, "End": True}
    assert succeeded(machine(states), {}, task) == {"x": {"id": 7}}


def _every_kind_assigns():
    def processor():
        return {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}

    return machine(
        {
            "Pass": {"Type": "Pass", "Assign": {"fromPass": 1}, "Next": "Task"},
            "Task": {
                "Type": "Task",
                "Resource": ECHO,
                "Arguments": {"r": 2},
                "Assign": {"fromTask": "{% $states.result.r %}"},
                "Next": "Map",
            },
            "Map": {
                "Type": "Map",
                "Items": [1, 2],
                "ItemProcessor": processor(),
                "Assign": {"fromMap": "{% $count($states.result) %}"},
                "Next": "Parallel",
            },
            "Parallel": {
                "Type": "Parallel",
                "Branches": [processor()],
                "Assign": {"fromParallel": 4},
                "Next": "Choice",
            },
            "Choice": {
                "Type": "Choice",
                "Assign": {"fromChoice": 5},
                "Choices": [{"Condition": "{% true %}", "Next": "Wait"}],
            },
            "Wait": {"Type": "Wait", "Seconds": 0, "Assign": {"fromWait": 6}, "Next": "Read"},
            "Read": {
                "Type": "Pass",
                "Output": "{% [$fromPass, $fromTask, $fromMap, $fromParallel, $fromChoice, "
                "$fromWait] %}",
                "End": True,
            },
        }
    )


@pytest.mark.fast
def test_variables_pass_task_map_parallel_choice_wait_assign():
    # VARIABLES, "States that support variables": "Pass, Task, Map, Parallel, Choice, Wait."
    assert succeeded(_every_kind_assigns(), {}) == [1, 2, 2, 4, 5, 6]


@pytest.mark.fast
@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Succeed", "Assign": {"x": 1}},
        {"Type": "Fail", "Error": "E", "Assign": {"x": 1}},
    ],
    ids=["Succeed", "Fail"],
)
@pytest.mark.parametrize("language", ["JSONata", "JSONPath"])
def test_variables_succeed_and_fail_have_no_assign(state, language):
    # VARIABLES, "Assign field in ASL": "The Assign field is available at the top level of each
    # state (except Succeed and Fail)"
    refused({"QueryLanguage": language, "StartAt": "S", "States": {"S": state}}, "Assign")


@pytest.mark.fast
@pytest.mark.parametrize(
    "name",
    ["x", "productName", "café", "größe", "x1", "a" * 80],
)
def test_variables_names_that_are_unicode_identifiers_are_accepted(name):
    # VARIABLES, "Variable name syntax": Unicode identifiers (UAX #31), "The maximum length of a
    # variable name is 80."
    definition = machine(
        {
            "Set": assigning({name: 1}, "Get"),
            "Get": {"Type": "Pass", "Output": "{%% $%s %%}" % name, "End": True},
        }
    )
    assert succeeded(definition, {}) == 1


@pytest.mark.fast
@pytest.mark.parametrize(
    "name",
    ["1x", "my-var", "two words", "a" * 81, "x.y", "x[2]", ""],
    ids=["digit-first", "hyphen", "space", "81-long", "part-dot", "part-index", "empty"],
)
def test_variables_names_that_are_not_identifiers_are_refused(name):
    # VARIABLES, "Variable name syntax": "The first character of a variable name must be a
    # Unicode ID_Start character, and the second and subsequent characters must be Unicode
    # ID_Continue characters. The maximum length of a variable name is 80."; "Assign field in
    # ASL": "You cannot assign a value to a part of a variable. For example, you can
    # "Assign":{"x":42}, but you cannot "Assign":{"x.y":42} or "Assign":{"x[2]":42}."
    refused(machine({"Set": {"Type": "Pass", "Assign": {name: 42}, "End": True}}), "Assign")
    refused(jsonpath({"Set": {"Type": "Pass", "Assign": {name: 42}, "End": True}}), "Assign")


@pytest.mark.fast
def test_variables_states_is_reserved():
    # VARIABLES, "Reserved variable : $states": "Step Functions defines a single reserved variable
    # called $states."
    refused(machine({"Set": {"Type": "Pass", "Assign": {"states": 1}, "End": True}}), "$states")
    refused(jsonpath({"Set": {"Type": "Pass", "Assign": {"states": 1}, "End": True}}), "$states")


@pytest.mark.fast
def test_variables_states_input_is_the_original_input_in_every_field():
    # VARIABLES, "Reserved variable : $states": "$states.input always refers to the original
    # state input" (in Arguments, Assign and Output alike, whatever the task returned).
    calls, task = capturing({"replaced": True})
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Arguments": {"a": "{% $states.input.a %}"},
                "Assign": {"a": "{% $states.input.a %}"},
                "Output": {"a": "{% $states.input.a %}", "result": "{% $states.result %}"},
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Output": {"var": "{% $a %}", "input": "{% $states.input %}"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"a": 5}, task) == {
        "var": 5,
        "input": {"a": 5, "result": {"replaced": True}},
    }
    assert calls == [{"a": 5}]


def _inline(states, start=None):
    return {"StartAt": start or next(iter(states)), "States": states}


@pytest.mark.fast
def test_variables_parallel_branches_read_outer_variables():
    # VARIABLES, "Variable scope": "Parallel branches and Map iterations can access variable
    # values from outer scopes"
    definition = machine(
        {
            "Set": assigning({"outer": 10}, "P"),
            "P": {
                "Type": "Parallel",
                "Branches": [
                    _inline({"A": {"Type": "Pass", "Output": "{% $outer + 1 %}", "End": True}}),
                    _inline({"B": {"Type": "Pass", "Output": "{% $outer + 2 %}", "End": True}}),
                ],
                "End": True,
            },
        }
    )
    assert succeeded(definition, {}) == [11, 12]


@pytest.mark.fast
def test_variables_map_iterations_read_outer_variables_and_keep_their_own():
    # VARIABLES, "Variable scope": States inside Map "can refer to outer scope variables, but
    # they create and maintain their own separate workflow-local variables and values."
    definition = machine(
        {
            "Set": assigning({"factor": 3}, "M"),
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.numbers %}",
                "ItemProcessor": _inline(
                    {
                        "Scale": {
                            "Type": "Pass",
                            "Assign": {"scaled": "{% $states.input * $factor %}"},
                            "Next": "Report",
                        },
                        "Report": {"Type": "Pass", "Output": "{% $scaled %}", "End": True},
                    }
                ),
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"numbers": [1, 2, 3]}) == [3, 6, 9]


@pytest.mark.fast
def test_variables_a_branch_does_not_see_another_branchs_variables():
    # VARIABLES, "Variable scope": branches "do not have access to variable values from other
    # concurrent branches or iterations."
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    _inline({"A": {"Type": "Pass", "Assign": {"mine": 1}, "End": True}}),
                    _inline(
                        {
                            "Later": {"Type": "Wait", "Seconds": 0, "Next": "B"},
                            "B": {"Type": "Pass", "Output": "{% $mine %}", "End": True},
                        }
                    ),
                ],
                "End": True,
            }
        }
    )
    refused_or_failed(definition, {})


@pytest.mark.fast
def test_variables_inner_variables_go_out_of_scope_when_the_map_completes():
    # VARIABLES, "Variable scope": "When a Parallel or Map state completes, all of their
    # variables will go out of scope and stop being accessible. Use the Output field to pass
    # data out of Parallel branches and Map iterations."
    def definition(after_output):
        return machine(
            {
                "M": {
                    "Type": "Map",
                    "Items": [1, 2],
                    "ItemProcessor": _inline(
                        {
                            "In": {
                                "Type": "Pass",
                                "Assign": {"inner": "{% $states.input %}"},
                                "Output": {"n": "{% $states.input %}"},
                                "End": True,
                            }
                        }
                    ),
                    "Next": "After",
                },
                "After": {"Type": "Pass", "Output": after_output, "End": True},
            }
        )

    assert succeeded(definition("{% $states.input.n %}"), {}) == [1, 2]
    refused_or_failed(definition("{% $inner %}"), {})


@pytest.mark.fast
def test_variables_inner_scope_cannot_assign_an_outer_name():
    # VARIABLES, "Variable scope": "a variable assigned in an inner scope cannot have the same
    # name as one assigned in an outer scope. For example, if the top-level scope assigns a value
    # to a variable called myVariable, then no other scope (inside a Map, Parallel) can assign to
    # myVariable as well."
    for inner in ("Map", "Parallel"):
        body = _inline({"In": {"Type": "Pass", "Assign": {"myVariable": 2}, "End": True}})
        state = {"Type": inner, "End": True}
        if inner == "Map":
            state.update(Items=[1], ItemProcessor=body)
        else:
            state.update(Branches=[body])
        refused(
            machine({"Set": assigning({"myVariable": 1}, "Inner"), "Inner": state}), "myVariable"
        )
        # the same in JSONPath
        jsonpath_body = _inline({"In": {"Type": "Pass", "Assign": {"myVariable": 2}, "End": True}})
        jsonpath_state = {"Type": inner, "End": True}
        if inner == "Map":
            jsonpath_state.update(ItemProcessor=jsonpath_body)
        else:
            jsonpath_state.update(Branches=[jsonpath_body])
        refused(
            jsonpath(
                {
                    "Set": {"Type": "Pass", "Assign": {"myVariable": 1}, "Next": "Inner"},
                    "Inner": jsonpath_state,
                }
            ),
            "myVariable",
        )


@pytest.mark.fast
def test_variables_two_sibling_scopes_may_use_the_same_name():
    # VARIABLES, "Variable scope": "A variable exists in a scope if any state in the scope assigns
    # a value to it": two branches are two scopes, neither outer to the other.
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    _inline(
                        {
                            "A": {"Type": "Pass", "Assign": {"v": "a"}, "Next": "A2"},
                            "A2": {"Type": "Pass", "Output": "{% $v %}", "End": True},
                        }
                    ),
                    _inline(
                        {
                            "B": {"Type": "Pass", "Assign": {"v": "b"}, "Next": "B2"},
                            "B2": {"Type": "Pass", "Output": "{% $v %}", "End": True},
                        }
                    ),
                ],
                "End": True,
            }
        }
    )
    assert succeeded(definition, {}) == ["a", "b"]


@pytest.mark.fast
def test_variables_a_catch_assign_sets_the_outer_scope():
    # VARIABLES, "Variable scope": "When handling errors, the Assign field in a Catch can assign
    # values to variables in the outer scope, that is, the scope in which the Parallel/Map state
    # exists."
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    _inline({"F": {"Type": "Fail", "Error": "Custom.Oops", "Cause": "bad"}})
                ],
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"caught": "{% $states.errorOutput.Error %}"},
                        "Next": "Report",
                    }
                ],
                "End": True,
            },
            "Report": {"Type": "Pass", "Output": {"caught": "{% $caught %}"}, "End": True},
        }
    )
    assert succeeded(definition, {}) == {"caught": "Custom.Oops"}


@pytest.mark.fast
def test_variables_a_distributed_map_cannot_read_outer_variables():
    # VARIABLES, "Variable scope": "Exception: Distributed Map states cannot currently reference
    # variables in outer scopes."
    definition = machine(
        {
            "Set": assigning({"outer": 1}, "M"),
            "M": {
                "Type": "Map",
                "Items": [1],
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "I",
                    "States": {"I": {"Type": "Pass", "Output": "{% $outer %}", "End": True}},
                },
                "End": True,
            },
        }
    )
    refused_or_failed(definition, {})


@pytest.mark.fast
def test_variables_store_inputs_example():
    # VARIABLES, "Assign field in ASL": the "Store inputs" Pass state assigns $desiredPrice and
    # $maximumWait from the input's desired_price and max_days.
    definition = machine(
        {
            "Store inputs": {
                "Type": "Pass",
                "Next": "Get Current Price",
                "Comment": "Store the input desired price into a variable: $desiredPrice",
                "Assign": {
                    "desiredPrice": "{% $states.input.desired_price %}",
                    "maximumWait": "{% $states.input.max_days %}",
                },
            },
            "Get Current Price": {
                "Type": "Pass",
                "Output": {"desired": "{% $desiredPrice %}", "wait": "{% $maximumWait %}"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"desired_price": 12.5, "max_days": 3}) == {
        "desired": 12.5,
        "wait": 3,
    }


@pytest.mark.fast
def test_variables_task_assignment_from_result_example():
    # VARIABLES, "Assign field in ASL": "Example of Task with JSONata assignment from result":
    # product from $states.input.order.product, currentPrice from
    # $states.result.Payload.current_price
    calls, task = capturing({"Payload": {"current_price": 19.99}})
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Arguments": {"product": "{% $states.input.order.product %}"},
                "Assign": {
                    "product": "{% $states.input.order.product %}",
                    "currentPrice": "{% $states.result.Payload.current_price %}",
                },
                "Next": "the next state",
            },
            "the next state": {
                "Type": "Pass",
                "Output": {"product": "{% $product %}", "price": "{% $currentPrice %}"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"order": {"product": "kettle"}}, task) == {
        "product": "kettle",
        "price": 19.99,
    }


@pytest.mark.fast
def test_variables_evaluation_order_example():
    # VARIABLES, "Evaluation order in an assign field": "Starting values: $x=3, $a=6";
    # "Assign": {"x": "{% $a %}", "nextX": "{% $x %}"}; "Ending values: $x=6, $nextX=3"
    definition = machine(
        {
            "Start": assigning({"x": 3, "a": 6}, "Swap"),
            "Swap": assigning({"x": "{% $a %}", "nextX": "{% $x %}"}, "End"),
            "End": {
                "Type": "Pass",
                "Output": {"x": "{% $x %}", "nextX": "{% $nextX %}"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {}) == {"x": 6, "nextX": 3}
    # "The order in which the variables occur in the Assign field does not matter."
    swapped = machine(
        {
            "Start": assigning({"x": 3, "a": 6}, "Swap"),
            "Swap": assigning({"nextX": "{% $x %}", "x": "{% $a %}"}, "End"),
            "End": {
                "Type": "Pass",
                "Output": {"x": "{% $x %}", "nextX": "{% $nextX %}"},
                "End": True,
            },
        }
    )
    assert succeeded(swapped, {}) == {"x": 6, "nextX": 3}


@pytest.mark.fast
def test_variables_evaluation_order_fails_when_x_was_never_assigned():
    # VARIABLES, "Evaluation order in an assign field": "If $x had not been previously assigned,
    # the example would fail because $x would be undefined."
    definition = machine(
        {
            "Start": assigning({"a": 6}, "Swap"),
            "Swap": assigning({"x": "{% $a %}", "nextX": "{% $x %}"}, "End"),
            "End": {"Type": "Pass", "Output": {"x": "{% $x %}"}, "End": True},
        }
    )
    refused_or_failed(definition, {})


@pytest.mark.fast
def test_variables_new_values_are_seen_from_the_next_state_in_jsonpath_too():
    # VARIABLES, "Evaluation order in an assign field": "All variable references in Step
    # Functions states use the values as they were on state entry." (JSONPath state: its
    # Parameters read the entry value while its Assign sets the new one)
    definition = jsonpath(
        {
            "Start": {"Type": "Pass", "Assign": {"n": 1}, "Next": "Bump"},
            "Bump": {
                "Type": "Pass",
                "Parameters": {"before.$": "$n"},
                "Assign": {"n": 2},
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Parameters": {"before.$": "$.before", "after.$": "$n"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {}) == {"before": 1, "after": 2}


def _big(kib):
    """A JSONata expression for a string of `kib` KiB."""
    return "{%% $pad('', %d, 'x') %%}" % (kib * KIB)


@pytest.mark.fast
def test_variables_limit_one_variable_256_kib():
    # VARIABLES, "Limits": "The maximum size of a single variable is 256Kib". The page names no
    # error; States.DataLimitExceeded is the error the guide's error-handling page gives for data
    # over a size quota.
    assert (
        succeeded(machine({"Set": {"Type": "Pass", "Assign": {"x": _big(200)}, "End": True}}), {})
        == {}
    )
    failed(
        machine({"Set": {"Type": "Pass", "Assign": {"x": _big(300)}, "End": True}}),
        {},
        error="States.DataLimitExceeded",
    )


@pytest.mark.fast
def test_variables_limit_one_assign_256_kib_combined():
    # VARIABLES, "Limits": "The maximum combined size for all variables in a single Assign field
    # is also 256Kib. For example, you could assign X and Y to 128KiB, but you could not assign
    # both X and Y to 256KiB in the same Assign field." (127 KiB each: under 256 KiB with the
    # quotes)
    ok = machine({"Set": {"Type": "Pass", "Assign": {"X": _big(127), "Y": _big(127)}, "End": True}})
    assert succeeded(ok, {}) == {}
    too_much = machine(
        {"Set": {"Type": "Pass", "Assign": {"X": _big(200), "Y": _big(200)}, "End": True}}
    )
    failed(too_much, {}, error="States.DataLimitExceeded")


@pytest.mark.fast
def test_variables_limit_10_mib_stored_per_execution():
    # VARIABLES, "Limits": "The total size of all stored variables cannot exceed 10MiB per
    # execution." 60 variables of 200 KiB are 11.7 MiB; 60 assignments of one variable are not.
    def chain(name_of):
        states = {}
        for i in range(60):
            states["S%d" % i] = {
                "Type": "Pass",
                "Assign": {name_of(i): _big(200)},
                "Next": "S%d" % (i + 1) if i < 59 else "Done",
            }
        states["Done"] = {"Type": "Succeed"}
        return machine(states)

    assert succeeded(chain(lambda i: "same"), {}) == {}
    failed(chain(lambda i: "v%d" % i), {}, error="States.DataLimitExceeded")


# -- Using variables in JSONPath states -----------------------------------------------------------


@pytest.mark.fast
def test_variables_jsonpath_assign_example_products_and_total():
    # VARIABLES, "Using variables in JSONPath states" > "Assigning variables in JSONPath": a Task
    # with "products.$": "$.order..product", "orderTotal.$": "$.order.total" ($ is the task's
    # result)
    result = {"order": {"lines": [{"product": "tea"}, {"product": "cup"}], "total": 9.5}}
    calls, task = capturing(result)
    definition = jsonpath(
        {
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Parameters": {"who": "me"},
                "Assign": {"products.$": "$.order..product", "orderTotal.$": "$.order.total"},
                "ResultPath": None,
                "Next": "the next state",
            },
            "the next state": {
                "Type": "Pass",
                "Parameters": {"products.$": "$products", "orderTotal.$": "$orderTotal"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"input": 1}, task) == {
        "products": ["tea", "cup"],
        "orderTotal": 9.5,
    }


@pytest.mark.fast
def test_variables_jsonpath_assign_example_details_code_message_start_time():
    # VARIABLES, "Using variables in JSONPath states": the Assign with "details" (a template),
    # "resultCode.$": "$.result.code", "message.$": "States.Format('Hello {}', $customer.name)",
    # "startTime.$": "$$.Execution.StartTime"; "If this was in a Task state, then $ in
    # $.order.items and $.result.code refers to the API result."
    result = {"order": {"items": ["a", "b"]}, "result": {"code": 200}}
    calls, task = capturing(result)
    definition = jsonpath(
        {
            "Customer": {"Type": "Pass", "Assign": {"customer": {"name": "Ana"}}, "Next": "T"},
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Parameters": {"x": 1},
                "Assign": {
                    "details": {"status": "SUCCESS", "lineItems.$": "$.order.items"},
                    "resultCode.$": "$.result.code",
                    "message.$": "States.Format('Hello {}', $customer.name)",
                    "startTime.$": "$$.Execution.StartTime",
                },
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Parameters": {
                    "details.$": "$details",
                    "resultCode.$": "$resultCode",
                    "message.$": "$message",
                    "startTime.$": "$startTime",
                    "expected.$": "$$.Execution.StartTime",
                },
                "End": True,
            },
        }
    )
    out = succeeded(definition, {}, task)
    assert out["details"] == {"status": "SUCCESS", "lineItems": ["a", "b"]}
    assert out["resultCode"] == 200
    assert out["message"] == "Hello Ana"
    assert out["startTime"] == out["expected"]


@pytest.mark.fast
def test_variables_jsonpath_intrinsic_with_a_variable_argument():
    # VARIABLES, "Using variables in JSONPath states": "In JSONPath fields that accept intrinsic
    # functions, variables can be used in the arguments, for example States.Format('The order
    # number is {}', $order.number)." and "$x or $order.numItems"
    definition = jsonpath(
        {
            "Set": {
                "Type": "Pass",
                "Assign": {"order": {"number": 42, "numItems": 3}},
                "Next": "F",
            },
            "F": {
                "Type": "Pass",
                "Parameters": {
                    "text.$": "States.Format('The order number is {}', $order.number)",
                    "items.$": "$order.numItems",
                    "whole.$": "$order",
                },
                "End": True,
            },
        }
    )
    assert succeeded(definition, {}) == {
        "text": "The order number is 42",
        "items": 3,
        "whole": {"number": 42, "numItems": 3},
    }


@pytest.mark.fast
def test_variables_jsonpath_dollar_in_assign_is_the_raw_result_not_the_result_selector():
    # VARIABLES, "Using variables in JSONPath states": "the assign step in a JSONPath task occurs
    # at the same time as the ResultSelector"; "In Task, Map, Parallel states, the $ refers to the
    # API/sub-workflow result."
    calls, task = capturing({"a": 1, "b": 2})
    definition = jsonpath(
        {
            "T": {
                "Type": "Task",
                "Resource": ECHO,
                "Parameters": {"q": 1},
                "ResultSelector": {"onlyA.$": "$.a"},
                "Assign": {"raw.$": "$"},
                "ResultPath": "$.selected",
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Parameters": {"raw.$": "$raw", "selected.$": "$.selected"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"in": 0}, task) == {
        "raw": {"a": 1, "b": 2},
        "selected": {"onlyA": 1},
    }


@pytest.mark.fast
def test_variables_jsonpath_dollar_in_map_and_parallel_assign_is_the_result():
    # VARIABLES, "Using variables in JSONPath states": Map and Parallel: "$ refers to the
    # API/sub-workflow result."
    branch = {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": True}}}
    definition = jsonpath(
        {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "I",
                    "States": {"I": {"Type": "Pass", "End": True}},
                },
                "Assign": {"mapped.$": "$"},
                "ResultPath": None,
                "Next": "P",
            },
            "P": {
                "Type": "Parallel",
                "Branches": [branch],
                "Assign": {"parallel.$": "$"},
                "ResultPath": None,
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Parameters": {"mapped.$": "$mapped", "parallel.$": "$parallel"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"items": [1, 2]}) == {"mapped": [1, 2], "parallel": ["b"]}


@pytest.mark.fast
def test_variables_jsonpath_dollar_in_choice_and_wait_assign_is_the_effective_input():
    # VARIABLES, "Using variables in JSONPath states": "In Choice and Wait state, $ refers to the
    # effective input, which is the value after InputPath has been applied to the state input."
    definition = jsonpath(
        {
            "C": {
                "Type": "Choice",
                "InputPath": "$.forChoice",
                "Assign": {"choiceSaw.$": "$"},
                "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "W"}],
            },
            "W": {
                "Type": "Wait",
                "Seconds": 0,
                "InputPath": "$.forWait",
                "Assign": {"waitSaw.$": "$"},
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Parameters": {"choice.$": "$choiceSaw", "wait.$": "$waitSaw"},
                "End": True,
            },
        }
    )
    document = {"forChoice": {"go": True, "forWait": {"w": 1}}}
    # the Choice passes its effective input on (InputPath applied); the Wait selects from it
    assert succeeded(definition, document) == {
        "choice": {"go": True, "forWait": {"w": 1}},
        "wait": {"w": 1},
    }


@pytest.mark.fast
def test_variables_jsonpath_dollar_in_pass_assign_is_the_result():
    # VARIABLES, "Using variables in JSONPath states": "For Pass, $ refers to the result, whether
    # generated by the Result field or the InputPath/Parameters fields."
    definition = jsonpath(
        {
            "WithResult": {
                "Type": "Pass",
                "Result": {"fixed": 1},
                "Assign": {"fromResult.$": "$"},
                "ResultPath": None,
                "Next": "WithParameters",
            },
            "WithParameters": {
                "Type": "Pass",
                "InputPath": "$.inner",
                "Parameters": {"picked.$": "$.v"},
                "Assign": {"fromParameters.$": "$"},
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Parameters": {"r.$": "$fromResult", "p.$": "$fromParameters"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"inner": {"v": 7}}) == {"r": {"fixed": 1}, "p": {"picked": 7}}


@pytest.mark.fast
def test_variables_jsonpath_fields_that_accept_paths_accept_variables():
    # VARIABLES, "Using variables in JSONPath states": "You can reference a variable in any field
    # that accepts a JSONpath expression ($. or $$. syntax), with the exception of ResultPath"
    definition = jsonpath(
        {
            "Set": {
                "Type": "Pass",
                "Assign": {
                    "payload": {"n": 5, "items": [1, 2]},
                    "wait": 0,
                    "limit": 5,
                    "timeout": 30,
                },
                "Next": "FromVariable",
            },
            "FromVariable": {"Type": "Pass", "InputPath": "$payload", "Next": "Decide"},
            "Decide": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEqualsPath": "$limit", "Next": "Pause"}],
                "Default": "Wrong",
            },
            "Wrong": {"Type": "Fail", "Error": "Wrong"},
            "Pause": {"Type": "Wait", "SecondsPath": "$wait", "Next": "Each"},
            "Each": {
                "Type": "Map",
                "ItemsPath": "$payload.items",
                "ItemProcessor": {
                    "StartAt": "I",
                    "States": {"I": {"Type": "Pass", "End": True}},
                },
                "ResultPath": "$.mapped",
                "Next": "Call",
            },
            "Call": {
                "Type": "Task",
                "Resource": ECHO,
                "TimeoutSecondsPath": "$timeout",
                "Parameters": {"mapped.$": "$.mapped", "n.$": "$payload.n"},
                "OutputPath": "$",
                "End": True,
            },
        }
    )
    assert succeeded(definition, {}) == {"mapped": [1, 2], "n": 5}
    # a Choice's Variable may be a variable too
    choose = jsonpath(
        {
            "Set": {"Type": "Pass", "Assign": {"flag": True}, "Next": "C"},
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$flag", "BooleanEquals": True, "Next": "Yes"}],
                "Default": "No",
            },
            "Yes": {"Type": "Succeed"},
            "No": {"Type": "Fail", "Error": "No"},
        }
    )
    succeeded(choose, {})


@pytest.mark.fast
def test_variables_jsonpath_result_path_cannot_be_a_variable():
    # VARIABLES, "Using variables in JSONPath states": "Variables cannot be used in ResultPath."
    refused(
        jsonpath(
            {
                "Set": {"Type": "Pass", "Assign": {"x": 1}, "Next": "P"},
                "P": {"Type": "Pass", "Result": 1, "ResultPath": "$x", "End": True},
            }
        ),
        "ResultPath",
    )


# == state-choice.html (Choice Rules (JSONata)) =================================================

CHOICE = "https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html"


def _guide_choice():
    rules = [
        {"Condition": "{% $foo = 1 %}", "Next": "NumericMatchState"},
        {"Condition": "{% $type = 'local' %}", "Next": "StringMatchState"},
        {"Condition": "{% $foo > 'MyStringABC' %}", "Next": "StringGreaterMatchState"},
        {
            "Condition": "{% $possiblyNullValue != null and $possiblyNullValue = 42 %}",
            "Next": "NotNullAnd42",
        },
    ]
    states = {
        "Set": assigning(
            {
                "foo": "{% $states.input.foo %}",
                "type": "{% $states.input.type %}",
                "possiblyNullValue": "{% $states.input.possiblyNullValue %}",
            },
            "C",
        ),
        "C": {"Type": "Choice", "Choices": rules, "Default": "DefaultState"},
    }
    for target in [r["Next"] for r in rules] + ["DefaultState"]:
        states[target] = {"Type": "Succeed", "Output": target}
    return machine(states)


@pytest.mark.fast
@pytest.mark.parametrize(
    "document, chosen",
    [
        ({"foo": 1, "type": "x", "possiblyNullValue": None}, "NumericMatchState"),
        ({"foo": 2, "type": "local", "possiblyNullValue": None}, "StringMatchState"),
        ({"foo": "MyStringABD", "type": "x", "possiblyNullValue": None}, "StringGreaterMatchState"),
        ({"foo": "A", "type": "x", "possiblyNullValue": 42}, "NotNullAnd42"),
        ({"foo": "A", "type": "x", "possiblyNullValue": None}, "DefaultState"),
    ],
)
def test_choice_guide_conditions_on_variables(document, chosen):
    # CHOICE, "Choice Rules (JSONata)": the four example rules ($foo = 1, $type = 'local',
    # $foo > 'MyStringABC', $possiblyNullValue != null and $possiblyNullValue = 42)
    assert succeeded(_guide_choice(), document) == chosen


@pytest.mark.fast
def test_choice_rule_assign_and_state_assign():
    # CHOICE, "Choice Rules (JSONata)" (zh_cn edition): a rule's "Assign field (optional) -
    # assigns variables when this particular choice rule matches ... You can also specify an
    # Assign block at the state level, which applies regardless of which choice rule matches."
    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "Assign": {"visited": True},
                "Choices": [
                    {
                        "Condition": "{% $states.input.n > 10 %}",
                        "Assign": {"size": "big"},
                        "Next": "Done",
                    },
                    {
                        "Condition": "{% $states.input.n > 0 %}",
                        "Assign": {"size": "small"},
                        "Next": "Done",
                    },
                ],
                "Default": "Other",
            },
            "Other": assigning({"size": "none"}, "Done"),
            "Done": {
                "Type": "Pass",
                "Output": {"size": "{% $size %}", "visited": "{% $visited %}"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"n": 50}) == {"size": "big", "visited": True}
    assert succeeded(definition, {"n": 5}) == {"size": "small", "visited": True}
    assert succeeded(definition, {"n": -1}) == {"size": "none", "visited": True}


@pytest.mark.fast
def test_choice_without_a_match_or_default_fails():
    # CHOICE: "If no Choices evaluate to true when the workflow runs, and no Default is provided,
    # the state machine will throw an error due to a failure to transition out of the state."
    definition = machine(
        {
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% false %}", "Next": "X"}]},
            "X": {"Type": "Succeed"},
        }
    )
    failed(definition, {}, error="States.NoChoiceMatched")


# == state-wait.html (Seconds and Timestamp in JSONata) ==========================================

WAIT = "https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html"


def _wait(field, value):
    return machine(
        {
            "Set": assigning({"v": "{% $states.input.v %}"}, "W"),
            "W": {"Type": "Wait", field: value, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        }
    )


@pytest.mark.fast
def test_wait_seconds_as_an_expression():
    # WAIT, "Seconds": "an integer value from 0 to 99999999. In JSONata states, you can
    # alternatively specify a JSONata expression which must evaluate to an integer in the stated
    # range."
    assert succeeded(_wait("Seconds", "{% $v %}"), {"v": 0}) == {"v": 0}
    for bad in ("10", -1, 1.5, 100000000):
        failed(_wait("Seconds", "{% $v %}"), {"v": bad})


@pytest.mark.fast
def test_wait_timestamp_as_an_expression():
    # WAIT, "Timestamp": "In JSONata states, you can specify a JSONata expression which results
    # in a string that conforms to the previous requirements" (RFC 3339, uppercase T and Z; the
    # page's example 2024-03-14T01:59:00Z, long past)
    assert succeeded(_wait("Timestamp", "{% $v %}"), {"v": "2024-03-14T01:59:00Z"}) == {
        "v": "2024-03-14T01:59:00Z"
    }
    failed(_wait("Timestamp", "{% $v %}"), {"v": "14 March 2024"})
    failed(_wait("Timestamp", "{% $v %}"), {"v": 1710381540})


@pytest.mark.fast
def test_wait_assign_and_output_in_jsonata():
    # WAIT (and VARIABLES, "States that support variables"): a JSONata Wait has Assign and
    # Output.
    definition = machine(
        {
            "W": {
                "Type": "Wait",
                "Seconds": 0,
                "Assign": {"waited": "{% $states.input.a %}"},
                "Output": {"b": "{% $states.input.a + 1 %}"},
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Output": {"waited": "{% $waited %}", "b": "{% $states.input.b %}"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"a": 1}) == {"waited": 1, "b": 2}


# == state-parallel.html (Arguments, Output, Assign) =============================================

PARALLEL = "https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html"


@pytest.mark.fast
def test_parallel_arguments_output_and_assign():
    # PARALLEL, fields: "Arguments (Optional, JSONata only) Used to pass information to" the
    # branches; "Output (Optional, JSONata only)"; "Assign (Optional)". TRANSFORMING, "Reserved
    # variable : $states": $states.result is the sub-workflow's result.
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Arguments": {"n": "{% $states.input.n %}"},
                "Branches": [
                    _inline(
                        {
                            "Double": {
                                "Type": "Pass",
                                "Output": "{% $states.input.n * 2 %}",
                                "End": True,
                            }
                        }
                    ),
                    _inline(
                        {
                            "Square": {
                                "Type": "Pass",
                                "Output": "{% $states.input.n * $states.input.n %}",
                                "End": True,
                            }
                        }
                    ),
                ],
                "Assign": {"results": "{% $states.result %}"},
                "Output": {"sum": "{% $sum($states.result) %}", "input": "{% $states.input %}"},
                "Next": "Read",
            },
            "Read": {
                "Type": "Pass",
                "Output": {"results": "{% $results %}", "sum": "{% $states.input.sum %}"},
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"n": 3, "other": True}) == {"results": [6, 9], "sum": 15}


@pytest.mark.fast
def test_parallel_without_arguments_gives_each_branch_the_input_and_outputs_the_results():
    branch = _inline({"B": {"Type": "Pass", "Output": "{% $states.input.a %}", "End": True}})
    definition = machine({"P": {"Type": "Parallel", "Branches": [branch, branch], "End": True}})
    assert succeeded(definition, {"a": "x"}) == ["x", "x"]


# == Map in JSONata: Items, ItemSelector, MaxConcurrency, the context object =====================

CONTEXT = "https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html"
ITEM_SELECTOR = (
    "https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemselector.html"
)


@pytest.mark.fast
def test_context_object_jsonata_map_example():
    # CONTEXT, "Context object data for Map states": the JSONata example with ItemSelector
    # {"ContextIndex": "{% $states.context.Map.Item.Index %}", "ContextValue": ...Value,
    # "ContextSource": ...Source} and a Pass ItemProcessor; "$states.context.Map.Item.Source
    # values: For state input: STATE_DATA". The Map has no Items, so it iterates its input.
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "ExampleMapState",
        "States": {
            "ExampleMapState": {
                "Type": "Map",
                "ItemSelector": {
                    "ContextIndex": "{% $states.context.Map.Item.Index %}",
                    "ContextValue": "{% $states.context.Map.Item.Value %}",
                    "ContextSource": "{% $states.context.Map.Item.Source %}",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "TestPass",
                    "States": {"TestPass": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    assert succeeded(definition, ["a", {"b": 1}]) == [
        {"ContextIndex": 0, "ContextValue": "a", "ContextSource": "STATE_DATA"},
        {"ContextIndex": 1, "ContextValue": {"b": 1}, "ContextSource": "STATE_DATA"},
    ]


@pytest.mark.fast
def test_context_object_jsonpath_map_item_source():
    # CONTEXT, "Context object data for Map states": Map.Item.Source is in the Context object in
    # JSONPath too ("For state input: STATE_DATA").
    definition = jsonpath(
        {
            "M": {
                "Type": "Map",
                "ItemSelector": {"source.$": "$$.Map.Item.Source", "value.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    assert succeeded(definition, [1]) == [{"source": "STATE_DATA", "value": 1}]


@pytest.mark.fast
def test_item_selector_guide_example_jsonpath():
    # ITEM_SELECTOR: the three images, "ItemSelector": {"size": 10, "value.$":
    # "$$.Map.Item.Value"}; "the input that one iteration of an Inline Map state receives":
    # {"size": 10, "value": {"resize": "true", "format": "jpg"}}
    images = [
        {"resize": "true", "format": "jpg"},
        {"resize": "false", "format": "png"},
        {"resize": "true", "format": "jpg"},
    ]
    definition = jsonpath(
        {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.imageData",
                "ItemSelector": {"size": 10, "value.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    assert succeeded(definition, {"imageData": images}) == [
        {"size": 10, "value": image} for image in images
    ]


@pytest.mark.fast
def test_map_jsonata_item_selector_reads_the_map_input_the_item_and_variables():
    # TRANSFORMING, "Arguments and Output Fields": "The Arguments and Output fields (and other
    # similar fields such as Map state's ItemSelector) will accept either a JSON object ... Or
    # ... a JSONata expression directly"
    definition = machine(
        {
            "Set": assigning({"unit": "kg"}, "M"),
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.weights %}",
                "ItemSelector": {
                    "w": "{% $states.context.Map.Item.Value %}",
                    "i": "{% $states.context.Map.Item.Index %}",
                    "label": "{% $states.input.label %}",
                    "unit": "{% $unit %}",
                },
                "ItemProcessor": {
                    "StartAt": "I",
                    "States": {
                        "I": {
                            "Type": "Pass",
                            "Output": "{% $states.input.label & ' ' & $string($states.input.w) & $states.input.unit %}",
                            "End": True,
                        }
                    },
                },
                "Output": {
                    "lines": "{% $states.result %}",
                    "count": "{% $count($states.result) %}",
                },
                "End": True,
            },
        }
    )
    assert succeeded(definition, {"weights": [1, 2], "label": "box"}) == {
        "lines": ["box 1kg", "box 2kg"],
        "count": 2,
    }
    whole = machine(
        {
            "M": {
                "Type": "Map",
                "Items": [1, 2],
                "ItemSelector": "{% $states.context.Map.Item.Value * 10 %}",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    assert succeeded(whole, {}) == [10, 20]


@pytest.mark.fast
def test_map_jsonata_max_concurrency_expression():
    # MaxConcurrency as a JSONata expression (the AWS CDK reference: MapJsonataProps
    # jsonata_max_concurrency; TRANSFORMING, "No more path fields": no MaxConcurrencyPath in
    # JSONata)
    definition = machine(
        {
            "M": {
                "Type": "Map",
                "Items": [1, 2, 3],
                "MaxConcurrency": "{% $states.input.limit %}",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    assert succeeded(definition, {"limit": 1}) == [1, 2, 3]
    failed(definition, {"limit": "one"})
    refused(
        machine(
            {
                "M": {
                    "Type": "Map",
                    "Items": [1],
                    "MaxConcurrencyPath": "$.limit",
                    "ItemProcessor": {
                        "StartAt": "I",
                        "States": {"I": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            }
        ),
        "MaxConcurrencyPath",
    )
