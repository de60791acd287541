"""The pipeline definition JSON is the contract (DESIGN rule 2): assert on it, not on SDK objects."""

import collections
import json
import re
import subprocess
import sys

import pytest

from pipelines.churn.bundles import CodeBundle, deterministic_tarball
from pipelines.churn.tuning import SEARCH_SPACE
from pipelines.cli.template import run_command
from pipelines.get_pipeline_definition import main

from conftest import ROOT

KWARGS = json.dumps({"region": "eu-west-1", "default_bucket": "review-bucket"})
BATCH_KWARGS = json.dumps(
    {
        "region": "eu-west-1",
        "default_bucket": "review-bucket",
        "batch_input": "s3://review-bucket/churn/to-score/",
    }
)
FEATURE_KWARGS = json.dumps(
    dict(json.loads(KWARGS), schema="bank", ingest_features=True, train_from_feature_store=True)
)
KEY = "arn:aws:kms:eu-west-1:111122223333:key/"
SECURE_KWARGS = json.dumps(
    dict(
        json.loads(BATCH_KWARGS),
        volume_kms_key=KEY + "volumes",
        output_kms_key=KEY + "outputs",
        subnets=["subnet-a", "subnet-b"],
        security_group_ids=["sg-jobs"],
        network_isolation=True,
        encrypt_inter_container_traffic=True,
        spot_training=True,
    )
)
BATCH_PARAMETERS = {
    "BatchInputUrl",
    "BatchOutputUrl",
    "BatchJoinSource",
    "TransformInstanceType",
    "TransformInstanceCount",
}
STEP_TYPES = {
    "ValidateShards": "Processing",
    "ValidateData": "Processing",
    "BaselineShards": "Processing",
    "BaselineData": "Processing",
    "PreprocessShards": "Processing",
    "PreprocessData": "Processing",
    "PreprocessApply": "Processing",
    "TrainModel": "Training",
    "EvaluateShards": "Processing",
    "EvaluateModel": "Processing",
    "CheckDataChecks": "Condition",
    "CheckAucThreshold": "Condition",
    "RegisterModel-RegisterModel": "RegisterModel",
    "AucTooLow": "Fail",
    "UntrustedData": "Fail",
}

# Runs each command line in turn, every socket connection refused except to loopback, with no
# credentials; one process pays for the SDK's import once. Prints each one's code and output.
GUARDED = """
import contextlib, io, json, sys
attempts = []
def guard(event, args):
    # Libraries may swallow the refusal (the SDK's telemetry does), so record it as well.
    if event in ("socket.connect", "socket.getaddrinfo"):
        address = args[1] if event == "socket.connect" else args[0]
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(repr(address))
            raise OSError("network access attempted: %r" % (address,))
sys.addaudithook(guard)
from pipelines.get_pipeline_definition import main
from pipelines.cli.template import run_command
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_command(main, argv, "get-pipeline-definition")
    results.append([code, out.getvalue(), err.getvalue()])
sys.stdout.write(json.dumps({"results": results, "attempts": attempts}))
"""


def offline_env():
    """No credentials, no endpoint, no instance metadata: nothing to talk to."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        }
    )
    return env


Built = collections.namedtuple("Built", "returncode stdout stderr")


def get_definitions(**commands):
    """{name: Built} for get-pipeline-definition command lines (--module-name
    pipelines.churn.pipeline and a --kwargs JSON, or a list of arguments), run in one offline
    process that must neither touch the network nor write anything to its own stderr (the SDK's
    deprecation warnings and config chatter must not reach the terminal)."""
    argvs = [
        argv
        if isinstance(argv, list)
        else ["--module-name", "pipelines.churn.pipeline", "--kwargs", argv]
        for argv in commands.values()
    ]
    proc = subprocess.run(
        [sys.executable, "-c", GUARDED, json.dumps(argvs)],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=offline_env(),
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    reply = json.loads(proc.stdout)
    assert reply["attempts"] == [], reply["attempts"]
    return {name: Built(*result) for name, result in zip(commands, reply["results"])}


def user_schema_command(folder):
    schema = json.loads((ROOT / "processing/schemas/seed.json").read_text())
    (folder / "mine.json").write_text(json.dumps(schema))
    kwargs = json.dumps(
        {
            "region": "eu-west-1",
            "default_bucket": "review-bucket",
            "schema": str(folder / "mine.json"),
            "AucThreshold": 0.8,
        }
    )
    return ["-n", "pipelines.churn.pipeline", "--kwargs", kwargs, "-f", str(folder / "out.json")]


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("user-schema")


@pytest.fixture(scope="module")
def built(user_folder):
    """Every definition the tests read, built in one process."""
    return get_definitions(
        plain=KWARGS,
        batch=BATCH_KWARGS,
        feature=FEATURE_KWARGS,
        secure=SECURE_KWARGS,
        feature_isolated=json.dumps(dict(json.loads(FEATURE_KWARGS), network_isolation=True)),
        no_id=json.dumps(dict(json.loads(KWARGS), schema="bigml", ingest_features=True)),
        user_schema=user_schema_command(user_folder),
        tuned=json.dumps(dict(json.loads(KWARGS), tuning_trials=20, tuning_strategy="Random")),
        too_many_trials=json.dumps(dict(json.loads(KWARGS), tuning_trials=101)),
        hyperband=json.dumps(
            dict(json.loads(KWARGS), tuning_trials=9, tuning_strategy="Hyperband")
        ),
    )


def succeeded(build):
    assert build.returncode == 0 and build.stderr == "", build.stderr
    return build.stdout


@pytest.fixture(scope="module")
def definition(built):
    return succeeded(built["plain"])


@pytest.fixture(scope="module")
def batch_definition(built):
    return succeeded(built["batch"])


def all_steps(definition):
    """{name: step} of every step, those in (nested) condition branches too."""

    def walk(steps):
        for step in steps:
            yield step
            if step["Type"] == "Condition":
                yield from walk(step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"])

    return {s["Name"]: s for s in walk(definition["Steps"])}


def test_the_steps_with_the_right_types(definition):
    steps = all_steps(json.loads(definition))
    assert {name: s["Type"] for name, s in steps.items()} == STEP_TYPES


def test_parameters_and_their_defaults(definition):
    parameters = {p["Name"]: p for p in json.loads(definition)["Parameters"]}
    for name in (
        "InputDataUrl",
        "ProcessingInstanceType",
        "ProcessingInstanceCount",
        "TrainingInstanceType",
        "TrainingInstanceCount",
        "ModelApprovalStatus",
        "AucThreshold",
        "MaxDepth",
        "Eta",
        "NumRound",
    ):
        assert name in parameters
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert parameters["AucThreshold"]["Type"] == "Float"
    assert parameters["TrainingInstanceCount"]["Type"] == "Integer"
    assert parameters["InputDataUrl"]["DefaultValue"] == "s3://review-bucket/churn/data/"
    assert (parameters["MaxFeatureAuc"]["Type"], parameters["MaxFeatureAuc"]["DefaultValue"]) == (
        "Float",
        0.99,
    )
    assert parameters["MaxTrainTestOverlap"]["DefaultValue"] == 0.05


def test_every_reference_points_at_an_existing_step_output(definition, batch_definition):
    check_references(definition)
    check_references(batch_definition)


def check_references(definition):
    parsed = json.loads(definition)
    steps = all_steps(parsed)
    parameters = {p["Name"] for p in parsed["Parameters"]}
    references = re.findall(r'"Get": "([^"]+)"', definition)
    assert len(references) > 20
    for ref in references:
        if ref.startswith("Parameters."):
            assert ref.split(".", 1)[1] in parameters, ref
        elif ref.startswith("Steps."):
            name = ref.split(".")[1]
            assert name in steps, ref
            output = re.search(r"Outputs\['([^']+)'\]", ref)
            if output:
                outputs = steps[name]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
                assert output.group(1) in [o["OutputName"] for o in outputs], ref
            if ".PropertyFiles." in ref:
                files = [f["PropertyFileName"] for f in steps[name]["PropertyFiles"]]
                assert ref.rsplit(".", 1)[1] in files, ref
            if ref.endswith(".ModelName"):  # DescribeModel's field: only a Model step has it
                assert steps[name]["Type"] == "Model", ref
        else:
            assert ref.startswith("Execution."), ref


def test_tuning_trains_through_a_tuning_step_whose_best_model_is_evaluated_and_registered(built):
    tuned = succeeded(built["tuned"])
    check_references(tuned)
    steps = all_steps(json.loads(tuned))
    assert "TrainModel" not in steps and steps["TuneModel"]["Type"] == "Tuning"
    config = steps["TuneModel"]["Arguments"]["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Random"
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2}
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "validation:auc",
    }
    ranges = config["ParameterRanges"]
    tuned_names = {r["Name"] for kind in ranges.values() for r in kind}
    assert tuned_names == set(SEARCH_SPACE)
    static = steps["TuneModel"]["Arguments"]["TrainingJobDefinition"]["StaticHyperParameters"]
    assert not tuned_names & set(static)  # a tuned hyperparameter is never also static
    assert static["sagemaker_job_name"] == '"churn-tune"'  # no timestamp: the cache key repeats
    best = {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                "review-bucket",
                "churn/models",
                {"Get": "Steps.TuneModel.TrainingJobSummaries[0].TrainingJobName"},
                "output/model.tar.gz",
            ],
        }
    }
    for name in ("EvaluateShards", "EvaluateModel"):
        evaluate = steps[name]["Arguments"]["ProcessingInputs"]
        assert [i["S3Input"]["S3Uri"] for i in evaluate if i["InputName"] == "model"] == [best]
    register = steps["RegisterModel-RegisterModel"]["Arguments"]["InferenceSpecification"][
        "Containers"
    ]
    assert register[0]["ModelDataUrl"] == best
    # Hyperband gives each trial its rounds itself: num_round is fixed at MaxResource.
    hyperband = all_steps(json.loads(succeeded(built["hyperband"])))["TuneModel"]["Arguments"]
    config = hyperband["HyperParameterTuningJobConfig"]
    assert config["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 20, "MaxResource": 600}
    }
    searched = {r["Name"] for kind in config["ParameterRanges"].values() for r in kind}
    assert searched == set(SEARCH_SPACE) - {"num_round"}
    assert hyperband["TrainingJobDefinition"]["StaticHyperParameters"]["num_round"] == '"600"'
    failed = built["too_many_trials"]
    assert failed.returncode != 0
    assert "tuning_trials 101: 0 (no tuning) to 100" in failed.stderr


def test_without_batch_input_there_is_no_batch_scoring(definition):
    parsed = json.loads(definition)
    assert not BATCH_PARAMETERS & {p["Name"] for p in parsed["Parameters"]}
    assert not {"Model", "Transform"} & {s["Type"] for s in all_steps(parsed).values()}


def test_batch_input_adds_model_and_transform_after_registering(definition, batch_definition):
    parsed = json.loads(batch_definition)
    steps = all_steps(parsed)
    assert {n: s["Type"] for n, s in steps.items()} == dict(
        STEP_TYPES, **{"BatchModel-CreateModel": "Model", "BatchTransform": "Transform"}
    )
    # Only a model that passed the AUC gate scores, and only once it is registered.
    check = steps["CheckAucThreshold"]["Arguments"]
    assert [s["Name"] for s in check["IfSteps"]] == [
        "RegisterModel-RegisterModel",
        "BatchModel-CreateModel",
        "BatchTransform",
    ]
    assert [s["Name"] for s in check["ElseSteps"]] == ["AucTooLow"]
    assert steps["BatchModel-CreateModel"]["DependsOn"] == ["RegisterModel-RegisterModel"]
    # The same serving container as the registered version: image, artifact, inference code.
    container = steps["BatchModel-CreateModel"]["Arguments"]["PrimaryContainer"]
    registered = steps["RegisterModel-RegisterModel"]["Arguments"]["InferenceSpecification"][
        "Containers"
    ][0]
    assert container == registered
    assert container["ModelDataUrl"] == {"Get": "Steps.TrainModel.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert re.fullmatch(
        r"s3://review-bucket/churn/code/inference/[0-9a-f]{16}/sourcedir\.tar\.gz",
        container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"],
    )

    transform = steps["BatchTransform"]["Arguments"]
    assert transform["ModelName"] == {"Get": "Steps.BatchModel-CreateModel.ModelName"}
    assert transform["TransformInput"] == {
        "ContentType": "text/csv",
        "SplitType": "Line",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": {"Get": "Parameters.BatchInputUrl"}}
        },
    }
    assert transform["BatchStrategy"] == "MultiRecord" and transform["MaxPayloadInMB"] == 6
    assert transform["TransformOutput"] == {
        "Accept": "text/csv",
        "AssembleWith": "Line",
        "S3OutputPath": {
            "Std:Join": {
                "On": "/",
                "Values": [
                    {"Get": "Parameters.BatchOutputUrl"},
                    {"Get": "Execution.PipelineExecutionId"},
                ],
            }
        },
    }
    assert transform["DataProcessing"] == {"JoinSource": {"Get": "Parameters.BatchJoinSource"}}
    assert transform["TransformResources"] == {
        "InstanceCount": {"Get": "Parameters.TransformInstanceCount"},
        "InstanceType": {"Get": "Parameters.TransformInstanceType"},
    }
    assert "CacheConfig" not in steps["BatchTransform"]  # a new model per execution: never hits

    parameters = {p["Name"]: p for p in parsed["Parameters"]}
    assert parameters["BatchInputUrl"]["DefaultValue"] == "s3://review-bucket/churn/to-score/"
    assert parameters["BatchOutputUrl"]["DefaultValue"] == "s3://review-bucket/churn/batch/output"
    assert parameters["BatchJoinSource"] == {
        "Name": "BatchJoinSource",
        "Type": "String",
        "DefaultValue": "None",
        "EnumValues": ["None", "Input"],
    }
    assert parameters["TransformInstanceCount"]["Type"] == "Integer"
    # Everything else is the definition without batch scoring, unchanged.
    plain = json.loads(definition)
    assert [p for p in parsed["Parameters"] if p["Name"] not in BATCH_PARAMETERS] == plain[
        "Parameters"
    ]
    without = json.loads(json.dumps(parsed["Steps"]))
    nested = without[-1]["Arguments"]["IfSteps"][0]["Arguments"]
    nested["IfSteps"] = nested["IfSteps"][:1]
    assert without == plain["Steps"]


def test_wiring_of_the_job_steps(definition):
    steps = all_steps(json.loads(definition))
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]["Get"]
        for c in steps["TrainModel"]["Arguments"]["InputDataConfig"]
    }
    output = "Steps.%s.ProcessingOutputConfig.Outputs['%s'].S3Output.S3Uri"
    assert channels == {
        "train": output % ("PreprocessApply", "train"),
        "validation": output % ("PreprocessApply", "validation"),
        "preprocessing": output % ("PreprocessData", "preprocessing"),
    }
    assert steps["PreprocessShards"]["DependsOn"] == ["ValidateData"]
    # Scale-out: each training host downloads only its part of the train split, of which
    # each PreprocessApply instance writes one file per host; the merges run once.
    distribution = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        for c in steps["TrainModel"]["Arguments"]["InputDataConfig"]
    }
    assert distribution == {
        "train": "ShardedByS3Key",
        "validation": "FullyReplicated",
        "preprocessing": "FullyReplicated",
    }
    preprocess = steps["PreprocessApply"]["Arguments"]
    assert preprocess["AppSpecification"]["ContainerArguments"][-6:] == [
        "--apply",
        "/opt/ml/processing/preprocessing",
        "--resource-config",
        "/opt/ml/config/resourceconfig.json",
        "--train-parts",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.TrainingInstanceCount"}]}},
    ]
    processing = [n for n, t in STEP_TYPES.items() if t == "Processing"]
    counts = {
        name: steps[name]["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
        for name in processing
    }
    assert counts == {
        "ValidateShards": {"Get": "Parameters.ProcessingInstanceCount"},
        "ValidateData": 1,
        "BaselineShards": {"Get": "Parameters.ProcessingInstanceCount"},
        "BaselineData": 1,
        "PreprocessShards": {"Get": "Parameters.ProcessingInstanceCount"},
        "PreprocessData": 1,
        "PreprocessApply": {"Get": "Parameters.ProcessingInstanceCount"},
        "EvaluateShards": {"Get": "Parameters.ProcessingInstanceCount"},
        "EvaluateModel": 1,
    }
    # The shard steps divide the table's objects; each merge reads every shard's result.
    data = {
        name: {
            i["InputName"]: (i["S3Input"]["S3Uri"], i["S3Input"]["S3DataDistributionType"])
            for i in steps[name]["Arguments"]["ProcessingInputs"]
            if i["InputName"] != "code"
        }
        for name in processing
    }
    table = {"Get": "Parameters.InputDataUrl"}
    for job in ("Validate", "Baseline", "Preprocess"):
        shards = "Steps.%sShards.ProcessingOutputConfig.Outputs['shards'].S3Output.S3Uri" % job
        assert data[job + "Shards"] == {"data": (table, "ShardedByS3Key")}
        assert data[job + "Data"] == {"shards": ({"Get": shards}, "FullyReplicated")}
        arguments = steps[job + "Shards"]["Arguments"]["AppSpecification"]["ContainerArguments"]
        assert arguments[-2:] == ["--shard-of", "/opt/ml/config/resourceconfig.json"]
        arguments = steps[job + "Data"]["Arguments"]["AppSpecification"]["ContainerArguments"]
        assert arguments[:2] == ["--merge", "/opt/ml/processing/shards"]
    # PreprocessApply replays preprocessing.json on each instance's share of the table.
    spec = {"Get": output % ("PreprocessData", "preprocessing")}
    assert data["PreprocessApply"] == {
        "data": (table, "ShardedByS3Key"),
        "preprocessing": (spec, "FullyReplicated"),
    }
    # Evaluation too: each instance scores its parts of the test split (each PreprocessApply
    # instance writes one), and EvaluateModel sums their counts.
    model = ({"Get": "Steps.TrainModel.ModelArtifacts.S3ModelArtifacts"}, "FullyReplicated")
    test = {"Get": output % ("PreprocessApply", "test")}
    shards = "Steps.EvaluateShards.ProcessingOutputConfig.Outputs['shards'].S3Output.S3Uri"
    assert data["EvaluateShards"] == {"model": model, "test": (test, "ShardedByS3Key")}
    assert data["EvaluateModel"] == {"model": model, "shards": ({"Get": shards}, "FullyReplicated")}
    arguments = steps["EvaluateShards"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[-2:] == ["--shard-of", "/opt/ml/config/resourceconfig.json"]
    arguments = steps["EvaluateModel"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[:2] == ["--merge", "/opt/ml/processing/shards"]
    condition = steps["CheckAucThreshold"]["Arguments"]["Conditions"][0]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert (
        condition["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    )
    assert condition["RightValue"] == {"Get": "Parameters.AucThreshold"}
    message = json.dumps(steps["AucTooLow"]["Arguments"]["ErrorMessage"])
    assert (
        "binary_classification_metrics.auc.value" in message
        and "Parameters.AucThreshold" in message
    )
    # The data checks come first: a model of data that cannot be trusted never reaches the AUC
    # gate. Their thresholds are parameters that EvaluateModel judges.
    parsed = json.loads(definition)
    assert parsed["Steps"][-1]["Name"] == "CheckDataChecks"
    data = steps["CheckDataChecks"]["Arguments"]
    assert data["Conditions"][0]["Type"] == "Equals"
    assert data["Conditions"][0]["LeftValue"]["Std:JsonGet"]["Path"] == "data_checks.failed"
    assert data["Conditions"][0]["RightValue"] == 0
    assert [s["Name"] for s in data["IfSteps"]] == ["CheckAucThreshold"]
    assert [s["Name"] for s in data["ElseSteps"]] == ["UntrustedData"]
    assert "data_checks.reason" in json.dumps(steps["UntrustedData"]["Arguments"]["ErrorMessage"])
    arguments = steps["EvaluateModel"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[-4:] == [
        "--max-feature-auc",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.MaxFeatureAuc"}]}},
        "--max-train-test-overlap",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.MaxTrainTestOverlap"}]}},
    ]
    register = steps["RegisterModel-RegisterModel"]["Arguments"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert {"text/csv", "application/json"} <= set(
        register["InferenceSpecification"]["SupportedContentTypes"]
    )
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert "sagemaker-xgboost:3.0-5" in container["Image"]
    assert "evaluation.json" in json.dumps(register["ModelMetrics"]["ModelQuality"]["Statistics"])
    drift = register["DriftCheckBaselines"]["ModelDataQuality"]
    for name, key in (("statistics.json", "Statistics"), ("constraints.json", "Constraints")):
        values = drift[key]["S3Uri"]["Std:Join"]["Values"]
        assert values == [
            {"Get": "Steps.BaselineData.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"},
            name,
        ]
    assert steps["BaselineShards"]["DependsOn"] == ["ValidateData"]
    training = steps["TrainModel"]["Arguments"]
    assert training["HyperParameters"]["sagemaker_program"] == '"train.py"'
    assert training["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "validation:auc"
    for name in processing + ["TrainModel"]:
        assert steps[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
        types = {t for p in steps[name]["RetryPolicies"] for t in p["ExceptionType"]}
        assert {"Step.THROTTLING", "SageMaker.CAPACITY_ERROR"} <= types


@pytest.fixture(scope="module")
def rebuilt():
    """The same definitions from a second process: no hash seed or clock may change a byte."""
    return get_definitions(plain=KWARGS, feature=FEATURE_KWARGS)


def test_code_keys_are_content_hashes_and_the_json_is_stable(definition, rebuilt):
    assert succeeded(rebuilt["plain"]) == definition
    keys = set(re.findall(r"s3://review-bucket/churn/code/(\w+)/([0-9a-f]{16})/", definition))
    assert {k for k, _ in keys} == {"processing", "evaluation", "training", "inference"}


@pytest.mark.fast
def test_bundle_digest_follows_content_only():
    a = CodeBundle("x", {"a.py": b"print(1)\n", "b.py": b"2"}, packed=True)
    same = CodeBundle("x", {"b.py": b"2", "a.py": b"print(1)\n"}, packed=True)
    changed = CodeBundle("x", {"a.py": b"print(2)\n", "b.py": b"2"}, packed=True)
    assert a.digest == same.digest != changed.digest
    assert a.objects() == same.objects()  # the tarball bytes are reproducible too
    assert deterministic_tarball({"a": b"1"}) == deterministic_tarball({"a": b"1"})


def test_definition_file_and_user_schema(built, user_folder):
    assert succeeded(built["user_schema"]) == ""  # with -f the definition goes to the file
    out = user_folder / "out.json"
    parsed = json.loads(out.read_text())
    steps = all_steps(parsed)
    assert (
        "/opt/ml/processing/input/code/schemas/user/mine.json"
        in steps["ValidateData"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    )
    threshold = [p for p in parsed["Parameters"] if p["Name"] == "AucThreshold"][0]
    assert threshold["DefaultValue"] == 0.8


@pytest.mark.fast
@pytest.mark.parametrize(
    "args, env_region, message",
    [
        (
            ["-n", "pipelines.churn.pipeline", "--kwargs", "{not json"],
            "eu-west-1",
            "--kwargs is not valid JSON",
        ),
        (
            ["-n", "pipelines.nope", "--kwargs", KWARGS],
            "eu-west-1",
            "cannot import module 'pipelines.nope'",
        ),
        (
            ["-n", "pipelines.churn.pipeline", "--kwargs", '{"default_bucket": "b"}'],
            None,
            'no AWS region: pass "region" in --kwargs or set AWS_DEFAULT_REGION',
        ),
        (
            ["-n", "pipelines.churn.pipeline", "--kwargs", '{"region": "eu-west-1"}'],
            None,
            "no S3 bucket",
        ),
        (
            [
                "-n",
                "pipelines.churn.pipeline",
                "--kwargs",
                '{"region": "eu-west-1", "default_bucket": "b", "MaxDeep": 3}',
            ],
            None,
            "unknown arguments MaxDeep",
        ),
        (
            [
                "-n",
                "pipelines.churn.pipeline",
                "--kwargs",
                '{"region": "eu-west-1", "default_bucket": "b", "batch_input": "b/to-score"}',
            ],
            None,
            "batch_input 'b/to-score': give the s3:// URI of the CSV files to score",
        ),
        (
            [
                "-n",
                "pipelines.churn.pipeline",
                "--kwargs",
                '{"region": "eu-west-1", "default_bucket": "b", "BatchJoinSource": "Input"}',
            ],
            None,
            "BatchJoinSource: parameters of the batch-scoring steps, which only batch_input",
        ),
        (
            [
                "-n",
                "pipelines.churn.pipeline",
                "--kwargs",
                '{"region": "eu-west-1", "default_bucket": "b", "batch_input": true, '
                '"BatchJoinSource": "input"}',
            ],
            None,
            "BatchJoinSource 'input': use one of None, Input",
        ),
        (
            [
                "-n",
                "pipelines.churn.pipeline",
                "--kwargs",
                '{"region": "eu-west-1", "default_bucket": "b", "spot_training": true, '
                '"spot_max_wait_seconds": 60}',
            ],
            None,
            "spot_max_wait_seconds 60: at least the training's MaxRuntimeInSeconds (86400)",
        ),
        (
            [
                "-n",
                "pipelines.churn.pipeline",
                "--kwargs",
                '{"region": "eu-west-1", "default_bucket": "b", "subnets": ["subnet-1"]}',
            ],
            None,
            "subnets and security_group_ids: a job runs in a VPC with both",
        ),
    ],
)
def test_user_mistakes_are_one_line(args, env_region, message, monkeypatch, capsys):
    # In-process (the SDK import is paid once); the command's own error path, not a mock.
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    if env_region:
        monkeypatch.setenv("AWS_DEFAULT_REGION", env_region)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert run_command(main, args, "get-pipeline-definition") == 1
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.fixture(scope="module")
def feature_definition(built):
    return succeeded(built["feature"])


def test_the_feature_store_steps_build_offline_deterministically(feature_definition, rebuilt):
    assert succeeded(rebuilt["feature"]) == feature_definition  # no network, same bytes
    check_references(feature_definition)
    parsed = json.loads(feature_definition)
    steps = all_steps(parsed)
    assert [s["Name"] for s in parsed["Steps"]][:4] == [
        "ValidateShards",
        "ValidateData",
        "IngestFeatures",
        "BuildDataset",
    ]
    assert steps["IngestFeatures"]["DependsOn"] == ["ValidateData"]
    # Only validated rows are ingested; the steps over the table read the built dataset.
    dataset = "Steps.BuildDataset.ProcessingOutputConfig.Outputs['dataset'].S3Output.S3Uri"
    for name in ("PreprocessShards", "PreprocessApply", "BaselineShards"):
        data = steps[name]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
        assert data == {"Get": dataset}, name
    inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"]
        for i in steps["BuildDataset"]["Arguments"]["ProcessingInputs"]
    }
    assert inputs["offline-store"] == {"Get": "Parameters.OfflineStoreUrl"}
    assert inputs["ingest"] == {
        "Get": "Steps.IngestFeatures.ProcessingOutputConfig.Outputs['ingest'].S3Output.S3Uri"
    }  # it reruns exactly when the ingest did
    defaults = {p["Name"]: p.get("DefaultValue") for p in parsed["Parameters"]}
    assert defaults["FeatureGroupName"] == "churn-customers"
    assert defaults["OfflineStoreUrl"] == "s3://review-bucket/churn/feature-store/"
    assert defaults["OfflineStoreSettleSeconds"] == 900
    assert (defaults["DatasetAsOf"], defaults["DatasetWriteTimeCutoff"]) == ("now", "none")


def test_the_feature_store_options_need_a_schema_with_an_id(built):
    proc = built["no_id"]
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(
        'has no "id_column": a feature group needs a record identifier; set "id_column" to '
        "the column that names each customer"
    )
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def secure_definition(built):
    return json.loads(succeeded(built["secure"]))


def test_the_production_options_reach_every_job_field_by_field(secure_definition, definition):
    steps = all_steps(secure_definition)
    vpc = {"Subnets": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-jobs"]}
    # Jobs that need the network keep it: package installs and the Feature Store API.
    needs_network = {"ValidateShards"}
    for name in [n for n, t in STEP_TYPES.items() if t == "Processing"]:
        args = steps[name]["Arguments"]
        assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY + "volumes"
        assert args["ProcessingOutputConfig"]["KmsKeyId"] == KEY + "outputs"
        assert args["NetworkConfig"] == {
            "EnableNetworkIsolation": name not in needs_network,
            "VpcConfig": {"SecurityGroupIds": ["sg-jobs"], "Subnets": ["subnet-a", "subnet-b"]},
        }, name
    train = steps["TrainModel"]["Arguments"]
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == KEY + "volumes"
    assert train["OutputDataConfig"]["KmsKeyId"] == KEY + "outputs"  # the model artifact
    assert train["VpcConfig"] == vpc
    assert train["EnableNetworkIsolation"] is True
    assert train["EnableInterContainerTrafficEncryption"] is True
    assert train["EnableManagedSpotTraining"] is True
    assert train["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 86400,
        "MaxWaitTimeInSeconds": 172800,
    }
    # One checkpoint prefix for every execution, so the step's cache key stays the same.
    assert train["CheckpointConfig"] == {"S3Uri": "s3://review-bucket/churn/checkpoints/train"}
    # Isolated, the container cannot fetch its code: it arrives as the `code` channel.
    code = [c for c in train["InputDataConfig"] if c["ChannelName"] == "code"]
    assert code and code[0]["DataSource"]["S3DataSource"]["S3Uri"].endswith("sourcedir.tar.gz")
    assert (
        train["HyperParameters"]["sagemaker_submit_directory"]
        == '"/opt/ml/input/data/code/sourcedir.tar.gz"'
    )
    # The isolated model's serving code travels in the artifact: train.py packs the inference
    # channel into code/, where SAGEMAKER_SUBMIT_DIRECTORY points.
    inference = [c for c in train["InputDataConfig"] if c["ChannelName"] == "inference"]
    assert inference and inference[0]["DataSource"]["S3DataSource"]["S3Uri"].startswith(
        "s3://review-bucket/churn/code/inference/"
    )
    model = steps["BatchModel-CreateModel"]["Arguments"]
    assert model["VpcConfig"] == vpc
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == (
        "/opt/ml/model/code"
    )
    register = steps["RegisterModel-RegisterModel"]["Arguments"]
    (container,) = register["InferenceSpecification"]["Containers"]
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    transform = steps["BatchTransform"]["Arguments"]
    assert transform["TransformResources"]["VolumeKmsKeyId"] == KEY + "volumes"
    assert transform["TransformOutput"]["KmsKeyId"] == KEY + "outputs"
    # Off by default: none of these fields in the plain definition.
    plain = json.dumps(json.loads(definition))
    for field in (
        "KmsKeyId",
        "NetworkConfig",
        "VpcConfig",
        "EnableManagedSpotTraining",
        "CheckpointConfig",
        "MaxWaitTimeInSeconds",
        '"EnableNetworkIsolation": true',
        '"ChannelName": "inference"',
        "/opt/ml/model/code",
    ):
        assert field not in plain, field


def test_the_feature_store_jobs_keep_their_network_under_isolation(built):
    proc = built["feature_isolated"]
    assert proc.returncode == 0, proc.stderr
    steps = all_steps(json.loads(proc.stdout))
    for name in ("IngestFeatures", "BuildDataset"):
        network = steps[name]["Arguments"].get("NetworkConfig", {})
        assert not network.get("EnableNetworkIsolation"), name
    assert steps["PreprocessData"]["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"]
