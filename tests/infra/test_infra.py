"""The CDK app (infra/), synthesized offline in this process: the properties the issue names,
asserted on the templates with aws_cdk.assertions; cdk-nag's AwsSolutions pack with every
acknowledgement counted; cfn-lint on the templates; a policy check over every IAM policy."""

import json
import os
import re
import subprocess
import sys

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

cdk = pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.app import build  # noqa: E402
from infra.roles import WILDCARD_RESOURCES  # noqa: E402

ACCOUNT, REGION = "123456789012", "eu-west-1"
# A new acknowledgement is a visible change: this count moves with it. 22 and 23: the build
# role's pipeline/<name>/execution/* (run-pipeline --wait watches the execution it started);
# 61 and 62: the stages' roles (serving), the release pipeline's roles and its CloudFormation
# role (application-autoscaling's actions, the stages' own names).
ACKNOWLEDGED = 61
VPC_ACKNOWLEDGED = 62
# The only wildcard resources a policy may name (the role's docstring says why).
SCOPED = [
    r"arn:aws:s3:::churn-artifacts-%s-%s/churn/\*" % (ACCOUNT, REGION),
    r"arn:aws:sagemaker:%s:%s:(processing-job|training-job|transform-job|model)/pipelines-\*"
    % (REGION, ACCOUNT),
    r"arn:aws:sagemaker:%s:%s:model-package/churn-seed/\*" % (REGION, ACCOUNT),
    r"arn:aws:logs:%s:%s:log-group:/aws/sagemaker/\*" % (REGION, ACCOUNT),
    r"arn:aws:sagemaker:%s:%s:(model|endpoint-config|training-job)/churn-\*" % (REGION, ACCOUNT),
    r"arn:aws:sagemaker:%s:%s:pipeline/churn-pipeline/execution/\*" % (REGION, ACCOUNT),
    r"arn:aws:states:%s:%s:execution:churn-deploy:\*" % (REGION, ACCOUNT),
    r"arn:aws:s3:::churn-artifacts-%s-%s/churn(-ci|/code)/\*" % (ACCOUNT, REGION),
    r"arn:aws:glue:%s:%s:table/sagemaker_featurestore/churn_customers\*" % (REGION, ACCOUNT),
    r"arn:aws:logs:%s:%s:log-group:/aws-glue-databrew/\*" % (REGION, ACCOUNT),
    r"arn:aws:ec2:%s:%s:network-interface/\*" % (REGION, ACCOUNT),
    # the stages' (infra/stage.py, infra/release.py)
    r"arn:aws:s3:::churn-artifacts-%s-%s/churn(/models|/capture/(staging|prod)|"
    r"/monitoring/(staging|prod)|/\*/baseline|-release)/\*" % (ACCOUNT, REGION),
    r"arn:aws:logs:%s:%s:log-group:/aws/sagemaker/(Endpoints/churn-(staging|prod)|ProcessingJobs)"
    r"\*" % (REGION, ACCOUNT),
    r"arn:aws:cloudwatch:%s:%s:alarm:churn-(staging|prod)-\*" % (REGION, ACCOUNT),
    r"arn:aws:sagemaker:%s:%s:(model|endpoint-config|data-quality-job-definition)/"
    r"churn-(staging|prod)-\*" % (REGION, ACCOUNT),
    r"arn:aws:cloudformation:%s:%s:stack/churn-(staging|prod)/\*" % (REGION, ACCOUNT),
]
CONNECTION = "arn:aws:codestar-connections:%s:%s:connection/example" % (REGION, ACCOUNT)


def in_aws(value):
    """The template with every ARN's partition (a Ref to AWS::Partition in an Fn::Join) read
    as aws, so the assertions compare plain ARNs; a join with other references stays one."""
    if isinstance(value, list):
        return [in_aws(v) for v in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::Join"] and value["Fn::Join"][0] == "":
        parts = []
        for part in in_aws(value["Fn::Join"][1]):
            part = "aws" if part == {"Ref": "AWS::Partition"} else part
            if parts and isinstance(part, str) and isinstance(parts[-1], str):
                parts[-1] += part
            else:
                parts.append(part)
        return parts[0] if len(parts) == 1 and isinstance(parts[0], str) else {
            "Fn::Join": ["", parts]}  # fmt: skip
    return {k: in_aws(v) for k, v in value.items()}


def template_of(stack):
    return Template.from_json(in_aws(Template.from_stack(stack).to_json()))


def synthesize(out, **context):
    app = cdk.App(outdir=str(out), context=dict(context, account=ACCOUNT, region=REGION))
    stacks = build(app)
    app.synth()
    return out, {name: template_of(stack) for name, stack in stacks.items()}


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    """The app with its CI from a CodeStar connection, and the Step Functions workflows."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.out"),
        repository="example/churn",
        connection_arn=CONNECTION,
        workflows="1",
    )


@pytest.fixture(scope="module")
def vpc_mode(tmp_path_factory):
    """In VPC mode, with its CI from a CodeCommit repository."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.vpc"), vpc="true", repository="churn-code", workflows="1"
    )


def test_the_key_rotates_and_encrypts_the_artifact_bucket(synthesized):
    _, t = synthesized
    storage = t["storage"]
    storage.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    key = next(iter(storage.find_resources("AWS::KMS::Key")))
    storage.has_resource_properties("AWS::S3::Bucket", {
        "BucketName": "churn-artifacts-%s-%s" % (ACCOUNT, REGION),
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]}}}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LoggingConfiguration": {"DestinationBucketName": Match.any_value(),
                                 "LogFilePrefix": "artifacts/"},
    })  # fmt: skip


def test_every_bucket_refuses_plain_http_and_blocks_public_access(synthesized):
    _, t = synthesized
    storage = t["storage"]
    buckets = storage.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for body in buckets.values():
        assert body["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True}  # fmt: skip
    policies = storage.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for body in policies.values():
        statements = body["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements)  # fmt: skip


def test_the_lifecycle_rules(synthesized):
    _, t = synthesized
    t["storage"].has_resource_properties("AWS::S3::Bucket", {
        "LifecycleConfiguration": {"Rules": [
            {"Id": "capture-to-infrequent-access", "Prefix": "churn/capture/", "Status": "Enabled",
             "ExpirationInDays": 365,
             "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]},
            {"Id": "noncurrent-versions", "Status": "Enabled",
             "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
            {"Id": "incomplete-uploads", "Status": "Enabled",
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        ]},
    })  # fmt: skip


def test_the_model_package_group_and_the_pipeline_role(synthesized):
    _, t = synthesized
    mlops = t["mlops"]
    mlops.has_resource_properties("AWS::SageMaker::ModelPackageGroup",
                                  {"ModelPackageGroupName": "churn-seed"})  # fmt: skip
    mlops.has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"}}]}})  # fmt: skip
    statements = {s["Sid"]: s for s in policy_statements(mlops)}
    assert statements["PassToJobs"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}  # fmt: skip
    assert statements["ListProjectPrefix"]["Condition"] == {
        "StringLike": {"s3:prefix": ["churn/*", "churn"]}
    }
    pull = statements["PullJobImages"]["Resource"]
    assert all(
        re.fullmatch(r"arn:aws:ecr:eu-west-1:\d{12}:repository/sagemaker-[a-z-]+", r) for r in pull
    )


def test_the_pipeline_role_puts_metrics_in_the_namespaces_the_code_and_the_alarms_use(synthesized):
    """The role might put metrics only in /aws/sagemaker/*, not where drift is published."""
    import inspect

    from pipelines.aws.monitoring import publish
    from pipelines.monitoring.report import NAMESPACE

    published = {inspect.signature(publish).parameters["namespace"].default}
    assert published == {NAMESPACE}
    _, t = synthesized
    statements = {s["Sid"]: s for s in policy_statements(t["mlops"])}
    condition = statements["JobMetrics"]["Condition"]
    assert list(condition) == ["StringEquals"] and list(condition["StringEquals"]) == [
        "cloudwatch:namespace"
    ]
    allowed = set(as_list(condition["StringEquals"]["cloudwatch:namespace"]))
    assert allowed == published
    # Every alarm watches a namespace the role publishes to, or one SageMaker publishes (AWS/).
    watched = {a["Properties"]["Namespace"]
               for a in t["monitoring"].find_resources("AWS::CloudWatch::Alarm").values()}  # fmt: skip
    assert {n for n in watched if not n.startswith("AWS/")} == allowed


def policy_statements(template):
    found = []
    for body in template.find_resources("AWS::IAM::Policy").values():
        found += body["Properties"]["PolicyDocument"]["Statement"]
    for body in template.find_resources("AWS::IAM::Role").values():
        for policy in body["Properties"].get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
    return found


def as_list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("mode", ["synthesized", "vpc_mode"])
def test_no_policy_grants_everything(mode, request):
    """No "Action": "*", no kms:* or s3:*, no "Resource": "*" except the actions that have no
    resource-level permission, and every other wildcard resource one of the scoped ones."""
    _, t = request.getfixturevalue(mode)
    statements = [s for template in t.values() for s in policy_statements(template)]
    assert statements
    for s in statements:
        actions = as_list(s["Action"])
        assert "*" not in actions and not {"kms:*", "s3:*"} & set(actions), s
        for resource in as_list(s["Resource"]):
            if not isinstance(resource, str) or "*" not in resource:
                continue
            if resource == "*":
                assert set(actions) <= set(WILDCARD_RESOURCES), s
            else:
                assert any(re.fullmatch(p, resource) for p in SCOPED), resource


@pytest.mark.fast
@pytest.mark.parametrize(
    "mode, count", [("synthesized", ACKNOWLEDGED), ("vpc_mode", VPC_ACKNOWLEDGED)]
)
def test_cdk_nag_passes_with_every_acknowledgement_counted_and_reasoned(mode, count, request):
    out, _ = request.getfixturevalue(mode)
    report = json.loads((out / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    acknowledged = nag["suppressedViolations"]
    assert len(acknowledged) == count, [a["acknowledgedId"] for a in acknowledged]
    assert all(len(a["reason"]) > 40 for a in acknowledged)


@pytest.mark.fast
def test_cdk_nag_fails_synthesis_on_a_finding():
    from aws_cdk import aws_s3 as s3
    from cdk_nag import AwsSolutionsChecks

    app = cdk.App()
    stack = cdk.Stack(app, "Careless")
    s3.Bucket(stack, "Open")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="AwsSolutions-S10") as refused:
        app.synth()
    assert "AwsSolutions-S1'" in str(refused.value)  # no access logs, and no TLS-only policy


def test_cfn_lint_finds_nothing_in_the_templates(synthesized, vpc_mode):
    out, _ = synthesized
    vpc_out, _ = vpc_mode
    templates = sorted(str(p) for p in out.glob("*.template.json"))
    assert len(templates) == 9
    templates += sorted(str(p) for p in vpc_out.glob("churn-network.template.json"))
    assert len(templates) == 10
    cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    proc = subprocess.run([cfn_lint, "--regions", REGION, "--", *templates],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_make_synth_writes_the_templates(tmp_path):
    env = dict(os.environ, CDK_DEFAULT_ACCOUNT=ACCOUNT, CDK_DEFAULT_REGION=REGION,
               CDK_OUTDIR=str(tmp_path))  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "infra.app"], capture_output=True, text=True,
                          env=env, cwd=str(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("*.template.json")) == [
        "churn-config.template.json", "churn-data.template.json", "churn-mlops.template.json",
        "churn-monitoring.template.json", "churn-serving.template.json",
        "churn-storage.template.json"]  # fmt: skip


def test_make_synth_writes_cdk_out_with_cdk_json_and_c_context(tmp_path):
    """`make synth` ran the app with no out directory (nothing in cdk.out/) and no context
    (cdk.json's prefix and capture_days ignored): its command, run where a copy of cdk.json
    says prefix edited, writes edited-* stacks with that copy's capture_days, and -c wins."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "cdk.json")) as f:
        cdk_json = json.load(f)
    cdk_json["context"].update(prefix="edited", capture_days=30)
    (tmp_path / "cdk.json").write_text(json.dumps(cdk_json))
    bin_dir = os.path.dirname(sys.executable)
    make = subprocess.run(["make", "-n", "-s", "--no-print-directory", "-C", root,
                           "-o", ".venv/.installed-stamp", "synth", "BIN=%s" % bin_dir,
                           "CONTEXT=workflows=1 endpoint=edited-endpoint"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (command,) = [line for line in make.stdout.splitlines() if "infra.app" in line]
    assert " ".join(command.split()).endswith(
        "-m infra.app -c workflows=1 -c endpoint=edited-endpoint"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env.update(CDK_DEFAULT_ACCOUNT=ACCOUNT, CDK_DEFAULT_REGION=REGION, PYTHONPATH=root)
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "cdk.out"
    names = sorted(p.name for p in out.glob("*.template.json"))
    assert names and all(n.startswith("edited-") for n in names), names
    storage = json.loads((out / "edited-storage.template.json").read_text())
    rules = [r for b in storage["Resources"].values() if b["Type"] == "AWS::S3::Bucket"
             for r in b["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])]  # fmt: skip
    (capture,) = [r for r in rules if r["Id"] == "capture-to-infrequent-access"]
    assert capture["ExpirationInDays"] == 30
    monitoring = (out / "edited-monitoring.template.json").read_text()
    assert '"edited-endpoint"' in monitoring


@pytest.mark.parametrize("mode", ["synthesized", "vpc_mode"])
def test_no_template_names_the_aws_partition(mode, request):
    """ARNs were written arn:aws:..., wrong in aws-cn and aws-us-gov: every ARN the app builds
    takes the stack's partition (a Ref to AWS::Partition); the CDK's own ARNs do too. The one
    exception is an ARN the user gives in the context (connection_arn here), kept as given."""
    out, _ = request.getfixturevalue(mode)
    templates = sorted(out.glob("*.template.json"))
    assert templates
    for path in templates:
        text = path.read_text().replace(CONNECTION, "<given>")
        assert "arn:aws:" not in text, (path.name, re.findall(r"arn:aws:[^\"]{0,60}", text))
    # the partition is a reference, in the policies and in the state machines' ASL
    workflows = json.dumps(json.loads((out / "churn-workflows.template.json").read_text()))
    assert 'arn:", {"Ref": "AWS::Partition"}, ":states:::sagemaker:createModel' in workflows


def taggable(resource_type):
    """Where a resource type keeps its tags, by CloudFormation's schema (cfn-lint's copy); None
    for a type that takes none."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    tagging = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).schema.get(
        "tagging", {})  # fmt: skip
    if not tagging.get("taggable", tagging.get("tagProperty") is not None):
        return None
    return tagging.get("tagProperty", "/properties/Tags").rsplit("/", 1)[-1]


def tags_of(properties, name):
    tags = properties.get(name)
    if isinstance(tags, list):
        return {t["Key"]: t["Value"] for t in tags}
    return dict(tags or {})


@pytest.mark.parametrize("mode", ["synthesized", "vpc_mode"])
def test_every_taggable_resource_carries_the_project_tags(mode, request):
    from infra.app import project_tags

    out, _ = request.getfixturevalue(mode)
    expected = project_tags("churn")
    checked = 0
    for path in sorted(out.glob("*.template.json")):
        for logical_id, body in json.loads(path.read_text())["Resources"].items():
            name = taggable(body["Type"])
            if name is None:
                continue
            checked += 1
            tags = tags_of(body.get("Properties", {}), name)
            assert expected.items() <= tags.items(), (path.name, logical_id, body["Type"], tags)
    assert checked > 30


def test_a_stage_is_one_more_tag():
    monitoring = monitoring_with(stage="prod")
    (topic,) = monitoring.find_resources("AWS::SNS::Topic").values()
    assert {"Key": "stage", "Value": "prod"} in topic["Properties"]["Tags"]


@pytest.mark.parametrize("venv", [True, False])
def test_cdk_json_runs_the_app_with_the_virtualenv_when_there_is_one(tmp_path, venv):
    """Deploying failed with ModuleNotFoundError: aws_cdk unless the virtualenv was active."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "cdk.json")) as f:
        app = json.load(f)["app"]
    log = tmp_path / "ran.log"
    recorder = '#!/bin/sh\necho "$0 $*" > "%s"\n' % log
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(recorder)
    (bin_dir / "python3").chmod(0o755)
    if venv:
        (tmp_path / ".venv" / "bin").mkdir(parents=True)
        (tmp_path / ".venv" / "bin" / "python").write_text(recorder)
        (tmp_path / ".venv" / "bin" / "python").chmod(0o755)
    # the CDK CLI runs the app command through a shell, in the directory of cdk.json
    subprocess.run(["/bin/sh", "-c", app], cwd=str(tmp_path), check=True,
                   env={"PATH": "%s:/usr/bin:/bin" % bin_dir})  # fmt: skip
    ran = log.read_text().split()
    assert ran[0] == (".venv/bin/python" if venv else str(bin_dir / "python3"))
    assert ran[1:] == ["-m", "infra.app"]


def asl(definition_string):
    """The ASL of a DefinitionString; each reference in it (the role's ARN, the key's, the
    subnets') read as ROLE."""
    if isinstance(definition_string, str):
        return json.loads(definition_string)
    parts = definition_string["Fn::Join"][1]
    return json.loads("".join(x if isinstance(x, str) else "ROLE" for x in parts))


def test_the_state_machines_run_the_generated_asl_with_logging_and_tracing(synthesized):
    _, t = synthesized
    workflows = t["workflows"]
    machines = workflows.find_resources("AWS::StepFunctions::StateMachine")
    assert sorted(m["Properties"]["StateMachineName"] for m in machines.values()) == [
        "churn-deploy", "churn-direct", "churn-train-and-deploy"]  # fmt: skip
    from pipelines.churn.workflows import definition

    for body in machines.values():
        p = body["Properties"]
        assert p["TracingConfiguration"] == {"Enabled": True}
        assert p["LoggingConfiguration"]["Level"] == "ALL"
        assert p["LoggingConfiguration"]["IncludeExecutionData"] is False
        # The definition is the generated one; only the role's ARN is a reference to resolve.
        document = asl(p["DefinitionString"])
        name = p["StateMachineName"][len("churn-") :]
        assert list(document["States"]) == list(definition(name)["States"])
    deploy = asl(next(m for m in machines.values() if m["Properties"]["StateMachineName"] ==
                      "churn-deploy")["Properties"]["DefinitionString"])  # fmt: skip
    assert deploy["States"]["Create model"]["Parameters"]["ExecutionRoleArn"] == "ROLE"
    image = deploy["States"]["Create monitoring schedule"]["Parameters"]["MonitoringScheduleConfig"][
        "MonitoringJobDefinition"]["MonitoringAppSpecification"]["ImageUri"]  # fmt: skip
    assert re.fullmatch(
        r"\d{12}\.dkr\.ecr\.eu-west-1\.amazonaws\.com/sagemaker-model-monitor-analyzer", image
    )
    capture = deploy["States"]["Create endpoint config"]["Parameters"]["DataCaptureConfig"]
    assert capture["DestinationS3Uri"] == "s3://churn-artifacts-%s-%s/churn/capture" % (
        ACCOUNT,
        REGION,
    )


def test_an_approved_model_package_starts_the_deploy_workflow(synthesized):
    _, t = synthesized
    workflows = t["workflows"]
    deploy = next(k for k, v in workflows.find_resources("AWS::StepFunctions::StateMachine").items()
                  if v["Properties"]["StateMachineName"] == "churn-deploy")  # fmt: skip
    workflows.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": ["aws.sagemaker"],
                         "detail-type": ["SageMaker Model Package State Change"],
                         "detail": {"ModelPackageGroupName": ["churn-seed"],
                                    "ModelApprovalStatus": ["Approved"]}},
        "Targets": [Match.object_like({"Arn": {"Ref": deploy}})],
    })  # fmt: skip
    statements = {s.get("Sid"): s for s in policy_statements(workflows)}
    assert statements["PassSageMakerRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}  # fmt: skip
    assert statements["Deploy"]["Resource"][-1] == "arn:aws:sagemaker:%s:%s:endpoint/churn" % (
        REGION,
        ACCOUNT,
    )


def test_alarms_on_errors_latency_drift_and_failed_pipelines_to_an_encrypted_topic(synthesized):
    _, t = synthesized
    monitoring = t["monitoring"]
    (topic,) = monitoring.find_resources("AWS::SNS::Topic")
    assert monitoring.find_resources("AWS::SNS::Topic")[topic]["Properties"]["KmsMasterKeyId"]
    alarms = {a["Properties"]["AlarmName"]: a["Properties"]
              for a in monitoring.find_resources("AWS::CloudWatch::Alarm").values()}  # fmt: skip
    assert alarms["churn-endpoint-5xx"]["MetricName"] == "Invocation5XXErrors"
    assert alarms["churn-endpoint-5xx"]["Dimensions"] == [
        {"Name": "EndpointName", "Value": "churn"}, {"Name": "VariantName", "Value": "AllTraffic"}]  # fmt: skip
    latency = alarms["churn-model-latency-p99"]
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == (
        "ModelLatency", "p99", 100000)  # fmt: skip
    failed = alarms["churn-pipeline-failed"]
    assert (failed["Namespace"], failed["MetricName"]) == ("AWS/Sagemaker/ModelBuildingPipeline",
                                                           "ExecutionFailed")  # fmt: skip
    from processing.churn_schema import load_schema

    for feature in load_schema("seed").feature_names:
        drift = alarms["churn-drift-%s" % feature]
        assert drift["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
        assert drift["MetricName"] == "feature_baseline_drift_%s" % feature
        assert drift["Threshold"] == 0.1
        assert {"Name": "MonitoringSchedule", "Value": "churn-data-quality-hourly"} in drift[
            "Dimensions"
        ]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    # CloudWatch may use the key to publish to the topic, and only that.
    key_policy = next(iter(t["storage"].find_resources("AWS::KMS::Key").values()))["Properties"][
        "KeyPolicy"
    ]
    (grant,) = [s for s in key_policy["Statement"] if s.get("Sid") == "CloudWatchAlarmsToTheTopic"]
    assert grant["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]}
    assert sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_cloudwatch_and_eventbridge_may_publish_to_the_alarm_topic(synthesized):
    """The topic's policy had the TLS-only Deny and no Allow: no alarm could publish."""
    _, t = synthesized
    monitoring = t["monitoring"]
    (topic,) = monitoring.find_resources("AWS::SNS::Topic")
    (policy,) = monitoring.find_resources("AWS::SNS::TopicPolicy").values()
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    for sid, service, source in (
        ("CloudWatchAlarmsPublish", "cloudwatch", "cloudwatch:%s:%s:alarm:churn-*"),
        ("EventBridgeRulesPublish", "events", "events:%s:%s:rule/churn-*"),
    ):
        assert statements[sid] == {
            "Sid": sid, "Effect": "Allow", "Action": "sns:Publish",
            "Principal": {"Service": "%s.amazonaws.com" % service}, "Resource": {"Ref": topic},
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                          "ArnLike": {"aws:SourceArn": "arn:aws:" + source % (REGION, ACCOUNT)}},
        }  # fmt: skip
    assert any(s["Effect"] == "Deny" for s in statements.values())  # TLS only, still
    assert not monitoring.find_resources("AWS::SNS::Subscription")  # none without the context


def monitoring_with(**context):
    """The monitoring stack's template with more context (not written out: no app.synth)."""
    app = cdk.App(context=dict(context, account=ACCOUNT, region=REGION))
    stacks = build(app)
    return template_of(stacks["monitoring"])


def test_alarm_email_subscribes_to_the_topic():
    monitoring = monitoring_with(alarm_email="oncall@example.com")
    (topic,) = monitoring.find_resources("AWS::SNS::Topic")
    (subscription,) = monitoring.find_resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "Protocol": "email", "Endpoint": "oncall@example.com", "TopicArn": {"Ref": topic}}  # fmt: skip


def test_alarm_topic_arn_publishes_to_an_existing_topic_instead():
    existing = "arn:aws:sns:%s:%s:oncall" % (REGION, ACCOUNT)
    monitoring = monitoring_with(alarm_topic_arn=existing, alarm_email="oncall@example.com")
    assert not monitoring.find_resources("AWS::SNS::Topic")
    assert not monitoring.find_resources("AWS::SNS::TopicPolicy")
    alarms = monitoring.find_resources("AWS::CloudWatch::Alarm").values()
    assert alarms and all(a["Properties"]["AlarmActions"] == [existing] for a in alarms)
    monitoring.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": "oncall@example.com", "TopicArn": existing})  # fmt: skip


def test_one_dashboard_shows_invocations_latency_errors_drift_and_executions(synthesized):
    _, t = synthesized
    (dashboard,) = t["monitoring"].find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in ("Invocations", "ModelLatency", "Invocation5XXErrors", "feature_baseline_drift_age",
                   "ExecutionFailed", "Drift per feature"):  # fmt: skip
        assert needle in body, needle


def test_parameter_store_holds_every_name_the_commands_read(synthesized):
    from pipelines.aws.config import NAMES

    _, t = synthesized
    parameters = {p["Properties"]["Name"]: p["Properties"]["Value"]
                  for p in t["config"].find_resources("AWS::SSM::Parameter").values()}  # fmt: skip
    vpc_only = {"subnets", "security-group-ids"}
    assert sorted(parameters) == sorted("/churn/%s" % n for n in NAMES if n not in vpc_only)
    # the monitoring stack's endpoint-5xx and model-latency-p99 alarms, for churn deploy
    joined = parameters["/churn/rollback-alarms"]["Fn::Join"]
    assert joined[0] == "," and len(joined[1]) == 2
    assert parameters["/churn/bucket"] == "churn-artifacts-%s-%s" % (ACCOUNT, REGION)
    assert parameters["/churn/endpoint-name"] == "churn"
    assert parameters["/churn/model-package-group"] == "churn-seed"


def test_the_workflows_logs_are_encrypted_with_the_key_for_those_log_groups_only(synthesized):
    _, t = synthesized
    groups = t["workflows"].find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 3
    for body in groups.values():
        assert body["Properties"]["KmsKeyId"]
        assert body["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/churn-")
    key_policy = next(iter(t["storage"].find_resources("AWS::KMS::Key").values()))["Properties"][
        "KeyPolicy"
    ]
    (grant,) = [s for s in key_policy["Statement"] if s.get("Sid") == "StateMachineLogs"]
    assert grant["Principal"] == {"Service": "logs.%s.amazonaws.com" % REGION}
    assert grant["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
        "arn:aws:logs:%s:%s:log-group:/aws/vendedlogs/states/churn-*" % (REGION, ACCOUNT)}}  # fmt: skip


def test_the_sagemaker_pipeline_is_get_pipelines_definition_with_the_key(synthesized):
    _, t = synthesized
    (pipeline,) = t["mlops"].find_resources("AWS::SageMaker::Pipeline").values()
    p = pipeline["Properties"]
    assert p["PipelineName"] == "churn-pipeline"
    body = p["PipelineDefinition"]["PipelineDefinitionBody"]
    text = body if isinstance(body, str) else "".join(
        x if isinstance(x, str) else "KEY" for x in body["Fn::Join"][1])  # fmt: skip
    document = json.loads(text)
    steps = {s["Name"]: s for s in document["Steps"]}
    train = steps["TrainModel"]["Arguments"]
    assert train["OutputDataConfig"] == {
        "S3OutputPath": "s3://churn-artifacts-%s-%s/churn/models" % (ACCOUNT, REGION),
        "KmsKeyId": "KEY"}  # fmt: skip
    assert train["RoleArn"] == "arn:aws:iam::%s:role/churn-pipeline-execution" % ACCOUNT
    assert steps["ValidateData"]["Arguments"]["ProcessingResources"]["ClusterConfig"][
        "VolumeKmsKeyId"] == "KEY"  # fmt: skip
    t["mlops"].has_resource_properties("AWS::IAM::Role", {"RoleName": "churn-pipeline-execution"})


def test_codepipeline_takes_the_repository_to_codebuild_which_runs_the_buildspec(synthesized):
    _, t = synthesized
    ci = t["ci"]
    ci.has_resource_properties("AWS::CodeBuild::Project", {
        "Name": "churn-ci",
        "Source": {"BuildSpec": "codebuild-buildspec.yml", "Type": "CODEPIPELINE"},
        "EncryptionKey": Match.any_value(),
        "Environment": Match.object_like({"PrivilegedMode": False, "EnvironmentVariables": [
            {"Name": "CONFIG_PREFIX", "Type": "PLAINTEXT", "Value": "/churn/"},
            {"Name": "PIPELINE_NAME", "Type": "PLAINTEXT", "Value": "churn-pipeline"}]})})  # fmt: skip
    (pipeline,) = ci.find_resources("AWS::CodePipeline::Pipeline").values()
    stages = pipeline["Properties"]["Stages"]
    assert [s["Name"] for s in stages] == ["Source", "BuildAndRun"]
    source = stages[0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == CONNECTION
    assert source["Configuration"]["FullRepositoryId"] == "example/churn"
    assert stages[1]["Actions"][0]["ActionTypeId"]["Provider"] == "CodeBuild"
    statements = {s["Sid"]: s for s in policy_statements(ci)}
    assert statements["UseTheConnection"]["Resource"] == CONNECTION
    assert statements["UpsertAndStartPipeline"]["Resource"] == (
        "arn:aws:sagemaker:%s:%s:pipeline/churn-pipeline" % (REGION, ACCOUNT))  # fmt: skip
    assert statements["ReadConfig"]["Action"] == "ssm:GetParametersByPath"


def test_the_buildspec_waits_for_the_execution_with_a_timeout(synthesized):
    """CodeBuild started the pipeline and went green without waiting for its execution."""
    import yaml

    from infra.ci import BUILD_TIMEOUT_HOURS

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "codebuild-buildspec.yml")) as f:
        spec = yaml.safe_load(f)
    wait = int(spec["env"]["variables"]["PIPELINE_TIMEOUT"])
    build = spec["phases"]["build"]["commands"]
    (script,) = [c for c in build if "run-pipeline" in c]
    runs = [line.strip() for line in script.splitlines() if " run-pipeline " in line]
    assert len(runs) == 2  # the project's own CI, and a SageMaker project's
    for line in runs:
        assert line.startswith('timeout "${PIPELINE_TIMEOUT}" run-pipeline --wait '), line
    # the pipe through tee keeps run-pipeline's exit status
    assert "set -o pipefail" in script and script.count("| tee run-pipeline.log") == 2
    # The CodeBuild project outlasts the wait; its role may watch the execution.
    _, t = synthesized
    (project,) = t["ci"].find_resources("AWS::CodeBuild::Project").values()
    assert project["Properties"]["TimeoutInMinutes"] == BUILD_TIMEOUT_HOURS * 60 > wait / 60
    statements = {s["Sid"]: s for s in policy_statements(t["ci"])}
    assert statements["WaitForTheExecution"]["Resource"] == (
        "arn:aws:sagemaker:%s:%s:pipeline/churn-pipeline/execution/*" % (REGION, ACCOUNT))  # fmt: skip


@pytest.mark.fast
@pytest.mark.parametrize("status, code", [("Succeeded", 0), ("Failed", 1), ("Stopped", 1)])
def test_run_pipeline_wait_exits_1_unless_the_execution_succeeds(monkeypatch, status, code):
    """What the buildspec relies on: run-pipeline --wait fails the build with the execution."""
    import io
    import types

    from pipelines import run_pipeline
    from pipelines.aws import sessions

    class Client:
        def describe_pipeline_execution(self, PipelineExecutionArn):
            return {"PipelineExecutionStatus": status}

        def get_paginator(self, operation):
            assert operation == "list_pipeline_execution_steps"
            step = {"StepName": "TrainModel", "StepStatus": status}
            return types.SimpleNamespace(paginate=lambda **kw: [{"PipelineExecutionSteps": [step]}])

    pipeline = types.SimpleNamespace(
        upsert=lambda **kwargs: {"PipelineArn": "arn:aws:sagemaker:r:1:pipeline/p"},
        start=lambda **kwargs: types.SimpleNamespace(arn="arn:aws:sagemaker:r:1:pipeline/p/execution/e"),
        sagemaker_session=types.SimpleNamespace(sagemaker_client=Client()),
    )  # fmt: skip
    monkeypatch.setattr(sessions, "aws_session", lambda region: None)
    monkeypatch.setattr(run_pipeline, "require_credentials", lambda session: None)
    monkeypatch.setattr(run_pipeline, "load_pipeline", lambda module, kwargs: pipeline)
    out = io.StringIO()
    argv = ["--role-arn", "arn:aws:iam::1:role/r", "--kwargs", '{"region": "eu-west-1"}', "--wait"]
    assert run_pipeline.main(argv, out=out) == code
    assert "Execution arn:aws:sagemaker:r:1:pipeline/p/execution/e: %s" % status in out.getvalue()


@pytest.mark.fast
def test_a_codecommit_repository_starts_the_pipeline_on_a_commit(vpc_mode):
    _, t = vpc_mode
    ci = t["ci"]
    (pipeline,) = ci.find_resources("AWS::CodePipeline::Pipeline").values()
    source = pipeline["Properties"]["Stages"][0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeCommit"
    assert source["Configuration"]["RepositoryName"] == "churn-code"
    ci.has_resource_properties("AWS::Events::Rule", {"EventPattern": Match.object_like({
        "source": ["aws.codecommit"], "detail": Match.object_like({"referenceName": ["main"]})})})  # fmt: skip


@pytest.mark.fast
def test_vpc_mode_puts_the_jobs_in_private_subnets_with_endpoints(vpc_mode):
    _, t = vpc_mode
    network = t["network"]
    services = sorted(
        json.dumps(e["Properties"]["ServiceName"])
        for e in network.find_resources("AWS::EC2::VPCEndpoint").values()
    )
    for needle in ("sagemaker.api", "sagemaker.runtime", "ecr.api", "ecr.dkr", ".logs", ".sts",
                   ".s3"):  # fmt: skip
        assert any(needle in s for s in services), (needle, services)
    network.has_resource_properties("AWS::EC2::FlowLog", {"LogDestinationType": "cloud-watch-logs"})
    network.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "SourceSecurityGroupId": Match.any_value()})  # fmt: skip
    # The pipeline's jobs run in those subnets; the names reach the commands through SSM.
    (pipeline,) = t["mlops"].find_resources("AWS::SageMaker::Pipeline").values()
    assert "VpcConfig" in json.dumps(pipeline["Properties"]["PipelineDefinition"])
    names = {
        p["Properties"]["Name"] for p in t["config"].find_resources("AWS::SSM::Parameter").values()
    }
    assert {"/churn/subnets", "/churn/security-group-ids"} <= names
    statements = {s["Sid"]: s for s in policy_statements(t["mlops"])}
    assert "ec2:CreateNetworkInterface" in statements["JobNetworkInterfaces"]["Action"]
    # The workflows' models are in the VPC too, their endpoint configs use the key.
    machines = t["workflows"].find_resources("AWS::StepFunctions::StateMachine").values()
    for body in machines:
        document = asl(body["Properties"]["DefinitionString"])
        if "Create model" in document["States"]:
            create = document["States"]["Create model"]["Parameters"]
            assert create["VpcConfig"] == {
                "Subnets": ["ROLE", "ROLE"],
                "SecurityGroupIds": ["ROLE"],
            }
            config = document["States"]["Create endpoint config"]["Parameters"]
            assert config["KmsKeyId"] == config["DataCaptureConfig"]["KmsKeyId"] == "ROLE"


def test_the_feature_group_and_the_databrew_job(synthesized):
    _, t = synthesized
    data = t["data"]
    data.has_resource_properties("AWS::SageMaker::FeatureGroup", {
        "FeatureGroupName": "churn-customers",
        "OnlineStoreConfig": Match.object_like({"EnableOnlineStore": True,
                                                "SecurityConfig": {"KmsKeyId": Match.any_value()}}),
        "OfflineStoreConfig": {"S3StorageConfig": {
            "S3Uri": "s3://churn-artifacts-%s-%s/churn/feature-store" % (ACCOUNT, REGION),
            "KmsKeyId": Match.any_value()}, "TableFormat": "Glue"}})  # fmt: skip
    data.has_resource_properties("AWS::DataBrew::Dataset", {"Name": "churn-raw", "Input": {
        "S3InputDefinition": {"Bucket": "churn-artifacts-%s-%s" % (ACCOUNT, REGION),
                              "Key": "churn/data/"}}})  # fmt: skip
    from pipelines.churn.databrew import recipe_steps
    from pipelines.churn.schema_source import SchemaSource

    (recipe,) = data.find_resources("AWS::DataBrew::Recipe").values()
    assert recipe["Properties"]["Steps"] == recipe_steps(SchemaSource("seed").schema)
    data.has_resource_properties("AWS::DataBrew::Job", {
        "Name": "churn-prepare", "Type": "RECIPE", "DatasetName": "churn-raw",
        "Recipe": {"Name": "churn-recipe", "Version": "LATEST_WORKING"},
        "EncryptionMode": "SSE-KMS"})  # fmt: skip
