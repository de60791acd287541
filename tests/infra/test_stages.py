"""The road from an approved version to production (infra/stage.py, infra/release.py),
synthesized offline: a stack per stage with the endpoint, its scaling, blue/green rollout with
rollback alarms, monitoring schedule and alarms; roles per purpose; the release pipeline
(source, build, deploy staging, test staging, approval, deploy prod) started by an approval;
and what `cdk destroy` leaves (no endpoint or schedule outside a stack).

Pages followed: CloudFormation's AWS::SageMaker::Endpoint DeploymentConfig, AutoRollbackConfig
("Maximum: 10" alarms) and BlueGreenUpdatePolicy; SageMaker's "Deployment guardrails" (blue/green
with canary and linear traffic shifting, the baking period, "Auto-Rollback Configuration and
Monitoring": the alarms, and cloudwatch:DescribeAlarms on them); "Automatically scale Amazon
SageMaker AI models" (a target-tracking policy on SageMakerVariantInvocationsPerInstance);
AWS::SageMaker::DataQualityJobDefinition and MonitoringSchedule; the MLOps model-deploy
project template (EventBridge on "SageMaker Model Package State Change" -> CodePipeline with
build, staging, test, manual approval, prod)."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
cdk = pytest.importorskip("aws_cdk")

from test_infra import (  # noqa: E402
    ACCOUNT,
    CONNECTION,
    REGION,
    as_list,
    synthesize,
)

PACKAGE = "arn:aws:sagemaker:%s:%s:model-package/churn-seed/3" % (REGION, ACCOUNT)
BASELINE = "s3://churn-artifacts-%s-%s/churn/e1/BaselineData/baseline/" % (ACCOUNT, REGION)
RELEASE = dict(
    model_package_arn=PACKAGE,
    baseline_constraints=BASELINE + "constraints.json",
    baseline_statistics=BASELINE + "statistics.json",
)
# What only CloudFormation's stage deployer may do: create or change what bills per hour.
ENDPOINT_ACTIONS = {
    "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpoint",
    "sagemaker:CreateMonitoringSchedule",
    "sagemaker:UpdateMonitoringSchedule",
}


# The properties that name a stage's own resources.
OWN_NAMES = {"ModelName", "EndpointConfigName", "EndpointName", "AlarmName", "PolicyName",
             "JobDefinitionName", "MonitoringScheduleName"}  # fmt: skip


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """The default app (no workflows) with its release pipeline and a release to deploy."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.staged"),
        repository="example/churn",
        connection_arn=CONNECTION,
        **RELEASE,
    )


def resources(template, kind):
    return [r["Properties"] for r in template.find_resources(kind).values()]


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_each_stage_is_a_stack_with_its_endpoint_model_and_capture(staged, stage):
    _, t = staged
    s = t[stage]
    (model,) = resources(s, "AWS::SageMaker::Model")
    assert model["Containers"] == [{"ModelPackageName": PACKAGE}]
    assert model["ExecutionRoleArn"] == "arn:aws:iam::%s:role/churn-%s-endpoint" % (ACCOUNT, stage)
    assert re.fullmatch(r"churn-%s-[0-9a-f]{8}" % stage, model["ModelName"])
    (config,) = resources(s, "AWS::SageMaker::EndpointConfig")
    assert config["KmsKeyId"] and config["DataCaptureConfig"]["KmsKeyId"]
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == (
        "s3://churn-artifacts-%s-%s/churn/capture/%s" % (ACCOUNT, REGION, stage)
    )
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 100
    (variant,) = config["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    (endpoint,) = resources(s, "AWS::SageMaker::Endpoint")
    assert endpoint["EndpointName"] == "churn-%s" % stage
    assert endpoint["RetainAllVariantProperties"] is True  # keeps what scaling reached


@pytest.mark.parametrize("stage, least, most", [("staging", 1, 2), ("prod", 2, 4)])
def test_each_stage_scales_on_invocations_per_instance(staged, stage, least, most):
    _, t = staged
    s = t[stage]
    (target,) = resources(s, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ResourceId"] == "endpoint/churn-%s/variant/AllTraffic" % stage
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (least, most)
    (config,) = resources(s, "AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == least
    (policy,) = resources(s, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert tracking["TargetValue"] > 0


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_updates_shift_a_canary_and_roll_back_on_errors_latency_and_drift(staged, stage):
    _, t = staged
    s = t[stage]
    (endpoint,) = resources(s, "AWS::SageMaker::Endpoint")
    deployment = endpoint["DeploymentConfig"]
    policy = deployment["BlueGreenUpdatePolicy"]
    routing = policy["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY"
    assert routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}
    assert 0 < routing["WaitIntervalInSeconds"] <= 3600
    assert 0 < policy["TerminationWaitInSeconds"] <= 3600  # the bake, old fleet kept
    assert 600 <= policy["MaximumExecutionTimeoutInSeconds"] <= 28800
    alarms = {k: v["Properties"] for k, v in s.find_resources("AWS::CloudWatch::Alarm").items()}
    composite = {
        k: v["Properties"] for k, v in s.find_resources("AWS::CloudWatch::CompositeAlarm").items()
    }
    rollback = [a["AlarmName"]["Ref"] for a in deployment["AutoRollbackConfiguration"]["Alarms"]]
    assert 1 <= len(rollback) <= 10
    names = {ref: (alarms.get(ref) or composite.get(ref))["AlarmName"] for ref in rollback}
    assert sorted(names.values()) == sorted(
        "churn-%s-%s" % (stage, n) for n in ("endpoint-5xx", "model-latency-p99", "drift-any")
    )
    # drift-any is any feature's drift alarm, each on this stage's schedule
    (drift_any,) = composite.values()
    from processing.churn_schema import load_schema

    features = load_schema("seed").feature_names
    for feature in features:
        (ref,) = [
            k for k, a in alarms.items() if a["AlarmName"] == "churn-%s-drift-%s" % (stage, feature)
        ]
        assert ref in json.dumps(drift_any["AlarmRule"])
        assert {"Name": "MonitoringSchedule", "Value": "churn-%s-data-quality-hourly" % stage} in (
            alarms[ref]["Dimensions"]
        )
    assert len(alarms) == 2 + len(features)
    topic = "arn:aws:sns:%s:%s:churn-alarms" % (REGION, ACCOUNT)
    assert all(a["AlarmActions"] == [topic] for a in alarms.values())


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_each_stage_is_monitored_hourly_against_the_versions_baselines(staged, stage):
    _, t = staged
    s = t[stage]
    (job,) = resources(s, "AWS::SageMaker::DataQualityJobDefinition")
    assert job["DataQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": RELEASE["baseline_constraints"]},
        "StatisticsResource": {"S3Uri": RELEASE["baseline_statistics"]},
    }
    assert job["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == "churn-%s" % stage
    assert job["DataQualityAppSpecification"]["Environment"] == {
        "publish_cloudwatch_metrics": "Enabled"
    }
    assert job["RoleArn"] == "arn:aws:iam::%s:role/churn-%s-monitoring" % (ACCOUNT, stage)
    assert job["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"]
    assert job["DataQualityJobOutputConfig"]["KmsKeyId"]
    (schedule,) = resources(s, "AWS::SageMaker::MonitoringSchedule")
    assert schedule["MonitoringScheduleName"] == "churn-%s-data-quality-hourly" % stage
    config = schedule["MonitoringScheduleConfig"]
    assert config["MonitoringType"] == "DataQuality"
    assert config["ScheduleConfig"] == {"ScheduleExpression": "cron(0 * ? * * *)"}
    assert config["MonitoringJobDefinitionName"] == job["JobDefinitionName"]


def role_statements(template, role_name):
    """The statements of the role named `role_name` in `template` (its DefaultPolicy)."""
    roles = {k: v["Properties"] for k, v in template.find_resources("AWS::IAM::Role").items()}
    (logical,) = [k for k, v in roles.items() if v.get("RoleName") == role_name]
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": logical} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return roles[logical], {s["Sid"]: s for s in found}


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_the_endpoint_and_monitoring_have_roles_of_their_own(staged, stage):
    """One role served the pipeline, the endpoint, Model Monitor and the feature group: the
    serving container could write code bundles. Now each stage has an endpoint role that reads
    the model and writes only capture, and a monitoring role."""
    _, t = staged
    serving = t["serving"]
    role, endpoint = role_statements(serving, "churn-%s-endpoint" % stage)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }
    writes = [s for s in endpoint.values() if "s3:PutObject" in as_list(s["Action"])]
    assert [as_list(s["Resource"]) for s in writes] == [
        ["arn:aws:s3:::churn-artifacts-%s-%s/churn/capture/%s/*" % (ACCOUNT, REGION, stage)]
    ]
    assert as_list(endpoint["ReadTheModel"]["Action"]) == ["s3:GetObject"]
    assert as_list(endpoint["RollbackAlarms"]["Resource"]) == [
        "arn:aws:cloudwatch:%s:%s:alarm:churn-%s-*" % (REGION, ACCOUNT, stage)
    ]
    _, monitoring = role_statements(serving, "churn-%s-monitoring" % stage)
    writes = [s for s in monitoring.values() if "s3:PutObject" in as_list(s["Action"])]
    assert [as_list(s["Resource"]) for s in writes] == [
        ["arn:aws:s3:::churn-artifacts-%s-%s/churn/monitoring/%s/*" % (ACCOUNT, REGION, stage)]
    ]
    assert monitoring["DriftMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": ["aws/sagemaker/Endpoints/data-metrics"]}
    }
    # The stages' stacks create no role: an administrator deploys them, not the pipeline.
    assert not t[stage].find_resources("AWS::IAM::Role")


def test_the_release_pipeline_runs_build_staging_test_approval_prod(staged):
    _, t = staged
    release = t["release"]
    (pipeline,) = resources(release, "AWS::CodePipeline::Pipeline")
    stages = [(s["Name"], [a["ActionTypeId"]["Provider"] for a in s["Actions"]])
              for s in pipeline["Stages"]]  # fmt: skip
    assert stages == [
        ("Source", ["CodeStarSourceConnection"]),
        ("Build", ["CodeBuild"]),
        ("DeployStaging", ["CloudFormation"]),
        ("TestStaging", ["CodeBuild"]),
        ("ApproveProd", ["Manual"]),
        ("DeployProd", ["CloudFormation"]),
    ]
    deploys = {s["Name"]: s["Actions"][0]["Configuration"] for s in pipeline["Stages"]
               if s["Name"].startswith("Deploy")}  # fmt: skip
    for stage in ("staging", "prod"):
        config = deploys["Deploy%s" % stage.title()]
        assert config["StackName"] == "churn-%s" % stage
        assert config["TemplatePath"] == "Templates::churn-%s.template.json" % stage
        assert config["ActionMode"] == "CREATE_UPDATE"
        assert "RoleArn" in config


def buildspec(template, project_name):
    projects = {p["Name"]: p for p in resources(template, "AWS::CodeBuild::Project")}
    return json.loads(projects[project_name]["Source"]["BuildSpec"])


def test_the_staging_test_is_the_stage_test_against_the_staging_endpoint(staged):
    _, t = staged
    spec = buildspec(t["release"], "churn-release-test-staging")
    (command,) = spec["phases"]["build"]["commands"]
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "pipelines.aws.stage_test"]
    assert argv[argv.index("--endpoint-name") + 1] == "churn-staging"
    assert float(argv[argv.index("--p99-ms") + 1]) > 0
    assert int(argv[argv.index("--requests") + 1]) >= 100
    (_, invoke) = role_statements_by_project(t["release"], "churn-release-test-staging")
    assert invoke == ["arn:aws:sagemaker:%s:%s:endpoint/churn-staging" % (REGION, ACCOUNT)]


def role_statements_by_project(template, project_name):
    """(the project's role's logical id, the resources it may invoke)."""
    projects = {p["Name"]: p for p in resources(template, "AWS::CodeBuild::Project")}
    role = projects[project_name]["ServiceRole"]["Fn::GetAtt"][0]
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            for s in policy["Properties"]["PolicyDocument"]["Statement"]:
                if "sagemaker:InvokeEndpoint" in as_list(s["Action"]):
                    return role, as_list(s["Resource"])
    return role, []


def test_the_build_synthesizes_both_stages_from_the_approved_version(staged, tmp_path):
    """The build's commands, run as CodeBuild would with release_context's answer, write the
    two templates the deploy actions take."""
    _, t = staged
    spec = buildspec(t["release"], "churn-release-build")
    assert spec["artifacts"] == {
        "base-directory": "cdk.out",
        "files": ["churn-staging.template.json", "churn-prod.template.json"],
    }
    commands = spec["phases"]["build"]["commands"]
    assert any("pipelines.aws.release_context --group churn-seed" in c for c in commands)
    (synth,) = [c for c in commands if "infra.app" in c]
    release = " ".join("-c %s=%s" % kv for kv in RELEASE.items())
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    argv = shlex.split(synth.replace("$release", release))
    assert argv[:3] == ["python", "-m", "infra.app"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env["PYTHONPATH"] = root
    proc = subprocess.run([sys.executable] + argv[1:], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for stage in ("staging", "prod"):
        template = json.loads(
            (tmp_path / "cdk.out" / ("churn-%s.template.json" % stage)).read_text()
        )
        types = {r["Type"] for r in template["Resources"].values()}
        assert "AWS::SageMaker::Endpoint" in types
        # CloudFormation deploys it with the stage deployer: no CDK bootstrap rule to check
        assert "Rules" not in template and "BootstrapVersion" not in template.get("Parameters", {})


def test_an_approved_version_starts_the_release(staged):
    _, t = staged
    release = t["release"]
    (pipeline,) = release.find_resources("AWS::CodePipeline::Pipeline")
    (rule,) = resources(release, "AWS::Events::Rule")
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": ["churn-seed"], "ModelApprovalStatus": ["Approved"]},
    }
    (target,) = rule["Targets"]
    assert "arn:aws:codepipeline:%s:%s:" % (REGION, ACCOUNT) in json.dumps(target["Arn"])
    assert pipeline in json.dumps(target["Arn"])
    # Without the workflows, nothing else acts on an approval.
    assert "workflows" not in t


def test_the_stage_deployer_manages_the_stages_resources_and_creates_no_role(staged):
    _, t = staged
    role, deployer = role_statements(t["release"], "churn-stage-deployer")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "cloudformation.amazonaws.com"
    }
    actions = {a for s in deployer.values() for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("iam:") and a != "iam:PassRole"} - {
        "iam:CreateServiceLinkedRole"
    }
    assert deployer["PassTheStageRoles"]["Resource"] == [
        "arn:aws:iam::%s:role/churn-%s-%s" % (ACCOUNT, stage, purpose)
        for stage in ("staging", "prod")
        for purpose in ("endpoint", "monitoring")
    ]
    endpoints = [r for r in as_list(deployer["StageEndpoints"]["Resource"]) if ":endpoint/" in r]
    assert endpoints == [
        "arn:aws:sagemaker:%s:%s:endpoint/churn-%s" % (REGION, ACCOUNT, s)
        for s in ("staging", "prod")
    ]


def test_cdk_destroy_leaves_no_endpoint_every_endpoint_and_schedule_is_a_stack_resource(staged):
    """The deploy state machine created the endpoint and its schedule outside CloudFormation,
    so `cdk destroy` left them billing. In the default app every endpoint and schedule is a
    resource of a stage stack, deleted with it (no Retain), and no role but CloudFormation's
    stage deployer may create or update one."""
    _, t = staged
    owners = {}
    for name, template in t.items():
        for kind in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::MonitoringSchedule"):
            for body in template.find_resources(kind).values():
                owners.setdefault(name, []).append(kind)
                assert body.get("DeletionPolicy", "Delete") == "Delete"
                assert body.get("UpdateReplacePolicy", "Delete") == "Delete"
    assert sorted(owners) == ["prod", "staging"]
    for name, template in t.items():
        roles = {k: v["Properties"] for k, v in template.find_resources("AWS::IAM::Role").items()}
        for policy in template.find_resources("AWS::IAM::Policy").values():
            for s in policy["Properties"]["PolicyDocument"]["Statement"]:
                granted = ENDPOINT_ACTIONS & set(as_list(s["Action"]))
                if not granted:
                    continue
                (role,) = [r["Ref"] for r in policy["Properties"]["Roles"]]
                assert roles[role].get("RoleName") == "churn-stage-deployer", (name, granted)
    # and the alarms, scaling and job definitions (what bills besides) are in the stacks too
    for stage in ("staging", "prod"):
        for kind in ("AWS::CloudWatch::Alarm", "AWS::ApplicationAutoScaling::ScalableTarget",
                     "AWS::SageMaker::DataQualityJobDefinition"):  # fmt: skip
            assert t[stage].find_resources(kind), (stage, kind)


def test_without_a_release_there_is_no_stage_stack_and_a_half_release_is_refused():
    app = cdk.App(context=dict(account=ACCOUNT, region=REGION))
    from infra.app import build

    assert not {"staging", "prod"} & set(build(app))
    app = cdk.App(context=dict(account=ACCOUNT, region=REGION, model_package_arn=PACKAGE))
    with pytest.raises(SystemExit, match="baseline_constraints and baseline_statistics"):
        build(app)


def test_every_stage_name_carries_the_prefix_and_the_stage(tmp_path):
    _, t = synthesize(tmp_path, prefix="edited", **RELEASE)
    for stage in ("staging", "prod"):
        named = []
        for body in t[stage].to_json()["Resources"].values():
            for key, value in body.get("Properties", {}).items():
                if key in OWN_NAMES and isinstance(value, str):
                    named.append(value)
        assert named and all(n.startswith("edited-%s" % stage) for n in named), named


def test_the_stage_templates_pass_cfn_lint_and_cdk_nag(staged):
    out, _ = staged
    report = json.loads((out / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    templates = sorted(str(p) for p in out.glob("*.template.json"))
    assert len(templates) == 10
    cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    proc = subprocess.run([cfn_lint, "--regions", REGION, "--", *templates],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_no_stage_template_names_the_aws_partition_and_every_resource_is_tagged(staged, stage):
    from test_infra import taggable, tags_of

    out, _ = staged
    text = (out / ("churn-%s.template.json" % stage)).read_text()
    assert "arn:aws:" not in text.replace(PACKAGE, "<given>")
    expected = {"project": "churn-pipelines", "prefix": "churn", "stage": stage}
    checked = 0
    for logical, body in json.loads(text)["Resources"].items():
        name = taggable(body["Type"])
        if name is None:
            continue
        checked += 1
        tags = tags_of(body.get("Properties", {}), name)
        assert expected.items() <= tags.items(), (logical, body["Type"], tags)
    assert checked >= 5


# Properties ending in Name that name something else than the resource itself.
NOT_OWN = {"MetricName", "ModelPackageName", "ServiceName", "RecordIdentifierFeatureName",
           "EventTimeFeatureName", "PolicyName", "VariantName", "ProviderName"}  # fmt: skip


def test_every_name_carries_the_prefix_so_two_prefixes_share_an_account(tmp_path):
    """ChurnPipeline, churn-customers and the schema's group kept their names whatever the
    prefix: two copies of the app collided in one account."""
    _, t = synthesize(tmp_path, prefix="edited", workflows="1", repository="example/churn",
                      connection_arn=CONNECTION, **RELEASE)  # fmt: skip
    checked = 0
    for stack, template in t.items():
        for body in template.to_json()["Resources"].values():
            for key, value in body.get("Properties", {}).items():
                if not key.endswith("Name") or key in NOT_OWN or not isinstance(value, str):
                    continue
                checked += 1
                assert "edited" in value and "churn-" not in value, (stack, body["Type"], key)
    assert checked > 40
    mlops = t["mlops"].to_json()["Resources"]
    names = {k: v for b in mlops.values() for k, v in b["Properties"].items() if k.endswith("Name")}
    assert names["PipelineName"] == "edited-pipeline"
    assert names["ModelPackageGroupName"] == "edited-seed"
    (group,) = [b for b in t["data"].to_json()["Resources"].values()
                if b["Type"] == "AWS::SageMaker::FeatureGroup"]  # fmt: skip
    assert group["Properties"]["FeatureGroupName"] == "edited-customers"


def test_a_permissions_boundary_bounds_every_role(tmp_path):
    _, t = synthesize(tmp_path, repository="example/churn", connection_arn=CONNECTION,
                      workflows="1", permissions_boundary="org-boundary", **RELEASE)  # fmt: skip
    roles = [(stack, r) for stack, template in t.items()
             for r in resources(template, "AWS::IAM::Role")]  # fmt: skip
    assert len(roles) > 10
    for stack, role in roles:
        assert role["PermissionsBoundary"] == ("arn:aws:iam::%s:policy/org-boundary" % ACCOUNT), (
            stack,
            role.get("RoleName"),
        )


def test_the_readme_counts_the_alarms_the_templates_have(staged):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "README.md")) as f:
        readme = f.read()
    (said,) = re.findall(r"\((\d+) with the seed schema", readme)
    _, t = staged
    alarms = sum(len(x.find_resources("AWS::CloudWatch::Alarm")) for x in t.values())
    composite = sum(len(x.find_resources("AWS::CloudWatch::CompositeAlarm")) for x in t.values())
    assert (int(said), composite) == (alarms, 2)


STAGING_ACCOUNT, PROD_ACCOUNT = "111111111111", "222222222222"


@pytest.fixture(scope="module")
def accounts(tmp_path_factory):
    """Staging and prod each in an account of their own, as AWS's enterprise samples do."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.accounts"),
        repository="example/churn",
        connection_arn=CONNECTION,
        staging_account=STAGING_ACCOUNT,
        prod_account=PROD_ACCOUNT,
        **RELEASE,
    )


@pytest.mark.parametrize("stage, there", [("staging", STAGING_ACCOUNT), ("prod", PROD_ACCOUNT)])
def test_a_stage_of_its_own_account_has_its_storage_roles_deployer_action_role_and_topic(
    accounts, stage, there
):
    out, t = accounts
    assert "serving" not in t  # no stage left in the release account
    serving = t["%s-serving" % stage]
    _, endpoint = role_statements(serving, "churn-%s-endpoint" % stage)
    # the models stay in the release account: read there, decrypted with its key by alias
    assert as_list(endpoint["ReadTheModel"]["Resource"]) == [
        "arn:aws:s3:::churn-artifacts-%s-%s/churn/%s" % (ACCOUNT, REGION, k)
        for k in ("models/*", "code/*")
    ]
    assert endpoint["ReadTheModelKey"]["Resource"] == "arn:aws:kms:%s:%s:key/*" % (REGION, ACCOUNT)
    assert endpoint["ReadTheModelKey"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/churn"}
    }
    # the capture goes to the stage account's own bucket
    assert as_list(endpoint["WriteCapture"]["Resource"]) == [
        "arn:aws:s3:::churn-artifacts-%s-%s/churn/capture/%s/*" % (there, REGION, stage)
    ]
    role, action = role_statements(serving, "churn-release-action")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::%s:role/churn-release-pipeline" % ACCOUNT
    }
    assert as_list(action["DeployTheStages"]["Resource"]) == [
        "arn:aws:cloudformation:%s:%s:stack/churn-%s/*" % (REGION, there, stage)
    ]
    assert as_list(action["StageTest"]["Resource"]) == [
        "arn:aws:sagemaker:%s:%s:endpoint/churn-%s" % (REGION, there, stage)
    ]
    role, deployer = role_statements(serving, "churn-stage-deployer")
    assert deployer["TheApprovedVersions"]["Resource"] == (
        "arn:aws:sagemaker:%s:%s:model-package/churn-seed/*" % (REGION, ACCOUNT)
    )
    assert serving.find_resources("AWS::SNS::Topic")
    (config,) = resources(t[stage], "AWS::SageMaker::EndpointConfig")
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == (
        "s3://churn-artifacts-%s-%s/churn/capture/%s" % (there, REGION, stage)
    )
    alarms = resources(t[stage], "AWS::CloudWatch::Alarm")
    assert {a["AlarmActions"][0] for a in alarms} == {
        "arn:aws:sns:%s:%s:churn-alarms" % (REGION, there)
    }
    assert t["%s-storage" % stage].find_resources("AWS::KMS::Key")


def test_the_release_account_lets_the_stage_accounts_read_models_and_deploy_versions(accounts):
    _, t = accounts
    statements = {s.get("Sid"): s for p in resources(t["storage"], "AWS::S3::BucketPolicy")
                  for s in p["PolicyDocument"]["Statement"]}  # fmt: skip
    reads = statements["StageProdReads"]
    assert reads["Principal"] == {"AWS": "arn:aws:iam::%s:root" % PROD_ACCOUNT}
    assert reads["Action"] == "s3:GetObject"
    assert reads["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        "arn:aws:iam::%s:role/%s" % (PROD_ACCOUNT, name)
        for name in ("churn-prod-endpoint", "churn-prod-monitoring", "churn-release-action")
    ]
    (key,) = resources(t["storage"], "AWS::KMS::Key")
    decrypts = {s.get("Sid"): s for s in key["KeyPolicy"]["Statement"]}["StageProdDecrypts"]
    assert sorted(decrypts["Action"]) == ["kms:Decrypt", "kms:DescribeKey"]
    (group,) = resources(t["mlops"], "AWS::SageMaker::ModelPackageGroup")
    (allowed,) = group["ModelPackageGroupPolicy"]["Statement"]
    assert allowed["Principal"] == {
        "AWS": ["arn:aws:iam::%s:root" % a for a in (STAGING_ACCOUNT, PROD_ACCOUNT)]
    }


def test_the_release_pipeline_acts_in_the_stage_accounts_through_their_roles(accounts):
    _, t = accounts
    release = t["release"]
    (pipeline,) = resources(release, "AWS::CodePipeline::Pipeline")
    deploys = {
        s["Name"]: s["Actions"][0] for s in pipeline["Stages"] if s["Name"].startswith("Deploy")
    }
    for stage, there in (("staging", STAGING_ACCOUNT), ("prod", PROD_ACCOUNT)):
        action = deploys["Deploy%s" % stage.title()]
        assert action["RoleArn"] == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::%s:role/churn-release-action" % there
        }
        assert action["Configuration"]["RoleArn"] == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::%s:role/churn-stage-deployer" % there
        }
    _, pipeline_role = role_statements(release, "churn-release-pipeline")
    assert sorted(as_list(pipeline_role["ActInTheStageAccounts"]["Resource"])) == [
        "arn:aws:iam::%s:role/churn-release-action" % a for a in (STAGING_ACCOUNT, PROD_ACCOUNT)
    ]
    assert not release.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": "churn-stage-deployer"}}
    )
    (command,) = buildspec(release, "churn-release-test-staging")["phases"]["build"]["commands"]
    argv = shlex.split(command)
    assert argv[argv.index("--assume-role-arn") + 1] == (
        "arn:aws:iam::%s:role/churn-release-action" % STAGING_ACCOUNT
    )


def test_the_accounts_templates_pass_cdk_nag_and_cfn_lint(accounts):
    out, _ = accounts
    report = json.loads((out / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    templates = sorted(str(p) for p in out.glob("*.template.json"))
    assert len(templates) == 13
    for path in templates:  # every ARN in the stack's partition, the given ones aside
        with open(path) as f:
            text = f.read().replace(PACKAGE, "<given>").replace(CONNECTION, "<given>")
        assert "arn:aws:" not in text, (path, re.findall(r"arn:aws:[^\"]{0,60}", text))
    cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    proc = subprocess.run([cfn_lint, "--regions", REGION, "--", *templates],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
