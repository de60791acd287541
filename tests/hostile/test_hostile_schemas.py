"""Bad schema files through `churn run`: a non-zero exit, one line naming the field, no
traceback, nothing started. Each is also invalid under the JSON Schema published in
docs/schema-file.schema.json, and the shipped schemas are valid under it, so the two agree."""

import copy
import json
import sys

import jsonschema
import pytest

from conftest import ROOT, churn_cli

SEED = json.loads((ROOT / "processing" / "schemas" / "seed.json").read_text())
PUBLISHED = json.loads((ROOT / "docs" / "schema-file.schema.json").read_text())


def changed(path, value):
    """The seed schema with the field at `path` ("features.2.min") set, or removed (None)."""
    schema = copy.deepcopy(SEED)
    *parents, last = path.split(".")
    node = schema
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    key = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return schema


DELETE = object()
# (schema, what the one line must name). One rule relates two fields (min at most max): a JSON
# Schema cannot say it, so only the loader checks that one.
RELATIONS = {"features[0].min must be at most max"}
BAD = [
    (changed("features.0.completeness", "abc"), "features[0].completeness"),
    (changed("features.0.completeness", 1.5), "features[0].completeness"),
    (changed("features.0.completeness", True), "features[0].completeness"),
    (changed("features.0.min", "abc"), "features[0].min"),
    (changed("features.0.max", [1]), "features[0].max"),
    (changed("features.0.min", 200), "features[0].min must be at most max"),
    (changed("features.0.name", 42), "features[0].name"),
    (changed("features.0.name", ""), "features[0].name"),
    (changed("features.0.integer", "no"), "features[0].integer"),
    (changed("features.0.integer", 1), "features[0].integer"),
    (changed("features.0.type", "text"), "type 'text'"),
    (changed("features.0.unit", "years"), "unknown keys unit"),
    (changed("features.0.values", "abc"), "features[0].values"),
    (changed("features.0.values", []), "features[0].values"),
    (changed("features.0", "age"), "features[0]"),
    (changed("features", []), '"features" must be a non-empty list'),
    (changed("features", DELETE), '"features" must be a non-empty list'),
    (changed("missing_values", "NA"), "missing_values"),
    (changed("missing_values", [1]), "missing_values"),
    (changed("drop", "notes"), "drop"),
    (changed("drop", [""]), "drop"),
    (changed("id_column", 7), "id_column"),
    (changed("id_completeness", "all"), "id_completeness"),
    (changed("name", 5), "name"),
    (changed("description", ["x"]), "description"),
    (changed("recipe", "DELETE notes"), "recipe"),
    (changed("target.column", 1), "target.column"),
    (changed("target.positive", [1]), "target.positive"),
    (changed("target.values", "0,1"), "target.values"),
    (changed("target.values", DELETE), "target.values"),
    (changed("target.weights", [1, 2]), "target has unknown keys weights"),
    (changed("target", "churn"), '"target" needs "column" and "positive"'),
    (changed("colour", "blue"), "unknown keys colour"),
    (changed("on_invalid", "warn"), "on_invalid"),
    (changed("features.1.on_invalid", True), "features[1].on_invalid"),
    (changed("model_package_group", "churn models"), "model_package_group"),
    (changed("model_package_group", "-churn"), "model_package_group"),
    (changed("model_package_group", "x" * 64), "model_package_group"),
    (["not", "an", "object"], "expected a JSON object"),
]


@pytest.mark.fast
def test_the_shipped_schemas_are_valid_under_the_published_json_schema():
    for path in sorted((ROOT / "processing" / "schemas").glob("*.json")):
        jsonschema.validate(json.loads(path.read_text()), PUBLISHED)


@pytest.mark.parametrize("schema, field", BAD, ids=[field for _, field in BAD])
def test_a_bad_schema_file_is_one_line_naming_the_field(tmp_path, schema, field):
    if field not in RELATIONS:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(schema, PUBLISHED)
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    proc = churn_cli(tmp_path / "home", "run", "--schema", path, "--data", ROOT / "README.md")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("churn run: error: schema ") and field in lines[0], lines[0]
    assert not (tmp_path / "home" / "executions").exists()


@pytest.mark.fast
def test_text_does_not_pass_for_other_types_silently():
    """'"integer": "no"' became true, '"missing_values": "NA"' N and A, '"drop": "notes"' its
    letters: refused now, by the loader itself."""
    sys.path.insert(0, str(ROOT / "processing"))
    from churn_schema import Schema, SchemaError

    for schema, _ in BAD[:3] + BAD[8:9] + BAD[17:18] + BAD[19:20]:
        with pytest.raises(SchemaError):
            Schema(schema, "x.json")


def test_a_schema_file_nested_too_deep_is_one_line(tmp_path):
    """A schema file nested 100,000 deep was a RecursionError traceback."""
    deep = "[" * 100_000 + "]" * 100_000
    text = json.dumps(SEED)[:-1] + ', "recipe": %s}' % deep
    path = tmp_path / "schema.json"
    path.write_text(text)
    proc = churn_cli(tmp_path / "home", "run", "--schema", path, "--data", ROOT / "README.md")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr[-2000:]
    assert "nests" in lines[0] and str(path) in lines[0], lines[0]
    assert not (tmp_path / "home" / "executions").exists()
