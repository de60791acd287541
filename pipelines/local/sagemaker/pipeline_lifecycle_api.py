"""A pipeline's lifecycle, the operations of boto3's `sagemaker` client over the local SageMaker
(a mixin of SageMakerClient, api.py) that the SageMaker Python SDK's Pipeline.create / update /
upsert / delete and _PipelineExecution.stop call: CreatePipeline, UpdatePipeline,
DeletePipeline, ListPipelineVersions, DescribePipelineDefinitionForExecution,
StopPipelineExecution. Pipelines are kept in the home's database (pipeline_store.py); reading
and starting them is pipeline_api.py's.

Refusals as SageMaker answers them (and as the SDK's upsert branches on them): a name taken is
a ValidationException "Pipeline names must be unique ... already exists"; a missing pipeline
ResourceNotFound; a definition that is not a JSON object with Steps, is both inline and in S3
or neither, or is larger than the 1 MiB CreatePipeline allows, a ValidationException.
"""

import json
import uuid
from typing import Any, Dict, Optional

from pipelines.errors import UserError
from pipelines.local.api import Answer
from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker import pipeline_process
from pipelines.local.sagemaker.client_base import epoch, paged, shaped
from pipelines.local.sagemaker.model_api import TagOperations
from pipelines.local.sagemaker.pipeline_api import PipelineOperations

DEFINITION_LIMIT = 1048576  # PipelineDefinition's maximum length (API_CreatePipeline)


class PipelineLifecycleOperations(PipelineOperations, TagOperations):
    """CreatePipeline, UpdatePipeline, DeletePipeline, ListPipelineVersions,
    DescribePipelineDefinitionForExecution, StopPipelineExecution."""

    def _definition(self, op: str, request: Dict[str, Any]) -> Optional[str]:
        """The definition a Create/UpdatePipeline request gives (inline or from the home's
        store), checked; None when it gives none."""
        inline, location = (
            request.get("PipelineDefinition"),
            request.get("PipelineDefinitionS3Location"),
        )
        if inline is not None and location is not None:
            raise self._refused(
                op,
                "ValidationException",
                "Both PipelineDefinition and PipelineDefinitionS3Location are given: give one",
            )
        text = inline
        if location is not None:
            uri = "s3://%s/%s" % (location["Bucket"], location["ObjectKey"])
            try:
                text = self.backend.store.path(uri).read_text("utf-8")
            except (UserError, OSError, UnicodeError):
                raise self._refused(op, "ValidationException", "No pipeline definition at %s" % uri)
        if text is None:
            return None
        if len(text) > DEFINITION_LIMIT:
            raise self._refused(
                op,
                "ValidationException",
                "The pipeline definition is %d characters; at most %d are allowed"
                % (len(text), DEFINITION_LIMIT),
            )
        try:
            parsed = json.loads(text)
        except ValueError as e:
            raise self._refused(
                op, "ValidationException", "The pipeline definition is not valid JSON: %s" % e
            )
        if not isinstance(parsed, dict) or not isinstance(parsed.get("Steps"), list):
            raise self._refused(
                op,
                "ValidationException",
                "The pipeline definition is not a pipeline: a JSON object with a Steps list",
            )
        return str(text)

    def _missing(self, op: str, name: str) -> Exception:
        return self._refused(
            op,
            "ResourceNotFound",
            "Pipeline '%s' does not exist." % sagemaker_arn("pipeline", name),
        )

    def create_pipeline(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreatePipeline.html:
        version 1 of the pipeline, tagged with Tags. A ClientRequestToken repeated with the
        name (boto3 makes one per call) answers the pipeline it made."""
        op = "CreatePipeline"
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        self._request(op, request)
        name = request["PipelineName"]
        definition = self._definition(op, request)
        if definition is None:
            raise self._refused(
                op,
                "ValidationException",
                "Either PipelineDefinition or PipelineDefinitionS3Location must be given",
            )
        kept = {
            k: v
            for k, v in request.items()
            if k not in ("PipelineDefinitionS3Location", "Tags", "PipelineVersionAliases")
        }
        kept["PipelineDefinition"] = definition
        arn = sagemaker_arn("pipeline", name)
        if not self.backend.pipelines.create(name, kept):
            existing = self.backend.pipelines.versions(name)[0]["request"]
            if existing.get("ClientRequestToken") == request["ClientRequestToken"]:
                return self._answer(op, {"PipelineArn": arn})
            raise self._refused(
                op,
                "ValidationException",
                "Pipeline names must be unique within an AWS account and region. Pipeline "
                "with name (%s) already exists." % name,
            )
        if request.get("Tags"):
            self._tag(arn, request["Tags"])
        return self._answer(op, {"PipelineArn": arn})

    def update_pipeline(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdatePipeline.html:
        the next version, with what the request changes; answers its PipelineVersionId."""
        op = "UpdatePipeline"
        self._request(op, request)
        name = request["PipelineName"]
        if self.backend.pipelines.get(name) is None:
            raise self._missing(op, name)
        changes = {
            k: v
            for k, v in request.items()
            if k
            in (
                "PipelineDisplayName",
                "PipelineDescription",
                "RoleArn",
                "ParallelismConfiguration",
            )
        }
        definition = self._definition(op, request)
        if definition is not None:
            changes["PipelineDefinition"] = definition
        version = self.backend.pipelines.update(name, changes)
        if version is None:  # deleted meanwhile
            raise self._missing(op, name)
        return self._answer(
            op, {"PipelineArn": sagemaker_arn("pipeline", name), "PipelineVersionId": version}
        )

    def delete_pipeline(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeletePipeline.html:
        the pipeline, its versions and tags; its executions' records stay (what ran, ran)."""
        op = "DeletePipeline"
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        self._request(op, request)
        name = request["PipelineName"]
        arn = sagemaker_arn("pipeline", name)
        if not self.backend.pipelines.delete(name):
            raise self._missing(op, name)
        self._untag(arn)
        return self._answer(op, {"PipelineArn": arn})

    def list_pipeline_versions(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListPipelineVersions.html:
        newest first unless SortOrder Ascending; CreatedAfter/Before, NextToken/MaxResults."""
        op = "ListPipelineVersions"
        self._request(op, request)
        name = self._name(request["PipelineName"])
        versions = self.backend.pipelines.versions(name)
        if not versions:
            raise self._missing(op, name)
        after, before = request.get("CreatedAfter"), request.get("CreatedBefore")
        summaries = [
            {
                "_id": "%09d" % v["version"],
                "PipelineArn": sagemaker_arn("pipeline", v["name"]),
                "PipelineVersionId": v["version"],
                "CreationTime": v["updated"],
                "PipelineVersionDisplayName": v["request"].get("PipelineDisplayName"),
                "PipelineVersionDescription": v["request"].get("PipelineDescription"),
            }
            for v in versions
        ]
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
            lambda s: s["PipelineVersionId"],
            request.get("SortOrder", "Descending") == "Descending",
            "PipelineVersionSummaries",
        )
        return self._answer(op, shaped(op, answer))

    def describe_pipeline_definition_for_execution(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribePipelineDefinitionForExecution.html"""
        op = "DescribePipelineDefinitionForExecution"
        self._request(op, request)
        record = self._execution(op, request["PipelineExecutionArn"])
        definition = self.backend.executions.definition(record["PipelineExecutionId"])
        answer = {
            "PipelineDefinition": json.dumps(definition) if definition is not None else None,
            "CreationTime": record["StartTime"],
        }
        return self._answer(op, shaped(op, answer))

    def stop_pipeline_execution(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopPipelineExecution.html:
        an Executing execution becomes Stopping, then Stopped once its running step is
        interrupted; stopping one already Stopping answers again. One that ended, or whose
        process this twin cannot signal (it runs in the caller's own process), is a
        ConflictException."""
        op = "StopPipelineExecution"
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        self._request(op, request)
        record = self._execution(op, request["PipelineExecutionArn"])
        status = record["PipelineExecutionStatus"]
        if status == "Executing" and not pipeline_process.stop(self.backend, record):
            raise self._refused(
                op,
                "ConflictException",
                "Pipeline execution %s runs in this process and cannot be stopped from it"
                % record["PipelineExecutionArn"],
            )
        if status not in ("Executing", "Stopping"):
            raise self._refused(
                op,
                "ConflictException",
                "Pipeline execution %s is %s: only an Executing one can be stopped"
                % (record["PipelineExecutionArn"], status),
            )
        return self._answer(op, {"PipelineExecutionArn": record["PipelineExecutionArn"]})
