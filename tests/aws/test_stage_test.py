"""pipelines/aws/stage_test.py, the release's smoke and load test, against real local endpoints
(a seed model trained by the real scripts, served by `churn serve` behind the hosting twin):
through the twin's sagemaker-runtime client, as `churn release` runs it, and as the
CodePipeline's test action runs it (`python -m pipelines.aws.stage_test`, boto3 over the wire
of `churn local`'s endpoint)."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from test_hosting_api import CAPTURE, register

from pipelines.aws.deploy import deploy, wait_until_serving
from pipelines.aws.stage_test import main, sample_rows, stage_test
from pipelines.churn.feature_group import LOCAL_ROLE
from pipelines.errors import UserError
from pipelines.local.endpoint import EndpointServer
from pipelines.local.sagemaker.api import SageMakerClient
from pipelines.local.sagemaker.runtime import RuntimeClient
from processing.churn_schema import load_schema

from conftest import ROOT, churn_workspace


@pytest.fixture(scope="module")
def served(seed_model, tmp_path_factory):
    """A home with the seed model InService at endpoint `churn`."""
    ws = churn_workspace(tmp_path_factory.mktemp("stage") / "home")
    sm = SageMakerClient(ws.sagemaker)
    done = deploy(register(ws, seed_model), "churn", LOCAL_ROLE, capture_percent=0,
                  capture_destination=CAPTURE, sagemaker_client=sm)  # fmt: skip
    wait_until_serving(sm, "churn", done["endpoint_config"])
    yield ws
    ws.hosting.delete_endpoint("churn")
    ws.close()


@pytest.mark.fast
@pytest.mark.parametrize("name", ["seed", "telco", "bank"])
def test_the_sample_rows_keep_every_rule_of_their_schema(name):
    """The rows come from the schema's rules, not from one table's columns: the input rules a
    model of that schema carries (processing/churn_rules.py) accept every one."""
    sys.path.insert(0, str(ROOT / "processing"))  # churn_rules imports its neighbours flat
    from churn_rules import InputRules, feature_rules

    schema = load_schema(name)
    header, *rows = csv.reader(sample_rows(schema, 7))
    assert header == schema.feature_names and len(rows) == 7
    columns = {n: np.array([r[i] for r in rows], dtype=object) for i, n in enumerate(header)}
    checked, flags = InputRules(feature_rules(schema)).check(columns)
    assert flags is None


@pytest.mark.fast
def test_a_required_category_the_schema_does_not_list_is_refused_in_one_line():
    with pytest.raises(UserError, match="feature State is categorical with no declared values"):
        sample_rows(load_schema("bigml"))


def test_a_healthy_endpoint_passes(served):
    report = stage_test(RuntimeClient(served.sagemaker), "churn", sample_rows(load_schema("seed")),
                        requests=60, concurrency=4)  # fmt: skip
    assert report.passed and report.errors == 0 and report.requests == 60
    assert 0 < report.p50_ms <= report.p99_ms <= 1000
    assert report.line().startswith("stage test churn: 60 requests, 0 errors, p50 ")
    assert report.line().endswith("(budget 1000 ms): passed")


def test_a_latency_budget_it_cannot_meet_fails(served):
    report = stage_test(RuntimeClient(served.sagemaker), "churn", sample_rows(load_schema("seed")),
                        requests=20, p99_budget_ms=0.001)  # fmt: skip
    assert not report.passed and report.errors == 0
    assert report.line().endswith("failed (p99 over the budget)")


def test_an_endpoint_that_refuses_the_requests_fails_on_errors(served):
    """The rows of another schema (telco's columns) sent to the seed model: the model answers
    400 (its columns are missing), InvokeEndpoint a ModelError."""
    report = stage_test(RuntimeClient(served.sagemaker), "churn", sample_rows(load_schema("telco")))
    assert not report.passed and report.smoke is not None
    assert report.line().startswith("stage test churn: smoke failed: endpoint churn answered 400")
    missing = stage_test(
        RuntimeClient(served.sagemaker), "absent", sample_rows(load_schema("seed"))
    )
    assert not missing.passed and "Endpoint absent of account" in missing.line()


def test_the_command_as_the_codepipeline_runs_it(served, capsys):
    """`python -m pipelines.aws.stage_test` with boto3's client over the twins' wire: one line,
    exit 0 or 1, never a traceback."""
    with EndpointServer(served.session) as server:
        env = dict(os.environ, **server.environment())
        base = [sys.executable, "-m", "pipelines.aws.stage_test", "--endpoint-url", server.url,
                "--region", "us-east-1", "--requests", "30"]  # fmt: skip
        ok = subprocess.run(base + ["--endpoint-name", "churn"], capture_output=True, text=True,
                            cwd=str(ROOT), env=env, timeout=120)  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.count("\n") == 1 and ok.stdout.endswith(": passed\n")
        slow = subprocess.run(base + ["--endpoint-name", "churn", "--p99-ms", "0.001"],
                              capture_output=True, text=True, cwd=str(ROOT), env=env,
                              timeout=120)  # fmt: skip
        assert slow.returncode == 1 and "failed (p99 over the budget)" in slow.stdout
        assert "Traceback" not in slow.stderr
    assert main(["--endpoint-name", "churn", "--schema", "bigml"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("stage test churn: error: schema bigml: feature State") and (
        err.count("\n") == 1
    )


def test_a_stage_in_another_account_is_tested_as_its_release_action_role(aws_env):
    """The release pipeline's TestStaging runs in the release account; a staging endpoint in
    an account of its own is invoked as that account's release action role (STS AssumeRole,
    against the moto server)."""
    import boto3

    from pipelines.aws.stage_test import assumed

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    role = "arn:aws:iam::222222222222:role/churn-release-action"
    acting = assumed(session, role, aws_env["AWS_ENDPOINT_URL"])
    credentials = acting.get_credentials()
    assert credentials.access_key != "testing" and credentials.token
    assert acting.region_name == "us-east-1"
    who = acting.client("sts", endpoint_url=aws_env["AWS_ENDPOINT_URL"]).get_caller_identity()
    assert who["Arn"].startswith("arn:aws:sts::222222222222:assumed-role/churn-release-action/")
