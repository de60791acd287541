"""Pipelines and their executions, the operations of boto3's `sagemaker` client over the local
SageMaker (a mixin of SageMakerClient, api.py): the pipelines CreatePipeline made
(pipeline_store.py; pipeline_lifecycle_api.py makes, updates and deletes them) and, for a
pipeline the home knows only by its executions (`churn run`'s, the workflows'), the execution
records (records.py). StartPipelineExecution runs a stored pipeline in a background process
of its own (pipeline_process.py); any other through the client's `start_pipeline`.
"""

import json
import uuid
from typing import Any, Callable, Dict, List, Optional

from pipelines.errors import UserError
from pipelines.local.api import Answer, client_error
from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker import pipeline_process
from pipelines.local.sagemaker.client_base import SageMakerOperations, epoch, paged, shaped

StartPipeline = Callable[[str, Dict[str, str]], str]


class PipelineOperations(SageMakerOperations):
    """DescribePipeline, ListPipelines, DescribePipelineExecution, ListPipelineExecutions,
    ListPipelineExecutionSteps, StartPipelineExecution."""

    start_pipeline: Optional[StartPipeline]

    # ------------------------------------------------------------------ pipelines

    def _records(self) -> List[Dict[str, Any]]:
        return list(self.backend.executions.list())

    def _pipeline_records(self, operation: str, name: str) -> List[Dict[str, Any]]:
        """The executions of pipeline `name` (a name or its ARN); ResourceNotFound when the
        home has neither the pipeline nor any execution of it."""
        name = self._name(name)
        found = [r for r in self._records() if r["PipelineName"].lower() == name.lower()]
        if not found and self.backend.pipelines.get(name) is None:
            raise client_error(operation, "ResourceNotFound", "Pipeline %s does not exist" % name)
        return found

    @staticmethod
    def _name(name: str) -> str:
        return name.rsplit("/", 1)[-1] if name.startswith("arn:") else name

    def _execution(self, operation: str, arn: str) -> Dict[str, Any]:
        try:
            record: Dict[str, Any] = self.backend.executions.load(arn.rsplit("/", 1)[-1])
        except UserError:
            record = {}
        if record.get("PipelineExecutionArn", "").lower() != arn.lower():
            raise client_error(
                operation, "ResourceNotFound", "Pipeline execution %s does not exist" % arn
            )
        return record

    @staticmethod
    def _modified(record: Dict[str, Any]) -> float:
        times = [record["StartTime"], record.get("EndTime") or 0]
        for step in record["Steps"]:
            times += [step.get("StartTime") or 0, step.get("EndTime") or 0]
        return float(max(times))

    def describe_pipeline_execution(self, **request: Any) -> Answer:
        """API_DescribePipelineExecution: ResourceNotFound for an execution there is not."""
        op = "DescribePipelineExecution"
        self._request(op, request)
        record = self._execution(op, request["PipelineExecutionArn"])
        answer = {
            "PipelineArn": sagemaker_arn("pipeline", record["PipelineName"]),
            "PipelineExecutionArn": record["PipelineExecutionArn"],
            "PipelineExecutionDisplayName": record.get("PipelineExecutionDisplayName")
            or record["PipelineExecutionId"],
            "PipelineExecutionStatus": record["PipelineExecutionStatus"],
            "PipelineExecutionDescription": record.get("PipelineExecutionDescription"),
            "FailureReason": record.get("FailureReason"),
            "CreationTime": record["StartTime"],
            "LastModifiedTime": self._modified(record),
            "ParallelismConfiguration": record.get("ParallelismConfiguration"),
            "PipelineVersionId": record.get("PipelineVersionId"),
        }
        return self._answer(op, shaped(op, answer))

    def list_pipeline_executions(self, **request: Any) -> Answer:
        """API_ListPipelineExecutions: a pipeline's executions, newest first unless SortOrder
        Ascending; CreatedAfter/CreatedBefore, NextToken/MaxResults."""
        op = "ListPipelineExecutions"
        self._request(op, request)
        records = self._pipeline_records(op, request["PipelineName"])
        after, before = request.get("CreatedAfter"), request.get("CreatedBefore")
        summaries = [
            {
                "_id": r["PipelineExecutionArn"],
                "PipelineExecutionArn": r["PipelineExecutionArn"],
                "StartTime": r["StartTime"],
                "PipelineExecutionStatus": r["PipelineExecutionStatus"],
                "PipelineExecutionDisplayName": r.get("PipelineExecutionDisplayName")
                or r["PipelineExecutionId"],
                "PipelineExecutionDescription": r.get("PipelineExecutionDescription"),
                "PipelineExecutionFailureReason": r.get("FailureReason"),
            }
            for r in records
            if (after is None or r["StartTime"] > epoch(after))
            and (before is None or r["StartTime"] < epoch(before))
        ]
        by = request.get("SortBy", "CreationTime")
        answer = paged(
            op,
            request,
            summaries,
            (lambda s: s["PipelineExecutionArn"])
            if by == "PipelineExecutionArn"
            else (lambda s: s["StartTime"]),
            request.get("SortOrder", "Descending") == "Descending",
            "PipelineExecutionSummaries",
        )
        return self._answer(op, shaped(op, answer))

    def list_pipeline_execution_steps(self, **request: Any) -> Answer:
        """API_ListPipelineExecutionSteps: the steps that started, newest first unless
        SortOrder Ascending; a step served from the cache names the execution that ran it."""
        op = "ListPipelineExecutionSteps"
        self._request(op, request)
        arn = request.get("PipelineExecutionArn")
        if not arn:
            raise client_error(op, "ValidationException", "PipelineExecutionArn is required")
        record = self._execution(op, arn)
        steps = []
        for i, s in enumerate(record["Steps"]):
            metadata = json.loads(json.dumps(s.get("Metadata") or {}))
            if "Condition" in metadata:  # the record keeps the expression's value, true/false
                outcome = str(metadata["Condition"].get("Outcome", "")).lower()
                metadata["Condition"] = {"Outcome": "True" if outcome == "true" else "False"}
            step = {
                "_id": "%06d" % i,
                "StepName": s["StepName"],
                "StartTime": s["StartTime"],
                "EndTime": s.get("EndTime"),
                "StepStatus": s["StepStatus"],
                "FailureReason": s.get("FailureReason"),
                "Metadata": metadata,
                "AttemptCount": 1,
            }
            if s.get("CacheHit"):
                step["CacheHitResult"] = {
                    "SourcePipelineExecutionArn": sagemaker_arn(
                        "pipeline", record["PipelineName"], "execution", s["CacheHit"]
                    )
                }
            steps.append(step)
        answer = paged(
            op,
            request,
            steps,
            lambda s: s["StartTime"],
            request.get("SortOrder", "Descending") == "Descending",
            "PipelineExecutionSteps",
        )
        return self._answer(op, shaped(op, answer))

    def _pipeline(self, name: str, records: List[Dict[str, Any]]) -> Dict[str, Any]:
        newest = max(records, key=lambda r: r["StartTime"])
        definition = self.backend.executions.definition(newest["PipelineExecutionId"])
        return {
            "_id": newest["PipelineName"],
            "PipelineArn": sagemaker_arn("pipeline", newest["PipelineName"]),
            "PipelineName": newest["PipelineName"],
            "PipelineDisplayName": newest["PipelineName"],
            "PipelineDefinition": json.dumps(definition) if definition is not None else None,
            "PipelineStatus": "Active",
            "CreationTime": min(r["StartTime"] for r in records),
            "LastModifiedTime": newest["StartTime"],
            "LastRunTime": newest["StartTime"],
            "LastExecutionTime": newest["StartTime"],
        }

    def _stored_pipeline(self, stored: Dict[str, Any]) -> Dict[str, Any]:
        """A pipeline CreatePipeline made, as DescribePipeline answers it (its version's)."""
        request, name = stored["request"], stored["name"]
        runs = [
            r["StartTime"] for r in self._records() if r["PipelineName"].lower() == name.lower()
        ]
        return {
            "_id": name,
            "PipelineArn": sagemaker_arn("pipeline", name),
            "PipelineName": name,
            "PipelineDisplayName": request.get("PipelineDisplayName") or name,
            "PipelineDefinition": request["PipelineDefinition"],
            "PipelineDescription": request.get("PipelineDescription"),
            "RoleArn": request.get("RoleArn"),
            "PipelineStatus": "Active",
            "CreationTime": stored["created"],
            "LastModifiedTime": stored["updated"],
            "LastRunTime": max(runs) if runs else None,
            "LastExecutionTime": max(runs) if runs else None,
            "ParallelismConfiguration": request.get("ParallelismConfiguration"),
        }

    def describe_pipeline(self, **request: Any) -> Answer:
        """API_DescribePipeline: a pipeline CreatePipeline made (its latest version, or
        PipelineVersionId's), else one the home has executions of (its definition the newest
        one's); ResourceNotFound for any other, or a version there is not."""
        op = "DescribePipeline"
        self._request(op, request)
        name = self._name(request["PipelineName"])
        if self.backend.pipelines.get(name) is not None:
            stored = self.backend.pipelines.get(name, request.get("PipelineVersionId"))
            if stored is None:
                raise client_error(
                    op,
                    "ResourceNotFound",
                    "Pipeline %s has no version %s" % (name, request["PipelineVersionId"]),
                )
            return self._answer(op, shaped(op, self._stored_pipeline(stored)))
        records = self._pipeline_records(op, name)
        return self._answer(op, shaped(op, self._pipeline(name, records)))

    def list_pipelines(self, **request: Any) -> Answer:
        """API_ListPipelines: PipelineNamePrefix, CreatedAfter/Before, SortBy (CreationTime:
        the default, or Name), SortOrder (Descending by default), NextToken/MaxResults."""
        op = "ListPipelines"
        self._request(op, request)
        by_name: Dict[str, List[Dict[str, Any]]] = {}
        for r in self._records():
            by_name.setdefault(r["PipelineName"], []).append(r)
        prefix = request.get("PipelineNamePrefix", "")
        after, before = request.get("CreatedAfter"), request.get("CreatedBefore")
        stored = {p["name"].lower(): p for p in self.backend.pipelines.all()}
        summaries = [self._stored_pipeline(p) for p in stored.values()] + [
            self._pipeline(name, records)
            for name, records in by_name.items()
            if name.lower() not in stored
        ]
        summaries = [s for s in summaries if s["PipelineName"].startswith(prefix)]
        summaries = [
            s
            for s in summaries
            if (after is None or s["CreationTime"] > epoch(after))
            and (before is None or s["CreationTime"] < epoch(before))
        ]
        answer = paged(
            op,
            request,
            summaries,
            (lambda s: s["PipelineName"])
            if request.get("SortBy") == "Name"
            else (lambda s: s["CreationTime"]),
            request.get("SortOrder", "Descending") == "Descending",
            "PipelineSummaries",
        )
        return self._answer(op, shaped(op, answer))

    def start_pipeline_execution(self, **request: Any) -> Answer:
        """API_StartPipelineExecution: boto3 fills ClientRequestToken (an idempotency token)
        when the caller gives none, so the twin does. A pipeline CreatePipeline made (its
        latest version, or PipelineVersionId's) starts in a process of its own and the ARN is
        answered at once; a start repeating a token answers the execution it started. Any
        other pipeline through the client's `start_pipeline`. A pipeline the twin cannot start
        is ResourceNotFound; parameters the definition does not declare, or values not of their
        type, a ValidationException, as is a definition with steps the local engine cannot
        run (nothing starts)."""
        op = "StartPipelineExecution"
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        self._request(op, request)
        name = self._name(request["PipelineName"])
        if self.backend.pipelines.get(name) is not None:
            return self._answer(op, {"PipelineExecutionArn": self._start_stored(op, request)})
        if self.start_pipeline is None:
            raise client_error(
                op, "ResourceNotFound", "Pipeline %s does not exist (nothing starts it here)" % name
            )
        parameters = {p["Name"]: p["Value"] for p in request.get("PipelineParameters", [])}
        try:
            arn = self.start_pipeline(name, parameters)
        except UserError as e:
            raise client_error(op, getattr(e, "code", "ValidationException"), str(e))
        return self._answer(op, {"PipelineExecutionArn": arn})

    def _start_stored(self, op: str, request: Dict[str, Any]) -> str:
        pipelines = self.backend.pipelines
        name = self._name(request["PipelineName"])
        token = request["ClientRequestToken"]
        earlier = pipelines.started(name, token)
        if earlier:
            return earlier
        stored = pipelines.get(name, request.get("PipelineVersionId"))
        if stored is None:
            raise client_error(
                op,
                "ResourceNotFound",
                "Pipeline %s has no version %s" % (name, request.get("PipelineVersionId")),
            )
        pipeline = stored["request"]
        details = {
            "PipelineExecutionDisplayName": request.get("PipelineExecutionDisplayName"),
            "PipelineExecutionDescription": request.get("PipelineExecutionDescription"),
            "ParallelismConfiguration": request.get("ParallelismConfiguration")
            or pipeline.get("ParallelismConfiguration"),
            "PipelineVersionId": stored["version"],
            "ClientRequestToken": token,
        }
        parameters = {p["Name"]: p["Value"] for p in request.get("PipelineParameters", [])}
        try:
            execution = pipeline_process.start(
                self.backend,
                json.loads(pipeline["PipelineDefinition"]),
                stored["name"],
                parameters,
                {k: v for k, v in details.items() if v is not None},
            )
        except UserError as e:
            raise client_error(op, "ValidationException", str(e))
        pipelines.remember_start(name, token, execution.arn)
        return execution.arn
