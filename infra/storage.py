"""The key and the buckets: a KMS key (rotation on) that encrypts the artifact bucket, and the
bucket itself (SSE-KMS with that key and bucket keys, versioned, all public access blocked,
TLS-only, server access logs to a log bucket, lifecycle rules), with the log bucket beside it."""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

# Prefixes under the artifact bucket, as the pipeline and the workflows write them.
CAPTURE_PREFIX = "%s/capture/"  # of the prefix


class StorageStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str = "churn",
        capture_days: int = 365,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        # Access-log delivery granted by bucket policy, not the legacy LogDeliveryWrite ACL.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        # A name of its own (account and region make it unique), so other stacks and the
        # commands address it by name, and IAM policies name it in plain ARNs.
        self.bucket_name = "%s-artifacts-%s-%s" % (prefix, self.account, self.region)
        self.key = kms.Key(
            self,
            "Key",
            alias="alias/%s" % prefix,
            description="Encrypts the %s artifacts: data, models, capture, reports" % prefix,
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # Server access logs cannot go to an SSE-KMS bucket: S3-managed keys there.
        self.logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,  # no ACLs at all
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-logs",
                    expiration=cdk.Duration.days(365),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Artifacts",
            bucket_name=self.bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.logs,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="capture-to-infrequent-access",
                    prefix=CAPTURE_PREFIX % prefix,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(30),
                        )
                    ],
                    expiration=cdk.Duration.days(capture_days),
                ),
                s3.LifecycleRule(
                    id="noncurrent-versions", noncurrent_version_expiration=cdk.Duration.days(30)
                ),
                s3.LifecycleRule(
                    id="incomplete-uploads",
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                ),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cdk.CfnOutput(self, "BucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "KeyArn", value=self.key.key_arn)
