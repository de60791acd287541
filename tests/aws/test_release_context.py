"""The release pipeline's build step (infra/release.py) against a moto server: the newest
Approved version of the group and its data-quality baselines, as the CDK context the stage
stacks are synthesized from; a group with nothing approved is one line and exit 1.

As AWS's model-deploy project template's build does (the newest approved package of the
project's group); ListModelPackages, DescribeModelPackage (DriftCheckBaselines) from the
SageMaker API reference."""

import subprocess
import sys
from pathlib import Path

from conftest import aws_client

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = {
    "Containers": [{"Image": "i", "ModelDataUrl": "s3://a/m.tar.gz"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


def register(sm, group, status, baseline=None):
    request = dict(
        ModelPackageGroupName=group, ModelApprovalStatus=status, InferenceSpecification=CONTAINER
    )
    if baseline:
        request["DriftCheckBaselines"] = {
            "ModelDataQuality": {
                name: {"ContentType": "application/json", "S3Uri": "%s/%s.json" % (baseline, key)}
                for name, key in (("Statistics", "statistics"), ("Constraints", "constraints"))
            }
        }
    return sm.create_model_package(**request)["ModelPackageArn"]


def release_context(env, group):
    return subprocess.run(
        [sys.executable, "-m", "pipelines.aws.release_context", "--group", group],
        capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=60,
    )  # fmt: skip


def test_the_newest_approved_version_and_its_baselines_as_cdk_context(aws_env):
    sm = aws_client("sagemaker", aws_env)
    sm.create_model_package_group(ModelPackageGroupName="release-seed")
    register(sm, "release-seed", "Approved", "s3://b/v1")
    newest = register(sm, "release-seed", "Approved", "s3://b/v2")
    register(sm, "release-seed", "PendingManualApproval", "s3://b/v3")  # not approved
    proc = release_context(aws_env, "release-seed")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "-c", "model_package_arn=%s" % newest,
        "-c", "baseline_constraints=s3://b/v2/constraints.json",
        "-c", "baseline_statistics=s3://b/v2/statistics.json",
    ]  # fmt: skip


def test_a_group_without_an_approved_version_is_one_line(aws_env):
    sm = aws_client("sagemaker", aws_env)
    sm.create_model_package_group(ModelPackageGroupName="release-pending")
    register(sm, "release-pending", "PendingManualApproval", "s3://b/v1")
    proc = release_context(aws_env, "release-pending")
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("release context: no Approved model version in group release-pending")


def test_a_version_without_baselines_is_refused(aws_env):
    sm = aws_client("sagemaker", aws_env)
    sm.create_model_package_group(ModelPackageGroupName="release-bare")
    arn = register(sm, "release-bare", "Approved")
    proc = release_context(aws_env, "release-bare")
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert arn in line and "DriftCheckBaselines" in line
