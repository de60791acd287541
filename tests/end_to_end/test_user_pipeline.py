"""A pipeline that is not ours, run by the command a user runs: tests/fixtures/userpipeline is
written as AWS's abalone MLOps template writes its model-build pipeline (its own session from a
region; SKLearnProcessor preprocessing; the built-in XGBoost algorithm; a ScriptProcessor
evaluation writing a PropertyFile; a ConditionStep; RegisterModel through a ModelStep, or a
FailStep), and `churn run --module-name userpipeline.pipeline` builds it with the SageMaker SDK
(the code it uploads lands in the local store) and executes it to a registered version."""

import json
import os

from conftest import BANK, ROOT, churn_cli, churn_workspace, needs_shared_data

FIXTURES = ROOT / "tests" / "fixtures"
KWARGS = json.dumps(
    {
        "region": "us-east-1",
        "role": "arn:aws:iam::111111111111:role/UserPipelineRole",
        "default_bucket": "user-pipeline-bucket",
    }
)


def user_run(home, *args):
    env = {"PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    return churn_cli(
        home, "run", "--module-name", "userpipeline.pipeline", "--kwargs", KWARGS, *args, env=env
    )


@needs_shared_data
def test_a_users_abalone_style_pipeline_runs_to_a_registered_version(tmp_path):
    home = tmp_path / "home"
    done = user_run(home, "--param", "InputDataUrl=file://%s" % BANK)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "InputDataUrl" in done.stdout and "staged as s3://" in done.stdout
    assert (
        "registered BankChurnPackageGroup version 1 (PendingManualApproval); approve it with "
        "`churn models approve BankChurnPackageGroup/1`" in done.stdout
    )
    assert done.stderr == "", done.stderr  # nothing tried the network: no warning either

    with churn_workspace(home) as ws:
        (record,) = ws.sagemaker.executions.list()
        steps = {s["StepName"]: s for s in record["Steps"]}
        assert record["PipelineName"] == "BankChurnUserPipeline"
        assert {name: s["StepStatus"] for name, s in steps.items()} == {
            "PreprocessChurnData": "Succeeded",
            "TrainChurnModel": "Succeeded",
            "EvaluateChurnModel": "Succeeded",
            "CheckAucChurnEvaluation": "Succeeded",
            "RegisterChurnModel-RegisterModel": "Succeeded",
        }
        client = ws.sagemaker_client
        (package,) = client.list_model_packages(ModelPackageGroupName="BankChurnPackageGroup")[
            "ModelPackageSummaryList"
        ]
        described = client.describe_model_package(ModelPackageName=package["ModelPackageArn"])
        assert described["ModelApprovalStatus"] == "PendingManualApproval"
        container = described["InferenceSpecification"]["Containers"][0]
        assert container["Image"].endswith("/sagemaker-xgboost:1.7-1")
        # The SDK uploaded the user's scripts into the local store while it built the definition.
        store = ws.store
        model = container["ModelDataUrl"]
        assert model.startswith("s3://user-pipeline-bucket/BankChurn/ChurnTrain/")
        assert store.objects(model)
        report_uri = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        report = ws.store_json(report_uri)
        # The bank table's reference AUC is 0.866 (5-fold CV, ../shared/data/README.md).
        assert report["binary_classification_metrics"]["auc"]["value"] > 0.84


@needs_shared_data
def test_a_users_pipeline_below_its_gate_fails_on_its_fail_step_and_registers_nothing(tmp_path):
    home = tmp_path / "home"
    done = user_run(
        home, "--param", "InputDataUrl=file://%s" % BANK, "--param", "AucThreshold=0.99"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failure: step AucTooLow failed: test AUC below 0.99" in done.stdout
    assert "registered" not in done.stdout


def test_churn_only_options_and_a_missing_module_are_one_line_refusals(tmp_path):
    home = tmp_path / "home"
    done = user_run(home, "--data", "x.csv")
    assert done.returncode != 0
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "--data shapes the churn pipeline; with --module-name the module's get_pipeline() "
            "builds the pipeline (give its arguments with --kwargs and its parameters with --param)"
        )
    )
    done = churn_cli(home, "run", "--module-name", "no.such.module")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "cannot import module 'no.such.module'" in done.stderr
    done = churn_cli(home, "run", "--kwargs", "{}")
    assert "--kwargs gives get_pipeline() arguments to the --module-name pipeline" in done.stderr
