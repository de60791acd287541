"""The Feature Store twin is boto3's `sagemaker` (feature-group calls) and
`sagemaker-featurestore-runtime` clients (docs/adr/0011): one scenario through
pipelines/aws/featurestore.py runs against a moto server and against the twin with the same
observable result, and the twin's paginator is botocore's. Every answer the twin gives here is
checked against its output shape (CHURN_CHECK_ANSWERS, tests/conftest.py).

moto (5.x) has CreateFeatureGroup and DescribeFeatureGroup only: no ListFeatureGroups, no
DeleteFeatureGroup, and no sagemaker-featurestore-runtime at all, so the comparison covers the
control plane's create and describe; ListFeatureGroups and the record calls run on the twin
alone (tests/local/test_feature_store_twin.py holds their documented rules)."""

import datetime

import pytest
from botocore.exceptions import ClientError

from pipelines.aws.featurestore import (
    describe_feature_group,
    ensure_feature_group,
    feature_group_exists,
    list_feature_groups,
    offline_store_uri,
)
from pipelines.churn.feature_group import LOCAL_ROLE, feature_group_request
from pipelines.churn.schema_source import SchemaSource
from pipelines.local.featurestore.store import LocalFeatureStore

from conftest import aws_client


@pytest.fixture
def fs(tmp_path):
    store = LocalFeatureStore(tmp_path / "home")
    yield store
    store.close()


def request_for(name, offline="s3://churn-bucket/feature-store"):
    return feature_group_request(SchemaSource("seed").schema, name, offline, LOCAL_ROLE, 3)


def scenario(sagemaker, name):
    """Ensure a group twice (created, then found), describe it through pipelines/aws/: what a
    caller sees, without the account, region and creation time that differ by service."""
    first = ensure_feature_group(sagemaker, request_for(name))
    again = ensure_feature_group(sagemaker, request_for(name))
    described = describe_feature_group(sagemaker, name)
    offline = described["OfflineStoreConfig"]
    arn = described["FeatureGroupArn"].split(":")
    return {
        "same description": first == again == described,
        "arn shape": arn[:3] + arn[5:],
        "name": described["FeatureGroupName"],
        "identifier": described["RecordIdentifierFeatureName"],
        "event time": described["EventTimeFeatureName"],
        "definitions": described["FeatureDefinitions"],
        "status": described["FeatureGroupStatus"],
        "role": described["RoleArn"],
        "created is a datetime": isinstance(described["CreationTime"], datetime.datetime),
        "offline store": offline["S3StorageConfig"]["S3Uri"],
        "offline store resolved": offline_store_uri(described).startswith(
            "s3://churn-bucket/feature-store/"
        ),
        "catalog": (
            offline["DataCatalogConfig"]["Catalog"],
            offline["DataCatalogConfig"]["Database"],
        ),  # fmt: skip
        "exists": feature_group_exists(sagemaker, name),
    }


def test_one_scenario_through_the_same_code_against_moto_and_the_twin(aws_env, fs):
    """moto leaves out the OnlineStoreConfig it was given and writes ResolvedOutputS3Uri without
    the /sagemaker/ segment AWS documents (<S3Uri>/<account>/sagemaker/<region>/offline-store/
    ...); neither is compared. A missing group is not compared either: moto's
    DescribeFeatureGroup fails with a KeyError (HTTP 500) where AWS answers ResourceNotFound."""
    on_moto = scenario(aws_client("sagemaker", aws_env), "scenario-group")
    assert scenario(fs.sagemaker_client(), "scenario-group") == on_moto
    assert on_moto["same description"] and on_moto["status"] == "Created"
    assert on_moto["arn shape"] == ["arn", "aws", "sagemaker", "feature-group/scenario-group"]


@pytest.mark.fast
def test_a_missing_group_is_resource_not_found_with_the_models_status(fs):
    """DescribeFeatureGroup's ResourceNotFound (API_DescribeFeatureGroup.html): sagemaker is a
    JSON-protocol service whose model gives its errors no status, so 400; the runtime's model
    gives GetRecord's ResourceNotFound 404. The twin answered 404 from both."""
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    assert not feature_group_exists(sm, "nobody")
    for call, status in (
        (lambda: sm.describe_feature_group(FeatureGroupName="nobody"), 400),
        (lambda: rt.get_record(FeatureGroupName="nobody", RecordIdentifierValueAsString="C1"), 404),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        answer = refused.value.response
        assert (answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"]) == (
            "ResourceNotFound",
            status,
        )


@pytest.mark.fast
def test_list_feature_groups_pages_through_botocores_paginator(fs):
    """get_paginator("list_feature_groups") is botocore's pagination config (NextToken,
    MaxResults) over the twin's ListFeatureGroups; pipelines/aws/ reads every page."""
    sm = fs.sagemaker_client()
    names = ["g%d" % i for i in range(3)]
    for name in names:
        sm.create_feature_group(**request_for(name))
    assert sm.can_paginate("list_feature_groups")
    pages = list(
        sm.get_paginator("list_feature_groups").paginate(
            SortBy="Name", SortOrder="Ascending", MaxResults=1
        )
    )
    assert [[g["FeatureGroupName"] for g in p["FeatureGroupSummaries"]] for p in pages] == [
        ["g0"],
        ["g1"],
        ["g2"],
    ]
    assert sorted(g["FeatureGroupName"] for g in list_feature_groups(sm)) == names
