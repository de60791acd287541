"""The local twin of AWS Glue DataBrew: datasets, recipes (published versions), recipe jobs and
their runs, over the home's object store.

The calls and answers follow DataBrew's API (CreateDataset, CreateRecipe, PublishRecipe,
DescribeRecipe, CreateRecipeJob, StartJobRun, DescribeJobRun, ...). A run replays the job's
recipe version on the dataset's CSV objects, as DataBrew does: each step fitted on the whole
table (processing/churn_recipe.py, the one implementation of the DataBrew operations this
project knows; any other operation is refused by name when the recipe is created), and writes
one CSV with a header row under the output location, named <job>_<run time>_part00000.csv.
StartJobRun runs the job to its end before it returns; DescribeJobRun then reports it: any
failure of the run (a file it cannot read or write, a bug) ends it FAILED with its reason as
the ErrorMessage, never RUNNING.
"""

import csv
import io
import json
import os
import time
import uuid
from pathlib import Path

import numpy as np

from pipelines.errors import UserError
from pipelines.local.parameters import check_parameters, constraint_violations, output_shape
from pipelines.local.processes import process_start, still_runs
from processing.churn_job import write_text_atomic
from processing.churn_recipe import RecipeError, fit, integer_columns, normalize_steps

MAX_CELLS = 200_000_000  # a local run reads the dataset into memory
# DataBrew documents no limit on a value's size; csv's own default (128 KB) is not DataBrew's.
FIELD_LIMIT = 2**31 - 1
NAME_BYTES = 250  # a record is <name>.json: a file name is at most 255 bytes


class DataBrewError(UserError):
    def __init__(self, message, code="ValidationException"):
        super().__init__(message)
        self.code = code


def _checked(operation, params):
    """boto3's own checks of a request (botocore's model: RecipeStep's shape, ...), then the
    service's (the model's enums and patterns: an Operation name must match ^[A-Z\\_]+$)."""
    from botocore.exceptions import ParamValidationError

    try:
        check_parameters("databrew", operation, params)
    except ParamValidationError as e:
        raise DataBrewError("%s: %s" % (operation, " ".join(str(e).split())))
    violations = constraint_violations("databrew", operation, params)
    if violations:
        raise DataBrewError("%s: %s" % (operation, "; ".join(violations)))


def _replayable(operation, name, steps, description):
    """A recipe boto3 would send, made only of operations the twin replays (else refused by
    the operation's name)."""
    _checked(operation, {"Name": name, "Steps": steps, "Description": description})
    try:
        normalize_steps(steps)
    except RecipeError as e:
        raise DataBrewError("recipe %s cannot be replayed locally: %s" % (name, e))


class DataBrew(object):
    def __init__(self, home, store):
        self.root = Path(home) / "databrew"
        self.store = store

    # ------------------------------------------------------------------ datasets

    def create_dataset(self, Name, Input, Format="CSV", FormatOptions=None, **extra):
        _checked(
            "CreateDataset",
            dict(
                extra,
                Name=Name,
                Input=Input,
                Format=Format,
                **({"FormatOptions": FormatOptions} if FormatOptions else {}),
            ),
        )
        if Format != "CSV":
            raise DataBrewError("dataset %s: the local twin reads CSV datasets" % Name)
        location = (Input or {}).get("S3InputDefinition") or {}
        if not location.get("Bucket"):
            raise DataBrewError("dataset %s: Input.S3InputDefinition.Bucket is required" % Name)
        record = {
            "Name": Name,
            "Format": Format,
            "Input": Input,
            "FormatOptions": FormatOptions or {"Csv": {"Delimiter": ",", "HeaderRow": True}},
            "CreateDate": time.time(),
        }
        self._create("datasets", Name, record)
        return {"Name": Name}

    def describe_dataset(self, Name):
        return _answer("DescribeDataset", self._load("datasets", Name))

    def update_dataset(self, Name, Input, Format="CSV", FormatOptions=None, **extra):
        created = self._load("datasets", Name)["CreateDate"]
        self._delete("datasets", Name)
        self.create_dataset(Name, Input, Format, FormatOptions, **extra)
        record = self._load("datasets", Name)
        self._save("datasets", Name, dict(record, CreateDate=created))
        return {"Name": Name}

    # ------------------------------------------------------------------ recipes

    def create_recipe(self, Name, Steps, Description=""):
        _replayable("CreateRecipe", Name, Steps, Description)
        record = {
            "Name": Name,
            "Steps": Steps,
            "Description": Description,
            "RecipeVersion": "LATEST_WORKING",
            "Published": [],
            "CreateDate": time.time(),
        }
        self._create("recipes", Name, record)
        return {"Name": Name}

    def update_recipe(self, Name, Steps, Description=""):
        _replayable("UpdateRecipe", Name, Steps, Description)
        record = self._load("recipes", Name)
        record.update(Steps=Steps, Description=Description)
        self._save("recipes", Name, record)
        return {"Name": Name}

    def publish_recipe(self, Name, Description=""):
        record = self._load("recipes", Name)
        version = "%d.0" % (len(record["Published"]) + 1)
        record["Published"].append(
            {"RecipeVersion": version, "Steps": record["Steps"], "PublishedDate": time.time()}
        )
        self._save("recipes", Name, record)
        return {"Name": Name}

    def describe_recipe(self, Name, RecipeVersion="LATEST_PUBLISHED"):
        """Without RecipeVersion, "the latest published version is returned" (the API
        reference's words)."""
        return _answer("DescribeRecipe", self._recipe(Name, RecipeVersion))

    def _recipe(self, Name, RecipeVersion):
        record = self._load("recipes", Name)
        if RecipeVersion == "LATEST_WORKING":
            return {"Name": Name, "Steps": record["Steps"], "RecipeVersion": RecipeVersion}
        if RecipeVersion == "LATEST_PUBLISHED" and record["Published"]:
            return dict(record["Published"][-1], Name=Name)
        for published in record["Published"]:
            if published["RecipeVersion"] == RecipeVersion:
                return dict(published, Name=Name)
        raise DataBrewError(
            "recipe %s has no version %s" % (Name, RecipeVersion), "ResourceNotFoundException"
        )

    # ------------------------------------------------------------------ jobs

    def create_recipe_job(self, Name, DatasetName, RecipeReference, Outputs, RoleArn, **extra):
        _checked(
            "CreateRecipeJob",
            dict(
                extra,
                Name=Name,
                DatasetName=DatasetName,
                RecipeReference=RecipeReference,
                Outputs=Outputs,
                RoleArn=RoleArn,
            ),
        )
        self.describe_dataset(DatasetName)
        self._recipe(
            RecipeReference["Name"], RecipeReference.get("RecipeVersion", "LATEST_PUBLISHED")
        )
        if len(Outputs) != 1 or Outputs[0].get("Format", "CSV") != "CSV":
            raise DataBrewError("job %s: the local twin writes one CSV output" % Name)
        record = {
            "Name": Name,
            "Type": "RECIPE",
            "DatasetName": DatasetName,
            "RecipeReference": RecipeReference,
            "Outputs": Outputs,
            "RoleArn": RoleArn,
            "CreateDate": time.time(),
        }
        self._create("jobs", Name, record)
        return {"Name": Name}

    def describe_job(self, Name):
        return _answer("DescribeJob", self._load("jobs", Name))

    def delete_job(self, Name):
        self._load("jobs", Name)
        self._delete("jobs", Name)
        return {"Name": Name}

    def start_job_run(self, Name):
        job = self._load("jobs", Name)
        run_id = "db_" + uuid.uuid4().hex
        run = {
            "JobName": Name,
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
        self._save("runs", run_id, run)
        try:
            self._run(job, run)
            run.update(State="SUCCEEDED")
        except Exception as e:  # whatever stops the run fails it, with its reason
            run.update(State="FAILED", ErrorMessage=_reason(e))
        finally:  # an interrupt (re-raised) ends the run too: no run stays RUNNING
            if run["State"] == "RUNNING":
                run.update(State="FAILED", ErrorMessage="the run was interrupted")
            self._end(run)
        return {"RunId": run_id}

    def describe_job_run(self, Name, RunId):
        run = self._load("runs", RunId)
        if run["JobName"] != Name:
            raise DataBrewError("job %s has no run %s" % (Name, RunId), "ResourceNotFoundException")
        process = run.get("_Process", {})
        if run["State"] == "RUNNING" and not still_runs(process.get("pid"), process.get("start")):
            run.update(
                State="FAILED",
                ErrorMessage="the process running this job run ended before the run did "
                "(killed?); start the job again",
            )
            self._end(run)
        return _answer("DescribeJobRun", {k: v for k, v in run.items() if not k.startswith("_")})

    def _end(self, run):
        run["CompletedOn"] = time.time()
        run["ExecutionTime"] = int(round(run["CompletedOn"] - run["StartedOn"]))
        self._save("runs", run["RunId"], run)

    def _run(self, job, run):
        dataset = self._load("datasets", job["DatasetName"])
        reference = job["RecipeReference"]
        recipe = self._recipe(reference["Name"], reference.get("RecipeVersion", "LATEST_PUBLISHED"))
        location = dataset["Input"]["S3InputDefinition"]
        uri = "s3://%s/%s" % (location["Bucket"], location.get("Key", ""))
        files = [p for _, p in sorted(self.store.objects(uri).items()) if p.suffix == ".csv"]
        if not files:
            raise DataBrewError("dataset %s: no CSV objects at %s" % (dataset["Name"], uri))
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

    def _path(self, kind, name):
        if (
            not isinstance(name, str)
            or not name
            or "/" in name
            or "\x00" in name
            or name.startswith(".")
            or len(name.encode("utf-8", "replace")) > NAME_BYTES
        ):
            raise DataBrewError(
                "%r is not a DataBrew name (1-%d bytes, no '/', not starting with '.'; "
                "DataBrew's names are at most 255 characters, a job's 240)"
                % (name[:80] if isinstance(name, str) else name, NAME_BYTES)
            )
        return self.root / kind / ("%s.json" % name)

    def _create(self, kind, name, record):
        if self._path(kind, name).exists():
            raise DataBrewError("%s %s already exists" % (kind[:-1], name), "ConflictException")
        self._save(kind, name, record)

    def _delete(self, kind, name):
        self._path(kind, name).unlink()

    def _save(self, kind, name, record):
        write_text_atomic(str(self._path(kind, name)), json.dumps(record, indent=1))

    def _load(self, kind, name):
        path = self._path(kind, name)
        if not path.exists():
            raise DataBrewError(
                "%s %s does not exist" % (kind[:-1], name), "ResourceNotFoundException"
            )
        return json.loads(path.read_text())


def _answer(operation, record):
    """A record as boto3 hands the operation's answer back: its timestamp members (stored as
    epoch seconds) as datetimes, parsed as botocore parses them."""
    from botocore.utils import parse_timestamp

    members = output_shape("databrew", operation).members
    return {
        k: parse_timestamp(v) if members[k].type_name == "timestamp" else v
        for k, v in record.items()
    }


def _reason(error: Exception) -> str:
    """A failed run's ErrorMessage: the twin's own errors say what is wrong; anything else is
    named by its type too."""
    if isinstance(error, (UserError, RecipeError)):
        return str(error)
    return "%s: %s" % (type(error).__name__, error)


def _read(files, delimiter, header):
    """The CSV objects as one table of text columns (DataBrew reads every value as text until a
    step gives it a type)."""
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))  # process-wide: only raised
    rows, columns = [], None
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter=delimiter)
            first = next(reader, None)
            if first is None:
                continue
            names = first if header else ["Column_%d" % (i + 1) for i in range(len(first))]
            twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
            if twice is not None:  # one of the two columns would be lost
                raise DataBrewError("%s names column %r twice" % (path.name, twice))
            if columns is None:
                columns = names
            elif names != columns:
                raise DataBrewError("%s has other columns than the dataset's first object" % path)
            if not header:
                rows.append(first)
            rows.extend(reader)
            if len(rows) * len(columns) > MAX_CELLS:
                raise DataBrewError(
                    "the dataset is over %d cells: too big to run locally" % MAX_CELLS
                )
    if columns is None:
        raise DataBrewError("the dataset's objects are empty")
    bad = next((i for i, r in enumerate(rows) if len(r) != len(columns)), None)
    if bad is not None:
        raise DataBrewError(
            "row %d has %d fields, the header %d" % (bad + 2, len(rows[bad]), len(columns))
        )
    return {name: np.array([r[i] for r in rows], dtype=object) for i, name in enumerate(columns)}


def _csv(table, integers):
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


def _double_text(value):
    return repr(float(value))


def _integer_text(value):
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _missing(value):
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))
