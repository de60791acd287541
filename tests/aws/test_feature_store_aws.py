"""The feature group on AWS: the control plane (CreateFeatureGroup, DescribeFeatureGroup; moto
has no DeleteFeatureGroup or ListFeatureGroups) against a moto server on 127.0.0.1, through `churn
features --region` and `run-pipeline`; and a contract test of the record calls.

moto has no sagemaker-featurestore-runtime (GetRecord answers 404), so the record calls run on
the twin only: a put / get / batch-get / delete sequence, each request checked against
botocore's input shapes and each answer against its output shapes by the twin's own client
(pipelines/local/api.py, with CHURN_CHECK_ANSWERS on for the whole suite), and what the answers
hold asserted here. tests/local/test_feature_store_api.py runs one scenario on moto and the twin."""

import json
import time

import pandas as pd
import pytest
from test_run_pipeline import ROLE, run_pipeline

from pipelines.local.featurestore.store import LocalFeatureStore

from conftest import aws_client, churn_cli


def features(env, home, *args):
    return churn_cli(home, "features", *args, "--region", "us-east-1", env=env)


def test_churn_features_creates_describes_lists_and_deletes_the_group_on_aws(
    aws_env, bucket, tmp_path
):
    created = features(
        aws_env, tmp_path, "create", "--schema", "bank", "--feature-group", "bank-customers",
        "--role-arn", ROLE, "--offline-store", "s3://%s/feature-store" % bucket,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().endswith(":feature-group/bank-customers")
    described = aws_client("sagemaker", aws_env).describe_feature_group(
        FeatureGroupName="bank-customers"
    )
    assert described["RecordIdentifierFeatureName"] == "CustomerId"
    assert described["EventTimeFeatureName"] == "event_time"
    # What AWS got is what the local twin builds from the same schema.
    local = churn_cli(
        tmp_path, "features", "create", "--schema", "bank", "--feature-group", "bank-customers"
    )
    assert local.returncode == 0, local.stderr
    twin = (
        LocalFeatureStore(tmp_path)
        .sagemaker_client()
        .describe_feature_group(FeatureGroupName="bank-customers")
    )
    assert described["FeatureDefinitions"] == twin["FeatureDefinitions"]
    types = {d["FeatureName"]: d["FeatureType"] for d in described["FeatureDefinitions"]}
    assert (types["CustomerId"], types["Age"], types["Balance"], types["Geography"]) == (
        "String",
        "Integral",
        "Fractional",
        "String",
    )
    assert types["Exited"] == "Integral" and types["event_time"] == "Fractional"
    # Creating it again is a no-op; another schema under the same name is refused.
    again = features(
        aws_env, tmp_path, "create", "--schema", "bank", "--feature-group", "bank-customers",
        "--role-arn", ROLE, "--offline-store", "s3://%s/feature-store" % bucket,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    other = features(
        aws_env, tmp_path, "create", "--schema", "seed", "--feature-group", "bank-customers",
        "--role-arn", ROLE, "--offline-store", "s3://%s/feature-store" % bucket,
    )  # fmt: skip
    assert other.returncode == 1
    assert other.stderr.strip().splitlines() == [
        "churn features: error: feature group bank-customers holds other features than this "
        "schema implies; delete it (churn features delete-group --feature-group "
        "bank-customers) or name another"
    ]
    # moto has no ListFeatureGroups or DeleteFeatureGroup (NotImplementedError, a 500 page):
    # those two commands are tested on the twin; a service's page of HTML is one line here.
    deleted = features(aws_env, tmp_path, "delete-group", "--feature-group", "bank-customers")
    assert deleted.returncode == 1 and deleted.stderr.strip().splitlines() == [
        "churn features: error: feature group bank-customers: the service answered HTTP 500 (500)"
    ]


def test_create_on_aws_without_a_role_is_one_line(aws_env, tmp_path):
    proc = features(aws_env, tmp_path, "create", "--schema", "bank")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "churn features: error: on AWS, create needs --role-arn (a role Feature Store may "
        "write the offline store with) and --offline-store s3://bucket/prefix"
    )


def test_run_pipeline_creates_the_group_and_names_it_in_the_execution(aws_env, bucket):
    kwargs = {
        "default_bucket": bucket,
        "pipeline_name": "Churn-features",
        "schema": "bank",
        "ingest_features": True,
        "train_from_feature_store": True,
        "FeatureGroupName": "churn-fs-%s" % bucket[-8:],
    }
    proc = run_pipeline(
        aws_env,
        "-n",
        "pipelines.churn.pipeline",
        "--role-arn",
        ROLE,
        "--kwargs",
        json.dumps(kwargs),
    )
    assert proc.returncode == 0, proc.stderr
    sagemaker = aws_client("sagemaker", aws_env)
    group = sagemaker.describe_feature_group(FeatureGroupName=kwargs["FeatureGroupName"])
    assert group["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"] == (
        "s3://%s/churn/feature-store" % bucket
    )
    assert "Feature group arn:aws:sagemaker:" in proc.stdout
    definition = json.loads(
        sagemaker.describe_pipeline(PipelineName="Churn-features")["PipelineDefinition"]
    )
    assert [s["Name"] for s in definition["Steps"]][:4] == [
        "ValidateShards",
        "ValidateData",
        "IngestFeatures",
        "BuildDataset",
    ]


# ------------------------------------------------------------------ the record calls' contract


@pytest.mark.fast
def test_the_twins_record_answers_have_the_shapes_boto3_and_aws_use(tmp_path):
    """The answers' shapes are checked by the twin's client on every call (CHURN_CHECK_ANSWERS,
    which tests/conftest.py sets); what they hold is asserted here."""
    fs = LocalFeatureStore(tmp_path)
    fs.sagemaker_client().create_feature_group(
        FeatureGroupName="g",
        RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[
            {"FeatureName": "customer_id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": "Fractional"},
            {"FeatureName": "age", "FeatureType": "Integral"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True, "TtlDuration": {"Unit": "Days", "Value": 7}},
    )
    now = "%.3f" % time.time()
    record = [
        {"FeatureName": "customer_id", "ValueAsString": "C1"},
        {"FeatureName": "event_time", "ValueAsString": now},
        {"FeatureName": "age", "ValueAsString": "40"},
    ]
    calls = [
        ("put_record", {"FeatureGroupName": "g", "Record": record}),
        (
            "get_record",
            {
                "FeatureGroupName": "g",
                "RecordIdentifierValueAsString": "C1",
                "ExpirationTimeResponse": "Enabled",
            },
        ),
        ("get_record", {"FeatureGroupName": "g", "RecordIdentifierValueAsString": "nobody"}),
        (
            "batch_get_record",
            {
                "Identifiers": [
                    {"FeatureGroupName": "g", "RecordIdentifiersValueAsString": ["C1", "C2"]}
                ],
                "ExpirationTimeResponse": "Enabled",
            },
        ),
        (
            "delete_record",
            {
                "FeatureGroupName": "g",
                "RecordIdentifierValueAsString": "C1",
                "EventTime": "%.3f" % (float(now) + 1),
                "DeletionMode": "SoftDelete",
            },
        ),
        ("get_record", {"FeatureGroupName": "g", "RecordIdentifierValueAsString": "C1"}),
    ]
    twin = fs.runtime_client()
    local_answers = [getattr(twin, name)(**params) for name, params in calls]
    fs.close()
    assert "ExpiresAt" in local_answers[1] and "Record" not in local_answers[2]
    assert local_answers[3]["Records"][0]["RecordIdentifierValueAsString"] == "C1"
    assert "Record" not in local_answers[5]  # soft-deleted


def test_a_record_putrecord_refuses_on_aws_is_reported_as_the_ingest_job_reports_it(
    aws_env, bucket, tmp_path, seed_csv
):
    """`churn features ingest --region` against AWS's API (the control plane on moto, the
    record calls on the twin's wire server, since moto has none): a record PutRecord refuses
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_PutRecord.html,
    a record identifier over the 2 KB quota: ValidationError) is one line naming the file's
    line, the record and the service's error, in the IngestFeatures job's words. It said
    "feature group churn-customers: the record identifier is over 2 KB", naming no record."""
    from pipelines.churn.feature_group import LOCAL_ROLE, feature_group_request
    from pipelines.churn.schema_source import SchemaSource
    from pipelines.local.featurestore.server import FeatureStoreServer

    created = features(
        aws_env, tmp_path, "create", "--role-arn", ROLE,
        "--offline-store", "s3://%s/feature-store" % bucket,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    twin = LocalFeatureStore(tmp_path / "twin")
    twin.sagemaker_client().create_feature_group(
        **feature_group_request(
            SchemaSource("seed").schema, "churn-customers", "s3://churn-local/fs", LOCAL_ROLE
        )
    )
    server = FeatureStoreServer(twin)
    try:
        rows = pd.read_csv(seed_csv, dtype=str).head(3)
        rows.loc[1, "customer_id"] = "C" * 2100
        data = tmp_path / "bad.csv"
        rows.to_csv(data, index=False)
        env = dict(aws_env, AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME=server.endpoint)
        proc = features(env, tmp_path, "ingest", "--data", data, "--workers", "1")
    finally:
        server.close()
        twin.close()
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "churn features: error: %s line 3 (record 'CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC... (2100 "
        "characters)'): PutRecord refused it: ValidationError: the record identifier is over "
        "2 KB" % data
    ]
