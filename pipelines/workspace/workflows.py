"""The home's Step Functions twin with the churn workflows created in it, their Task states
answered by the home's twins: the local SageMaker (the pipeline of a schema on a table, the
registry, local endpoints) and DataBrew."""

import threading
from contextlib import AbstractContextManager
from typing import Any, Callable, Dict, Optional, Tuple, Union

from pipelines.aws.databrew import databrew_integrations
from pipelines.aws.stepfunctions import ensure_state_machine
from pipelines.churn.bundles import build_bundles
from pipelines.churn.feature_group import LOCAL_ROLE
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.churn.schema_source import SchemaSource
from pipelines.churn.workflows import NAMES as WORKFLOW_NAMES
from pipelines.churn.workflows import WorkflowSettings, training_labels
from pipelines.churn.workflows import definition as workflow_definition
from pipelines.local.sagemaker.hosting import HostingError
from pipelines.local.sfn_integrations import s3_map_resources, sagemaker_integrations
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.service import StepFunctions, machine_arn
from pipelines.workspace.home import Home
from pipelines.workspace.runs import Runs
from pipelines.workspace.staging import Staging

# The workflows' names in a local home (WorkflowSettings' defaults hold its store's locations);
# polls shorter than on AWS, where a job takes minutes.
LOCAL_WORKFLOW_SETTINGS: Dict[str, Any] = {
    "role_arn": LOCAL_ROLE,
    "instance_type": "ml.m5.large",  # one local process serves it, whatever the type
    "pipeline_poll_seconds": 5,
    "endpoint_poll_seconds": 1,
    "endpoint_max_polls": 120,
}


class Workflows(object):
    def __init__(
        self,
        ws: Home,
        staging: Staging,
        open_runs: Callable[[], "AbstractContextManager[Runs]"],
    ) -> None:
        self.ws = ws
        self.staging = staging
        # The runs of a workspace of its own, for a pipeline StartPipelineExecution starts: it
        # runs on a thread, with its own database connection and job runner.
        self.open_runs = open_runs

    def prepare(
        self,
        schema: Union[str, SchemaSource],
        data: str,
        clock: Any = None,
        echo: Optional[Callable[..., Any]] = None,
        **settings: Any,
    ) -> Tuple[StepFunctions, WorkflowSettings]:
        """The Step Functions twin with the churn workflows created in it (the pipeline they
        start is `schema`'s on `data`). Returns (service, WorkflowSettings)."""
        ws = self.ws
        source = schema if isinstance(schema, SchemaSource) else SchemaSource(schema)
        integrations = Integrations(
            sagemaker_integrations(
                ws.sagemaker,
                lambda name, parameters: self._start_pipeline(source, name, parameters, echo),
            ),
            map_resources=s3_map_resources(ws.session.client("s3")),  # a Distributed Map's
        )
        for resource, function in databrew_integrations(ws.databrew).items():
            integrations.register(resource, function)
        service = StepFunctions(ws.home, integrations, clock)
        bundles = build_bundles()  # direct's training job and model run the shipped code
        self.staging.stage_code(bundles)
        values = dict(
            LOCAL_WORKFLOW_SETTINGS,
            training_code_uri=bundles["training"].uri(LOCAL_BUCKET, PREFIX),
            inference_code_uri=bundles["inference"].uri(LOCAL_BUCKET, PREFIX),
            model_package_group=source.schema.model_package_group,
            **training_labels(source.schema),
        )
        values.update(settings)
        values.setdefault("input_data_url", self.staging.stage_data(data))
        names = WorkflowSettings(**values)
        names.deploy_state_machine_arn = machine_arn("churn-deploy")
        for name in WORKFLOW_NAMES:
            ensure_state_machine(
                service, "churn-" + name, workflow_definition(name, names), LOCAL_ROLE
            )
        return service, names

    def _start_pipeline(
        self,
        source: SchemaSource,
        name: str,
        parameters: Dict[str, Any],
        echo: Optional[Callable[..., Any]],
    ) -> str:
        """StartPipelineExecution: the pipeline runs in a thread of its own, on a workspace of
        its own (its own database connection and job runner); returns the execution's ARN
        once it has one."""
        started = threading.Event()
        box: Dict[str, Any] = {}

        def on_start(arn: str) -> None:
            box["arn"] = arn
            started.set()

        def run() -> None:
            try:
                with self.open_runs() as runs:
                    values = dict(parameters)
                    data = values.pop("InputDataUrl")
                    runs.run(
                        data,
                        source,
                        values,
                        pipeline_name=name,
                        echo=echo,
                        on_start=on_start,
                    )
            except Exception as e:  # reported to the caller, as StartPipelineExecution would
                box["error"] = e
            finally:
                started.set()

        thread = threading.Thread(target=run, name="pipeline-" + name)
        thread.start()
        started.wait()
        if "arn" not in box:
            thread.join()
            raise HostingError("cannot start pipeline %s: %s" % (name, box.get("error")))
        arn: str = box["arn"]
        return arn
