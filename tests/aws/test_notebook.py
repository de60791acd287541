"""The Studio notebook runs top to bottom against the moto server, so it cannot rot."""

import nbformat
from nbclient import NotebookClient

from conftest import ROOT, aws_client


def test_notebook_builds_upserts_starts_and_lists(aws_env, bucket, monkeypatch):
    for key, value in aws_env.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this environment
    monkeypatch.setenv("SAGEMAKER_PIPELINE_ROLE_ARN", "arn:aws:iam::123456789012:role/Churn")
    monkeypatch.setenv("ARTIFACT_BUCKET", bucket)
    monkeypatch.setenv("PIPELINE_NAME", "ChurnNotebook")
    monkeypatch.setenv("POLL_SECONDS", "0.1")
    notebook = nbformat.read(str(ROOT / "sagemaker-pipelines-project.ipynb"), as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()

    outputs = "".join(
        o.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    )
    assert "RegisterModel-RegisterModel RegisterModel" in outputs
    assert "execution status: Succeeded" in outputs
    assert "registered version(s)" in outputs
    assert "Deprecation" not in outputs and "Traceback" not in outputs
    sagemaker = aws_client("sagemaker", aws_env)
    assert sagemaker.describe_pipeline(PipelineName="ChurnNotebook")["PipelineStatus"] == "Active"
    data = aws_client("s3", aws_env).get_object(Bucket=bucket, Key="churn/data/churn.csv")
    assert data["Body"].read().startswith(b"customer_id,age,tenure")
