"""The churn feature group on AWS: created when missing and waited for, or refused when a group of
that name holds other features (records written for one would not fit the other)."""

import time
from typing import Any, Callable, Optional, Sequence

from pipelines.aws.errors import aws_errors
from pipelines.errors import UserError

SAME_FIELDS = ("RecordIdentifierFeatureName", "EventTimeFeatureName", "FeatureDefinitions")


def ensure_feature_group(
    client: Any,
    request: dict[str, Any],
    timeout: float = 900,
    poll: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """DescribeFeatureGroup of request's group (a boto3 `sagemaker` client or the twin's),
    after CreateFeatureGroup when it does not exist, once its status is Created."""
    from botocore.exceptions import ClientError

    name = request["FeatureGroupName"]
    with aws_errors("feature group %s: " % name):
        try:  # create first: one call when it is new, ResourceInUse when it exists
            client.create_feature_group(**request)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceInUse":
                raise
        description = describe_feature_group(client, name)
        deadline = time.time() + timeout
        while description.get("FeatureGroupStatus") == "Creating" and time.time() < deadline:
            sleep(poll)
            description = describe_feature_group(client, name)
    status = description.get("FeatureGroupStatus")
    if status not in (None, "Created"):
        raise UserError(
            "feature group %s is %s%s"
            % (
                name,
                status,
                ": " + description["FailureReason"] if description.get("FailureReason") else "",
            )
        )
    if any(description.get(f) != request[f] for f in SAME_FIELDS):
        raise UserError(
            "feature group %s holds other features than this schema implies; delete it "
            "(churn features delete-group --feature-group %s) or name another" % (name, name)
        )
    return description


def offline_store_uri(description: dict[str, Any]) -> str:
    """The group's offline store prefix (ResolvedOutputS3Uri), with a trailing / so an S3Prefix
    input takes the folder."""
    storage = (description.get("OfflineStoreConfig") or {}).get("S3StorageConfig") or {}
    uri = storage.get("ResolvedOutputS3Uri") or storage.get("S3Uri")
    if not uri:
        raise UserError("feature group %s has no offline store" % description["FeatureGroupName"])
    return uri.rstrip("/") + "/"


def describe_feature_group(client: Any, name: str) -> dict[str, Any]:
    """DescribeFeatureGroup's answer (a `sagemaker` client, boto3's or the twin's), without
    boto3's ResponseMetadata."""
    with aws_errors("feature group %s: " % name):
        description: dict[str, Any] = client.describe_feature_group(FeatureGroupName=name)
    description.pop("ResponseMetadata", None)
    return description


def feature_group_exists(client: Any, name: str) -> bool:
    """Whether DescribeFeatureGroup finds the group (ResourceNotFound: it does not)."""
    from botocore.exceptions import ClientError

    with aws_errors("feature group %s: " % name):
        try:
            client.describe_feature_group(FeatureGroupName=name)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ResourceNotFound":
                raise
            return False
    return True


def list_feature_groups(client: Any) -> list[dict[str, Any]]:
    """Every FeatureGroupSummary, through every page (AWS's default page size is not
    documented)."""
    summaries: list[dict[str, Any]] = []
    with aws_errors():
        for page in client.get_paginator("list_feature_groups").paginate():
            summaries += page["FeatureGroupSummaries"]
    return summaries


def delete_feature_group(client: Any, name: str) -> None:
    with aws_errors("feature group %s: " % name):
        client.delete_feature_group(FeatureGroupName=name)


def put_records(
    runtime: Any,
    group: str,
    records: Sequence[list[dict[str, str]]],
    workers: int,
    refused: Callable[[int, Exception], BaseException],
) -> None:
    """PutRecord of each of `records` (Record lists) on `workers` threads (a
    `sagemaker-featurestore-runtime` client). A record the service refuses raises
    refused(index, its ClientError)."""
    from concurrent.futures import ThreadPoolExecutor

    from botocore.exceptions import ClientError

    def put(index: int) -> None:
        try:
            runtime.put_record(FeatureGroupName=group, Record=records[index])
        except ClientError as e:
            raise refused(index, e) from None

    with aws_errors("feature group %s: " % group):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done in [pool.submit(put, i) for i in range(len(records))]:
                done.result()


def online_record(
    runtime: Any, group: str, customer_id: str, feature_names: Optional[list[str]] = None
) -> dict[str, str]:
    """{feature: value} of a customer's online record (GetRecord), or a UserError saying why
    there is none."""
    request: dict[str, Any] = {
        "FeatureGroupName": group,
        "RecordIdentifierValueAsString": customer_id,
    }
    if feature_names:
        request["FeatureNames"] = feature_names
    with aws_errors("feature group %s: " % group):
        answer = runtime.get_record(**request)
    if "Record" not in answer:
        raise UserError(
            "no record for customer %s in feature group %s (never ingested, deleted, or "
            "expired by its TTL)" % (customer_id, group)
        )
    return {v["FeatureName"]: v["ValueAsString"] for v in answer["Record"]}


def delete_record(
    runtime: Any, group: str, record_id: str, event_time: str, hard: bool = False
) -> None:
    """DeleteRecord: a HardDelete, or a SoftDelete (the default)."""
    with aws_errors("feature group %s: " % group):
        runtime.delete_record(
            FeatureGroupName=group,
            RecordIdentifierValueAsString=record_id,
            EventTime=event_time,
            DeletionMode="HardDelete" if hard else "SoftDelete",
        )
