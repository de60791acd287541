"""`churn run` end to end: the real definition, the real scripts, the local registry and cache."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import BANK, BIGML, ROOT, needs_shared_data, reaches_reference_auc


def churn(home, *args, env=None, wrap=()):
    full_env = dict(os.environ, CHURN_HOME=str(home))
    full_env.update(env or {})
    return subprocess.run(
        list(wrap) + [sys.executable, "-m", "pipelines.cli"] + list(args),
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=full_env,
    )


def run_json(home, *args, **kwargs):
    proc = churn(home, "run", "--json", *args, **kwargs)
    try:
        return proc, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(proc.stdout[-2000:] + proc.stderr[-3000:])


class Home(type(ROOT)):
    """The home folder of a run, with that first run's --json result."""

    first = None


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One full local run on generated data, shared by the tests that look at its results."""
    home = Home(tmp_path_factory.mktemp("churn-home"))
    proc, result = run_json(home, "--rows", "3000")
    assert proc.returncode == 0, proc.stderr[-3000:]
    home.first = result
    return home


def test_full_run_succeeds_and_registers_a_version(home):
    result = home.first
    assert result["status"] == "Succeeded" and result["failure_reason"] is None
    assert [(s["name"], s["type"], s["status"]) for s in result["steps"]] == [
        ("ValidateShards", "Processing", "Succeeded"),
        ("ValidateData", "Processing", "Succeeded"),
        ("BaselineShards", "Processing", "Succeeded"),
        ("BaselineData", "Processing", "Succeeded"),
        ("PreprocessShards", "Processing", "Succeeded"),
        ("PreprocessData", "Processing", "Succeeded"),
        ("PreprocessApply", "Processing", "Succeeded"),
        ("TrainModel", "Training", "Succeeded"),
        ("EvaluateShards", "Processing", "Succeeded"),
        ("EvaluateModel", "Processing", "Succeeded"),
        ("CheckDataChecks", "Condition", "Succeeded"),
        ("CheckAucThreshold", "Condition", "Succeeded"),
        ("RegisterModel-RegisterModel", "RegisterModel", "Succeeded"),
    ]
    assert not any(s["cache_hit"] for s in result["steps"])
    assert all(s["end"] >= s["start"] for s in result["steps"])
    assert 0.7 < result["metrics"]["auc"] <= 1
    assert result["model_package"]["group"] == "churn-seed"  # the seed schema's group
    assert result["model_package"]["version"] == 1
    assert result["model_package"]["approval_status"] == "PendingManualApproval"


def test_registry_commands(home):
    listing = churn(home, "models", "list")
    assert listing.stdout.split()[:5] == ["churn-seed", "1", "PendingManualApproval", "AUC", (
        "%.4f" % home.first["metrics"]["auc"])]  # fmt: skip
    assert listing.stdout.split()[5] == "seed"  # the schema the version was trained with
    described = json.loads(churn(home, "models", "describe", "1").stdout)
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"].startswith("s3://churn-local/churn/models/")
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    metrics_uri = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert metrics_uri.endswith("/EvaluateModel/evaluation/evaluation.json")
    assert described["MetadataProperties"]["GeneratedBy"].endswith(home.first["execution_id"])
    drift = described["DriftCheckBaselines"]["ModelDataQuality"]
    assert drift["Statistics"]["S3Uri"].endswith("/BaselineData/baseline/statistics.json")
    assert "version 1 is now Approved" in churn(home, "models", "approve", "1").stdout
    assert (
        json.loads(churn(home, "models", "describe", "1").stdout)["ModelApprovalStatus"]
        == "Approved"
    )
    assert "is now Rejected" in churn(home, "models", "reject", "churn-seed/1").stdout
    missing = churn(home, "models", "describe", "7")
    assert missing.returncode == 1
    assert "no model version 7 in group churn-seed (registered: churn-seed/1)" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_rerun_reuses_every_job_step(home):
    proc, result = run_json(home, "--rows", "3000")
    assert proc.returncode == 0
    hits = {s["name"]: s["cache_hit"] for s in result["steps"]}
    assert hits == {
        "ValidateShards": True,
        "ValidateData": True,
        "BaselineShards": True,
        "BaselineData": True,
        "PreprocessShards": True,
        "PreprocessData": True,
        "PreprocessApply": True,
        "TrainModel": True,
        "EvaluateShards": True,
        "EvaluateModel": True,
        "CheckDataChecks": False,
        "CheckAucThreshold": False,
        "RegisterModel-RegisterModel": False,
    }
    assert result["metrics"] == home.first["metrics"]
    runs = churn(home, "runs", "show", result["execution_id"])
    assert "cache hit from %s" % home.first["execution_id"] in runs.stdout


def test_batch_input_scores_a_csv_after_registering(home, tmp_path, seed_csv):
    """--batch-input adds BatchModel and BatchTransform to the definition: the registered
    model scores the file, one prediction per row, in input order; JoinSource=Input appends
    each score to its row."""
    import tarfile

    from conftest import score_rows

    rows = pd.read_csv(seed_csv)[["age", "tenure", "balance", "num_products", "is_active"]]
    rows = rows.sample(n=400, random_state=5)  # shuffled: order must follow the file
    csv = rows.to_csv(header=False, index=False)
    (tmp_path / "customers.csv").write_text(csv)
    # Cold jobs: with every training step cached, waiting for the warm parent's imports would
    # be most of these runs' time (test_local_engine runs a transform job in the warm parent).
    cold = {"CHURN_COLD_JOBS": "1"}
    proc, result = run_json(
        home, "--rows", "3000", "--batch-input", str(tmp_path / "customers.csv"), env=cold
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = [(s["name"], s["type"], s["status"], s["cache_hit"]) for s in result["steps"]]
    assert steps[-4:] == [
        ("CheckAucThreshold", "Condition", "Succeeded", False),
        ("RegisterModel-RegisterModel", "RegisterModel", "Succeeded", False),
        ("BatchModel-CreateModel", "Model", "Succeeded", False),
        ("BatchTransform", "Transform", "Succeeded", False),
    ]
    assert all(hit for _, _, _, hit in steps[:5])  # the training steps came from the cache
    output = result["batch_output"]
    assert output["uri"] == "s3://churn-local/churn/batch/output/%s/" % result["execution_id"]
    assert [os.path.basename(f) for f in output["files"]] == ["customers.csv.out"]
    scores = Path(output["files"][0]).read_text().splitlines()

    described = json.loads(
        churn(home, "models", "describe", str(result["model_package"]["version"])).stdout
    )
    artifact = described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    with tarfile.open(home / "s3" / artifact[len("s3://") :]) as tar:
        tar.extractall(tmp_path / "model", filter="data")
    assert scores == score_rows(tmp_path / "model", csv)  # the registered model, row by row
    assert len(scores) == 400

    proc = churn(
        home,
        "run",
        "--rows",
        "3000",
        "--batch-input",
        str(tmp_path / "customers.csv"),
        "--param",
        "BatchJoinSource=Input",
        env=cold,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = [line for line in proc.stdout.splitlines() if line.startswith("batch scores: ")]
    assert len(printed) == 1
    path = printed[0][len("batch scores: ") :]
    assert path.startswith(str(home / "s3" / "churn-local" / "churn" / "batch" / "output"))
    lines = Path(path).read_text().splitlines()
    assert lines == ["%s,%s" % pair for pair in zip(csv.splitlines(), scores)]

    bad = churn(
        home,
        "run",
        "--rows",
        "3000",
        "--batch-input",
        str(tmp_path / "customers.csv"),
        "--param",
        "BatchJoinSource=input",
        env=cold,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "parameter BatchJoinSource must be one of None, Input; 'input' is not one" in bad.stderr


def test_auc_threshold_takes_the_fail_branch(home):
    proc, result = run_json(home, "--rows", "3000", "--param", "AucThreshold=0.99")
    assert proc.returncode == 1
    assert result["status"] == "Failed"
    assert result["steps"][-1]["name"] == "AucTooLow"
    auc = "%s" % home.first["metrics"]["auc"]
    assert result["failure_reason"] == (
        "step AucTooLow failed: Test AUC %s is below the "
        "AucThreshold 0.99 - the model was not registered." % auc
    )
    assert result["model_package"] is None


def test_three_processing_and_two_training_instances_divide_the_work(home, seed_csv, tmp_path):
    """The table as six objects. With ProcessingInstanceCount=3 each ValidateShards,
    BaselineShards, PreprocessShards and PreprocessApply instance downloads two of them, and
    the merges make the very report, baseline and preprocessing.json one instance makes; with
    TrainingInstanceCount=2 each host downloads only its parts of the train split (a
    ShardedByS3Key channel over the parts PreprocessApply writes, two per instance), and the
    two train one model together: its AUC is within 0.005 of the
    single host's. Subsample=1: with row sampling each host would draw its own sample, which
    is another model, not the same one trained on two hosts. The scaled run has a home of its
    own: in the first one it would reuse the shard steps (the instance count is not in
    SageMaker's cache key, and their results are the same on any number of instances)."""
    lines = seed_csv.read_text().splitlines()
    scaled_home = tmp_path / "scaled-home"
    for store in (home, scaled_home):
        parts = store / "s3" / "churn-local" / "tables" / "six-parts"
        parts.mkdir(parents=True)
        for k in range(6):
            rows = lines[1 + 500 * k : 1 + 500 * (k + 1)]
            (parts / ("part-%d.csv" % k)).write_text("\n".join([lines[0]] + rows) + "\n")
    whole = ["--data", "s3://churn-local/tables/six-parts/", "--param", "Subsample=1"]
    proc, single = run_json(home, *whole)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single["home"] = home
    scaled = ["--param", "ProcessingInstanceCount=3", "--param", "TrainingInstanceCount=2"]
    proc, result = run_json(scaled_home, *whole, *scaled)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result["home"] = scaled_home

    def published(run, step, output, name):
        folder = run["home"] / "s3" / "churn-local" / "churn" / run["execution_id"] / step
        return (folder / output / name).read_bytes()

    for step, output, name in [
        ("ValidateData", "validation", "validation_report.json"),
        ("BaselineData", "baseline", "statistics.json"),
        ("BaselineData", "baseline", "constraints.json"),
        ("PreprocessData", "preprocessing", "preprocessing.json"),
    ]:
        assert published(result, step, output, name) == published(single, step, output, name)
    execution = scaled_home / "executions" / result["execution_id"]
    for step in ("ValidateShards", "BaselineShards", "PreprocessShards", "PreprocessApply"):
        shares = [
            sorted(
                p.name for p in (execution / step / host / "opt/ml/processing/input/data").iterdir()
            )
            for host in ("algo-1", "algo-2", "algo-3")
        ]
        assert shares == [["part-0.csv", "part-3.csv"], ["part-1.csv", "part-4.csv"],
                          ["part-2.csv", "part-5.csv"]]  # fmt: skip
    report = json.loads(published(result, "ValidateData", "validation", "validation_report.json"))
    assert report["row_count"] == 3000 and report["success"] is True
    hits = {s["name"]: s["cache_hit"] for s in result["steps"]}
    assert not any(
        hits[s] for s in ("ValidateShards", "PreprocessApply", "TrainModel", "EvaluateModel")
    )
    first = (execution / "TrainModel" / "algo-1.log").read_text()
    second = (execution / "TrainModel" / "algo-2.log").read_text()
    spec = json.loads(published(result, "PreprocessData", "preprocessing", "preprocessing.json"))
    rows = [
        int(re.search(r"train: (\d+) rows on each of 2 hosts", first).group(1)),
        int(re.search(r"algo-2 of \['algo-1', 'algo-2'\] done \((\d+) rows\)", second).group(1)),
    ]  # each host part t of each of the three PreprocessApply instances' train rows
    assert sum(rows) == spec["split"]["splits"]["train"]["rows"] and abs(rows[0] - rows[1]) <= 3
    assert "validation-auc" in first and "got rank 1" in second
    # The hosts ran cold in their private network; each one's peak memory and CPU is recorded.
    record = json.loads((execution / "execution.json").read_text())
    usage = [s for s in record["Steps"] if s["StepName"] == "TrainModel"][0]["Resources"]
    assert sorted(usage) == ["algo-1", "algo-2"]
    assert all(u["max_rss_mb"] > 50 and u["cpu_seconds"] > 0.1 for u in usage.values()), usage
    channels = [
        sorted(
            p.name for p in (execution / "TrainModel" / host / "opt/ml/input/data/train").iterdir()
        )
        for host in ("algo-1", "algo-2")
    ]
    assert channels == [["train-part-%05d.csv" % i for i in (0, 2, 4)],
                        ["train-part-%05d.csv" % i for i in (1, 3, 5)]]  # fmt: skip
    assert abs(result["metrics"]["auc"] - single["metrics"]["auc"]) <= 0.005
    # Evaluation divides too: each PreprocessApply instance writes its test rows as one part,
    # each EvaluateShards instance scores one, and EvaluateModel sums their counts.
    tests = [
        sorted(
            p.name for p in (execution / "EvaluateShards" / h / "opt/ml/processing/test").iterdir()
        )
        for h in ("algo-1", "algo-2", "algo-3")
    ]
    assert tests == [["test-part-%05d.csv" % i] for i in range(3)]
    counts = [
        json.loads(published(run, "EvaluateModel", "evaluation", "evaluation.json"))["dataset"]
        for run in (single, result)
    ]
    assert counts[0]["item_count"] == counts[1]["item_count"] > 400  # every test row, once


def test_a_validation_failure_stops_at_validate_data(home, tmp_path, seed_csv):
    bad = pd.read_csv(seed_csv)
    bad.loc[:2, "age"] = 150
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    before = churn(home, "models", "list").stdout
    proc = churn(home, "run", "--data", str(path))
    assert proc.returncode == 1
    assert "ValidateData                 Failed" in proc.stdout
    assert "age: 3 rows outside [0, 120]" in proc.stderr
    assert "last lines of" in proc.stderr and "ValidateData" in proc.stderr
    assert "PreprocessData" not in proc.stdout
    assert churn(home, "models", "list").stdout == before  # nothing registered


def test_runs_list_and_user_errors(home, seed_csv):
    listing = churn(home, "runs", "list").stdout
    assert home.first["execution_id"] in listing and "Succeeded" in listing
    auc = "AUC %.4f" % home.first["metrics"]["auc"]  # the listing's test AUC is the run's
    assert auc in listing, listing
    for args, message in [
        (["runs", "show", "nope"], "no execution nope under"),
        (["run", "--data", "/nonexistent.csv"], "--data /nonexistent.csv is not a file"),
        (["run", "--param", "AucThreshold"], "use Name=Value"),
        (["run", "--param", "Colour=blue"], "unknown pipeline parameters Colour"),
        (["run", "--schema", "bank"], "--schema bank needs --data"),
        (
            ["run", "--batch-input", "/nonexistent.csv"],
            "--batch-input /nonexistent.csv is not a file",
        ),
        (["run", "--batch-input", str(seed_csv)], "starts with a header line"),
    ]:
        proc = churn(home, *args)
        assert proc.returncode == 1, args
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


@pytest.mark.skipif(
    not shutil.which("unshare") or os.geteuid() != 0,
    reason="needs unshare and root for a loopback-only network namespace",
)
def test_a_local_run_needs_no_network(tmp_path):
    """In a namespace with only loopback, with the definition built from scratch; the parent
    also records any connection attempt a library might swallow."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(
        "import sys\n"
        "def _guard(event, args):\n"
        "    if event == 'socket.connect':\n"
        "        host = args[1][0] if isinstance(args[1], tuple) else args[1]\n"
        "        if host not in ('127.0.0.1', '::1', 'localhost'):\n"
        "            open(%r, 'a').write(repr(args[1]) + '\\n')\n"
        "sys.addaudithook(_guard)\n" % str(tmp_path / "attempts.txt")
    )
    proc, result = run_json(
        tmp_path / "home",
        "--rows",
        "1000",
        "--param",
        "AucThreshold=0.5",
        # A parent of the run's own too: the shared one's socket is in the test's namespace.
        env={
            "PYTHONPATH": str(guard),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "CHURN_JOB_PARENT": "",
        },
        wrap=["unshare", "--net", "--"],
    )
    assert result["status"] == "Succeeded", proc.stderr[-3000:]
    assert not (tmp_path / "attempts.txt").exists()


def test_a_new_home_reuses_the_definition_without_importing_the_sdk(tmp_path):
    """The definition memo sits in the user's cache, not in a home. `--param InputDataUrl` is
    refused right after the definition is found, so these runs execute no job."""

    def attempt(home):
        # PYTHONPROFILEIMPORTTIME lists every module the process imports on its stderr.
        env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPROFILEIMPORTTIME": "1"}
        proc = churn(tmp_path / home, "run", "--param", "InputDataUrl=x", env=env)
        assert "--param InputDataUrl: give the file with --data" in proc.stderr, proc.stderr[-2000:]
        lines = proc.stderr.splitlines()
        return {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}

    memos = tmp_path / "cache" / "churn" / "definitions"
    assert "sagemaker.workflow.pipeline" in attempt("first")
    (memo,) = memos.iterdir()
    built = memo.read_bytes()
    assert not [name for name in attempt("second") if name.split(".")[0] == "sagemaker"]
    assert list(memos.iterdir()) == [memo] and memo.read_bytes() == built


@needs_shared_data
def test_bank_table_by_schema_name_reaches_the_reference_auc(tmp_path):
    proc, result = run_json(tmp_path / "home", "--data", str(BANK), "--schema", "bank")
    assert result["status"] == "Succeeded", proc.stderr[-3000:]
    evaluation = tmp_path / "home/s3/churn-local/churn" / result["execution_id"] / "EvaluateModel"
    auc = json.loads((evaluation / "evaluation/evaluation.json").read_text())
    auc = auc["binary_classification_metrics"]["auc"]
    assert auc["value"] == result["metrics"]["auc"]
    assert reaches_reference_auc("bank", auc["value"], auc["standard_deviation"]), auc
    assert result["model_package"]["version"] == 1


@needs_shared_data
def test_a_users_own_table_needs_only_a_schema_file(tmp_path):
    """A table the template has never seen (bigml, renamed columns and target) with a schema
    file the user wrote: no code change."""
    table = pd.read_csv(BIGML).rename(columns={"Churn": "left", "State": "state"})
    table["left"] = table["left"].map({True: "yes", False: "no"})
    table.to_csv(tmp_path / "customers.csv", index=False)
    schema = json.loads((ROOT / "processing" / "schemas" / "bigml.json").read_text())
    schema["target"] = {"column": "left", "positive": "yes", "values": ["no", "yes"]}
    schema["features"][0]["name"] = "state"
    (tmp_path / "customers.json").write_text(json.dumps(schema))
    proc, result = run_json(
        tmp_path / "home",
        "--data",
        str(tmp_path / "customers.csv"),
        "--schema",
        str(tmp_path / "customers.json"),
    )
    assert result["status"] == "Succeeded", proc.stderr[-3000:]
    assert result["metrics"]["auc"] > 0.85


def test_default_home_is_relative_to_the_working_directory(tmp_path):
    """`make run` uses the default ./.churn; jobs run in their own folders and must still
    find the store."""
    env = {k: v for k, v in os.environ.items() if k != "CHURN_HOME"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--rows",
            "1000",
            "--param",
            "AucThreshold=0.5",
        ],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Succeeded" in proc.stdout
    assert list((tmp_path / ".churn" / "executions").iterdir())


@pytest.mark.parametrize(
    "param, message",
    [
        (
            "TrainingInstanceCount=0",
            "step TrainModel: ResourceConfig.InstanceCount (parameter "
            "TrainingInstanceCount) is 0; CreateTrainingJob takes at least 1 instances",
        ),
        ("TrainingInstanceCount=-1", "(parameter TrainingInstanceCount) is -1"),
        (
            "ProcessingInstanceCount=0",
            "(parameter ProcessingInstanceCount) is 0; "
            "CreateProcessingJob takes 1 to 100 instances",
        ),
        # A thousand local hosts started and exhausted the machine's memory.
        (
            "TrainingInstanceCount=1000",
            "(parameter TrainingInstanceCount) is 1000; this machine runs at most",
        ),
    ],
)
def test_instance_counts_sagemaker_refuses_are_refused_before_anything_runs(
    tmp_path, param, message
):
    """TrainingInstanceCount=0 'succeeded' with an empty model that was then cached, and
    ProcessingInstanceCount=0 was a 122-line traceback."""
    proc = churn(tmp_path, "run", "--rows", "500", "--param", param)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("churn run: error: "), proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "executions").exists()
    assert churn(tmp_path, "models", "list").stdout.startswith("no model versions")


def children_of(pid):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid):
    try:
        state = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_run_and_wait_for_a_step(home, env):
    """A `churn run` of 20k rows, once a step of it executes: (its process, its record)."""
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--rows", "20000"],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    record = None
    while time.time() < deadline:
        records = list((home / "executions").glob("*/execution.json"))
        if records:
            record = json.loads(records[0].read_text())
            if any(s["StepStatus"] == "Executing" for s in record["Steps"]):
                break
        time.sleep(0.05)
    assert record is not None, "the run never started a step"
    return proc, record


def kill_and_wait_for(proc, helpers):
    """SIGKILL `proc`; the `helpers` still alive 10 s later."""
    import signal
    import time

    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(pid) for pid in helpers):
        time.sleep(0.1)
    return [pid for pid in helpers if alive(pid)]


def test_a_killed_run_ends_failed_and_takes_its_jobs_with_it(tmp_path):
    """A killed run stayed Executing forever and its warm parent outlived it by 30 s."""
    home = tmp_path / "home"
    env = dict(os.environ, CHURN_HOME=str(home))
    env.pop("CHURN_JOB_PARENT", None)  # a parent of the run's own
    proc, record = start_run_and_wait_for_a_step(home, env)
    helpers = children_of(proc.pid)  # the warm parent (and through it the job)
    assert helpers
    assert not kill_and_wait_for(proc, helpers), "the warm parent outlived the run"
    listed = churn(home, "runs", "list")
    assert " Failed " in listed.stdout and "Executing" not in listed.stdout, listed.stdout
    shown = churn(home, "runs", "show", record["PipelineExecutionId"])
    assert "the process running this execution ended before it finished" in shown.stdout
    assert "Stopped" in shown.stdout


def test_a_killed_run_takes_its_job_along_and_leaves_the_shared_parent_serving(tmp_path):
    """With CHURN_JOB_PARENT the job is forked by a session of the shared parent, no child of
    the run: the session must notice the run is gone, kill the job and end, while the shared
    parent goes on serving the next run."""
    import time

    from pipelines.local.sagemaker.runners import SharedJobParent

    shared = SharedJobParent(tmp_path / "shared.log")
    try:
        home = tmp_path / "home"
        env = dict(os.environ, CHURN_HOME=str(home), **shared.environment)
        proc, _ = start_run_and_wait_for_a_step(home, env)
        assert not children_of(proc.pid)  # no parent of the run's own
        deadline, hosts = time.time() + 30, []
        while time.time() < deadline and not hosts:  # the step's hosts, once forked
            sessions = children_of(shared.proc.pid)
            hosts = [pid for session in sessions for pid in children_of(session)]
        assert len(sessions) == 1 and hosts, (sessions, hosts)
        assert not kill_and_wait_for(proc, sessions + hosts), "the job outlived the run"
        assert shared.proc.poll() is None
        again = churn(tmp_path / "again", "run", "--rows", "2000", env=shared.environment)
        assert again.returncode == 0 and "Succeeded" in again.stdout, again.stderr
        assert not (tmp_path / "again" / "warm-parent.log").read_text()  # it connected
    finally:
        shared.close()
    assert shared.proc.poll() is not None and not os.path.exists(shared.path)


def test_a_recipe_that_removes_rows_preprocesses_the_table_on_one_instance(seed_csv, tmp_path):
    """A divided PreprocessData writes each instance's rows as they come, so it needs a recipe
    that keeps every row (ADR 0017). A schema whose recipe removes rows (REMOVE_MISSING) gets
    the one-instance PreprocessData, which reads the whole table and writes everything, on
    any ProcessingInstanceCount."""
    sys.path.insert(0, str(ROOT / "processing"))
    from churn_recipe import default_recipe
    from churn_schema import load_schema

    schema = json.loads((ROOT / "processing/schemas/seed.json").read_text())
    schema["name"] = "seed_filtered"
    remove = {"Action": {"Operation": "REMOVE_MISSING", "Parameters": {"sourceColumn": "age"}}}
    schema["recipe"] = default_recipe(load_schema("seed")) + [remove]
    path = tmp_path / "filtered.json"
    path.write_text(json.dumps(schema))
    proc, result = run_json(tmp_path / "home", "--data", str(seed_csv), "--schema", str(path),
                            "--param", "ProcessingInstanceCount=2")  # fmt: skip
    assert result["status"] == "Succeeded", proc.stderr[-3000:]
    steps = [s["name"] for s in result["steps"]]
    assert "PreprocessData" in steps and "PreprocessShards" not in steps
    assert "PreprocessApply" not in steps
