"""What validate() asks of every Map state about Distributed mode (distributed.py runs it):
the fields only a Distributed Map has, its ItemReader, ItemBatcher, ResultWriter, thresholds
and Label checked in either query language, and what a Distributed Map has that does not run
locally refused by name before the run starts (docs/workflows.md)."""

import re
from typing import Any, Callable, Iterable, Iterator

from pipelines.local.stepfunctions import expressions, intrinsics, paths
from pipelines.local.stepfunctions.integrations import Integrations, resource_key
from pipelines.local.stepfunctions.runtime import PAYLOAD_LIMIT, Document

GET, LIST, PUT = "s3:getObject", "s3:listObjectsV2", "s3:putObject"
# The fields only a Distributed Map has: an inline Map naming one is refused, as on AWS
FIELDS = (
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
)
READER_FIELDS = ("Resource", "Parameters", "ReaderConfig")
# A JSONata Distributed Map's JSONPath-only fields (the state's own ItemsPath, Parameters and
# MaxConcurrencyPath the interpreter refuses in any JSONata state), each with its JSONata form
JSONPATH_ONLY = {
    "ToleratedFailurePercentagePath": "ToleratedFailurePercentage",
    "ToleratedFailureCountPath": "ToleratedFailureCount",
}
CONFIG_FIELDS = (
    "InputType",
    "CSVHeaderLocation",
    "CSVHeaders",
    "CSVDelimiter",
    "MaxItems",
    "MaxItemsPath",
)
INPUT_TYPES = ("CSV", "JSON", "JSONL")
DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
BATCHER_FIELDS = (
    "MaxItemsPerBatch",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath",
    "BatchInput",
)
MAX_ITEMS = 100_000_000  # ReaderConfig MaxItems' ceiling
LABEL_LENGTH = 40
# The characters AWS refuses in a Label (as recorded against it; "/" is taken)
LABEL_REFUSED = re.compile(r"[ ?*<>{}\[\]:;,\\|^~$#%&`\"\x00-\x1f\x7f-\x9f]")
# A local bound, lower than AWS's: an ItemReader object larger than this is refused with
# States.ItemReaderFailed (CSV and JSON Lines are read row by row, but every item is held).
READER_LIMIT = 256 * 1024 * 1024


# -- validation ---------------------------------------------------------------------------------


class _Refused(ValueError):
    pass


def refusal(name: str, state: Document, integrations: Integrations, language: str) -> str:
    """Why the Map state `name` cannot run locally ("" when it can): a Mode other than INLINE
    or DISTRIBUTED, a Distributed Map's field on an inline Map, and whatever of a Distributed
    Map the twin does not implement, each by name."""
    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
    mode = (processor.get("ProcessorConfig") or {}).get("Mode", "INLINE")
    try:
        if mode == "INLINE":
            given = [f for f in FIELDS if f in state]
            if given:
                raise _Refused(
                    "%s is a Distributed Map's field (ProcessorConfig Mode DISTRIBUTED), not an "
                    "inline Map's" % ", ".join(given)
                )
        elif mode == "DISTRIBUTED":
            _check(name, state, processor, integrations, language)
        else:
            raise _Refused("ProcessorConfig Mode %r is not INLINE or DISTRIBUTED" % (mode,))
    except _Refused as e:
        return str(e)
    return ""


def is_distributed(state: Document) -> bool:
    processor = state.get("ItemProcessor") or {}
    return (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"


def _check(
    name: str, state: Document, processor: Document, integrations: Integrations, language: str
) -> None:
    jsonata = language == expressions.JSONATA
    if jsonata:
        _check_jsonata(state)
    if "ItemProcessor" not in state:
        raise _Refused("a Distributed Map's processor is its ItemProcessor (not Iterator)")
    execution_type = processor["ProcessorConfig"].get("ExecutionType")
    if execution_type not in ("STANDARD", "EXPRESS"):
        raise _Refused(
            "ProcessorConfig ExecutionType %r is not STANDARD or EXPRESS (a Distributed Map "
            "needs one)" % (execution_type,)
        )
    if "Label" in state:
        problem = _label_problem(state["Label"])
        if problem:
            raise _Refused(problem)
    _check_processor(processor, execution_type)
    if "ItemReader" in state:
        _check_reader(state["ItemReader"], integrations, jsonata)
    if "ItemBatcher" in state:
        _check_batcher(state["ItemBatcher"], jsonata)
    if "ResultWriter" in state:
        _check_writer(state["ResultWriter"], integrations, jsonata)
    for field in ("ToleratedFailurePercentage", "ToleratedFailureCount"):
        if field in state and field + "Path" in state:
            raise _Refused("%s and %sPath cannot both be given" % (field, field))
        _check_path(state.get(field + "Path"), field + "Path")
    percentage = state.get("ToleratedFailurePercentage", 0)
    if not _given_later(percentage, jsonata) and (
        not_number(percentage) or not 0 <= percentage <= 100
    ):
        raise _Refused("ToleratedFailurePercentage must be a number from 0 to 100")
    count = state.get("ToleratedFailureCount", 0)
    if not _given_later(count, jsonata) and (not_whole(count) or count < 0):
        raise _Refused("ToleratedFailureCount must be a non-negative integer")


def _given_later(value: Any, jsonata: bool) -> bool:
    """A JSONata field's `{% %}` expression: its value is known only when the state runs."""
    return jsonata and expressions.is_expression(value)


def _check_jsonata(state: Document) -> None:
    """A JSONata Distributed Map: none of JSONPath's fields (the interpreter refuses those every
    JSONata state lacks), not Items with an ItemReader, every expression of its own fields
    parsed, and none reading `$states.result` or `$states.errorOutput` (the Map's result exists
    only in its Output and Assign)."""
    for field, instead in JSONPATH_ONLY.items():
        if field in state:
            raise _Refused(
                "%s is a JSONPath field: a JSONata Distributed Map has %s (a number or a "
                "{%% %%} expression)" % (field, instead)
            )
    if "Items" in state and "ItemReader" in state:
        raise _Refused(
            "Items and ItemReader cannot both be given: a Distributed Map's items come from "
            "its input (Items) or from an ItemReader"
        )
    for field in ("ItemReader", "ItemBatcher", "ResultWriter") + tuple(JSONPATH_ONLY.values()):
        _check_expressions(state.get(field), field)


def _check_expressions(value: Any, where: str) -> None:
    """Each `{% %}` string in `value` parsed and reading neither `$states.result` nor
    `$states.errorOutput`; `where` names the field (ItemReader Arguments Bucket)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_expressions(item, "%s %s" % (where, key))
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_expressions(item, "%s[%d]" % (where, i))
        return
    try:
        expressions.check(value)
    except expressions.ExpressionSyntaxError as e:
        raise _Refused("%s: %s" % (where, e))
    for member in ("result", "errorOutput"):
        if expressions.mentions(value, member):
            raise _Refused(
                "%s: $states.%s is not available here (only a Map's Output and Assign read its "
                "result)" % (where, member)
            )


def _label_problem(label: Any) -> str:
    """AWS's refusal of a Label, in its words ("" when it is one)."""
    if not isinstance(label, str) or not label:
        return "Label cannot be empty"
    if len(label) > LABEL_LENGTH:
        return "Label cannot exceed %d characters" % LABEL_LENGTH
    refused = LABEL_REFUSED.search(label)
    if refused:
        return "Label contains invalid character: %r" % refused.group()
    return ""


def label_of(name: str, state: Document) -> str:
    """The Label that names the Map Run: the state's, or its name (with the characters a
    Label cannot have as "-", at most 40 of them)."""
    if "Label" in state:
        return str(state["Label"])
    return LABEL_REFUSED.sub("-", name)[:LABEL_LENGTH]


def _check_processor(processor: Document, execution_type: str) -> None:
    """No Distributed Map inside (the twin records one level of Map Runs); in an EXPRESS
    child, no .sync or .waitForTaskToken task (Express workflows have neither)."""
    for state in _all_states(processor):
        if state.get("Type") == "Map" and is_distributed(state):
            raise _Refused(
                "a Distributed Map inside a Distributed Map's item processor does not run locally"
            )
        resource = state.get("Resource")
        if (
            execution_type == "EXPRESS"
            and isinstance(resource, str)
            and (".sync" in resource or resource.endswith(".waitForTaskToken"))
        ):
            raise _Refused(
                "%s: an EXPRESS child workflow cannot run .sync or .waitForTaskToken tasks"
                % resource
            )


def _all_states(definition: Document) -> Iterator[Document]:
    for state in (definition.get("States") or {}).values():
        yield state
        for branch in state.get("Branches", []):
            yield from _all_states(branch)
        inner = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(inner, dict):
            yield from _all_states(inner)


def _check_reader(reader: Any, integrations: Integrations, jsonata: bool) -> None:
    if not isinstance(reader, dict):
        raise _Refused("ItemReader must be an object")
    arguments = _arguments_field(reader, "ItemReader", jsonata)
    _only(reader, ("Resource", arguments, "ReaderConfig"), "ItemReader")
    resource = reader.get("Resource")
    key = resource_key(resource) if isinstance(resource, str) else None
    config = reader.get("ReaderConfig", {})
    if not isinstance(config, dict):
        raise _Refused("ItemReader ReaderConfig must be an object")
    _only(config, CONFIG_FIELDS, "ItemReader ReaderConfig")
    input_type = config.get("InputType")
    if input_type in ("MANIFEST", "PARQUET"):
        raise _Refused(
            "ItemReader InputType %s (an S3 inventory manifest or Parquet) does not run locally"
            % input_type
        )
    if key == GET:
        if input_type not in INPUT_TYPES:
            raise _Refused(
                "ItemReader InputType %r is not CSV, JSON or JSONL (s3:getObject needs one)"
                % (input_type,)
            )
    elif key == LIST:
        if input_type is not None:
            raise _Refused("ItemReader InputType is for s3:getObject, not s3:listObjectsV2")
    else:
        raise _Refused(
            "ItemReader Resource %r is not arn:aws:states:::s3:getObject or "
            "arn:aws:states:::s3:listObjectsV2" % (resource,)
        )
    if integrations.map_resource(resource) is None:
        raise _Refused("ItemReader %s has no local twin here (no S3 store)" % resource)
    if input_type == "CSV":
        location = config.get("CSVHeaderLocation")
        if location not in ("FIRST_ROW", "GIVEN"):
            raise _Refused("ItemReader CSVHeaderLocation must be FIRST_ROW or GIVEN for a CSV")
        headers = config.get("CSVHeaders")
        if (location == "GIVEN") != (headers is not None):
            raise _Refused(
                "ItemReader CSVHeaders are given exactly when CSVHeaderLocation is GIVEN"
            )
        if headers is not None and (
            not isinstance(headers, list)
            or not headers
            or not all(isinstance(h, str) for h in headers)
        ):
            raise _Refused("ItemReader CSVHeaders must be a list of strings")
        if config.get("CSVDelimiter", "COMMA") not in DELIMITERS:
            raise _Refused(
                "ItemReader CSVDelimiter must be one of %s" % ", ".join(sorted(DELIMITERS))
            )
    elif "CSVHeaderLocation" in config or "CSVHeaders" in config or "CSVDelimiter" in config:
        raise _Refused("ItemReader CSVHeaderLocation, CSVHeaders and CSVDelimiter are for a CSV")
    if jsonata and "MaxItemsPath" in config:
        raise _Refused(
            "ItemReader ReaderConfig MaxItemsPath is a JSONPath field: a JSONata ItemReader has "
            "MaxItems (a number or a {% %} expression)"
        )
    if "MaxItems" in config and "MaxItemsPath" in config:
        raise _Refused("ItemReader MaxItems and MaxItemsPath cannot both be given")
    most = config.get("MaxItems", 0)
    if not _given_later(most, jsonata) and (not_whole(most) or not 0 <= most <= MAX_ITEMS):
        raise _Refused("ItemReader MaxItems must be an integer from 0 to %d" % MAX_ITEMS)
    _check_path(config.get("MaxItemsPath"), "ItemReader MaxItemsPath")
    parameters = reader.get(arguments, {})
    if not isinstance(parameters, dict) and not _given_later(parameters, jsonata):
        raise _Refused("ItemReader %s must be an object" % arguments)
    if isinstance(parameters, dict) and ("VersionId" in parameters or "VersionId.$" in parameters):
        raise _Refused("ItemReader VersionId: the local store keeps no object versions")
    if not jsonata:
        _check_template(parameters, "ItemReader Parameters")


def _arguments_field(holder: Document, where: str, jsonata: bool) -> str:
    """Where an ItemReader or ResultWriter has its S3 call's fields: Arguments in JSONata,
    Parameters in JSONPath (input-output-itemreader.html); the other refused by name."""
    field, other = ("Arguments", "Parameters") if jsonata else ("Parameters", "Arguments")
    if other in holder:
        raise _Refused(
            "%s %s is a %s field: a %s %s has %s"
            % (where, other, "JSONPath" if jsonata else "JSONata",
               "JSONata" if jsonata else "JSONPath", where, field)
        )  # fmt: skip
    return field


def _check_batcher(batcher: Any, jsonata: bool) -> None:
    if not isinstance(batcher, dict):
        raise _Refused("ItemBatcher must be an object")
    for field in BATCHER_FIELDS:
        if jsonata and field.endswith("Path") and field in batcher:
            raise _Refused(
                "ItemBatcher %s is a JSONPath field: a JSONata ItemBatcher has %s (a number or "
                "a {%% %%} expression)" % (field, field[:-4])
            )
    _only(batcher, BATCHER_FIELDS, "ItemBatcher")
    if not any(f in batcher for f in BATCHER_FIELDS[:4]):
        raise _Refused(
            "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path forms)"
        )
    for field in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
        if field in batcher and field + "Path" in batcher:
            raise _Refused("ItemBatcher %s and %sPath cannot both be given" % (field, field))
        if field in batcher and not _given_later(batcher[field], jsonata):
            batch_limit(batcher[field], field, lambda message: _Refused(message))
        _check_path(batcher.get(field + "Path"), "ItemBatcher %sPath" % field)
    if not jsonata:
        _check_template(batcher.get("BatchInput"), "ItemBatcher BatchInput")


def _check_writer(writer: Any, integrations: Integrations, jsonata: bool) -> None:
    if not isinstance(writer, dict):
        raise _Refused("ResultWriter must be an object")
    if "WriterConfig" in writer:
        raise _Refused(
            "ResultWriter WriterConfig (Transformation, OutputType) does not run locally: the "
            "twin writes the results as AWS does without it"
        )
    arguments = _arguments_field(writer, "ResultWriter", jsonata)
    _only(writer, ("Resource", arguments), "ResultWriter")
    resource = writer.get("Resource")
    if not isinstance(resource, str) or resource_key(resource) != PUT:
        raise _Refused(
            "ResultWriter Resource %r is not arn:aws:states:::s3:putObject" % (resource,)
        )
    if integrations.map_resource(resource) is None:
        raise _Refused("ResultWriter %s has no local twin here (no S3 store)" % resource)
    parameters = writer.get(arguments)
    if _given_later(parameters, jsonata):
        return  # an expression whose object's Bucket and Prefix are checked when it runs
    if not isinstance(parameters, dict) or not all(
        f in parameters or f + ".$" in parameters for f in ("Bucket", "Prefix")
    ):
        raise _Refused("ResultWriter %s need Bucket and Prefix" % arguments)
    names = ("Bucket", "Prefix") if jsonata else ("Bucket", "Bucket.$", "Prefix", "Prefix.$")
    _only(parameters, names, "ResultWriter " + arguments)
    if not jsonata:
        _check_template(parameters, "ResultWriter Parameters")


def _only(document: Document, allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(document) - set(allowed))
    if unknown:
        raise _Refused("%s: %s does not run locally (or is not a field of it)"
                       % (where, ", ".join(unknown)))  # fmt: skip


def _check_path(path: Any, where: str) -> None:
    if path is None:
        return
    try:
        paths.parse(path)
    except paths.PathSyntaxError as e:
        raise _Refused("%s: %s" % (where, e))


def _check_template(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$"):
                if not isinstance(item, str):
                    raise _Refused("%s: %s must be a path or an intrinsic" % (where, key))
                try:
                    (intrinsics.parse if intrinsics.is_intrinsic(item) else paths.parse)(item)
                except paths.PathSyntaxError as e:
                    raise _Refused("%s: %s: %s" % (where, key, e))
            else:
                _check_template(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_template(item, where)


def not_number(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, (int, float))


def not_whole(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def batch_limit(value: Any, field: str, error: Callable[[str], Exception]) -> int:
    ceiling = PAYLOAD_LIMIT if field.startswith("MaxInputBytes") else MAX_ITEMS
    if not_whole(value) or not 0 < value <= ceiling:
        raise error("ItemBatcher %s must be an integer from 1 to %d" % (field, ceiling))
    return int(value)


# -- Map Runs and where they are recorded -------------------------------------------------------
