"""A Distributed Map's items in and results out (distributed.py runs the Map Run): the items
of its input or its ItemReader (a JSON, JSON Lines or CSV object, or the objects under a
prefix, read through the integrations' map resources), ItemBatcher's batches, and
ResultWriter's manifest and result files."""

import codecs
import csv
import json
from typing import Any, Callable, Iterable, Iterator, Optional

from pipelines.local.stepfunctions import errors, expressions, processing
from pipelines.local.stepfunctions.distributed_checks import (
    DELIMITERS,
    LIST,
    READER_LIMIT,
    batch_limit,
)
from pipelines.local.stepfunctions.errors import StatesError
from pipelines.local.stepfunctions.integrations import resource_key
from pipelines.local.stepfunctions.runtime import Document, Run, iso


class Fields:
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
            "The %s of Map state %r is %s, not %s" % (field, self.name, shown(value), wanted),
        )


def shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def input_items(state: Document, fields: Fields) -> list[Any]:
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


def read_items(execution: Run, reader: Document, most: int, fields: Fields) -> list[Any]:
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


def batches(
    batcher: Optional[Document], inputs: Iterator[Any], fields: Fields
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
            value = batch_limit(value, field, failed)
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


def write_results(
    execution: Run, run: Any, children: Any, writer: Document, fields: Fields
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
