"""Execution records on disk: <home>/executions/<id>/execution.json, written whole at every
status change (DescribePipelineExecution and ListPipelineExecutionSteps in one document), and
one folder per step with its logs."""

import json
from pathlib import Path

from pipelines.errors import PipelineError
from processing.churn_job import write_text_atomic


class ExecutionRecords(object):
    def __init__(self, home):
        self.root = Path(home) / "executions"

    def folder(self, execution_id):
        return self.root / execution_id

    def save(self, record):
        write_text_atomic(
            self.folder(record["PipelineExecutionId"]) / "execution.json",
            json.dumps(record, indent=1, default=str),
        )

    def list(self):
        """Every readable record, newest first."""
        records = []
        for path in self.root.glob("*/execution.json") if self.root.is_dir() else []:
            try:
                records.append(json.loads(path.read_text()))
            except ValueError:
                continue
        return sorted(records, key=lambda r: r["StartTime"], reverse=True)

    def load(self, execution_id):
        path = self.folder(execution_id) / "execution.json"
        if not path.is_file():
            known = ", ".join(r["PipelineExecutionId"] for r in self.list()[:5]) or "none"
            raise PipelineError(
                "no execution %s under %s (latest: %s); see `churn runs list`"
                % (execution_id, self.root.parent, known)
            )
        return json.loads(path.read_text())
