"""The execution pages: the list, one execution's graph and steps, one step's request, objects,
timings and log. Every fact comes from the workspace (the execution summaries `churn runs
list` prints, the record and what records.py keeps beside it)."""

import json
from pathlib import Path
from typing import Any, Optional, TypedDict, Union

from pipelines.errors import UserError
from pipelines.local.sagemaker.records import elapsed
from pipelines.ui import graph
from pipelines.ui.context import UI
from pipelines.ui.html import (
    Html,
    join,
    number,
    page,
    pretty_json,
    seconds,
    size,
    status_badge,
    table,
    tag,
    when,
)

STATUSES = ("Executing", "Succeeded", "Failed", "Stopped")
LOG_TAIL_BYTES = 256 * 1024  # what a step page shows of a log at first; follow mode adds to it
OBJECTS_SHOWN = 50  # per input or output prefix


class LiveState(TypedDict):
    """What the live graph redraws (`state`), sent to the page as JSON."""

    status: str
    failure: Optional[str]
    steps: dict[str, str]  # {step: the status it is drawn with}


def execution_href(execution_id: str) -> str:
    return "/executions/%s" % execution_id


def step_href(execution_id: str, step: str) -> str:
    return "/executions/%s/steps/%s" % (execution_id, step)


def store_href(uri: str) -> str:
    return "/store/" + uri[len("s3://") :]


def list_page(ui: UI, status: Optional[str] = None) -> Html:
    if status is not None and status not in STATUSES:
        raise UserError("status %r is not one of %s" % (status, ", ".join(STATUSES)))
    summaries = ui.ws.runs.summaries()
    shown = [s for s in summaries if status is None or s["status"] == status]
    options = [tag("option", "any status", value="")] + [
        tag("option", s, value=s, selected=s == status) for s in STATUSES
    ]
    form = tag(
        "form",
        tag("label", "Status ", tag("select", options, name="status")),
        tag("button", "Filter", type="submit"),
        method="get",
        action="/executions",
        class_="filter",
    )
    rows = [
        [
            tag("a", s["id"], href=execution_href(s["id"])),
            status_badge(s["status"]),
            when(s["start"]),
            seconds(s["seconds"]),
            "%d of %d" % (s["cache_hits"], s["steps"]),
            number(s["auc"]),
            s["pipeline"],
        ]
        for s in shown
    ]
    body = join(
        form,
        tag(
            "p",
            "%d of %d executions under %s" % (len(shown), len(summaries), ui.ws.home),
            class_="muted",
        ),
        table(
            ["Execution", "Status", "Start", "Duration", "Cache hits", "Test AUC", "Pipeline"],
            rows,
            class_="executions",
        )
        if rows
        else tag("p", "No executions yet: run `churn run`."),
    )
    return page("Executions", body, "executions")


def state(ui: UI, execution_id: str) -> LiveState:
    """What the live graph redraws: the execution's status and each step's."""
    record = ui.ws.runs.load(execution_id)
    return {
        "status": record["PipelineExecutionStatus"],
        "failure": record["FailureReason"],
        "steps": {e["StepName"]: graph.step_status(e) for e in record["Steps"]},
    }


def execution_page(ui: UI, execution_id: str) -> Html:
    records = ui.ws.runs.records
    record = records.load(execution_id)
    definition = records.definition(execution_id)
    metrics = ui.ws.runs.test_metrics(record)
    status = record["PipelineExecutionStatus"]
    facts = table(
        ["Status", "Pipeline", "Start", "Duration", "Cache hits"],
        [
            [
                tag("span", status_badge(status), id="execution-status"),
                record["PipelineName"],
                when(record["StartTime"]),
                seconds(elapsed(record)),
                "%d of %d"
                % (sum(1 for s in record["Steps"] if s["CacheHit"]), len(record["Steps"])),
            ]
        ],
        class_="facts",
    )
    failure = (
        tag("p", tag("strong", "Failure: "), record["FailureReason"], class_="failure")
        if record["FailureReason"]
        else None
    )
    metric_table = (
        table(
            ["Test metric", "Value"],
            [[name, number(value)] for name, value in metrics.items()],
            class_="metrics",
        )
        if metrics
        else None
    )
    drawing = (
        graph.svg(definition, record, lambda name: step_href(execution_id, name))
        if definition
        else tag("p", "This execution kept no definition (it ran before they were kept).")
    )
    step_rows = [
        [
            tag("a", e["StepName"], href=step_href(execution_id, e["StepName"])),
            e["StepType"],
            status_badge(graph.step_status(e)),
            seconds(elapsed(e)),
            tag("a", e["CacheHit"], href=execution_href(e["CacheHit"])) if e["CacheHit"] else "",
            e["FailureReason"] or "",
        ]
        for e in record["Steps"]
    ]
    body = join(
        facts,
        failure,
        tag(
            "div",
            tag("section", tag("h2", "Graph"), drawing, class_="graph-panel"),
            tag(
                "section",
                tag("h2", "Test metrics"),
                metric_table or tag("p", "No evaluation report yet."),
                tag("h2", "Parameters"),
                table(["Parameter", "Value"], sorted(record["Parameters"].items())),
                class_="side",
            ),
            class_="columns",
        ),
        tag("h2", "Steps"),
        table(["Step", "Type", "Status", "Duration", "Cache hit from", "Failure"], step_rows),
    )
    return page(
        "Execution %s" % execution_id,
        body,
        "executions",
        data_execution=execution_id,
        data_status=status,
    )


def _uris(kind_properties: Optional[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """[(direction, name, S3 URI)] of a job's or registration's inputs and outputs."""
    p = kind_properties or {}
    found: list[tuple[str, str, Any]] = []
    for i in p.get("ProcessingInputs", []):
        if "S3Input" in i:
            found.append(("input", i["InputName"], i["S3Input"]["S3Uri"]))
    for o in (p.get("ProcessingOutputConfig") or {}).get("Outputs", []):
        found.append(("output", o["OutputName"], o["S3Output"]["S3Uri"]))
    for c in p.get("InputDataConfig", []):
        source = (c.get("DataSource") or {}).get("S3DataSource") or {}
        if "S3Uri" in source:
            found.append(("input", c["ChannelName"], source["S3Uri"]))
    if "ModelArtifacts" in p:
        found.append(("output", "model", p["ModelArtifacts"]["S3ModelArtifacts"]))
    transform = ((p.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource")
    if transform:
        found.append(("input", "data", transform["S3Uri"]))
    if "TransformOutput" in p:
        found.append(("output", "scores", p["TransformOutput"]["S3OutputPath"]))
    for c in (p.get("InferenceSpecification") or {}).get("Containers", []):
        if c.get("ModelDataUrl"):
            found.append(("input", "model", c["ModelDataUrl"]))
    if (p.get("PrimaryContainer") or {}).get("ModelDataUrl"):
        found.append(("input", "model", p["PrimaryContainer"]["ModelDataUrl"]))
    return [f for f in found if isinstance(f[2], str) and f[2].startswith("s3://")]


def _object_rows(ui: UI, uri: str) -> list[list[object]]:
    """[link, size, hash] of each object an S3 URI names (one object, or a prefix's)."""
    store = ui.ws.store
    try:
        objects = sorted(store.objects(uri).items())
        single = store.path(uri).is_file()
    except UserError as e:
        return [[str(e), "", ""]]
    if not objects:
        return [["no objects", "", ""]]
    rows: list[list[object]] = []
    for name, path in objects[:OBJECTS_SHOWN]:
        object_uri = uri if single else uri.rstrip("/") + "/" + name
        length, digest = ui.digest(path)
        rows.append([tag("a", object_uri, href=store_href(object_uri)), size(length), digest[:16]])
    if len(objects) > OBJECTS_SHOWN:
        rows.append(["and %d more objects" % (len(objects) - OBJECTS_SHOWN), "", ""])
    return rows


def record_entry(record: dict[str, Any], step_name: str) -> Optional[dict[str, Any]]:
    """A step's entry in an execution record, None before it started."""
    return next((e for e in record["Steps"] if e["StepName"] == step_name), None)


def step_entry(
    ui: UI, execution_id: str, step_name: str
) -> tuple[dict[str, Any], Optional[dict[str, Any]], Optional[dict[str, Any]]]:
    """(record, entry or None, definition step or None); a step the execution does not have is
    refused (the name is a path component of what the page reads)."""
    records = ui.ws.runs.records
    record = records.load(execution_id)
    entry = record_entry(record, step_name)
    definition = records.definition(execution_id) or {"Steps": []}
    step = next((s for s in graph.all_steps(definition) if s["Name"] == step_name), None)
    if entry is None and step is None:
        raise UserError("execution %s has no step %r" % (execution_id, step_name))
    return record, entry, step


def instance_count(arguments: Optional[dict[str, Any]]) -> int:
    """How many hosts a job's request asks for (1 when it names none)."""
    resources = (
        (arguments or {}).get("ProcessingResources", {}).get("ClusterConfig")
        or (arguments or {}).get("ResourceConfig")
        or {}
    )
    count = resources.get("InstanceCount", 1)
    return count if isinstance(count, int) and 0 < count <= 100 else 1


def logs(
    ui: UI, entry: Optional[dict[str, Any]], details: Optional[dict[str, Any]] = None
) -> dict[str, Path]:
    """{host: log file} of a job step's folder, each inside the home. While the job runs, its
    hosts' logs are listed before they exist (followed from their first line)."""
    if not entry or not entry.get("Log"):
        return {}
    folder = Path(entry["Log"])
    home = ui.ws.home.resolve()
    found = {p.stem: p for p in ([folder] if folder.is_file() else sorted(folder.glob("*.log")))}
    if entry["StepStatus"] == "Executing" and not folder.is_file():
        for i in range(instance_count((details or {}).get("Arguments"))):
            found.setdefault("algo-%d" % (i + 1), folder / ("algo-%d.log" % (i + 1)))
    return {
        host: p
        for host, p in found.items()
        if not p.is_symlink() and p.parent.resolve().is_relative_to(home)
    }


def read_log(path: Union[str, Path], offset: Optional[int] = None) -> tuple[str, int]:
    """(text, next offset): from `offset`, or the last LOG_TAIL_BYTES when it is None; nothing
    yet for a log the job has not started."""
    if not Path(path).is_file():
        return "", offset or 0
    with open(path, "rb") as f:
        f.seek(0, 2)
        end = f.tell()
        start = max(0, end - LOG_TAIL_BYTES) if offset is None else min(max(0, offset), end)
        f.seek(start)
        data = f.read(end - start)
    return data.decode("utf-8", "replace"), start + len(data)


def step_page(ui: UI, execution_id: str, step_name: str) -> Html:
    record, entry, step = step_entry(ui, execution_id, step_name)
    details = ui.ws.runs.records.step(execution_id, step_name) or {}
    status = graph.step_status(entry)
    facts = [
        ["Execution", tag("a", execution_id, href=execution_href(execution_id))],
        # step_entry gives an entry, a definition step or both
        ["Type", entry["StepType"] if entry else step["Type"] if step else "-"],
        ["Status", tag("span", status_badge(status), id="step-status")],
    ]
    if entry:
        facts += [
            ["Start", when(entry["StartTime"])],
            ["End", when(entry["EndTime"])],
            ["Duration", seconds(elapsed(entry))],
            ["Cache key", entry.get("CacheKey") or "caching off"],
            [
                "Cache hit",
                tag(
                    "a",
                    "from execution %s" % entry["CacheHit"],
                    href=execution_href(entry["CacheHit"]),
                )
                if entry["CacheHit"]
                else "no",
            ],
            [
                "Retries",
                join(
                    [
                        tag("div", "%s (waited %.0f s)" % (r["Error"], r["WaitSeconds"]))
                        for r in entry.get("Retries", [])
                    ]
                )
                or "none",
            ],
        ]
        if entry.get("JobParentWaitSeconds"):
            facts.append(["Waited for the job parent", seconds(entry["JobParentWaitSeconds"])])
        for host, usage in sorted((entry.get("Resources") or {}).items()):
            facts.append(
                [
                    "Resources %s" % host,
                    "peak %.0f MB, %.2f CPU s" % (usage["max_rss_mb"], usage["cpu_seconds"]),
                ]
            )
        if entry["FailureReason"]:
            facts.append(["Failure reason", tag("span", entry["FailureReason"], class_="failure")])
        for kind, value in (entry.get("Metadata") or {}).items():
            facts.append([kind, json.dumps(value)])
    objects = []
    for direction, name, uri in _uris(details.get("Properties") or details.get("Arguments")):
        objects.append(tag("h3", "%s %s: " % (direction.capitalize(), name), tag("code", uri)))
        objects.append(table(["Object", "Size", "SHA-256"], _object_rows(ui, uri)))
    log_parts = []
    follow = entry is not None and entry["StepStatus"] == "Executing"
    for host, path in logs(ui, entry, details).items():
        text, offset = read_log(path)
        log_parts.append(tag("h3", "Log of %s" % host))
        log_parts.append(
            tag(
                "pre",
                text,
                class_="log",
                data_follow="%s/log?host=%s&offset=%d"
                % (step_href(execution_id, step_name), host, offset)
                if follow
                else None,
            )
        )
    body = join(
        table(["", ""], facts, class_="facts vertical"),
        tag("h2", "Inputs and outputs"),
        objects or tag("p", "None."),
        tag("h2", "Request as resolved"),
        pretty_json(details["Arguments"]) if "Arguments" in details else tag("p", "Not kept."),
        tag("details", tag("summary", "Properties"), pretty_json(details["Properties"]))
        if "Properties" in details
        else None,
        tag("h2", "Log"),
        log_parts or tag("p", "This step writes no log (it runs no job)."),
    )
    return page(
        "%s of %s" % (step_name, execution_id),
        body,
        "executions",
        data_execution=execution_id,
        data_status=record["PipelineExecutionStatus"],
    )
