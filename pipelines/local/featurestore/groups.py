"""Feature groups: CreateFeatureGroup's rules beyond its model's constraints, and the
descriptions DescribeFeatureGroup returns."""

import re
import time
from typing import Any, Mapping, Optional

from botocore.exceptions import ClientError

from pipelines.local.arns import ACCOUNT, REGION, sagemaker_arn
from pipelines.local.featurestore.errors import client_error, validation

NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")
RESERVED_NAMES = ("is_deleted", "write_time", "api_invocation_time")
MAX_GROUPS = 100  # the account's soft limit
TTL_SECONDS = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}


def ttl_seconds(ttl: Optional[Mapping[str, Any]]) -> Optional[float]:
    return None if not ttl else ttl["Value"] * TTL_SECONDS[ttl["Unit"]]


def check_rules(request: Mapping[str, Any]) -> None:
    """CreateFeatureGroup's documented rules that name the member they refuse (ValidationError),
    for a request boto3 would send (botocore's parameter validation passed)."""
    op = "CreateFeatureGroup"
    name = request["FeatureGroupName"]
    if not NAME.match(name):
        raise validation(
            "FeatureGroupName %r must match [a-zA-Z0-9]([_-]*[a-zA-Z0-9]){0,63}" % name, op
        )
    types: dict[str, str] = {}
    lower: set[str] = set()
    for d in request["FeatureDefinitions"]:
        feature = d["FeatureName"]
        if not NAME.match(feature):
            raise validation(
                "FeatureName %r must match [a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}" % feature, op
            )
        if feature in RESERVED_NAMES:
            raise validation(
                "FeatureName %r is reserved: %s cannot be feature names"
                % (feature, ", ".join(RESERVED_NAMES)),
                op,
            )
        if feature.lower() in lower:
            raise validation("FeatureName %r is defined more than once" % feature, op)
        lower.add(feature.lower())
        if d.get("CollectionType"):
            raise validation(
                "feature %r: collection types (List, Set, Vector) are not supported by the "
                "local feature store" % feature,
                op,
            )
        types[feature] = d["FeatureType"]
    for field in ("RecordIdentifierFeatureName", "EventTimeFeatureName"):
        if request[field] not in types:
            raise validation(
                "%s %r is not one of the FeatureDefinitions" % (field, request[field]), op
            )
    if types[request["RecordIdentifierFeatureName"]] not in ("String", "Integral"):
        raise validation("the record identifier must be a String or Integral feature", op)
    if types[request["EventTimeFeatureName"]] not in ("String", "Fractional"):
        raise validation(
            "EventTimeFeatureName %r has type %s: an event time is Fractional (epoch seconds) "
            "or String (ISO-8601)"
            % (request["EventTimeFeatureName"], types[request["EventTimeFeatureName"]]),
            op,
        )


def new_description(request: Mapping[str, Any], now: Optional[float] = None) -> dict[str, Any]:
    """DescribeFeatureGroup's answer for a CreateFeatureGroup request the service accepts
    (ValidationError for the rules only a feature group has)."""
    op = "CreateFeatureGroup"
    name = request["FeatureGroupName"]
    online = request.get("OnlineStoreConfig") or {}
    offline = request.get("OfflineStoreConfig")
    if not online.get("EnableOnlineStore") and not offline:
        raise validation("a feature group needs an OnlineStoreConfig or an OfflineStoreConfig", op)
    if offline and not request.get("RoleArn"):
        raise validation("RoleArn is required with an OfflineStoreConfig", op)
    if offline and offline.get("TableFormat") == "Iceberg":
        raise validation("the local feature store writes the Glue table format only", op)
    created = int(now or time.time())
    description = dict(
        request,
        FeatureGroupArn=sagemaker_arn("feature-group", name),
        CreationTime=float(created),
        FeatureGroupStatus="Created",
    )
    if offline:
        uri = offline["S3StorageConfig"]["S3Uri"].rstrip("/")
        resolved = "%s/%s/sagemaker/%s/offline-store/%s-%d/data" % (
            uri,
            ACCOUNT,
            REGION,
            name,
            created,
        )
        # SageMaker names the Glue table when the request does not (API_OfflineStoreConfig).
        catalog = offline.get("DataCatalogConfig") or {
            "TableName": "%s_%d" % (name, created),
            "Catalog": "AwsDataCatalog",
            "Database": "sagemaker_featurestore",
        }
        description["OfflineStoreConfig"] = dict(
            offline,
            S3StorageConfig=dict(offline["S3StorageConfig"], ResolvedOutputS3Uri=resolved),
            DataCatalogConfig=catalog,
        )
        description["OfflineStoreStatus"] = {"Status": "Active"}
    return description


def in_use(name: str) -> ClientError:
    return client_error(
        "ResourceInUse",
        "Resource Already Exists: FeatureGroup with name %s already exists." % name,
        "CreateFeatureGroup",
    )


def too_many() -> ClientError:
    return client_error(
        "ResourceLimitExceeded",
        "the account's limit of %d feature groups is reached" % MAX_GROUPS,
        "CreateFeatureGroup",
    )
