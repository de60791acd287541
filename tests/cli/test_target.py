"""One choice of target for every command that calls a service (pipelines/cli/target.py): the
home's twins by default, AWS with --region or --profile, $CHURN_TARGET without a flag; a
contradiction or an unknown target is one line."""

import json

from conftest import churn_cli

CREATE_ON_AWS = (
    "churn features: error: on AWS, create needs --role-arn (a role Feature Store may "
    "write the offline store with) and --offline-store s3://bucket/prefix"
)


def features(home, *args, env):
    return churn_cli(home, "features", *args, env=env)


def test_the_local_twins_are_the_default_and_churn_target_aws_goes_to_aws(aws_env, tmp_path):
    local = features(tmp_path, "create", env=aws_env)
    assert local.returncode == 0, local.stderr
    assert ":000000000000:feature-group/churn-customers" in local.stdout
    on_aws = features(tmp_path, "create", env=dict(aws_env, CHURN_TARGET="aws"))
    assert on_aws.returncode == 1 and on_aws.stderr.strip() == CREATE_ON_AWS
    flagged = features(tmp_path, "create", "--region", "us-east-1", env=aws_env)
    assert flagged.returncode == 1 and flagged.stderr.strip() == CREATE_ON_AWS
    # --local wins over the environment.
    back = features(tmp_path, "list", "--local", env=dict(aws_env, CHURN_TARGET="aws"))
    assert back.returncode == 0 and "churn-customers" in back.stdout


def test_contradictions_and_unknown_targets_are_one_line(aws_env, tmp_path):
    both = features(tmp_path, "list", "--local", "--region", "us-east-1", env=aws_env)
    assert both.returncode == 1 and both.stderr.strip() == (
        "churn features: error: --local and --region/--profile name different targets: give one"
    )
    unknown = features(tmp_path, "list", env=dict(aws_env, CHURN_TARGET="staging"))
    assert unknown.returncode == 1 and unknown.stderr.strip() == (
        "churn features: error: CHURN_TARGET=staging: it is local or aws"
    )
    profile = features(tmp_path, "list", "--profile", "no-such-profile", env=aws_env)
    assert profile.returncode == 1 and profile.stderr.strip() == (
        "churn features: error: AWS profile 'no-such-profile' is not in your AWS config: "
        "check AWS_PROFILE (aws configure list-profiles)"
    )
    # churn_cli runs with os.environ updated by these: blank, not absent, to hide a region
    # another test may have set in this process; and no config file's region either.
    no_region = dict(aws_env, AWS_DEFAULT_REGION="", AWS_REGION="")
    no_region["AWS_CONFIG_FILE"] = str(tmp_path / "no-aws-config")
    unplaced = features(tmp_path, "list", env=dict(no_region, CHURN_TARGET="aws"))
    assert unplaced.returncode == 1 and unplaced.stderr.strip() == (
        "churn features: error: no AWS region: give --region, or set AWS_DEFAULT_REGION (or "
        "the profile's region)"
    )


def test_a_local_table_is_refused_on_aws_with_what_to_give(aws_env, tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("a\n1\n")
    proc = churn_cli(
        tmp_path, "databrew", "publish", "--data-url", str(data), "--region", "us-east-1",
        env=aws_env,
    )  # fmt: skip
    assert proc.returncode == 1 and proc.stderr.strip() == (
        "churn databrew: error: on AWS, the table must be in S3: give s3://bucket/key (not "
        "%s), or drop --region/--profile to use the local home" % data
    )


def test_workflow_start_on_the_local_target_prints_the_arn_and_the_execution_ends(tmp_path):
    """A local execution runs on a thread of the command that starts it (docs/adr/0011), so
    `start` prints the ARN at once and waits for the end: the execution is never left
    RUNNING by a process that exited."""
    missing = "arn:aws:sagemaker:local:000000000000:model-package/churn-seed/99"
    proc = churn_cli(
        tmp_path, "workflow", "start", "deploy", "--input",
        json.dumps({"ModelPackageArn": missing}), "--wait-scale", "0.05",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    arn = proc.stdout.strip().splitlines()[0]
    assert ":execution:churn-deploy:" in arn
    shown = churn_cli(tmp_path, "workflow", "describe", arn)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "FAILED"


def test_workflow_create_has_nothing_to_do_locally_and_says_so(tmp_path):
    proc = churn_cli(tmp_path, "workflow", "create", "deploy", "--local",
                     "--states-role-arn", "arn:aws:iam::123456789012:role/x")  # fmt: skip
    assert proc.returncode == 1 and proc.stderr.strip() == (
        "churn workflow: error: --local: the local home's state machines are made from the "
        "code at each `churn workflow run`: there is nothing to create"
    )
