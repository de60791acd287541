"""The local model registry's storage, in SQLite under the home folder (docs/adr/0004).

Model package groups and versions keep the CreateModelPackage fields
(docs/container-contracts.md section 4.1) as the request JSON plus the columns a listing needs.
Versions number from 1 per group, as SageMaker numbers them. CreateModel's models live here too:
a Transform step finds its model by name.

This is storage: boto3's `sagemaker` client over it is api.py (SageMakerClient), which is what
code outside the twin calls. What it refuses, it refuses as SageMaker does (a ClientError with
SageMaker's code), except `model`, whose callers (hosting, the Transform step) take a UserError.
"""

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from pipelines.errors import RegistryError
from pipelines.local.api import client_error
from pipelines.local.arns import sagemaker_arn

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")

Json = Dict[str, Any]


def not_found(operation: str, name: str) -> "ClientError":
    """DescribeModelPackage's answer for a package that is not there: SageMaker's API reference
    models no error for it; SageMaker (and moto) answer ValidationException."""
    return client_error(operation, "ValidationException", "Model package %s not found" % name)


class Registry(object):
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db  # a connection from database.connect(home)

    # ------------------------------------------------------------------ groups

    def create_group(self, name: str, request: Json) -> Optional[Json]:
        """CreateModelPackageGroup's record; a name taken is refused as SageMaker refuses it."""
        with self.db:
            if self.group(name) is not None:
                raise client_error(
                    "CreateModelPackageGroup",
                    "ValidationException",
                    "Model Package Group already exists: %s"
                    % sagemaker_arn("model-package-group", name),
                )
            self.db.execute("INSERT INTO model_package_groups VALUES (?, ?)", (name, time.time()))
            self.db.execute(
                "INSERT OR REPLACE INTO model_package_group_requests VALUES (?, ?)",
                (name, json.dumps(request)),
            )
        return self.group(name)

    def group(self, name: str) -> Optional[Json]:
        """{"name", "created", "request"} of a group, None when there is none. A group a
        pipeline's RegisterModel made has the request {} (SageMaker Pipelines creates it)."""
        row = self.db.execute(
            "SELECT g.name, g.created, r.request FROM model_package_groups g "
            "LEFT JOIN model_package_group_requests r ON r.name = g.name WHERE g.name = ?",
            (name,),
        ).fetchone()
        return None if row is None else _group(row)

    def groups(self) -> List[Json]:
        rows = self.db.execute(
            "SELECT g.name, g.created, r.request FROM model_package_groups g "
            "LEFT JOIN model_package_group_requests r ON r.name = g.name ORDER BY g.name"
        ).fetchall()
        return [_group(r) for r in rows]

    # ------------------------------------------------------------------ model packages

    def create_model_package(self, request: Json, execution_arn: Optional[str] = None) -> Json:
        """A new version of the request's group, which is made when missing: as a pipeline's
        RegisterModel step makes it (CreateModelPackage itself refuses a missing group: api.py
        checks that first)."""
        group = request["ModelPackageGroupName"]
        status = request.get("ModelApprovalStatus") or "PendingManualApproval"
        if status not in APPROVAL_STATUSES:
            raise client_error(
                "CreateModelPackage",
                "ValidationException",
                "ModelApprovalStatus %r is not one of %s" % (status, ", ".join(APPROVAL_STATUSES)),
            )
        now = time.time()
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO model_package_groups VALUES (?, ?)", (group, now)
            )
            version = self.db.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_packages WHERE group_name = ?",
                (group,),
            ).fetchone()[0]
            arn = sagemaker_arn("model-package", group, version)
            self.db.execute(
                "INSERT INTO model_packages (arn, group_name, version, approval_status, created,"
                " updated, pipeline_execution, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (arn, group, version, status, now, now, execution_arn, json.dumps(request)),
            )
        return self.describe(arn)

    def list_packages(self, group: Optional[str] = None) -> List[Json]:
        """Every version (of `group`), by group and version."""
        query = "SELECT * FROM model_packages"
        args: Tuple[str, ...] = ()
        if group:
            query += " WHERE group_name = ?"
            args = (group,)
        rows = self.db.execute(query + " ORDER BY group_name, version", args).fetchall()
        return [self._package(r) for r in rows]

    def package(self, name: Union[str, int]) -> Optional[Json]:
        """A version by ARN or GROUP/NUMBER (what DescribeModelPackage's ModelPackageName
        takes for a versioned package); None when there is none."""
        name = str(name)
        if name.startswith("arn:"):
            # SageMaker writes the names in an ARN lower-case (arns.py)
            row = self.db.execute(
                "SELECT * FROM model_packages WHERE arn = ?", (name.lower(),)
            ).fetchone()
        else:
            group, _, number = name.rpartition("/")
            if not (group and number.isascii() and number.isdigit() and len(number) <= 18):
                return None
            row = self.db.execute(
                "SELECT * FROM model_packages WHERE group_name = ? AND version = ?",
                (group, int(number)),
            ).fetchone()
        return None if row is None else self._package(row)

    def find(self, ref: Union[str, int], group: Optional[str] = None) -> Json:
        """A version by ARN, GROUP/NUMBER, or a number in `group`; ValidationException (as
        DescribeModelPackage answers) when there is none. What users name goes through
        pipelines/aws/registry.py's find_package, which says what there is."""
        ref = str(ref)
        name = ref if ref.startswith("arn:") or "/" in ref else "%s/%s" % (group, ref)
        found = self.package(name)
        if found is None:
            raise not_found("DescribeModelPackage", ref)
        return found

    def describe(self, arn: str) -> Json:
        return self.find(arn)

    def update_package(
        self,
        arn: str,
        status: Optional[str] = None,
        description: Optional[str] = None,
        metadata: Optional[Dict[str, str]] = None,
    ) -> Json:
        """UpdateModelPackage's changes: the approval status and its description, customer
        metadata properties added or replaced."""
        package = self.find(arn)
        if status is not None and status not in APPROVAL_STATUSES:
            raise client_error(
                "UpdateModelPackage",
                "ValidationException",
                "approval status %r is not one of %s" % (status, ", ".join(APPROVAL_STATUSES)),
            )
        request = json.loads(
            self.db.execute(
                "SELECT request FROM model_packages WHERE arn = ?", (package["ModelPackageArn"],)
            ).fetchone()[0]
        )
        if metadata:
            request["CustomerMetadataProperties"] = dict(
                request.get("CustomerMetadataProperties") or {}, **metadata
            )
        with self.db:
            self.db.execute(
                "UPDATE model_packages SET approval_status = ?, updated = ?, "
                "approval_description = COALESCE(?, approval_description), request = ? "
                "WHERE arn = ?",
                (
                    status or package["ModelApprovalStatus"],
                    time.time(),
                    description,
                    json.dumps(request),
                    package["ModelPackageArn"],
                ),
            )
        return self.describe(package["ModelPackageArn"])

    @staticmethod
    def _package(row: sqlite3.Row) -> Json:
        out = json.loads(row["request"])
        out.update(
            {
                "ModelPackageArn": row["arn"],
                "ModelPackageGroupName": row["group_name"],
                "ModelPackageVersion": row["version"],
                "ModelApprovalStatus": row["approval_status"],
                "ModelPackageStatus": "Completed",
                "CreationTime": row["created"],
                "LastModifiedTime": row["updated"],
            }
        )
        if row["pipeline_execution"]:
            out["MetadataProperties"] = dict(
                out.get("MetadataProperties") or {}, GeneratedBy=row["pipeline_execution"]
            )
        if row["approval_description"]:
            out["ApprovalDescription"] = row["approval_description"]
        return out

    # ------------------------------------------------------------------ models

    def create_model(self, name: str, request: Json) -> Json:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO models VALUES (?, ?, ?)",
                (name, time.time(), json.dumps(request)),
            )
        return dict(request, ModelName=name, ModelArn=sagemaker_arn("model", name))

    def model(self, name: str) -> Json:
        row = self.db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise RegistryError("no model named %r" % name)
        return dict(json.loads(row["request"]), ModelName=name)


def _group(row: sqlite3.Row) -> Json:
    return {
        "name": row["name"],
        "created": row["created"],
        "request": json.loads(row["request"]) if row["request"] else {},
    }
