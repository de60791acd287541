"""The workflows on AWS: the state machines of pipelines/churn/workflows.py (their ASL as the
code generates it), logging every event (without execution data) to CloudWatch Logs encrypted
with the project's key, X-Ray tracing on, a role written by hand for what their states call,
and the EventBridge rule that starts *deploy* when a model package of the group is Approved."""

import json
from typing import Any, Optional, Union

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.cfn import cfn_resource
from infra.mlops import MlopsStack
from infra.network import NetworkStack
from infra.roles import PARTITION, acknowledge_wildcards, arn
from infra.storage import StorageStack
from pipelines.churn.bundles import build_bundles
from pipelines.churn.images import model_monitor_image
from pipelines.churn.pipeline import xgboost_image
from pipelines.churn.schema_source import SchemaSource
from pipelines.churn.workflows import WorkflowSettings, definition, training_labels


def in_partition(asl: str) -> str:
    """The ASL with its service integrations' ARNs (arn:aws:states:::sagemaker:..., which the
    generator writes for the aws partition) in the stack's partition."""
    return asl.replace('"arn:aws:', '"arn:%s:' % PARTITION)


class WorkflowStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        storage: StorageStack,
        mlops: MlopsStack,
        group_name: str,
        pipeline_name: str = "ChurnPipeline",
        endpoint_name: str = "churn",
        schema: Union[str, SchemaSource] = "seed",
        databrew_job: str = "",
        network: Optional[NetworkStack] = None,
        **kwargs: Any,
    ) -> None:
        """`network`: the NetworkStack in VPC mode (the models and direct's training in it)."""
        super().__init__(scope, id, **kwargs)
        region, account = self.region, self.account
        base = "s3://%s/%s" % (storage.bucket_name, prefix)
        deploy_name = "%s-deploy" % prefix
        source = schema if isinstance(schema, SchemaSource) else SchemaSource(schema)
        bundles = build_bundles(source.user_file)  # direct's code, as run-pipeline uploads it
        settings = WorkflowSettings(
            pipeline_name=pipeline_name,
            model_package_group=group_name,
            endpoint_name=endpoint_name,
            role_arn=mlops.pipeline_role.role_arn,
            input_data_url=base + "/data/",
            capture_uri=base + "/capture",
            monitoring_output_uri=base + "/monitoring",
            deploy_state_machine_arn=arn("states", region, account, "stateMachine:" + deploy_name),
            databrew_job=databrew_job,
            monitor_image=model_monitor_image(region),
            training_image=xgboost_image(region),
            training_code_uri=bundles["training"].uri(storage.bucket_name, prefix),
            inference_code_uri=bundles["inference"].uri(storage.bucket_name, prefix),
            model_output_uri=base + "/models",
            kms_key=storage.key.key_arn,
            subnets=network.subnet_ids if network else [],
            security_group_ids=[network.security_group.security_group_id] if network else [],
            **training_labels(source.schema),
        )
        role = iam.Role(
            self,
            "StatesRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="runs the %s workflows (least privilege)" % prefix,
        )
        self.role = role
        statements = self._statements(settings, prefix, group_name, deploy_name, mlops)
        # Endpoint configs and direct's training name the key: SageMaker takes a grant on it.
        statements += [
            iam.PolicyStatement(
                sid="GrantTheKeyToSageMaker",
                actions=["kms:CreateGrant"],
                resources=[storage.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": True}},
            ),
            iam.PolicyStatement(
                sid="DescribeTheKey", actions=["kms:DescribeKey"], resources=[storage.key.key_arn]
            ),
        ]
        for statement in statements:
            role.add_to_policy(statement)
        # The executions' logs are encrypted with the project's key; CloudWatch Logs may use it
        # for these log groups only.
        log_prefix = "/aws/vendedlogs/states/%s-" % prefix
        storage.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="StateMachineLogs",
                principals=[iam.ServicePrincipal("logs.%s.amazonaws.com" % region)],
                actions=[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                    "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:DescribeKey",
                ],
                resources=["*"],  # in a key policy, "*" is the key itself
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": arn(
                            "logs", region, account, "log-group:%s*" % log_prefix
                        )
                    }
                },
            )
        )
        self.machines: dict[str, sfn.StateMachine] = {}
        for name in ("deploy", "train-and-deploy", "direct"):
            machine_name = "%s-%s" % (prefix, name)
            log_group = logs.LogGroup(
                self,
                "%sLogs" % name.title().replace("-", ""),
                log_group_name="/aws/vendedlogs/states/%s" % machine_name,
                retention=logs.RetentionDays.ONE_YEAR,
                removal_policy=cdk.RemovalPolicy.RETAIN,
                encryption_key=storage.key,
            )
            self.machines[name] = sfn.StateMachine(
                self,
                name.title().replace("-", ""),
                state_machine_name=machine_name,
                definition_body=sfn.DefinitionBody.from_string(
                    in_partition(json.dumps(definition(name, settings)))
                ),
                role=role,
                tracing_enabled=True,
                logs=sfn.LogOptions(
                    destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
                ),
            )
        # CDK makes each machine depend on the role and its policy; the role's is already
        # implied by RoleArn (cfn-lint W3005), the policy's is the one that matters.
        policy = cfn_resource(role.node.find_child("DefaultPolicy"))
        for machine in self.machines.values():
            cfn_resource(machine).add_override("DependsOn", [self.get_logical_id(policy)])
        # Approved in the registry -> deploy, with the event as its input.
        self.rule = events.Rule(
            self,
            "OnApproval",
            description="a %s model package Approved starts %s" % (group_name, deploy_name),
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [group_name], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[targets.SfnStateMachine(self.machines["deploy"])],
        )
        acknowledge_wildcards(
            role,
            [r for s in statements for r in s.resources] + ["*"],
            "scoped to the workflow's own names: models and endpoint configs <endpoint>-<8 "
            "hex>, the deploy machine's executions, the versions of one model package group, "
            "the pipeline's executions, the training jobs <endpoint>-<8 hex>",
        )

    @staticmethod
    def _statements(
        s: WorkflowSettings, prefix: str, group_name: str, deploy_name: str, mlops: MlopsStack
    ) -> list[iam.PolicyStatement]:
        stack_region, account = cdk.Stack.of(mlops).region, cdk.Stack.of(mlops).account

        def sm(resource: str) -> str:
            return arn("sagemaker", stack_region, account, resource)

        endpoint, group = s.endpoint_name, group_name.lower()
        return [
            iam.PolicyStatement(
                sid="Deploy",
                actions=[
                    "sagemaker:CreateModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:CreateEndpoint",
                    "sagemaker:UpdateEndpoint",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:AddTags",
                ],
                resources=[
                    sm("model/%s-*" % endpoint),
                    sm("endpoint-config/%s-*" % endpoint),
                    sm("endpoint/%s" % endpoint),
                ],
            ),
            iam.PolicyStatement(
                sid="Monitoring",
                actions=[
                    "sagemaker:DescribeMonitoringSchedule",
                    "sagemaker:CreateMonitoringSchedule",
                    "sagemaker:UpdateMonitoringSchedule",
                ],
                resources=[sm("monitoring-schedule/%s-data-quality-hourly" % endpoint)],
            ),
            iam.PolicyStatement(
                sid="Registry",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[sm("model-package/%s/*" % group)],
            ),
            iam.PolicyStatement(
                sid="ListPackages", actions=["sagemaker:ListModelPackages"], resources=["*"]
            ),
            iam.PolicyStatement(
                sid="Pipeline",
                actions=["sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution"],
                resources=[
                    sm("pipeline/%s" % s.pipeline_name.lower()),
                    sm("pipeline/%s/execution/*" % s.pipeline_name.lower()),
                ],
            ),
            iam.PolicyStatement(
                sid="Training",
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                ],
                resources=[sm("training-job/%s-*" % endpoint)],
            ),
            iam.PolicyStatement(
                sid="DataBrew",
                actions=["databrew:StartJobRun", "databrew:ListJobRuns", "databrew:StopJobRun"],
                resources=[arn("databrew", stack_region, account, "job/%s-prepare" % prefix)],
            ),
            iam.PolicyStatement(
                sid="NestedDeploy",
                actions=["states:StartExecution"],
                resources=[arn("states", stack_region, account, "stateMachine:" + deploy_name)],
            ),
            iam.PolicyStatement(
                sid="NestedDeployWait",
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[arn("states", stack_region, account, "execution:%s:*" % deploy_name)],
            ),
            # .sync integrations learn of the end of a job or execution through these rules.
            iam.PolicyStatement(
                sid="SyncRules",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    arn("events", stack_region, account, "rule/" + rule)
                    for rule in (
                        "StepFunctionsGetEventsForStepFunctionsExecutionRule",
                        "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="PassSageMakerRole",
                actions=["iam:PassRole"],
                resources=[mlops.pipeline_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        ]
