"""Execution records on disk: <home>/executions/<id>/execution.json, written whole at every
status change (DescribePipelineExecution and ListPipelineExecutionSteps in one document);
definition.json, the definition the execution ran (DescribePipelineDefinitionForExecution);
<step>.step.json per step, its request as resolved and the Describe*-shaped properties it
produced (what DescribeProcessingJob and its kin answer on SageMaker), kept apart so that a
listing of many executions reads small files; and one folder per job step with its logs. Step
names hold no '.', so none of these names meets a step's folder."""

import json
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from pipelines.errors import PipelineError
from pipelines.local.processes import still_runs
from processing.churn_job import write_text_atomic

EXECUTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")

Record = Dict[str, Any]  # DescribePipelineExecution and ListPipelineExecutionSteps in one


def elapsed(item: Dict[str, Any]) -> float:
    """Seconds an execution or a step took, or has taken so far while it runs."""
    return (item["EndTime"] or time.time()) - item["StartTime"]


class ExecutionRecords(object):
    def __init__(self, home: Union[str, Path]) -> None:
        self.root = Path(home) / "executions"

    def folder(self, execution_id: str) -> Path:
        return self.root / execution_id

    def save(self, record: Record) -> None:
        write_text_atomic(
            self.folder(record["PipelineExecutionId"]) / "execution.json",
            json.dumps(record, indent=1, default=str),
        )

    def stopping(self, execution_id: str) -> Path:
        """The marker StopPipelineExecution leaves: while the execution's process still runs,
        the execution reads as Stopping; if the process is gone, Stopped."""
        return self.folder(execution_id) / "stopping"

    def save_definition(self, execution_id: str, definition: Dict[str, Any]) -> None:
        write_text_atomic(
            self.folder(execution_id) / "definition.json", json.dumps(definition, indent=1)
        )

    def definition(self, execution_id: str) -> Optional[Dict[str, Any]]:
        """The definition an execution ran; None for a record from before they were kept."""
        return self._optional(self.folder(execution_id) / "definition.json")

    def save_step(self, execution_id: str, step_name: str, details: Dict[str, Any]) -> None:
        write_text_atomic(
            self.folder(execution_id) / (step_name + ".step.json"),
            json.dumps(details, indent=1, default=str),
        )

    def step(self, execution_id: str, step_name: str) -> Optional[Dict[str, Any]]:
        """{"Arguments", "Properties"} of a step that started; None when it kept none."""
        return self._optional(self.folder(execution_id) / (step_name + ".step.json"))

    @staticmethod
    def _optional(path: Path) -> Any:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def list(self) -> List[Record]:
        """Every readable record, newest first."""
        records = []
        for path in self.root.glob("*/execution.json") if self.root.is_dir() else []:
            try:
                records.append(self._settled(json.loads(path.read_text())))
            except ValueError:
                continue
        return sorted(records, key=lambda r: r["StartTime"], reverse=True)

    def _settled(self, record: Record) -> Record:
        """An Executing record whose process is gone was killed: it ends Failed, and its
        running steps Stopped, as SageMaker ends an execution whose steps cannot finish (one
        StopPipelineExecution asked to stop ends Stopped). While its process runs, one asked
        to stop reads as Stopping. The settled record is saved when it can be; a reader of a
        full or read-only home still gets it (and a later reader saves it)."""
        if record.get("PipelineExecutionStatus") != "Executing":
            return record
        stopping = self.stopping(record["PipelineExecutionId"]).exists()
        if still_runs(record.get("ProcessId"), record.get("ProcessStart")):
            return dict(record, PipelineExecutionStatus="Stopping") if stopping else record
        for entry in record["Steps"]:
            if entry["StepStatus"] == "Executing":
                entry["StepStatus"] = "Stopped"
        record.update(
            PipelineExecutionStatus="Stopped" if stopping else "Failed",
            EndTime=record.get("EndTime") or time.time(),
            FailureReason="stopped by StopPipelineExecution"
            if stopping
            else "the process running this execution ended "
            "before it finished (killed?); run it again",
        )
        try:
            self.save(record)
        except OSError:  # published atomically: the old record stays whole
            pass
        return record

    def load(self, execution_id: str) -> Record:
        path = self.folder(execution_id) / "execution.json"
        # An id is letters, digits and '-': anything else (a '../' climbing out of the
        # executions folder) names no execution.
        if not EXECUTION_ID.match(execution_id) or not path.is_file():
            known = ", ".join(r["PipelineExecutionId"] for r in self.list()[:5]) or "none"
            raise PipelineError(
                "no execution %s under %s (latest: %s); see `churn runs list`"
                % (execution_id, self.root.parent, known)
            )
        return self._settled(json.loads(path.read_text()))
