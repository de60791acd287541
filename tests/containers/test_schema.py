"""Schemas: shipped ones load by name, a user's file loads by path, mistakes are explained."""

import json

import pytest

from processing.churn_schema import SchemaError, available_schemas, load_schema

# Every test here runs in this process, with no child process, server or browser.
pytestmark = pytest.mark.fast


def test_shipped_schemas_are_addressable_by_name():
    assert set(available_schemas()) >= {"seed", "bank", "telco", "bigml"}
    seed = load_schema("seed")
    assert seed.id_column == "customer_id"
    assert seed.target == "churn" and seed.positive == "1"
    assert seed.feature_names == ["age", "tenure", "balance", "num_products", "is_active"]
    age = seed.feature("age")
    assert (age.min, age.max, age.integer) == (0, 120, True)
    assert load_schema("telco").missing_values == [" "]
    assert load_schema("bigml").id_column is None
    assert load_schema("bigml").positive == "True"  # JSON true means the CSV spelling True


def test_a_schema_file_path_works(tmp_path):
    spec = {
        "id_column": "id",
        "target": {"column": "left", "positive": "y", "values": ["y", "n"]},
        "features": [{"name": "spend", "type": "numeric", "min": 0}],
    }
    path = tmp_path / "mytable.json"
    path.write_text(json.dumps(spec))
    schema = load_schema(str(path))
    assert schema.name == "mytable"
    assert schema.required_columns == ["id", "spend", "left"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"features": [{"name": "x", "type": "number"}]}, "use numeric or categorical"),
        (
            {"target": {"column": "left", "positive": "maybe", "values": ["y", "n"]}},
            "not among target.values",
        ),
        ({"target": {"column": "left"}}, '"target" needs "column" and "positive"'),
        ({"drop": ["spend"]}, "columns named more than once: spend"),
        ({"colour": "blue"}, "unknown keys colour"),
    ],
)
def test_schema_mistakes_are_named(tmp_path, change, message):
    spec = {
        "id_column": "id",
        "target": {"column": "left", "positive": "y", "values": ["y", "n"]},
        "features": [{"name": "spend", "type": "numeric"}],
    }
    spec.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(SchemaError, match=message):
        load_schema(str(path))


def test_unknown_schema_name_lists_the_shipped_ones():
    with pytest.raises(SchemaError, match="bank, bigml, seed, telco"):
        load_schema("banks")
