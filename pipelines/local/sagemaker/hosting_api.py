"""boto3's `sagemaker` client for models, tags and hosting, answered by the home's local
SageMaker (docs/adr/0011): CreateModel / DescribeModel / DeleteModel / ListModels, AddTags /
ListTags / DeleteTags, the endpoint config, endpoint and monitoring schedule operations, and
the `endpoint_in_service` / `endpoint_deleted` waiters from botocore's own waiter model.

A mixin of SageMakerClient (api.py). Requests are checked as boto3 and the service check them
(TwinClient._request); answers are the output shapes' members only, timestamps as datetimes;
refusals are ClientErrors with the codes the API reference documents: a missing model, endpoint
config or endpoint is a ValidationException ("Could not find endpoint ..."), a missing
monitoring schedule ResourceNotFound, an existing one ResourceInUse.

What a local endpoint cannot do is refused, never ignored (docs/workflows.md, "Local
endpoints"): more than one production variant or container, asynchronous, serverless, shadow
and explainer endpoints, and any DeploymentConfig but an all-at-once blue/green switch (no
canary or linear shifting, no rollback alarms: CloudWatch has no twin, no termination wait).
VpcConfig, KmsKeyId and EnableNetworkIsolation are accepted and recorded: they have no local
meaning (the serving process runs on this machine's network, captures unencrypted).
"""

import datetime
import json
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from pipelines.errors import UserError
from pipelines.local.api import Answer, TwinClient, client_error
from pipelines.local.arns import ACCOUNT, REGION, sagemaker_arn
from pipelines.local.parameters import error_status, output_shape

# The twin's waiters poll as botocore's do, but often: a local endpoint starts in about a second.
WAITER_DELAY = 0.2
WAITER_ATTEMPTS = 600  # two minutes, as `churn deploy --local` always waited
TAGGED = ("model", "endpoint-config", "endpoint", "model-package", "monitoring-schedule")
# Members of CreateEndpointConfig that change what an endpoint does and that a local endpoint
# cannot do; refused by name.
UNSERVED_CONFIG = ("AsyncInferenceConfig", "ShadowProductionVariants", "ExplainerConfig")


def when(seconds: float) -> datetime.datetime:
    """A stored epoch time as boto3 hands timestamps to its caller."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def shaped(operation: str, answer: Dict[str, Any]) -> Answer:
    """`answer` cut to the members of the operation's output shape, its top-level times as
    datetimes."""
    members = output_shape("sagemaker", operation).members
    out = {k: v for k, v in answer.items() if k in members and v is not None}
    for key, value in out.items():
        if members[key].type_name == "timestamp" and isinstance(value, (int, float)):
            out[key] = when(value)
    return out


def resource_name(arn: str) -> Tuple[str, str]:
    """(resource type, name) of one of this twin's SageMaker ARNs; ("", "") for another."""
    prefix = "arn:aws:sagemaker:%s:%s:" % (REGION, ACCOUNT)
    if not arn.startswith(prefix) or "/" not in arn:
        return "", ""
    kind, name = arn[len(prefix) :].split("/", 1)
    return kind, name


class HostingOperations(TwinClient):
    """The `sagemaker` operations of models, tags and hosting, over `self.backend` (a
    SageMakerBackend: its registry's models, its hosting, its database)."""

    service = "sagemaker"
    backend: Any

    # ------------------------------------------------------------------ refusals

    def _refused(self, operation: str, code: str, message: str) -> Exception:
        return client_error(operation, code, message, error_status("sagemaker", code))

    @contextmanager
    def _refusals(self, operation: str) -> Iterator[None]:
        """The backend's refusals (a HostingError's code, any other UserError a
        ValidationException) as the ClientError boto3 raises."""
        try:
            yield
        except UserError as e:
            code = getattr(e, "code", "ValidationException")
            raise self._refused(operation, code, str(e))

    # ------------------------------------------------------------------ models

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
        return self._answer(op, shaped(op, answer))

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
        page, token = _listing(items, request, "ModelName")
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

    # ------------------------------------------------------------------ tags

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
        start = _offset(request)
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

    # ------------------------------------------------------------------ endpoint configs

    def create_endpoint_config(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html"""
        op = "CreateEndpointConfig"
        self._request(op, request)
        unserved = [k for k in UNSERVED_CONFIG if request.get(k)]
        unserved += [
            "ProductionVariants.%s" % k
            for variant in request["ProductionVariants"]
            for k in ("ServerlessConfig",)
            if variant.get(k)
        ]
        if unserved:
            raise self._refused(
                op,
                "ValidationException",
                "endpoint config %s: a local endpoint cannot serve %s (AWS only)"
                % (request["EndpointConfigName"], ", ".join(unserved)),
            )
        for variant in request["ProductionVariants"]:
            self._found_model(op, variant["ModelName"])
        stored = {k: v for k, v in request.items() if k != "Tags"}
        with self._refusals(op):
            arn = self.backend.hosting.create_endpoint_config(stored)["EndpointConfigArn"]
        self._tag(arn, request.get("Tags") or [])
        return self._answer(op, {"EndpointConfigArn": arn})

    def describe_endpoint_config(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpointConfig.html"""
        op = "DescribeEndpointConfig"
        self._request(op, request)
        with self._refusals(op):
            described = self.backend.hosting.describe_endpoint_config(request["EndpointConfigName"])
        return self._answer(op, shaped(op, described))

    def delete_endpoint_config(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteEndpointConfig.html"""
        op = "DeleteEndpointConfig"
        self._request(op, request)
        name = request["EndpointConfigName"]
        with self._refusals(op):
            self.backend.hosting.delete_endpoint_config(name)
        self._untag(sagemaker_arn("endpoint-config", name))
        return self._answer(op, {})

    def list_endpoint_configs(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListEndpointConfigs.html"""
        op = "ListEndpointConfigs"
        self._request(op, request)
        items = [
            {
                "EndpointConfigName": name,
                "EndpointConfigArn": sagemaker_arn("endpoint-config", name),
                "CreationTime": when(created),
            }
            for name, created in self.backend.hosting.list_endpoint_configs()
        ]
        page, token = _listing(items, request, "EndpointConfigName")
        return self._answer(op, dict({"EndpointConfigs": page}, **token))

    # ------------------------------------------------------------------ endpoints

    def create_endpoint(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html:
        answers at once, the endpoint Creating until its serving process answers /ping."""
        op = "CreateEndpoint"
        self._request(op, request)
        self._check_deployment(op, request.get("DeploymentConfig"))
        with self._refusals(op):
            arn = self.backend.hosting.create_endpoint(
                request["EndpointName"], request["EndpointConfigName"], self._model_of(op)
            )["EndpointArn"]
        self._tag(arn, request.get("Tags") or [])
        return self._answer(op, {"EndpointArn": arn})

    def describe_endpoint(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html:
        a missing endpoint is a ValidationException (the operation documents no
        ResourceNotFound)."""
        op = "DescribeEndpoint"
        self._request(op, request)
        with self._refusals(op):
            described = self.backend.hosting.describe_endpoint(request["EndpointName"])
        return self._answer(op, shaped(op, described))

    def update_endpoint(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html:
        the new configuration starts beside the old, all traffic moves once it answers.
        RetainAllVariantProperties and ExcludeRetainedVariantProperties are accepted: a local
        endpoint's one process has no variant property that changes after it starts."""
        op = "UpdateEndpoint"
        self._request(op, request)
        self._check_deployment(op, request.get("DeploymentConfig"))
        with self._refusals(op):
            arn = self.backend.hosting.update_endpoint(
                request["EndpointName"], request["EndpointConfigName"], self._model_of(op)
            )["EndpointArn"]
        return self._answer(op, {"EndpointArn": arn})

    def delete_endpoint(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteEndpoint.html:
        stops the serving processes (hosting.deleted says what became of each)."""
        op = "DeleteEndpoint"
        self._request(op, request)
        name = request["EndpointName"]
        with self._refusals(op):
            self.backend.hosting.delete_endpoint(name)
        self._untag(sagemaker_arn("endpoint", name))
        return self._answer(op, {})

    def list_endpoints(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListEndpoints.html"""
        op = "ListEndpoints"
        self._request(op, request)
        items = [
            {
                "EndpointName": e["EndpointName"],
                "EndpointArn": e["EndpointArn"],
                "CreationTime": when(e["CreationTime"]),
                "LastModifiedTime": when(e["LastModifiedTime"]),
                "EndpointStatus": e["EndpointStatus"],
            }
            for e in self.backend.hosting.list_endpoints()
            if request.get("StatusEquals") in (None, e["EndpointStatus"])
        ]
        page, token = _listing(items, request, "EndpointName")
        return self._answer(op, dict({"Endpoints": page}, **token))

    def _model_of(self, operation: str) -> Callable[[str], Answer]:
        """What an endpoint config's variant names, read with this client's DescribeModel."""

        def model(name: str) -> Answer:
            try:
                return self.describe_model(ModelName=name)
            except Exception as e:  # the refusal is the calling operation's
                response = getattr(e, "response", None)
                if response is None:
                    raise
                error = response["Error"]
                raise self._refused(operation, error["Code"], error["Message"])

        return model

    def _check_deployment(self, operation: str, config: Optional[Dict[str, Any]]) -> None:
        """A DeploymentConfig a local endpoint can honour (an all-at-once switch, which is
        what every local update does), else a ValidationException naming what it cannot."""
        if not config:
            return
        cannot = []
        if (config.get("AutoRollbackConfiguration") or {}).get("Alarms"):
            cannot.append("AutoRollbackConfiguration's alarms (CloudWatch has no local twin)")
        if config.get("RollingUpdatePolicy"):
            cannot.append("a RollingUpdatePolicy (one local process, no instances to roll)")
        policy = config.get("BlueGreenUpdatePolicy") or {}
        routing = (policy.get("TrafficRoutingConfiguration") or {}).get("Type")
        if routing not in (None, "ALL_AT_ONCE"):
            cannot.append("%s traffic shifting (a local update switches all at once)" % routing)
        if policy.get("TerminationWaitInSeconds"):
            cannot.append("TerminationWaitInSeconds (the old process drains and stops at once)")
        if policy.get("MaximumExecutionTimeoutInSeconds"):
            cannot.append("MaximumExecutionTimeoutInSeconds (a local update has no time limit)")
        if cannot:
            raise self._refused(
                operation,
                "ValidationException",
                "DeploymentConfig: a local endpoint cannot honour %s; these are AWS only"
                % "; ".join(cannot),
            )

    def get_waiter(self, waiter_name: str) -> Any:
        """botocore's waiter `waiter_name` (endpoint_in_service, endpoint_deleted) from its
        own waiter model, polling this client every WAITER_DELAY seconds by default."""
        import botocore.session
        from botocore import xform_name
        from botocore.waiter import NormalizedOperationMethod, Waiter, WaiterModel

        loader = botocore.session.get_session().get_component("data_loader")
        model = WaiterModel(loader.load_service_model("sagemaker", "waiters-2"))
        names = {xform_name(n): n for n in model.waiter_names}
        if waiter_name not in names:
            raise ValueError("Waiter does not exist: %s" % waiter_name)
        config = model.get_waiter(names[waiter_name])
        operation = getattr(self, xform_name(config.operation), None)
        if operation is None:
            raise ValueError("the local sagemaker twin has no %s" % config.operation)
        config.delay, config.max_attempts = WAITER_DELAY, WAITER_ATTEMPTS
        return Waiter(names[waiter_name], config, NormalizedOperationMethod(operation))

    # ------------------------------------------------------------------ monitoring schedules

    def create_monitoring_schedule(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateMonitoringSchedule.html
        Recorded; locally `churn monitor` runs the checks a schedule names."""
        op = "CreateMonitoringSchedule"
        self._request(op, request)
        stored = {k: v for k, v in request.items() if k != "Tags"}
        with self._refusals(op):
            arn = self.backend.hosting.create_monitoring_schedule(stored)["MonitoringScheduleArn"]
        self._tag(arn, request.get("Tags") or [])
        return self._answer(op, {"MonitoringScheduleArn": arn})

    def describe_monitoring_schedule(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeMonitoringSchedule.html"""
        op = "DescribeMonitoringSchedule"
        self._request(op, request)
        with self._refusals(op):
            described = self.backend.hosting.describe_monitoring_schedule(
                request["MonitoringScheduleName"]
            )
        return self._answer(op, shaped(op, described))

    def update_monitoring_schedule(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateMonitoringSchedule.html"""
        op = "UpdateMonitoringSchedule"
        self._request(op, request)
        with self._refusals(op):
            arn = self.backend.hosting.update_monitoring_schedule(request)
        return self._answer(op, arn)

    def delete_monitoring_schedule(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteMonitoringSchedule.html"""
        op = "DeleteMonitoringSchedule"
        self._request(op, request)
        name = request["MonitoringScheduleName"]
        with self._refusals(op):
            self.backend.hosting.delete_monitoring_schedule(name)
        self._untag(sagemaker_arn("monitoring-schedule", name))
        return self._answer(op, {})

    def list_monitoring_schedules(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListMonitoringSchedules.html"""
        op = "ListMonitoringSchedules"
        self._request(op, request)
        items = []
        for s in self.backend.hosting.list_monitoring_schedules():
            summary = {
                "MonitoringScheduleName": s["MonitoringScheduleName"],
                "MonitoringScheduleArn": s["MonitoringScheduleArn"],
                "CreationTime": when(s["CreationTime"]),
                "LastModifiedTime": when(s["LastModifiedTime"]),
                "MonitoringScheduleStatus": s["MonitoringScheduleStatus"],
                "MonitoringType": s["MonitoringType"],
            }
            if s.get("EndpointName"):
                summary["EndpointName"] = s["EndpointName"]
            wanted = {
                "EndpointName": request.get("EndpointName"),
                "MonitoringScheduleStatus": request.get("StatusEquals"),
                "MonitoringType": request.get("MonitoringTypeEquals"),
            }
            if all(v is None or summary.get(k) == v for k, v in wanted.items()):
                items.append(summary)
        page, token = _listing(items, request, "MonitoringScheduleName")
        return self._answer(op, dict({"MonitoringScheduleSummaries": page}, **token))


def _offset(request: Dict[str, Any]) -> int:
    token = request.get("NextToken") or "0"
    return int(token) if token.isdigit() else 0


def _listing(
    items: List[Dict[str, Any]], request: Dict[str, Any], name_key: str
) -> Tuple[List[Dict[str, Any]], Dict[str, str]]:
    """A List* operation's page of `items` (summaries with CreationTime as a datetime): its
    NameContains, CreationTime and LastModifiedTime bounds, SortBy (Name, CreationTime,
    Status; CreationTime by default) and SortOrder (Descending by default), MaxResults (100 by
    default) from NextToken (an offset). Returns (page, {"NextToken": ...} or {})."""
    from botocore.utils import parse_to_aware_datetime

    if request.get("NameContains"):
        items = [i for i in items if request["NameContains"] in i[name_key]]
    for key, member, after in (
        ("CreationTimeAfter", "CreationTime", True),
        ("CreationTimeBefore", "CreationTime", False),
        ("LastModifiedTimeAfter", "LastModifiedTime", True),
        ("LastModifiedTimeBefore", "LastModifiedTime", False),
    ):
        if request.get(key) is not None:
            bound = parse_to_aware_datetime(request[key])
            items = [i for i in items if (i[member] > bound) == after and i[member] != bound]
    by = request.get("SortBy") or "CreationTime"
    key_of: Callable[[Dict[str, Any]], Any] = {
        "Name": lambda i: i[name_key],
        "Status": lambda i: next((v for k, v in i.items() if k.endswith("Status")), ""),
    }.get(by, lambda i: i["CreationTime"])
    items = sorted(items, key=key_of, reverse=request.get("SortOrder") != "Ascending")
    start = _offset(request)
    end = start + int(request.get("MaxResults") or 100)
    return items[start:end], ({"NextToken": str(end)} if end < len(items) else {})
