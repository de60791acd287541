"""The SageMaker XGBoost image's algorithm mode through the local twin, as a user reaches it
(docs/container-contracts.md sections 2.9 and 3.4): a pipeline built with the SageMaker SDK,
`Estimator(image_uri=image_uris.retrieve("xgboost", region, "1.7-1"))` with
`set_hyperparameters(...)` and no entry point, a TrainingStep, a condition on the job's
`validation:auc`, a ModelStep of its artifact and a TransformStep with that model, run by the
local engine as `churn run` runs a definition; and an endpoint of such a model answering
InvokeEndpoint in text/csv, text/libsvm and JSON.

Pages whose documented behaviour is checked: the XGBoost algorithm's "Input/Output Interface"
(CSV label first without a header for training, without the label for inference; libsvm),
"XGBoost Hyperparameters" (num_round, early_stopping_rounds), "Tune an XGBoost Model"
(validation:auc, computed without a metric definition in the request), "Common Data Formats for
Inference" (JSON answers as {"predictions": [{"score": ...}]}), CreateTransformJob and
InvokeEndpoint in the API reference.
"""

import io
import json
import tarfile

import numpy as np
import pytest
from test_xgboost_algorithm import bank_table, libsvm_lines

from pipelines.local.s3 import Store
from pipelines.local.sagemaker.engine import run_definition

from conftest import churn_workspace

REGION = "us-east-1"
BUCKET = "algo-bucket"
ROLE = "arn:aws:iam::000000000000:role/AlgorithmRole"


def sdk_session():
    """A PipelineSession that only builds definitions: it calls nothing."""
    import boto3
    from sagemaker.workflow.pipeline_context import PipelineSession

    boto = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    return PipelineSession(boto_session=boto, default_bucket=BUCKET)


def algorithm_pipeline(min_auc=0.8):
    """What a user writes for the built-in algorithm: no entry point, string hyperparameters,
    channels typed text/csv; the transform scores with the model the ModelStep creates."""
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TrainingStep, TransformStep

    session = sdk_session()
    image = image_uris.retrieve("xgboost", REGION, "1.7-1")
    estimator = Estimator(image_uri=image, role=ROLE, instance_count=1,
                          instance_type="ml.m5.xlarge", output_path="s3://%s/models" % BUCKET,
                          sagemaker_session=session)  # fmt: skip
    estimator.set_hyperparameters(num_round=60, objective="binary:logistic", eval_metric="auc",
                                  max_depth=5, eta=0.2, gamma=4, min_child_weight=6,
                                  subsample=0.8, early_stopping_rounds=10)  # fmt: skip
    train = TrainingStep(
        name="TrainAlgorithm",
        step_args=estimator.fit({
            "train": TrainingInput("s3://%s/data/train/" % BUCKET, content_type="text/csv"),
            "validation": TrainingInput("s3://%s/data/validation/" % BUCKET,
                                        content_type="text/csv"),
        }),
    )  # fmt: skip
    model = Model(image_uri=image, model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
                  role=ROLE, sagemaker_session=session)  # fmt: skip
    create = ModelStep(name="AlgorithmModel", step_args=model.create(instance_type="ml.m5.large"))
    transformer = Transformer(model_name=create.properties.ModelName, instance_count=1,
                              instance_type="ml.m5.xlarge", accept="text/csv",
                              assemble_with="Line", output_path="s3://%s/scored" % BUCKET,
                              sagemaker_session=session)  # fmt: skip
    transform = TransformStep(
        name="ScoreBatch",
        step_args=transformer.transform("s3://%s/data/batch/" % BUCKET, content_type="text/csv",
                                        split_type="Line"),
    )  # fmt: skip
    gate = ConditionStep(
        name="AucGate",
        conditions=[ConditionGreaterThanOrEqualTo(
            left=train.properties.FinalMetricDataList["validation:auc"].Value, right=min_auc)],
        if_steps=[create, transform],
        else_steps=[],
    )  # fmt: skip
    pipeline = Pipeline(name="AlgorithmChurn", steps=[train, gate], sagemaker_session=session)
    return json.loads(pipeline.definition())


@pytest.fixture(scope="module")
def bank():
    table = bank_table()
    return table.iloc[:7000], table.iloc[7000:8500], table.iloc[8500:]


def stage(home, bank):
    train_rows, validation_rows, batch_rows = bank
    store = Store(home)
    for name, frame in (("train", train_rows), ("validation", validation_rows)):
        store.put_bytes("s3://%s/data/%s/%s.csv" % (BUCKET, name, name),
                        frame.to_csv(header=False, index=False).encode())  # fmt: skip
    batch = batch_rows.iloc[:, 1:].to_csv(header=False, index=False)
    store.put_bytes("s3://%s/data/batch/batch.csv" % BUCKET, batch.encode())
    return store


def step_properties(home, record, step):
    folder = home / "executions" / record["PipelineExecutionId"]
    return json.loads((folder / ("%s.step.json" % step)).read_text())["Properties"]


def test_an_sdk_built_pipeline_trains_with_the_algorithm_and_transforms_with_its_model(
    tmp_path, bank
):
    from sklearn.metrics import roc_auc_score

    definition = algorithm_pipeline()
    train_step = definition["Steps"][0]
    spec = train_step["Arguments"]["AlgorithmSpecification"]
    # As the SDK writes it: the algorithm's image, no entry point, no metric definitions.
    assert spec["TrainingImage"].endswith("/sagemaker-xgboost:1.7-1")
    assert "sagemaker_program" not in train_step["Arguments"]["HyperParameters"]
    assert "MetricDefinitions" not in spec
    assert train_step["Arguments"]["HyperParameters"]["num_round"] == "60"

    store = stage(tmp_path, bank)
    record = run_definition(tmp_path, definition, "AlgorithmChurn")
    assert record["PipelineExecutionStatus"] == "Succeeded", record.get("FailureReason")
    training = step_properties(tmp_path, record, "TrainAlgorithm")
    metrics = {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]}
    assert set(metrics) == {"validation:auc"}  # the only metric the log holds here
    assert metrics["validation:auc"] > 0.84  # the data README's reference: 0.866 +- 0.006
    statuses = {s["StepName"]: s["StepStatus"] for s in record["Steps"]}
    assert statuses["ScoreBatch"] == "Succeeded"

    artifact = training["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(store.file(artifact)) as tar:
        assert tar.getnames() == ["xgboost-model"]
        model_bytes = tar.extractfile("xgboost-model").read()
    assert model_bytes[:4] == b"binf"  # Booster.save_model's binary format, as 1.7 writes it
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(model_bytes))
    batch_rows = bank[2]
    expected = booster.predict(xgb.DMatrix(batch_rows.iloc[:, 1:].to_numpy()))
    scored = store.read_bytes("s3://%s/scored/batch.csv.out" % BUCKET).decode().splitlines()
    assert len(scored) == len(batch_rows)  # one score a line, input order
    assert np.allclose([float(s) for s in scored], expected, atol=1e-6)
    assert roc_auc_score(batch_rows.iloc[:, 0], [float(s) for s in scored]) > 0.84


def test_an_algorithm_job_the_algorithm_refuses_fails_with_its_client_error(tmp_path, bank):
    """num_round missing: the job fails before training, its reason the toolkit's words."""
    definition = algorithm_pipeline()
    del definition["Steps"][0]["Arguments"]["HyperParameters"]["num_round"]
    stage(tmp_path, bank)
    record = run_definition(tmp_path, definition, "AlgorithmChurn")
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "ClientError: Missing required hyperparameter: num_round" in record["FailureReason"]


def model_archive(model_dir):
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(str(model_dir / "xgboost-model"), arcname="xgboost-model")
    return archive.getvalue()


@pytest.fixture
def ws(tmp_path):
    workspace = churn_workspace(tmp_path / "home")
    yield workspace
    for name in [e["EndpointName"] for e in workspace.hosting.list_endpoints()]:
        workspace.hosting.delete_endpoint(name)
    workspace.close()


def test_an_endpoint_of_an_algorithm_model_answers_csv_libsvm_and_json(ws, tmp_path, bank):
    """CreateModel with the XGBoost image and the artifact, no SAGEMAKER_PROGRAM; an endpoint
    of it; InvokeEndpoint with text/csv and text/libsvm bodies, Accept text/csv and
    application/json; a JSON body is not an input format of the algorithm (415)."""
    import xgboost as xgb
    from botocore.exceptions import ClientError
    from sagemaker import image_uris
    from test_xgboost_algorithm import train

    from pipelines.local.sagemaker.api import SageMakerClient
    from pipelines.local.sagemaker.runtime import RuntimeClient

    train_rows, validation_rows, rows = bank
    root = tmp_path / "job"
    proc = train(root, {"num_round": "15", "objective": "binary:logistic", "max_depth": "4"},
                 {"train": {"t.csv": train_rows.to_csv(header=False, index=False)}})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    artifact = "s3://%s/models/algo/model.tar.gz" % BUCKET
    ws.store.put_bytes(artifact, model_archive(root / "opt/ml/model"))
    sm = SageMakerClient(ws.sagemaker)
    sm.create_model(ModelName="algo", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": image_uris.retrieve("xgboost", REGION, "1.7-1"), "ModelDataUrl": artifact})  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName="algo-config", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "algo", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])  # fmt: skip
    sm.create_endpoint(EndpointName="algo", EndpointConfigName="algo-config")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="algo", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )

    features = rows.iloc[:4, 1:]
    booster = xgb.Booster(model_file=str(root / "opt/ml/model/xgboost-model"))
    expected = booster.predict(xgb.DMatrix(features.to_numpy())).tolist()
    runtime = RuntimeClient(ws.sagemaker)

    def invoke(body, content_type, accept=None):
        request = dict(EndpointName="algo", Body=body, ContentType=content_type)
        if accept:
            request["Accept"] = accept
        answer = runtime.invoke_endpoint(**request)
        return answer["ContentType"], answer["Body"].read().decode()

    media, body = invoke(features.to_csv(header=False, index=False).encode(), "text/csv")
    assert media.startswith("text/csv")  # the algorithm's default Accept
    assert np.allclose([float(v) for v in body.split()], expected, atol=1e-6)
    libsvm = "\n".join(line.split(" ", 1)[1] for line in
                       libsvm_lines(rows.iloc[:4], zeros=True).splitlines())  # fmt: skip
    media, body = invoke(libsvm.encode(), "text/libsvm", "application/json")
    assert media.startswith("application/json")
    assert np.allclose([p["score"] for p in json.loads(body)["predictions"]], expected, atol=1e-6)
    with pytest.raises(ClientError) as refused:
        invoke(json.dumps({"instances": features.to_numpy().tolist()}).encode(),
               "application/json")  # fmt: skip
    assert refused.value.response["OriginalStatusCode"] == 415
