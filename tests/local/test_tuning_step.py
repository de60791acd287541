"""The Tuning step on the local engine, built with the SageMaker SDK as a user builds it
(HyperparameterTuner over the XGBoost algorithm's Estimator, IntegerParameter,
ContinuousParameter, CategoricalParameter, TuningStep, a ModelStep of
`get_top_model_s3_uri(top_k=0, ...)`) and run as `churn run` runs a definition.

What the tests hold the engine to, from AWS's documentation:
- CreateHyperParameterTuningJob, HyperParameterTuningJobConfig, ParameterRanges,
  ResourceLimits, HyperbandStrategyConfig (API reference): the request's rules; Grid takes
  categorical ranges only and no MaxNumberOfTrainingJobs; Hyperband takes no early stopping.
- "Define Hyperparameter Ranges" (developer guide): Logarithmic needs min > 0,
  ReverseLogarithmic 0 <= min < max < 1; values searched in the scaled space.
- "Stop Training Jobs Early": the median rule over earlier trials' running averages.
- "Run a Warm Start Hyperparameter Tuning Job": a child reuses its parents' evaluations.
- DescribeHyperParameterTuningJob / DescribeTrainingJob (TuningJobArn) and
  HyperParameterTrainingJobSummary: BestTrainingJob is the trial of the best objective.
- The XGBoost algorithm's "Tune an XGBoost Model": validation:auc, emitted each round.
"""

import json
import math
import os
import re

import pytest

from pipelines.errors import PipelineError
from pipelines.local.s3 import Store
from pipelines.local.sagemaker.api import SageMakerClient
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.engine import run_definition

from conftest import BANK, needs_shared_data

REGION = "us-east-1"
BUCKET = "tune-bucket"
ROLE = "arn:aws:iam::000000000000:role/TuneRole"
AUC_LINE = re.compile(r"\[[0-9]+\].*validation-auc:(\S+)")


def tuning_definition(strategy="Random", max_jobs=4, parallel=2, early_stopping="Off",
                      ranges=None, static=None, warm_start=None, seed=11,
                      hyperband=None, objective="validation:auc", cache=False):  # fmt: skip
    """The definition of a TuningStep feeding a ModelStep of the best trial's model."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    import boto3
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.tuner import (
        CategoricalParameter,
        ContinuousParameter,
        HyperparameterTuner,
        IntegerParameter,
    )
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import CacheConfig, TuningStep

    boto = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    session = PipelineSession(boto_session=boto, default_bucket=BUCKET)
    image = image_uris.retrieve("xgboost", REGION, "1.7-1")
    estimator = Estimator(image_uri=image, role=ROLE, instance_count=1,
                          instance_type="ml.m5.xlarge", output_path="s3://%s/models" % BUCKET,
                          sagemaker_session=session)  # fmt: skip
    estimator.set_hyperparameters(**(static or dict(num_round=20, objective="binary:logistic")))
    if ranges is None:
        ranges = {
            "eta": ContinuousParameter(0.01, 0.5, scaling_type="Logarithmic"),
            "max_depth": IntegerParameter(2, 6),
            "subsample": ContinuousParameter(0.5, 0.99, scaling_type="ReverseLogarithmic"),
            "grow_policy": CategoricalParameter(["depthwise", "lossguide"]),
        }
    elif ranges == "categorical":
        ranges = {"max_depth": CategoricalParameter(["2", "4"]),
                  "eta": CategoricalParameter(["0.05", "0.2", "0.4"])}  # fmt: skip
    kind = "Maximize" if objective.endswith("auc") else "Minimize"
    tuner = HyperparameterTuner(estimator, objective, ranges, strategy=strategy,
                                objective_type=kind,
                                max_jobs=max_jobs, max_parallel_jobs=parallel,
                                early_stopping_type=early_stopping, random_seed=seed,
                                warm_start_config=warm_start,
                                strategy_config=hyperband)  # fmt: skip
    tune = TuningStep(
        name="Tune",
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H") if cache else None,
        step_args=tuner.fit({
            "train": TrainingInput("s3://%s/data/train/" % BUCKET, content_type="text/csv"),
            "validation": TrainingInput("s3://%s/data/validation/" % BUCKET,
                                        content_type="text/csv"),
        }),
    )  # fmt: skip
    model = Model(image_uri=image, role=ROLE, sagemaker_session=session,
                  model_data=tune.get_top_model_s3_uri(top_k=0, s3_bucket=BUCKET,
                                                       prefix="models"))  # fmt: skip
    best = ModelStep(name="BestModel", step_args=model.create(instance_type="ml.m5.large"))
    pipeline = Pipeline(name="TuneChurn", steps=[tune, best], sagemaker_session=session)
    return json.loads(pipeline.definition())


@pytest.fixture(scope="module")
def bank():
    import pandas as pd

    if not BANK.is_file():
        pytest.skip("../shared/data is not next to this checkout")
    table = pd.read_csv(BANK).drop(columns=["RowNumber", "CustomerId", "Surname"])
    table = pd.get_dummies(table, columns=["Geography", "Gender"], dtype=float)
    label = table.pop("Exited")
    table = pd.concat([label, table], axis=1).astype(float)
    return table.iloc[:1500], table.iloc[1500:2100]  # a slice: each trial takes ~1 s


def stage(home, bank):
    store = Store(home)
    for name, frame in zip(("train", "validation"), bank):
        store.put_bytes("s3://%s/data/%s/%s.csv" % (BUCKET, name, name),
                        frame.to_csv(header=False, index=False).encode())  # fmt: skip
    return store


def run(home, definition):
    record = run_definition(home, definition, "TuneChurn")
    assert record["PipelineExecutionStatus"] == "Succeeded", record.get("FailureReason")
    folder = home / "executions" / record["PipelineExecutionId"]
    tuning = json.loads((folder / "Tune.step.json").read_text())["Properties"]
    model = json.loads((folder / "BestModel-CreateModel.step.json").read_text())["Arguments"]
    return tuning, model


def log_objective(home, summary):
    """The trial's last validation-auc line in its log, what its objective must be."""
    logs = list((home / "executions").glob("*/Tune/%s/algo-1.log" % summary["TrainingJobName"]))
    values = AUC_LINE.findall(logs[0].read_text())
    return float(values[-1])


def check_trials(home, tuning, max_jobs):
    summaries = tuning["TrainingJobSummaries"]
    assert 1 <= len(summaries) <= max_jobs
    counters = tuning["TrainingJobStatusCounters"]
    assert counters["Completed"] + counters["Stopped"] == len(summaries)
    name = tuning["HyperParameterTuningJobName"]
    assert len(name) <= 32
    for s in summaries:  # SageMaker's naming of a tuning job's training jobs
        assert re.fullmatch(re.escape(name) + r"-\d{3}-[0-9a-f]{8}", s["TrainingJobName"])
    # BestTrainingJob: the trial whose log holds the best final validation:auc.
    objectives = {s["TrainingJobName"]: log_objective(home, s) for s in summaries}
    best = tuning["BestTrainingJob"]
    assert best["TrainingJobName"] == max(objectives, key=objectives.get)
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
        max(objectives.values())
    )
    assert summaries[0]["TrainingJobName"] == best["TrainingJobName"]  # best first
    return summaries


def in_range(summaries):
    for s in summaries:
        hps = s["TunedHyperParameters"]
        assert 0.01 <= float(hps["eta"]) <= 0.5
        assert hps["max_depth"] in {"2", "3", "4", "5", "6"}
        assert 0.5 <= float(hps["subsample"]) <= 0.99
        assert hps["grow_policy"] in {"depthwise", "lossguide"}


@needs_shared_data
def test_random_search_samples_the_scaled_ranges_and_the_model_step_takes_the_best(tmp_path, bank):
    store = stage(tmp_path, bank)
    definition = tuning_definition("Random", max_jobs=4, parallel=2, cache=True)
    tuning, model = run(tmp_path, definition)
    summaries = check_trials(tmp_path, tuning, 4)
    assert len(summaries) == 4
    in_range(summaries)
    best = tuning["BestTrainingJob"]["TrainingJobName"]
    uri = model["PrimaryContainer"]["ModelDataUrl"]
    assert uri == "s3://%s/models/%s/output/model.tar.gz" % (BUCKET, best)
    assert store.exists(uri)
    # Each trial is a training job of its own, told the objective as SageMaker tells a
    # built-in algorithm, with the static hyperparameters and its tuned ones.
    name = tuning["HyperParameterTuningJobName"]
    backend = SageMakerBackend(tmp_path)
    try:
        client = SageMakerClient(backend)
        described = client.describe_training_job(TrainingJobName=best)
        job = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        listed = client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, SortBy="FinalObjectiveMetricValue",
            SortOrder="Descending")  # fmt: skip
        jobs = client.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    finally:
        backend.close()
    assert job["BestTrainingJob"]["TrainingJobName"] == best
    assert job["TrainingJobStatusCounters"]["Completed"] == 4
    assert "TrainingJobSummaries" not in job  # the step's property, not the API's member
    assert [s["TrainingJobName"] for s in listed["TrainingJobSummaries"]] == [
        s["TrainingJobName"] for s in summaries
    ]
    assert [j["HyperParameterTuningJobName"] for j in jobs] == [name]
    assert jobs[0]["Strategy"] == "Random"

    # The step cache holds the whole tuning job: a second execution reuses its properties
    # (its best model is there), and ListPipelineExecutionSteps names the tuning job.
    again = run_definition(tmp_path, definition, "TuneChurn")
    entry = next(s for s in again["Steps"] if s["StepName"] == "Tune")
    assert entry["CacheHit"] and entry["Metadata"]["TuningJob"]["Arn"] == job[
        "HyperParameterTuningJobArn"]  # fmt: skip
    backend = SageMakerBackend(tmp_path)
    try:
        steps = SageMakerClient(backend).list_pipeline_execution_steps(
            PipelineExecutionArn=again["PipelineExecutionArn"]
        )["PipelineExecutionSteps"]
    finally:
        backend.close()
    tune_step = next(s for s in steps if s["StepName"] == "Tune")
    assert tune_step["Metadata"]["TuningJob"]["Arn"] == job["HyperParameterTuningJobArn"]
    assert described["TuningJobArn"] == tuning["HyperParameterTuningJobArn"]
    assert described["TuningJobArn"].endswith(  # ARNs spell names in lower case
        "hyper-parameter-tuning-job/" + tuning["HyperParameterTuningJobName"].lower()
    )
    assert described["TrainingJobStatus"] == "Completed"
    assert described["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
    assert described["HyperParameters"]["num_round"] == "20"


def model_members(store, summary):
    import tarfile

    uri = "s3://%s/models/%s/output/model.tar.gz" % (BUCKET, summary["TrainingJobName"])
    with tarfile.open(store.file(uri)) as tar:
        return tar.getnames()


def rounds_in(home, summary):
    logs = list((home / "executions").glob("*/Tune/%s/algo-1.log" % summary["TrainingJobName"]))
    return len(AUC_LINE.findall(logs[0].read_text()))


@needs_shared_data
def test_grid_search_runs_every_categorical_combination_once(tmp_path, bank):
    """Grid: categorical ranges only, MaxNumberOfTrainingJobs left out (the SDK writes none),
    one trial per combination."""
    stage(tmp_path, bank)
    definition = tuning_definition("Grid", max_jobs=None, ranges="categorical")
    limits = definition["Steps"][0]["Arguments"]["HyperParameterTuningJobConfig"]
    assert limits["ResourceLimits"].get("MaxNumberOfTrainingJobs") is None
    tuning, _ = run(tmp_path, definition)
    summaries = check_trials(tmp_path, tuning, 6)
    combinations = sorted(
        (s["TunedHyperParameters"]["max_depth"], s["TunedHyperParameters"]["eta"])
        for s in summaries
    )
    assert combinations == sorted((d, e) for d in ("2", "4") for e in ("0.05", "0.2", "0.4"))


@needs_shared_data
def test_bayesian_search_keeps_to_the_ranges_and_the_limits(tmp_path, bank):
    stage(tmp_path, bank)
    tuning, _ = run(tmp_path, tuning_definition("Bayesian", max_jobs=7, parallel=3))
    summaries = check_trials(tmp_path, tuning, 7)
    assert len(summaries) == 7  # MaxParallelTrainingJobs 3: waves of at most 2 on 2 cores
    in_range(summaries)
    # Logarithmic and ReverseLogarithmic: the values are spread in the scaled space, so
    # Bayesian's proposals are not all in the linear middle of the range.
    assert len({s["TunedHyperParameters"]["eta"] for s in summaries}) == 7


@needs_shared_data
def test_hyperband_stops_trials_at_its_rungs_and_at_max_resource(tmp_path, bank):
    """HyperbandStrategyConfig: no trial runs past MaxResource iterations (here boosting
    rounds, each a validation:auc line), and brackets stop the weaker trials at their rungs."""
    from sagemaker.tuner import HyperbandStrategyConfig, StrategyConfig

    stage(tmp_path, bank)
    config = StrategyConfig(HyperbandStrategyConfig(max_resource=60, min_resource=3))
    static = dict(num_round=500, objective="binary:logistic")
    tuning, _ = run(tmp_path, tuning_definition("Hyperband", max_jobs=6, parallel=2,
                                                static=static, hyperband=config))  # fmt: skip
    summaries = check_trials(tmp_path, tuning, 6)
    for s in summaries:  # every trial reached a rung or MaxResource and was stopped there
        assert s["TrainingJobStatus"] == "Stopped"
        assert rounds_in(tmp_path, s) < 500
        assert model_members(Store(tmp_path), s) == ["xgboost-model"]
    assert min(rounds_in(tmp_path, s) for s in summaries) < 60  # one stopped at a rung


@needs_shared_data
def test_early_stopping_auto_stops_a_trial_worse_than_the_median(tmp_path, bank):
    """One trial at a time, so each has earlier trials to be compared with."""
    stage(tmp_path, bank)
    static = dict(num_round=400, objective="binary:logistic")
    tuning, _ = run(tmp_path, tuning_definition("Random", max_jobs=5, parallel=1,
                                                early_stopping="Auto", static=static))  # fmt: skip
    summaries = check_trials(tmp_path, tuning, 5)
    stopped = [s for s in summaries if s["TrainingJobStatus"] == "Stopped"]
    assert stopped and tuning["TrainingJobStatusCounters"]["Stopped"] == len(stopped)
    store = Store(tmp_path)
    for s in stopped:
        assert rounds_in(tmp_path, s) < 400  # SIGTERM ended it before its last round
        # The algorithm saved the rounds it had (the API reference's StoppingCondition: the
        # built-in algorithms save intermediate results), and the model was uploaded.
        assert model_members(store, s) == ["xgboost-model"]


@needs_shared_data
def test_warm_start_reuses_the_parent_tuning_jobs_trials(tmp_path, bank):
    from sagemaker.tuner import WarmStartConfig, WarmStartTypes

    stage(tmp_path, bank)
    parent, _ = run(tmp_path, tuning_definition("Random", max_jobs=2))
    warm = WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM,
                           parents={parent["HyperParameterTuningJobName"]})  # fmt: skip
    child, _ = run(tmp_path, tuning_definition("Bayesian", max_jobs=2, warm_start=warm, seed=3))
    everyone = parent["TrainingJobSummaries"] + child["TrainingJobSummaries"]
    best = max(everyone, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert child["OverallBestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert len(child["TrainingJobSummaries"]) == 2  # the parent's trials are not run again
    # A parent this home never ran is refused.
    warm = WarmStartConfig(WarmStartTypes.TRANSFER_LEARNING, parents={"no-such-tuning-job"})
    record = run_definition(tmp_path, tuning_definition(warm_start=warm), "TuneChurn")
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "no-such-tuning-job not found" in record["FailureReason"]
    # Either warm start type keeps the parents' objective metric (the API reference's
    # HyperParameterTuningJobWarmStartConfig).
    warm = WarmStartConfig(WarmStartTypes.TRANSFER_LEARNING,
                           parents={parent["HyperParameterTuningJobName"]})  # fmt: skip
    definition = tuning_definition(warm_start=warm, objective="validation:logloss")
    record = run_definition(tmp_path, definition, "TuneChurn")
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "a warm start keeps the parents' objective metric" in record["FailureReason"]


def refused(tmp_path, definition):
    with pytest.raises(PipelineError) as e:
        run_definition(tmp_path, definition, "TuneChurn")
    return str(e.value)


@pytest.mark.fast
@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c, d: c["ParameterRanges"]["ContinuousParameterRanges"][0].update(MinValue="0"),
         "Logarithmic scaling takes a range of values greater than 0"),
        (lambda c, d: c["ParameterRanges"]["ContinuousParameterRanges"][1].update(MaxValue="1"),
         "ReverseLogarithmic scaling takes a range within 0 <= MinValue < MaxValue < 1"),
        (lambda c, d: c.update(Strategy="Grid"),
         "the Grid strategy searches categorical ranges only"),
        (lambda c, d: c.update(Strategy="Hyperband"),
         "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy"),
        (lambda c, d: d["StaticHyperParameters"].update(max_depth="3"),
         "hyperparameters max_depth are both static and tuned"),
        (lambda c, d: c["ResourceLimits"].pop("MaxNumberOfTrainingJobs"),
         "MaxNumberOfTrainingJobs is required unless the Strategy is Grid"),
        (lambda c, d: c["HyperParameterTuningJobObjective"].update(MetricName="validation:x"),
         "the objective metric validation:x is not among the metrics the training jobs emit"),
    ],
)  # fmt: skip
def test_what_create_hyper_parameter_tuning_job_refuses_is_refused_before_the_run(
    tmp_path, change, words
):
    definition = tuning_definition("Bayesian", early_stopping="Auto")
    arguments = definition["Steps"][0]["Arguments"]
    change(arguments["HyperParameterTuningJobConfig"], arguments["TrainingJobDefinition"])
    message = refused(tmp_path, definition)
    assert "step Tune: ValidationException: " in message and words in message
    assert not (tmp_path / "executions").exists() or not any((tmp_path / "executions").iterdir())


@pytest.mark.fast
def test_what_the_local_tuning_job_does_not_apply_is_refused_before_the_run(tmp_path):
    """Never skipped silently (docs/architecture.md, rule 4): a limit the local tuning job
    would not apply stops the run before it starts, naming the step."""
    definition = tuning_definition("Random")
    limits = definition["Steps"][0]["Arguments"]["HyperParameterTuningJobConfig"]
    limits["ResourceLimits"]["MaxRuntimeInSeconds"] = 3600
    message = refused(tmp_path, definition)
    assert "step Tune (type Tuning): it has ResourceLimits.MaxRuntimeInSeconds" in message


@pytest.mark.fast
def test_hyperband_without_max_resource_is_refused_unless_an_epochs_hyperparameter_gives_it(
    tmp_path,
):
    definition = tuning_definition("Hyperband")
    assert "MaxResource is not set" in refused(tmp_path, definition)


@pytest.mark.fast
def test_each_scaling_maps_the_unit_interval_as_documented():
    """ "Define Hyperparameter Ranges": Logarithmic is even in log x, ReverseLogarithmic even in
    log(1 - x); the inverse maps each value back."""
    from pipelines.local.sagemaker.tuning.ranges import Dimension

    log = Dimension("eta", "Continuous", 0.001, 1.0, "Logarithmic")
    assert float(log.value(0.5)) == pytest.approx(math.sqrt(0.001))
    reverse = Dimension("beta", "Continuous", 0.0, 0.999, "ReverseLogarithmic")
    assert float(reverse.value(0.5)) == pytest.approx(1 - math.sqrt(0.001))
    depth = Dimension("depth", "Integer", 1, 100, "Logarithmic")
    assert depth.value(0.5) == "10"
    for d in (log, reverse, depth):
        for u in (0.0, 0.3, 1.0):
            assert d.unit(d.value(u)) == pytest.approx(u, abs=0.02)
    categories = Dimension("policy", "Categorical", values=["a", "b", "c"])
    assert [categories.value(u) for u in (0.0, 0.34, 0.99, 1.0)] == ["a", "b", "c", "c"]


@pytest.mark.fast
def test_bayesian_search_finds_a_better_optimum_than_random_search_with_the_same_budget():
    """A surrogate with expected improvement, seeded by RandomSeed: the same seed gives the
    same proposals, and on a smooth function it beats random points of the same seed."""
    from pipelines.local.sagemaker.tuning.ranges import Dimension
    from pipelines.local.sagemaker.tuning.strategies import BayesianSearch, RandomSearch

    dims = [Dimension("x", "Continuous", 0, 1, "Linear"), Dimension("y", "Continuous", 0, 1)]

    def score(p):
        return -((p[0] - 0.73) ** 2) - (p[1] - 0.21) ** 2

    def best_of(kind, seed):
        search, scored = kind(dims, seed), []
        for _ in range(20):
            point = search.propose(scored, [])
            scored.append((point, score(point)))
        return max(v for _, v in scored), [p for p, _ in scored]

    bayes, points = best_of(BayesianSearch, 5)
    assert best_of(BayesianSearch, 5)[1] == points  # reproducible from the seed
    assert bayes > -0.002
    assert bayes > best_of(RandomSearch, 5)[0]


@pytest.mark.fast
def test_the_median_rule_and_hyperband_rungs():
    from pipelines.local.sagemaker.tuning.stopping import HyperbandRule, MedianRule

    rule = MedianRule()
    assert not rule.stops(1, [0.5])  # no earlier trial: nothing to compare with
    rule.finished(1, [0.6, 0.7, 0.8])
    rule.finished(2, [0.7, 0.8, 0.9])
    # At iteration 2 the running averages are 0.65 and 0.75: their median is 0.7.
    assert rule.stops(3, [0.6, 0.69]) and not rule.stops(4, [0.6, 0.71])
    band = HyperbandRule(1, 27)  # s_max 3: rungs 1, 3, 9 in bracket 0; none in bracket 3
    assert band.rung_levels(0) == [1, 3, 9] and band.rung_levels(3) == []
    assert not band.stops(0, [0.8])  # the first at a rung goes on
    assert band.stops(4, [0.7])  # bracket 0 again, below the best third at rung 1
    assert band.stops(3, [0.1] * 27)  # MaxResource reached


@needs_shared_data
def test_a_tuning_job_created_through_the_client_runs_and_refuses_what_the_api_refuses(
    tmp_path, bank
):
    """CreateHyperParameterTuningJob outside a pipeline: the request of the step's Arguments
    with a name; DescribeHyperParameterTuningJob once the job thread has run it."""
    from botocore.exceptions import ClientError

    stage(tmp_path, bank)
    request = tuning_definition("Random", max_jobs=2)["Steps"][0]["Arguments"]
    backend = SageMakerBackend(tmp_path)
    try:
        client = SageMakerClient(backend)
        bad = json.loads(json.dumps(request))
        bad["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"][0][
            "ScalingType"] = "ReverseLogarithmic"  # fmt: skip
        with pytest.raises(ClientError) as refused:
            client.create_hyper_parameter_tuning_job(HyperParameterTuningJobName="bad", **bad)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "ReverseLogarithmic scaling is for continuous ranges only" in str(refused.value)
        answer = client.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="by-hand", **request
        )
        assert answer["HyperParameterTuningJobArn"].endswith("hyper-parameter-tuning-job/by-hand")
        client.wait_for_jobs()
        job = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="by-hand")
        trials = client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="by-hand"
        )["TrainingJobSummaries"]
        trial = client.describe_training_job(TrainingJobName=trials[0]["TrainingJobName"])
    finally:
        backend.close()
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert len(trials) == 2 and trials[0]["TrainingJobName"].startswith("by-hand-00")
    assert trial["TuningJobArn"] == job["HyperParameterTuningJobArn"]
    assert Store(tmp_path).exists(trial["ModelArtifacts"]["S3ModelArtifacts"])


def test_the_cold_runner_sends_sigterm_when_a_launch_stop_file_appears(tmp_path):
    """StopTrainingJob's signal, as the runner gives it to a trial a tuning job stops: the
    process gets SIGTERM (its handler runs), and the runner names it in last_stopped."""
    import sys
    import threading

    from pipelines.local.sagemaker.jobs.container import Launch, base_env
    from pipelines.local.sagemaker.runners import ColdRunner

    code = ("import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: (print('terminated', flush=True), "
            "sys.exit(0)))\n"
            "for i in range(600):\n    print(i, flush=True)\n    time.sleep(0.01)\n")  # fmt: skip
    log, stop = tmp_path / "algo-1.log", tmp_path / "algo-1.stop"
    launch = Launch("algo-1", [sys.executable, "-c", code], base_env(1), tmp_path, log, stop)
    threading.Timer(0.5, stop.touch).start()
    runner = ColdRunner()
    [(host, returncode, _)] = runner.run([launch], timeout=30)
    assert (host, returncode) == ("algo-1", 0)
    assert log.read_text().splitlines()[-1] == "terminated"
    assert runner.last_stopped == {"algo-1"}


@needs_shared_data
def test_a_failed_trial_does_not_fail_the_tuning_job_unless_every_trial_fails(tmp_path, bank):
    """TrainingJobStatusCounters: a trial failing on a client error (the algorithm refuses
    max_depth -1) counts as NonRetryableError; the tuning job completes with the others, and
    fails only when no trial produced the objective metric."""
    from sagemaker.tuner import CategoricalParameter

    stage(tmp_path, bank)
    some = {"max_depth": CategoricalParameter(["3", "-1"])}
    tuning, _ = run(tmp_path, tuning_definition("Grid", max_jobs=None, ranges=some))
    assert tuning["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    assert tuning["ObjectiveStatusCounters"] == {"Succeeded": 1, "Pending": 0, "Failed": 1}
    failed = tuning["TrainingJobSummaries"][-1]  # trials without an objective come last
    assert failed["TrainingJobStatus"] == "Failed"
    assert "max_depth" in failed["FailureReason"]
    assert tuning["BestTrainingJob"]["TunedHyperParameters"] == {"max_depth": "3"}

    every = {"max_depth": CategoricalParameter(["-1", "-2"])}
    record = run_definition(tmp_path, tuning_definition("Grid", max_jobs=None, ranges=every),
                            "TuneChurn")  # fmt: skip
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "All training jobs failed or produced no objective metric" in record["FailureReason"]


@pytest.mark.fast
def test_a_tuning_job_is_named_within_the_apis_32_letters_digits_and_hyphens():
    from types import SimpleNamespace

    from pipelines.local.sagemaker.steps import tuning_job_name

    name = tuning_job_name(SimpleNamespace(id="0123456789ab"), {"Name": "Tune_The_Churn_Model"})
    assert name == "0123456789ab-Tune-The-Churn-Mode"
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}", name)


QUADRATIC = """import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("-x", type=float)  # the toolkit passes a one-letter name as -x
parser.add_argument("--shape", default="bowl")
args, _ = parser.parse_known_args()
for epoch in range(4):
    print("epoch %d loss=%.6f" % (epoch, (args.x - 0.3) ** 2 + 1.0 / (epoch + 1)))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "x.txt"), "w") as f:
    f.write(str(args.x))
"""


def test_a_script_mode_tuning_job_minimises_its_metric_definitions_objective(tmp_path):
    """Script mode: the objective is read with the request's MetricDefinitions (one line per
    epoch), Minimize ranks the lowest first, and Bayesian search on a bowl whose bottom is at
    x = 0.3 gets close to it; CreateHyperParameterTuningJob through the client."""
    import io
    import tarfile

    store = Store(tmp_path)
    code = io.BytesIO()
    with tarfile.open(fileobj=code, mode="w:gz") as tar:
        data = QUADRATIC.encode()
        info = tarfile.TarInfo("quadratic.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    store.put_bytes("s3://%s/code/quadratic.tar.gz" % BUCKET, code.getvalue())
    request = {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian", "RandomSeed": 4,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 9, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {"ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "-2", "MaxValue": "2", "ScalingType": "Linear"}]},
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                                 "sagemaker-scikit-learn:1.2-1-cpu-py3",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
            },
            "StaticHyperParameters": {
                "sagemaker_program": '"quadratic.py"',
                "sagemaker_submit_directory": '"s3://%s/code/quadratic.tar.gz"' % BUCKET,
            },
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://%s/bowl" % BUCKET},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                               "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }  # fmt: skip
    backend = SageMakerBackend(tmp_path)
    try:
        client = SageMakerClient(backend)
        client.create_hyper_parameter_tuning_job(HyperParameterTuningJobName="bowl", **request)
        client.wait_for_jobs()
        job = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="bowl")
        trials = client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="bowl", SortBy="FinalObjectiveMetricValue",
            SortOrder="Ascending", MaxResults=100)["TrainingJobSummaries"]  # fmt: skip
        described = client.describe_training_job(TrainingJobName=trials[0]["TrainingJobName"])
    finally:
        backend.close()
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert len(trials) == 9
    losses = {
        t["TrainingJobName"]: (float(t["TunedHyperParameters"]["x"]) - 0.3) ** 2 + 0.25
        for t in trials  # the last epoch's loss, as the script prints it
    }
    best = job["BestTrainingJob"]
    assert best["TrainingJobName"] == trials[0]["TrainingJobName"]
    # The best is a trial of the lowest loss (the log prints 6 decimals: near ties are equal).
    assert losses[best["TrainingJobName"]] == pytest.approx(min(losses.values()), abs=1e-5)
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
        min(losses.values()), abs=1e-5
    )
    assert abs(float(best["TunedHyperParameters"]["x"]) - 0.3) < 0.15
    # A script-mode trial is not told the objective (SageMaker tells built-in algorithms).
    assert "_tuning_objective_metric" not in described["HyperParameters"]
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith(
        "/bowl/%s/output/model.tar.gz" % best["TrainingJobName"]
    )


@pytest.mark.fast
def test_random_search_is_uniform_in_the_scaled_space_and_reproducible_from_its_seed():
    """Logarithmic: the median of random values is the range's geometric middle, not its
    arithmetic one; the same RandomSeed proposes the same values."""
    import statistics

    from pipelines.local.sagemaker.tuning.ranges import Dimension, point_values
    from pipelines.local.sagemaker.tuning.strategies import RandomSearch

    dims = [Dimension("eta", "Continuous", 0.001, 1.0, "Logarithmic")]

    def values(seed):
        search = RandomSearch(dims, seed)
        return [float(point_values(dims, search.propose([], []))["eta"]) for _ in range(2000)]

    etas = values(7)
    assert statistics.median(etas) == pytest.approx(math.sqrt(0.001), rel=0.15)
    assert values(7) == etas and values(8) != etas
