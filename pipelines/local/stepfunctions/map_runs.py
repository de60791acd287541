"""Map Runs, the operations of boto3's `stepfunctions` client over a Distributed Map's runs (a
mixin of service.py's StepFunctions): DescribeMapRun, ListMapRuns, ListExecutions with a
mapRunArn, and DescribeExecution and GetExecutionHistory of a child workflow execution.

A Map Run is a file <home>/stepfunctions/map-runs/<machine>/<map run id>.json, each of its
children <home>/stepfunctions/map-runs/<machine>/<map run id>/<name>.json (the record of an
execution, with its mapRunArn), rewritten atomically as they change (HomeMapRuns, which the
interpreter's distributed.py writes through). A RUNNING one whose process is gone reads as
FAILED, as executions do.
"""

import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, Union

from pipelines.local.api import Answer, client_error
from pipelines.local.processes import still_runs
from pipelines.local.stepfunctions.distributed import MapRun, MapRuns
from pipelines.local.stepfunctions.executions import Executions, TwinExecution, _settled
from pipelines.local.stepfunctions.machines import arn_name, checked_name, paged, when
from processing.churn_job import write_text_atomic

COUNTS = ("itemCounts", "executionCounts")


class HomeMapRuns(MapRuns):
    """Where the service's executions record their Map Runs: files in the home."""

    def __init__(self, service: "MapRunOperations") -> None:
        super().__init__()
        self.service = service
        self._lock = threading.Lock()

    def run_changed(self, run: MapRun) -> None:
        with run.lock:
            record = {
                "mapRunArn": run.arn,
                "executionArn": run.execution_arn,
                "_stateMachineArn": run.state_machine_arn,  # ListMapRuns' (not DescribeMapRun's)
                "status": run.status,
                "startDate": run.started,
                "maxConcurrency": run.max_concurrency,
                "toleratedFailurePercentage": run.tolerated_percentage,
                "toleratedFailureCount": run.tolerated_count,
                "itemCounts": dict(run.item_counts),
                "executionCounts": dict(run.execution_counts),
                "_executionType": run.execution_type,
                "_process": self.service._process(),
            }
        if run.stopped is not None:
            record["stopDate"] = run.stopped
        path = self.service._run_path(run.arn, "")
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(str(path), json.dumps(record, indent=1))

    def child_changed(self, run: MapRun, child: Any) -> None:
        record = dict(self.service._record(child), mapRunArn=run.arn)
        record["_itemCount"] = child.item_count
        record["_executionType"] = run.execution_type
        path = self.service._run_path(run.arn, "").with_suffix("") / ("%s.json" % child.name)
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(str(path), json.dumps(record, indent=1))


def _settled_run(record: Dict[str, Any]) -> Dict[str, Any]:
    process = record.get("_process", {})
    if record["status"] != "RUNNING" or still_runs(process.get("pid"), process.get("start")):
        return record
    return dict(record, status="FAILED", stopDate=record["startDate"])


class MapRunOperations(Executions):
    """The Map Run operations over the home's map-runs folder, and the executions' operations
    taught child executions' ARNs: arn:aws:states:<region>:<account>:execution:<machine>/
    <label>:<map run id>:<name>."""

    def describe_map_run(self, **request: Any) -> Answer:
        op = "DescribeMapRun"
        self._request(op, request)
        record = self._map_run(request["mapRunArn"], op)
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        out["startDate"] = when(record["startDate"])
        if record.get("stopDate") is not None:
            out["stopDate"] = when(record["stopDate"])
        if out["status"] != "RUNNING":  # a run that ended has nothing pending or running
            for counts in COUNTS:
                out[counts] = dict(out[counts], running=0)
        return self._answer(op, out)

    def list_map_runs(self, **request: Any) -> Answer:
        """The Map Runs an execution started, newest first."""
        op = "ListMapRuns"
        self._request(op, request)
        parent = self._load(request["executionArn"], op)
        machine = parent["stateMachineArn"].rsplit(":", 1)[1]
        folder = self.root / "map-runs" / checked_name(machine, "state machine", op)
        runs = []
        for path in folder.glob("*.json") if folder.is_dir() else []:
            record = _settled_run(json.loads(path.read_text()))
            if record["executionArn"] == parent["executionArn"]:
                runs.append(record)
        runs.sort(key=lambda r: r["startDate"], reverse=True)
        items = []
        for record in runs:
            item = {k: record[k] for k in ("executionArn", "mapRunArn")}
            item["stateMachineArn"] = record["_stateMachineArn"]
            item["startDate"] = when(record["startDate"])
            if record.get("stopDate") is not None:
                item["stopDate"] = when(record["stopDate"])
            items.append(item)
        page, token = paged(items, request, op)
        return self._answer(op, dict({"mapRuns": page}, **token))

    def list_executions(self, **request: Any) -> Answer:
        """A state machine's executions, or (mapRunArn) a Map Run's children, newest first."""
        if "mapRunArn" not in request:
            return super().list_executions(**request)
        op = "ListExecutions"
        self._request(op, request)
        if "stateMachineArn" in request:
            raise client_error(
                op, "ValidationException", "You can specify either a mapRunArn or a "
                "stateMachineArn, but not both",
            )  # fmt: skip
        run = self._map_run(request["mapRunArn"], op)
        folder = self._run_path(run["mapRunArn"], op).with_suffix("")
        records = []
        for path in folder.glob("*.json") if folder.is_dir() else []:
            try:
                record = _settled(json.loads(path.read_text()))
            except ValueError:
                continue
            if request.get("statusFilter") in (None, record["status"]):
                records.append(record)
        records.sort(key=lambda r: r["startDate"], reverse=True)
        items = []
        for record in records:
            item = {k: record[k] for k in ("executionArn", "stateMachineArn", "name", "status",
                                           "mapRunArn")}  # fmt: skip
            item["itemCount"] = record["_itemCount"]
            item["startDate"] = when(record["startDate"])
            if record.get("stopDate") is not None:
                item["stopDate"] = when(record["stopDate"])
            items.append(item)
        page, token = paged(items, request, op)
        return self._answer(op, dict({"executions": page}, **token))

    def get_execution_history(self, **request: Any) -> Answer:
        """As for any execution, but an EXPRESS child has none to give ("This API action is
        not supported by EXPRESS state machines")."""
        op = "GetExecutionHistory"
        arn = request.get("executionArn")
        if isinstance(arn, str) and len(arn.split(":")) == 9:
            self._request(op, request)
            if self._load(arn, op).get("_executionType") == "EXPRESS":
                raise client_error(
                    op, "InvalidArn", "Invalid Arn: '%s': GetExecutionHistory is not supported "
                    "by EXPRESS state machines (a Map Run's EXPRESS child)" % arn,
                )  # fmt: skip
        return super().get_execution_history(**request)

    def _execution(self, request: Dict[str, Any], op: str) -> Union[TwinExecution, Answer]:
        execution = super()._execution(request, op)
        if isinstance(execution, TwinExecution):
            execution.map_runs = HomeMapRuns(self)
        return execution

    def _load(self, execution: str, op: str) -> Dict[str, Any]:
        """An execution's record, a child's from its Map Run's folder."""
        if not isinstance(execution, str) or len(execution.split(":")) != 9:
            return super()._load(execution, op)
        machine_label, run_id, name = arn_name(execution, "execution", 3, op)
        path = self._folder(machine_label, run_id, op) / (
            "%s.json" % checked_name(name, "execution", op)
        )
        if not path.exists():
            raise client_error(
                op, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'" % execution
            )
        return _settled(json.loads(path.read_text()))

    def _map_run(self, arn: str, op: str) -> Dict[str, Any]:
        path = self._run_path(arn, op)
        if not path.exists():
            raise client_error(op, "ResourceNotFound", "Map Run Does Not Exist: '%s'" % arn)
        return _settled_run(json.loads(path.read_text()))

    def _run_path(self, arn: str, op: str) -> Path:
        machine_label, run_id = arn_name(arn, "mapRun", 2, op or "DescribeMapRun")
        return self._folder(machine_label, run_id, op).with_suffix(".json")

    def _folder(self, machine_label: str, run_id: str, op: str) -> Path:
        machine = machine_label.split("/", 1)[0]
        return (
            self.root
            / "map-runs"
            / checked_name(machine, "state machine", op)
            / checked_name(run_id, "map run", op)
        )

    def _process(self) -> Dict[str, Any]:
        return {"pid": os.getpid(), "start": self._process_start}
