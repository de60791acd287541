"""The DataBrew recipe engine: fitted on train rows only, replayed identically anywhere."""

import numpy as np
import pytest

from processing.churn_recipe import (
    InputValueError,
    NotReplayable,
    RecipeError,
    count_values,
    feature_matrix,
    fit,
    fit_counts,
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


def counted_in_parts(columns, parts, seed=0):
    """Each column's value counts of `parts` shuffled parts of the rows, concatenated: what a
    divided PreprocessData's instances would sum."""
    order = np.random.default_rng(seed).permutation(len(next(iter(columns.values()))))
    counts = {}
    for name, values in columns.items():
        pieces = [count_values(values[rows]) for rows in np.array_split(order, parts)]
        counts[name] = tuple(np.concatenate(piece) for piece in zip(*pieces))
    return counts


def mixed_rows(n=400):
    rng = np.random.default_rng(7)
    x = np.round(rng.normal(10, 5, n), 1)
    x[rng.random(n) < 0.1] = np.nan
    x[:5] = -0.0  # counted as 0.0, whichever of the two comes first
    c = rng.choice(np.array(["north", "south", "east", "west", "", "up"], dtype=object), n)
    y = np.array([str(v) for v in rng.integers(0, 9, n)], dtype=object)
    return {"x": x, "c": c, "y": y}


REPLAYABLE = {
    "modes": [
        step("FILL_WITH_MODE", sourceColumn="x", modeType="AVERAGE", targetColumn="xa"),
        step("FILL_WITH_MODE", sourceColumn="x", modeType="MAXIMUM", targetColumn="xm"),
        step("FILL_WITH_MODE", sourceColumn="x"),
        step("FILL_WITH_MODE", sourceColumn="c", modeType="MAXIMUM"),
    ],
    "averages and scalings": [
        step("FILL_WITH_AVERAGE", sourceColumn="x"),
        step("NORMALIZATION", sourceColumn="x", strategy="Z_SCORE", targetColumn="xz"),
        step("NORMALIZATION", sourceColumn="xz", strategy="MEAN_NORMALIZATION"),
    ],
    "a mapping, then fitted steps on what it made": [
        step(
            "CATEGORICAL_MAPPING",
            sourceColumn="c",
            mapType="NUMERIC",
            categoryMap='{"north": "1", "south": "2", "east": "3"}',
        ),
        step("FILL_WITH_MEDIAN", sourceColumn="c"),
        step("NORMALIZATION", sourceColumn="c", strategy="SCALE_BETWEEN", lowerBound="-1"),
    ],
    "a cast into another column, one-hot encoded": [
        step("CHANGE_DATA_TYPE", sourceColumn="y", columnDataType="integer", targetColumn="n"),
        step("ONE_HOT_ENCODING", sourceColumn="n", maxCategories="3"),
        step("ONE_HOT_ENCODING", sourceColumn="c"),
    ],
    "a condition on the column itself, a row filter after the last fit": [
        {
            **step("FILL_WITH_CUSTOM", sourceColumn="x", value="0"),
            "ConditionExpressions": [{"Condition": "IS_MISSING", "TargetColumn": "x"}],
        },  # fmt: skip
        step("FILL_WITH_MEDIAN", sourceColumn="x"),
        step("DELETE", sourceColumn="y"),
        step("REMOVE_MISSING", sourceColumn="c"),
    ],
}


@pytest.mark.parametrize("steps", list(REPLAYABLE.values()), ids=list(REPLAYABLE))
def test_value_counts_over_any_division_fit_what_the_rows_fit(steps):
    """fit_counts, given the value counts of each column summed over the parts of the rows,
    fits every statistic fit does on the rows, to the bit (ADR 0017)."""
    rows = mixed_rows()
    fitted = fit(rows, steps)[0]
    assert all(s.get("Fitted") is not None for s in fitted if "FILL_WITH_M" in str(s))
    for parts in (1, 2, 5):
        assert fit_counts(list(rows), counted_in_parts(rows, parts), steps) == fitted


NOT_REPLAYABLE = [
    (
        [step("REMOVE_MISSING", sourceColumn="c"), step("FILL_WITH_MEDIAN", sourceColumn="x")],
        "step 1 (REMOVE_MISSING of 'c') removes rows before a fitted step",
    ),
    (
        [
            {
                **step("FILL_WITH_CUSTOM", sourceColumn="x", value="0"),
                "ConditionExpressions": [
                    {"Condition": "IS", "Value": '["up"]', "TargetColumn": "c"}
                ],
            },  # fmt: skip
            step("NORMALIZATION", sourceColumn="x", strategy="MIN_MAX"),
        ],
        "step 1 (FILL_WITH_CUSTOM of 'x') changes rows chosen by column 'c' before a fitted",
    ),
    (
        [
            step(
                "CATEGORICAL_MAPPING",
                sourceColumn="c",
                categoryMap='{"up": "1"}',
                deleteOtherRows="true",
            ),
            step("FILL_WITH_MEDIAN", sourceColumn="x"),
        ],
        "step 1 (CATEGORICAL_MAPPING of 'c') removes rows before a fitted step",
    ),
]


@pytest.mark.parametrize("steps, message", NOT_REPLAYABLE)
def test_a_fit_that_depends_on_whole_rows_is_not_replayed_from_counts(steps, message):
    """Which rows a fitted step sees depends, here, on another column's values: per-column
    counts cannot say, and fit_counts refuses by name rather than fit other numbers."""
    rows = mixed_rows()
    fit(rows, steps)  # the rows fit it
    with pytest.raises(NotReplayable, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        fit_counts(list(rows), counted_in_parts(rows, 2), steps)
