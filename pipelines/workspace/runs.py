"""The churn pipeline executed in the home, and what executions left: `run` builds (or reuses)
the definition, stages its code and data, executes it and returns a RunResult; the listings
`churn runs` and `churn ui` show."""

import re
import time
from typing import Any, Callable, Dict, List, Optional, Union

from pipelines.aws.featurestore import offline_store_uri
from pipelines.aws.registry import quality_metrics
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX, local_definition
from pipelines.churn.schema_source import SchemaSource
from pipelines.errors import UserError
from pipelines.local.featurestore.server import FeatureStoreServer
from pipelines.local.sagemaker.engine import Execution
from pipelines.local.sagemaker.records import elapsed
from pipelines.workspace.home import Home
from pipelines.workspace.staging import DATA_FOLDER, Staging

Record = Dict[str, Any]


def staged_name(uri: Optional[str]) -> Optional[str]:
    """The file (or folder/) name a user gave `--data` when `uri` is where stage_data put it
    (<data prefix>/<digest>/<name>): the digest means nothing to them. Other URIs as they are."""
    staged = "s3://%s/%s/%s/" % (LOCAL_BUCKET, PREFIX, DATA_FOLDER)
    if uri and uri.startswith(staged):
        digest, _, name = uri[len(staged) :].partition("/")
        if re.fullmatch("[0-9a-f]{16}", digest) and name and "/" not in name.rstrip("/"):
            return name
    return uri


class RunResult(object):
    """What one `churn run` produced: the execution record and, read from its steps, the test
    metrics, the registered version and the batch scores. `seconds` is the whole command's
    time (the definition built or found, code and data staged, the job parent started, the
    execution); `execution_seconds` the execution's own, start to end, as `churn runs list`
    and `churn ui` give it."""

    def __init__(
        self,
        record: Record,
        metrics: Optional[Dict[str, float]],
        model_package: Optional[Dict[str, Any]],
        batch_output: Optional[Dict[str, Any]],
        seconds: float,
        data_checks: Optional[Dict[str, Any]] = None,
        job_parent: bool = True,
    ) -> None:
        self.record = record
        self.job_parent = job_parent  # whether the run started one (not when all was cached)
        self.metrics = metrics
        self.data_checks = data_checks  # EvaluateModel's verdict on the table (evaluate.py)
        self.model_package = model_package
        self.batch_output = batch_output
        self.seconds = seconds

    @property
    def execution_seconds(self) -> float:
        return elapsed(self.record)  # rounded where shown only: rounding twice can disagree

    @property
    def status(self) -> str:
        status: str = self.record["PipelineExecutionStatus"]
        return status

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"

    def failed_logs(self) -> List[str]:
        """The log (file or job folder) of each failed step."""
        return [s["Log"] for s in self.record["Steps"] if s["StepStatus"] == "Failed" and s["Log"]]

    def as_json(self) -> Dict[str, Any]:
        """What `churn run --json` prints."""
        r = self.record
        return {
            "execution_id": r["PipelineExecutionId"],
            "status": self.status,
            "failure_reason": r["FailureReason"],
            "steps": [
                {
                    "name": s["StepName"],
                    "type": s["StepType"],
                    "status": s["StepStatus"],
                    "start": s["StartTime"],
                    "end": s["EndTime"],
                    "cache_hit": bool(s["CacheHit"]),
                    "failure_reason": s["FailureReason"],
                }
                for s in r["Steps"]
            ],
            "metrics": self.metrics,
            "data_checks": self.data_checks,
            "model_package": self.model_package,
            "batch_output": self.batch_output,
            "seconds": self.seconds,
            "execution_seconds": round(self.execution_seconds, 2),
            "job_parent": self.job_parent,
        }


class Runs(object):
    def __init__(self, ws: Home, staging: Staging) -> None:
        self.ws = ws
        self.staging = staging

    def run(
        self,
        data: str,
        schema: Union[str, SchemaSource] = "seed",
        parameters: Optional[Dict[str, Any]] = None,
        pipeline_name: str = "ChurnPipeline",
        echo: Optional[Callable[..., Any]] = None,
        batch_input: Optional[str] = None,
        feature_store: Optional[Dict[str, Any]] = None,
        on_start: Optional[Callable[[str], Any]] = None,
        spot: bool = False,
        network_isolation: bool = False,
        group: Optional[str] = None,
        tuning: Optional[Dict[str, Any]] = None,
    ) -> RunResult:
        """Build (or reuse) the definition, stage code and data, execute. `batch_input` (a CSV
        file or an s3:// URI in the local store) adds the batch-scoring steps and is what they
        score. `feature_store` ({"ingest", "train", "group", "as_of"}) adds the Feature Store
        steps, run against the home's local feature store. `spot` and `network_isolation`
        are get_pipeline's spot_training and network_isolation; `group` its
        model_package_group_name (default: the schema's); `tuning` its tuning_* options
        ({"trials": N, "strategy": ...}: TuneModel in place of TrainModel)."""
        ws = self.ws
        started = time.time()
        source = schema if isinstance(schema, SchemaSource) else SchemaSource(schema)
        # The definition gets a fixed placeholder input and the file goes in as the
        # BatchInputUrl parameter: scoring another file reuses the memoised definition.
        options: Dict[str, Any] = {"batch_input": True} if batch_input else {}
        if spot:
            options["spot_training"] = True
        if network_isolation:
            options["network_isolation"] = True
        if group:
            options["model_package_group_name"] = group
        if tuning and tuning.get("trials"):
            options["tuning_trials"] = int(tuning["trials"])
            options["tuning_strategy"] = tuning.get("strategy") or "Bayesian"
        parameters = dict(parameters or {})
        server = None
        if feature_store and (feature_store.get("ingest") or feature_store.get("train")):
            options.update(
                ingest_features=bool(feature_store.get("ingest")),
                train_from_feature_store=bool(feature_store.get("train")),
            )
            described = self.staging.feature_group(source.schema, feature_store["group"])
            parameters.update(FeatureGroupName=described["FeatureGroupName"])
            if feature_store.get("train"):
                parameters.update(
                    OfflineStoreUrl=offline_store_uri(described),
                    DatasetAsOf=feature_store.get("as_of") or "now",
                )
                if feature_store.get("ingest"):
                    parameters["OfflineStoreSettleSeconds"] = 0  # settled at each job start
            server = FeatureStoreServer(ws.features)
            ws.sagemaker.attach(server)
        try:
            return self._run(
                data, source, parameters, pipeline_name, echo, batch_input, options, started,
                on_start,
            )  # fmt: skip
        finally:
            if server is not None:
                ws.sagemaker.detach(server)
                server.close()
                ws.features.flush()

    def _run(
        self,
        data: str,
        source: SchemaSource,
        parameters: Dict[str, Any],
        pipeline_name: str,
        echo: Optional[Callable[..., Any]],
        batch_input: Optional[str],
        options: Dict[str, Any],
        started: float,
        on_start: Optional[Callable[[str], Any]] = None,
    ) -> RunResult:
        ws = self.ws
        # The job parent imports the libraries while a definition builds or new data is copied
        # in; otherwise it starts at the first job that is not a cache hit (a rerun whose every
        # job comes from the cache starts none).
        definition, bundles = local_definition(
            source, pipeline_name=pipeline_name, before_build=ws.sagemaker.start_runner, **options
        )
        self.staging.stage_code(bundles)
        for name, flag in (("InputDataUrl", "--data"), ("BatchInputUrl", "--batch-input")):
            if name in parameters:  # it would be replaced by what the flag stages
                raise UserError("--param %s: give the file with %s instead" % (name, flag))
        parameters["InputDataUrl"] = self.staging.stage_data(
            data, on_copy=ws.sagemaker.start_runner
        )
        if batch_input:
            parameters["BatchInputUrl"] = self.staging.stage_data(batch_input, "batch/input")
        execution = Execution(ws.sagemaker, definition, pipeline_name, parameters, echo)
        if on_start:
            on_start(execution.arn)
        record = execution.run()
        evaluation = self.evaluation(record) or {}
        return RunResult(
            record,
            quality_metrics(evaluation) or None,
            self._model_package(execution),
            self._batch_output(execution),
            round(time.time() - started, 2),
            evaluation.get("data_checks"),
            ws.sagemaker.runner_started,
        )

    def load(self, execution_id: str) -> Record:
        """An execution's record (what `churn runs show` and the UI's pages read)."""
        record: Record = self.ws.sagemaker.executions.load(execution_id)
        return record

    @property
    def records(self) -> Any:
        """The home's execution records (pipelines/local/sagemaker/records.py): their folders,
        steps and logs, for the UI's step pages."""
        return self.ws.sagemaker.executions

    def summaries(self) -> List[Dict[str, Any]]:
        """Every execution, newest first, as `churn runs list` and `churn ui` list them: id,
        pipeline, status, start, seconds (so far, while it runs), steps, cache hits, test AUC,
        its InputDataUrl and the name the user gave that input (staged_name)."""
        summaries = []
        for r in self.ws.sagemaker.executions.list():
            metrics = self.test_metrics(r) or {}
            input_url = (r.get("Parameters") or {}).get("InputDataUrl")
            summaries.append(
                {
                    "id": r["PipelineExecutionId"],
                    "pipeline": r["PipelineName"],
                    "status": r["PipelineExecutionStatus"],
                    "start": r["StartTime"],
                    "seconds": elapsed(r),
                    "steps": len(r["Steps"]),
                    "cache_hits": sum(1 for s in r["Steps"] if s["CacheHit"]),
                    "auc": metrics.get("auc"),
                    "failure_reason": r["FailureReason"],
                    "input_data_url": input_url,
                    "input": staged_name(input_url),
                }
            )
        return summaries

    def evaluation(self, record: Record) -> Optional[Dict[str, Any]]:
        """An execution's evaluation report (the EvaluationReport property file), None before
        it has one."""
        reports = [
            e["PropertyFiles"]["EvaluationReport"]
            for e in record["Steps"]
            if "EvaluationReport" in e.get("PropertyFiles", {})
        ]
        evaluation: Optional[Dict[str, Any]] = self.ws.store_json(reports[-1]) if reports else None
        return evaluation

    def test_metrics(self, record: Record) -> Optional[Dict[str, float]]:
        """The test metrics in an execution's evaluation report, None before it has one."""
        evaluation = self.evaluation(record)
        return quality_metrics(evaluation) if evaluation else None

    @staticmethod
    def _model_package(execution: Execution) -> Optional[Dict[str, Any]]:
        registered = execution.succeeded("RegisterModel")
        if not registered:
            return None
        package = registered[-1]
        return {
            "group": package["ModelPackageGroupName"],
            "version": package["ModelPackageVersion"],
            "approval_status": package["ModelApprovalStatus"],
            "arn": package["ModelPackageArn"],
        }

    def _batch_output(self, execution: Execution) -> Optional[Dict[str, Any]]:
        transforms = execution.succeeded("Transform")
        if not transforms:
            return None
        output = transforms[-1]["TransformOutput"]["S3OutputPath"].rstrip("/") + "/"
        return {
            "uri": output,
            "files": [str(path) for _, path in sorted(self.ws.store.objects(output).items())],
        }
