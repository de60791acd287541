"""run-pipeline and the CodeBuild job against a moto server on 127.0.0.1 (real HTTP, fake AWS).

moto marks executions Succeeded at once without running them; the local runner runs them."""

import io
import json
import subprocess
import sys
import tarfile

import yaml

from conftest import ROOT, aws_client

ROLE = "arn:aws:iam::123456789012:role/ChurnPipelineRole"


def run_pipeline(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "pipelines.run_pipeline"] + list(args),
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=env,
    )


def definition(env, kwargs):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.get_pipeline_definition",
            "-n",
            "pipelines.churn.pipeline",
            "--kwargs",
            kwargs,
        ],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_upsert_creates_then_updates_and_starts_with_the_code_uploaded(aws_env, bucket):
    kwargs = json.dumps({"default_bucket": bucket, "pipeline_name": "Churn-upsert"})
    first = run_pipeline(
        aws_env,
        "-n",
        "pipelines.churn.pipeline",
        "--role-arn",
        ROLE,
        "--kwargs",
        kwargs,
        "--tags",
        '{"team": "ml"}',
        "--description",
        "churn model",
    )
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # no SDK deprecation warnings or INFO chatter
    assert "Execution started with PipelineExecutionArn: arn:aws:sagemaker:" in first.stdout
    sagemaker = aws_client("sagemaker", aws_env)
    created = sagemaker.describe_pipeline(PipelineName="Churn-upsert")
    assert created["RoleArn"] == ROLE and created["PipelineDescription"] == "churn model"

    second = run_pipeline(
        aws_env,
        "-n",
        "pipelines.churn.pipeline",
        "--role-arn",
        ROLE,
        "--kwargs",
        kwargs,
        "--wait",
        "--poll-seconds",
        "0.1",
    )
    assert second.returncode == 0, second.stderr
    assert "Succeeded" in second.stdout
    updated = sagemaker.describe_pipeline(PipelineName="Churn-upsert")
    assert updated["LastModifiedTime"] >= created["CreationTime"]
    summaries = sagemaker.list_pipeline_executions(PipelineName="Churn-upsert")
    assert len(summaries["PipelineExecutionSummaries"]) == 2

    # What SageMaker stores is exactly what get-pipeline-definition prints.
    stored = json.loads(updated["PipelineDefinition"])
    assert stored == definition(aws_env, json.dumps(dict(json.loads(kwargs), role=ROLE)))
    assert_code_objects_hold_the_scripts_bytes(aws_env, bucket, updated["PipelineDefinition"])
    tags = sagemaker.list_tags(ResourceArn=updated["PipelineArn"])["Tags"]
    assert {"Key": "team", "Value": "ml"} in tags


def assert_code_objects_hold_the_scripts_bytes(aws_env, bucket, stored):
    """The objects the definition names are in the bucket, holding the scripts' bytes."""
    s3 = aws_client("s3", aws_env)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    validate_key = [k for k in keys if k.endswith("/validate.py")][0]
    assert validate_key.split("/processing/")[1].split("/")[0] in stored
    body = s3.get_object(Bucket=bucket, Key=validate_key)["Body"].read()
    assert body == (ROOT / "processing" / "validate.py").read_bytes()
    tar_key = [k for k in keys if k.startswith("churn/code/training/")][0]
    assert "s3://%s/%s" % (bucket, tar_key) in stored
    tarball = s3.get_object(Bucket=bucket, Key=tar_key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        # train.py and the job module it shares with the other scripts (processing/churn_job.py)
        assert tar.getnames() == ["churn_job.py", "train.py"]
        assert tar.extractfile("train.py").read() == (ROOT / "training" / "train.py").read_bytes()
        assert (
            tar.extractfile("churn_job.py").read()
            == (ROOT / "processing" / "churn_job.py").read_bytes()
        )


def test_missing_credentials_are_one_clear_line(aws_env, tmp_path):
    env = {
        k: v for k, v in aws_env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    env.update(
        {
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
        }
    )
    proc = run_pipeline(
        env,
        "-n",
        "pipelines.churn.pipeline",
        "--role-arn",
        ROLE,
        "--kwargs",
        '{"default_bucket": "churn-nocreds"}',
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "run-pipeline: error: no AWS credentials found: configure a "
        "profile (aws configure, AWS_PROFILE) or set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )

    env["AWS_PROFILE"] = "nope"
    proc = run_pipeline(env, "-n", "pipelines.churn.pipeline", "--role-arn", ROLE)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "run-pipeline: error: AWS profile 'nope' is not in your AWS config: check AWS_PROFILE "
        "(aws configure list-profiles)"
    )


def test_codebuild_build_phase(aws_env, bucket, tmp_path):
    """The buildspec's build commands, run as CodeBuild would with the project's variables."""
    spec = yaml.safe_load((ROOT / "codebuild-buildspec.yml").read_text())
    assert spec["env"]["shell"] == "bash"
    build = spec["phases"]["build"]
    script = "\n".join(build["commands"] + build["finally"])
    script += '\necho "EXPORTED ${PIPELINE_NAME} ${PIPELINE_EXECUTION_ARN}"\n'
    env = dict(spec["env"]["variables"], **aws_env)  # CodeBuild sets the buildspec's variables
    env.update(
        {
            "SAGEMAKER_PROJECT_NAME": "churn",
            "SAGEMAKER_PROJECT_ID": "p-abc123",
            "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE,
            "ARTIFACT_BUCKET": bucket,
            "AWS_REGION": "us-east-1",
            # The suite is already running; the build runs a small, real part of it.
            "PYTEST_ARGS": "-q -p no:cacheprovider tests/containers/test_schema.py",
            "PATH": "%s:%s" % (ROOT / ".venv" / "bin", env.get("PATH", "")),
        }
    )
    proc = subprocess.run(
        ["bash", "-c", script], cwd=str(ROOT), env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "passed" in proc.stdout
    exported = [line for line in proc.stdout.splitlines() if line.startswith("EXPORTED")][0].split()
    assert exported[1] == "churn-p-abc123" and exported[2].startswith("arn:aws:sagemaker:")
    # run-pipeline --wait: the build ends with the execution
    assert "Execution %s: Succeeded" % exported[2] in proc.stdout
    sagemaker = aws_client("sagemaker", aws_env)
    pipeline = sagemaker.describe_pipeline(PipelineName="churn-p-abc123")
    executions = sagemaker.list_pipeline_executions(PipelineName="churn-p-abc123")
    assert executions["PipelineExecutionSummaries"][0]["PipelineExecutionArn"] == exported[2]
    tags = sagemaker.list_tags(ResourceArn=pipeline["PipelineArn"])["Tags"]
    assert {"Key": "sagemaker:project-id", "Value": "p-abc123"} in tags
    stored = json.loads(pipeline["PipelineDefinition"])
    check = [step for step in stored["Steps"] if step["Name"] == "CheckDataChecks"][0]
    register = check["Arguments"]["IfSteps"][0]["Arguments"]["IfSteps"][0]["Arguments"]
    assert register["ModelPackageGroupName"] == "churn-p-abc123"
    (ROOT / "run-pipeline.log").unlink()


def test_codebuild_build_phase_with_the_infrastructures_parameters(aws_env, bucket):
    """Run by the CDK app's CodeBuild project: CONFIG_PREFIX and PIPELINE_NAME only; the role,
    bucket, group and key come from Parameter Store. The lint and test commands, which read no
    variable, already ran in test_codebuild_build_phase: the rest of the phase runs here."""
    spec = yaml.safe_load((ROOT / "codebuild-buildspec.yml").read_text())
    commands = spec["phases"]["build"]["commands"]
    checks = [c for c in commands if c.startswith(("ruff ", "python -m pytest"))]
    assert len(checks) == 2
    script = "\n".join(
        [c for c in commands if c not in checks] + spec["phases"]["build"]["finally"]
    )
    script += '\necho "EXPORTED ${PIPELINE_NAME} ${PIPELINE_EXECUTION_ARN}"\n'
    ssm = aws_client("ssm", aws_env)
    key = "arn:aws:kms:us-east-1:123456789012:key/cb"
    for name, value in {
        "bucket": bucket,
        "pipeline-role-arn": ROLE,
        "model-package-group": "ChurnFromConfig",
        "kms-key-arn": key,
    }.items():
        ssm.put_parameter(Name="/cb/" + name, Value=value, Type="String", Overwrite=True)
    env = dict(spec["env"]["variables"], **aws_env)  # CodeBuild sets the buildspec's variables
    env.update(
        CONFIG_PREFIX="/cb/",
        PIPELINE_NAME="ChurnFromConfig",
        AWS_REGION="us-east-1",
        PATH="%s:%s" % (ROOT / ".venv" / "bin", aws_env.get("PATH", "")),
    )
    proc = subprocess.run(
        ["bash", "-c", script], cwd=str(ROOT), env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    exported = [line for line in proc.stdout.splitlines() if line.startswith("EXPORTED")][0].split()
    assert exported[1] == "ChurnFromConfig" and exported[2].startswith("arn:aws:sagemaker:")
    assert "Execution %s: Succeeded" % exported[2] in proc.stdout
    pipeline = aws_client("sagemaker", aws_env).describe_pipeline(PipelineName="ChurnFromConfig")
    assert pipeline["RoleArn"] == ROLE
    text = pipeline["PipelineDefinition"]
    assert '"ModelPackageGroupName": "ChurnFromConfig"' in text
    assert "s3://%s/cb/" % bucket in text and key in text
    (ROOT / "run-pipeline.log").unlink()


def test_the_templates_single_dash_spellings_work_but_help_shows_one_spelling(aws_env, bucket):
    """The SageMaker project templates call `run-pipeline -role-arn ... -kwargs ...`; --help
    listed every such option twice (`-kwargs KWARGS, --kwargs KWARGS`)."""
    import re

    for command in ("pipelines.run_pipeline", "pipelines.get_pipeline_definition"):
        shown = subprocess.run(
            [sys.executable, "-m", command, "--help"], capture_output=True, text=True, cwd=ROOT
        ).stdout
        shown = " ".join(shown.split())  # as wide as argparse wraps it
        assert "--kwargs" in shown and "default: pipelines.churn.pipeline" in shown, shown
        single = re.findall(r"(?<![-\w])-(?:kwargs|role-arn|tags|description)\b", shown)
        assert not single, shown
    kwargs = json.dumps({"default_bucket": bucket, "pipeline_name": "Churn-single-dash"})
    proc = run_pipeline(aws_env, "-role-arn", ROLE, "-kwargs", kwargs, "-tags",
                        '{"team": "ml"}', "-description", "templated")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sagemaker = aws_client("sagemaker", aws_env)
    described = sagemaker.describe_pipeline(PipelineName="Churn-single-dash")
    assert described["RoleArn"] == ROLE and described["PipelineDescription"] == "templated"
    tags = sagemaker.list_tags(ResourceArn=described["PipelineArn"])["Tags"]
    assert {"Key": "team", "Value": "ml"} in tags


def test_config_prefix_alone_runs_the_churn_pipeline(aws_env, bucket):
    """`run-pipeline --config-prefix /churn/` failed: --module-name was required, though this
    project has one pipeline module."""
    ssm = aws_client("ssm", aws_env)
    for name, value in {"bucket": bucket, "pipeline-role-arn": ROLE}.items():
        ssm.put_parameter(Name="/t7/" + name, Value=value, Type="String", Overwrite=True)
    proc = run_pipeline(aws_env, "--config-prefix", "/t7/", "-kwargs",
                        '{"pipeline_name": "Churn-prefix-only"}')  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    described = aws_client("sagemaker", aws_env).describe_pipeline(PipelineName="Churn-prefix-only")
    assert described["RoleArn"] == ROLE
    assert "s3://%s/t7/" % bucket in described["PipelineDefinition"]


def test_get_pipeline_definition_defaults_to_the_churn_pipeline(aws_env, bucket):
    kwargs = {"region": "us-east-1", "default_bucket": bucket}
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.get_pipeline_definition", "-kwargs", json.dumps(kwargs)],
        capture_output=True, text=True, cwd=str(ROOT), env=aws_env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == definition(aws_env, json.dumps(kwargs))


def test_config_prefix_names_the_data_stacks_feature_group(aws_env, bucket):
    """The data stack's feature group is <prefix>-customers (every name carries the prefix):
    with the Feature Store steps, run-pipeline takes its name from Parameter Store."""
    ssm = aws_client("ssm", aws_env)
    for name, value in {"bucket": bucket, "pipeline-role-arn": ROLE,
                        "feature-group": "t8-customers"}.items():  # fmt: skip
        ssm.put_parameter(Name="/t8/" + name, Value=value, Type="String", Overwrite=True)
    proc = run_pipeline(aws_env, "--config-prefix", "/t8/", "-kwargs",
                        '{"pipeline_name": "Churn-fg", "ingest_features": true}')  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "feature-group/t8-customers" in proc.stdout
    described = aws_client("sagemaker", aws_env).describe_pipeline(PipelineName="Churn-fg")
    parameters = json.loads(described["PipelineDefinition"])["Parameters"]
    (group,) = [p for p in parameters if p["Name"] == "FeatureGroupName"]
    assert group["DefaultValue"] == "t8-customers"
