"""The intrinsic functions as AWS evaluates them, beyond the documented examples that
test_stepfunctions_interpreter.py runs (issue 27). The rules are the AWS docs' ("Intrinsic
functions for JSONPath states in Step Functions",
https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html) and the Amazon
States Language spec's (https://states-language.net/spec.html, "Intrinsic Functions").
"""

import json
import time
import tracemalloc

import pytest
from botocore.exceptions import ClientError

from pipelines.local.stepfunctions import intrinsics
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import Clock
from pipelines.local.stepfunctions.service import StepFunctions

pytestmark = pytest.mark.fast

ROLE = "arn:aws:iam::123456789012:role/churn-states"


def evaluate(expression, document=None):
    return intrinsics.evaluate(expression, document or {}, {})


def failure(expression, document=None):
    with pytest.raises(StatesError) as failed:
        evaluate(expression, document)
    return failed.value


# -- States.MathAdd, States.MathRandom: "If you specify a non-integer value for one or both the
# arguments, Step Functions will round it off to the nearest integer." Half rounds up (Java's
# Math.round, floor(x + 0.5)): the 1.5 + 1.51 is 2 + 2 = 4.


@pytest.mark.parametrize(
    "a, b, expected",
    [(1.5, 1.51, 4), (111, -1, 110), (2.5, 0.4, 3), (-1.5, 0, -1), (-1.6, 0, -2), (1.0, 2.0, 3)],
)
def test_math_add_rounds_non_integer_arguments_to_the_nearest_integer(a, b, expected):
    result = evaluate("States.MathAdd($.a, $.b)", {"a": a, "b": b})
    assert result == expected and isinstance(result, int)


def test_math_random_rounds_non_integer_bounds_instead_of_refusing_them():
    # 0.6 -> 1 and 2.4 -> 2: the only number in [1, 2) is 1.
    for seed in range(20):
        result = evaluate(
            "States.MathRandom($.start, $.end, %d)" % seed, {"start": 0.6, "end": 2.4}
        )
        assert result == 1 and isinstance(result, int)
    assert 5 <= evaluate("States.MathRandom(4.5, 9.2)") < 9


# -- States.StringToJson: an empty or blank string is JSON's nothing, null.


@pytest.mark.parametrize("text", ["", "  ", "\n\t "])
def test_string_to_json_of_an_empty_or_blank_string_is_null(text):
    assert evaluate("States.StringToJson($.s)", {"s": text}) is None


# -- States.Format: objects and arrays as AWS writes them (Java's Map/List toString):
# {key=value, key=value}, [a, b], strings unquoted inside, nested alike.


@pytest.mark.parametrize(
    "value, expected",
    [
        ({"Arg1": 1, "Arg2": []}, "{Arg1=1, Arg2=[]}"),
        ([1, "two", None, True], "[1, two, null, true]"),
        ({"a": {"b": ["x", {"c": 1.5}]}, "d": {}}, "{a={b=[x, {c=1.5}]}, d={}}"),
    ],
)
def test_format_renders_objects_and_arrays_as_aws_writes_them(value, expected):
    assert evaluate("States.Format('v: {}', $.v)", {"v": value}) == "v: " + expected


def test_format_still_renders_scalars_as_before():
    document = {"s": "text", "n": 3, "f": 1.5, "b": False, "z": None}
    assert (
        evaluate("States.Format('{} {} {} {} {}', $.s, $.n, $.f, $.b, $.z)", document)
        == "text 3 1.5 false null"
    )


# -- An escape the intrinsic grammar does not allow (the spec: in a string literal the
# characters ' { } \ are escaped with \, nothing else is) is refused at CreateStateMachine.


@pytest.fixture
def sfn(tmp_path):
    return StepFunctions(tmp_path / "home", Integrations(), Clock())


def pass_with(expression):
    return {
        "StartAt": "Render",
        "States": {"Render": {"Type": "Pass", "Parameters": {"x.$": expression}, "End": True}},
    }


@pytest.mark.parametrize(
    "expression",
    ["States.Format('a\\qb')", "States.Format('a\\nb')", "States.Array('ok', 'bad\\x')"],
)
def test_an_illegal_escape_in_a_string_argument_is_refused_at_create_state_machine(sfn, expression):
    with pytest.raises(ClientError) as refused:
        sfn.create_state_machine(
            name="escapes", definition=json.dumps(pass_with(expression)), roleArn=ROLE
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidDefinition"
    assert "Render" in error["Message"]


def test_the_allowed_escapes_are_accepted_at_create_state_machine(sfn):
    expression = "States.Format('\\'{}\\' \\\\ \\{x\\}', $.a)"
    sfn.create_state_machine(
        name="escapes", definition=json.dumps(pass_with(expression)), roleArn=ROLE
    )
    assert evaluate(expression, {"a": 1}) == "'1' \\ {x}"


# -- Bounded: sizes are checked before (or while) building, not after.


def test_array_range_checks_its_1000_item_limit_before_building_the_list():
    # Memory first: on a twin that builds the list first this fails at 80 MB, not 40 GB.
    tracemalloc.start()
    try:
        failure("States.ArrayRange(0, 2000000, 1)")
        assert tracemalloc.get_traced_memory()[1] < 1_000_000
    finally:
        tracemalloc.stop()
    started = time.monotonic()
    failed = failure("States.ArrayRange(0, 1000000000, 1)")
    assert time.monotonic() - started < 1
    assert failed.error == "States.IntrinsicFailure" and "1000" in failed.cause
    assert len(evaluate("States.ArrayRange(1, 1000, 1)")) == 1000


def test_nested_intrinsics_stop_at_the_256_kib_payload_limit_as_they_build():
    # Each level doubles the text and JsonToString escapes its backslashes again: four levels
    # are 25 MB, nine would be 26 GB. The twin stops at the first intermediate over 256 KiB.
    expression = "$.s"
    for _ in range(4):
        expression = "States.JsonToString(States.Array(%s, %s))" % (expression, expression)
    started = time.monotonic()
    failed = failure(expression, {"s": "\\" * 100_000})
    assert time.monotonic() - started < 1
    assert failed.error == "States.DataLimitExceeded"


def test_array_unique_is_not_quadratic():
    items = list(range(10_000)) * 2 + [True, 1.0, "1", {"a": [1]}, {"a": [1]}]
    started = time.monotonic()
    result = evaluate("States.ArrayUnique($.a)", {"a": items})
    assert time.monotonic() - started < 1
    assert result == list(range(10_000)) + [True, "1", {"a": [1]}]
