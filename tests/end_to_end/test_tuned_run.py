"""`churn run --tune N`: the template's TuneModel (a TuningStep over pipelines/churn/tuning.py's
ranges) runs in place of TrainModel, and the version registered is its best trial's model."""

import json

from conftest import churn_cli, churn_workspace


def test_a_tuned_run_registers_the_best_trials_model(tmp_path):
    home = tmp_path / "home"
    done = churn_cli(home, "run", "--rows", "3000", "--tune", "4", "--tune-strategy", "Random",
                     "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    steps = {s["name"]: s["status"] for s in result["steps"]}
    assert steps["TuneModel"] == "Succeeded" and "TrainModel" not in steps
    with churn_workspace(home) as ws:
        folder = ws.sagemaker.executions.folder(result["execution_id"])
        tuning = json.loads((folder / "TuneModel.step.json").read_text())["Properties"]
        assert tuning["TrainingJobStatusCounters"]["Completed"] == 4
        best = tuning["BestTrainingJob"]
        objective = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
                     for s in tuning["TrainingJobSummaries"]]  # fmt: skip
        assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(objective)
        client = ws.sagemaker_client
        (package,) = client.list_model_packages(ModelPackageGroupName="churn-seed")[
            "ModelPackageSummaryList"
        ]
        described = client.describe_model_package(ModelPackageName=package["ModelPackageArn"])
        model = described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        assert model.endswith("/%s/output/model.tar.gz" % best["TrainingJobName"])


def test_too_many_trials_is_a_usage_error(tmp_path):
    done = churn_cli(tmp_path / "home", "run", "--tune", "101")
    assert done.returncode == 2
    assert "--tune: '101': a number of trials from 0 to 100" in done.stderr
