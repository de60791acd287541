"""The CDK app: `python -m infra.app` (what cdk.json runs), or `make synth` into cdk.out.

    context (cdk.json or -c): prefix (churn), region (us-east-1), account, group (the
    schema's model package group, churn-<schema name>), endpoint (churn), schema (seed: the
    drift alarms' features), capture_days (365), alarm_email (subscribed to the alarm topic),
    alarm_topic_arn (an existing topic the alarms publish to instead of a new one); for the CI
    stack: repository (owner/name with connection_arn, a CodeStar connection; or a CodeCommit
    repository's name) and branch (main); stage (a tag, with project and prefix, on every
    resource)

Every stack is checked by cdk-nag's AwsSolutions pack during synthesis: an unacknowledged
finding fails it."""

import json
import os
import sys
from typing import Any, Optional

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.catalog import CatalogStack, project_context_tags
from infra.ci import CiStack
from infra.config import ConfigStack
from infra.data import DataStack, has_record_identifier
from infra.mlops import MlopsStack
from infra.monitoring import MonitoringStack
from infra.network import NetworkStack
from infra.storage import StorageStack
from infra.workflows import WorkflowStack
from pipelines.churn.feature_group import DEFAULT_NAME as FEATURE_GROUP
from pipelines.churn.pipeline import job_images
from pipelines.churn.schema_source import SchemaSource


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
    schema = SchemaSource(context("schema") or "seed")
    # The schema's model package group (churn-<schema name> unless it names one), as `churn run`
    # and run-pipeline register into it; -c group=NAME keeps an existing group.
    group_name = context("group") or schema.schema.model_package_group
    network = None
    if str(context("vpc") or "").lower() in ("1", "true", "yes"):
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
        feature_group=FEATURE_GROUP if has_record_identifier(schema.schema) else None,
    )
    data = DataStack(
        app, "%s-data" % prefix, prefix=prefix, env=env, storage=storage, mlops=mlops,
        schema=schema.schema,
    )  # fmt: skip
    workflows = WorkflowStack(
        app,
        "%s-workflows" % prefix,
        prefix=prefix,
        env=env,
        storage=storage,
        mlops=mlops,
        group_name=group_name,
        endpoint_name=context("endpoint") or "churn",
        schema=schema,
        databrew_job="%s-prepare" % prefix,  # the data stack's recipe job
        network=network,
    )
    monitoring = MonitoringStack(
        app,
        "%s-monitoring" % prefix,
        prefix=prefix,
        env=env,
        storage=storage,
        features=schema.schema.feature_names,
        endpoint_name=context("endpoint") or "churn",
        alarm_email=context("alarm_email"),
        alarm_topic_arn=context("alarm_topic_arn"),
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
        endpoint_name=context("endpoint") or "churn",
        network=network,
    )
    stacks: dict[str, cdk.Stack] = {
        "storage": storage,
        "mlops": mlops,
        "workflows": workflows,
        "monitoring": monitoring,
        "config": config,
        "data": data,
    }
    if network:
        stacks["network"] = network
    repository = context("repository")
    if repository:  # the CI stack needs to know where the code lives
        stacks["ci"] = CiStack(
            app,
            "%s-ci" % prefix,
            prefix=prefix,
            env=env,
            storage=storage,
            mlops=mlops,
            pipeline_name="ChurnPipeline",
            repository=repository,
            branch=context("branch") or "main",
            connection_arn=context("connection_arn"),
        )
    # -- SageMaker project template (infra/catalog.py) --------------------------------------
    # -c catalog=1: the Service Catalog portfolio and product Studio creates projects from;
    # -c studio_role_arn=ARN[,ARN]: who sees it. A project's build deploys this app with
    # -c sagemaker_project_name/-c sagemaker_project_id, which tag every stack and resource.
    if str(context("catalog") or "").lower() in ("1", "true", "yes"):
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
    # -- end of the SageMaker project template ----------------------------------------------
    tags = project_tags(prefix, context("stage"))
    for key, value in tags.items():
        cdk.Tags.of(app).add(key, value)
    # The data stack's resources are CfnResources by type name, which Tags cannot see.
    for resource in (data.feature_group, data.dataset, data.recipe, data.job):
        if resource is not None:
            resource.add_property_override(
                "Tags", [{"Key": k, "Value": v} for k, v in tags.items()]
            )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


PROJECT = "churn-pipelines"


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
