"""From a commit to a pipeline execution: CodePipeline takes the repository (a CodeStar
connection to GitHub, GitLab or Bitbucket, or a CodeCommit repository) and hands it to CodeBuild,
which runs codebuild-buildspec.yml: lint, the tests, then `run-pipeline --config-prefix`, which
uploads the code, upserts the SageMaker pipeline and starts it with the names this app wrote to
Parameter Store.

Both roles are written by hand and closed to CDK's grant helpers (`without_policy_updates`):
those would add s3:GetObject*-style wildcard actions and grants on every artifact."""

from collections.abc import Sequence
from typing import Any, Optional

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.cfn import cfn_resource
from infra.mlops import MlopsStack
from infra.roles import arn, hand_written_role, s3_arn, use_key
from infra.storage import StorageStack

# The build: install, lint, tests, then run-pipeline --wait (up to the buildspec's
# PIPELINE_TIMEOUT, 3 h).
BUILD_TIMEOUT_HOURS = 4

ROLE_SCOPE = (
    "scoped to CodePipeline's artifacts of this pipeline (<bucket>/<pipeline>/*) and the "
    "project's code bundles (<bucket>/<prefix>/code/*), and the executions of the one "
    "pipeline the build starts and waits for (pipeline/<name>/execution/*)"
)


class CiStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        storage: StorageStack,
        mlops: MlopsStack,
        pipeline_name: str,
        repository: str,
        branch: str = "main",
        connection_arn: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """`repository`: owner/name with `connection_arn` (a CodeStar connection), or the
        name of a CodeCommit repository without it."""
        super().__init__(scope, id, **kwargs)
        region, account = self.region, self.account
        name = "%s-ci" % prefix
        # Imported by name: grants cannot touch the storage stack's policies from here.
        key = kms.Key.from_key_arn(self, "Key", storage.key.key_arn)
        bucket = s3.Bucket.from_bucket_attributes(
            self, "Artifacts", bucket_name=storage.bucket_name, encryption_key=key
        )
        bucket_arn = s3_arn(storage.bucket_name)
        # CodePipeline keeps its artifacts under the first 20 characters of its name.
        artifacts = "%s/%s/*" % (bucket_arn, name[:20])
        log_group = build_logs(self, name, key)
        build_statements = build_basics(log_group, artifacts, storage.key.key_arn) + [
            iam.PolicyStatement(
                sid="UploadCode",  # run-pipeline uploads the code bundles (HeadObject first)
                actions=["s3:GetObject", "s3:PutObject"],
                resources=["%s/%s/code/*" % (bucket_arn, prefix)],
            ),
            iam.PolicyStatement(
                # Without it a missing object answers 403, not the 404 the upload looks for.
                sid="ListCode",
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["%s/code/*" % prefix]}},
            ),
            iam.PolicyStatement(
                sid="ReadConfig",
                actions=["ssm:GetParametersByPath"],
                resources=[arn("ssm", region, account, "parameter/%s" % prefix)],
            ),
            iam.PolicyStatement(
                sid="UpsertAndStartPipeline",
                actions=[
                    "sagemaker:CreatePipeline",
                    "sagemaker:UpdatePipeline",
                    "sagemaker:DescribePipeline",
                    "sagemaker:StartPipelineExecution",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[
                    arn("sagemaker", region, account, "pipeline/%s" % pipeline_name.lower())
                ],
            ),
            iam.PolicyStatement(
                sid="WaitForTheExecution",  # run-pipeline --wait polls the execution it started
                actions=[
                    "sagemaker:DescribePipelineExecution",
                    "sagemaker:ListPipelineExecutionSteps",
                ],
                resources=[
                    arn(
                        "sagemaker",
                        region,
                        account,
                        "pipeline/%s/execution/*" % pipeline_name.lower(),
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="PassPipelineRole",
                actions=["iam:PassRole"],
                resources=[mlops.pipeline_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        ]
        build_role = hand_written_role(
            self,
            "BuildRole",
            "codebuild.amazonaws.com",
            build_statements,
            "builds %s" % name,
            ROLE_SCOPE,
        )
        self.project = codebuild.PipelineProject(
            self,
            "Build",
            project_name=name,
            description="lint, test, then upsert and start the SageMaker pipeline",
            build_spec=codebuild.BuildSpec.from_source_filename("codebuild-buildspec.yml"),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.MEDIUM,
            ),
            environment_variables={
                "CONFIG_PREFIX": codebuild.BuildEnvironmentVariable(value="/%s/" % prefix),
                "PIPELINE_NAME": codebuild.BuildEnvironmentVariable(value=pipeline_name),
            },
            encryption_key=key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)
            ),
            role=build_role.without_policy_updates(),
            # the buildspec waits up to PIPELINE_TIMEOUT (3 h) for the execution, after the
            # install, lint and tests
            timeout=cdk.Duration.hours(BUILD_TIMEOUT_HOURS),
        )
        source_output = codepipeline.Artifact("Source")
        pipeline_statements = [
            iam.PolicyStatement(
                sid="Artifacts",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[artifacts],
            ),
            use_key(storage.key.key_arn),
            iam.PolicyStatement(
                sid="RunTheBuild",
                actions=["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                resources=[arn("codebuild", region, account, "project/%s" % name)],
            ),
        ]
        pipeline_statements += source_statements(repository, connection_arn, region, account)
        pipeline_role_itself = hand_written_role(
            self,
            "PipelineRole",
            "codepipeline.amazonaws.com",
            pipeline_statements,
            "runs %s" % name,
            ROLE_SCOPE,
        )
        pipeline_role = pipeline_role_itself.without_policy_updates()
        source = source_action(
            self, name, repository, branch, connection_arn, source_output, pipeline_role
        )
        self.pipeline = hand_written_pipeline(
            self,
            name,
            bucket,
            pipeline_role_itself,
            pipeline_role,
            [
                codepipeline.StageProps(stage_name="Source", actions=[source]),
                codepipeline.StageProps(
                    stage_name="BuildAndRun",
                    actions=[
                        actions.CodeBuildAction(
                            action_name="TestUpsertStart",
                            project=self.project,
                            input=source_output,
                            role=pipeline_role,
                        )
                    ],
                ),
            ],
        )


def source_statements(
    repository: str, connection_arn: Optional[str], region: str, account: str
) -> list[iam.PolicyStatement]:
    """What a pipeline's role needs to read `repository`: the CodeStar connection, or the
    CodeCommit repository."""
    if connection_arn:
        return [
            iam.PolicyStatement(
                sid="UseTheConnection",
                actions=["codestar-connections:UseConnection"],
                resources=[connection_arn],
            )
        ]
    return [
        iam.PolicyStatement(
            sid="ReadTheRepository",
            actions=[
                "codecommit:GetBranch",
                "codecommit:GetCommit",
                "codecommit:UploadArchive",
                "codecommit:GetUploadArchiveStatus",
            ],
            resources=[arn("codecommit", region, account, repository)],
        )
    ]


def source_action(
    scope: cdk.Stack,
    pipeline_name: str,
    repository: str,
    branch: str,
    connection_arn: Optional[str],
    output: codepipeline.Artifact,
    role: iam.IRole,
) -> codepipeline.IAction:
    """The Source action of pipeline `pipeline_name`: `repository` (owner/name) through the
    CodeStar connection, or the CodeCommit repository of that name, whose commits start the
    pipeline through an EventBridge rule with a role that may start this pipeline only."""
    if connection_arn:
        owner, _, repo = repository.partition("/")
        return actions.CodeStarConnectionsSourceAction(
            action_name="Source",
            connection_arn=connection_arn,
            owner=owner,
            repo=repo,
            branch=branch,
            output=output,
            role=role,
        )
    events_role = hand_written_role(
        scope,
        "SourceEventsRole",
        "events.amazonaws.com",
        [
            iam.PolicyStatement(
                sid="StartThePipeline",
                actions=["codepipeline:StartPipelineExecution"],
                resources=[arn("codepipeline", scope.region, scope.account, pipeline_name)],
            )
        ],
        "starts %s on a commit" % pipeline_name,
        "scoped to one pipeline",
    )
    return actions.CodeCommitSourceAction(
        action_name="Source",
        repository=codecommit.Repository.from_repository_name(scope, "Repository", repository),
        branch=branch,
        output=output,
        role=role,
        event_role=events_role.without_policy_updates(),
    )


def build_logs(scope: cdk.Stack, project_name: str, key: kms.IKey) -> logs.LogGroup:
    """The CodeBuild project's log group, encrypted with the key, kept a year (and kept)."""
    return logs.LogGroup(
        scope,
        "BuildLogs",
        log_group_name="/aws/codebuild/%s" % project_name,
        retention=logs.RetentionDays.ONE_YEAR,
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )


def build_basics(
    log_group: logs.ILogGroup, artifacts: str, key_arn: str
) -> list[iam.PolicyStatement]:
    """What every CodeBuild action of a pipeline needs: its logs, the pipeline's artifacts
    (`artifacts`, an object ARN pattern) and the key they are encrypted with."""
    return [
        iam.PolicyStatement(
            sid="BuildLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        ),
        iam.PolicyStatement(
            sid="Artifacts", actions=["s3:GetObject", "s3:PutObject"], resources=[artifacts]
        ),
        use_key(key_arn),
    ]


def hand_written_pipeline(
    scope: cdk.Stack,
    name: str,
    bucket: s3.IBucket,
    role: iam.Role,
    immutable_role: iam.IRole,
    stages: Sequence[codepipeline.StageProps],
) -> codepipeline.Pipeline:
    """A V2 pipeline `name` run as `role` (hand-written; `immutable_role` its
    without_policy_updates(), which the actions take too), its artifacts in `bucket`. It
    depends on the role's policy: the role's DependsOn is implied by its RoleArn (cfn-lint
    W3005), its policy's is not."""
    pipeline = codepipeline.Pipeline(
        scope,
        "Pipeline",
        pipeline_name=name,
        pipeline_type=codepipeline.PipelineType.V2,
        artifact_bucket=bucket,
        role=immutable_role,
        restart_execution_on_update=False,
        stages=list(stages),
    )
    policy = cfn_resource(role.node.find_child("DefaultPolicy"))
    cfn_resource(pipeline).add_override("DependsOn", [scope.get_logical_id(policy)])
    return pipeline
