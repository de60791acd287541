"""The model registry's operations of boto3's `sagemaker` client over the local SageMaker
(a mixin of SageMakerClient, api.py): model package groups and their versioned packages, over
the home's registry (registry.py).
"""

from typing import Any, Dict

from pipelines.local.api import Answer, Request, client_error
from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker.client_base import SageMakerOperations, epoch, paged, shaped
from pipelines.local.sagemaker.registry import not_found


class RegistryOperations(SageMakerOperations):
    """CreateModelPackageGroup, DescribeModelPackageGroup, ListModelPackageGroups,
    CreateModelPackage, DescribeModelPackage, ListModelPackages, UpdateModelPackage."""

    @property
    def registry(self) -> Any:
        return self.backend.registry  # this thread's connection

    # ------------------------------------------------------------------ model package groups

    def create_model_package_group(self, **request: Any) -> Answer:
        """API_CreateModelPackageGroup: a name taken is a ValidationException."""
        op = "CreateModelPackageGroup"
        self._request(op, request)
        name = request["ModelPackageGroupName"]
        self.registry.create_group(name, request)
        return self._answer(
            op, {"ModelPackageGroupArn": sagemaker_arn("model-package-group", name)}
        )

    def _group(self, operation: str, name: str) -> Dict[str, Any]:
        found = self.registry.group(name.rsplit("/", 1)[-1] if name.startswith("arn:") else name)
        if found is None:
            raise client_error(
                operation,
                "ValidationException",
                "ModelPackageGroup %s does not exist." % sagemaker_arn("model-package-group", name),
            )
        return dict(found)

    @staticmethod
    def _group_answer(group: Dict[str, Any]) -> Dict[str, Any]:
        return {
            "ModelPackageGroupName": group["name"],
            "ModelPackageGroupArn": sagemaker_arn("model-package-group", group["name"]),
            "ModelPackageGroupDescription": group["request"].get("ModelPackageGroupDescription"),
            "CreationTime": group["created"],
            "CreatedBy": {},
            "ModelPackageGroupStatus": "Completed",
        }

    def describe_model_package_group(self, **request: Any) -> Answer:
        """API_DescribeModelPackageGroup: a missing group is a ValidationException (the API
        reference models no error; SageMaker and moto answer this)."""
        op = "DescribeModelPackageGroup"
        self._request(op, request)
        group = self._group(op, request["ModelPackageGroupName"])
        return self._answer(op, shaped(op, self._group_answer(group)))

    def list_model_package_groups(self, **request: Any) -> Answer:
        """API_ListModelPackageGroups: NameContains, CreationTimeAfter/Before, SortBy (Name,
        CreationTime: the default), SortOrder (Ascending by default), NextToken/MaxResults."""
        op = "ListModelPackageGroups"
        self._request(op, request)
        groups = [
            dict(self._group_answer(g), _id=g["name"])
            for g in self.registry.groups()
            if request.get("NameContains", "") in g["name"] and self._created_in(request, g)
        ]
        by = request.get("SortBy", "CreationTime")
        answer = paged(
            op,
            request,
            groups,
            (lambda g: g["ModelPackageGroupName"])
            if by == "Name"
            else (lambda g: g["CreationTime"]),
            request.get("SortOrder", "Ascending") == "Descending",
            "ModelPackageGroupSummaryList",
        )
        return self._answer(op, shaped(op, answer))

    @staticmethod
    def _created_in(request: Request, item: Dict[str, Any]) -> bool:
        created = float(item["created"] if "created" in item else item["CreationTime"])
        after, before = request.get("CreationTimeAfter"), request.get("CreationTimeBefore")
        return (after is None or created > epoch(after)) and (
            before is None or created < epoch(before)
        )

    # ------------------------------------------------------------------ model packages

    def create_model_package(self, **request: Any) -> Answer:
        """API_CreateModelPackage: a version of an existing group (ModelPackageGroupName);
        both names, neither, or a group that does not exist are ValidationExceptions (as
        SageMaker and moto answer). The twin keeps no unversioned packages."""
        op = "CreateModelPackage"
        self._request(op, request)
        group = request.get("ModelPackageGroupName")
        if group and request.get("ModelPackageName"):
            raise client_error(
                op,
                "ValidationException",
                "Both ModelPackageName and ModelPackageGroupName are provided in the input. "
                "Cannot determine which one to use.",
            )
        if not group:
            raise client_error(
                op,
                "ValidationException",
                "Missing ARN: give ModelPackageGroupName (the local registry keeps versioned "
                "model packages only)",
            )
        name = self._group(op, group)["name"]
        package = self.registry.create_model_package(dict(request, ModelPackageGroupName=name))
        return self._answer(op, {"ModelPackageArn": package["ModelPackageArn"]})

    @staticmethod
    def _package_answer(package: Dict[str, Any]) -> Dict[str, Any]:
        return dict(
            package,
            ModelPackageName=package["ModelPackageGroupName"],
            ModelPackageStatusDetails={"ValidationStatuses": []},
        )

    def describe_model_package(self, **request: Any) -> Answer:
        """API_DescribeModelPackage: by ARN, or GROUP/NUMBER for a version; a missing one is
        a ValidationException ("Model package ... not found")."""
        op = "DescribeModelPackage"
        self._request(op, request)
        package = self.registry.package(request["ModelPackageName"])
        if package is None:
            raise not_found(op, request["ModelPackageName"])
        return self._answer(op, shaped(op, self._package_answer(package)))

    def list_model_packages(self, **request: Any) -> Answer:
        """API_ListModelPackages: the versions of ModelPackageGroupName (name or ARN), or, by
        ModelPackageType, Versioned/Both ones of every group; Unversioned (the documented
        default without a group) finds none here. ModelApprovalStatus, NameContains,
        CreationTimeAfter/Before filter; SortBy CreationTime (default) or Name, SortOrder
        Ascending (default) or Descending; NextToken/MaxResults page."""
        op = "ListModelPackages"
        self._request(op, request)
        group = request.get("ModelPackageGroupName")
        kind = "Versioned" if group else request.get("ModelPackageType", "Unversioned")
        packages = []
        if kind != "Unversioned":
            if group and group.startswith("arn:"):
                group = group.rsplit("/", 1)[-1]
            for p in self.registry.list_packages(group):
                if group and p["ModelPackageGroupName"] != group:
                    continue
                if (
                    request.get("ModelApprovalStatus", p["ModelApprovalStatus"])
                    != (p["ModelApprovalStatus"])
                ):
                    continue
                if request.get("NameContains", "") not in p["ModelPackageGroupName"]:
                    continue
                if not self._created_in(request, p):
                    continue
                packages.append(dict(self._package_answer(p), _id=p["ModelPackageArn"]))
        answer = paged(
            op,
            request,
            packages,
            (lambda p: p["ModelPackageName"])
            if request.get("SortBy") == "Name"
            else (lambda p: p["CreationTime"]),
            request.get("SortOrder", "Ascending") == "Descending",
            "ModelPackageSummaryList",
        )
        return self._answer(op, shaped(op, answer))

    def update_model_package(self, **request: Any) -> Answer:
        """API_UpdateModelPackage: ModelApprovalStatus, ApprovalDescription,
        CustomerMetadataProperties; a missing package is a ValidationException."""
        op = "UpdateModelPackage"
        self._request(op, request)
        arn = request["ModelPackageArn"]
        if self.registry.package(arn) is None:
            raise not_found(op, arn)
        for member in (
            "CustomerMetadataPropertiesToRemove",
            "AdditionalInferenceSpecificationsToAdd",
            "InferenceSpecification",
            "ModelCard",
            "ModelLifeCycle",
            "SourceUri",
        ):
            if member in request:
                raise client_error(
                    op, "ValidationException", "the local registry does not update %s" % member
                )
        package = self.registry.update_package(
            arn,
            request.get("ModelApprovalStatus"),
            request.get("ApprovalDescription"),
            request.get("CustomerMetadataProperties"),
        )
        return self._answer(op, {"ModelPackageArn": package["ModelPackageArn"]})
