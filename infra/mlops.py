"""The model registry and the roles that use it: the model package group and the SageMaker
Pipelines execution role (infra/roles.py)."""

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.roles import pipeline_execution_role


class MlopsStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, prefix, storage, group_name, images, **kwargs):
        """`storage`: the StorageStack (its bucket is addressed by name, its key by ARN)."""
        super().__init__(scope, id, **kwargs)
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=group_name,
            model_package_group_description="churn models that passed the AUC gate",
        )
        self.pipeline_role = pipeline_execution_role(
            self,
            "PipelineExecutionRole",
            bucket_name=storage.bucket_name,
            key=storage.key,
            prefix=prefix,
            group_name=group_name,
            images=images,
            region=self.region,
            account=self.account,
        )
        cdk.CfnOutput(self, "PipelineRoleArn", value=self.pipeline_role.role_arn)
