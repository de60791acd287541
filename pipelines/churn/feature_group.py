"""The churn feature group as plain data: the CreateFeatureGroup request a schema implies, for
AWS and the local twin alike (the definitions come from processing/churn_features.py, which the
ingest and dataset jobs use too).

    feature_group_request(schema, name, offline_uri, role, ttl_days=None)
"""

from typing import Any, Optional

from pipelines.errors import UserError

# processing's table and recipe modules import pandas or numpy: they are imported in the
# functions that use them, so a command that reads no table starts about 0.4 s sooner.

DEFAULT_NAME = "churn-customers"
OFFLINE_FOLDER = "feature-store"  # s3://<bucket>/<prefix>/feature-store: the offline store
LOCAL_ROLE = "arn:aws:iam::000000000000:role/FeatureStoreRole"  # the twin checks no roles


def layout_of(schema: Any) -> Any:
    """The schema's feature group layout, or a UserError naming what to change."""
    from processing.churn_features import FeatureGroupError, definitions

    try:
        return definitions(schema)
    except FeatureGroupError as e:
        raise UserError(str(e)) from None


def offline_store_root(bucket: str, prefix: str) -> str:
    """Where a pipeline's feature groups keep their offline stores: s3://<bucket>/<prefix>/
    feature-store (SageMaker adds <account>/sagemaker/<region>/offline-store/<group>-<time>)."""
    return "s3://%s/%s/%s" % (bucket, prefix.strip("/"), OFFLINE_FOLDER)


def feature_group_request(
    schema: Any, name: str, offline_uri: str, role: str, ttl_days: Optional[float] = None
) -> dict[str, Any]:
    """CreateFeatureGroup's request: record identifier and types from the schema, a Fractional
    event time, the online store on (with a TTL when given) and the offline store under
    `offline_uri` in the Glue table format."""
    layout = layout_of(schema)
    online: dict[str, Any] = {"EnableOnlineStore": True}
    if ttl_days:
        online["TtlDuration"] = {"Unit": "Days", "Value": int(ttl_days)}
    return {
        "FeatureGroupName": name,
        "RecordIdentifierFeatureName": layout.record_identifier,
        "EventTimeFeatureName": layout.event_time,
        "FeatureDefinitions": layout.feature_definitions(),
        "OnlineStoreConfig": online,
        "OfflineStoreConfig": {
            "S3StorageConfig": {"S3Uri": offline_uri},
            "TableFormat": "Glue",
        },
        "RoleArn": role,
        "Description": ("churn features of schema %s" % schema.name)[:128],
    }
