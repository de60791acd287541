"""boto3's `sagemaker` client for hosting, answered by the home's local SageMaker
(docs/adr/0011): the endpoint config and endpoint operations, and the `endpoint_in_service` /
`endpoint_deleted` waiters from botocore's own waiter model.

A mixin of SageMakerClient (api.py), over the models of model_api.py; monitoring schedules are
monitoring_api.py's. Requests are checked as boto3 and the service check them
(TwinClient._request); answers are the output shapes' members only, timestamps as datetimes;
refusals are ClientErrors with the codes the API reference documents: a missing model, endpoint
config or endpoint is a ValidationException ("Could not find endpoint ...").

What a local endpoint cannot do is refused, never ignored (docs/workflows.md, "Local
endpoints"): more than one production variant or container, asynchronous, serverless, shadow
and explainer endpoints, a DeploymentConfig's rollback alarms (CloudWatch has no twin) and a
RollingUpdatePolicy. A BlueGreenUpdatePolicy is honoured: all at once, canary or linear
shifting, the baking periods, the termination wait and the execution timeout (shifting.py),
its sizes checked as SageMaker checks them.
VpcConfig, KmsKeyId and EnableNetworkIsolation are accepted and recorded: they have no local
meaning (the serving process runs on this machine's network, captures unencrypted).
"""

from typing import Any, Callable, Dict, Optional

from pipelines.local.api import Answer
from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker import shifting
from pipelines.local.sagemaker.client_base import listing, shaped_top_level, when
from pipelines.local.sagemaker.hosting import HostingError
from pipelines.local.sagemaker.model_api import ModelOperations

# The twin's waiters poll as botocore's do, but often: a local endpoint starts in about a second.
WAITER_DELAY = 0.2
WAITER_ATTEMPTS = 600  # two minutes, as `churn deploy --local` always waited
# Members of CreateEndpointConfig that change what an endpoint does and that a local endpoint
# cannot do; refused by name.
UNSERVED_CONFIG = ("AsyncInferenceConfig", "ShadowProductionVariants", "ExplainerConfig")


class HostingOperations(ModelOperations):
    """The `sagemaker` operations of endpoint configs and endpoints, over `self.backend` (a
    SageMakerBackend: its hosting), and their waiters."""

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
        return self._answer(op, shaped_top_level(op, described))

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
        page, token = listing(items, request, "EndpointConfigName")
        return self._answer(op, dict({"EndpointConfigs": page}, **token))

    # ------------------------------------------------------------------ endpoints

    def create_endpoint(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html:
        answers at once, the endpoint Creating until its serving process answers /ping."""
        op = "CreateEndpoint"
        self._request(op, request)
        self._check_deployment(op, request.get("DeploymentConfig"), request["EndpointConfigName"])
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
        return self._answer(op, shaped_top_level(op, described))

    def update_endpoint(self, **request: Any) -> Answer:
        """https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html:
        the new configuration starts beside the old, and traffic moves to it once it answers,
        all at once or as the DeploymentConfig's BlueGreenUpdatePolicy shifts it (shifting.py).
        RetainAllVariantProperties and ExcludeRetainedVariantProperties are accepted: a local
        endpoint's one process has no variant property that changes after it starts."""
        op = "UpdateEndpoint"
        self._request(op, request)
        deployment = request.get("DeploymentConfig")
        self._check_deployment(op, deployment, request["EndpointConfigName"])
        with self._refusals(op):
            arn = self.backend.hosting.update_endpoint(
                request["EndpointName"], request["EndpointConfigName"], self._model_of(op),
                deployment,
            )["EndpointArn"]  # fmt: skip
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
        page, token = listing(items, request, "EndpointName")
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

    def _check_deployment(
        self, operation: str, config: Optional[Dict[str, Any]], config_name: str
    ) -> None:
        """A DeploymentConfig a local endpoint can honour (blue/green, all at once, canary or
        linear: shifting.py), checked as SageMaker checks it for an update to `config_name`;
        else a ValidationException naming what it cannot."""
        if not config:
            return
        cannot = []
        if (config.get("AutoRollbackConfiguration") or {}).get("Alarms"):
            cannot.append("AutoRollbackConfiguration's alarms (CloudWatch has no local twin)")
        if config.get("RollingUpdatePolicy"):
            cannot.append("a RollingUpdatePolicy (one local process, no instances to roll)")
        if cannot:
            raise self._refused(
                operation,
                "ValidationException",
                "DeploymentConfig: a local endpoint cannot honour %s; these are AWS only"
                % "; ".join(cannot),
            )
        try:
            variant = self.backend.hosting.describe_endpoint_config(config_name)
            count = variant["ProductionVariants"][0].get("InitialInstanceCount", 1)
        except HostingError:
            return  # the operation refuses the missing config itself
        found = shifting.problems(config, count)
        if found:
            raise self._refused(
                operation,
                "ValidationException",
                "%d validation error%s detected: %s"
                % (len(found), "" if len(found) == 1 else "s", "; ".join(found)),
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
