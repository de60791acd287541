"""The SageMaker SDK unchanged against `churn local`, as a user's notebook reaches it: the only
project code on the test's path is the endpoint (started as its command) and the pipeline
modules the user builds (the template's get_pipeline, or tests/fixtures/userpipeline, a user's
own). The user's side runs in a process of its own whose environment holds the `export` lines
`churn local` printed, and a SageMaker SDK config opting out of telemetry (the user's choice:
there is no network here)."""

import json
import os
import subprocess
import sys

import pytest
from test_local_endpoint import aws_cli

from conftest import BANK, ROOT, needs_shared_data

ROLE = "arn:aws:iam::111111111111:role/NotebookRole"

TEMPLATE = """
import sys, boto3
from sagemaker.workflow.pipeline_context import PipelineSession
from pipelines.churn.pipeline import get_pipeline
boto = boto3.Session()
s3 = boto.client("s3")
s3.create_bucket(Bucket="notebook-bucket")
s3.upload_file(sys.argv[1], "notebook-bucket", "data/bank.csv")
session = PipelineSession(boto_session=boto, default_bucket="notebook-bucket")
pipeline = get_pipeline(region="us-east-1", role=sys.argv[2], default_bucket="notebook-bucket",
                        sagemaker_session=session, schema="bank")
pipeline.upsert(role_arn=sys.argv[2])
execution = pipeline.start(parameters={"InputDataUrl": "s3://notebook-bucket/data/bank.csv"})
execution.wait(delay=1, max_attempts=600)
sm = boto.client("sagemaker")
packages = sm.list_model_packages(ModelPackageGroupName="churn-bank")["ModelPackageSummaryList"]
print(__import__("json").dumps({
    "status": execution.describe()["PipelineExecutionStatus"],
    "steps": {s["StepName"]: s["StepStatus"] for s in execution.list_steps()},
    "package": sm.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"]),
}, default=str))
"""

USER = """
import sys, boto3
from userpipeline.pipeline import get_pipeline
boto = boto3.Session()
boto.client("s3").create_bucket(Bucket="user-bucket")
boto.client("s3").upload_file(sys.argv[1], "user-bucket", "dataset/churn.csv")
pipeline = get_pipeline(region="us-east-1", role=sys.argv[2], default_bucket="user-bucket")
pipeline.upsert(role_arn=sys.argv[2])
execution = pipeline.start(parameters={"InputDataUrl": "s3://user-bucket/dataset/churn.csv"})
execution.wait(delay=1, max_attempts=600)
sm = boto.client("sagemaker")
print(__import__("json").dumps({
    "status": execution.describe()["PipelineExecutionStatus"],
    "packages": sm.list_model_packages(ModelPackageGroupName="BankChurnPackageGroup")[
        "ModelPackageSummaryList"],
}, default=str))
"""


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """`churn local` on a free port over a fresh home; {variable: value} it printed."""
    home = tmp_path_factory.mktemp("local-endpoint-home")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "local", "--port", "0", "--home", str(home)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
    )  # fmt: skip
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
        yield dict(line[len("export ") :].strip().split("=", 1) for line in lines[1:])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def user_env(endpoint, tmp_path, *paths):
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHURN_"))}
    env.update(endpoint, SAGEMAKER_USER_CONFIG_OVERRIDE=str(config),
               PYTHONPATH=os.pathsep.join(str(p) for p in (ROOT,) + paths),
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)  # fmt: skip
    return env


def notebook(script, endpoint, tmp_path, *paths):
    done = subprocess.run([sys.executable, "-c", script, str(BANK), ROLE],
                          env=user_env(endpoint, tmp_path, *paths), capture_output=True,
                          text=True, timeout=900, cwd=str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_shared_data
def test_the_templates_pipeline_upserted_and_started_through_the_sdk_registers_a_version(
    endpoint, tmp_path
):
    found = notebook(TEMPLATE, endpoint, tmp_path)
    assert found["status"] == "Succeeded"
    assert set(found["steps"].values()) == {"Succeeded"}
    assert "RegisterModel-RegisterModel" in found["steps"]
    package = found["package"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    # The SDK uploaded the training code through the endpoint's S3 into the home's store.
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].startswith(
        "s3://notebook-bucket/churn/models/"
    )


@needs_shared_data
def test_a_users_own_pipeline_upserted_and_started_through_the_sdk_registers_a_version(
    endpoint, tmp_path
):
    found = notebook(USER, endpoint, tmp_path, ROOT / "tests" / "fixtures")
    assert found["status"] == "Succeeded"
    assert [p["ModelPackageVersion"] for p in found["packages"]] == [1]


@needs_shared_data
def test_the_aws_cli_lists_the_pipelines_executions_and_versions_and_copies_files(
    endpoint, tmp_path
):
    aws = aws_cli()
    env = user_env(endpoint, tmp_path)

    def run(*args):
        done = subprocess.run([aws, "--output", "json", *args], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if args[0] == "sagemaker" else done.stdout

    names = {p["PipelineName"] for p in run("sagemaker", "list-pipelines")["PipelineSummaries"]}
    assert {"ChurnPipeline", "BankChurnUserPipeline"} <= names
    executions = run("sagemaker", "list-pipeline-executions", "--pipeline-name", "ChurnPipeline")
    assert [e["PipelineExecutionStatus"] for e in executions["PipelineExecutionSummaries"]] == [
        "Succeeded"
    ]
    versions = run("sagemaker", "list-model-packages", "--model-package-group-name", "churn-bank")
    assert [v["ModelPackageVersion"] for v in versions["ModelPackageSummaryList"]] == [1]
    source = tmp_path / "notes.txt"
    source.write_text("a file through the AWS CLI\n")
    run("s3", "cp", str(source), "s3://notebook-bucket/notes/notes.txt")
    run("s3", "cp", "s3://notebook-bucket/notes/notes.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "a file through the AWS CLI\n"


@needs_shared_data
def test_churns_own_aws_path_reaches_the_endpoint_too(endpoint, tmp_path):
    # `churn models list --region R` calls AWS through boto3: with the endpoint's variables it
    # lists the home's registry through the endpoint, as the in-process twins list it.
    env = user_env(endpoint, tmp_path)
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "models", "list", "--region",
                           "us-east-1"], env=env, capture_output=True, text=True, timeout=120,
                          cwd=str(ROOT))  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [line.split()[:3] for line in done.stdout.splitlines() if line.startswith("churn-bank")]
    assert rows == [["churn-bank", "1", "PendingManualApproval"]]


def test_the_studio_notebook_runs_against_the_endpoint_unchanged(endpoint, tmp_path, monkeypatch):
    import boto3
    import nbformat
    from nbclient import NotebookClient

    env = user_env(endpoint, tmp_path)
    for key in [k for k in os.environ if k.startswith(("AWS_", "CHURN_"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this environment
    monkeypatch.setenv("SAGEMAKER_PIPELINE_ROLE_ARN", ROLE)
    monkeypatch.setenv("ARTIFACT_BUCKET", "studio-bucket")
    monkeypatch.setenv("PIPELINE_NAME", "ChurnStudio")
    monkeypatch.setenv("POLL_SECONDS", "0.5")
    boto3.client("s3").create_bucket(Bucket="studio-bucket")  # the bucket a Studio user has
    notebook = nbformat.read(str(ROOT / "sagemaker-pipelines-project.ipynb"), as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    outputs = "".join(
        o.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    )
    assert "execution status: Succeeded" in outputs
    assert "registered version(s)" in outputs and "Traceback" not in outputs
    described = boto3.client("sagemaker").describe_pipeline(PipelineName="ChurnStudio")
    assert described["PipelineStatus"] == "Active"
