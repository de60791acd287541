"""The CDK app: `python -m infra.app` (what cdk.json runs), or `make synth` into cdk.out.

    context (cdk.json or -c): prefix (churn), region (us-east-1), account, group (the
    schema's model package group, churn-<schema name>), endpoint (churn), schema (seed: the
    drift alarms' features), capture_days (365), alarm_email (subscribed to the alarm topic),
    alarm_topic_arn (an existing topic the alarms publish to instead of a new one); for the CI
    and release stacks: repository (owner/name with connection_arn, a CodeStar connection; or
    a CodeCommit repository's name) and branch (main); stage (a tag, with project and prefix,
    on every resource); workflows (1: the Step Functions workflows too, infra/workflows.py);
    the stage stacks' release: model_package_arn, baseline_constraints, baseline_statistics
    (what the release pipeline's build gives, infra/stage.py); catalog (1: the SageMaker
    project template, a Service Catalog portfolio and product, infra/catalog.py) and
    studio_role_arn (ARN[,ARN]: who sees it in Studio); sagemaker_project_name and
    sagemaker_project_id (a project's build gives them: they tag every resource);
    permissions_boundary (a managed policy's name or ARN: the boundary of every role);
    staging_account, prod_account (a stage in an account of its own: infra/stage_roles.py)

The stacks: <prefix>-storage, -mlops, -data, -monitoring, -config, -serving (the stages'
roles), with a repository -ci and -release, with a release -staging and -prod, and
optionally -network (vpc=1), -workflows (workflows=1) and -catalog (catalog=1).

Every stack is checked by cdk-nag's AwsSolutions pack during synthesis: an unacknowledged
finding fails it."""

import json
import os
import sys
from typing import Any, Optional

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from infra.catalog import CatalogStack, project_context_tags
from infra.ci import CiStack
from infra.config import ConfigStack
from infra.data import DataStack, has_record_identifier
from infra.mlops import MlopsStack
from infra.monitoring import MonitoringStack
from infra.network import NetworkStack
from infra.release import ReleaseStack
from infra.roles import arn
from infra.stage import STAGES, StageStack, default_release
from infra.stage_roles import (
    Models,
    ReleaseAccess,
    ServingRolesStack,
    release_account_grants,
    stage_name,
)
from infra.storage import StorageStack
from infra.workflows import WorkflowStack
from pipelines.churn.images import model_monitor_image
from pipelines.churn.pipeline import job_images, xgboost_image
from pipelines.churn.schema_source import SchemaSource
from processing.churn_schema import Schema, default_group


def build(app: cdk.App) -> dict[str, cdk.Stack]:
    """The stacks, checked by cdk-nag; returns {name: stack}."""
    context = app.node.try_get_context
    prefix = context("prefix") or "churn"
    region = context("region") or os.environ.get("CDK_DEFAULT_REGION") or "us-east-1"
    # Names (the bucket's, the roles' ARNs) need the account: give -c account=..., or let the
    # CDK CLI set CDK_DEFAULT_ACCOUNT from your credentials; synthesis alone uses a stand-in.
    account = context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT") or "123456789012"
    env = cdk.Environment(account=account, region=region)
    storage = StorageStack(
        app,
        "%s-storage" % prefix,
        prefix=prefix,
        env=env,
        capture_days=int(context("capture_days") or 365),
    )
    # Each stage in this account, or one of its own (-c staging_account=..., -c
    # prod_account=...): infra/stage_roles.py.
    accounts = {s.name: str(context("%s_account" % s.name) or account) for s in STAGES}
    elsewhere = {stage: a for stage, a in accounts.items() if a != account}
    if elsewhere:
        release_account_grants(storage, prefix, elsewhere)
    schema = SchemaSource(context("schema") or "seed")
    # The schema's model package group (churn-<schema name> unless it names one), as `churn run`
    # and run-pipeline register into it; -c group=NAME keeps an existing group.
    group_name = context("group") or group_of(prefix, schema.schema)
    pipeline_name = "%s-pipeline" % prefix
    feature_group = (
        "%s-customers" % prefix if has_record_identifier(schema.schema) else None
    )  # the data stack's, which the pipeline's jobs write
    network = None
    if truthy(context("vpc")):
        network = NetworkStack(app, "%s-network" % prefix, prefix=prefix, env=env, storage=storage)
    mlops = MlopsStack(
        app,
        "%s-mlops" % prefix,
        prefix=prefix,
        env=env,
        storage=storage,
        group_name=group_name,
        images=list(job_images(region).values()),
        schema=schema,
        network=network,
        feature_group=feature_group,
        pipeline_name=pipeline_name,
        reader_accounts=sorted(set(elsewhere.values())),
    )
    data = DataStack(
        app, "%s-data" % prefix, prefix=prefix, env=env, storage=storage, mlops=mlops,
        schema=schema.schema, feature_group=feature_group,
    )  # fmt: skip
    features = schema.schema.feature_names
    # The road to production is the release pipeline's stages, whose endpoints are stack
    # resources; -c workflows=1 adds the Step Functions workflows, whose deploy state machine
    # creates its endpoint (-c endpoint, churn) outside CloudFormation, as `churn deploy` does.
    workflows = None
    if truthy(context("workflows")):
        workflows = WorkflowStack(
            app,
            "%s-workflows" % prefix,
            prefix=prefix,
            env=env,
            storage=storage,
            mlops=mlops,
            group_name=group_name,
            endpoint_name=context("endpoint") or prefix,
            pipeline_name=pipeline_name,
            schema=schema,
            databrew_job="%s-prepare" % prefix,  # the data stack's recipe job
            network=network,
        )
    served = (context("endpoint") or prefix) if workflows else stage_name(prefix, STAGES[-1].name)
    monitoring = MonitoringStack(
        app,
        "%s-monitoring" % prefix,
        prefix=prefix,
        env=env,
        storage=storage,
        features=features,
        endpoint_name=served,
        pipeline_name=pipeline_name,
        alarm_email=context("alarm_email"),
        alarm_topic_arn=context("alarm_topic_arn"),
        endpoint_alarms=workflows is not None,
    )
    config = ConfigStack(
        app,
        "%s-config" % prefix,
        prefix=prefix,
        env=env,
        storage=storage,
        mlops=mlops,
        workflows=workflows,
        monitoring=monitoring,
        endpoint_name=served,
        feature_group=feature_group,
        network=network,
    )
    models = Models(prefix, account, region, group_name.lower())
    inference_image, monitor_image = xgboost_image(region), model_monitor_image(region)
    # Per account that has stages, its roles (and in a stage's own account its storage):
    # {stage: (that account's storage, its roles stack)}.
    homes: dict[str, tuple[StorageStack, ServingRolesStack]] = {}
    here = [s.name for s in STAGES if s.name not in elsewhere]
    if here:
        serving = ServingRolesStack(
            app, "%s-serving" % prefix, prefix=prefix, env=env, storage=storage, models=models,
            stages=here, inference_image=inference_image, monitor_image=monitor_image,
        )  # fmt: skip
        homes.update({stage: (storage, serving) for stage in here})
    for stage, there in sorted(elsewhere.items()):
        stage_env = cdk.Environment(account=there, region=region)
        own = StorageStack(
            app, "%s-%s-storage" % (prefix, stage), prefix=prefix, env=stage_env,
            capture_days=int(context("capture_days") or 365),
        )  # fmt: skip
        homes[stage] = (
            own,
            ServingRolesStack(
                app, "%s-%s-serving" % (prefix, stage), prefix=prefix, env=stage_env,
                storage=own, models=models, stages=[stage], release=ReleaseAccess(account),
                alarm_email=context("alarm_email"), inference_image=inference_image,
                monitor_image=monitor_image,
            ),
        )  # fmt: skip
    stacks: dict[str, cdk.Stack] = {
        "storage": storage,
        "mlops": mlops,
        "monitoring": monitoring,
        "config": config,
        "data": data,
    }
    for stage, (own, roles) in homes.items():
        stacks[roles.stack_name.replace(prefix + "-", "", 1)] = roles
        if own is not storage:
            stacks["%s-storage" % stage] = own
    if workflows:
        stacks["workflows"] = workflows
    if network:
        stacks["network"] = network
    release = default_release(context)
    if release:  # the release pipeline's build gives the version (infra/stage.py)
        for settings in STAGES:
            own, roles = homes[settings.name]
            given_topic = context("alarm_topic_arn") if settings.name not in elsewhere else None
            stacks[settings.name] = StageStack(
                app,
                stage_name(prefix, settings.name),
                prefix=prefix,
                env=cdk.Environment(account=accounts[settings.name], region=region),
                stage=settings,
                release=release,
                storage=own,
                features=features,
                monitor_image=monitor_image,
                topic_arn=given_topic
                or arn("sns", region, accounts[settings.name], "%s-alarms" % prefix),
            )
            stacks[settings.name].node.add_dependency(roles)  # its roles, named by ARN
    repository = context("repository")
    if repository:  # the CI and release pipelines need to know where the code lives
        source = dict(
            repository=repository,
            branch=context("branch") or "main",
            connection_arn=context("connection_arn"),
        )
        stacks["ci"] = CiStack(
            app,
            "%s-ci" % prefix,
            prefix=prefix,
            env=env,
            storage=storage,
            mlops=mlops,
            pipeline_name=pipeline_name,
            **source,
        )
        stacks["release"] = ReleaseStack(
            app,
            "%s-release" % prefix,
            prefix=prefix,
            env=env,
            storage=storage,
            group_name=group_name,
            stages=STAGES,
            accounts=accounts,
            models=models,
            schema=context("schema") or "seed",
            synth_context={
                k: str(context(k))
                for k in SYNTH_CONTEXT
                if context(k) is not None and k not in ("account", "region")
            }
            | {"account": account, "region": region},
            **source,
        )
    if truthy(context("catalog")):  # the SageMaker project template
        stacks["catalog"] = CatalogStack(
            app,
            "%s-catalog" % prefix,
            prefix=prefix,
            env=env,
            tags_for=lambda name: project_tags(name, context("stage")),
            studio_role_arns=[a for a in str(context("studio_role_arn") or "").split(",") if a],
        )
    project = project_context_tags(
        context("sagemaker_project_name"), context("sagemaker_project_id")
    )
    for key, value in project.items():
        cdk.Tags.of(app).add(key, value)
    tags = project_tags(prefix, context("stage"))
    for key, value in tags.items():
        cdk.Tags.of(app).add(key, value)
    # The data stack's resources are CfnResources by type name, which Tags cannot see.
    for resource in (data.feature_group, data.dataset, data.recipe, data.job):
        if resource is not None:
            resource.add_property_override(
                "Tags", [{"Key": k, "Value": v} for k, v in tags.items()]
            )
    boundary = context("permissions_boundary")
    if boundary:  # an organisation's boundary on every role the app creates
        policy = iam.ManagedPolicy.from_managed_policy_arn(
            storage,
            "PermissionsBoundary",
            boundary
            if str(boundary).startswith("arn:")
            else arn("iam", "", account, "policy/%s" % boundary),
        )
        iam.PermissionsBoundary.of(app).apply(policy)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


PROJECT = "churn-pipelines"
# The context keys the app reads (the module's docstring), which the release pipeline's build
# synthesizes with again; the release's own three come from pipelines.aws.release_context.
SYNTH_CONTEXT = (
    "prefix", "region", "account", "group", "endpoint", "schema", "capture_days", "alarm_email",
    "alarm_topic_arn", "repository", "branch", "connection_arn", "stage", "vpc", "workflows",
    "sagemaker_project_name", "sagemaker_project_id", "permissions_boundary",
    "staging_account", "prod_account",
)  # fmt: skip


def group_of(prefix: str, schema: Schema) -> str:
    """The model package group: the one the schema names, else churn-<schema name> (what
    `churn run` registers into) with the prefix for churn, so two prefixes share an account."""
    if schema.model_package_group != default_group(schema.name):
        return schema.model_package_group
    return prefix + schema.model_package_group[len("churn") :]


def truthy(value: Any) -> bool:
    """A context flag: -c vpc=1 / true / yes."""
    return str(value or "").lower() in ("1", "true", "yes")


def project_tags(prefix: str, stage: Optional[str] = None) -> dict[str, str]:
    """The tags on every resource that takes tags: the project, its prefix and (with -c
    stage=...) its stage."""
    tags = {"project": PROJECT, "prefix": prefix}
    if stage:
        tags["stage"] = str(stage)
    return tags


def context_from(argv: list[str], cdk_json: str = "cdk.json") -> dict[str, Any]:
    """The context `cdk synth` would give the app, when run without the CLI: cdk.json's (from
    the current directory), then cdk.context.json's, then each `-c key=value` of argv."""
    context: dict[str, Any] = {}
    for path in (cdk_json, os.path.join(os.path.dirname(cdk_json), "cdk.context.json")):
        if os.path.isfile(path):
            with open(path) as f:
                document = json.load(f)
            context.update(document.get("context", {}) if path.endswith("cdk.json") else document)
    for i, arg in enumerate(argv):
        value = None
        if arg in ("-c", "--context") and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--context="):
            value = arg[len("--context=") :]
        if value is not None:
            key, sep, given = value.partition("=")
            if not sep:
                raise SystemExit("context %r is not key=value" % value)
            context[key] = given
    return context


def main(argv: Optional[list[str]] = None) -> None:
    """Run by the CDK CLI (cdk.json's app), the App takes its context and out directory from
    the CLI (CDK_CONTEXT_JSON, CDK_OUTDIR); run directly (`make synth`), it reads cdk.json and
    `-c key=value` as the CLI does and writes cdk.out/ (or --outdir DIR)."""
    argv = sys.argv[1:] if argv is None else argv
    if "CDK_OUTDIR" in os.environ or "CDK_CONTEXT_JSON" in os.environ:
        app = cdk.App()
    else:
        outdir = "cdk.out"
        for i, arg in enumerate(argv):
            if arg in ("-o", "--outdir") and i + 1 < len(argv):
                outdir = argv[i + 1]
        app = cdk.App(outdir=outdir, context=context_from(argv))
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
