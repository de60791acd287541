"""The local model registry, in SQLite under the home folder (docs/adr/0004).

Model package groups and versions keep the CreateModelPackage fields
(docs/container-contracts.md section 4.1) as the request JSON plus the columns a listing needs.
Versions number from 1 per group, as SageMaker numbers them. CreateModel's models live here too:
a Transform step finds its model by name.
"""

import json
import time

from pipelines.errors import RegistryError
from pipelines.local.arns import sagemaker_arn

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


class Registry(object):
    def __init__(self, db):
        self.db = db  # a connection from database.connect(home)

    # ------------------------------------------------------------------ model packages

    def create_model_package(self, request, execution_arn=None):
        group = request["ModelPackageGroupName"]
        status = request.get("ModelApprovalStatus") or "PendingManualApproval"
        if status not in APPROVAL_STATUSES:
            raise RegistryError(
                "ModelApprovalStatus %r is not one of %s" % (status, ", ".join(APPROVAL_STATUSES))
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

    def list_packages(self, group=None):
        query = "SELECT * FROM model_packages"
        args = ()
        if group:
            query += " WHERE group_name = ?"
            args = (group,)
        rows = self.db.execute(query + " ORDER BY group_name, version", args).fetchall()
        return [self._package(r) for r in rows]

    def find(self, ref, group=None):
        """A version by ARN, by number (in `group`, or the only group there is), or
        group/number."""
        ref = str(ref)
        if ref.startswith("arn:"):
            row = self.db.execute("SELECT * FROM model_packages WHERE arn = ?", (ref,)).fetchone()
        else:
            if "/" in ref:
                group, ref = ref.rsplit("/", 1)
            if not (ref.isascii() and ref.isdigit()) or len(ref) > 18:  # SQLite's INTEGER
                raise RegistryError(
                    "model version %r: give a version number, group/number or an ARN "
                    "(see `churn models list`)" % ref
                )
            if group is None:
                groups = [
                    r[0] for r in self.db.execute("SELECT DISTINCT group_name FROM model_packages")
                ]
                if len(groups) > 1:
                    raise RegistryError(
                        "several model package groups (%s): pass --group or "
                        "GROUP/VERSION" % ", ".join(sorted(groups))
                    )
                group = groups[0] if groups else ""
            row = self.db.execute(
                "SELECT * FROM model_packages WHERE group_name = ? AND version = ?",
                (group, int(ref)),
            ).fetchone()
        if row is None:
            known = (
                ", ".join(
                    "%s/%d" % (p["ModelPackageGroupName"], p["ModelPackageVersion"])
                    for p in self.list_packages()
                )
                or "none yet"
            )
            where = " in group %s" % group if group and not ref.startswith("arn:") else ""
            raise RegistryError(
                "no model version %s%s (registered: %s); name one as GROUP/N, or the group "
                "with --group or --schema (`churn models list`)" % (ref, where, known)
            )
        return self._package(row)

    def describe(self, arn):
        return self.find(arn)

    def set_approval(self, ref, status, description=None, group=None):
        if status not in APPROVAL_STATUSES:
            raise RegistryError(
                "approval status %r is not one of %s" % (status, ", ".join(APPROVAL_STATUSES))
            )
        package = self.find(ref, group)
        with self.db:
            self.db.execute(
                "UPDATE model_packages SET approval_status = ?, updated = ?, "
                "approval_description = ? WHERE arn = ?",
                (status, time.time(), description, package["ModelPackageArn"]),
            )
        return self.describe(package["ModelPackageArn"])

    @staticmethod
    def _package(row):
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

    def create_model(self, name, request):
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO models VALUES (?, ?, ?)",
                (name, time.time(), json.dumps(request)),
            )
        return dict(request, ModelName=name, ModelArn=sagemaker_arn("model", name))

    def model(self, name):
        row = self.db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise RegistryError("no model named %r" % name)
        return dict(json.loads(row["request"]), ModelName=name)
