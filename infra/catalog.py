"""The template as a SageMaker project template (-c catalog=1): a Service Catalog portfolio
and, in it, a product tagged sagemaker:studio-visibility=true, so Studio lists it under
Projects > Create project > Organization templates.

What the product provisions, per project (the product template, ProductStack below): only what
makes the project run this template from its repository, named <project>-infra and tagged
sagemaker:project-name / sagemaker:project-id as SageMaker projects expect:

- a CodePipeline from the team's repository (a CodeStar connection) to a CodeBuild project that
  runs `make deploy CONTEXT="prefix=<project> ..."` (`npx aws-cdk@2 deploy --all`) on every
  push, as the CDK bootstrap roles (cdk-hnb659fds-*-role-<account>-<region>): the build role may
  only assume those, nothing else;
- a KMS key (rotation on) that encrypts its artifact bucket, its logs and the build, the
  artifact bucket (TLS only, versioned, no public access, access logs to a log bucket beside
  it) and the build's log group.

Everything else, the storage, model registry, SageMaker pipeline, workflows, alarms, Parameter
Store names and the model-build CI (<project>-ci, from the same repository), is this app's own
stacks, <project>-storage ... <project>-ci, which that build deploys with prefix = the project
name and the project's tags (sagemaker_project_name / sagemaker_project_id context).

The launch role (a launch constraint on the product) is written by hand, as infra/roles.py's
are: the CloudFormation calls on Service Catalog's stacks and the create/update calls of the
product template's resource types, on the names the template gives (<project>-infra...), and
iam:PassRole of its two roles to CodeBuild and CodePipeline only. A project's key, buckets and
log group are retained when the project is deleted, as the app's are (README: removing it)."""

from collections.abc import Callable, Sequence
from typing import Any, Optional

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicecatalog as servicecatalog
from constructs import Construct

from infra.ci import hand_written_pipeline
from infra.roles import PARTITION, acknowledge_wildcards, arn, s3_arn, use_key

# The tags SageMaker projects look for on a project's resources.
PROJECT_NAME_TAG = "sagemaker:project-name"
PROJECT_ID_TAG = "sagemaker:project-id"
STUDIO_VISIBILITY_TAG = "sagemaker:studio-visibility"
# The parameters Studio fills in itself when it creates a project from the template.
STUDIO_PARAMETERS = ("SageMakerProjectName", "SageMakerProjectId")
# Bump with every change of the product template: Service Catalog keeps one provisioning
# artifact per version name, and projects update to the new one from Studio.
PRODUCT_VERSION = "v1"
# The CDK bootstrap qualifier `cdk bootstrap` uses by default, and the roles `cdk deploy` assumes.
CDK_QUALIFIER = "hnb659fds"
CDK_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
# The app names its bucket <prefix>-artifacts-<account>-<region> (63 characters at most, lower
# case): 25 leaves room for the longest region names (14 characters, ap-southeast-2).
MAX_PROJECT_NAME = 25
# The path of the roles the product creates, so the launch role can create and pass those only.
ROLE_PATH = "/churn-projects/"
# What a project's build runs: the app deployed with the project's name as its prefix. The
# CDK CLI asks before IAM changes unless told not to; ~/.cdk.json tells it (a CI has no tty).
DEPLOY_COMMANDS = [
    'echo \'{"requireApproval": "never"}\' > "$HOME/.cdk.json"',
    'CONTEXT="prefix=$SAGEMAKER_PROJECT_NAME region=$AWS_REGION schema=$SCHEMA'
    " group=$SAGEMAKER_PROJECT_NAME-$SCHEMA"
    " repository=$REPOSITORY connection_arn=$CONNECTION_ARN branch=$BRANCH"
    ' sagemaker_project_name=$SAGEMAKER_PROJECT_NAME sagemaker_project_id=$SAGEMAKER_PROJECT_ID"',
    'if [ -n "$ALARM_EMAIL" ]; then CONTEXT="$CONTEXT alarm_email=$ALARM_EMAIL"; fi',
    'make deploy CONTEXT="$CONTEXT"',
]

LAUNCH_SCOPE = (
    "scoped to the names the product template gives a project's resources, which hold the "
    "project's name: the Service Catalog stacks SC-<account>-pp-*, the buckets "
    "*-infra-<account>-<region> and *-infra-logs-<account>-<region>, the log groups "
    "/aws/codebuild/*-infra, the CodeBuild projects and pipelines *-infra, the roles under "
    "/churn-projects/, the account's keys (a new key's id is random), the account's connections "
    "(passed to CodePipeline only); Service Catalog's template objects, which carry the "
    "servicecatalog:provisioning tag, in a bucket Service Catalog owns and does not name"
)
BUILD_SCOPE = (
    "scoped to the objects of the project's own artifact bucket (CodePipeline's source "
    "artifacts, which the build reads)"
)


def project_context_tags(name: Optional[str], project_id: Optional[str]) -> dict[str, str]:
    """The SageMaker project tags for the app's stacks when a project's build deploys them
    (-c sagemaker_project_name=... -c sagemaker_project_id=...); none otherwise."""
    tags = {}
    if name:
        tags[PROJECT_NAME_TAG] = str(name)
    if project_id:
        tags[PROJECT_ID_TAG] = str(project_id)
    return tags


class ProjectProduct(servicecatalog.ProductStack):
    """The product template: what one SageMaker project provisions (the module's docstring)."""

    def __init__(
        self, scope: Construct, id: str, *, tags_for: Callable[[str], dict[str, str]]
    ) -> None:
        super().__init__(scope, id, description="churn SageMaker project: deploys the template")
        # Access-log delivery granted by bucket policy, not the legacy LogDeliveryWrite ACL.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.parameters = self._parameters()
        p = {k: v.value_as_string for k, v in self.parameters.items()}
        name, project_id = p["SageMakerProjectName"], p["SageMakerProjectId"]
        region, account = cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID
        infra = "%s-infra" % name
        self.key = kms.Key(
            self,
            "Key",
            description=cdk.Fn.sub(
                "Encrypts the ${N} project's deploy artifacts, build and logs", {"N": name}
            ),
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        log_group_name = "/aws/codebuild/%s" % infra
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BuildLogs",
                principals=[iam.ServicePrincipal("logs.%s.amazonaws.com" % region)],
                actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=["*"],  # in a key policy, "*" is the key itself
                conditions={
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": arn(
                            "logs", region, account, "log-group:%s" % log_group_name
                        )
                    }
                },
            )
        )
        # Server access logs cannot go to an SSE-KMS bucket: S3-managed keys there.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name="%s-logs-%s-%s" % (infra, account, region),
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-logs",
                    expiration=cdk.Duration.days(365),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        bucket_name = "%s-%s-%s" % (infra, account, region)
        self.bucket = s3.Bucket(
            self,
            "Artifacts",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="noncurrent-versions", noncurrent_version_expiration=cdk.Duration.days(30)
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        log_group = logs.LogGroup(
            self,
            "BuildLogs",
            log_group_name=log_group_name,
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        objects = s3_arn(bucket_name, "*")
        build_role = self._role(
            "BuildRole",
            "%s-build" % infra,
            "codebuild.amazonaws.com",
            [
                iam.PolicyStatement(
                    sid="BuildLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="SourceArtifact",
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[objects],
                ),
                use_key(self.key.key_arn),
                iam.PolicyStatement(
                    # `cdk deploy` does everything else as the bootstrap roles; the build may
                    # assume those four and nothing else.
                    sid="AssumeTheCdkBootstrapRoles",
                    actions=["sts:AssumeRole"],
                    resources=[
                        arn(
                            "iam",
                            "",
                            account,
                            "role/cdk-%s-%s-role-%s-%s" % (CDK_QUALIFIER, r, account, region),
                        )
                        for r in CDK_ROLES
                    ],
                ),
            ],
            BUILD_SCOPE,
        )
        self.project = codebuild.PipelineProject(
            self,
            "Build",
            project_name=infra,
            description=cdk.Fn.sub(
                "deploys the churn template as prefix ${N} (make deploy)", {"N": name}
            ),
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "env": {"shell": "bash"},
                    "phases": {
                        "install": {"runtime-versions": {"python": "3.11", "nodejs": "20"}},
                        "build": {"commands": ["set -eo pipefail", *DEPLOY_COMMANDS]},
                    },
                }
            ),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.MEDIUM,
            ),
            environment_variables={
                variable: codebuild.BuildEnvironmentVariable(value=p[parameter])
                for variable, parameter in (
                    ("SAGEMAKER_PROJECT_NAME", "SageMakerProjectName"),
                    ("SAGEMAKER_PROJECT_ID", "SageMakerProjectId"),
                    ("CONNECTION_ARN", "ConnectionArn"),
                    ("REPOSITORY", "Repository"),
                    ("BRANCH", "Branch"),
                    ("SCHEMA", "SchemaName"),
                    ("ALARM_EMAIL", "AlarmEmail"),
                )
            },
            encryption_key=self.key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)
            ),
            role=build_role.without_policy_updates(),
            timeout=cdk.Duration.hours(2),
        )
        pipeline_role = self._role(
            "PipelineRole",
            "%s-pipeline" % infra,
            "codepipeline.amazonaws.com",
            [
                iam.PolicyStatement(
                    sid="Artifacts", actions=["s3:GetObject", "s3:PutObject"], resources=[objects]
                ),
                use_key(self.key.key_arn),
                iam.PolicyStatement(
                    sid="RunTheBuild",
                    actions=["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                    resources=[arn("codebuild", region, account, "project/%s" % infra)],
                ),
                iam.PolicyStatement(
                    sid="UseTheConnection",
                    # CodeStar Connections is now AWS CodeConnections: a connection's ARN
                    # names either service, and IAM takes either prefix.
                    actions=[
                        "codestar-connections:UseConnection",
                        "codeconnections:UseConnection",
                    ],
                    resources=[p["ConnectionArn"]],
                ),
            ],
            BUILD_SCOPE,
        )
        immutable = pipeline_role.without_policy_updates()
        source_output = codepipeline.Artifact("Source")
        repository = p["Repository"]
        self.pipeline = hand_written_pipeline(
            self,
            infra,
            # By name: the pipeline takes a bucket named by tokens (the project's name) for
            # one in another environment.
            s3.Bucket.from_bucket_attributes(
                self, "ArtifactStore", bucket_name=bucket_name, encryption_key=self.key
            ),
            pipeline_role,
            immutable,
            [
                codepipeline.StageProps(
                    stage_name="Source",
                    actions=[
                        actions.CodeStarConnectionsSourceAction(
                            action_name="Source",
                            connection_arn=p["ConnectionArn"],
                            owner=cdk.Fn.select(0, cdk.Fn.split("/", repository)),
                            repo=cdk.Fn.select(1, cdk.Fn.split("/", repository)),
                            branch=p["Branch"],
                            output=source_output,
                            role=immutable,
                        )
                    ],
                ),
                codepipeline.StageProps(
                    stage_name="Deploy",
                    actions=[
                        actions.CodeBuildAction(
                            action_name="CdkDeploy",
                            project=self.project,
                            input=source_output,
                            role=immutable,
                        )
                    ],
                ),
            ],
        )
        # Every resource that takes tags: the app's tags with prefix = the project's name, and
        # the project's name and id, as SageMaker projects tag theirs. Above the app's own
        # tags (priority 100), which name the catalog's prefix.
        tags = dict(tags_for(name), **project_context_tags(name, project_id))
        for key, value in tags.items():
            cdk.Tags.of(self).add(key, value, priority=200)

    def _parameters(self) -> dict[str, cdk.CfnParameter]:
        """SageMakerProjectName and SageMakerProjectId, which Studio passes, then what a team
        fills in when it creates a project. Each value is confined to what the build's shell
        and `make` may hold unquoted (no spaces, quotes, $ or ;)."""
        specs: dict[str, dict[str, Any]] = {
            "SageMakerProjectName": dict(
                description="The project's name (SageMaker passes it); the prefix of every "
                "name the project's stacks give",
                min_length=1,
                max_length=MAX_PROJECT_NAME,
                allowed_pattern="^[a-z](-*[a-z0-9])*$",
                constraint_description="lower-case letters, digits and hyphens, %d characters "
                "at most (the project's bucket names hold it)" % MAX_PROJECT_NAME,
            ),
            "SageMakerProjectId": dict(
                description="The project's id (SageMaker passes it)",
                allowed_pattern="^[A-Za-z0-9-]+$",
            ),
            "ConnectionArn": dict(
                description="The CodeStar connection (GitHub, GitLab, Bitbucket) to the "
                "repository: arn:aws:codeconnections:<region>:<account>:connection/<id> "
                "(or codestar-connections)",
                allowed_pattern="^arn:aws[a-z-]*:(codestar-connections|codeconnections):"
                "[a-z0-9-]+:[0-9]{12}:"
                "connection/[A-Za-z0-9-]+$",
            ),
            "Repository": dict(
                description="The repository holding this template, as owner/name",
                allowed_pattern="^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
            ),
            "Branch": dict(
                description="The branch whose pushes deploy the project",
                default="main",
                allowed_pattern="^[A-Za-z0-9._/-]+$",
            ),
            "SchemaName": dict(
                description="The table schema the project trains on (churn schema list; seed "
                "is the generated table)",
                default="seed",
                allowed_pattern="^[A-Za-z0-9][A-Za-z0-9._-]*$",
            ),
            "AlarmEmail": dict(
                description="Optional: an address subscribed to the project's alarm topic",
                default="",
                allowed_pattern="^$|^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]+$",
            ),
        }
        return {
            name: cdk.CfnParameter(self, name, type="String", **spec)
            for name, spec in specs.items()
        }

    def _role(
        self,
        id: str,
        role_name: str,
        service: str,
        statements: Sequence[iam.PolicyStatement],
        reason: str,
    ) -> iam.Role:
        role = iam.Role(
            self,
            id,
            role_name=role_name,
            path=ROLE_PATH,
            assumed_by=iam.ServicePrincipal(service),
            description="%s (least privilege)" % role_name,
        )
        for statement in statements:
            role.add_to_policy(statement)
        # The names hold the template's parameters: cdk-nag names a reference <Name>.
        for resource in sorted(
            {nag_name(self.resolve(r)) for s in statements for r in s.resources}
        ):
            if "*" in resource:
                cdk.Validations.of(role).acknowledge(
                    cdk.Acknowledgment(
                        id="AwsSolutions::AwsSolutions-IAM5[Resource::%s]" % resource,
                        reason=reason,
                    )
                )
        return role


def nag_name(value: Any) -> str:
    """A resolved value as cdk-nag names it in a finding's id: references as <Name> and
    <Name.Attribute>, joins joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return "<%s>" % argument
        if function == "Fn::GetAtt":
            return "<%s>" % ".".join(argument)
        if function == "Fn::Join":
            return argument[0].join(nag_name(v) for v in argument[1])
    raise ValueError("cannot name %r as cdk-nag does" % (value,))


class CatalogStack(cdk.Stack):
    """The portfolio, the product (ProjectProduct's template), its launch role and, with
    `studio_role_arns`, the principals who see the portfolio in Studio."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        tags_for: Callable[[str], dict[str, str]],
        studio_role_arns: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.portfolio = servicecatalog.Portfolio(
            self,
            "Portfolio",
            display_name="%s SageMaker project templates" % prefix,
            provider_name="churn-pipelines",
            description="SageMaker project templates from the churn-pipelines repository",
        )
        self.product_stack = ProjectProduct(self, "ProjectTemplate", tags_for=tags_for)
        self.product = servicecatalog.CloudFormationProduct(
            self,
            "Product",
            product_name="Churn prediction pipeline (%s)" % prefix,
            owner="churn-pipelines",
            description="Churn prediction on SageMaker Pipelines: a project deploys the "
            "template from its repository (storage, registry, pipeline, workflows, alarms, CI)",
            product_versions=[
                servicecatalog.CloudFormationProductVersion(
                    product_version_name=PRODUCT_VERSION,
                    cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(
                        self.product_stack
                    ),
                )
            ],
        )
        # Studio lists a product only with this tag.
        cdk.Tags.of(self.product).add(STUDIO_VISIBILITY_TAG, "true")
        self.portfolio.add_product(self.product)
        self.launch_role = launch_role(self, "LaunchRole", self.region, self.account)
        self.portfolio.set_launch_role(self.product, self.launch_role)
        for i, principal in enumerate(studio_role_arns):
            servicecatalog.CfnPortfolioPrincipalAssociation(
                self,
                "StudioPrincipal%d" % i,
                portfolio_id=self.portfolio.portfolio_id,
                principal_arn=principal,
                principal_type="IAM",
            )
        cdk.CfnOutput(self, "PortfolioId", value=self.portfolio.portfolio_id)
        cdk.CfnOutput(self, "ProductId", value=self.product.product_id)


def launch_role(scope: Construct, id: str, region: str, account: str) -> iam.Role:
    """The role Service Catalog launches, updates and terminates a project's product as: the
    calls CloudFormation makes for the product template's resources, on their names only."""
    infra_bucket = "*-infra-%s-%s" % (account, region)
    logs_bucket = "*-infra-logs-%s-%s" % (account, region)
    roles = arn("iam", "", account, "role%s*" % ROLE_PATH)
    statements = [
        iam.PolicyStatement(
            sid="ServiceCatalogStacks",
            actions=[
                "cloudformation:CreateStack",
                "cloudformation:UpdateStack",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:SetStackPolicy",
                "cloudformation:TagResource",
                "cloudformation:UntagResource",
            ],
            resources=[arn("cloudformation", region, account, "stack/SC-%s-pp-*/*" % account)],
        ),
        iam.PolicyStatement(
            sid="ReadTheTemplate",
            actions=["cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate"],
            resources=["*"],
        ),
        iam.PolicyStatement(
            # Service Catalog hands CloudFormation a copy in a bucket of its own.
            sid="ServiceCatalogTemplates",
            actions=["s3:GetObject"],
            resources=["arn:%s:s3:::*/*" % PARTITION],
            conditions={
                "StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}
            },
        ),
        iam.PolicyStatement(
            sid="Buckets",
            actions=[
                "s3:CreateBucket",
                "s3:ListBucket",
                "s3:GetBucketAcl",
                "s3:PutBucketTagging",
                "s3:GetBucketTagging",
                "s3:PutEncryptionConfiguration",
                "s3:GetEncryptionConfiguration",
                "s3:PutBucketVersioning",
                "s3:GetBucketVersioning",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketLogging",
                "s3:GetBucketLogging",
                "s3:PutLifecycleConfiguration",
                "s3:GetLifecycleConfiguration",
                "s3:PutBucketOwnershipControls",
                "s3:GetBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:GetBucketPolicy",
                "s3:DeleteBucketPolicy",
            ],
            resources=[s3_arn(infra_bucket), s3_arn(logs_bucket)],
        ),
        iam.PolicyStatement(sid="CreateTheKey", actions=["kms:CreateKey"], resources=["*"]),
        iam.PolicyStatement(
            sid="TheKey",
            actions=[
                "kms:DescribeKey",
                "kms:PutKeyPolicy",
                "kms:GetKeyPolicy",
                "kms:EnableKeyRotation",
                "kms:GetKeyRotationStatus",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:ListResourceTags",
                "kms:UpdateKeyDescription",
            ],
            # A key's id is random: its ARN is known only once it exists.
            resources=[arn("kms", region, account, "key/*")],
        ),
        iam.PolicyStatement(
            sid="BuildLogGroup",
            actions=[
                "logs:CreateLogGroup",
                "logs:PutRetentionPolicy",
                "logs:AssociateKmsKey",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
            ],
            resources=[arn("logs", region, account, "log-group:/aws/codebuild/*-infra")],
        ),
        iam.PolicyStatement(
            sid="DescribeLogGroups",  # DescribeLogGroups names no group, only the account's
            actions=["logs:DescribeLogGroups"],
            resources=[arn("logs", region, account, "log-group:*")],
        ),
        iam.PolicyStatement(
            sid="Roles",
            actions=[
                "iam:CreateRole",
                "iam:GetRole",
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
            ],
            resources=[roles],
        ),
        iam.PolicyStatement(
            sid="PassTheRoles",
            actions=["iam:PassRole"],
            resources=[roles],
            conditions={
                "StringEquals": {
                    "iam:PassedToService": ["codebuild.amazonaws.com", "codepipeline.amazonaws.com"]
                }
            },
        ),
        iam.PolicyStatement(
            sid="BuildProject",
            actions=[
                "codebuild:CreateProject",
                "codebuild:UpdateProject",
                "codebuild:DeleteProject",
                "codebuild:BatchGetProjects",
            ],
            resources=[arn("codebuild", region, account, "project/*-infra")],
        ),
        iam.PolicyStatement(
            sid="Pipeline",
            actions=[
                "codepipeline:CreatePipeline",
                "codepipeline:UpdatePipeline",
                "codepipeline:DeletePipeline",
                "codepipeline:GetPipeline",
                "codepipeline:GetPipelineState",
                "codepipeline:TagResource",
                "codepipeline:UntagResource",
                "codepipeline:ListTagsForResource",
            ],
            resources=[arn("codepipeline", region, account, "*-infra")],
        ),
    ]
    # A connection's ARN names either service (CodeStar Connections is now CodeConnections).
    for service, sid in (
        ("codestar-connections", "PassTheConnection"),
        ("codeconnections", "PassTheCodeConnection"),
    ):
        statements.append(
            iam.PolicyStatement(
                sid=sid,
                actions=["%s:PassConnection" % service],
                resources=[
                    arn(s, region, account, "connection/*")
                    for s in ("codestar-connections", "codeconnections")
                ],
                conditions={
                    "StringEquals": {"%s:PassedToService" % service: "codepipeline.amazonaws.com"}
                },
            )
        )
    role = iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal("servicecatalog.amazonaws.com"),
        description="Service Catalog launches the churn SageMaker project product as this "
        "role (least privilege)",
    )
    for statement in statements:
        role.add_to_policy(statement)
    acknowledge_wildcards(role, [r for s in statements for r in s.resources], LAUNCH_SCOPE)
    return role
