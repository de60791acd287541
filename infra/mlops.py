"""The model registry, the pipeline and the role they run as: the model package group, the
SageMaker Pipelines execution role (infra/roles.py) and the pipeline itself, its definition from
get_pipeline() with the project's bucket, key and (in VPC mode) subnets.

CodeBuild upserts the same pipeline on every commit (codebuild-buildspec.yml) with that commit's
code; the stack creates it so that the alarms, the workflows and the roles name an existing
pipeline from the first deploy. Its first execution needs the code bundles in S3, which the
first CodeBuild run (or `run-pipeline --config-prefix`) uploads."""

import json
from collections.abc import Sequence
from typing import Any, Optional, Union

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.network import NetworkStack
from infra.roles import arn, pipeline_execution_role, pipeline_role_name
from infra.stage_roles import package_group_policy
from infra.storage import StorageStack
from pipelines.churn.pipeline import get_pipeline
from pipelines.churn.schema_source import SchemaSource


class MlopsStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        storage: StorageStack,
        group_name: str,
        images: Sequence[str],
        schema: Union[str, SchemaSource] = "seed",
        pipeline_name: str = "ChurnPipeline",
        network: Optional[NetworkStack] = None,
        feature_group: Optional[str] = None,
        reader_accounts: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        """`storage`: the StorageStack (its bucket is addressed by name, its key by ARN);
        `network`: the NetworkStack in VPC mode; `feature_group`: the name the jobs may write;
        `reader_accounts`: the stage accounts that deploy its versions (infra/stage_roles.py)."""
        super().__init__(scope, id, **kwargs)
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=group_name,
            model_package_group_description="churn models that passed the AUC gate",
        )
        if reader_accounts:
            group = group_name.lower()
            self.group.model_package_group_policy = package_group_policy(
                arn("sagemaker", self.region, self.account, "model-package-group/%s" % group),
                arn("sagemaker", self.region, self.account, "model-package/%s/*" % group),
                reader_accounts,
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
            network=network,
            feature_group=feature_group,
        )
        more: dict[str, Any] = {}  # get_pipeline keywords: the VPC's
        if network:
            more.update(
                subnets=network.subnet_ids,
                security_group_ids=[network.security_group.security_group_id],
            )
        role_arn = arn("iam", "", self.account, "role/%s" % pipeline_role_name(prefix))
        definition = get_pipeline(
            self.region,
            role=role_arn,
            default_bucket=storage.bucket_name,
            model_package_group_name=group_name,
            pipeline_name=pipeline_name,
            base_job_prefix=prefix,
            upload_code=False,
            schema=schema,
            volume_kms_key=storage.key.key_arn,
            output_kms_key=storage.key.key_arn,
            **more,
        ).definition()
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_definition={"PipelineDefinitionBody": definition},
            role_arn=self.pipeline_role.role_arn,
            pipeline_description="churn: validate, preprocess, train, evaluate, register",
        )
        self.pipeline.node.add_dependency(self.group)
        self.definition = json.loads(definition)
        cdk.CfnOutput(self, "PipelineRoleArn", value=self.pipeline_role.role_arn)
