"""A pipeline with a Lambda step, built with the SageMaker SDK as a user builds one, run by the
local engine on the path `churn run` takes (a Workspace's backend and engine.Execution): the
function registered with `churn lambda create` from a folder, invoked with the step's
arguments as its event, its outputs typed as the step declares them and read by a
ConditionStep and by a later step's arguments; a function the home does not have is refused
before the run starts, naming it and how to register it."""

import json
import os
import warnings
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.errors import PipelineError
from pipelines.local.sagemaker.engine import Execution
from pipelines.workspace import Workspace

HANDLER = """
def handler(event, context):
    mode = event["mode"]
    if mode == "broken":
        raise ValueError("no threshold for a broken mode")
    if mode == "mistyped":
        return {"ok": "maybe", "threshold": 0.7}
    if mode == "missing":
        return {"ok": True}
    return {"ok": True, "threshold": 0.7 if mode == "strict" else 0.3, "runs": event["runs"]}

def announce(event, context):
    print("announcing", event)
    return {"message": "threshold %s from %s" % (event["threshold"], context.function_name)}
"""
ARN = "arn:aws:lambda:us-east-1:123456789012:function:%s"


def definition(decide="churn-decide"):
    """The definition the SageMaker SDK writes for a user's pipeline: a ParameterString, a
    LambdaStep whose outputs a ConditionStep reads, a second LambdaStep taking one of them as
    its input, and a FailStep on the other branch."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import boto3
        from sagemaker.lambda_helper import Lambda
        from sagemaker.session import Session
        from sagemaker.workflow.condition_step import ConditionStep
        from sagemaker.workflow.conditions import (
            ConditionEquals,
            ConditionGreaterThanOrEqualTo,
        )
        from sagemaker.workflow.fail_step import FailStep
        from sagemaker.workflow.functions import Join
        from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
        from sagemaker.workflow.parameters import ParameterString
        from sagemaker.workflow.pipeline import Pipeline

        session = Session(boto3.Session(
            region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        ))  # fmt: skip
        mode = ParameterString("Mode", default_value="strict")
        decide_step = LambdaStep(
            "Decide",
            lambda_func=Lambda(function_arn=ARN % decide, session=session),
            inputs={"mode": mode, "runs": 3},
            outputs=[
                LambdaOutput("ok", LambdaOutputTypeEnum.Boolean),
                LambdaOutput("threshold", LambdaOutputTypeEnum.Float),
            ],
        )
        threshold = decide_step.properties.Outputs["threshold"]
        announce = LambdaStep(
            "Announce",
            lambda_func=Lambda(function_arn=ARN % "churn-announce", session=session),
            inputs={"threshold": threshold},
            outputs=[LambdaOutput("message", LambdaOutputTypeEnum.String)],
        )
        check = ConditionStep(
            "CheckThreshold",
            conditions=[
                ConditionEquals(left=decide_step.properties.Outputs["ok"], right=True),
                ConditionGreaterThanOrEqualTo(left=threshold, right=0.5),
            ],
            if_steps=[announce],
            else_steps=[
                FailStep(
                    "TooLow", error_message=Join(on=" ", values=["threshold", threshold, "< 0.5"])
                )
            ],  # fmt: skip
        )
        pipeline = Pipeline(
            "lambda-demo", parameters=[mode], steps=[decide_step, check], sagemaker_session=session
        )
        return json.loads(pipeline.definition())


@pytest.fixture(scope="module")
def built():
    return definition()


@pytest.fixture
def home(tmp_path, capsys):
    """A home with the two functions registered from a folder, through `churn lambda create`."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    home = str(tmp_path / "home")
    for name, handler in (("churn-decide", "app.handler"), ("churn-announce", "app.announce")):
        argv = ["lambda", "create", "--name", name, "--handler", handler, "--code", str(code)]
        assert main(argv + ["--timeout", "30", "--home", home]) == 0
    assert "created arn:aws:lambda:" in capsys.readouterr().out
    return home


def run(home, built, **parameters):
    with Workspace(home) as ws:
        return Execution(ws.sagemaker, built, "lambda-demo", parameters).run(), ws


def steps_of(record):
    return {s["StepName"]: s for s in record["Steps"]}


def test_the_sdk_writes_a_lambda_step_as_the_engine_reads_it(built):
    step = built["Steps"][0]
    assert step["Type"] == "Lambda" and step["FunctionArn"] == ARN % "churn-decide"
    assert step["Arguments"] == {"mode": {"Get": "Parameters.Mode"}, "runs": 3}
    assert step["OutputParameters"] == [
        {"OutputName": "ok", "OutputType": "Boolean"},
        {"OutputName": "threshold", "OutputType": "Float"},
    ]


def test_the_condition_reads_the_lambda_outputs(home, built):
    record, ws = run(home, built)
    assert record["PipelineExecutionStatus"] == "Succeeded", record["FailureReason"]
    steps = steps_of(record)
    assert list(steps) == ["Decide", "CheckThreshold", "Announce"]
    assert steps["Decide"]["Metadata"] == {"Lambda": {
        "Arn": ARN % "churn-decide",
        "OutputParameters": [{"Name": "ok", "Value": "true"},
                             {"Name": "threshold", "Value": "0.7"}],
    }}  # fmt: skip
    assert steps["CheckThreshold"]["Metadata"] == {"Condition": {"Outcome": "true"}}
    announced = steps["Announce"]["Metadata"]["Lambda"]["OutputParameters"]
    assert announced == [{"Name": "message", "Value": "threshold 0.7 from churn-announce"}]
    # What each step was asked and produced, beside the record: the resolved event, the
    # typed outputs; and the function's log.
    saved = json.loads(
        (ws.sagemaker.executions.folder(record["PipelineExecutionId"]) / "Decide.step.json")
        .read_text()
    )  # fmt: skip
    assert saved["Arguments"] == {"mode": "strict", "runs": 3}
    assert saved["Properties"] == {"OutputParameters": {"ok": True, "threshold": 0.7}}
    log = Path(steps["Announce"]["Log"]).read_text()
    assert "announcing {'threshold': 0.7}" in log and log.startswith("START RequestId: ")


def test_the_other_branch_fails_with_the_lambda_output(home, built):
    record, _ = run(home, built, Mode="loose")
    assert record["PipelineExecutionStatus"] == "Failed"
    assert record["FailureReason"] == "step TooLow failed: threshold 0.3 < 0.5"
    assert steps_of(record)["CheckThreshold"]["Metadata"]["Condition"]["Outcome"] == "false"


@pytest.mark.parametrize(
    "mode, reason",
    [
        ("broken", "Lambda function churn-decide failed: ValueError: no threshold for a broken "
                   "mode"),
        ("mistyped", 'output ok is declared Boolean; Lambda function churn-decide returned '
                     '"maybe"'),
        ("missing", "output threshold is missing from what Lambda function churn-decide "
                    "returned (it returned ok)"),
    ],
)  # fmt: skip
def test_a_failing_or_mistyped_function_fails_the_step(home, built, mode, reason):
    record, _ = run(home, built, Mode=mode)
    assert record["PipelineExecutionStatus"] == "Failed"
    decide = steps_of(record)["Decide"]
    assert decide["StepStatus"] == "Failed" and decide["FailureReason"] == reason
    assert "CheckThreshold" not in steps_of(record)


def test_a_function_only_on_aws_is_refused_before_the_run(home):
    with Workspace(home) as ws:
        with pytest.raises(PipelineError) as refused:
            Execution(ws.sagemaker, definition("churn-elsewhere"), "lambda-demo", {})
        assert ws.sagemaker.executions.list() == []
    message = str(refused.value)
    assert message.splitlines() == [
        "the local engine cannot run one of this pipeline's steps, so nothing ran:",
        "  step Decide (type Lambda): it invokes Lambda function churn-elsewhere, which exists "
        "only on AWS: register it locally with `churn lambda create --name churn-elsewhere "
        "--handler <module>.<function> --code <folder or .zip>`",
    ]


def test_the_cli_lists_invokes_and_deletes(home, capsys):
    assert main(["lambda", "list", "--home", home]) == 0
    listed = capsys.readouterr().out
    assert "churn-announce" in listed and "churn-decide" in listed
    event = json.dumps({"mode": "strict", "runs": 1})
    assert main(["lambda", "invoke", "--name", "churn-decide", "--event", event,
                 "--home", home]) == 0  # fmt: skip
    out = capsys.readouterr()
    assert json.loads(out.out) == {"ok": True, "threshold": 0.7, "runs": 1}
    assert "END RequestId: " in out.err
    assert main(["lambda", "invoke", "--name", "churn-decide", "--event", '{"mode": "broken"}',
                 "--home", home]) == 1  # fmt: skip
    assert main(["lambda", "delete", "--name", "churn-decide", "--home", home]) == 0
    capsys.readouterr()
    assert main(["lambda", "invoke", "--name", "churn-decide", "--home", home]) == 1
    assert "Function not found" in capsys.readouterr().err
