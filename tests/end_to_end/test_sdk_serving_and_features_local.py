"""The SageMaker SDK's serving and Feature Store paths unchanged against `churn local`, as a
user's notebook reaches them (tests/end_to_end/test_sdk_through_local_endpoint.py has the
pipeline's): the user's code runs in a process of its own with the environment `churn local`
printed. The home holds one registered version, made by `churn run` before the endpoint starts.

- Serving: approve the version, `ModelPackage(...).deploy(...)` (CreateModel, an endpoint
  config, CreateEndpoint: a local serving process the workspace's launcher starts), `Predictor`
  scoring raw table rows over InvokeEndpoint, then `delete_endpoint()`. The scores are the
  model's own, from inference.py's handlers in this process.
- Feature Store: `FeatureGroup` from a DataFrame, create, describe until Created, `ingest`,
  `get_record` over the featurestore runtime; the offline store's Parquet files read back over
  S3 (the local stand-in for Athena, which has no twin: `athena_query().run()` is refused with
  UnrecognizedClientException)."""

import json
import subprocess
import sys
import tarfile

import pytest
from test_sdk_through_local_endpoint import ROLE, user_env

from conftest import BANK, ROOT, needs_shared_data, score_rows

FEATURES = ["CreditScore", "Geography", "Gender", "Age", "Tenure", "Balance", "NumOfProducts",
            "HasCrCard", "IsActiveMember", "EstimatedSalary"]  # fmt: skip
ROWS = 25

SERVING = """
import json, sys, boto3
from sagemaker import ModelPackage, Session
from sagemaker.deserializers import CSVDeserializer
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer
boto = boto3.Session()
sm = boto.client("sagemaker")
arn = sm.list_model_packages(ModelPackageGroupName="churn-bank")[
    "ModelPackageSummaryList"][0]["ModelPackageArn"]
sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
session = Session(boto3.Session(), default_bucket="churn-local")
model = ModelPackage(role=sys.argv[2], model_package_arn=arn, sagemaker_session=session)
model.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="sdk-endpoint",
             serializer=CSVSerializer(), deserializer=CSVDeserializer())
described = sm.describe_endpoint(EndpointName="sdk-endpoint")
rows = [line.split(",") for line in open(sys.argv[3]).read().splitlines()]
predictor = Predictor("sdk-endpoint", sagemaker_session=session, serializer=CSVSerializer(),
                      deserializer=CSVDeserializer())
scores = predictor.predict(rows)
artifact = sm.describe_model_package(ModelPackageName=arn)["InferenceSpecification"][
    "Containers"][0]["ModelDataUrl"]
bucket, key = artifact[len("s3://"):].split("/", 1)
boto.client("s3").download_file(bucket, key, "model.tar.gz")
predictor.delete_endpoint()
try:
    sm.describe_endpoint(EndpointName="sdk-endpoint")
    gone = None
except sm.exceptions.ClientError as e:
    gone = e.response["Error"]["Code"]
print()  # after the SDK's progress marks ("-----!") on the line it waited on
print(json.dumps({
    "status": described["EndpointStatus"], "scores": scores, "gone": gone,
    "approval": sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"],
    "endpoints": sm.list_endpoints()["Endpoints"],
    "configs": sm.list_endpoint_configs()["EndpointConfigs"],
}, default=str))
"""

FEATURE_STORE = """
import io, json, sys, time, boto3, botocore, pandas as pd, pyarrow.parquet as pq
from sagemaker import Session
from sagemaker.feature_store.feature_group import FeatureGroup
boto = boto3.Session()
s3 = boto.client("s3")
s3.create_bucket(Bucket="features-bucket")
session = Session(boto, default_bucket="features-bucket")
df = pd.read_csv(sys.argv[1]).head(int(sys.argv[3]))
df["EventTime"] = float(round(time.time()))
for column in df.columns:  # the SDK types a column by its dtype: text must be pandas' string
    if not pd.api.types.is_numeric_dtype(df[column]):
        df[column] = df[column].astype("string")
group = FeatureGroup(name="sdk-customers", sagemaker_session=session)
definitions = group.load_feature_definitions(df)
group.create(s3_uri="s3://features-bucket/offline", record_identifier_name="CustomerId",
             event_time_feature_name="EventTime", role_arn=sys.argv[2], enable_online_store=True)
while group.describe()["FeatureGroupStatus"] == "Creating":
    time.sleep(0.2)
described = group.describe()
ingested = group.ingest(data_frame=df, max_workers=1, wait=True)
record = group.get_record(record_identifier_value_as_string=str(df.CustomerId[3]))
prefix = described["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
bucket, key = prefix[len("s3://"):].split("/", 1)
def offline_rows():
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
    frames = [pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=o["Key"])[
        "Body"].read())).to_pandas() for o in listed]
    return pd.concat(frames) if frames else pd.DataFrame({"CustomerId": []})
# SageMaker writes the offline store within minutes, churn local every second: a reader polls
# until every ingested row is there (the buffer may be flushed in more than one file).
for _ in range(300):
    offline = offline_rows()
    if len(offline) >= len(df):
        break
    time.sleep(0.1)
try:
    group.athena_query().run("SELECT * FROM t", output_location="s3://features-bucket/athena/")
    athena = None
except botocore.exceptions.ClientError as e:
    athena = [e.response["Error"]["Code"], str(e)]
print(json.dumps({
    "definitions": {d.feature_name: d.feature_type.value for d in definitions},
    "status": described["FeatureGroupStatus"], "online": described["OnlineStoreConfig"],
    "failed": list(ingested.failed_rows), "record": record,
    "offline_ids": sorted(int(i) for i in offline["CustomerId"]),
    "offline_columns": list(offline.columns), "athena": athena,
}, default=str))
"""


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """`churn local` on a free port over a home where `churn run` registered churn-bank/1;
    {variable: value} it printed."""
    home = tmp_path_factory.mktemp("sdk-serving-home")
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--data", str(BANK), "--schema", "bank",
         "--home", str(home)],
        capture_output=True, text=True, cwd=str(ROOT), timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "local", "--port", "0", "--home", str(home)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
    )  # fmt: skip
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
        yield dict(line[len("export ") :].strip().split("=", 1) for line in lines[1:])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def notebook(script, endpoint, tmp_path, *args):
    done = subprocess.run([sys.executable, "-c", script, str(BANK), ROLE, *map(str, args)],
                          env=user_env(endpoint, tmp_path), capture_output=True, text=True,
                          timeout=300, cwd=str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def table_rows(count):
    """The first `count` rows of the bank table, its feature columns only, as they are in the
    file: what `churn predict --csv` sends."""
    import pandas as pd

    head = pd.read_csv(BANK, dtype=str).head(count)
    return "".join(",".join(row) + "\n" for row in head[FEATURES].itertuples(index=False))


@needs_shared_data
def test_a_registered_version_approved_deployed_and_scored_through_the_sdk(endpoint, tmp_path):
    rows = table_rows(ROWS)
    (tmp_path / "rows.csv").write_text(rows)
    found = notebook(SERVING, endpoint, tmp_path, tmp_path / "rows.csv")
    assert found["status"] == "InService" and found["approval"] == "Approved"
    # The scores are the model's own: the artifact's handlers in this process, same rows.
    with tarfile.open(tmp_path / "model.tar.gz") as bundle:
        bundle.extractall(tmp_path / "model", filter="data")
    expected = [line.split(",") for line in score_rows(tmp_path / "model", rows)]
    assert found["scores"] == expected and len(expected) == ROWS
    assert len({score for score, _ in expected}) > 1  # not one constant answer
    # delete_endpoint removed the endpoint and its config (the model stays, as on AWS).
    assert found["gone"] == "ValidationException"
    assert found["endpoints"] == [] and found["configs"] == []


@needs_shared_data
def test_a_feature_group_created_ingested_and_read_through_the_sdk(endpoint, tmp_path):
    import pandas as pd

    found = notebook(FEATURE_STORE, endpoint, tmp_path, ROWS)
    assert found["status"] == "Created" and found["online"]["EnableOnlineStore"] is True
    assert found["definitions"]["Surname"] == "String"
    assert found["definitions"]["Balance"] == "Fractional"
    assert found["failed"] == []
    row = pd.read_csv(BANK).iloc[3]
    record = {f["FeatureName"]: f["ValueAsString"] for f in found["record"]}
    assert record["CustomerId"] == str(row.CustomerId) and record["Surname"] == row.Surname
    assert float(record["Balance"]) == row.Balance and record["Age"] == str(row.Age)
    # The offline store's files, over the endpoint's S3: every ingested row, SageMaker's columns.
    ids = pd.read_csv(BANK).head(ROWS).CustomerId
    assert found["offline_ids"] == sorted(int(i) for i in ids)
    assert {"write_time", "api_invocation_time", "is_deleted"} <= set(found["offline_columns"])
    # Athena has no twin: one clear refusal, not an unreadable body.
    code, message = found["athena"]
    assert code == "UnrecognizedClientException"
    assert "StartQueryExecution" in message and "no local twin signs as 'athena'" in message
