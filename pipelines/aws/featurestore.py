"""The churn feature group on AWS: created when missing and waited for, or refused when a group of
that name holds other features (records written for one would not fit the other)."""

import time

from pipelines.aws.errors import aws_errors
from pipelines.errors import UserError

SAME_FIELDS = ("RecordIdentifierFeatureName", "EventTimeFeatureName", "FeatureDefinitions")


def ensure_feature_group(client, request, timeout=900, poll=5.0, sleep=time.sleep):
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
        description = client.describe_feature_group(FeatureGroupName=name)
        deadline = time.time() + timeout
        while description.get("FeatureGroupStatus") == "Creating" and time.time() < deadline:
            sleep(poll)
            description = client.describe_feature_group(FeatureGroupName=name)
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


def offline_store_uri(description):
    """The group's offline store prefix (ResolvedOutputS3Uri), with a trailing / so an S3Prefix
    input takes the folder."""
    storage = (description.get("OfflineStoreConfig") or {}).get("S3StorageConfig") or {}
    uri = storage.get("ResolvedOutputS3Uri") or storage.get("S3Uri")
    if not uri:
        raise UserError("feature group %s has no offline store" % description["FeatureGroupName"])
    return uri.rstrip("/") + "/"
