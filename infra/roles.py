"""IAM roles written by hand to the least privilege (CDK's grant helpers add wildcard actions
such as s3:DeleteObject* and kms:ReEncrypt*, which cdk-nag rightly flags).

Every statement is scoped to the bucket's prefix, the key, the model package group, the jobs
the pipeline names (SageMaker Pipelines names them pipelines-<execution>-<step>) and the log
groups. A `Resource: "*"` appears only where the API has no resource-level permission; each one
is in WILDCARD_RESOURCES with its reason and acknowledged next to the role."""

from collections.abc import Iterable, Sequence
from typing import Optional

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from infra.network import NetworkStack
from pipelines.monitoring.report import NAMESPACE as DRIFT_NAMESPACE

# Actions that accept no resource but "*" (the Service Authorization Reference lists no
# resource type for them), with why the role needs each.
LOG_DELIVERY = "Step Functions' log delivery to CloudWatch Logs (CDK grants it)"
TRACING = "X-Ray tracing of the state machines (CDK grants it)"
# The CloudWatch namespaces the code puts metrics in (pipelines/aws/monitoring.py's publish).
PUBLISHED_NAMESPACES = [DRIFT_NAMESPACE]
WILDCARD_RESOURCES = {
    "ecr:GetAuthorizationToken": "pulling the job images needs a registry token",
    "cloudwatch:PutMetricData": "jobs and Model Monitor publish drift metrics (limited by a "
    "condition to the namespaces the code publishes to)",
    "sagemaker:ListModelPackages": "train-and-deploy and the release build find the group's "
    "newest approved version",
    **{
        "application-autoscaling:%s" % a: "CloudFormation manages the stages' scalable targets "
        "and policies (the Service Authorization Reference scopes none of these here)"
        for a in (
            "RegisterScalableTarget",
            "DeregisterScalableTarget",
            "DescribeScalableTargets",
            "PutScalingPolicy",
            "DeleteScalingPolicy",
            "DescribeScalingPolicies",
        )
    },
    # The catalog's launch role (infra/catalog.py): a template is read before any stack exists,
    # and a key has no ARN before it is created.
    "cloudformation:GetTemplateSummary": "Service Catalog reads a project's template",
    "cloudformation:ValidateTemplate": "Service Catalog validates a project's template",
    "kms:CreateKey": "a project's product creates its key",
    **{
        "ec2:%s" % a: "jobs in the VPC describe its network (VPC mode only)"
        for a in (
            "DescribeNetworkInterfaces",
            "DescribeVpcs",
            "DescribeSubnets",
            "DescribeSecurityGroups",
            "DescribeDhcpOptions",
        )
    },
    **{
        "logs:%s" % a: LOG_DELIVERY
        for a in (
            "CreateLogDelivery",
            "GetLogDelivery",
            "UpdateLogDelivery",
            "DeleteLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "DescribeResourcePolicies",
            "DescribeLogGroups",
        )
    },
    **{
        "xray:%s" % a: TRACING
        for a in (
            "PutTraceSegments",
            "PutTelemetryRecords",
            "GetSamplingRules",
            "GetSamplingTargets",
        )
    },
}
WILDCARD_RESOURCES_REASON = "no resource-level permission exists for " + "; ".join(
    "%s (%s)" % kv for kv in WILDCARD_RESOURCES.items()
)


# The stack's partition (aws, aws-cn, aws-us-gov): a reference CloudFormation resolves, so no
# ARN names a partition the stack may not be deployed in.
PARTITION = cdk.Aws.PARTITION
# How cdk-nag names that reference in a finding's id (acknowledge_wildcards).
NAG_PARTITION = "<AWS::Partition>"


def ecr_repository_arn(image_uri: str) -> str:
    """arn:<partition>:ecr:<region>:<account>:repository/<name> of an image URI."""
    host, _, path = image_uri.partition("/")
    account, _, rest = host.partition(".dkr.ecr.")
    region = rest.split(".", 1)[0]
    return arn("ecr", region, account, "repository/%s" % path.split(":", 1)[0])


def arn(service: str, region: str, account: str, resource: str) -> str:
    """An ARN in the stack's partition; cdk-nag's findings name it with <AWS::Partition>, which
    acknowledge_wildcards writes for it."""
    return "arn:%s:%s:%s:%s:%s" % (PARTITION, service, region, account, resource)


def s3_arn(bucket: str, key: str = "") -> str:
    """The bucket's ARN, or its objects' under `key` (a pattern such as churn/*)."""
    return arn("s3", "", "", bucket + ("/" + key if key else ""))


def use_key(key_arn: str) -> iam.PolicyStatement:
    """Read and write what the project's key encrypts (no kms:* and no re-encryption)."""
    return iam.PolicyStatement(
        sid="UseTheKey",
        actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
        resources=[key_arn],
    )


def acknowledge_wildcards(
    construct: IConstruct, policy_resources: Iterable[str], reason: str
) -> None:
    """One acknowledgement per wildcard resource of `construct`'s statements, with the reason,
    so a wildcard added later is a new finding, not silently covered."""
    for resource in sorted({r for r in policy_resources if "*" in r}):
        why = WILDCARD_RESOURCES_REASON if resource == "*" else reason
        named = resource.replace(PARTITION, NAG_PARTITION)
        cdk.Validations.of(construct).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::%s]" % named, reason=why
            )
        )


def hand_written_role(
    scope: Construct,
    id: str,
    service: str,
    statements: Sequence[iam.PolicyStatement],
    purpose: str,
    reason: str,
    role_name: Optional[str] = None,
) -> iam.Role:
    """A role `service` assumes with exactly `statements`, its wildcard resources acknowledged
    with `reason` (acknowledge_wildcards); `role_name` names it (for other stacks to name it by
    ARN without a cross-stack reference)."""
    role = iam.Role(
        scope,
        id,
        role_name=role_name,
        assumed_by=iam.ServicePrincipal(service),
        description="%s (least privilege)" % purpose,
    )
    for statement in statements:
        role.add_to_policy(statement)
    acknowledge_wildcards(role, [r for s in statements for r in s.resources], reason)
    return role


def pipeline_role_name(prefix: str) -> str:
    return "%s-pipeline-execution" % prefix


def pipeline_execution_role(
    scope: Construct,
    id: str,
    *,
    bucket_name: str,
    key: kms.IKey,
    prefix: str,
    group_name: str,
    images: Iterable[str],
    region: str,
    account: str,
    network: Optional[NetworkStack] = None,
    feature_group: Optional[str] = None,
) -> iam.Role:
    """The role SageMaker Pipelines and its jobs assume: read and write the project's prefix,
    use the key (and let SageMaker encrypt the jobs' volumes with it), pull the job images, run
    the pipeline's jobs, register in one model package group, write the jobs' logs; with a
    feature group, write and read its records and keep its offline store's Glue table; in VPC
    mode, attach the jobs to the VPC's subnets."""
    role = iam.Role(
        scope,
        id,
        # Named, so the pipeline definition names it by a plain ARN (the SDK would otherwise
        # ask IAM to expand what it takes for a role name).
        role_name=pipeline_role_name(prefix),
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description="SageMaker Pipelines execution role for %s (least privilege)" % prefix,
    )
    objects = s3_arn(bucket_name, "%s/*" % prefix)
    group = group_name.lower()  # SageMaker writes names lower-case in ARNs
    statements = [
        iam.PolicyStatement(
            sid="ProjectObjects",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[objects],
        ),
        iam.PolicyStatement(
            sid="ListProjectPrefix",
            actions=["s3:ListBucket"],
            resources=[s3_arn(bucket_name)],
            conditions={"StringLike": {"s3:prefix": ["%s/*" % prefix, prefix]}},
        ),
        use_key(key.key_arn),
        iam.PolicyStatement(
            sid="EncryptJobVolumes",
            actions=["kms:CreateGrant"],
            resources=[key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": True}},
        ),
        iam.PolicyStatement(
            sid="PullJobImages",
            actions=[
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            resources=sorted({ecr_repository_arn(i) for i in images}),
        ),
        iam.PolicyStatement(
            sid="RegistryToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]
        ),
        iam.PolicyStatement(
            sid="JobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            # Only the namespace the code publishes to (churn monitor, Model Monitor's
            # schedule under this role) and the drift alarms watch; the other alarms watch
            # AWS/ namespaces, which SageMaker itself publishes.
            conditions={"StringEquals": {"cloudwatch:namespace": PUBLISHED_NAMESPACES}},
        ),
        iam.PolicyStatement(
            sid="JobLogs",
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            resources=[arn("logs", region, account, "log-group:/aws/sagemaker/*")],
        ),
        iam.PolicyStatement(
            sid="PipelineJobs",
            actions=[
                "sagemaker:CreateProcessingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StopProcessingJob",
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:CreateTransformJob",
                "sagemaker:DescribeTransformJob",
                "sagemaker:StopTransformJob",
                "sagemaker:AddTags",
            ],
            resources=[
                arn("sagemaker", region, account, "%s/pipelines-*" % kind)
                for kind in ("processing-job", "training-job", "transform-job")
            ],
        ),
        iam.PolicyStatement(
            sid="PipelineModels",
            actions=["sagemaker:CreateModel", "sagemaker:DescribeModel"],
            resources=[arn("sagemaker", region, account, "model/pipelines-*")],
        ),
        iam.PolicyStatement(
            sid="RegisterModels",
            actions=[
                "sagemaker:CreateModelPackage",
                "sagemaker:DescribeModelPackage",
                "sagemaker:DescribeModelPackageGroup",
            ],
            resources=[
                arn("sagemaker", region, account, "model-package-group/%s" % group),
                arn("sagemaker", region, account, "model-package/%s/*" % group),
            ],
        ),
    ]
    if feature_group:
        statements += [
            iam.PolicyStatement(
                sid="FeatureRecords",
                actions=[
                    "sagemaker:PutRecord",
                    "sagemaker:GetRecord",
                    "sagemaker:BatchGetRecord",
                    "sagemaker:DescribeFeatureGroup",
                ],
                resources=[arn("sagemaker", region, account, "feature-group/%s" % feature_group)],
            ),
            iam.PolicyStatement(
                sid="OfflineStoreBucket",  # the offline store checks the bucket's owner
                actions=["s3:GetBucketAcl"],
                resources=[s3_arn(bucket_name)],
            ),
            iam.PolicyStatement(
                sid="OfflineStoreTable",
                actions=[
                    "glue:GetTable",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:GetDatabase",
                ],
                resources=[
                    arn("glue", region, account, r)
                    for r in (
                        "catalog",
                        "database/sagemaker_featurestore",
                        "table/sagemaker_featurestore/%s*" % feature_group.replace("-", "_"),
                    )
                ],
            ),
        ]
    if network:
        statements += [
            iam.PolicyStatement(
                sid="JobNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=[
                    arn("ec2", region, account, "network-interface/*"),
                    arn(
                        "ec2",
                        region,
                        account,
                        "security-group/%s" % network.security_group.security_group_id,
                    ),
                ]
                + [arn("ec2", region, account, "subnet/%s" % s) for s in network.subnet_ids],
            ),
            iam.PolicyStatement(
                sid="DescribeTheNetwork",
                actions=[
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeDhcpOptions",
                ],
                resources=["*"],
            ),
        ]
    for statement in statements:
        role.add_to_policy(statement)
    # The pipeline hands this role to the jobs it creates, and only to SageMaker.
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PassToJobs",
            actions=["iam:PassRole"],
            resources=[role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    acknowledge_wildcards(
        role,
        [r for st in statements for r in st.resources],
        "scoped to what SageMaker's naming allows: objects under <bucket>/%s/*, the jobs and "
        "models SageMaker Pipelines names pipelines-<execution>-<step>, the versions of model "
        "package group %s, the /aws/sagemaker/* log groups, the feature group's Glue tables, "
        "the network interfaces SageMaker creates in the VPC" % (prefix, group_name),
    )
    return role
