"""The SageMaker project template (infra/catalog.py, -c catalog=1): the Service Catalog
portfolio and product Studio lists, the launch role, and the product template a project is
provisioned from, asserted on the synthesized templates; each test names the AWS page it
follows. One synthesis for the module (CDK synthesis is slow)."""

import json
import os
import re
import subprocess
import sys

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

cdk = pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Template  # noqa: E402

from infra.app import build, project_tags  # noqa: E402
from infra.catalog import (  # noqa: E402
    CDK_ROLES,
    MAX_PROJECT_NAME,
    STUDIO_PARAMETERS,
    CatalogStack,
)
from infra.roles import WILDCARD_RESOURCES  # noqa: E402

ACCOUNT, REGION = "123456789012", "eu-west-1"
STUDIO_ROLES = [
    "arn:aws:iam::%s:role/service-role/AmazonSageMaker-ExecutionRole-1" % ACCOUNT,
    "arn:aws:iam::%s:role/DataScientist" % ACCOUNT,
]
NAME, ID = {"Ref": "SageMakerProjectName"}, {"Ref": "SageMakerProjectId"}
CUSTOM_TEMPLATES = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-projects-templates-custom.html"
)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """The app with the catalog, two Studio principals, and deployed as a project's build
    deploys it (sagemaker_project_name / _id): (out, catalog template, product template,
    the storage stack's template)."""
    out = tmp_path_factory.mktemp("cdk.catalog")
    context = dict(
        account=ACCOUNT,
        region=REGION,
        catalog="true",
        studio_role_arn=",".join(STUDIO_ROLES),
        sagemaker_project_name="team-a",
        sagemaker_project_id="p-abc123",
    )
    app = cdk.App(outdir=str(out), context=context)
    stacks = build(app)
    app.synth()
    stack = stacks["catalog"]
    assert isinstance(stack, CatalogStack)
    return (
        out,
        Template.from_stack(stack),
        # A product stack is no deployable artifact: its template is a file of its own.
        Template.from_json(json.loads(next(out.glob("*.product.template.json")).read_text())),
        Template.from_stack(stacks["storage"]),
    )


def the_only(template, resource_type):
    (body,) = template.find_resources(resource_type).values()
    return body["Properties"]


def tags_of(properties):
    return {t["Key"]: t["Value"] for t in properties.get("Tags", [])}


def statements_of(template, role_logical_id):
    found = []
    for body in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in body["Properties"]["Roles"]:
            found += body["Properties"]["PolicyDocument"]["Statement"]
    assert found
    return found


def as_list(value):
    return value if isinstance(value, list) else [value]


def launch_role_id(template):
    constraint = the_only(template, "AWS::ServiceCatalog::LaunchRoleConstraint")
    return constraint["RoleArn"]["Fn::GetAtt"][0]


def test_the_product_is_visible_in_studio(catalog):
    """CUSTOM_TEMPLATES: "the product must have the tag sagemaker:studio-visibility with the
    value true" for Studio to list it among the organization templates."""
    _, t, _, _ = catalog
    product = the_only(t, "AWS::ServiceCatalog::CloudFormationProduct")
    assert tags_of(product)["sagemaker:studio-visibility"] == "true"
    (version,) = product["ProvisioningArtifactParameters"]
    assert "LoadTemplateFromURL" in version["Info"]


def test_the_portfolio_holds_the_product_with_a_launch_role(catalog):
    """https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html:
    a launch constraint applies to a product in a portfolio (the association) and names the
    role Service Catalog assumes to launch, update and terminate it."""
    _, t, _, _ = catalog
    portfolio = next(iter(t.find_resources("AWS::ServiceCatalog::Portfolio")))
    product = next(iter(t.find_resources("AWS::ServiceCatalog::CloudFormationProduct")))
    assert the_only(t, "AWS::ServiceCatalog::Portfolio")["DisplayName"]
    assert the_only(t, "AWS::ServiceCatalog::Portfolio")["ProviderName"]
    refs = {"PortfolioId": {"Ref": portfolio}, "ProductId": {"Ref": product}}
    assert the_only(t, "AWS::ServiceCatalog::PortfolioProductAssociation") == refs
    constraint = the_only(t, "AWS::ServiceCatalog::LaunchRoleConstraint")
    assert {k: constraint[k] for k in refs} == refs
    role = launch_role_id(t)
    assert t.find_resources("AWS::IAM::Role")[role]


def test_the_launch_role_is_trusted_by_service_catalog_with_no_wildcard_action(catalog):
    """https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html:
    the role's trust policy names servicecatalog.amazonaws.com. Least privilege, as
    infra/roles.py: no wildcard action, "*" only for the actions that take no resource
    (WILDCARD_RESOURCES), iam:PassRole only to CodeBuild and CodePipeline."""
    _, t, _, _ = catalog
    role_id = launch_role_id(t)
    role = t.find_resources("AWS::IAM::Role")[role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": "servicecatalog.amazonaws.com"}}]  # fmt: skip
    assert "ManagedPolicyArns" not in role
    statements = statements_of(t, role_id)
    for s in statements:
        assert s["Effect"] == "Allow"
        actions = as_list(s["Action"])
        assert all("*" not in a for a in actions), s
        if "*" in as_list(s["Resource"]):
            assert s["Resource"] == "*" and set(actions) <= set(WILDCARD_RESOURCES), s
    (passing,) = [s for s in statements if "iam:PassRole" in as_list(s["Action"])]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": [
        "codebuild.amazonaws.com", "codepipeline.amazonaws.com"]}}  # fmt: skip
    (templates,) = [s for s in statements if s["Sid"] == "ServiceCatalogTemplates"]
    assert templates["Condition"] == {
        "StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}  # fmt: skip


# What CloudFormation calls to create and delete each resource type the product template holds
# (the resource types' schemas, handlers.create/delete, for the properties the template sets).
NEEDED = {
    "AWS::KMS::Key": ["kms:CreateKey", "kms:EnableKeyRotation", "kms:TagResource",
                      "kms:DescribeKey", "kms:PutKeyPolicy"],
    "AWS::S3::Bucket": ["s3:CreateBucket", "s3:PutBucketTagging", "s3:PutEncryptionConfiguration",
                        "s3:PutBucketVersioning", "s3:PutBucketPublicAccessBlock",
                        "s3:PutBucketLogging", "s3:PutLifecycleConfiguration",
                        "s3:PutBucketOwnershipControls"],
    "AWS::S3::BucketPolicy": ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
    "AWS::Logs::LogGroup": ["logs:DescribeLogGroups", "logs:CreateLogGroup",
                            "logs:PutRetentionPolicy", "logs:TagResource"],
    "AWS::IAM::Role": ["iam:CreateRole", "iam:GetRole", "iam:TagRole", "iam:DeleteRole",
                       "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"],
    "AWS::IAM::Policy": ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"],
    "AWS::CodeBuild::Project": ["codebuild:CreateProject", "codebuild:DeleteProject",
                                "iam:PassRole"],
    "AWS::CodePipeline::Pipeline": ["codepipeline:CreatePipeline", "codepipeline:GetPipeline",
                                    "codepipeline:DeletePipeline", "codepipeline:TagResource",
                                    "iam:PassRole", "codestar-connections:PassConnection"],
}  # fmt: skip


def test_the_launch_role_may_create_and_delete_what_the_product_holds(catalog):
    """https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html:
    the launch role needs the CloudFormation calls and the permissions of every resource the
    template creates (here, nothing beyond them)."""
    _, t, product, _ = catalog
    allowed = {a for s in statements_of(t, launch_role_id(t)) for a in as_list(s["Action"])}
    types = {body["Type"] for body in product.to_json()["Resources"].values()}
    assert types == set(NEEDED)
    for resource_type in types:
        assert set(NEEDED[resource_type]) <= allowed, resource_type
    assert {"cloudformation:CreateStack", "cloudformation:UpdateStack",
            "cloudformation:DeleteStack", "cloudformation:DescribeStacks"} <= allowed  # fmt: skip
    services = {a.split(":")[0] for a in allowed}
    assert services == {"cloudformation", "s3", "kms", "logs", "iam", "codebuild",
                        "codepipeline", "codestar-connections", "codeconnections"}  # fmt: skip


def test_the_product_template_takes_the_parameters_studio_passes_and_the_team_fills_in(catalog):
    """CUSTOM_TEMPLATES: a project template takes SageMakerProjectName and SageMakerProjectId,
    which SageMaker fills in; every other parameter is shown in Studio's Create project form."""
    _, _, product, _ = catalog
    parameters = product.to_json()["Parameters"]
    assert set(STUDIO_PARAMETERS) <= set(parameters)
    assert set(parameters) - set(STUDIO_PARAMETERS) == {
        "ConnectionArn", "Repository", "Branch", "SchemaName", "AlarmEmail"}  # fmt: skip
    assert all(p["Type"] == "String" and p.get("Description") for p in parameters.values())
    assert parameters["AlarmEmail"]["Default"] == ""  # optional
    assert parameters["Branch"]["Default"] == "main"
    name = parameters["SageMakerProjectName"]
    assert name["MaxLength"] == MAX_PROJECT_NAME
    # The app's bucket, <prefix>-artifacts-<account>-<region>, must stay within S3's 63.
    assert len("x" * MAX_PROJECT_NAME + "-artifacts-%s-ap-southeast-2" % ACCOUNT) <= 63
    assert re.fullmatch(name["AllowedPattern"], "team-a")
    assert not re.fullmatch(name["AllowedPattern"], "Team_A")  # upper case breaks bucket names
    for service in ("codestar-connections", "codeconnections"):  # the new name and the old
        connection = "arn:aws:%s:%s:%s:connection/a1b2-c3" % (service, REGION, ACCOUNT)
        assert re.fullmatch(parameters["ConnectionArn"]["AllowedPattern"], connection)
    # Nothing a team types reaches the build's shell unconfined.
    for key in ("ConnectionArn", "Repository", "Branch", "SchemaName", "AlarmEmail"):
        pattern = parameters[key]["AllowedPattern"]
        for hostile in ("a b", "a;b", "a$(b)", "a`b`", "a'b", 'a"b', "a|b", "a&b"):
            assert not re.fullmatch(pattern, hostile), (key, hostile)


def names_the_project(value):
    return NAME in (value.get("Fn::Join", ["", []])[1] if isinstance(value, dict) else [])


def test_every_resource_is_named_from_the_project_and_tagged_as_sagemaker_projects_are(catalog):
    """CUSTOM_TEMPLATES: the resources a project template creates carry the tags
    sagemaker:project-name and sagemaker:project-id (Studio finds the project's resources by
    them); with the app's tags, prefix being the project's name."""
    _, _, product, _ = catalog
    resources = product.to_json()["Resources"]
    named = {"AWS::S3::Bucket": "BucketName", "AWS::Logs::LogGroup": "LogGroupName",
             "AWS::IAM::Role": "RoleName", "AWS::CodeBuild::Project": "Name",
             "AWS::CodePipeline::Pipeline": "Name"}  # fmt: skip
    checked = 0
    for logical_id, body in resources.items():
        properties = body["Properties"]
        if body["Type"] in named:
            assert names_the_project(properties[named[body["Type"]]]), logical_id
        if body["Type"] == "AWS::KMS::Key":
            assert NAME in properties["Description"]["Fn::Sub"][1].values()
        if body["Type"] in ("AWS::S3::BucketPolicy", "AWS::IAM::Policy"):
            continue  # take no tags
        checked += 1
        expected = dict(project_tags("<name>"), **{"sagemaker:project-name": NAME,
                                                   "sagemaker:project-id": ID})  # fmt: skip
        expected["prefix"] = NAME
        assert tags_of(properties) == expected, logical_id
    assert checked == 8


def test_the_build_deploys_the_app_as_the_project_assuming_the_cdk_roles_only(catalog):
    """https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html: `cdk deploy` works
    through the bootstrap roles cdk-hnb659fds-<kind>-role-<account>-<region>; the build may
    assume those and nothing else, and runs `make deploy` with prefix = the project's name."""
    _, _, product, _ = catalog
    project = the_only(product, "AWS::CodeBuild::Project")
    spec = json.loads(project["Source"]["BuildSpec"])
    commands = spec["phases"]["build"]["commands"]
    assert commands[-1] == 'make deploy CONTEXT="$CONTEXT"'
    context = " ".join(commands)
    for expected in ("prefix=$SAGEMAKER_PROJECT_NAME", "sagemaker_project_id=$SAGEMAKER_PROJECT_ID",
                     "repository=$REPOSITORY", "connection_arn=$CONNECTION_ARN",
                     "group=$SAGEMAKER_PROJECT_NAME-$SCHEMA"):  # fmt: skip
        assert expected in context
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables["SAGEMAKER_PROJECT_NAME"] == NAME
    assert variables["SAGEMAKER_PROJECT_ID"] == ID
    assert project["EncryptionKey"]
    role_id = project["ServiceRole"]["Fn::GetAtt"][0]
    statements = statements_of(product, role_id)
    (assume,) = [s for s in statements if "sts:AssumeRole" in as_list(s["Action"])]
    assert assume["Action"] == "sts:AssumeRole"
    roles = [r["Fn::Join"][1] for r in assume["Resource"]]
    assert [r[4] for r in roles] == [":role/cdk-hnb659fds-%s-role-" % k for k in CDK_ROLES]
    # nothing else a deploy needs: CloudFormation, IAM and the rest are the deploy role's
    others = {a for s in statements if s is not assume for a in as_list(s["Action"])}
    assert others == {"logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject",
                      "s3:GetObjectVersion", "kms:Decrypt", "kms:GenerateDataKey",
                      "kms:DescribeKey"}  # fmt: skip
    pipeline = the_only(product, "AWS::CodePipeline::Pipeline")
    (source,) = pipeline["Stages"][0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == {"Ref": "ConnectionArn"}
    assert source["Configuration"]["BranchName"] == {"Ref": "Branch"}
    assert pipeline["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"


def test_the_artifacts_and_logs_are_encrypted_with_the_projects_key(catalog):
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html: a
    log group encrypted with a key its policy lets CloudWatch Logs use, for that group only."""
    _, _, product, _ = catalog
    key = next(iter(product.find_resources("AWS::KMS::Key")))
    assert the_only(product, "AWS::Logs::LogGroup")["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    key_policy = the_only(product, "AWS::KMS::Key")["KeyPolicy"]["Statement"]
    (logs,) = [s for s in key_policy if s.get("Sid") == "BuildLogs"]
    assert list(logs["Condition"]) == ["ArnEquals"]
    encrypted = [b for b in product.find_resources("AWS::S3::Bucket").values()
                 if b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
                     "ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"]  # fmt: skip
    assert len(encrypted) == 1


def test_the_studio_principals_see_the_portfolio(catalog):
    """https://docs.aws.amazon.com/servicecatalog/latest/adminguide/catalogs_portfolios_users.html:
    a user sees a portfolio's products only through a principal association (Studio: the
    domain's or the user profile's execution role)."""
    _, t, _, _ = catalog
    portfolio = next(iter(t.find_resources("AWS::ServiceCatalog::Portfolio")))
    associations = t.find_resources("AWS::ServiceCatalog::PortfolioPrincipalAssociation")
    assert sorted(a["Properties"]["PrincipalARN"] for a in associations.values()) == sorted(
        STUDIO_ROLES
    )
    assert all(a["Properties"]["PortfolioId"] == {"Ref": portfolio}
               and a["Properties"]["PrincipalType"] == "IAM" for a in associations.values())  # fmt: skip


def test_without_studio_roles_no_principal_is_associated():
    app = cdk.App()
    stack = CatalogStack(app, "bare-catalog", prefix="bare", tags_for=project_tags,
                         env=cdk.Environment(account=ACCOUNT, region=REGION))  # fmt: skip
    Template.from_stack(stack).resource_count_is(
        "AWS::ServiceCatalog::PortfolioPrincipalAssociation", 0)  # fmt: skip


def test_a_projects_build_tags_the_apps_stacks_with_the_project(catalog):
    """CUSTOM_TEMPLATES: the project's resources carry sagemaker:project-name/-id; the app's
    stacks, deployed by the project's build with those in the context, do."""
    _, _, _, storage = catalog
    for body in storage.find_resources("AWS::S3::Bucket").values():
        tags = tags_of(body["Properties"])
        assert tags["sagemaker:project-name"] == "team-a"
        assert tags["sagemaker:project-id"] == "p-abc123"


def test_cdk_nag_passes_over_the_catalog_and_the_product_template(catalog):
    """https://github.com/cdklabs/cdk-nag: the AwsSolutions pack checks the catalog stack and
    the product stack (its template); each acknowledgement there names its reason and is one
    wildcard resource of the catalog's roles."""
    out, t, product, _ = catalog
    report = json.loads((out / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    ours = [a for a in nag["suppressedViolations"]
            if a["violatingConstructs"][0]["constructPath"].startswith("churn-catalog/")]  # fmt: skip
    assert ours and all(len(a["reason"]) > 40 for a in ours)
    assert {a["ruleName"].split("[")[0] for a in ours} == {"AwsSolutions-IAM5"}
    paths = {a["violatingConstructs"][0]["constructPath"] for a in ours}
    assert any("/ProjectTemplate/" in p for p in paths)  # the product template was checked
    wildcards = {json.dumps(r) for tmpl in (t, product) for s in
                 [s for b in tmpl.find_resources("AWS::IAM::Policy").values()
                  for s in b["Properties"]["PolicyDocument"]["Statement"]]
                 for r in as_list(s["Resource"]) if "*" in json.dumps(r)}  # fmt: skip
    # one acknowledgement per wildcard resource and role (the product's two roles share one)
    assert len(ours) == len(wildcards) + 1, sorted(a["ruleName"] for a in ours)


def test_cfn_lint_finds_nothing_in_the_catalog_and_the_product_template(catalog):
    out, _, _, _ = catalog
    templates = [str(out / "churn-catalog.template.json")]
    templates += sorted(str(p) for p in out.glob("*.product.template.json"))
    assert len(templates) == 2
    cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    proc = subprocess.run([cfn_lint, "--regions", REGION, "--", *templates],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
