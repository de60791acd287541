"""A Map state in Distributed mode (ItemProcessor.ProcessorConfig Mode DISTRIBUTED): its items
from the input or an ItemReader (a JSON, JSON Lines or CSV object, or the objects under a
prefix), ItemSelector, ItemBatcher, each item (batch) a child workflow execution of its own in a
Map Run, the failure thresholds, and ResultWriter's manifest and result files.

The S3 calls are the integrations' map resources (integrations.py: arn:aws:states:::s3:getObject,
s3:listObjectsV2, s3:putObject), so this module never sees a store; the Map Run and its children
are recorded through the execution's `map_runs` (MapRuns: in memory here, in the home through
the service). `refusal()` is what validate() asks of every Map state: what a Distributed Map has
that does not run locally is refused by name before the run starts (docs/workflows.md).
"""

import codecs
import concurrent.futures
import csv
import json
import re
import threading
import uuid
from typing import Any, Callable, Iterable, Iterator, Optional

from pipelines.local.stepfunctions import errors, expressions, intrinsics, paths, processing
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import Integrations, resource_key
from pipelines.local.stepfunctions.runtime import PAYLOAD_LIMIT, Document, Run, iso

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
CHILD_THREADS = 40  # children at once locally (AWS runs up to 10,000)
EXPRESS_SECONDS = 300  # an EXPRESS child's longest run
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


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
        _not_number(percentage) or not 0 <= percentage <= 100
    ):
        raise _Refused("ToleratedFailurePercentage must be a number from 0 to 100")
    count = state.get("ToleratedFailureCount", 0)
    if not _given_later(count, jsonata) and (_not_whole(count) or count < 0):
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
    if not _given_later(most, jsonata) and (_not_whole(most) or not 0 <= most <= MAX_ITEMS):
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
            _batch_limit(batcher[field], field, lambda message: _Refused(message))
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


def _not_number(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, (int, float))


def _not_whole(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def _batch_limit(value: Any, field: str, error: Callable[[str], Exception]) -> int:
    ceiling = PAYLOAD_LIMIT if field.startswith("MaxInputBytes") else MAX_ITEMS
    if _not_whole(value) or not 0 < value <= ceiling:
        raise error("ItemBatcher %s must be an integer from 1 to %d" % (field, ceiling))
    return int(value)


# -- Map Runs and where they are recorded -------------------------------------------------------


class MapRun:
    """A Map Run: what DescribeMapRun answers, and its children (executions)."""

    def __init__(
        self,
        arn: str,
        execution_arn: str,
        state_machine_arn: str,
        execution_type: str,
        max_concurrency: int,
        percentage: float,
        count: int,
        started: float,
    ) -> None:
        self.arn = arn
        self.execution_arn = execution_arn
        self.state_machine_arn = state_machine_arn
        self.execution_type = execution_type
        self.max_concurrency = max_concurrency
        self.tolerated_percentage = percentage
        self.tolerated_count = count
        self.started = started
        self.stopped: Optional[float] = None
        self.status = "RUNNING"
        self.error: Optional[str] = None
        self.cause: Optional[str] = None
        zero = dict.fromkeys(
            ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total",
             "resultsWritten"), 0,
        )  # fmt: skip
        self.item_counts = dict(zero)
        self.execution_counts = dict(zero)
        self.lock = threading.Lock()

    def count(self, what: str, items: int, change: int = 1) -> None:
        with self.lock:
            self.item_counts[what] += items * change
            self.execution_counts[what] += change


class MapRuns:
    """Where an execution's Distributed Maps record their Map Runs and children. This one
    keeps them in memory; the service's (map_runs.py) keeps them in the home."""

    def __init__(self) -> None:
        self.runs: dict[str, MapRun] = {}
        self.children: dict[str, list[Any]] = {}

    def run_changed(self, run: MapRun) -> None:
        self.runs[run.arn] = run

    def child_changed(self, run: MapRun, child: Any) -> None:
        """`child` is an interpreter.Execution with `map_run_arn` and `item_count`."""
        known = self.children.setdefault(run.arn, [])
        if child not in known:
            known.append(child)


# -- running one ----------------------------------------------------------------------------


class _Fields:
    """The Map state's own fields as it runs, evaluated in the parent execution: in JSONPath
    values, Paths and templates over the effective input and `$$`; in JSONata values and
    `{% %}` expressions over `$states` (the state's input and context) and the parent's
    variables as they were when the state was entered (its children read none of them)."""

    def __init__(self, name: str, effective: Any, context: Document, language: str) -> None:
        self.name = name
        self.effective = effective
        self.context = context
        self.jsonata = language == expressions.JSONATA
        scope = getattr(context, "variables", None)  # variables.Context carries its Scope
        self.variables: Document = scope.visible() if scope is not None else {}
        # a field's bad value: JSONata's expression errors are States.QueryEvaluationError
        self.error = errors.QUERY_EVALUATION if self.jsonata else errors.RUNTIME

    def template(self, value: Any, field: str, context: Optional[Document] = None) -> Any:
        """A JSONPath template (`.$` keys) or a JSONata value with its expressions."""
        context = self.context if context is None else context
        if self.jsonata:
            states = {"input": self.effective, "context": context}
            return expressions.fill(value, states, self.variables, field)
        return processing.template(value, self.effective, context)

    def select(self, path: str, field: str) -> Any:
        return processing.select(self.effective, path, self.context, field)

    def given(self, holder: Document, field: str) -> Any:
        """`field` of `holder` as the state runs (None: absent): in JSONata its value or its
        expression's, in JSONPath its value or its Path's."""
        if self.jsonata:
            return self.template(holder[field], field) if field in holder else None
        if field + "Path" in holder:
            return self.select(holder[field + "Path"], field + "Path")
        return holder.get(field)

    def bad(self, field: str, value: Any, wanted: str) -> StatesError:
        return StatesError(
            self.error,
            "The %s of Map state %r is %s, not %s" % (field, self.name, _shown(value), wanted),
        )


def run_map(
    execution: Run, cancelled: threading.Event, name: str, state: Document, effective: Any,
    context: Document, language: str = "JSONPath",
) -> Any:  # fmt: skip
    """The Distributed Map state `name` over its effective input (in JSONata its raw input):
    its result (the children's outputs in order, or with a ResultWriter the Map Run's ARN and
    the manifest's place). Its children are the processor's executions, in the state's
    `language` unless the processor names its own.

    The order of events is AWS's (as recorded against it): MapStateStarted (length 0 with an
    ItemReader, whose items are read inside the Map Run), the thresholds' and MaxItemsPath's
    States.Runtime before the Map Run, MapRunStarted, then MapRunSucceeded or MapRunFailed
    (States.ItemReaderFailed among them) and MapStateSucceeded or MapStateFailed."""
    history = execution.history
    fields = _Fields(name, effective, context, language)
    reading = "ItemReader" in state
    items: list[Any] = [] if reading else _input_items(state, fields)
    history.add("MapStateStarted", {"length": len(items)})
    concurrency = _max_concurrency(state, fields)
    percentage = _threshold(state, "ToleratedFailurePercentage", fields)
    count = _threshold(state, "ToleratedFailureCount", fields)
    most = _max_items(state, fields) if reading else 0
    processor = dict({"QueryLanguage": language}, **state["ItemProcessor"])
    arn = execution.arn.split(":")
    region, account, machine = arn[3], arn[4], arn[6].split("/")[0]
    label, run_id = label_of(name, state), str(uuid.uuid4())
    prefix = "arn:aws:states:%s:%s:" % (region, account)
    run = MapRun(
        "%smapRun:%s/%s:%s" % (prefix, machine, label, run_id),
        execution.arn,
        # The Map Run's (and its children's) state machine: <machine>/<label>, as recorded
        "%s/%s" % (execution.state_machine_arn, label) if execution.state_machine_arn else "",
        processor["ProcessorConfig"]["ExecutionType"],
        concurrency,
        float(percentage or 0),
        int(count or 0),
        execution.clock.now(),
    )
    recorder: MapRuns = execution.map_runs
    recorder.run_changed(run)
    history.add("MapRunStarted", {"mapRunArn": run.arn})
    children = _Children(execution, run, recorder, processor,
                         "%sexecution:%s/%s:%s:" % (prefix, machine, label, run_id))  # fmt: skip
    try:
        try:
            if reading:
                items = _read_items(execution, state["ItemReader"], most, fields)
            with run.lock:
                run.item_counts["total"] = run.item_counts["pending"] = len(items)
            batches = _batches(state.get("ItemBatcher"), _selected(state, items, fields), fields)
            total = len(items)
            children.run_all(
                batches, concurrency or CHILD_THREADS, cancelled,
                lambda failed: _exceeded(failed, total, percentage, count),
            )  # fmt: skip
            result: Any = [child.result for child in children.started]
            with run.lock:  # as recorded against AWS: also when written to the output
                run.execution_counts["resultsWritten"] = len(children.started)
                run.item_counts["resultsWritten"] = sum(c.items for c in children.started)
            if "ResultWriter" in state:
                result = _write_results(execution, run, children, state["ResultWriter"], fields)
            if children.exceeded:
                raise StatesError(errors.EXCEEDED_THRESHOLD, THRESHOLD_CAUSE)
        except StatesError as e:
            run.status, run.error, run.cause = "FAILED", e.error, e.cause
            raise
        run.status = "SUCCEEDED"
    except StatesError as e:
        run.stopped = execution.clock.now()
        recorder.run_changed(run)
        history.add("MapRunFailed", {"error": e.error, "cause": e.cause})
        history.add("MapStateFailed")
        raise
    run.stopped = execution.clock.now()
    recorder.run_changed(run)
    history.add("MapRunSucceeded")
    history.add("MapStateSucceeded")
    return result


def _selected(state: Document, items: list[Any], fields: _Fields) -> Iterator[Any]:
    """Each item as its child gets it: through the ItemSelector over $$.Map.Item (in JSONata
    `$states.context.Map.Item`)."""
    selector = state.get("ItemSelector", state.get("Parameters"))
    for index, item in enumerate(items):
        if selector is None or (not selector and not fields.jsonata):
            yield item
            continue
        item_context = dict(fields.context, Map={"Item": {"Index": index, "Value": item}})
        yield fields.template(selector, "ItemSelector", item_context)


def _exceeded(failed: int, total: int, percentage: Optional[float], count: Optional[int]) -> bool:
    """maprun-fail-threshold.html: without a threshold any failure fails the Map Run; with
    them, more failed items than ToleratedFailureCount or a larger share than
    ToleratedFailurePercentage (None: that one is not given)."""
    if percentage is None and count is None:
        return failed > 0
    if count is not None and failed > count:
        return True
    return percentage is not None and total > 0 and failed * 100.0 / total > percentage


def _max_concurrency(state: Document, fields: _Fields) -> int:
    if fields.jsonata and "MaxConcurrency" in state:
        value = fields.given(state, "MaxConcurrency")
        if _not_whole(value) or value < 0:
            raise fields.bad("MaxConcurrency", value, "a non-negative integer")
        return int(value)
    if "MaxConcurrencyPath" not in state:
        return int(state.get("MaxConcurrency", 0))
    value = fields.select(state["MaxConcurrencyPath"], "MaxConcurrencyPath")
    if _not_whole(value) or value < 0:
        raise StatesError(
            errors.RUNTIME,
            "The MaxConcurrencyPath selected %s, not a non-negative integer" % json.dumps(value),
        )
    return int(value)


def _threshold(state: Document, field: str, fields: _Fields) -> Any:
    """ToleratedFailurePercentage or ToleratedFailureCount, given, through its Path or in
    JSONata an expression (None: neither); a Path's bad value is States.Runtime with the cause
    AWS gives (recorded), an expression's States.QueryEvaluationError."""
    percentage = field == "ToleratedFailurePercentage"
    if fields.jsonata:
        value = fields.given(state, field)
        if value is not None and (
            (_not_number(value) or not 0 <= value <= 100)
            if percentage
            else (_not_whole(value) or value < 0)
        ):
            raise fields.bad(
                field, value, "a number from 0 to 100" if percentage else "a non-negative integer"
            )
        return value
    if field + "Path" not in state:
        return state.get(field)
    path = state[field + "Path"]
    value = fields.select(path, field + "Path")
    if _not_number(value) if percentage else _not_whole(value):
        raise StatesError(
            errors.RUNTIME,
            'The %sPath field refers to value "%s" which is not a valid %s: %s'
            % (field, _shown(value), "float" if percentage else "integer", path),
        )
    if percentage and not 0 <= value <= 100:
        raise StatesError(errors.RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
    if not percentage and value < 0:
        raise StatesError(errors.RUNTIME, "ToleratedFailureCount cannot be negative.")
    return value


def _max_items(state: Document, fields: _Fields) -> int:
    """ReaderConfig MaxItems, or MaxItemsPath's integer or in JSONata MaxItems' expression's
    (not checked further here: a negative one fails the Map Run's reading, a larger one than
    MaxItems may be is taken, as AWS does with a Path)."""
    config = state["ItemReader"].get("ReaderConfig", {})
    if fields.jsonata:
        value = fields.given(config, "MaxItems")
        if value is not None and _not_whole(value):
            raise fields.bad("ItemReader ReaderConfig MaxItems", value, "an integer")
        return int(value or 0)
    if "MaxItemsPath" not in config:
        return int(config.get("MaxItems", 0))
    path = config["MaxItemsPath"]
    value = fields.select(path, "MaxItemsPath")
    if _not_whole(value):
        raise StatesError(
            errors.RUNTIME,
            'The MaxItemsPath field refers to value "%s" which is not a valid integer: %s'
            % (_shown(value), path),
        )
    return int(value)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class _Child:
    """One item (batch) of a Map Run: its input, and once it ran, its execution."""

    def __init__(self, index: int, document: Any, items: int) -> None:
        self.index = index
        self.input = document
        self.items = items
        self.execution: Any = None
        self.result: Any = None
        self.aborted = False


class _Children:
    """A Map Run's children, run at most `limit` at once; once the failures exceed the
    thresholds (or the parent is cancelled), those running are aborted and the rest stay
    pending."""

    def __init__(
        self, parent: Run, run: MapRun, recorder: MapRuns, processor: Document, arn_prefix: str
    ) -> None:
        self.parent = parent
        self.run = run
        self.recorder = recorder
        self.processor = processor
        self.arn_prefix = arn_prefix
        self.started: list[_Child] = []
        self.pending: list[_Child] = []
        self.failed_items = 0
        self.exceeded = False
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.running: set[Any] = set()

    def run_all(
        self, batches: Iterator[tuple[Any, int]], limit: int, cancelled: threading.Event,
        exceeded: Callable[[int], bool],
    ) -> None:  # fmt: skip
        futures: "list[concurrent.futures.Future[None]]" = []
        slots = threading.Semaphore(max(1, min(limit, CHILD_THREADS)))
        with concurrent.futures.ThreadPoolExecutor(max(1, min(limit, CHILD_THREADS))) as pool:
            try:
                self._dispatch(pool, futures, slots, batches, cancelled, exceeded)
            except BaseException:  # an item that cannot be batched: the run stops here
                self._abort_running()
                raise
            with self.run.lock:
                self.run.execution_counts["total"] = len(self.started) + len(self.pending)
            while not all(f.done() for f in futures):
                self._watch(cancelled)
                concurrent.futures.wait(futures, timeout=0.05)
            for future in futures:
                future.result()  # a defect of the twin is raised, not lost
        with self.run.lock:
            self.run.execution_counts["total"] = len(self.started) + len(self.pending)
            self.run.execution_counts["pending"] = len(self.pending)
        self.parent.check_deadline()
        if cancelled.is_set() and self.parent.status == "RUNNING" and not self.exceeded:
            raise StatesError(errors.BRANCH_FAILED, "Cancelled: another branch failed")

    def _dispatch(
        self, pool: concurrent.futures.ThreadPoolExecutor,
        futures: "list[concurrent.futures.Future[None]]", slots: threading.Semaphore,
        batches: Iterator[tuple[Any, int]], cancelled: threading.Event,
        exceeded: Callable[[int], bool],
    ) -> None:  # fmt: skip
        """Each batch started as a slot frees, or once the run stops kept pending."""
        for index, (document, items) in enumerate(batches):
            child = _Child(index, document, items)
            while not slots.acquire(timeout=0.05):
                self._watch(cancelled)
            self._watch(cancelled)
            if self.stop.is_set():
                slots.release()
                self.pending.append(child)
                continue
            self.started.append(child)
            futures.append(pool.submit(self._one, child, slots, exceeded))

    def _watch(self, cancelled: threading.Event) -> None:
        """The parent cancelled (a sibling branch failed) or past its deadline: abort all."""
        deadline = self.parent.deadline
        past = deadline is not None and self.parent.clock.now() >= deadline
        if (cancelled.is_set() or past) and not self.stop.is_set():
            self._abort_running()

    def _abort_running(self) -> None:
        self.stop.set()
        with self.lock:
            for execution in self.running:
                execution.aborting = True
                execution.cancelled.set()

    def _one(self, child: _Child, slots: threading.Semaphore, exceeded: Callable[[int], bool]
             ) -> None:  # fmt: skip
        try:
            if self.stop.is_set():
                self.started.remove(child)
                self.pending.append(child)
                return
            self._execute(child)
            if child.execution.status != "SUCCEEDED" and not child.aborted:
                with self.lock:
                    self.failed_items += child.items
                    over = exceeded(self.failed_items)
                if over and not self.stop.is_set():
                    self.exceeded = True
                    self._abort_running()
        finally:
            slots.release()

    def _execute(self, child: _Child) -> None:
        parent, run = self.parent, self.run
        name = str(uuid.uuid4())
        # A child is an execution of the parent's kind (interpreter.Execution), made through
        # its class: this module is imported by the interpreter, not the other way round.
        make: Callable[..., Any] = type(parent)
        execution = make(
            self.processor,
            parent.integrations,
            child.input,
            name=name,
            arn=self.arn_prefix + name,
            state_machine_arn=run.state_machine_arn,
            role_arn=parent.role_arn,
            clock=parent.clock,
        )
        execution.map_runs = MapRuns()  # no Distributed Map inside one (refused)
        execution.map_run_arn = run.arn
        execution.item_count = child.items
        execution.aborting = False
        ends = [t for t in (parent.deadline,) if t is not None]
        if run.execution_type == "EXPRESS":
            ends.append(execution.started + EXPRESS_SECONDS)
        if ends:
            execution.timeout_at = min(ends)
        child.execution = execution
        execution.history.listener = lambda event: self.recorder.child_changed(run, execution)
        with run.lock:
            run.item_counts["pending"] -= child.items
        run.count("running", child.items)
        with self.lock:
            self.running.add(execution)
        if self.stop.is_set():
            execution.aborting = True
            execution.cancelled.set()
        self.recorder.child_changed(run, execution)
        self.recorder.run_changed(run)
        execution.run()
        with self.lock:
            self.running.discard(execution)
        run.count("running", child.items, -1)
        if execution.status != "SUCCEEDED" and execution.aborting:
            _aborted(execution)
            child.aborted = True
        status = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timedOut",
                  "ABORTED": "aborted"}[execution.status]  # fmt: skip
        run.count(status, child.items)
        if execution.status == "SUCCEEDED":
            child.result = execution.output
        else:
            child.result = {"Error": execution.error or "", "Cause": execution.cause or ""}
        self.recorder.child_changed(run, execution)
        self.recorder.run_changed(run)


def _aborted(execution: Any) -> None:
    """A child the Map Run stopped is ABORTED, as AWS has it, not FAILED: its last event says
    so."""
    execution.status, execution.error, execution.cause = "ABORTED", None, None
    events = execution.history.events
    if events and events[-1]["type"] in ("ExecutionFailed", "ExecutionTimedOut"):
        last = events[-1]
        events[-1] = {k: v for k, v in last.items() if not k.endswith("EventDetails")}
        events[-1]["type"] = "ExecutionAborted"


# -- items --------------------------------------------------------------------------------------


def _input_items(state: Document, fields: _Fields) -> list[Any]:
    """The items of the state's input: ItemsPath's or in JSONata Items' (by default the
    input)."""
    items = fields.effective
    if fields.jsonata and "Items" in state:
        items = fields.given(state, "Items")
    elif "ItemsPath" in state:
        items = fields.select(state["ItemsPath"], "ItemsPath")
    if not isinstance(items, list):
        raise StatesError(fields.error, "The Map state %r's items are not an array" % fields.name)
    return items


def _read_items(execution: Run, reader: Document, most: int, fields: _Fields) -> list[Any]:
    """The ItemReader's items (ItemsPath does not apply to them, as on AWS); every failure is
    States.ItemReaderFailed, but for an Arguments expression's (States.QueryEvaluationError)."""
    if most < 0:
        raise StatesError(errors.ITEM_READER_FAILED, "field MaxItems must be positive")
    field = "Arguments" if fields.jsonata else "Parameters"
    parameters = fields.template(reader.get(field, {}), "ItemReader " + field)
    if not isinstance(parameters, dict):
        raise fields.bad("ItemReader Arguments", parameters, "an object")
    function = execution.integrations.map_resource(reader["Resource"])
    if function is None:  # validate() refuses such a definition before it runs
        raise StatesError(errors.ITEM_READER_FAILED, "%s has no local twin" % reader["Resource"])
    try:
        if resource_key(reader["Resource"]) == LIST:
            return _limited(_listed(function, parameters), most)
        return _read(function, parameters, reader.get("ReaderConfig", {}), most)
    except StatesError as e:
        if e.error == errors.ITEM_READER_FAILED:
            raise
        raise StatesError(errors.ITEM_READER_FAILED, "%s: %s" % (e.error, e.cause))


def _limited(items: Iterator[Any], most: int) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if most and len(out) >= most:
            break
        out.append(item)
    return out


def _listed(function: Callable[[Any, Any], Any], parameters: Document) -> Iterator[Document]:
    """ListObjectsV2's pages, each object as the ItemReader gives it: Etag, Key, LastModified
    (epoch seconds), Size, StorageClass."""
    request = dict(parameters)
    while True:
        page = function(request, None)
        for listed in page.get("Contents", []):
            modified = listed["LastModified"]  # boto3's datetime
            if hasattr(modified, "timestamp"):
                modified = modified.timestamp()
            yield {
                "Etag": listed["ETag"],
                "Key": listed["Key"],
                "LastModified": int(modified),
                "Size": listed["Size"],
                "StorageClass": listed.get("StorageClass", "STANDARD"),
            }
        if not page.get("IsTruncated"):
            return
        request["ContinuationToken"] = page["NextContinuationToken"]


def _read(
    function: Callable[[Any, Any], Any], parameters: Document, config: Document, most: int
) -> list[Any]:
    answer = function(parameters, None)
    body = answer["Body"]
    try:
        size = answer.get("ContentLength", 0)
        if size > READER_LIMIT:
            raise StatesError(
                errors.ITEM_READER_FAILED,
                "The object s3://%s/%s is %d bytes, over the local ItemReader's limit of %d "
                "bytes" % (parameters.get("Bucket"), parameters.get("Key"), size, READER_LIMIT),
            )
        text = codecs.getreader("utf-8")(body)
        input_type = config["InputType"]
        try:
            if input_type == "JSON":
                items = json.load(text)
                if not isinstance(items, list):
                    raise StatesError(
                        errors.ITEM_READER_FAILED, "Attempting to map over non-iterable node."
                    )
                return items[:most] if most else items
            if input_type == "JSONL":
                return _limited((json.loads(line) for line in text if line.strip()), most)
            return _limited(_rows(text, config), most)
        except (ValueError, csv.Error) as e:  # UnicodeDecodeError, JSONDecodeError
            raise StatesError(
                errors.ITEM_READER_FAILED,
                "The ItemReader could not read s3://%s/%s as %s: %s"
                % (parameters.get("Bucket"), parameters.get("Key"), input_type, e),
            )
    finally:
        body.close()


def _rows(text: Iterable[str], config: Document) -> Iterator[Document]:
    """A CSV's rows, streamed, each an object of its headers' names to the row's strings."""
    rows = csv.reader(text, delimiter=DELIMITERS[config.get("CSVDelimiter", "COMMA")])
    headers = config.get("CSVHeaders")
    if config["CSVHeaderLocation"] == "FIRST_ROW":
        headers = next(rows, None)
        if not headers:
            raise StatesError(errors.ITEM_READER_FAILED, "The CSV object has no header row")
    assert headers is not None
    if len(set(headers)) != len(headers):
        raise StatesError(errors.ITEM_READER_FAILED, "CSV headers cannot contain duplicates.")
    for row in rows:
        if not row:
            continue
        # As recorded against AWS: a missing field is "", a field past the headers dropped
        yield {h: row[i] if i < len(row) else "" for i, h in enumerate(headers)}


def _batches(
    batcher: Optional[Document], inputs: Iterator[Any], fields: _Fields
) -> Iterator[tuple[Any, int]]:
    """Each child's input and how many items it holds: the items one by one, or with an
    ItemBatcher {"Items": [...], "BatchInput": ...} of at most MaxItemsPerBatch items and
    MaxInputBytesPerBatch bytes (as compact JSON)."""
    if not batcher:
        for document in inputs:
            yield document, 1
        return

    def failed(message: str) -> Exception:
        return StatesError(fields.error, message)

    most_items = most_bytes = 0
    for field in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
        value = fields.given(batcher, field) or 0
        if value or field + "Path" in batcher or (fields.jsonata and field in batcher):
            value = _batch_limit(value, field, failed)
        if field == "MaxItemsPerBatch":
            most_items = value
        else:
            most_bytes = value
    head: Document = {"Items": []}
    if "BatchInput" in batcher:
        head["BatchInput"] = fields.template(batcher["BatchInput"], "ItemBatcher BatchInput")
    empty = _size(head)
    batch: list[Any] = []
    size = empty
    for document in inputs:
        item_size = _size(document)
        grown = size + item_size + (1 if batch else 0)
        if batch and (
            (most_items and len(batch) >= most_items) or (most_bytes and grown > most_bytes)
        ):
            yield dict(head, Items=batch), len(batch)
            batch, size = [], empty
            grown = size + item_size
        if most_bytes and grown > most_bytes:
            raise StatesError(
                errors.RUNTIME,
                "An item of %d bytes does not fit a batch of MaxInputBytesPerBatch %d bytes"
                % (item_size, most_bytes),
            )
        batch.append(document)
        size = grown
    if batch:
        yield dict(head, Items=batch), len(batch)


def _size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode())


# -- ResultWriter -------------------------------------------------------------------------------


def _write_results(
    execution: Run, run: MapRun, children: _Children, writer: Document, fields: _Fields
) -> Document:
    """input-output-resultwriter.html: <Prefix>/<map run id>/manifest.json and a
    SUCCEEDED_0.json, FAILED_0.json, PENDING_0.json for the statuses that have children; the
    Map's result is the Map Run's ARN and the manifest's Bucket and Key."""
    field = "Arguments" if fields.jsonata else "Parameters"
    parameters = fields.template(writer[field], "ResultWriter " + field)
    if not isinstance(parameters, dict):
        raise fields.bad("ResultWriter Arguments", parameters, "an object")
    bucket, prefix = parameters.get("Bucket"), parameters.get("Prefix")
    if not isinstance(bucket, str) or not isinstance(prefix, str):
        raise StatesError(
            errors.RESULT_WRITER_FAILED, "ResultWriter Bucket and Prefix must be strings"
        )
    put = execution.integrations.map_resource(writer["Resource"])
    if put is None:  # validate() refuses such a definition before it runs
        raise StatesError(errors.RESULT_WRITER_FAILED, "%s has no local twin" % writer["Resource"])
    folder = "%s/%s/" % (prefix.rstrip("/"), run.arn.rsplit(":", 1)[1]) if prefix else (
        "%s/" % run.arn.rsplit(":", 1)[1])  # fmt: skip
    groups: dict[str, list[Document]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for child in sorted(children.started, key=lambda c: c.index):
        entry = _entry(child.execution)
        groups["SUCCEEDED" if entry["Status"] == "SUCCEEDED" else "FAILED"].append(entry)
    for child in sorted(children.pending, key=lambda c: c.index):
        groups["PENDING"].append({"Input": json.dumps(child.input), "Status": "PENDING"})
    files: dict[str, list[Document]] = {}
    written = 0
    try:
        for status in ("FAILED", "PENDING", "SUCCEEDED"):
            files[status] = []
            if not groups[status]:
                continue
            key = "%s%s_0.json" % (folder, status)
            body = json.dumps(groups[status]).encode()
            put({"Bucket": bucket, "Key": key, "Body": body}, None)
            files[status].append({"Key": key, "Size": len(body)})
            if status != "PENDING":
                written += len(groups[status])
        manifest = {"DestinationBucket": bucket, "MapRunArn": run.arn, "ResultFiles": files}
        put({"Bucket": bucket, "Key": folder + "manifest.json",
             "Body": json.dumps(manifest).encode()}, None)  # fmt: skip
    except StatesError as e:
        raise StatesError(errors.RESULT_WRITER_FAILED, "%s: %s" % (e.error, e.cause))
    with run.lock:
        run.execution_counts["resultsWritten"] = written
        run.item_counts["resultsWritten"] = sum(
            c.items for c in children.started if c.execution is not None
        )
    return {
        "MapRunArn": run.arn,
        "ResultWriterDetails": {"Bucket": bucket, "Key": folder + "manifest.json"},
    }


def _entry(child: Any) -> Document:
    """A child's line in a result file, as the developer guide shows them."""
    entry: Document = {
        "ExecutionArn": child.arn,
        "Input": json.dumps(child.input),
        "InputDetails": {"Included": True},
        "Name": child.name,
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "StartDate": iso(child.started),
        "StateMachineArn": child.state_machine_arn,
        "Status": child.status,
        "StopDate": iso(child.stopped if child.stopped is not None else child.started),
    }
    if child.status == "SUCCEEDED":
        entry["Output"] = json.dumps(child.output)
        entry["OutputDetails"] = {"Included": True}
    else:
        entry["Error"] = child.error or ""
        entry["Cause"] = child.cause or ""
    return entry
