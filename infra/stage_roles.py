"""The roles of the stages (infra/stage.py), by purpose, written by hand (infra/roles.py):

- per stage, the role its endpoint runs as (reads the model artifacts and code bundles, writes
  only its own capture prefix, reads its rollback alarms) and the role its Model Monitor jobs
  run as (reads its capture and the pipeline's baselines, writes its reports, puts metrics in
  the drift namespace only);
- the stage deployer, the role CloudFormation deploys the stage stacks with: the stages' own
  SageMaker, scaling and alarm resources, passing the stages' roles, and no IAM at all.

A stage may live in an account of its own (-c prod_account=...), as AWS's enterprise MLOps
samples do. Its account then holds, beside its storage (a StorageStack of its own: the key and
bucket its capture and reports go to), a ServingRolesStack with `release` set: the stage's
roles, its deployer, the release action role the release pipeline assumes there (deploy the
stage's stack with the deployer, read the pipeline's artifacts, invoke the stage's endpoint for
the stage test) and the alarm topic. The models, code and baselines stay in the release
account's bucket: its bucket policy, key policy and model package group policy let those roles
of the stage account read them (release_account_grants)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.monitoring import alarm_topic
from infra.roles import acknowledge_wildcards, arn, ecr_repository_arn, hand_written_role, s3_arn
from infra.storage import StorageStack
from pipelines.aws.deploy import schedule_name
from pipelines.monitoring.report import NAMESPACE as DRIFT_NAMESPACE

ROLE_SCOPE = (
    "scoped to the stages' own names (<prefix>-<stage>-*: models, endpoint configs, "
    "data-quality job definitions, alarms, capture and report prefixes, log groups), the "
    "model artifacts, code bundles and baselines under <bucket>/<prefix>/, the release "
    "pipeline's artifacts and the model package group's versions"
)


def stage_name(prefix: str, stage: str) -> str:
    """The stage's endpoint and stack: <prefix>-<stage>."""
    return "%s-%s" % (prefix, stage)


def endpoint_role_name(prefix: str, stage: str) -> str:
    return "%s-%s-endpoint" % (prefix, stage)


def monitoring_role_name(prefix: str, stage: str) -> str:
    return "%s-%s-monitoring" % (prefix, stage)


def deployer_role_name(prefix: str) -> str:
    return "%s-stage-deployer" % prefix


def release_action_role_name(prefix: str) -> str:
    """The role the release pipeline assumes in a stage's own account."""
    return "%s-release-action" % prefix


def release_pipeline_role_name(prefix: str) -> str:
    return "%s-release-pipeline" % prefix


def release_artifacts(prefix: str) -> str:
    """Where CodePipeline keeps the release's artifacts: the first 20 characters of its name."""
    return ("%s-release" % prefix)[:20]


def capture_prefix(prefix: str, stage: str) -> str:
    return "%s/capture/%s" % (prefix, stage)


def monitoring_prefix(prefix: str, stage: str) -> str:
    return "%s/monitoring/%s" % (prefix, stage)


@dataclass(frozen=True)
class Models(object):
    """Where the registered versions' artifacts, code and baselines are: the release account's
    bucket and key, named by account (a stage in another account cannot take a reference to a
    stack of the release account)."""

    prefix: str
    account: str
    region: str
    group: str  # the model package group, as its ARNs spell it (lower case)

    @property
    def bucket(self) -> str:
        return "%s-artifacts-%s-%s" % (self.prefix, self.account, self.region)

    def key_statement(self, sid: str, actions: Sequence[str]) -> iam.PolicyStatement:
        """`actions` on the release account's key, named by its alias (alias/<prefix>)."""
        return iam.PolicyStatement(
            sid=sid,
            actions=list(actions),
            resources=[arn("kms", self.region, self.account, "key/*")],
            conditions={
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/%s" % self.prefix}
            },
        )

    def packages(self) -> str:
        return arn("sagemaker", self.region, self.account, "model-package/%s/*" % self.group)


@dataclass(frozen=True)
class ReleaseAccess(object):
    """A stage account's side of a release from another account: who may act here."""

    release_account: str


class ServingRolesStack(cdk.Stack):
    """The stages' roles in one account (the module's docstring); with `release`, that account
    is a stage's own and also gets the deployer, the release action role and the topic."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        storage: StorageStack,
        models: Models,
        stages: Sequence[str],
        inference_image: str,
        monitor_image: str,
        release: Optional[ReleaseAccess] = None,
        alarm_email: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """`storage`: this account's (its key and bucket hold the capture and reports)."""
        super().__init__(scope, id, **kwargs)
        region, account = self.region, self.account
        bucket, key = storage.bucket_name, storage.key.key_arn
        same_account = models.account == account
        self.roles: dict[str, iam.Role] = {}

        def read_models(sid: str, keys: Sequence[str]) -> list[iam.PolicyStatement]:
            statements = [
                iam.PolicyStatement(
                    sid=sid,
                    actions=["s3:GetObject"],
                    resources=[s3_arn(models.bucket, "%s/%s" % (prefix, k)) for k in keys],
                )
            ]
            if not same_account:  # the release account's key encrypts them
                statements.append(models.key_statement(sid + "Key", ["kms:Decrypt"]))
            return statements

        def logs(kind: str) -> iam.PolicyStatement:
            return iam.PolicyStatement(
                sid="Logs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[arn("logs", region, account, "log-group:/aws/sagemaker/%s*" % kind)],
            )

        def pull(image: str) -> list[iam.PolicyStatement]:
            return [
                iam.PolicyStatement(
                    sid="PullTheImage",
                    actions=[
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchCheckLayerAvailability",
                    ],
                    resources=[ecr_repository_arn(image)],
                ),
                iam.PolicyStatement(
                    sid="RegistryToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]
                ),
            ]

        use_key = iam.PolicyStatement(
            sid="UseTheKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key]
        )
        for stage in stages:
            name, title = stage_name(prefix, stage), stage.title()
            endpoint = (
                read_models("ReadTheModel", ["models/*", "code/*"])
                + [
                    iam.PolicyStatement(
                        sid="WriteCapture",
                        actions=["s3:PutObject"],
                        resources=[s3_arn(bucket, "%s/*" % capture_prefix(prefix, stage))],
                    ),
                    use_key,
                    logs("Endpoints/%s" % name),
                    iam.PolicyStatement(
                        # Deployment guardrails: the rollout reads its rollback alarms' state.
                        sid="RollbackAlarms",
                        actions=["cloudwatch:DescribeAlarms"],
                        resources=[arn("cloudwatch", region, account, "alarm:%s-*" % name)],
                    ),
                ]
                + pull(inference_image)
            )
            self.roles["%s-endpoint" % stage] = hand_written_role(
                self,
                "%sEndpointRole" % title,
                "sagemaker.amazonaws.com",
                endpoint,
                "the %s endpoint's model: reads the model and its code, writes capture" % name,
                ROLE_SCOPE,
                role_name=endpoint_role_name(prefix, stage),
            )
            monitoring = (
                read_models("ReadBaselines", ["*/baseline/*"])
                + [
                    iam.PolicyStatement(
                        sid="ReadCapture",
                        actions=["s3:GetObject"],
                        resources=[s3_arn(bucket, "%s/*" % capture_prefix(prefix, stage))],
                    ),
                    iam.PolicyStatement(
                        sid="ListCapture",
                        actions=["s3:ListBucket"],
                        resources=[s3_arn(bucket)],
                        conditions={
                            "StringLike": {"s3:prefix": ["%s/*" % capture_prefix(prefix, stage)]}
                        },
                    ),
                    iam.PolicyStatement(
                        sid="WriteReports",
                        actions=["s3:PutObject"],
                        resources=[s3_arn(bucket, "%s/*" % monitoring_prefix(prefix, stage))],
                    ),
                    use_key,
                    iam.PolicyStatement(
                        sid="EncryptJobVolumes",
                        actions=["kms:CreateGrant"],
                        resources=[key],
                        conditions={"Bool": {"kms:GrantIsForAWSResource": True}},
                    ),
                    iam.PolicyStatement(
                        sid="DriftMetrics",
                        actions=["cloudwatch:PutMetricData"],
                        resources=["*"],
                        conditions={"StringEquals": {"cloudwatch:namespace": [DRIFT_NAMESPACE]}},
                    ),
                    logs("ProcessingJobs"),
                ]
                + pull(monitor_image)
            )
            self.roles["%s-monitoring" % stage] = hand_written_role(
                self,
                "%sMonitoringRole" % title,
                "sagemaker.amazonaws.com",
                monitoring,
                "the %s endpoint's Model Monitor jobs" % name,
                ROLE_SCOPE,
                role_name=monitoring_role_name(prefix, stage),
            )
        if release is None:
            return
        # A stage account of its own: what the release account's pipeline acts through.
        self.deployer = hand_written_role(
            self,
            "DeployRole",
            "cloudformation.amazonaws.com",
            deploy_statements(prefix, stages, key, models, region, account),
            "deploys %s's stage stacks in this account" % prefix,
            ROLE_SCOPE,
            role_name=deployer_role_name(prefix),
        )
        pipeline_role = arn(
            "iam", "", release.release_account, "role/%s" % release_pipeline_role_name(prefix)
        )
        action = iam.Role(
            self,
            "ReleaseActionRole",
            role_name=release_action_role_name(prefix),
            assumed_by=iam.ArnPrincipal(pipeline_role),
            description="the %s release pipeline's actions in this account (least privilege)"
            % prefix,
        )
        statements = [
            deploy_stages_statement(prefix, stages, region, account),
            iam.PolicyStatement(
                sid="PassTheDeployer",
                actions=["iam:PassRole"],
                resources=[self.deployer.role_arn],
                conditions={
                    "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
                },
            ),
            iam.PolicyStatement(
                sid="ReadTheTemplates",
                actions=["s3:GetObject"],
                resources=[s3_arn(models.bucket, "%s/*" % release_artifacts(prefix))],
            ),
            models.key_statement("DecryptTheTemplates", ["kms:Decrypt"]),
            iam.PolicyStatement(
                sid="StageTest",  # the stage test invokes the endpoint from the release account
                actions=["sagemaker:InvokeEndpoint"],
                resources=[
                    arn("sagemaker", region, account, "endpoint/%s" % stage_name(prefix, s))
                    for s in stages
                ],
            ),
        ]
        for statement in statements:
            action.add_to_policy(statement)
        acknowledge_wildcards(action, [r for s in statements for r in s.resources], ROLE_SCOPE)
        # The stage's alarms notify through a topic of this account, named as the release
        # account's (alarms publish to topics of their own account).
        topic = alarm_topic(self, prefix, storage.key)
        if alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(alarm_email))


def deploy_stages_statement(
    prefix: str, stages: Sequence[str], region: str, account: str
) -> iam.PolicyStatement:
    """What CodePipeline's CloudFormation action does with the stages' stacks of `account`."""
    return iam.PolicyStatement(
        sid="DeployTheStages",
        actions=[
            "cloudformation:CreateStack",
            "cloudformation:UpdateStack",
            "cloudformation:DescribeStacks",
            "cloudformation:DescribeStackEvents",
        ],
        resources=[
            arn("cloudformation", region, account, "stack/%s/*" % stage_name(prefix, s))
            for s in stages
        ],
    )


def deploy_statements(
    prefix: str,
    stages: Sequence[str],
    key_arn: str,
    models: Models,
    region: str,
    account: str,
) -> list[iam.PolicyStatement]:
    """What CloudFormation may do when it deploys (and deletes) the stage stacks of `account`:
    the stages' own SageMaker resources, their scaling and alarms, reading the approved
    versions (of `models`' account), passing the stages' roles, and no more (no IAM role
    created: ServingRolesStack holds those)."""

    def sm(resource: str) -> list[str]:
        return [arn("sagemaker", region, account, resource % stage_name(prefix, s)) for s in stages]

    return [
        iam.PolicyStatement(
            sid="StageEndpoints",
            actions=[
                "sagemaker:CreateModel",
                "sagemaker:DescribeModel",
                "sagemaker:DeleteModel",
                "sagemaker:CreateEndpointConfig",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:CreateEndpoint",
                "sagemaker:DescribeEndpoint",
                "sagemaker:UpdateEndpoint",
                "sagemaker:DeleteEndpoint",
                "sagemaker:CreateDataQualityJobDefinition",
                "sagemaker:DescribeDataQualityJobDefinition",
                "sagemaker:DeleteDataQualityJobDefinition",
                "sagemaker:CreateMonitoringSchedule",
                "sagemaker:DescribeMonitoringSchedule",
                "sagemaker:UpdateMonitoringSchedule",
                "sagemaker:DeleteMonitoringSchedule",
                "sagemaker:AddTags",
                "sagemaker:DeleteTags",
                "sagemaker:ListTags",
            ],
            resources=sm("model/%s-*")
            + sm("endpoint-config/%s-*")
            + sm("endpoint/%s")
            + sm("data-quality-job-definition/%s-*")
            + [
                arn("sagemaker", region, account, "monitoring-schedule/%s" % schedule_name(n))
                for n in (stage_name(prefix, s) for s in stages)
            ],
        ),
        iam.PolicyStatement(
            sid="TheApprovedVersions",  # a model from a package, read when it is created
            actions=["sagemaker:DescribeModelPackage"],
            resources=[models.packages()],
        ),
        iam.PolicyStatement(
            sid="StageScaling",
            actions=[
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DescribeScalingPolicies",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            # Application Auto Scaling's role for SageMaker variants, made on first use.
            sid="ScalingServiceLinkedRole",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                arn(
                    "iam",
                    "",
                    account,
                    "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                )
            ],
            conditions={
                "StringEquals": {
                    "iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"
                }
            },
        ),
        iam.PolicyStatement(
            sid="StageAlarms",
            actions=[
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
            ],
            resources=[
                arn("cloudwatch", region, account, "alarm:%s-*" % stage_name(prefix, s))
                for s in stages
            ],
        ),
        iam.PolicyStatement(
            sid="PassTheStageRoles",
            actions=["iam:PassRole"],
            resources=[
                arn("iam", "", account, "role/%s" % f(prefix, s))
                for s in stages
                for f in (endpoint_role_name, monitoring_role_name)
            ],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            # Endpoint configs and monitoring jobs name the key: SageMaker takes a grant on it.
            sid="GrantTheKeyToSageMaker",
            actions=["kms:CreateGrant"],
            resources=[key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": True}},
        ),
        iam.PolicyStatement(sid="DescribeTheKey", actions=["kms:DescribeKey"], resources=[key_arn]),
    ]


def release_account_grants(
    storage: StorageStack, prefix: str, stage_accounts: dict[str, str]
) -> None:
    """In the release account: let the roles of the stages in accounts of their own read what
    they need of its bucket (the models, code, baselines, the release's templates) and decrypt
    it. Their account is the principal, narrowed to the roles' ARNs (a key or bucket policy
    naming a role that does not exist yet is refused)."""
    for stage, account in sorted(stage_accounts.items()):
        roles = [
            arn("iam", "", account, "role/%s" % name)
            for name in (
                endpoint_role_name(prefix, stage),
                monitoring_role_name(prefix, stage),
                release_action_role_name(prefix),
            )
        ]
        condition = {"ArnLike": {"aws:PrincipalArn": roles}}
        storage.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="Stage%sReads" % stage.title(),
                principals=[iam.AccountPrincipal(account)],
                actions=["s3:GetObject"],
                resources=[
                    s3_arn(storage.bucket_name, "%s/%s" % (prefix, k))
                    for k in ("models/*", "code/*", "*/baseline/*")
                ]
                + [s3_arn(storage.bucket_name, "%s/*" % release_artifacts(prefix))],
                conditions=condition,
            )
        )
        storage.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="Stage%sDecrypts" % stage.title(),
                principals=[iam.AccountPrincipal(account)],
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=["*"],  # in a key policy, "*" is the key itself
                conditions=condition,
            )
        )


def package_group_policy(group_arn: str, packages_arn: str, accounts: Sequence[str]) -> Any:
    """The model package group's resource policy: the stage accounts may read its versions
    (CreateModel from a package of another account needs it)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StageAccountsReadVersions",
                "Effect": "Allow",
                "Principal": {"AWS": [arn("iam", "", a, "root") for a in sorted(set(accounts))]},
                "Action": [
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:ListModelPackages",
                    "sagemaker:DescribeModelPackageGroup",
                ],
                "Resource": [group_arn, packages_arn],
            }
        ],
    }
