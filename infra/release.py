"""From an approved model to production, as AWS's model-deploy project template does it: a
CodePipeline started when a version of the group is Approved (an EventBridge rule) and on a
commit, with the stages

    Source -> Build -> DeployStaging -> TestStaging -> ApproveProd -> DeployProd

Build synthesizes the stage stacks (infra/stage.py) for the group's newest Approved version
(`python -m pipelines.aws.release_context` gives the context), so staging and prod deploy the
same templates of the same version; CloudFormation deploys each stage's stack with a role that
may manage only that stage's SageMaker, scaling and alarm resources and pass only its roles;
TestStaging runs `python -m pipelines.aws.stage_test`, a smoke and load test against the
staging endpoint that fails the pipeline on an error or a p99 latency over budget (the same
code `churn release` runs locally); a person approves prod; prod's endpoint takes the version
with blue/green traffic shifting and rolls back on its alarms.

Roles are written by hand (infra/roles.py) and closed to CDK's grant helpers."""

from collections.abc import Sequence
from typing import Any, Optional

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.ci import (
    build_basics,
    build_logs,
    hand_written_pipeline,
    source_action,
    source_statements,
)
from infra.roles import arn, hand_written_role, s3_arn, use_key
from infra.stage import StageSettings
from infra.stage_roles import (
    Models,
    deploy_stages_statement,
    deploy_statements,
    deployer_role_name,
    release_action_role_name,
    release_artifacts,
    release_pipeline_role_name,
    stage_name,
)
from infra.storage import StorageStack

# The staging test's load and budget (pipelines/aws/stage_test.py).
TEST_REQUESTS = 500
TEST_CONCURRENCY = 8
TEST_P99_MS = 300

ROLE_SCOPE = (
    "scoped to this pipeline's artifacts (<bucket>/<pipeline>/*), the stages' own names "
    "(<prefix>-<stage>-*: models, endpoint configs, data-quality job definitions, alarms) "
    "and the model package group's versions"
)


class ReleaseStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        storage: StorageStack,
        group_name: str,
        stages: Sequence[StageSettings],
        accounts: dict[str, str],
        models: Models,
        repository: str,
        synth_context: dict[str, str],
        schema: str = "seed",
        branch: str = "main",
        connection_arn: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """`accounts`: {stage: the account it is deployed in} (this one's, or one of its own:
        infra/stage_roles.py); `synth_context`: the context the build synthesizes the app with
        (prefix, account, region, schema, ...), to which it adds the release's; `schema`: the
        stage test's rows."""
        super().__init__(scope, id, **kwargs)
        region, account = self.region, self.account
        name = "%s-release" % prefix
        key = kms.Key.from_key_arn(self, "Key", storage.key.key_arn)
        bucket = s3.Bucket.from_bucket_attributes(
            self, "Artifacts", bucket_name=storage.bucket_name, encryption_key=key
        )
        artifacts = s3_arn(storage.bucket_name, "%s/*" % release_artifacts(prefix))

        def action_role(stage: str) -> Optional[str]:
            """The release action role in the stage's own account, or None in this one."""
            if accounts[stage] == account:
                return None
            return arn("iam", "", accounts[stage], "role/%s" % release_action_role_name(prefix))

        group = group_name.lower()  # SageMaker writes names lower-case in ARNs
        log_group = build_logs(self, name, key)

        def codebuild_statements() -> list[iam.PolicyStatement]:
            return build_basics(log_group, artifacts, storage.key.key_arn)

        synth = " ".join("-c %s=%s" % kv for kv in sorted(synth_context.items()))
        build_role = hand_written_role(
            self,
            "BuildRole",
            "codebuild.amazonaws.com",
            codebuild_statements()
            + [
                iam.PolicyStatement(
                    sid="FindTheApprovedVersion",
                    actions=["sagemaker:ListModelPackages"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="ReadTheVersion",
                    actions=["sagemaker:DescribeModelPackage"],
                    resources=[arn("sagemaker", region, account, "model-package/%s/*" % group)],
                ),
            ],
            "synthesizes %s's stage templates" % name,
            ROLE_SCOPE,
        )
        build = self._project(
            "Build",
            "%s-build" % name,
            "the stage templates for the newest approved version",
            build_role,
            key,
            log_group,
            {
                "phases": {
                    "install": {
                        "runtime-versions": {"python": "3.11", "nodejs": "20"},
                        "commands": ['python -m pip install --quiet ".[dev]"'],
                    },
                    "build": {
                        "commands": [
                            "set -eo pipefail",
                            "release=$(python -m pipelines.aws.release_context --group %s)"
                            % group_name,
                            'echo "releasing: $release"',
                            "python -m infra.app --outdir cdk.out %s $release" % synth,
                        ]
                    },
                },
                "artifacts": {
                    "base-directory": "cdk.out",
                    "files": ["%s.template.json" % stage_name(prefix, s.name) for s in stages],
                },
            },
        )
        staging = stage_name(prefix, stages[0].name)
        staging_action = action_role(stages[0].name)
        # The stage test invokes staging; in staging's own account, as its release action role.
        invoke = (
            iam.PolicyStatement(
                sid="ActInStaging", actions=["sts:AssumeRole"], resources=[staging_action]
            )
            if staging_action
            else iam.PolicyStatement(
                sid="InvokeStaging",
                actions=["sagemaker:InvokeEndpoint"],
                resources=[arn("sagemaker", region, account, "endpoint/%s" % staging)],
            )
        )
        test_role = hand_written_role(
            self,
            "TestRole",
            "codebuild.amazonaws.com",
            codebuild_statements() + [invoke],
            "tests %s's staging endpoint" % name,
            ROLE_SCOPE,
        )
        test_command = (
            "python -m pipelines.aws.stage_test --endpoint-name %s --region %s --schema %s "
            "--requests %d --concurrency %d --p99-ms %d"
            % (staging, region, schema, TEST_REQUESTS, TEST_CONCURRENCY, TEST_P99_MS)
        )
        if staging_action:
            test_command += " --assume-role-arn %s" % staging_action
        test = self._project(
            "Test",
            "%s-test-staging" % name,
            "a smoke and load test of the staging endpoint",
            test_role,
            key,
            log_group,
            {
                "phases": {
                    "install": {
                        "runtime-versions": {"python": "3.11"},
                        "commands": ['python -m pip install --quiet "."'],
                    },
                    "build": {"commands": [test_command]},
                },
            },
        )
        here = [s.name for s in stages if accounts[s.name] == account]
        elsewhere = [a for a in (action_role(s.name) for s in stages) if a]
        pipeline_statements = [
            iam.PolicyStatement(
                sid="Artifacts", actions=["s3:GetObject", "s3:PutObject"], resources=[artifacts]
            ),
            use_key(storage.key.key_arn),
            iam.PolicyStatement(
                sid="RunTheBuilds",
                actions=["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                resources=[
                    arn("codebuild", region, account, "project/%s" % p)
                    for p in ("%s-build" % name, "%s-test-staging" % name)
                ],
            ),
        ] + source_statements(repository, connection_arn, region, account)
        self.deploy_role: Optional[iam.Role] = None
        if here:  # CloudFormation deploys this account's stages with the stage deployer
            self.deploy_role = hand_written_role(
                self,
                "DeployRole",
                "cloudformation.amazonaws.com",
                deploy_statements(prefix, here, storage.key.key_arn, models, region, account),
                "deploys %s's stage stacks" % prefix,
                ROLE_SCOPE,
                role_name=deployer_role_name(prefix),
            )
            pipeline_statements += [
                deploy_stages_statement(prefix, here, region, account),
                iam.PolicyStatement(
                    sid="PassTheDeployRole",
                    actions=["iam:PassRole"],
                    resources=[self.deploy_role.role_arn],
                    conditions={
                        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
                    },
                ),
            ]
        if elsewhere:  # the stages in accounts of their own, through their action roles
            pipeline_statements.append(
                iam.PolicyStatement(
                    sid="ActInTheStageAccounts", actions=["sts:AssumeRole"], resources=elsewhere
                )
            )
        pipeline_role_itself = hand_written_role(
            self,
            "PipelineRole",
            "codepipeline.amazonaws.com",
            pipeline_statements,
            "runs %s" % name,
            ROLE_SCOPE,
            role_name=release_pipeline_role_name(prefix),  # stage accounts trust it by name
        )
        pipeline_role = pipeline_role_itself.without_policy_updates()
        source_output = codepipeline.Artifact("Source")
        templates = codepipeline.Artifact("Templates")

        def deploy(stage: StageSettings) -> actions.CloudFormationCreateUpdateStackAction:
            stack = stage_name(prefix, stage.name)
            acting = action_role(stage.name)
            if acting is None:
                assert self.deploy_role is not None
                role, deployer = pipeline_role, self.deploy_role.without_policy_updates()
            else:  # in the stage's account: its action role, its stage deployer
                there, title = accounts[stage.name], stage.name.title()

                def role_in_stage_account(id: str, name: str) -> iam.IRole:
                    # Fn::Sub, as cfn-lint wants it in an action's configuration (E3703)
                    sub = cdk.Fn.sub("arn:${AWS::Partition}:iam::%s:role/%s" % (there, name))
                    return iam.Role.from_role_arn(self, id, sub, mutable=False)

                role = role_in_stage_account(title + "Action", release_action_role_name(prefix))
                deployer = role_in_stage_account(title + "Deployer", deployer_role_name(prefix))
            return actions.CloudFormationCreateUpdateStackAction(
                action_name="Deploy",
                stack_name=stack,
                template_path=templates.at_path("%s.template.json" % stack),
                admin_permissions=False,
                deployment_role=deployer,
                role=role,
            )

        stage_props = [
            codepipeline.StageProps(
                stage_name="Source",
                actions=[
                    source_action(
                        self, name, repository, branch, connection_arn, source_output, pipeline_role
                    )
                ],
            ),
            codepipeline.StageProps(
                stage_name="Build",
                actions=[
                    actions.CodeBuildAction(
                        action_name="Synthesize",
                        project=build,
                        input=source_output,
                        outputs=[templates],
                        role=pipeline_role,
                    )
                ],
            ),
            codepipeline.StageProps(stage_name="DeployStaging", actions=[deploy(stages[0])]),
            codepipeline.StageProps(
                stage_name="TestStaging",
                actions=[
                    actions.CodeBuildAction(
                        action_name="SmokeAndLoad",
                        project=test,
                        input=source_output,
                        role=pipeline_role,
                    )
                ],
            ),
        ]
        for stage in stages[1:]:
            stage_props += [
                codepipeline.StageProps(
                    stage_name="Approve%s" % stage.name.title(),
                    actions=[
                        actions.ManualApprovalAction(
                            action_name="Approve",
                            additional_information="staging passed its smoke and load test: "
                            "promote the version to %s?" % stage_name(prefix, stage.name),
                            role=pipeline_role,
                        )
                    ],
                ),
                codepipeline.StageProps(
                    stage_name="Deploy%s" % stage.name.title(), actions=[deploy(stage)]
                ),
            ]
        self.pipeline = hand_written_pipeline(
            self, name, bucket, pipeline_role_itself, pipeline_role, stage_props
        )
        # Approved in the registry -> a release, as the model-deploy template's rule does.
        approval_role = hand_written_role(
            self,
            "ApprovalEventsRole",
            "events.amazonaws.com",
            [
                iam.PolicyStatement(
                    sid="StartTheRelease",
                    actions=["codepipeline:StartPipelineExecution"],
                    resources=[arn("codepipeline", region, account, name)],
                )
            ],
            "starts %s when a version is approved" % name,
            ROLE_SCOPE,
        )
        self.rule = events.Rule(
            self,
            "OnApproval",
            rule_name="%s-on-approval" % name,
            description="an Approved %s version starts %s" % (group_name, name),
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [group_name], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[
                targets.CodePipeline(
                    self.pipeline, event_role=approval_role.without_policy_updates()
                )
            ],
        )

    def _project(
        self,
        id: str,
        project_name: str,
        description: str,
        role: iam.Role,
        key: kms.IKey,
        log_group: logs.ILogGroup,
        spec: dict[str, Any],
    ) -> codebuild.PipelineProject:
        return codebuild.PipelineProject(
            self,
            id,
            project_name=project_name,
            description=description,
            build_spec=codebuild.BuildSpec.from_object(dict({"version": "0.2"}, **spec)),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
            ),
            encryption_key=key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)
            ),
            role=role.without_policy_updates(),
            timeout=cdk.Duration.hours(1),
        )
