"""The workflows and DataBrew on AWS, against a moto server on 127.0.0.1: `churn workflow create
| update | start | describe`, `churn databrew publish`; one definition run by moto's executor
and by the local interpreter with the same output.

moto has no DataBrew StartJobRun or DescribeJobRun, so the job-run test uses botocore's Stubber
for those two calls only (on a real boto3 client, which checks requests and answers against
botocore's shapes)."""

import json
import time

import pytest
from botocore.stub import Stubber

from pipelines.aws.databrew import run_job
from pipelines.errors import UserError
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import Execution

from conftest import aws_client, churn_cli

ROLE = "arn:aws:iam::123456789012:role/churn-states"
SAGEMAKER_ROLE = "arn:aws:iam::123456789012:role/churn-sagemaker"


def workflow(env, home, *args):
    return churn_cli(home, "workflow", *args, "--region", "us-east-1", env=env)


def test_workflow_create_update_start_and_describe_on_aws(aws_env, bucket, tmp_path):
    local = workflow(
        aws_env, tmp_path, "create", "deploy", "--states-role-arn", ROLE, "--prefix", "t0"
    )
    assert (
        local.returncode == 1
        and "on AWS, give --capture-uri, --monitoring-output-uri, --role-arn" in local.stderr
    )
    created = workflow(aws_env, tmp_path, "create", "deploy", "--states-role-arn", ROLE,
                       "--prefix", "t1", "--endpoint-name", "churn-prod", "--bucket", bucket,
                       "--role-arn", SAGEMAKER_ROLE)  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created arn:aws:states:us-east-1:")
    arn = created.stdout.split()[-1]
    sfn = aws_client("stepfunctions", aws_env)
    stored = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    from pipelines.churn.workflows import WorkflowSettings, definition

    image = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    base = "s3://%s/t1" % bucket
    assert stored == definition("deploy", WorkflowSettings(
        endpoint_name="churn-prod", monitor_image=image, capture_uri=base + "/capture",
        role_arn=SAGEMAKER_ROLE,
        monitoring_output_uri=base + "/monitoring", input_data_url=base + "/data/"))  # fmt: skip
    schedule = stored["States"]["Create monitoring schedule"]["Parameters"][
        "MonitoringScheduleConfig"
    ]
    assert schedule["MonitoringJobDefinition"]["MonitoringAppSpecification"]["ImageUri"] == image
    # The same machine in JSONata, from the same flags.
    created = workflow(aws_env, tmp_path, "create", "deploy", "--states-role-arn", ROLE,
                       "--prefix", "t2", "--endpoint-name", "churn-prod", "--bucket", bucket,
                       "--role-arn", SAGEMAKER_ROLE, "--query-language", "jsonata")  # fmt: skip
    assert created.returncode == 0, created.stderr
    jsonata = json.loads(
        sfn.describe_state_machine(stateMachineArn=created.stdout.split()[-1])["definition"]
    )
    assert jsonata["QueryLanguage"] == "JSONata"
    assert list(jsonata["States"]) == list(stored["States"])
    base = "s3://%s/t2" % bucket
    assert jsonata == definition("deploy", WorkflowSettings(
        endpoint_name="churn-prod", monitor_image=image, capture_uri=base + "/capture",
        role_arn=SAGEMAKER_ROLE, monitoring_output_uri=base + "/monitoring",
        input_data_url=base + "/data/", query_language="JSONata"))  # fmt: skip
    # train-and-deploy starts the deploy machine of the same prefix, in this account.
    created = workflow(aws_env, tmp_path, "create", "train-and-deploy", "--states-role-arn", ROLE,
                       "--prefix", "t1", "--bucket", bucket)  # fmt: skip
    assert created.returncode == 0, created.stderr
    machine = json.loads(sfn.describe_state_machine(stateMachineArn=created.stdout.split()[-1])[
        "definition"])  # fmt: skip
    assert machine["States"]["Deploy"]["Parameters"]["StateMachineArn"] == arn
    updated = workflow(aws_env, tmp_path, "update", "deploy", "--states-role-arn", ROLE,
                       "--prefix", "t1", "--endpoint-name", "churn-staging", "--bucket", bucket,
                       "--role-arn", SAGEMAKER_ROLE)  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout == "updated %s\n" % arn
    stored = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    assert stored["States"]["Create endpoint"]["Parameters"]["EndpointName"] == "churn-staging"
    missing = workflow(aws_env, tmp_path, "update", "deploy", "--states-role-arn", ROLE,
                       "--prefix", "nope", "--bucket", bucket, "--role-arn", SAGEMAKER_ROLE)  # fmt: skip
    assert missing.returncode == 1 and "create it first" in missing.stderr
    started = workflow(aws_env, tmp_path, "start", "deploy", "--prefix", "t1",
                       "--input", json.dumps({"ModelPackageArn": "arn:x"}))  # fmt: skip
    assert started.returncode == 0, started.stderr
    execution = started.stdout.strip()
    assert (
        execution.startswith("arn:aws:states:us-east-1:") and ":execution:t1-deploy:" in execution
    )
    described = workflow(aws_env, tmp_path, "describe", execution)
    assert described.returncode == 0, described.stderr
    record = json.loads(described.stdout)
    assert record["executionArn"] == execution and json.loads(record["input"]) == {
        "ModelPackageArn": "arn:x"
    }
    no_role = workflow(aws_env, tmp_path, "create", "deploy")
    assert no_role.returncode == 1 and "--states-role-arn" in no_role.stderr


# -- moto's executor and ours on one definition ---------------------------------------------

SHARED = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"items.$": "$.values", "label.$": "States.Format('run {}', $.name)",
                                                   "count.$": "States.ArrayLength($.values)"},
                    "ResultPath": "$.prepared", "Next": "Big?"},
        "Big?": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.prepared.count", "NumericGreaterThan": 2},
                     {"Variable": "$.name", "StringMatches": "chu*"}], "Next": "Each"}],
            "Default": "Small"},
        "Small": {"Type": "Pass", "Result": "small", "End": True},
        "Each": {"Type": "Map", "ItemsPath": "$.prepared.items",
                 "ItemSelector": {"value.$": "$$.Map.Item.Value", "label.$": "$.prepared.label"},
                 "ItemProcessor": {"StartAt": "Double", "States": {
                     "Double": {"Type": "Pass", "Parameters": {"v.$": "$.value", "l.$": "$.label"}, "End": True}}},
                 "ResultPath": "$.mapped", "Next": "Both"},
        "Both": {"Type": "Parallel", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.mapped[0]", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": {"b": True}, "End": True}}}],
            # "$[1].b" would differ: moto's executor gives [true] where AWS (Jayway: a definite
            # path) and ours give true.
            "ResultSelector": {"first.$": "$[0]", "second.$": "$[1]"}, "ResultPath": "$.both",
            "OutputPath": "$.both", "End": True},
    },
}  # fmt: skip


def test_a_definition_gives_the_same_output_under_moto_and_locally(aws_env, moto_executes):
    document = {"name": "churn", "values": [1, 2, 3]}
    sfn = aws_client("stepfunctions", aws_env)
    arn = sfn.create_state_machine(name="shared-%d" % time.time_ns(), definition=json.dumps(SHARED),
                                   roleArn=ROLE)["stateMachineArn"]  # fmt: skip
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(document))["executionArn"]
    deadline = time.time() + 60
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert described["status"] == "SUCCEEDED", described
    local = Execution(SHARED, Integrations(), document).run()
    assert local.status == "SUCCEEDED"
    assert json.loads(described["output"]) == local.output == {"first": {"v": 1, "l": "run churn"},
                                                               "second": {"b": True}}  # fmt: skip


# -- DataBrew -----------------------------------------------------------------------------


def test_databrew_publish_creates_the_dataset_recipe_version_and_job_on_aws(
    aws_env, bucket, tmp_path
):
    args = ("databrew", "publish", "--region", "us-east-1", "--schema", "bank", "--prefix", bucket[:20],
            "--data-url", "s3://%s/raw/bank.csv" % bucket, "--output-url", "s3://%s/prepared/" % bucket,
            "--role-arn", ROLE)  # fmt: skip
    proc = churn_cli(tmp_path, *args, env=aws_env)
    assert proc.returncode == 0, proc.stderr
    assert "(created)" in proc.stdout and "version 1.0" in proc.stdout
    brew = aws_client("databrew", aws_env)
    prefix = bucket[:20]
    dataset = brew.describe_dataset(Name=prefix + "-raw")
    assert dataset["Input"]["S3InputDefinition"] == {"Bucket": bucket, "Key": "raw/bank.csv"}
    recipe = brew.describe_recipe(Name=prefix + "-recipe", RecipeVersion="1.0")
    from pipelines.churn.databrew import recipe_steps
    from processing.churn_schema import load_schema

    steps = recipe_steps(load_schema("bank"))
    assert [s["Action"] for s in recipe["Steps"]] == [s["Action"] for s in steps]
    assert steps[0]["Action"] == {
        "Operation": "DELETE",
        "Parameters": {"sourceColumn": "CustomerId"},
    }
    job = brew.describe_job(Name=prefix + "-prepare")
    assert job["RecipeReference"] == {"Name": prefix + "-recipe", "RecipeVersion": "1.0"}
    assert job["Outputs"][0]["Location"] == {"Bucket": bucket, "Key": "prepared/"}
    again = churn_cli(tmp_path, *args, env=aws_env)
    assert again.returncode == 0, again.stderr
    assert (
        "(updated)" in again.stdout
        and "version 2.0" in again.stdout
        and "(replaced)" in again.stdout
    )
    assert brew.describe_job(Name=prefix + "-prepare")["RecipeReference"]["RecipeVersion"] == "2.0"
    local = churn_cli(
        tmp_path, "databrew", "publish", "--schema", "bank", "--data-url", "s3://nowhere/y.csv"
    )
    assert local.returncode == 1 and "not in the local store" in local.stderr


def stubbed(states, error=None):
    """A real DataBrew client whose StartJobRun and DescribeJobRun (which moto lacks) answer
    from a Stubber: the run passes through `states`."""
    import boto3

    client = boto3.client("databrew", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # fmt: skip
    stub = Stubber(client)
    stub.add_response("start_job_run", {"RunId": "db_1"}, {"Name": "churn-prepare"})
    for state in states:
        answer = {"JobName": "churn-prepare", "RunId": "db_1", "State": state,
                  "Outputs": [{"Location": {"Bucket": "churn-bucket", "Key": "prepared/"}}]}  # fmt: skip
        if error and state == "FAILED":
            answer["ErrorMessage"] = error
        stub.add_response("describe_job_run", answer, {"Name": "churn-prepare", "RunId": "db_1"})
    stub.activate()
    return client, stub


@pytest.mark.fast
def test_databrew_run_waits_for_the_run_and_reports_a_failure_with_its_reason():
    slept = []
    client, stub = stubbed(["STARTING", "RUNNING", "SUCCEEDED"])
    described = run_job(client, "churn-prepare", poll_seconds=15, sleep=slept.append)
    assert described["State"] == "SUCCEEDED" and slept == [15, 15]
    stub.assert_no_pending_responses()
    client, _ = stubbed(["RUNNING", "FAILED"], error="Column Age not found")
    with pytest.raises(UserError, match="run db_1 ended FAILED: Column Age not found"):
        run_job(client, "churn-prepare", sleep=lambda s: None)


def test_workflow_create_direct_uploads_its_code_and_names_the_regions_image(
    aws_env, bucket, tmp_path
):
    created = workflow(aws_env, tmp_path, "create", "direct", "--states-role-arn", ROLE,
                       "--prefix", "t3", "--bucket", bucket, "--schema", "bank",
                       "--role-arn", SAGEMAKER_ROLE)  # fmt: skip
    assert created.returncode == 0, created.stderr
    sfn = aws_client("stepfunctions", aws_env)
    stored = json.loads(
        sfn.describe_state_machine(stateMachineArn=created.stdout.split()[-1])["definition"]
    )
    train = stored["States"]["Train"]["Parameters"]
    assert train["AlgorithmSpecification"]["TrainingImage"].endswith(
        ".dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
    )
    assert train["HyperParameters"]["label_column"] == '"Exited"'
    code = json.loads(train["HyperParameters"]["sagemaker_submit_directory"])
    key = code[len("s3://%s/" % bucket) :]
    aws_client("s3", aws_env).head_object(Bucket=bucket, Key=key)  # uploaded
    assert train["OutputDataConfig"]["S3OutputPath"] == "s3://%s/t3/models" % bucket
    model = stored["States"]["Create model"]["Parameters"]["PrimaryContainer"]
    assert model["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"].startswith(
        "s3://%s/t3/code/inference/" % bucket
    )
    no_bucket = workflow(aws_env, tmp_path, "create", "direct", "--states-role-arn", ROLE)
    assert no_bucket.returncode == 1 and "direct needs --bucket" in no_bucket.stderr


def put_config(env, prefix, bucket):
    """Parameter Store as the infrastructure's config stack writes it."""
    ssm = aws_client("ssm", env)
    values = {"bucket": bucket, "pipeline-role-arn": "arn:aws:iam::123456789012:role/churn-pipeline",
              "states-role-arn": ROLE, "model-package-group": "ConfiguredGroup",
              "endpoint-name": "churn-configured"}  # fmt: skip
    for name, value in values.items():
        ssm.put_parameter(Name="%s%s" % (prefix, name), Value=value, Type="String", Overwrite=True)
    return values


def test_config_prefix_fills_every_name_that_was_not_given(aws_env, bucket, tmp_path):
    values = put_config(aws_env, "/t5/", bucket)
    created = workflow(
        aws_env, tmp_path, "create", "deploy", "--prefix", "t5", "--config-prefix", "/t5/"
    )
    assert created.returncode == 0, created.stderr
    sfn = aws_client("stepfunctions", aws_env)
    arn = created.stdout.split()[-1]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["roleArn"] == ROLE
    stored = json.loads(described["definition"])
    assert (
        stored["States"]["Create model"]["Parameters"]["ExecutionRoleArn"]
        == values["pipeline-role-arn"]
    )
    assert stored["States"]["Create endpoint"]["Parameters"]["EndpointName"] == "churn-configured"
    capture = stored["States"]["Create endpoint config"]["Parameters"]["DataCaptureConfig"]
    assert capture["DestinationS3Uri"] == "s3://%s/t5/capture" % bucket
    # A flag given wins over the parameter.
    given = workflow(aws_env, tmp_path, "create", "deploy", "--prefix", "t5b", "--config-prefix", "/t5/",
                     "--endpoint-name", "churn-flag")  # fmt: skip
    stored = json.loads(
        sfn.describe_state_machine(stateMachineArn=given.stdout.split()[-1])["definition"]
    )
    assert stored["States"]["Create endpoint"]["Parameters"]["EndpointName"] == "churn-flag"
    missing = workflow(aws_env, tmp_path, "create", "deploy", "--config-prefix", "/nothing-here/")
    assert missing.returncode == 1 and "no parameters under /nothing-here/" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_run_pipeline_reads_its_role_bucket_and_group_from_parameter_store(aws_env, bucket):
    from test_run_pipeline import run_pipeline

    values = put_config(aws_env, "/t6/", bucket)
    ssm = aws_client("ssm", aws_env)
    vpc_mode = {"kms-key-arn": "arn:aws:kms:us-east-1:123456789012:key/t6",
                "subnets": "subnet-1,subnet-2", "security-group-ids": "sg-jobs"}  # fmt: skip
    for name, value in vpc_mode.items():
        ssm.put_parameter(Name="/t6/" + name, Value=value, Type="String", Overwrite=True)
    proc = run_pipeline(aws_env, "-n", "pipelines.churn.pipeline", "--config-prefix", "/t6/",
                        "--kwargs", json.dumps({"pipeline_name": "Churn-configured"}))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sm = aws_client("sagemaker", aws_env)
    pipeline = sm.describe_pipeline(PipelineName="Churn-configured")
    assert pipeline["RoleArn"] == values["pipeline-role-arn"]
    document = json.loads(pipeline["PipelineDefinition"])
    text = json.dumps(document)
    assert "s3://%s/" % bucket in text and "ConfiguredGroup" in text
    # The jobs under the prefix the role may use, with the key and in the VPC.
    train = [s for s in document["Steps"] if s["Name"] == "TrainModel"][0]["Arguments"]
    assert train["OutputDataConfig"] == {
        "S3OutputPath": "s3://%s/t6/models" % bucket,
        "KmsKeyId": vpc_mode["kms-key-arn"],
    }
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == vpc_mode["kms-key-arn"]
    assert train["VpcConfig"] == {
        "Subnets": ["subnet-1", "subnet-2"],
        "SecurityGroupIds": ["sg-jobs"],
    }
    no_role = run_pipeline(aws_env, "-n", "pipelines.churn.pipeline")
    assert no_role.returncode != 0 and "--role-arn" in no_role.stderr
