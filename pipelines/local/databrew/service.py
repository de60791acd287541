"""The local twin of AWS Glue DataBrew, as boto3's `databrew` client (docs/adr/0011: a twin is
its service's API): datasets, recipes (published versions), recipe jobs and their runs, over the
home's object store.

The calls are boto3's (create_dataset, describe_dataset, update_dataset, create_recipe,
update_recipe, publish_recipe, describe_recipe, create_recipe_job, describe_job, delete_job,
start_job_run, describe_job_run) with its keyword arguments, answered in the API's shapes and
refused as DataBrew refuses: botocore's ClientError with the code and HTTP status the API
reference documents (ValidationException 400, ResourceNotFoundException 404,
ConflictException 409). A run replays the job's
recipe version on the dataset's CSV objects, as DataBrew does: each step fitted on the whole
table (processing/churn_recipe.py, the one implementation of the DataBrew operations this
project knows; any other operation is refused by name when the recipe is created), and writes
one CSV with a header row under the output location, named <job>_<run time>_part00000.csv.
StartJobRun answers with the RunId at once and the run goes on, as on AWS, on a thread of the
caller's process (a local run lives no longer than that process: DescribeJobRun ends a run
whose process is gone FAILED); any failure of the run (a file it cannot read or write, a bug)
ends it FAILED with its reason as the ErrorMessage, never RUNNING.
"""

import csv
import io
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

import numpy as np
from botocore.exceptions import ClientError

from pipelines.errors import UserError
from pipelines.local.api import Answer, TwinClient, client_error
from pipelines.local.parameters import output_shape
from pipelines.local.processes import process_start, still_runs
from processing.churn_job import write_text_atomic
from processing.churn_recipe import RecipeError, fit, integer_columns, normalize_steps

MAX_CELLS = 200_000_000  # a local run reads the dataset into memory
# DataBrew documents no limit on a value's size; csv's own default (128 KB) is not DataBrew's.
FIELD_LIMIT = 2**31 - 1
NAME_BYTES = 250  # a record is <name>.json: a file name is at most 255 bytes
# The HTTP status of each error the twin answers, as botocore's databrew model (and each
# operation's Errors in the API reference) give them.
STATUS = {
    "ValidationException": 400,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
}

Record = Dict[str, Any]
Table = Dict[str, Any]


class RunFailed(Exception):
    """What stops a job run (its data, not the request): the run ends FAILED with this reason
    as its ErrorMessage."""


def refused(operation: str, code: str, message: str) -> ClientError:
    """DataBrew's answer `code` to `operation`, with its documented status."""
    return client_error(operation, code, message, STATUS[code])


class DataBrew(TwinClient):
    """boto3's `databrew` client over the home's datasets, recipes, jobs and runs; `store` is
    the home's object store, where datasets are read and jobs write."""

    service = "databrew"

    def __init__(self, home: Any, store: Any) -> None:
        self.root = Path(home) / "databrew"
        self.store = store

    # ------------------------------------------------------------------ datasets

    def create_dataset(self, **request: Any) -> Answer:
        op = "CreateDataset"
        self._request(op, request)
        self._create("datasets", request["Name"], _dataset(op, request, time.time()), op)
        return self._answer(op, {"Name": request["Name"]})

    def describe_dataset(self, **request: Any) -> Answer:
        op = "DescribeDataset"
        self._request(op, request)
        return self._answer(op, _shown(op, self._load("datasets", request["Name"], op)))

    def update_dataset(self, **request: Any) -> Answer:
        """The dataset made again from the request, keeping its creation date."""
        op = "UpdateDataset"
        self._request(op, request)
        created = self._load("datasets", request["Name"], op)["CreateDate"]
        self._save("datasets", request["Name"], _dataset(op, request, created), op)
        return self._answer(op, {"Name": request["Name"]})

    # ------------------------------------------------------------------ recipes

    def create_recipe(self, **request: Any) -> Answer:
        op = "CreateRecipe"
        self._request(op, request)
        _replayable(op, request["Name"], request["Steps"])
        record = {
            "Name": request["Name"],
            "Steps": request["Steps"],
            "Description": request.get("Description", ""),
            "RecipeVersion": "LATEST_WORKING",
            "Published": [],
            "CreateDate": time.time(),
        }
        self._create("recipes", request["Name"], record, op)
        return self._answer(op, {"Name": request["Name"]})

    def update_recipe(self, **request: Any) -> Answer:
        """The working version's steps and description: those the request has."""
        op = "UpdateRecipe"
        self._request(op, request)
        record = self._load("recipes", request["Name"], op)
        if "Steps" in request:
            _replayable(op, request["Name"], request["Steps"])
        record.update({k: request[k] for k in ("Steps", "Description") if k in request})
        self._save("recipes", request["Name"], record, op)
        return self._answer(op, {"Name": request["Name"]})

    def publish_recipe(self, **request: Any) -> Answer:
        op = "PublishRecipe"
        self._request(op, request)
        record = self._load("recipes", request["Name"], op)
        version = "%d.0" % (len(record["Published"]) + 1)
        record["Published"].append(
            {"RecipeVersion": version, "Steps": record["Steps"], "PublishedDate": time.time()}
        )
        self._save("recipes", request["Name"], record, op)
        return self._answer(op, {"Name": request["Name"]})

    def describe_recipe(self, **request: Any) -> Answer:
        """Without RecipeVersion, "the latest published version is returned" (the API
        reference's words)."""
        op = "DescribeRecipe"
        self._request(op, request)
        version = request.get("RecipeVersion", "LATEST_PUBLISHED")
        return self._answer(op, _shown(op, self._recipe(request["Name"], version, op)))

    def _recipe(self, name: str, version: str, operation: str) -> Record:
        record = self._load("recipes", name, operation)
        if version == "LATEST_WORKING":
            return {"Name": name, "Steps": record["Steps"], "RecipeVersion": version}
        if version == "LATEST_PUBLISHED" and record["Published"]:
            return dict(record["Published"][-1], Name=name)
        for published in record["Published"]:
            if published["RecipeVersion"] == version:
                return dict(published, Name=name)
        raise refused(
            operation,
            "ResourceNotFoundException",
            "recipe %s has no version %s" % (name, version),
        )

    # ------------------------------------------------------------------ jobs

    def create_recipe_job(self, **request: Any) -> Answer:
        """A job over a dataset and a recipe version (the twin has no projects), writing one
        CSV output; its description keeps the request's members DescribeJob answers."""
        op = "CreateRecipeJob"
        self._request(op, request)
        name = request["Name"]
        if "DatasetName" not in request or "RecipeReference" not in request:
            raise refused(
                op,
                "ValidationException",
                "job %s: the local twin runs a DatasetName with a RecipeReference "
                "(it has no projects)" % name,
            )
        self._load("datasets", request["DatasetName"], op)
        reference = request["RecipeReference"]
        self._recipe(reference["Name"], reference.get("RecipeVersion", "LATEST_PUBLISHED"), op)
        outputs = request.get("Outputs") or []
        if len(outputs) != 1 or outputs[0].get("Format", "CSV") != "CSV":
            raise refused(
                op, "ValidationException", "job %s: the local twin writes one CSV output" % name
            )
        kept = output_shape(self.service, "DescribeJob").members
        record = {k: v for k, v in request.items() if k in kept}
        record.update(Type="RECIPE", CreateDate=time.time())
        self._create("jobs", name, record, op)
        return self._answer(op, {"Name": name})

    def describe_job(self, **request: Any) -> Answer:
        op = "DescribeJob"
        self._request(op, request)
        return self._answer(op, _shown(op, self._load("jobs", request["Name"], op)))

    def delete_job(self, **request: Any) -> Answer:
        op = "DeleteJob"
        self._request(op, request)
        self._load("jobs", request["Name"], op)
        self._path("jobs", request["Name"], op).unlink()
        return self._answer(op, {"Name": request["Name"]})

    def start_job_run(self, **request: Any) -> Answer:
        op = "StartJobRun"
        self._request(op, request)
        name = request["Name"]
        job = self._load("jobs", name, op)
        run_id = "db_" + uuid.uuid4().hex
        run = {
            "JobName": name,
            "RunId": run_id,
            "State": "RUNNING",
            "Attempt": 0,
            "DatasetName": job["DatasetName"],
            "RecipeReference": job["RecipeReference"],
            "Outputs": job["Outputs"],
            "StartedOn": time.time(),
            # Which process runs it (a run is the caller's own work): one whose process is
            # gone was killed, and DescribeJobRun ends it FAILED.
            "_Process": {"pid": os.getpid(), "start": process_start(os.getpid())},
        }
        self._save("runs", run_id, run, op)
        # StartJobRun answers at once and the run goes on (API_StartJobRun.html); here on a
        # thread of the caller's process, which it lives no longer than (docs/adr/0011).
        threading.Thread(
            target=self._execute, args=(job, run), name="databrew-" + run_id, daemon=True
        ).start()
        return self._answer(op, {"RunId": run_id})

    def _execute(self, job: Record, run: Record) -> None:
        try:
            self._run(job, run)
            run.update(State="SUCCEEDED")
        except Exception as e:  # whatever stops the run fails it, with its reason
            run.update(State="FAILED", ErrorMessage=_reason(e))
        finally:  # an interrupt ends the run too: no run stays RUNNING
            if run["State"] == "RUNNING":
                run.update(State="FAILED", ErrorMessage="the run was interrupted")
            self._end(run)

    def describe_job_run(self, **request: Any) -> Answer:
        op = "DescribeJobRun"
        self._request(op, request)
        name, run_id = request["Name"], request["RunId"]
        run = self._load("runs", run_id, op, what="job run")
        if run["JobName"] != name:
            raise refused(op, "ResourceNotFoundException", "job %s has no run %s" % (name, run_id))
        process = run.get("_Process", {})
        if run["State"] == "RUNNING" and not still_runs(process.get("pid"), process.get("start")):
            run.update(
                State="FAILED",
                ErrorMessage="the process running this job run ended before the run did "
                "(killed?); start the job again",
            )
            self._end(run)
        shown = {k: v for k, v in run.items() if not k.startswith("_")}
        return self._answer(op, _shown(op, shown))

    def _end(self, run: Record) -> None:
        run["CompletedOn"] = time.time()
        run["ExecutionTime"] = int(round(run["CompletedOn"] - run["StartedOn"]))
        self._save("runs", run["RunId"], run, "StartJobRun")

    def _run(self, job: Record, run: Record) -> None:
        dataset = self._load("datasets", job["DatasetName"], "StartJobRun")
        reference = job["RecipeReference"]
        recipe = self._recipe(
            reference["Name"], reference.get("RecipeVersion", "LATEST_PUBLISHED"), "StartJobRun"
        )
        location = dataset["Input"]["S3InputDefinition"]
        uri = "s3://%s/%s" % (location["Bucket"], location.get("Key", ""))
        files = [p for _, p in sorted(self.store.objects(uri).items()) if p.suffix == ".csv"]
        if not files:
            raise RunFailed("dataset %s: no CSV objects at %s" % (dataset["Name"], uri))
        options = dataset["FormatOptions"].get("Csv", {})
        table = _read(files, options.get("Delimiter", ","), options.get("HeaderRow", True))
        fitted, prepared = fit(table, recipe["Steps"])
        output = job["Outputs"][0]["Location"]
        key = output.get("Key", "").strip("/")
        name = "%s_%s_part00000.csv" % (job["Name"], time.strftime("%d%b%Y_%H%M%S", time.gmtime()))
        target = "s3://%s/%s" % (output["Bucket"], "/".join(p for p in (key, name) if p))
        if job["Outputs"][0].get("Overwrite"):
            for _, old in self.store.objects("s3://%s/%s/" % (output["Bucket"], key)).items():
                old.unlink()
        self.store.put_bytes(target, _csv(prepared, integer_columns(fitted)).encode())

    # ------------------------------------------------------------------ records

    def _path(self, kind: str, name: str, operation: str) -> Path:
        """Where a record lives: its name is a file name, so beyond DataBrew's own limits
        (the model's, checked first) it is at most NAME_BYTES bytes, holds no '/' and does not
        start with '.'."""
        if (
            not name
            or "/" in name
            or "\x00" in name
            or name.startswith(".")
            or len(name.encode("utf-8", "replace")) > NAME_BYTES
        ):
            raise refused(
                operation,
                "ValidationException",
                "%r is not a DataBrew name (1-%d bytes, no '/', not starting with '.'; "
                "DataBrew's names are at most 255 characters, a job's 240)"
                % (name[:80], NAME_BYTES),
            )
        return self.root / kind / ("%s.json" % name)

    def _create(self, kind: str, name: str, record: Record, operation: str) -> None:
        if self._path(kind, name, operation).exists():
            raise refused(
                operation, "ConflictException", "%s %s already exists" % (kind[:-1], name)
            )
        self._save(kind, name, record, operation)

    def _save(self, kind: str, name: str, record: Record, operation: str) -> None:
        write_text_atomic(str(self._path(kind, name, operation)), json.dumps(record, indent=1))

    def _load(self, kind: str, name: str, operation: str, what: str = "") -> Record:
        path = self._path(kind, name, operation)
        if not path.exists():
            raise refused(
                operation,
                "ResourceNotFoundException",
                "%s %s does not exist" % (what or kind[:-1], name),
            )
        loaded: Record = json.loads(path.read_text())
        return loaded


def _dataset(operation: str, request: Record, created: float) -> Record:
    """The stored dataset of a CreateDataset or UpdateDataset request: CSV objects in S3 (the
    twin reads no other format or source)."""
    name, fmt = request["Name"], request.get("Format", "CSV")
    if fmt != "CSV":
        raise refused(
            operation, "ValidationException", "dataset %s: the local twin reads CSV datasets" % name
        )
    if not (request["Input"].get("S3InputDefinition") or {}).get("Bucket"):
        raise refused(
            operation,
            "ValidationException",
            "dataset %s: the local twin reads Input.S3InputDefinition (a Bucket)" % name,
        )
    return {
        "Name": name,
        "Format": fmt,
        "Input": request["Input"],
        "FormatOptions": request.get("FormatOptions")
        or {"Csv": {"Delimiter": ",", "HeaderRow": True}},
        "CreateDate": created,
    }


def _replayable(operation: str, name: str, steps: List[Record]) -> None:
    """A recipe made only of operations the twin replays (else refused by the operation's
    name): boto3's and the model's checks of it passed already."""
    try:
        normalize_steps(steps)
    except RecipeError as e:
        raise refused(
            operation,
            "ValidationException",
            "recipe %s cannot be replayed locally: %s" % (name, e),
        )


def _shown(operation: str, record: Record) -> Answer:
    """A record as boto3 hands the operation's answer back: its timestamp members (stored as
    epoch seconds) as datetimes, parsed as botocore parses them."""
    from botocore.utils import parse_timestamp

    members = output_shape("databrew", operation).members
    return {
        k: parse_timestamp(v) if members[k].type_name == "timestamp" else v
        for k, v in record.items()
    }


def _reason(error: Exception) -> str:
    """A failed run's ErrorMessage: the twin's own reasons say what is wrong; anything else is
    named by its type too."""
    if isinstance(error, (RunFailed, UserError, RecipeError)):
        return str(error)
    return "%s: %s" % (type(error).__name__, error)


def _read(files: List[Path], delimiter: str, header: bool) -> Table:
    """The CSV objects as one table of text columns (DataBrew reads every value as text until a
    step gives it a type)."""
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))  # process-wide: only raised
    rows: List[List[str]] = []
    columns: Optional[List[str]] = None
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter=delimiter)
            first = next(reader, None)
            if first is None:
                continue
            names = first if header else ["Column_%d" % (i + 1) for i in range(len(first))]
            twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
            if twice is not None:  # one of the two columns would be lost
                raise RunFailed("%s names column %r twice" % (path.name, twice))
            if columns is None:
                columns = names
            elif names != columns:
                raise RunFailed("%s has other columns than the dataset's first object" % path)
            if not header:
                rows.append(first)
            rows.extend(reader)
            if len(rows) * len(columns) > MAX_CELLS:
                raise RunFailed("the dataset is over %d cells: too big to run locally" % MAX_CELLS)
    if columns is None:
        raise RunFailed("the dataset's objects are empty")
    bad = next((i for i, r in enumerate(rows) if len(r) != len(columns)), None)
    if bad is not None:
        raise RunFailed(
            "row %d has %d fields, the header %d" % (bad + 2, len(rows[bad]), len(columns))
        )
    return {name: np.array([r[i] for r in rows], dtype=object) for i, name in enumerate(columns)}


def _csv(table: Table, integers: Set[str]) -> str:
    """The table as CSV text: numbers of the `integers` columns as integers where they are
    whole (a fill may have put a fraction there: it is written, never rounded away), other
    numbers as doubles (30.0), missing values empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(table)
    writer.writerow(names)
    formats = [_integer_text if n in integers else _double_text for n in names]
    for values in zip(*(table[n] for n in names)):
        writer.writerow(
            [
                "" if _missing(v) else (text(v) if isinstance(v, (float, np.floating)) else v)
                for text, v in zip(formats, values)
            ]
        )
    return out.getvalue()


def _double_text(value: Any) -> str:
    return repr(float(value))


def _integer_text(value: Any) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))
