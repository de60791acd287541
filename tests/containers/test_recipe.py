"""The DataBrew recipe engine: fitted on train rows only, replayed identically anywhere."""

import numpy as np
import pytest

from processing.churn_recipe import (
    InputValueError,
    RecipeError,
    feature_matrix,
    fit,
    normalize_steps,
    transform,
)

# Every test here runs in this process, with no child process, server or browser.
pytestmark = pytest.mark.fast


def step(op, **params):
    return {"Action": {"Operation": op, "Parameters": params}}


def table(**columns):
    return {k: np.array(v, dtype=object) for k, v in columns.items()}


def test_statistics_come_from_the_train_rows_only():
    steps = [
        step("CHANGE_DATA_TYPE", sourceColumn="x", columnDataType="double"),
        step("FILL_WITH_MEDIAN", sourceColumn="x"),
        step("NORMALIZATION", sourceColumn="x", strategy="MIN_MAX"),
    ]
    train = table(x=["1", "2", "", "5"])
    fitted, out = fit(train, steps)
    assert fitted[1]["Fitted"] == {"value": 2.0}
    assert fitted[2]["Fitted"]["min"] == 1.0 and fitted[2]["Fitted"]["max"] == 5.0
    assert out["x"].tolist() == [0.0, 0.25, 0.25, 1.0]
    # Replaying on other rows uses the train statistics, so values may leave [0, 1].
    other = transform(table(x=["9", ""]), fitted)
    assert other["x"].tolist() == [2.0, 0.25]


def test_seed_aliases_mean_the_documented_operations():
    documented = [
        step("CHANGE_DATA_TYPE", sourceColumn="x", columnDataType="double"),
        step("NORMALIZATION", sourceColumn="x", strategy="MIN_MAX"),
    ]
    seed_style = [
        step("CAST_COLUMN_TYPE", sourceColumn="x", columnType="double"),
        step("NORMALIZE_COLUMN", sourceColumn="x", normalizeType="MIN_MAX"),
    ]
    assert normalize_steps(seed_style) == normalize_steps(documented)
    data = table(x=["3", "4", "7"])
    assert fit(data, seed_style)[1]["x"].tolist() == fit(data, documented)[1]["x"].tolist()


def test_unknown_categories_map_to_other_never_raise():
    fitted, out = fit(
        table(plan=["a", "b", "a", ""]), [step("ONE_HOT_ENCODING", sourceColumn="plan")]
    )
    assert list(out) == ["plan_a", "plan_b", "plan_other"]
    replay = transform(table(plan=["b", "zzz", ""]), fitted, strict=True)
    assert feature_matrix(replay, list(out)).tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]


def test_one_hot_keeps_the_most_frequent_categories():
    values = ["s%02d" % (i % 12) for i in range(100)] + ["s00"] * 10
    fitted, out = fit(
        table(state=values), [step("ONE_HOT_ENCODING", sourceColumn="state", maxCategories="3")]
    )
    assert list(out) == ["state_s00", "state_s01", "state_s02", "state_other"]


def test_strict_replay_names_the_row_and_column():
    fitted, _ = fit(
        table(x=["1", "2"]), [step("CHANGE_DATA_TYPE", sourceColumn="x", columnDataType="double")]
    )
    assert np.isnan(transform(table(x=["1", "abc"]), fitted)["x"][1])  # DataBrew: NULL
    with pytest.raises(InputValueError) as err:
        transform(table(x=["1", "abc"]), fitted, strict=True)
    assert (err.value.row, err.value.column, err.value.value) == (2, "x", "abc")


def test_row_filters_apply_when_preparing_data_not_when_serving():
    steps = [step("REMOVE_MISSING", sourceColumn="x"), step("DELETE_DUPLICATE_ROWS")]
    fitted, out = fit(table(x=["1", "", "1", "2"], y=["a", "b", "a", "c"]), steps)
    assert out["x"].tolist() == ["1", "2"]
    served = transform(table(x=["", "1"], y=["b", "b"]), fitted)
    assert served["x"].tolist() == ["", "1"]


def test_categorical_mapping_and_other_scalers():
    steps = [
        step(
            "CATEGORICAL_MAPPING",
            sourceColumn="plan",
            categoryMap='{"Yes": "1", "No": "0"}',
            mapType="NUMERIC",
            other="0.5",
        ),
        step("CHANGE_DATA_TYPE", sourceColumn="x", columnDataType="double"),
        step("NORMALIZATION", sourceColumn="x", strategy="Z_SCORE", targetColumn="x_z"),
        step("DELETE", sourceColumn="x"),
    ]
    fitted, out = fit(table(plan=["Yes", "No", "Maybe"], x=["1", "2", "3"]), steps)
    assert out["plan"].tolist() == [1.0, 0.0, 0.5]
    assert list(out) == ["plan", "x_z"]
    assert out["x_z"].tolist() == pytest.approx([-1.2247449, 0.0, 1.2247449])


@pytest.mark.parametrize(
    "steps, message",
    [
        ([step("PIVOT", sourceColumn="x")], "operation PIVOT is not supported"),
        ([step("FILL_WITH_MEDIAN")], "sourceColumn is required"),
        (
            [step("CHANGE_DATA_TYPE", sourceColumn="x", columnDataType="date")],
            "to 'date' is not supported",
        ),
        ([step("FILL_WITH_MEDIAN", sourceColumn="nope")], "column 'nope' is not in the data"),
        ([step("NORMALIZATION", sourceColumn="x")], "column 'x' is text; cast it"),
    ],
)
def test_recipe_mistakes_are_named(steps, message):
    with pytest.raises(RecipeError, match=message):
        fit(table(x=["1", "2"]), steps)


def test_text_left_after_the_recipe_is_an_error():
    with pytest.raises(RecipeError, match="still text"):
        feature_matrix(table(x=["a"]), ["x"])


@pytest.mark.parametrize(
    "condition, value, filled",
    [
        ("IS", '["a", "c"]', ["x", "", "x", "", ""]),
        ("IS_NOT", '["a"]', ["", "x", "x", "x", ""]),
        ("CONTAINS", "b", ["", "x", "", "x", ""]),
        ("STARTS_WITH", "b", ["", "x", "", "x", ""]),
        ("ENDS_WITH", "b", ["", "x", "", "", ""]),
        ("IS_MISSING", None, ["", "", "", "", "x"]),
        ("IS_NOT_MISSING", None, ["x", "x", "x", "x", ""]),
        ("GREATER_THAN", "2", ["", "", "x", "x", ""]),
        ("GREATER_THAN_EQUAL", "2", ["", "x", "x", "x", ""]),
        ("LESS_THAN", "2", ["x", "", "", "", ""]),
        ("LESS_THAN_EQUAL", "2", ["x", "x", "", "", ""]),
    ],
)
def test_each_condition_chooses_its_rows(condition, value, filled):
    """The conditions the recipe module evaluates
    (https://docs.aws.amazon.com/databrew/latest/dg/API_ConditionExpression.html; a missing
    value meets no condition but IS_MISSING), here choosing the rows a FILL_WITH_CUSTOM fills.
    They were ignored: every row was filled."""
    expression = {"Condition": condition, "TargetColumn": "key"}
    if value is not None:
        expression["Value"] = value
    fill = step("FILL_WITH_CUSTOM", sourceColumn="note", value="x")
    fill["ConditionExpressions"] = [expression]
    compares = condition.startswith(("GREATER", "LESS"))
    keys = ["1", "2", "3", "10", ""] if compares else ["a", "b", "c", "ba", ""]
    data = table(key=keys, note=[""] * 5)
    fitted, out = fit(data, [fill])
    assert out["note"].tolist() == filled
    assert transform(data, fitted)["note"].tolist() == filled  # inference replays them too
