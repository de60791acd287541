"""A home (`$CHURN_HOME`, default ./.churn, or --home) and what the commands do with it.

One Workspace opens the home's local SageMaker (store, registry, step cache, executions, job
runner) once and hands out what a command needs: `run` builds (or reuses) the churn definition,
stages its code and data under content-hashed keys, executes it and returns a RunResult;
`servable_model` lays a registered version out for serving; `drift_baseline` reads the baseline a
version carries. This is the layer that knows churn: the engine below it does not.
"""

import hashlib
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Optional, Union

from pipelines.aws.databrew import databrew_integrations
from pipelines.aws.featurestore import ensure_feature_group, offline_store_uri
from pipelines.aws.registry import (
    drift_baselines,
    evaluation_uri,
    find_package,
    quality_metrics,
    require_approved,
)
from pipelines.aws.registry import latest_approved as latest_approved_version
from pipelines.aws.stepfunctions import ensure_state_machine
from pipelines.churn.bundles import build_bundles
from pipelines.churn.feature_group import LOCAL_ROLE, feature_group_request, offline_store_root
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX, local_definition
from pipelines.churn.schema_source import SchemaSource
from pipelines.churn.workflows import NAMES as WORKFLOW_NAMES
from pipelines.churn.workflows import WorkflowSettings, training_labels
from pipelines.churn.workflows import definition as workflow_definition
from pipelines.errors import MonitorError, UserError
from pipelines.local.databrew.service import DataBrew
from pipelines.local.featurestore.server import FeatureStoreServer
from pipelines.local.featurestore.store import LocalFeatureStore
from pipelines.local.sagemaker.api import SageMakerClient
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.engine import Execution
from pipelines.local.sagemaker.hosting import HostingError
from pipelines.local.sagemaker.records import elapsed
from pipelines.local.session import LocalSession
from pipelines.local.sfn_integrations import sagemaker_integrations
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.service import StepFunctions, machine_arn
from pipelines.serving.model import ServableModel, unpack_model
from processing.churn_io import csv_files
from processing.churn_job import file_digest, write_text_atomic
from processing.churn_schema import SAGEMAKER_NAME

DEFAULT_HOME = ".churn"
DATA_FOLDER = "data"  # where stage_data puts a run's input, under the store's churn prefix
# The workflows' names in a local home (WorkflowSettings' defaults hold its store's locations);
# polls shorter than on AWS, where a job takes minutes.
LOCAL_WORKFLOW_SETTINGS = {
    "role_arn": LOCAL_ROLE,
    "instance_type": "ml.m5.large",  # one local process serves it, whatever the type
    "pipeline_poll_seconds": 5,
    "endpoint_poll_seconds": 1,
    "endpoint_max_polls": 120,
}


def endpoint_name(name: str) -> str:
    """`name` when SageMaker would accept it for an endpoint. An endpoint's name becomes files
    and folders of the home (what churn serve records and captures, a local endpoint's folder,
    monitoring reports), so a name it refuses ('../x' climbs out of the home) is refused
    before anything is written."""
    if not SAGEMAKER_NAME.match(name):
        raise UserError(
            "endpoint name %r: use letters, digits and single hyphens (at most 63, "
            "starting with a letter or digit), as SageMaker names endpoints" % name
        )
    return name


def home_path(home: Union[str, Path, None] = None) -> Path:
    """The home a command's --home names, else $CHURN_HOME, else ./.churn. Absolute: jobs run
    in their own working directories and must still find the store."""
    return Path(home or os.environ.get("CHURN_HOME", DEFAULT_HOME)).resolve()


# The plots EvaluateModel writes beside evaluation.json (evaluation/evaluate.py).
EVALUATION_PLOTS = {"roc": "roc_curve.png", "pr": "precision_recall_curve.png"}


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

    def __init__(self, record, metrics, model_package, batch_output, seconds, data_checks=None):
        self.record = record
        self.metrics = metrics
        self.data_checks = data_checks  # EvaluateModel's verdict on the table (evaluate.py)
        self.model_package = model_package
        self.batch_output = batch_output
        self.seconds = seconds

    @property
    def execution_seconds(self):
        return elapsed(self.record)  # rounded where shown only: rounding twice can disagree

    @property
    def status(self):
        return self.record["PipelineExecutionStatus"]

    @property
    def succeeded(self):
        return self.status == "Succeeded"

    def failed_logs(self):
        """The log (file or job folder) of each failed step."""
        return [s["Log"] for s in self.record["Steps"] if s["StepStatus"] == "Failed" and s["Log"]]

    def as_json(self):
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
        }


class Workspace(object):
    def __init__(self, home=None):
        self.home = home_path(home)
        self.sagemaker = SageMakerBackend(self.home)
        self.sagemaker.launcher = self._serving_command
        self._features = None
        self._session: Optional[LocalSession] = None
        self._parsed = {}

    @property
    def store(self):
        return self.sagemaker.store

    @property
    def registry(self):
        """The local registry's storage (what a run registers into); reads go through
        `sagemaker_client`, as on AWS."""
        return self.sagemaker.registry

    @property
    def sagemaker_client(self):
        """boto3's `sagemaker` client, answered by this home's local SageMaker: what
        pipelines/aws/ takes."""
        return SageMakerClient(self.sagemaker)

    def close(self):
        self.sagemaker.close()
        if self._features is not None:
            self._features.close()
            self._features = None

    @property
    def features(self):
        """The home's local SageMaker Feature Store, opened on first use."""
        if self._features is None:
            self._features = LocalFeatureStore(self.home)
        return self._features

    @property
    def session(self) -> LocalSession:
        """The home's twins as boto3 clients (what pipelines/aws/ calls on the local target)."""
        if self._session is None:
            self._session = LocalSession(
                self.home,
                self.sagemaker,
                {
                    "feature-groups": lambda: self.features.sagemaker_client(),
                    "sagemaker-featurestore-runtime": lambda: self.features.runtime_client(),
                    "databrew": lambda: self.databrew,
                    "stepfunctions": lambda: StepFunctions(self.home, Integrations()),
                },
            )
        return self._session

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ data

    def generated_data(self, rows, seed):
        """Seed-schema data under <home>/data, made once per (rows, seed)."""
        from pipelines.churn.datagen import write_csv

        path = self.home / "data" / ("churn-%d-rows-seed-%d.csv" % (rows, seed))
        if not path.is_file():
            write_csv(rows, seed, path)  # published atomically, folder made as needed
        return str(path)

    def stage_code(self, bundles):
        for bundle in bundles.values():
            prefix = bundle.prefix(LOCAL_BUCKET, PREFIX)
            for name, data in bundle.objects().items():
                uri = prefix + "/" + name
                if not self.store.exists(uri):
                    self.store.put_bytes(uri, data)

    def stage_data(self, data, folder=DATA_FOLDER):
        """A local CSV goes into the store as exactly one object, keyed by a hash of its bytes
        (same data, same key, cache hits), and the run's input is that object alone: a file
        staged under another name never joins it. The copy is published atomically and checked
        against the source's size and hash, and an object already at the key is used only when
        it matches them too (a kill or a full disk during an older copy cannot leave a partial
        table that later runs train on). A folder of CSV files goes in as one prefix
        (_stage_folder). An s3:// URI must already be in the local store."""
        if data.startswith("s3://"):
            if not self.store.objects(data):
                raise UserError(
                    "%s is not in the local store (%s); copy the data there or "
                    "pass a local CSV file" % (data, self.store.path(data))
                )
            return data
        source = Path(data)
        if source.is_dir():
            return self._stage_folder(source.resolve(), folder)
        size, digest = file_digest(source)
        uri = "s3://%s/%s/%s/%s/%s" % (LOCAL_BUCKET, PREFIX, folder, digest[:16], source.name)
        self._stage_object(uri, source, (size, digest))
        return uri

    def _stage_folder(self, source, folder):
        """A folder of CSV parts (every *.csv under it, as csv_files and the jobs select them)
        under one prefix, keyed by a hash of their names and contents, each part staged as a
        single file is: the same parts give the same prefix, and a prefix whose parts a kill
        interrupted is completed, never used in part, as every run stages before it starts.
        The run's input is the prefix, holding exactly these parts."""
        parts = {
            Path(f).relative_to(source).as_posix(): Path(f)
            for f in csv_files(str(source), none_is_empty=True)
        }
        if not parts:
            raise UserError("%s holds no .csv file" % source)
        digests = {name: file_digest(path) for name, path in sorted(parts.items())}
        key = hashlib.sha256(json.dumps(sorted(digests.items())).encode()).hexdigest()
        label = source.name or "data"  # the root folder has no name
        prefix = "s3://%s/%s/%s/%s/%s/" % (LOCAL_BUCKET, PREFIX, folder, key[:16], label)
        for name, path in sorted(parts.items()):
            self._stage_object(prefix + name, path, digests[name])
        stray = sorted(set(self.store.objects(prefix)) - set(parts))
        if stray:
            raise UserError(
                "the local store's copy of %s (%s) also holds %s, which the folder does not; "
                "delete %s and run again"
                % (source, prefix, ", ".join(stray), self.store.path(prefix))
            )
        return prefix

    def _stage_object(self, uri, source, expected):
        """`source` at `uri`, published atomically and checked against its (size, sha256); an
        object already there is kept only when it matches them too."""
        if self.store.exists(uri) and file_digest(self.store.file(uri)) == expected:
            return
        self.store.put_file(uri, source)
        if file_digest(self.store.file(uri)) != expected:
            raise UserError(
                "%s changed while it was being copied into the local store; stage it again "
                "once nothing writes to it" % source
            )

    # ------------------------------------------------------------------ feature store

    def feature_group(self, schema, name, ttl_days=None):
        """DescribeFeatureGroup of the schema's group in the local feature store, created when
        missing; a group of that name holding other features is refused."""
        request = feature_group_request(
            schema,
            name,
            offline_store_root(LOCAL_BUCKET, PREFIX),
            LOCAL_ROLE,
            ttl_days,
        )
        return ensure_feature_group(self.features.sagemaker_client(), request)

    # ------------------------------------------------------------------ running

    def run(
        self,
        data,
        schema="seed",
        parameters=None,
        pipeline_name="ChurnPipeline",
        echo=None,
        batch_input=None,
        feature_store=None,
        on_start=None,
        spot=False,
        network_isolation=False,
        group=None,
    ):
        """Build (or reuse) the definition, stage code and data, execute. `batch_input` (a CSV
        file or an s3:// URI in the local store) adds the batch-scoring steps and is what they
        score. `feature_store` ({"ingest", "train", "group", "as_of"}) adds the Feature Store
        steps, run against the home's local feature store. `spot` and `network_isolation`
        are get_pipeline's spot_training and network_isolation; `group` its
        model_package_group_name (default: the schema's)."""
        started = time.time()
        source = schema if isinstance(schema, SchemaSource) else SchemaSource(schema)
        self.sagemaker.start_runner()  # it imports the libraries while the definition builds
        # The definition gets a fixed placeholder input and the file goes in as the
        # BatchInputUrl parameter: scoring another file reuses the memoised definition.
        options = {"batch_input": True} if batch_input else {}
        if spot:
            options["spot_training"] = True
        if network_isolation:
            options["network_isolation"] = True
        if group:
            options["model_package_group_name"] = group
        parameters = dict(parameters or {})
        server = None
        if feature_store and (feature_store.get("ingest") or feature_store.get("train")):
            options.update(
                ingest_features=bool(feature_store.get("ingest")),
                train_from_feature_store=bool(feature_store.get("train")),
            )
            group = self.feature_group(source.schema, feature_store["group"])
            parameters.update(FeatureGroupName=group["FeatureGroupName"])
            if feature_store.get("train"):
                parameters.update(
                    OfflineStoreUrl=offline_store_uri(group),
                    DatasetAsOf=feature_store.get("as_of") or "now",
                )
                if feature_store.get("ingest"):
                    parameters["OfflineStoreSettleSeconds"] = 0  # settled at each job start
            server = FeatureStoreServer(self.features)
            self.sagemaker.attach(server)
        try:
            return self._run(
                data,
                source,
                parameters,
                pipeline_name,
                echo,
                batch_input,
                options,
                started,
                on_start,
            )
        finally:
            if server is not None:
                self.sagemaker.detach(server)
                server.close()
                self.features.flush()

    def _run(
        self,
        data,
        source,
        parameters,
        pipeline_name,
        echo,
        batch_input,
        options,
        started,
        on_start=None,
    ):
        definition, bundles = local_definition(source, pipeline_name=pipeline_name, **options)
        self.stage_code(bundles)
        for name, flag in (("InputDataUrl", "--data"), ("BatchInputUrl", "--batch-input")):
            if name in parameters:  # it would be replaced by what the flag stages
                raise UserError("--param %s: give the file with %s instead" % (name, flag))
        parameters["InputDataUrl"] = self.stage_data(data)
        if batch_input:
            parameters["BatchInputUrl"] = self.stage_data(batch_input, "batch/input")
        execution = Execution(self.sagemaker, definition, pipeline_name, parameters, echo)
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
        )

    # ------------------------------------------------------------------ what runs left

    def execution_summaries(self):
        """Every execution, newest first, as `churn runs list` and `churn ui` list them: id,
        pipeline, status, start, seconds (so far, while it runs), steps, cache hits, test AUC,
        its InputDataUrl and the name the user gave that input (staged_name)."""
        summaries = []
        for r in self.sagemaker.executions.list():
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

    def evaluation(self, record):
        """An execution's evaluation report (the EvaluationReport property file), None before
        it has one."""
        reports = [
            e["PropertyFiles"]["EvaluationReport"]
            for e in record["Steps"]
            if "EvaluationReport" in e.get("PropertyFiles", {})
        ]
        return self.store_json(reports[-1]) if reports else None

    def test_metrics(self, record):
        """The test metrics in an execution's evaluation report, None before it has one."""
        evaluation = self.evaluation(record)
        return quality_metrics(evaluation) if evaluation else None

    def store_json(self, uri):
        """An object of the local store read as JSON, None when it is missing or not JSON.
        Objects are published whole and never rewritten in place, so a parse is kept per
        (file, size, modification time): a page listing 500 executions reads each report once."""
        try:
            path = self.store.path(uri)
            stat = path.stat()
        except (UserError, OSError):
            return None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._parsed:
            try:
                self._parsed[key] = json.loads(path.read_bytes())
            except (OSError, ValueError):
                return None
        return self._parsed[key]

    @staticmethod
    def _model_package(execution):
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

    def _batch_output(self, execution):
        transforms = execution.succeeded("Transform")
        if not transforms:
            return None
        output = transforms[-1]["TransformOutput"]["S3OutputPath"].rstrip("/") + "/"
        return {
            "uri": output,
            "files": [str(path) for _, path in sorted(self.store.objects(output).items())],
        }

    # ------------------------------------------------------------------ registered models

    def latest_approved(self, group):
        """The ARN of the newest Approved version of model package group `group` (what the
        templates deploy; pipelines/aws/registry.py)."""
        return latest_approved_version(self.sagemaker_client, group, "under %s" % self.home)

    def package(self, ref, group):
        """A registered version (DescribeModelPackage): `ref` (number, GROUP/NUMBER or ARN; a
        number in `group`), or the newest Approved version of `group`."""
        return find_package(self.sagemaker_client, ref or None, group, "under %s" % self.home)

    def servable_model(self, ref, group, allow_unapproved=False):
        """A registered version (see `package`) laid out for serving. Only Approved versions
        unless `allow_unapproved`: the registry's approval is the gate to production."""
        package = self.package(ref, group)
        require_approved(package, allow_unapproved)
        status = package["ModelApprovalStatus"]
        name = "%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])
        container = package["InferenceSpecification"]["Containers"][0]
        env = container.get("Environment") or {}
        submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        model_dir = unpack_model(
            self.home / "serving",
            self.store.file(container["ModelDataUrl"]),
            self.store.file(submit) if submit.startswith("s3://") else None,
            label=container["ModelDataUrl"],
        )
        return ServableModel(
            model_dir,
            model_dir / "code",
            env.get("SAGEMAKER_PROGRAM", "inference.py"),
            "%s (%s)" % (name, status),
            package["ModelPackageArn"],
        )

    # ------------------------------------------------------------------ local endpoints

    @property
    def hosting(self):
        """The home's local endpoints' control plane (its serving processes); commands call
        it through the `sagemaker` twin client, pipelines/local/sagemaker/api.py."""
        return self.sagemaker.hosting

    def _serving_command(self, model, port, endpoint, capture, log):
        """The argv of a local endpoint's serving process: `churn serve` of the model (a
        DescribeModel answer): its model package, or its container's artifact and serving code
        (what pipelines/aws/deploy.py and a training job's model name), which the process
        fetches itself, so a missing artifact fails the endpoint as on SageMaker; capture as
        the endpoint config asks, into the local store's path of its destination."""
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        if container.get("ModelPackageName"):
            source = ["--model-package-arn", container["ModelPackageName"]]
        elif container.get("ModelDataUrl"):  # a package's container, a training job's artifact
            source = ["--model-container", json.dumps(container, default=str)]
        else:
            raise HostingError(
                "model %s: a local endpoint serves a model package (ModelPackageName) or a "
                "model artifact (ModelDataUrl)" % model["ModelName"]
            )
        argv = [
            sys.executable,
            "-m",
            "pipelines.cli",
            "serve",
            "--home",
            str(self.home),
            *source,
            "--port",
            str(port),
            "--endpoint-name",
            endpoint,
        ]
        if capture and capture.get("EnableCapture", True):
            argv += [
                "--capture-percent",
                str(capture.get("InitialSamplingPercentage", 100)),
                "--capture-dir",
                str(self.store.path(capture["DestinationS3Uri"])),
            ]
        else:
            argv += ["--capture-percent", "0"]
        return argv

    # ------------------------------------------------------------------ workflows

    @property
    def databrew(self):
        return DataBrew(self.home, self.store)

    def workflows(self, schema, data, clock=None, echo=None, **settings):
        """The home's Step Functions twin with the churn workflows created in it, their Task
        states answered by the local SageMaker (the pipeline of `schema` on `data`, the
        registry, local endpoints). Returns (service, WorkflowSettings)."""
        source = schema if isinstance(schema, SchemaSource) else SchemaSource(schema)
        integrations = Integrations(
            sagemaker_integrations(
                self.sagemaker,
                lambda name, parameters: self._start_pipeline(source, name, parameters, echo),
            )
        )
        for resource, function in databrew_integrations(self.databrew).items():
            integrations.register(resource, function)
        service = StepFunctions(self.home, integrations, clock)
        bundles = build_bundles()  # direct's training job and model run the shipped code
        self.stage_code(bundles)
        values = dict(
            LOCAL_WORKFLOW_SETTINGS,
            training_code_uri=bundles["training"].uri(LOCAL_BUCKET, PREFIX),
            inference_code_uri=bundles["inference"].uri(LOCAL_BUCKET, PREFIX),
            model_package_group=source.schema.model_package_group,
            **training_labels(source.schema),
        )
        values.update(settings)
        values.setdefault("input_data_url", self.stage_data(data))
        names = WorkflowSettings(**values)
        names.deploy_state_machine_arn = machine_arn("churn-deploy")
        for name in WORKFLOW_NAMES:
            ensure_state_machine(
                service, "churn-" + name, workflow_definition(name, names), LOCAL_ROLE
            )
        return service, names

    def _start_pipeline(self, source, name, parameters, echo):
        """StartPipelineExecution: the pipeline runs in a thread of its own, on a workspace of
        its own (its own database connection and job runner); returns the execution's ARN
        once it has one."""
        started, box = threading.Event(), {}

        def run():
            try:
                with Workspace(self.home) as ws:
                    values = dict(parameters)
                    data = values.pop("InputDataUrl")
                    ws.run(
                        data,
                        source,
                        values,
                        pipeline_name=name,
                        echo=echo,
                        on_start=lambda arn: (box.update(arn=arn), started.set()),
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
        return box["arn"]

    def version_report(self, ref):
        """What a registered version carries, read once for `churn ui`: the package, its test
        metrics and evaluation report (ModelMetrics.ModelQuality), the ROC and PR plots that
        EvaluateModel writes beside the report, and the data-quality baseline (statistics and
        constraints, None where the version has none)."""
        package = self.package(ref, None)
        report_uri = evaluation_uri(package)
        evaluation = self.store_json(report_uri) if report_uri else None
        plots = {}
        if report_uri:
            folder = report_uri.rsplit("/", 1)[0]
            for name, file_name in EVALUATION_PLOTS.items():
                uri = folder + "/" + file_name
                if self.store.exists(uri):
                    plots[name] = uri
        baselines = drift_baselines(package)
        return {
            "package": package,
            "evaluation": evaluation,
            "metrics": quality_metrics(evaluation) if evaluation else {},
            "plots": plots,
            "statistics": self.store_json(baselines[0]) if baselines else None,
            "constraints": self.store_json(baselines[1]) if baselines else None,
        }

    def version_metrics(self, package):
        """A version's test metrics alone (what a listing of versions shows), {} without a
        report."""
        report_uri = evaluation_uri(package)
        evaluation = self.store_json(report_uri) if report_uri else None
        return quality_metrics(evaluation) if evaluation else {}

    @property
    def capture_dir(self):
        """Where `churn serve` captures by default."""
        return self.home / "capture"

    @property
    def monitoring_dir(self):
        """Where `churn monitor` writes its reports by default (<endpoint>/<UTC time>/)."""
        return self.home / "monitoring"

    # ------------------------------------------------------------------ what an endpoint serves

    def record_serving(self, endpoint, model_package_arn, capture_dir):
        """Remember which version `churn serve --endpoint-name ENDPOINT` serves and where it
        captures, so that monitoring checks its traffic against that version's baseline."""
        write_text_atomic(
            self.home / "serving" / "endpoints" / (endpoint_name(endpoint) + ".json"),
            json.dumps(
                {
                    "EndpointName": endpoint,
                    "ModelPackageArn": model_package_arn,
                    "CaptureDir": str(capture_dir) if capture_dir else None,
                    "Since": time.time(),
                }
            ),
        )

    def served(self, endpoint):
        """{"ModelPackageArn" (None when it serves a model folder), "CaptureDir", "Since" (when
        it began serving that, epoch seconds)} of what endpoint `endpoint` serves: a local
        endpoint's own configuration (churn deploy --local, the workflows) read through the
        `sagemaker` twin client as on AWS (pipelines/aws/deploy.serving), else what `churn
        serve --endpoint-name` recorded; None when unknown."""
        from pipelines.aws.deploy import serving
        from pipelines.local.sagemaker.api import SageMakerClient

        if self.hosting.has_endpoint(endpoint):
            found = serving(SageMakerClient(self.sagemaker), endpoint)
            destination = found["CaptureDestination"]
            return {
                "ModelPackageArn": found["ModelPackageArn"],
                "CaptureDir": str(self.store.path(destination)) if destination else None,
                "Since": found["Since"].timestamp(),
            }
        if not SAGEMAKER_NAME.match(endpoint):  # no record can have another name
            return None
        try:
            record = json.loads(
                (self.home / "serving" / "endpoints" / (endpoint + ".json")).read_text()
            )
        except (OSError, ValueError):
            return None
        return {k: record.get(k) for k in ("ModelPackageArn", "CaptureDir", "Since")}

    def drift_baseline(self, ref):
        """(statistics, constraints) of a version's data-quality DriftCheckBaselines."""
        baselines = drift_baselines(self.package(ref, None))
        if not baselines:
            raise MonitorError("model version %s has no data-quality DriftCheckBaselines" % ref)
        return (
            json.loads(self.store.read_bytes(baselines[0])),
            json.loads(self.store.read_bytes(baselines[1])),
        )
