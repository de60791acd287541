"""A pipeline's lifecycle in the SageMaker twin, as the API reference documents it and as the
SageMaker Python SDK's Pipeline.upsert / start and _PipelineExecution.wait / describe /
list_steps call it (docs/adr/0011):

- CreatePipeline (API_CreatePipeline.html: PipelineDefinition at most 1048576 characters, or
  PipelineDefinitionS3Location), UpdatePipeline (API_UpdatePipeline.html: answers the new
  PipelineVersionId), DescribePipeline (API_DescribePipeline.html), ListPipelines,
  ListPipelineVersions, DeletePipeline (API_DeletePipeline.html), AddTags/ListTags on the
  pipeline's ARN. A taken name is the ValidationException "Pipeline names must be unique ...
  already exists" (what SageMaker answers, what moto answers, and what the SDK's upsert
  branches on to update instead); a missing pipeline ResourceNotFound (the error the API
  reference models for DescribePipeline, UpdatePipeline, DeletePipeline).
- StartPipelineExecution (API_StartPipelineExecution.html) answers the execution's ARN at
  once; the execution runs in a process of its own and DescribePipelineExecution
  (API_DescribePipelineExecution.html: Executing, Stopping, Stopped, Failed, Succeeded) and
  ListPipelineExecutionSteps follow it. StopPipelineExecution (API_StopPipelineExecution.html)
  stops it; an execution whose process was killed reads Failed.
- the SDK's waiter (PipelineExecutionComplete: Succeeded is success, Failed a terminal
  failure) on the twin's answers.

One create/describe/list/delete scenario runs against a moto server and the twin, comparing
the answers' keys. Every twin answer is checked against its output shape (CHURN_CHECK_ANSWERS).
"""

import json
import os
import signal
import time
import uuid

import pytest
from botocore.exceptions import ClientError, WaiterError

from pipelines.workspace import Workspace

from conftest import aws_client

ROLE = "arn:aws:iam::000000000000:role/pipeline"
BUCKET = "s3://lifecycle-bucket"
SCRIPT = """
import os, sys, time
time.sleep(float(sys.argv[2]))
os.makedirs(sys.argv[4], exist_ok=True)
open(os.path.join(sys.argv[4], "done.txt"), "w").write("slept %s" % sys.argv[2])
"""


def condition_definition():
    """A Condition whose Else branch is a Fail step: Succeeded when Threshold >= 3."""
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Threshold", "Type": "Integer", "DefaultValue": 5}],
        "Steps": [
            {
                "Name": "Check",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": {"Get": "Parameters.Threshold"},
                            "RightValue": 3,
                        }
                    ],
                    "IfSteps": [],
                    "ElseSteps": [
                        {"Name": "TooLow", "Type": "Fail", "Arguments": {"ErrorMessage": "too low"}}
                    ],
                },
            }
        ],
    }


def sleeping_definition():
    """One Processing step running the staged script, which sleeps Seconds and writes a file."""
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Seconds", "Type": "Float", "DefaultValue": 1.0}],
        "Steps": [
            {
                "Name": "Sleep",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceType": "ml.m5.large",
                            "InstanceCount": 1,
                            "VolumeSizeInGB": 30,
                        }
                    },
                    "AppSpecification": {
                        "ImageUri": "image",
                        "ContainerEntrypoint": [
                            "python3",
                            "/opt/ml/processing/input/code/sleep.py",
                        ],
                        "ContainerArguments": [
                            "--seconds",
                            {"Get": "Parameters.Seconds"},
                            "--out",
                            "/opt/ml/processing/output",
                        ],
                    },
                    "RoleArn": ROLE,
                    "ProcessingInputs": [
                        {
                            "InputName": "code",
                            "S3Input": {
                                "S3Uri": BUCKET + "/code/sleep.py",
                                "LocalPath": "/opt/ml/processing/input/code",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                                "S3DataDistributionType": "FullyReplicated",
                            },
                        }
                    ],
                    "ProcessingOutputConfig": {
                        "Outputs": [
                            {
                                "OutputName": "out",
                                "S3Output": {
                                    "S3Uri": BUCKET + "/out",
                                    "LocalPath": "/opt/ml/processing/output",
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                        ]
                    },
                },
            }
        ],
    }


@pytest.fixture
def ws(tmp_path):
    workspace = Workspace(tmp_path / "home")
    workspace.store.put_bytes(BUCKET + "/code/sleep.py", SCRIPT.encode())
    yield workspace
    for record in workspace.sagemaker.executions.list():  # no execution outlives its test
        if record["PipelineExecutionStatus"] in ("Executing", "Stopping"):
            try:
                os.kill(record["ProcessId"], signal.SIGKILL)
            except (ProcessLookupError, TypeError):
                pass
    workspace.close()


@pytest.fixture
def sm(ws):
    return ws.sagemaker_client


def create(sm, name, definition, **more):
    return sm.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE, **more
    )


def code(error):
    return error.value.response["Error"]["Code"]


def wait_for(sm, arn, statuses, seconds=30.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] in statuses:
            return described
        time.sleep(0.05)
    raise AssertionError("%s is still %s" % (arn, described["PipelineExecutionStatus"]))


def wait_for_a_step(sm, arn, seconds=30.0):
    deadline = time.time() + seconds
    while not sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]:
        assert time.time() < deadline, "no step started"
        time.sleep(0.05)


# -- the pipeline ------------------------------------------------------------------------------


@pytest.mark.fast
def test_create_describe_update_list_and_delete_a_pipeline(sm):
    arn = create(
        sm,
        "Small",
        condition_definition(),
        PipelineDescription="first",
        PipelineDisplayName="Small-one",
        Tags=[{"Key": "team", "Value": "ml"}],
    )["PipelineArn"]
    assert arn.endswith(":pipeline/small")  # SageMaker lower-cases names in ARNs
    described = sm.describe_pipeline(PipelineName="Small")
    assert json.loads(described["PipelineDefinition"]) == condition_definition()
    assert described["PipelineStatus"] == "Active"
    assert described["RoleArn"] == ROLE
    assert (described["PipelineDisplayName"], described["PipelineDescription"]) == (
        "Small-one",
        "first",
    )
    assert "LastRunTime" not in described  # it never ran
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    changed = dict(condition_definition(), Version="2020-12-01")
    changed["Parameters"][0]["DefaultValue"] = 7
    updated = sm.update_pipeline(
        PipelineName="Small", PipelineDefinition=json.dumps(changed), PipelineDescription="2nd"
    )
    assert updated == {"PipelineArn": arn, "PipelineVersionId": 2}
    now = sm.describe_pipeline(PipelineName=arn)  # by ARN too
    assert json.loads(now["PipelineDefinition"]) == changed
    assert now["PipelineDescription"] == "2nd"
    assert now["CreationTime"] == described["CreationTime"]
    assert now["LastModifiedTime"] >= described["LastModifiedTime"]
    first = sm.describe_pipeline(PipelineName="Small", PipelineVersionId=1)
    assert json.loads(first["PipelineDefinition"]) == condition_definition()
    versions = sm.list_pipeline_versions(PipelineName="Small")["PipelineVersionSummaries"]
    assert [v["PipelineVersionId"] for v in versions] == [2, 1]

    create(sm, "Other", condition_definition())
    names = [p["PipelineName"] for p in sm.list_pipelines(SortBy="Name")["PipelineSummaries"]]
    assert names == ["Small", "Other"]  # Descending by default
    only = sm.list_pipelines(PipelineNamePrefix="Sm")["PipelineSummaries"]
    assert [p["PipelineName"] for p in only] == ["Small"]

    assert sm.delete_pipeline(PipelineName="Small") == {"PipelineArn": arn}
    with pytest.raises(ClientError) as e:
        sm.describe_pipeline(PipelineName="Small")
    assert code(e) == "ResourceNotFound"
    assert [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]] == ["Other"]


@pytest.mark.fast
def test_a_taken_name_a_missing_pipeline_and_bad_definitions_are_the_documented_errors(ws, sm):
    create(sm, "Taken", condition_definition())
    with pytest.raises(ClientError) as e:
        create(sm, "Taken", condition_definition())
    assert code(e) == "ValidationException"
    assert "must be unique" in str(e.value) and "already exists" in str(e.value)
    token = uuid.uuid4().hex
    first = create(sm, "Retried", condition_definition(), ClientRequestToken=token)
    assert create(sm, "Retried", condition_definition(), ClientRequestToken=token) == first

    for call in (
        lambda: sm.describe_pipeline(PipelineName="Missing"),
        lambda: sm.update_pipeline(PipelineName="Missing", PipelineDescription="x"),
        lambda: sm.delete_pipeline(PipelineName="Missing"),
        lambda: sm.start_pipeline_execution(PipelineName="Missing"),
        lambda: sm.list_pipeline_versions(PipelineName="Missing"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "ResourceNotFound"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    refused = {
        "not JSON": {"PipelineDefinition": "{not json"},
        "not a pipeline": {"PipelineDefinition": "[1, 2]"},
        "too large": {"PipelineDefinition": " " * 1048577},  # the model's limit
        "neither": {},
        "both": {
            "PipelineDefinition": json.dumps(condition_definition()),
            "PipelineDefinitionS3Location": {"Bucket": "nodefs", "ObjectKey": "k"},
        },
        "not in the store": {
            "PipelineDefinitionS3Location": {"Bucket": "nodefs", "ObjectKey": "k"}
        },
    }
    for why, given in refused.items():
        with pytest.raises(ClientError) as e:
            sm.create_pipeline(PipelineName="Bad", RoleArn=ROLE, **given)
        assert code(e) == "ValidationException", why
    # What the SDK uploads when a definition is over 100 KB: read from the home's store.
    ws.store.put_bytes("s3://defs/Big/def.json", json.dumps(condition_definition()).encode())
    sm.create_pipeline(
        PipelineName="FromS3",
        RoleArn=ROLE,
        PipelineDefinitionS3Location={"Bucket": "defs", "ObjectKey": "Big/def.json"},
    )
    described = sm.describe_pipeline(PipelineName="FromS3")
    assert json.loads(described["PipelineDefinition"]) == condition_definition()


# -- executions ------------------------------------------------------------------------------


def test_start_answers_at_once_and_the_execution_runs_on_to_succeeded(ws, sm):
    create(sm, "Sleepy", sleeping_definition())
    started = time.time()
    arn = sm.start_pipeline_execution(
        PipelineName="Sleepy",
        PipelineParameters=[{"Name": "Seconds", "Value": "1.5"}],
        PipelineExecutionDisplayName="first-run",
        PipelineExecutionDescription="sleeps",
        ParallelismConfiguration={"MaxParallelExecutionSteps": 2},
    )["PipelineExecutionArn"]
    assert time.time() - started < 1.5  # before the step could have slept its time
    running = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert running["PipelineExecutionStatus"] == "Executing"
    assert running["PipelineExecutionDisplayName"] == "first-run"
    assert running["PipelineExecutionDescription"] == "sleeps"
    assert running["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 2}
    done = wait_for(sm, arn, ("Succeeded", "Failed"), 60)
    assert done["PipelineExecutionStatus"] == "Succeeded", done.get("FailureReason")
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("Sleep", "Succeeded")]
    assert "ProcessingJob" in steps[0]["Metadata"]
    assert ws.store.path(BUCKET + "/out/done.txt").read_text() == "slept 1.5"
    ran = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)
    assert json.loads(ran["PipelineDefinition"]) == sleeping_definition()
    summaries = sm.list_pipeline_executions(PipelineName="Sleepy")["PipelineExecutionSummaries"]
    assert [s["PipelineExecutionArn"] for s in summaries] == [arn]
    assert sm.describe_pipeline(PipelineName="Sleepy")["LastRunTime"] == done["CreationTime"]


def test_a_failing_definition_ends_failed_with_its_reason_and_parameters_are_typed(sm):
    create(sm, "Gate", condition_definition())
    arn = sm.start_pipeline_execution(
        PipelineName="Gate", PipelineParameters=[{"Name": "Threshold", "Value": "1"}]
    )["PipelineExecutionArn"]
    done = wait_for(sm, arn, ("Succeeded", "Failed"))
    assert done["PipelineExecutionStatus"] == "Failed"
    assert "too low" in done["FailureReason"]
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert {s["StepName"]: s["StepStatus"] for s in steps} == {
        "Check": "Succeeded",
        "TooLow": "Failed",
    }
    for wrong in ([{"Name": "Threshold", "Value": "many"}], [{"Name": "Nope", "Value": "1"}]):
        with pytest.raises(ClientError) as e:
            sm.start_pipeline_execution(PipelineName="Gate", PipelineParameters=wrong)
        assert code(e) == "ValidationException"
    token = uuid.uuid4().hex
    again = sm.start_pipeline_execution(PipelineName="Gate", ClientRequestToken=token)
    assert sm.start_pipeline_execution(PipelineName="Gate", ClientRequestToken=token) == again


def test_stop_makes_an_execution_stopping_then_stopped(sm):
    create(sm, "Long", sleeping_definition())
    arn = sm.start_pipeline_execution(
        PipelineName="Long", PipelineParameters=[{"Name": "Seconds", "Value": "60"}]
    )["PipelineExecutionArn"]
    wait_for_a_step(sm, arn)
    assert sm.stop_pipeline_execution(PipelineExecutionArn=arn) == {"PipelineExecutionArn": arn}
    status = sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
    assert status in ("Stopping", "Stopped")
    done = wait_for(sm, arn, ("Stopped", "Failed", "Succeeded"), 30)
    assert done["PipelineExecutionStatus"] == "Stopped"
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert steps[0]["StepStatus"] == "Stopped"
    with pytest.raises(ClientError) as e:  # it ended: nothing to stop
        sm.stop_pipeline_execution(PipelineExecutionArn=arn)
    assert code(e) == "ConflictException"


def test_an_execution_whose_process_was_killed_reads_failed(ws, sm):
    create(sm, "Doomed", sleeping_definition())
    arn = sm.start_pipeline_execution(
        PipelineName="Doomed", PipelineParameters=[{"Name": "Seconds", "Value": "60"}]
    )["PipelineExecutionArn"]
    wait_for_a_step(sm, arn)
    record = ws.sagemaker.executions.load(arn.rsplit("/", 1)[-1])
    os.kill(record["ProcessId"], signal.SIGKILL)  # the runner, mid-step
    done = wait_for(sm, arn, ("Failed",), 10)
    assert "ended before it finished" in done["FailureReason"]
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert steps[0]["StepStatus"] == "Stopped"


# -- the same scenario on moto ---------------------------------------------------------------


def lifecycle(sm, name):
    """Create, describe, list, update, delete: what each answer holds."""
    seen = {}
    seen["create"] = sorted(set(create(sm, name, condition_definition())) - {"ResponseMetadata"})
    described = sm.describe_pipeline(PipelineName=name)
    seen["describe"] = set(described) - {"CreatedBy", "LastModifiedBy", "ResponseMetadata"}
    seen["definition"] = json.loads(described["PipelineDefinition"])
    listed = [p for p in sm.list_pipelines(PipelineNamePrefix=name)["PipelineSummaries"]]
    seen["listed"] = [p["PipelineName"] for p in listed]
    seen["update"] = sorted(
        set(sm.update_pipeline(PipelineName=name, PipelineDescription="x")) - {"ResponseMetadata"}
    )
    seen["delete"] = sorted(set(sm.delete_pipeline(PipelineName=name)) - {"ResponseMetadata"})
    with pytest.raises(ClientError) as e:
        sm.describe_pipeline(PipelineName=name)
    seen["gone"] = code(e)
    return seen


def test_the_same_lifecycle_on_moto_and_on_the_twin(aws_env, sm):
    name = "Lifecycle-%s" % uuid.uuid4().hex[:8]  # the moto server lives for the session
    on_moto = lifecycle(aws_client("sagemaker", aws_env), name)
    on_twin = lifecycle(sm, name)
    # moto answers PipelineDescription and LastRunTime even when unset (None / absent
    # upstream); the twin answers the members that have values, as SageMaker does.
    on_moto["describe"] -= {"PipelineDescription", "LastRunTime", "ParallelismConfiguration"}
    # moto's UpdatePipeline answers no PipelineVersionId, which the API reference documents.
    assert on_twin.pop("update") == ["PipelineArn", "PipelineVersionId"]
    on_moto.pop("update")
    # A missing pipeline: the API reference models ResourceNotFound for DescribePipeline
    # (API_DescribePipeline.html#API_DescribePipeline_Errors), which the twin answers; moto
    # answers ValidationException.
    assert (on_twin.pop("gone"), on_moto.pop("gone")) == ("ResourceNotFound", "ValidationException")
    assert on_twin == on_moto


# -- the SageMaker Python SDK ----------------------------------------------------------------


def test_the_sagemaker_sdk_upserts_starts_waits_and_lists_steps_on_the_twin(sm):
    import boto3
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.parameters import ParameterInteger
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession

    session = PipelineSession(
        boto_session=boto3.Session(
            region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local"
        ),
        sagemaker_client=sm,
        sagemaker_config={
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        },
    )
    threshold = ParameterInteger(name="Threshold", default_value=5)
    gate = ConditionStep(
        name="Check",
        conditions=[ConditionGreaterThanOrEqualTo(left=threshold, right=3)],
        if_steps=[],
        else_steps=[FailStep(name="TooLow", error_message="too low")],
    )
    pipeline = Pipeline(
        name="SdkPipeline", parameters=[threshold], steps=[gate], sagemaker_session=session
    )
    created = pipeline.upsert(role_arn=ROLE, tags=[{"Key": "team", "Value": "ml"}])
    assert created["PipelineArn"].endswith(":pipeline/sdkpipeline")
    # upsert again: CreatePipeline's "already exists" sends it to UpdatePipeline and AddTags
    updated = pipeline.upsert(role_arn=ROLE, tags=[{"Key": "stage", "Value": "dev"}])
    assert updated["PipelineVersionId"] == 2
    tags = sm.list_tags(ResourceArn=created["PipelineArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "ml"}, {"Key": "stage", "Value": "dev"}]

    execution = pipeline.start(parameters={"Threshold": 4})
    execution.wait(delay=1, max_attempts=120)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    assert [s["StepName"] for s in execution.list_steps()] == ["Check"]

    failing = pipeline.start(parameters={"Threshold": 1})
    with pytest.raises(WaiterError, match="terminal failure"):
        failing.wait(delay=1, max_attempts=120)
    assert "too low" in failing.describe()["FailureReason"]
    assert json.loads(pipeline.describe()["PipelineDefinition"]) == json.loads(
        pipeline.definition()
    )
