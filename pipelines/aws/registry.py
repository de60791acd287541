"""The model registry, one path to SageMaker's and to the local twin's (docs/adr/0011).

Every function takes a `sagemaker` client, boto3's or the twin's (pipelines.local.sagemaker.api),
and calls it the same way:

    find_package(sm, ref, group)      a version by number in `group`, GROUP/NUMBER or ARN; None:
                                      the newest Approved version of `group`
    require_approved(package, allow)  the one approval gate (serve, deploy, local endpoints)
    set_approval(sm, ref, status, d)  approve or reject a version
    list_versions(sm, group=None)     DescribeModelPackage of every version, by group and number
    drift_baselines(package)          the one reader of DriftCheckBaselines.ModelDataQuality

What a user named and the registry has not is a RegistryError saying what there is; a version
that is not Approved a ModelSourceError saying how to approve it.
"""

from typing import Any, Dict, List, Optional, Tuple

from botocore.exceptions import ClientError

from pipelines.errors import ModelSourceError, RegistryError

Package = Dict[str, Any]
STATUSES = ("Approved", "Rejected", "PendingManualApproval")
MAX_VERSION_DIGITS = 9  # DescribeModelPackage's ModelPackageName pattern: GROUP/[0-9]{1,9}


METRIC_NAMES = ("auc", "accuracy", "precision", "recall", "f1", "pr_auc")


def evaluation_uri(package: Package) -> Optional[str]:
    """Where a model package's evaluation report is (ModelMetrics.ModelQuality), or None."""
    metrics = package.get("ModelMetrics") or {}
    uri: Optional[str] = ((metrics.get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")
    return uri


def quality_metrics(evaluation: Dict[str, Any]) -> Dict[str, float]:
    """{name: value} of the test metrics in an evaluation.json (docs/container-contracts.md)."""
    metrics = evaluation.get("binary_classification_metrics", {})
    return {
        name: metrics[name]["value"]
        for name in METRIC_NAMES
        if isinstance(metrics.get(name), dict) and "value" in metrics[name]
    }


def version_metrics(s3: Any, package: Package) -> Dict[str, float]:
    """A version's test metrics, read from its evaluation report through an `s3` client; {}
    when it has none or the report cannot be read as JSON."""
    from pipelines.aws.s3 import read_json

    uri = evaluation_uri(package)
    evaluation = read_json(s3, uri) if uri else None
    return quality_metrics(evaluation) if isinstance(evaluation, dict) else {}


def version_name(package: Package) -> str:
    """GROUP/NUMBER of a version, as `churn models` names it."""
    return "%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])


def _pages(sm: Any, operation: str, key: str, **request: Any) -> List[Dict[str, Any]]:
    return [item for page in sm.get_paginator(operation).paginate(**request) for item in page[key]]


def group_names(sm: Any) -> List[str]:
    """Every model package group, by name."""
    groups = _pages(sm, "list_model_package_groups", "ModelPackageGroupSummaryList")
    return sorted(g["ModelPackageGroupName"] for g in groups)


def _summaries(sm: Any, group: str, **filters: Any) -> List[Dict[str, Any]]:
    """ListModelPackages of a group (no versions for a group there is not)."""
    try:
        return _pages(
            sm,
            "list_model_packages",
            "ModelPackageSummaryList",
            ModelPackageGroupName=group,
            **filters,
        )
    except ClientError as e:
        if e.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return []
        raise


def list_versions(sm: Any, group: Optional[str] = None) -> List[Package]:
    """DescribeModelPackage of every version (of `group`), by group and version number. By
    group: ListModelPackages without a group lists unversioned packages only."""
    versions = []
    for name in [group] if group else group_names(sm):
        for summary in _summaries(sm, name):
            versions.append(sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"]))
    return sorted(versions, key=lambda p: (p["ModelPackageGroupName"], p["ModelPackageVersion"]))


def latest_approved(sm: Any, group: str, where: str = "") -> str:
    """The ARN of the newest Approved version of `group` (what the templates deploy): each
    table registers into its own group, so a command given a schema serves, scores and
    monitors that table's versions only. `where` names the registry in the refusal."""
    newest = _summaries(
        sm,
        group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    )
    if newest:
        return str(max(newest, key=lambda p: p["CreationTime"])["ModelPackageArn"])
    others = [
        name
        for name in group_names(sm)
        if name != group and _summaries(sm, name, ModelApprovalStatus="Approved", MaxResults=1)
    ]
    raise RegistryError(
        "no Approved model version in group %s%s: approve one (`churn models approve %s/N`), "
        "name one with --model-version N --allow-unapproved%s"
        % (
            group,
            " " + where if where else "",
            group,
            "; Approved versions are in %s: pass the schema of that table (--schema) or "
            "--group %s" % (", ".join(others), others[0])
            if others
            else "",
        )
    )


def find_package(sm: Any, ref: Optional[Any], group: Optional[str], where: str = "") -> Package:
    """DescribeModelPackage of a version: `ref` an ARN, GROUP/NUMBER, or a number in `group`
    (or in the only group there is); None: the newest Approved version of `group`."""
    if ref is None:
        if not group:
            raise RegistryError("name a model version (GROUP/N), or the group with --group")
        ref = latest_approved(sm, group, where)
    ref = str(ref)
    if ref.startswith("arn:"):
        name, number = ref, ref
    else:
        if "/" in ref:
            group, ref = ref.rsplit("/", 1)
        number = ref
        if not (number.isascii() and number.isdigit()) or len(number) > MAX_VERSION_DIGITS:
            raise RegistryError(
                "model version %r: give a version number, group/number or an ARN "
                "(see `churn models list`)" % number
            )
        if group is None:
            groups = group_names(sm)
            if len(groups) > 1:
                raise RegistryError(
                    "several model package groups (%s): pass --group or "
                    "GROUP/VERSION" % ", ".join(groups)
                )
            group = groups[0] if groups else ""
        # by its ARN: DescribeModelPackage takes a versioned package's ARN (a name is an
        # unversioned package's; moto maps a group's name to its newest version)
        listed = _summaries(sm, group) if group else []
        wanted = [p for p in listed if p.get("ModelPackageVersion") == int(number)]
        name = wanted[0]["ModelPackageArn"] if wanted else ""
    if name:
        try:
            package: Package = sm.describe_model_package(ModelPackageName=name)
            return package
        except ClientError as e:
            if e.response["Error"]["Code"] != "ValidationException":
                raise RegistryError(
                    "model version %s: %s" % (ref, e.response["Error"].get("Message", ""))
                )
    known = ", ".join(version_name(p) for p in list_versions(sm)) or "none yet"
    raise RegistryError(
        "no model version %s%s (registered: %s); name one as GROUP/N, or the group "
        "with --group or --schema (`churn models list`)"
        % (number, " in group %s" % group if group and not ref.startswith("arn:") else "", known)
    )


def require_approved(package: Package, allow_unapproved: bool = False) -> None:
    """The registry's approval is the gate to production: only Approved versions are served or
    deployed, unless the caller allows others."""
    status = package.get("ModelApprovalStatus")
    if status == "Approved" or allow_unapproved:
        return
    name = (
        version_name(package)
        if package.get("ModelPackageVersion")
        else package.get("ModelPackageArn", "?")
    )
    raise ModelSourceError(
        "model version %s is %s, not Approved: approve it (`churn models approve %s`, or in "
        "SageMaker's model registry), or pass --allow-unapproved to use it anyway"
        % (name, status, name)
    )


def set_approval(
    sm: Any,
    ref: Any,
    status: str,
    description: Optional[str] = None,
    group: Optional[str] = None,
) -> Package:
    """Approve or reject a version (UpdateModelPackage); returns its new description."""
    if status not in STATUSES:
        raise RegistryError("approval status %r is not one of %s" % (status, ", ".join(STATUSES)))
    package = find_package(sm, ref, group)
    update: Dict[str, Any] = {
        "ModelPackageArn": package["ModelPackageArn"],
        "ModelApprovalStatus": status,
    }
    if description:
        update["ApprovalDescription"] = description
    sm.update_model_package(**update)
    described: Package = sm.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    return described


def drift_baselines(package: Package) -> Optional[Tuple[str, str]]:
    """(statistics URI, constraints URI) of the version's data-quality DriftCheckBaselines
    (ModelDataQuality), None when it carries none."""
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    statistics = (quality.get("Statistics") or {}).get("S3Uri")
    constraints = (quality.get("Constraints") or {}).get("S3Uri")
    if not (statistics and constraints):
        return None
    return statistics, constraints
