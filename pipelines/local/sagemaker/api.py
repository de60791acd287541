"""boto3's `sagemaker` client, answered by the home's local SageMaker (docs/adr/0011).

One client for every `sagemaker` operation the template calls, grouped by concern: the model
registry, models and pipeline executions and jobs (this module), hosting (endpoint configs,
endpoints, monitoring schedules: hosting_api.py), feature groups (the Feature Store twin's).
Code in pipelines/aws/ calls it exactly as it calls boto3's client.

What the twin answers, by area:
- the registry: CreateModelPackageGroup, DescribeModelPackageGroup, ListModelPackageGroups,
  CreateModelPackage (versioned packages only: the group must exist, as SageMaker requires;
  a pipeline's RegisterModel step still makes its group, as SageMaker Pipelines does),
  DescribeModelPackage (by ARN or GROUP/NUMBER; a missing one is a ValidationException, as
  SageMaker and moto answer it: the API reference models no error), ListModelPackages
  (without ModelPackageGroupName or ModelPackageType it lists unversioned packages only, the
  documented default, and the twin has none), UpdateModelPackage (approval, its description,
  customer metadata).
- pipelines, from the execution records `churn run` and the workflows leave (records.py): a
  pipeline is known by its executions (the twin keeps no CreatePipeline): DescribePipeline,
  ListPipelines, DescribePipelineExecution, ListPipelineExecutions, ListPipelineExecutionSteps,
  and StartPipelineExecution through the `start_pipeline(name, parameters)` callable the
  client is given (the workspace's, which knows what a pipeline is); a missing pipeline or
  execution is ResourceNotFound.
- jobs outside a pipeline (job_api.py): Create/Describe Training, Processing, Transform jobs.

Times are datetimes and every answer holds its output shape's members only (_shaped). The
twin's ARNs name the region `local`, which UpdateModelPackage's ARN pattern (a 9 to 16
character region) refuses: requests are checked against the model with the twin's own ARNs
read as a real region's.
"""

import base64
import datetime
import json
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from botocore.utils import parse_to_aware_datetime

from pipelines.errors import UserError
from pipelines.local.api import Answer, Request, TwinClient, client_error
from pipelines.local.arns import ACCOUNT, REGION, sagemaker_arn
from pipelines.local.parameters import check_parameters, output_shape
from pipelines.local.sagemaker.hosting_api import HostingOperations
from pipelines.local.sagemaker.job_api import Jobs
from pipelines.local.sagemaker.registry import not_found

StartPipeline = Callable[[str, Dict[str, str]], str]
TWIN_ARN = "arn:aws:sagemaker:%s:%s:" % (REGION, ACCOUNT)
CHECKED_ARN = "arn:aws:sagemaker:us-east-1:%s:" % ACCOUNT
SECONDARY_STATUS = {"InProgress": "Training", "Completed": "Completed", "Failed": "Failed"}


def _as_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return parse_to_aware_datetime(value)


def _fit(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            k: _fit(shape.members[k], v)
            for k, v in value.items()
            if k in shape.members and v is not None
        }
    if kind == "list" and isinstance(value, list):
        return [_fit(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _fit(shape.value, v) for k, v in value.items()}
    if kind == "timestamp" and value is not None:
        return _as_datetime(value)
    return value


def _shaped(operation: str, value: Dict[str, Any]) -> Answer:
    """`value` as boto3 hands the operation's answer over: the output shape's members only (at
    every depth; None means absent), its timestamps as datetimes."""
    fitted: Answer = _fit(output_shape("sagemaker", operation), value)
    return fitted


def _read_arns(value: Any) -> Any:
    """`value` with the twin's ARNs read as a real region's (for the model's patterns)."""
    if isinstance(value, str) and value.startswith(TWIN_ARN):
        return CHECKED_ARN + value[len(TWIN_ARN) :]
    if isinstance(value, dict):
        return {k: _read_arns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_read_arns(v) for v in value]
    return value


def _token(place: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(place).encode()).decode()


def _place(operation: str, token: str) -> Any:
    try:
        place = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        if isinstance(place, list) and len(place) == 2 and isinstance(place[1], str):
            return place
    except (ValueError, TypeError, UnicodeError):
        pass
    raise client_error(
        operation,
        "ValidationException",
        "NextToken %r is not a token %s answered" % (token, operation),
    )


def _page(
    operation: str,
    request: Request,
    items: List[Dict[str, Any]],
    key: Callable[[Dict[str, Any]], Any],
    descending: bool,
) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """One page of `items` in the order of (key, ARN), and the NextToken of the next page: a
    token is the place of the last item answered, so an item added or removed between pages
    moves no other."""
    places = sorted((([key(i), i["_id"]]), i) for i in items)
    if descending:
        places.reverse()
    if request.get("NextToken"):
        after = _place(operation, request["NextToken"])
        places = [(p, i) for p, i in places if (p < after if descending else p > after)]
    limit = request.get("MaxResults", 100)
    page = places[:limit]
    token = _token(page[-1][0]) if len(places) > limit else None
    return [i for _, i in page], token


def _epoch(value: Any) -> float:
    return _as_datetime(value).timestamp() if not isinstance(value, (int, float)) else value


class SageMakerClient(HostingOperations, TwinClient):
    service = "sagemaker"

    def __init__(self, backend: Any, start_pipeline: Optional[StartPipeline] = None) -> None:
        self.backend = backend  # pipelines.local.sagemaker.backend.SageMakerBackend
        self.start_pipeline = start_pipeline
        self._jobs: Optional[Jobs] = None

    def _request(self, operation: str, request: Request) -> Request:
        check_parameters(self.service, operation, request)
        super()._request(operation, _read_arns(request))
        return request

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
        return self._answer(op, _shaped(op, self._group_answer(group)))

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
        page, token = _page(
            op,
            request,
            groups,
            (lambda g: g["ModelPackageGroupName"])
            if by == "Name"
            else (lambda g: g["CreationTime"]),
            request.get("SortOrder", "Ascending") == "Descending",
        )
        answer: Dict[str, Any] = {"ModelPackageGroupSummaryList": page}
        if token:
            answer["NextToken"] = token
        return self._answer(op, _shaped(op, answer))

    @staticmethod
    def _created_in(request: Request, item: Dict[str, Any]) -> bool:
        created = float(item["created"] if "created" in item else item["CreationTime"])
        after, before = request.get("CreationTimeAfter"), request.get("CreationTimeBefore")
        return (after is None or created > _epoch(after)) and (
            before is None or created < _epoch(before)
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
        return self._answer(op, _shaped(op, self._package_answer(package)))

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
        page, token = _page(
            op,
            request,
            packages,
            (lambda p: p["ModelPackageName"])
            if request.get("SortBy") == "Name"
            else (lambda p: p["CreationTime"]),
            request.get("SortOrder", "Ascending") == "Descending",
        )
        answer: Dict[str, Any] = {"ModelPackageSummaryList": page}
        if token:
            answer["NextToken"] = token
        return self._answer(op, _shaped(op, answer))

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

    # ------------------------------------------------------------------ pipelines

    def _records(self) -> List[Dict[str, Any]]:
        return list(self.backend.executions.list())

    def _pipeline_records(self, operation: str, name: str) -> List[Dict[str, Any]]:
        if name.startswith("arn:"):
            name = name.rsplit("/", 1)[-1]
        found = [r for r in self._records() if r["PipelineName"].lower() == name.lower()]
        if not found:
            raise client_error(operation, "ResourceNotFound", "Pipeline %s does not exist" % name)
        return found

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
            "PipelineExecutionDisplayName": record["PipelineExecutionId"],
            "PipelineExecutionStatus": record["PipelineExecutionStatus"],
            "FailureReason": record.get("FailureReason"),
            "CreationTime": record["StartTime"],
            "LastModifiedTime": self._modified(record),
        }
        return self._answer(op, _shaped(op, answer))

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
                "PipelineExecutionDisplayName": r["PipelineExecutionId"],
                "PipelineExecutionFailureReason": r.get("FailureReason"),
            }
            for r in records
            if (after is None or r["StartTime"] > _epoch(after))
            and (before is None or r["StartTime"] < _epoch(before))
        ]
        by = request.get("SortBy", "CreationTime")
        page, token = _page(
            op,
            request,
            summaries,
            (lambda s: s["PipelineExecutionArn"])
            if by == "PipelineExecutionArn"
            else (lambda s: s["StartTime"]),
            request.get("SortOrder", "Descending") == "Descending",
        )
        answer: Dict[str, Any] = {"PipelineExecutionSummaries": page}
        if token:
            answer["NextToken"] = token
        return self._answer(op, _shaped(op, answer))

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
        page, token = _page(
            op,
            request,
            steps,
            lambda s: s["StartTime"],
            request.get("SortOrder", "Descending") == "Descending",
        )
        answer: Dict[str, Any] = {"PipelineExecutionSteps": page}
        if token:
            answer["NextToken"] = token
        return self._answer(op, _shaped(op, answer))

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

    def describe_pipeline(self, **request: Any) -> Answer:
        """API_DescribePipeline: a pipeline the home has executions of (its definition the
        newest one's); ResourceNotFound for one it has none of."""
        op = "DescribePipeline"
        self._request(op, request)
        records = self._pipeline_records(op, request["PipelineName"])
        return self._answer(op, _shaped(op, self._pipeline(request["PipelineName"], records)))

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
        summaries = [
            self._pipeline(name, records)
            for name, records in by_name.items()
            if name.startswith(prefix)
        ]
        summaries = [
            s
            for s in summaries
            if (after is None or s["CreationTime"] > _epoch(after))
            and (before is None or s["CreationTime"] < _epoch(before))
        ]
        page, token = _page(
            op,
            request,
            summaries,
            (lambda s: s["PipelineName"])
            if request.get("SortBy") == "Name"
            else (lambda s: s["CreationTime"]),
            request.get("SortOrder", "Descending") == "Descending",
        )
        answer: Dict[str, Any] = {"PipelineSummaries": page}
        if token:
            answer["NextToken"] = token
        return self._answer(op, _shaped(op, answer))

    def start_pipeline_execution(self, **request: Any) -> Answer:
        """API_StartPipelineExecution, through the client's `start_pipeline`; boto3 fills
        ClientRequestToken (an idempotency token) when the caller gives none, so the twin does.
        A pipeline the twin cannot start is ResourceNotFound; one that refuses its parameters
        a ValidationException."""
        op = "StartPipelineExecution"
        request.setdefault("ClientRequestToken", str(uuid.uuid4()))
        self._request(op, request)
        name = request["PipelineName"]
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

    # ------------------------------------------------------------------ jobs

    @property
    def jobs(self) -> Jobs:
        """The jobs this client started run one at a time, in a thread of its own (job_api)."""
        if self._jobs is None:
            self._jobs = Jobs(self.backend)
        return self._jobs

    def _create_job(self, kind: str, request: Request) -> Answer:
        op = "Create%sJob" % kind
        self._request(op, request)
        try:
            answer = self.jobs.create(kind, request, wait=False)
        except UserError as e:
            raise client_error(op, getattr(e, "code", "ValidationException"), str(e))
        return self._answer(op, answer)

    def _describe_job(self, kind: str, request: Request) -> Answer:
        op = "Describe%sJob" % kind
        self._request(op, request)
        try:
            described = dict(self.jobs.describe(kind, request[kind + "JobName"]))
        except UserError as e:
            raise client_error(op, getattr(e, "code", "ValidationException"), str(e))
        status = described[kind + "JobStatus"]
        described.setdefault("LastModifiedTime", described.get("EndTime") or time.time())
        if kind == "Training":
            described.setdefault("SecondaryStatus", SECONDARY_STATUS.get(status, status))
            described.setdefault(
                "ModelArtifacts",
                {
                    "S3ModelArtifacts": "%s/%s/output/model.tar.gz"
                    % (
                        described["OutputDataConfig"]["S3OutputPath"].rstrip("/"),
                        described["TrainingJobName"],
                    )
                },
            )
        return self._answer(op, _shaped(op, described))

    def create_training_job(self, **request: Any) -> Answer:
        """API_CreateTrainingJob: answers at once with the ARN; the job runs on. A name taken
        is a ValidationException, as SageMaker answers ("must be unique")."""
        return self._create_job("Training", request)

    def describe_training_job(self, **request: Any) -> Answer:
        """API_DescribeTrainingJob: ResourceNotFound for a job there is not."""
        return self._describe_job("Training", request)

    def create_processing_job(self, **request: Any) -> Answer:
        return self._create_job("Processing", request)

    def describe_processing_job(self, **request: Any) -> Answer:
        return self._describe_job("Processing", request)

    def create_transform_job(self, **request: Any) -> Answer:
        return self._create_job("Transform", request)

    def describe_transform_job(self, **request: Any) -> Answer:
        return self._describe_job("Transform", request)

    def wait_for_jobs(self) -> None:
        """Until every job this client started has ended (the twin's; boto3 has waiters)."""
        if self._jobs is not None:
            self._jobs.wait()
