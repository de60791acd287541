"""The data services: the feature group the Feature Store steps write and read (its request
from pipelines/churn/feature_group.py, the online store and the offline store encrypted with
the project's key), and the DataBrew dataset, recipe and recipe job that `churn databrew`
publishes by API (their requests from pipelines/churn/databrew.py), with DataBrew's role.

The recipe job runs the recipe's LATEST_WORKING version: CloudFormation creates a recipe but
cannot publish a numbered version of it."""

from typing import Any, Optional

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.mlops import MlopsStack
from infra.roles import arn, hand_written_role, s3_arn, use_key
from infra.storage import StorageStack
from pipelines.churn.databrew import databrew_requests
from pipelines.churn.feature_group import (
    feature_group_request,
    layout_of,
    offline_store_root,
)
from pipelines.errors import UserError
from processing.churn_schema import Schema


def has_record_identifier(schema: Schema) -> bool:
    try:
        layout_of(schema)
        return True
    except UserError:
        return False


class DataStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        storage: StorageStack,
        mlops: MlopsStack,
        schema: Schema,
        feature_group: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """`feature_group`: its name (None: the schema has no record identifier)."""
        super().__init__(scope, id, **kwargs)
        bucket, key_arn = storage.bucket_name, storage.key.key_arn
        self.feature_group: Optional[cdk.CfnResource] = None
        if feature_group and has_record_identifier(schema):  # it needs an id column
            request = feature_group_request(
                schema,
                feature_group,
                offline_store_root(bucket, prefix),
                mlops.pipeline_role.role_arn,
            )
            request["OnlineStoreConfig"]["SecurityConfig"] = {"KmsKeyId": key_arn}
            request["OfflineStoreConfig"]["S3StorageConfig"]["KmsKeyId"] = key_arn
            self.feature_group = cdk.CfnResource(
                self, "FeatureGroup", type="AWS::SageMaker::FeatureGroup", properties=request
            )
        statements = [
            iam.PolicyStatement(
                sid="ReadRawWritePrepared",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[s3_arn(bucket, "%s/*" % prefix)],
            ),
            iam.PolicyStatement(
                sid="ListProjectPrefix",
                actions=["s3:ListBucket"],
                resources=[s3_arn(bucket)],
                conditions={"StringLike": {"s3:prefix": ["%s/*" % prefix]}},
            ),
            use_key(key_arn),
            iam.PolicyStatement(
                sid="JobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    arn("logs", self.region, self.account, "log-group:/aws-glue-databrew/*")
                ],
            ),
        ]
        role = hand_written_role(
            self,
            "DataBrewRole",
            "databrew.amazonaws.com",
            statements,
            "DataBrew's %s recipe job" % prefix,
            "scoped to the project's prefix of the bucket and DataBrew's own log groups",
        )
        requests = databrew_requests(
            schema,
            "s3://%s/%s/data/" % (bucket, prefix),
            "s3://%s/%s/databrew/prepared/" % (bucket, prefix),
            role.role_arn,
            prefix=prefix,
        )
        self.dataset = cdk.CfnResource(
            self, "Dataset", type="AWS::DataBrew::Dataset", properties=requests["dataset"]
        )
        self.recipe = cdk.CfnResource(
            self, "Recipe", type="AWS::DataBrew::Recipe", properties=requests["recipe"]
        )
        job = dict(requests["job"])
        job.update(
            Type="RECIPE",
            Recipe={"Name": job.pop("RecipeReference")["Name"], "Version": "LATEST_WORKING"},
            EncryptionMode="SSE-KMS",
            EncryptionKeyArn=key_arn,
        )
        self.job = cdk.CfnResource(self, "RecipeJob", type="AWS::DataBrew::Job", properties=job)
        self.job.node.add_dependency(self.dataset, self.recipe)
        self.role = role
