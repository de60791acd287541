"""Models and tags, operations of boto3's `sagemaker` client over the local SageMaker (mixins of
SageMakerClient, api.py): CreateModel / DescribeModel / DeleteModel / ListModels over the
home's registry, AddTags / ListTags / DeleteTags of the resources that take tags, in the
home's database. A missing model is a ValidationException ("Could not find model ...").
"""

import json
from typing import Any, Dict, List, Tuple

from pipelines.local.api import Answer
from pipelines.local.arns import ACCOUNT, REGION, sagemaker_arn
from pipelines.local.sagemaker.client_base import (
    SageMakerOperations,
    listing,
    offset,
    shaped_top_level,
    when,
)

TAGGED = (
    "model",
    "endpoint-config",
    "endpoint",
    "model-package",
    "monitoring-schedule",
    "pipeline",
)


def resource_name(arn: str) -> Tuple[str, str]:
    """(resource type, name) of one of this twin's SageMaker ARNs; ("", "") for another."""
    prefix = "arn:aws:sagemaker:%s:%s:" % (REGION, ACCOUNT)
    if not arn.startswith(prefix) or "/" not in arn:
        return "", ""
    kind, name = arn[len(prefix) :].split("/", 1)
    return kind, name


class TagOperations(SageMakerOperations):
    """AddTags, ListTags, DeleteTags; what the operations creating and deleting a resource
    that takes tags call to tag and untag it."""

    def add_tags(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AddTags.html: adds or
        overwrites the tags; answers the resource's tags."""
        op = "AddTags"
        self._request(op, request)
        arn = self._tagged(op, request["ResourceArn"])
        self._tag(arn, request["Tags"])
        return self._answer(op, {"Tags": self._tags(arn)})

    def list_tags(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTags.html"""
        op = "ListTags"
        self._request(op, request)
        arn = self._tagged(op, request["ResourceArn"])
        tags = self._tags(arn)
        start = offset(request)
        end = start + int(request.get("MaxResults") or 50)
        answer: Answer = {"Tags": tags[start:end]}
        if end < len(tags):
            answer["NextToken"] = str(end)
        return self._answer(op, answer)

    def delete_tags(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteTags.html"""
        op = "DeleteTags"
        self._request(op, request)
        arn = self._tagged(op, request["ResourceArn"])
        db = self.backend.db
        with db:
            db.executemany(
                "DELETE FROM tags WHERE arn = ? AND key = ?",
                [(arn, key) for key in request["TagKeys"]],
            )
        return self._answer(op, {})

    def _tagged(self, operation: str, arn: str) -> str:
        """`arn`, when it names a resource of this twin that takes tags."""
        kind, name = resource_name(arn)
        db = self.backend.db
        exists = False
        if kind == "model-package":
            exists = bool(
                db.execute("SELECT 1 FROM model_packages WHERE arn = ?", (arn,)).fetchone()
            )
        elif kind in TAGGED:
            table = {
                "model": "models",
                "endpoint-config": "endpoint_configs",
                "endpoint": "endpoints",
                "monitoring-schedule": "monitoring_schedules",
                "pipeline": "pipeline_versions",
            }[kind]
            query = "SELECT 1 FROM %s WHERE lower(name) = ?" % table
            exists = bool(db.execute(query, (name,)).fetchone())
        if not exists:
            raise self._refused(
                operation, "ValidationException", "Could not find resource %s." % arn
            )
        return arn

    def _tag(self, arn: str, tags: List[Dict[str, str]]) -> None:
        db = self.backend.db
        with db:
            for tag in tags:
                known = db.execute(
                    "SELECT position FROM tags WHERE arn = ? AND key = ?", (arn, tag["Key"])
                ).fetchone()
                position = (
                    known["position"]
                    if known
                    else db.execute(
                        "SELECT COALESCE(MAX(position), 0) + 1 FROM tags WHERE arn = ?", (arn,)
                    ).fetchone()[0]
                )
                db.execute(
                    "INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?)",
                    (arn, tag["Key"], tag.get("Value", ""), position),
                )

    def _tags(self, arn: str) -> List[Dict[str, str]]:
        rows = self.backend.db.execute(
            "SELECT key, value FROM tags WHERE arn = ? ORDER BY position", (arn,)
        ).fetchall()
        return [{"Key": r["key"], "Value": r["value"]} for r in rows]

    def _untag(self, arn: str) -> None:
        """A deleted resource's tags go with it."""
        db = self.backend.db
        with db:
            db.execute("DELETE FROM tags WHERE arn = ?", (arn,))


class ModelOperations(TagOperations):
    """CreateModel, DescribeModel, DeleteModel, ListModels; what an endpoint config's variants
    name is found with `_found_model`."""

    def create_model(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModel.html"""
        op = "CreateModel"
        self._request(op, request)
        name = request["ModelName"]
        arn = sagemaker_arn("model", name)
        if self._model_row(name) is not None:
            raise self._refused(
                op, "ValidationException", 'Cannot create already existing model "%s".' % arn
            )
        containers = request.get("Containers") or []
        if not request.get("PrimaryContainer") and not containers:
            raise self._refused(
                op, "ValidationException", "A model needs a PrimaryContainer or Containers."
            )
        if len(containers) > 1:
            raise self._refused(
                op,
                "ValidationException",
                "model %s: a local endpoint serves one container, not an inference pipeline of "
                "%d" % (name, len(containers)),
            )
        stored = {k: v for k, v in request.items() if k not in ("ModelName", "Tags")}
        self.backend.registry.create_model(name, stored)
        self._tag(arn, request.get("Tags") or [])
        return self._answer(op, {"ModelArn": arn})

    def describe_model(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeModel.html"""
        op = "DescribeModel"
        self._request(op, request)
        row = self._found_model(op, request["ModelName"])
        answer = dict(
            json.loads(row["request"]),
            ModelName=row["name"],
            ModelArn=sagemaker_arn("model", row["name"]),
            CreationTime=row["created"],
        )
        return self._answer(op, shaped_top_level(op, answer))

    def delete_model(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteModel.html"""
        op = "DeleteModel"
        self._request(op, request)
        name = self._found_model(op, request["ModelName"])["name"]
        db = self.backend.db
        with db:
            db.execute("DELETE FROM models WHERE name = ?", (name,))
        self._untag(sagemaker_arn("model", name))
        return self._answer(op, {})

    def list_models(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListModels.html"""
        op = "ListModels"
        self._request(op, request)
        rows = self.backend.db.execute("SELECT name, created FROM models").fetchall()
        items = [
            {
                "ModelName": r["name"],
                "ModelArn": sagemaker_arn("model", r["name"]),
                "CreationTime": when(r["created"]),
            }
            for r in rows
        ]
        page, token = listing(items, request, "ModelName")
        return self._answer(op, dict({"Models": page}, **token))

    def _model_row(self, name: str) -> Any:
        return self.backend.db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()

    def _found_model(self, operation: str, name: str) -> Any:
        row = self._model_row(name)
        if row is None:
            raise self._refused(
                operation,
                "ValidationException",
                'Could not find model "%s".' % sagemaker_arn("model", name),
            )
        return row
