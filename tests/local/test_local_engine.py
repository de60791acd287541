"""The local engine on hand-written definitions: the container contract a job sees (parity with
docs/container-contracts.md), sharding, metrics, crashes, conditions, unsupported steps, retries."""

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from pipelines.errors import PipelineError, UserError
from pipelines.local.s3 import Store
from pipelines.local.sagemaker import engine
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.engine import run_definition
from pipelines.local.sagemaker.policies import parse_duration, retry_delays

from conftest import score_rows

PROBE = r"""
import json, os, sys
out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else os.environ.get("SM_MODEL_DIR")
config_dir = "/opt/ml/config" if "--out" in sys.argv else "/opt/ml/input/config"
root = os.environ.get("PROBE_ROOT_HINT", "")
def read_config(folder):
    # the container paths, mapped: find the config folder next to this job's /opt/ml
    here = os.path.abspath(out)
    base = here[:here.index("/opt/ml/")] if "/opt/ml/" in here else ""
    path = base + folder
    return {n: json.load(open(os.path.join(path, n))) for n in sorted(os.listdir(path))}
inputs = {}
for name in ("data",):
    folder = os.path.join(os.path.abspath(out)[:os.path.abspath(out).index("/opt/ml/")], "opt/ml/processing/input", name)
    if os.path.isdir(folder):
        inputs[name] = sorted(os.listdir(folder))
print("[3]\tvalidation-auc:0.75\tvalidation-logloss:0.4")
record = {"argv": sys.argv, "env": dict(os.environ), "config": read_config(config_dir),
          "inputs": inputs, "name": __name__, "spec": getattr(__spec__, "name", None)}
os.makedirs(out, exist_ok=True)
host = os.environ.get("SM_CURRENT_HOST") or json.load(open(os.path.join(os.path.abspath(out)[:os.path.abspath(out).index("/opt/ml/")], "opt/ml/config/resourceconfig.json")))["current_host"]
with open(os.path.join(out, host + ".json"), "w") as f:
    json.dump(record, f)
"""

BUCKET = "s3://probe-bucket"


def tarball(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def processing_step(name="Probe", entrypoint=None, count=1, extra=None):
    step = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.xlarge",
                    "InstanceCount": count,
                    "VolumeSizeInGB": 30,
                }
            },
            "AppSpecification": {
                "ImageUri": "image",
                "ContainerEntrypoint": entrypoint
                or ["python3", "/opt/ml/processing/input/code/probe.py"],
                "ContainerArguments": [
                    "--out",
                    "/opt/ml/processing/output",
                    "--n",
                    {"Get": "Parameters.N"},
                ],
            },
            "RoleArn": "arn:aws:iam::000000000000:role/r",
            "Environment": {"LOG_LEVEL": "INFO"},
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": BUCKET + "/code/",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    },
                },
                {
                    "InputName": "data",
                    "S3Input": {
                        "S3Uri": BUCKET + "/data/",
                        "LocalPath": "/opt/ml/processing/input/data",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "ShardedByS3Key",
                    },
                },
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {
                            "S3Uri": {
                                "Std:Join": {
                                    "On": "/",
                                    "Values": [
                                        BUCKET,
                                        {"Get": "Execution.PipelineExecutionId"},
                                        "out",
                                    ],
                                }
                            },
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
    }
    step["Arguments"].update(extra or {})
    return step


def training_step(count=1):
    hps = {
        "eta": "0.2",
        "max_depth": "5",
        "early_stop": "true",
        "objective": '"binary:logistic"',
        "sagemaker_program": '"probe.py"',
        "sagemaker_submit_directory": '"%s/code/sourcedir.tar.gz"' % BUCKET,
        "sagemaker_container_log_level": "20",
        "sagemaker_region": '"us-east-1"',
    }
    return {
        "Name": "ProbeTraining",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {
                "TrainingImage": "image",
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {
                        "Name": "validation:auc",
                        "Regex": ".*\\[[0-9]+\\].*#011validation-auc:([0-9.]+)",
                    }
                ],
            },
            "OutputDataConfig": {"S3OutputPath": BUCKET + "/models"},
            "ResourceConfig": {
                "InstanceCount": count,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
            },
            "RoleArn": "arn:aws:iam::000000000000:role/r",
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "HyperParameters": hps,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": BUCKET + "/data/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="module", params=["warm", "shared", "cold"])
def runner(request, tmp_path_factory):
    """Every job launcher must give a job the same contract: forked from a warm parent of the
    run's own (the default), from a session of a shared one (CHURN_JOB_PARENT), and a fresh
    interpreter per job (CHURN_COLD_JOBS=1)."""
    from pipelines.local.sagemaker.runners import ColdRunner, SharedJobParent, WarmRunner

    log = tmp_path_factory.mktemp("warm-parent") / "warm-parent.log"
    shared = SharedJobParent(log.with_name("shared.log")) if request.param == "shared" else None
    launcher = ColdRunner() if request.param == "cold" else WarmRunner(log, shared and shared.path)
    yield launcher
    launcher.close()
    if shared:
        assert not log.read_text(), "the runner did not use the shared parent"
        shared.close()


def test_the_shared_parents_socket_is_its_users_alone_and_a_stale_one_is_said(tmp_path):
    """A session runs whatever a request names: nobody but the user may connect. A variable
    naming a socket nothing answers at costs the run its speed, not its result, and says so."""
    import stat

    from pipelines.local.sagemaker.jobs.container import Launch
    from pipelines.local.sagemaker.runners import SharedJobParent, WarmRunner

    shared = SharedJobParent(tmp_path / "shared.log")
    try:
        assert stat.S_IMODE(os.stat(shared.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(shared.path)).st_mode) == 0o700
        stale = shared.path
    finally:
        shared.close()
    log = tmp_path / "stale" / "warm-parent.log"
    log.parent.mkdir()
    launcher = WarmRunner(log, stale)
    try:
        assert launcher.proc is not None  # a parent of its own, which runs the job
        job = Launch("algo-1", [sys.executable, "-c", "raise SystemExit(3)"], {}, tmp_path,
                     tmp_path / "job.log")  # fmt: skip
        assert launcher.run([job], timeout=120) == [("algo-1", 3, tmp_path / "job.log")]
    finally:
        launcher.close()
    said = log.read_text()
    assert "CHURN_JOB_PARENT=%s answers nothing" % stale in said, said


@pytest.fixture
def home(tmp_path):
    store = Store(tmp_path)
    store.put_bytes(BUCKET + "/code/probe.py", PROBE.encode())
    store.put_bytes(BUCKET + "/code/sourcedir.tar.gz", tarball({"probe.py": PROBE.encode()}))
    for i in range(3):
        store.put_bytes(BUCKET + "/data/part-%d.csv" % i, b"1,2\n")
    return tmp_path


def definition(*steps):
    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "N", "Type": "Integer", "DefaultValue": 3},
            {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5},
        ],
        "Steps": list(steps),
    }


def outputs(home, record, step_uri_suffix):
    store = Store(home)
    return {
        name: json.loads(path.read_text())
        for name, path in store.objects(
            "%s/%s/%s/" % (BUCKET, record["PipelineExecutionId"], step_uri_suffix)
        ).items()
    }


def test_processing_job_sees_the_processing_contract(home, runner):
    record = run_definition(home, definition(processing_step(count=2)), "Parity", runner=runner)
    assert record["PipelineExecutionStatus"] == "Succeeded", record
    seen = outputs(home, record, "out")
    assert sorted(seen) == ["algo-1.json", "algo-2.json"]
    one, two = seen["algo-1.json"], seen["algo-2.json"]
    # Entrypoint + arguments, container paths mapped onto the job folder, parameters resolved.
    assert one["argv"][1:3] == ["--out", one["argv"][2]]
    assert one["argv"][2].endswith("/Probe/algo-1/opt/ml/processing/output")
    assert one["argv"][3:] == ["--n", "3"]
    # Only the request's Environment (plus the thread budget) - no SM_* for processing.
    assert one["env"]["LOG_LEVEL"] == "INFO"
    assert not [k for k in one["env"] if k.startswith("SM_")]
    assert one["env"]["OMP_WAIT_POLICY"] == "PASSIVE" and one["env"]["OMP_NUM_THREADS"] == "1"
    config = one["config"]
    assert config["resourceconfig.json"] == {
        "current_host": "algo-1",
        "hosts": ["algo-1", "algo-2"],
    }
    job = config["processingjobconfig.json"]
    assert job["ProcessingJobName"].startswith("pipelines-" + record["PipelineExecutionId"])
    assert job["AppSpecification"]["ContainerArguments"][-1] == "3"
    assert job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    # ShardedByS3Key deals the objects out by key: 3 objects over 2 hosts.
    assert one["inputs"]["data"] == ["part-0.csv", "part-2.csv"]
    assert two["inputs"]["data"] == ["part-1.csv"]


def test_training_job_sees_the_script_mode_contract(home, runner):
    record = run_definition(home, definition(training_step()), "Parity", runner=runner)
    assert record["PipelineExecutionStatus"] == "Succeeded", record
    store = Store(home)
    job_name = "pipelines-%s-ProbeTraining" % record["PipelineExecutionId"]
    model = store.read_bytes("%s/models/%s/output/model.tar.gz" % (BUCKET, job_name))
    with tarfile.open(fileobj=io.BytesIO(model)) as tar:
        assert tar.getnames() == ["algo-1.json"]  # files at the archive root
        seen = json.load(tar.extractfile("algo-1.json"))
    # Hyperparameters as sorted CLI args, decoded and str()-ed: "true" -> True.
    assert seen["argv"][1:] == [
        "--early_stop",
        "True",
        "--eta",
        "0.2",
        "--max_depth",
        "5",
        "--objective",
        "binary:logistic",
    ]
    assert seen["name"] == "__main__" and seen["spec"] == "probe"  # python -m probe
    env = seen["env"]
    assert (
        env["SM_HPS"] == '{"early_stop":true,"eta":0.2,"max_depth":5,"objective":"binary:logistic"}'
    )
    assert env["SM_HP_EARLY_STOP"] == "true" and env["SM_HP_OBJECTIVE"] == "binary:logistic"
    assert env["SM_USER_ARGS"] == json.dumps(seen["argv"][1:], separators=(",", ":"))
    assert env["SM_CHANNELS"] == '["train"]'
    assert env["SM_CHANNEL_TRAIN"].endswith("/algo-1/opt/ml/input/data/train")
    assert env["SM_MODEL_DIR"].endswith("/algo-1/opt/ml/model")
    assert env["SM_OUTPUT_DATA_DIR"].endswith("/algo-1/opt/ml/output/data")
    assert env["SM_HOSTS"] == '["algo-1"]' and env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_MODULE_NAME"] == "probe" and env["SM_USER_ENTRY_POINT"] == "probe.py"
    assert env["SM_MODULE_DIR"] == BUCKET + "/code/sourcedir.tar.gz"
    assert env["SM_NETWORK_INTERFACE_NAME"] == "eth0" and env["SM_NUM_GPUS"] == "0"
    assert env["TRAINING_JOB_NAME"] == job_name and env["CURRENT_HOST"] == "algo-1"
    assert json.loads(env["SM_TRAINING_ENV"])["hyperparameters"]["max_depth"] == 5
    config = seen["config"]
    assert config["hyperparameters.json"]["objective"] == '"binary:logistic"'  # strings as sent
    assert config["inputdataconfig.json"] == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
    }
    assert config["resourceconfig.json"] == {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
        "network_interface_name": "eth0",
        "current_instance_type": "ml.m5.xlarge",
    }


NETWORK_PROBE = r"""
import json, os, socket, time
host = os.environ["SM_CURRENT_HOST"]
address, port = os.environ["CHURN_TRACKER_URI"].split(":")
peer = socket.socket()
peer.bind(("0.0.0.0", 0))  # as each XGBoost collective worker opens its peer socket
peer.listen()
heard = ""
if host == "algo-1":  # the tracker's host
    with socket.create_server((address, int(port))) as tracker:
        conn, _ = tracker.accept()
        heard = conn.recv(64).decode()
else:
    for _ in range(400):
        try:
            s = socket.create_connection((address, int(port)))
            break
        except OSError:
            time.sleep(0.05)
    s.sendall(b"hello from " + host.encode())
record = {"netns": os.readlink("/proc/self/ns/net"), "uid": os.getuid(), "heard": heard,
          "interfaces": sorted(name for _, name in socket.if_nameindex())}
with open(os.path.join(os.environ["SM_MODEL_DIR"], host + ".json"), "w") as f:
    json.dump(record, f)
"""


def network_probe_home(home):
    Store(home).put_bytes(
        BUCKET + "/code/sourcedir.tar.gz", tarball({"probe.py": NETWORK_PROBE.encode()})
    )
    return definition(training_step(count=2))


def hosts_seen(home, record):
    job_name = "pipelines-%s-ProbeTraining" % record["PipelineExecutionId"]
    model = Store(home).read_bytes("%s/models/%s/output/model.tar.gz" % (BUCKET, job_name))
    with tarfile.open(fileobj=io.BytesIO(model)) as tar:
        return {n: json.load(tar.extractfile(n)) for n in tar.getnames()}


def test_multi_host_training_runs_in_a_network_of_its_own(home, runner):
    """The hosts of a multi-host job listened on 0.0.0.0 in this machine's network (XGBoost's
    peer sockets have no bind option); now they share a namespace with only loopback: they
    reach each other's tracker, nothing outside reaches them, files keep their owner."""
    record = run_definition(home, network_probe_home(home), "Net", runner=runner)
    assert record["PipelineExecutionStatus"] == "Succeeded", record.get("FailureReason")
    seen = hosts_seen(home, record)
    one, two = seen["algo-1.json"], seen["algo-2.json"]
    assert one["netns"] == two["netns"] != os.readlink("/proc/self/ns/net")
    assert one["interfaces"] == two["interfaces"] == ["lo"]
    assert one["heard"] == "hello from algo-2"
    assert one["uid"] == two["uid"] == os.getuid()


INTERFACES_PROBE = (
    "import json, os, socket, sys\n"
    "out = sys.argv[sys.argv.index('--out') + 1]\n"
    "names = sorted(n for _, n in socket.if_nameindex())\n"
    "open(os.path.join(out, 'interfaces.json'), 'w').write(json.dumps(names))\n"
)


def test_a_network_isolated_job_has_no_network(home, runner):
    """EnableNetworkIsolation: the job's only interface is loopback, so a job that would
    download something fails here as it fails on SageMaker."""
    isolated = processing_step(
        entrypoint=["python3", "-c", INTERFACES_PROBE],
        extra={"NetworkConfig": {"EnableNetworkIsolation": True}},
    )
    record = run_definition(home, definition(isolated), "Isolated", runner=runner)
    assert record["PipelineExecutionStatus"] == "Succeeded", record.get("FailureReason")
    assert outputs(home, record, "out")["interfaces.json"] == ["lo"]
    open_step = processing_step(entrypoint=["python3", "-c", INTERFACES_PROBE])
    record = run_definition(home, definition(open_step), "Open", runner=runner)
    assert outputs(home, record, "out")["interfaces.json"] != ["lo"]


def test_a_system_without_private_networks_refuses_multi_host_training(home, tmp_path):
    """Where namespaces are not permitted (here: a user namespace with no capabilities and no
    room for another), the job is refused with what to do; CHURN_ALLOW_OPEN_PORTS=1 runs it."""
    if not (shutil.which("unshare") and shutil.which("setpriv")):
        pytest.skip("needs util-linux's unshare and setpriv")
    if subprocess.run(["unshare", "-U", "-r", "true"], capture_output=True).returncode:
        pytest.skip("this system permits no user namespaces to build the refusal in")
    (tmp_path / "definition.json").write_text(json.dumps(network_probe_home(home)))
    run = (
        "import json, sys; from pipelines.local.sagemaker.engine import run_definition; "
        "from pipelines.local.sagemaker.runners import ColdRunner; "
        "r = run_definition(sys.argv[1], json.load(open(sys.argv[2])), 'Net', runner=ColdRunner()); "
        "print(json.dumps([r['PipelineExecutionStatus'], r.get('FailureReason')]))"
    )
    confined = (
        "echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --bounding-set=-all "
        '--inh-caps=-all --ambient-caps=-all "$@"'
    )

    def engine(env):
        proc = subprocess.run(
            [
                "unshare",
                "-U",
                "-r",
                "sh",
                "-c",
                confined,
                "sh",
                sys.executable,
                "-c",
                run,
                str(home),
                str(tmp_path / "definition.json"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(os.environ, **env),
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    status, reason = engine({})
    assert status == "Failed"
    assert reason.startswith(
        "step ProbeTraining failed: a multi-host or network-isolated job's hosts run in a "
        "private network, which this system refused (unshare: "
    ), reason
    assert "set CHURN_ALLOW_OPEN_PORTS=1 to run them on this machine's network" in reason
    status, reason = engine({"CHURN_ALLOW_OPEN_PORTS": "1"})
    assert status == "Succeeded", reason


def test_metrics_conditions_and_step_properties(home, runner):
    train = training_step()
    check = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": {
                        "Get": "Steps.ProbeTraining.FinalMetricDataList['validation:auc'].Value"
                    },
                    "RightValue": {"Get": "Parameters.Threshold"},
                },
                {
                    "Type": "Not",
                    "Condition": {
                        "Type": "Equals",
                        "LeftValue": {"Get": "Parameters.N"},
                        "RightValue": 4,
                    },
                },
                {
                    "Type": "Or",
                    "Conditions": [
                        {"Type": "In", "QueryValue": {"Get": "Parameters.N"}, "Values": [1, 2, 3]},
                        {"Type": "LessThan", "LeftValue": 1, "RightValue": 0},
                    ],
                },
            ],
            "IfSteps": [
                {
                    "Name": "Good",
                    "Type": "Fail",
                    "Arguments": {
                        "ErrorMessage": {
                            "Std:Join": {
                                "On": " ",
                                "Values": [
                                    "auc",
                                    {
                                        "Get": "Steps.ProbeTraining.FinalMetricDataList['validation:auc'].Value"
                                    },
                                    "model",
                                    {"Get": "Steps.ProbeTraining.ModelArtifacts.S3ModelArtifacts"},
                                ],
                            }
                        }
                    },
                }
            ],
            "ElseSteps": [{"Name": "Bad", "Type": "Fail", "Arguments": {"ErrorMessage": "low"}}],
        },
    }
    record = run_definition(home, definition(train, check), "Cond", runner=runner)
    # The If branch is a FailStep here, so the message proves which branch ran and what
    # the expressions resolved to.
    assert record["PipelineExecutionStatus"] == "Failed"
    assert record["FailureReason"].startswith(
        "step Good failed: auc 0.75 model s3://probe-bucket/models/"
    )
    assert [s["StepName"] for s in record["Steps"]] == ["ProbeTraining", "Check", "Good"]
    record = run_definition(
        home, definition(train, check), "Cond", {"Threshold": 0.8}, runner=runner
    )
    assert record["FailureReason"] == "step Bad failed: low"
    assert record["Steps"][0]["CacheHit"] is None  # no CacheConfig on this step


def test_a_crashing_job_fails_the_run_with_its_log_tail(home, runner):
    crash = processing_step(
        entrypoint=[
            "python3",
            "-c",
            "import sys; print('loading rows'); raise RuntimeError('disk on fire')",
        ]
    )
    after = processing_step(name="After")
    after["DependsOn"] = ["Probe"]
    backend = SageMakerBackend(home, runner=runner)
    record = engine.Execution(backend, definition(crash, after), "Crash", {}).run()
    backend.close()
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "RuntimeError: disk on fire" in record["FailureReason"]
    assert [s["StepName"] for s in record["Steps"]] == ["Probe"]  # After never started
    step = record["Steps"][0]
    assert step["StepStatus"] == "Failed"
    log = (home / "executions" / record["PipelineExecutionId"] / "Probe" / "algo-1.log").read_text()
    assert "loading rows" in log and "disk on fire" in log


@pytest.mark.fast
def test_unsupported_steps_and_parameters_are_refused_up_front(home):
    # Every step that needs AWS is named, one line each with why, before anything runs.
    emr = {"Name": "Spark", "Type": "EMR", "Arguments": {}}
    callback = {"Name": "Notify", "Type": "Callback", "Arguments": {}}
    with pytest.raises(PipelineError) as refused:
        run_definition(home, definition(processing_step(), emr, callback), "X")
    assert str(refused.value).splitlines() == [
        "the local engine cannot run 2 of this pipeline's steps, so nothing ran:",
        "  step Spark (type EMR): it runs a step on an Amazon EMR cluster",
        "  step Notify (type Callback): it waits for a message from an Amazon SQS queue and a "
        "reply through SendPipelineExecutionStepSuccess",
    ]
    # A Lambda step names a function, and needs the home's Lambda twin (the workspace's).
    lam = {"Name": "Decide", "Type": "Lambda", "Arguments": {}, "FunctionArn": "arn:aws:s3:::b"}
    with pytest.raises(PipelineError, match=r"step Decide \(type Lambda\): FunctionArn 'arn:aws"):
        run_definition(home, definition(processing_step(), lam), "X")
    lam["FunctionArn"] = "arn:aws:lambda:us-east-1:123456789012:function:decide"
    with pytest.raises(PipelineError, match=r"\(type Lambda\): .* no Lambda twin attached"):
        run_definition(home, definition(processing_step(), lam), "X")
    with pytest.raises(PipelineError, match="unknown pipeline parameters Nope"):
        run_definition(home, definition(processing_step()), "X", {"Nope": 1})
    with pytest.raises(PipelineError, match="parameter N is Integer; 'many' is not one"):
        run_definition(home, definition(processing_step()), "X", {"N": "many"})
    assert not (home / "executions").exists()


@pytest.mark.fast
def test_retry_policies_and_durations():
    policies = [
        {"ExceptionType": ["Step.THROTTLING"], "IntervalSeconds": 1, "MaxAttempts": 9},
        {
            "ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"],
            "IntervalSeconds": 2,
            "BackoffRate": 3.0,
            "MaxAttempts": 4,
        },
    ]
    assert retry_delays(policies, "SageMaker.JOB_INTERNAL_ERROR") == [2.0, 6.0, 18.0]
    assert retry_delays(policies, "SageMaker.CAPACITY_ERROR") == []
    assert retry_delays(
        [{"ExceptionType": ["X"], "IntervalSeconds": 30, "BackoffRate": 2.0, "ExpireAfterMin": 2}],
        "X",
    ) == [30.0, 60.0]
    assert parse_duration("P30D") == 30 * 86400
    assert parse_duration("PT1H30M") == 5400
    assert parse_duration("P1Y") == 365 * 86400
    with pytest.raises(PipelineError):
        parse_duration("30 days")


def model_step(model_data_url):
    return {
        "Name": "CreateModel",
        "Type": "Model",
        "Arguments": {
            "ExecutionRoleArn": "arn:aws:iam::000000000000:role/r",
            "PrimaryContainer": {
                "Image": "image",
                "ModelDataUrl": model_data_url,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": BUCKET + "/serve/sourcedir.tar.gz",
                },
            },
        },
    }


def transform_step():
    return {
        "Name": "Score",
        "Type": "Transform",
        "Arguments": {
            "ModelName": {"Get": "Steps.CreateModel.ModelName"},
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": BUCKET + "/batch/"}
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": BUCKET + "/scored",
                "AssembleWith": "Line",
                "Accept": "text/csv",
            },
            "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge"},
            "BatchStrategy": "MultiRecord",
            "MaxPayloadInMB": 0.01,
            "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "Input"},
        },
    }


def test_create_model_and_batch_transform(home, runner, seed_model, seed_csv):
    """A Model step, then a Transform step with the real inference code: SplitType Line,
    MultiRecord batches under MaxPayloadInMB, AssembleWith Line, JoinSource Input."""
    import pandas as pd

    from pipelines.churn.bundles import build_bundles
    from pipelines.local.sagemaker.jobs.training import pack_model

    store = Store(home)
    tar = pack_model([seed_model["model"]], home / "model.tar.gz")
    store.put_file(BUCKET + "/model/model.tar.gz", tar)
    store.put_bytes(
        BUCKET + "/serve/sourcedir.tar.gz",
        build_bundles()["inference"].objects()["sourcedir.tar.gz"],
    )
    rows = pd.read_csv(seed_csv)[["age", "tenure", "balance", "num_products", "is_active"]]
    batch_a = rows.iloc[:700].to_csv(header=False, index=False)
    batch_b = rows.iloc[700:705].to_csv(header=False, index=False)
    store.put_bytes(BUCKET + "/batch/a.csv", batch_a.encode())
    store.put_bytes(BUCKET + "/batch/b.csv", batch_b.encode())
    model, transform = model_step(BUCKET + "/model/model.tar.gz"), transform_step()
    record = run_definition(home, definition(model, transform), "Batch", runner=runner)
    assert record["PipelineExecutionStatus"] == "Succeeded", record["FailureReason"]
    out_a = store.read_bytes(BUCKET + "/scored/a.csv.out").decode().splitlines()
    out_b = store.read_bytes(BUCKET + "/scored/b.csv.out").decode().splitlines()
    assert len(out_a) == 700 and len(out_b) == 5
    inputs = batch_a.splitlines()
    for line_in, line_out in zip(inputs, out_a):
        assert line_out.startswith(line_in + ",")  # input order, joined with the input
    # Several payload-limited requests (0.01 MB) give the same scores as one request would.
    expected = score_rows(seed_model["model"], batch_a)
    assert [line.split(",", 5)[5] for line in out_a] == expected


@pytest.mark.fast
def test_cache_entries_expire(tmp_path):
    from pipelines.local.sagemaker.backend import SageMakerBackend

    backend = SageMakerBackend(tmp_path)
    cache = backend.step_cache
    cache.store("P", "Train", "key", "exec1", {"TrainingJobName": "t"})
    assert cache.lookup("P", "Train", "key", parse_duration("P30D"))["execution_id"] == "exec1"
    assert cache.lookup("P", "Train", "other-key", parse_duration("P30D")) is None
    assert cache.lookup("P", "Train", "key", 0) is None  # ExpireAfter elapsed
    backend.close()


def test_a_step_waiting_on_a_step_that_never_runs_fails_the_execution(home, runner):
    orphan = processing_step(name="Orphan")
    orphan["DependsOn"] = ["Ghost"]
    record = run_definition(home, definition(orphan), "Orphan", runner=runner)
    assert record["PipelineExecutionStatus"] == "Failed"
    assert record["FailureReason"] == "steps Orphan wait on steps that never ran"
    assert record["EndTime"] is not None


@pytest.mark.fast
def test_a_condition_waits_on_what_it_reads_not_on_its_branches():
    """Branch steps that read each other (a Transform reading its Model step) are scheduled
    when the branch is chosen; the condition itself must not wait on them."""
    model = {"Name": "BatchModel", "Type": "Model", "Arguments": {}}
    transform = {
        "Name": "Score",
        "Type": "Transform",
        "Arguments": {"ModelName": {"Get": "Steps.BatchModel.ModelName"}},
    }
    condition = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "RightValue": 0.7,
                    "LeftValue": {
                        "Std:JsonGet": {
                            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"},
                            "Path": "auc",
                        }
                    },
                }
            ],
            "IfSteps": [model, transform],
            "ElseSteps": [],
        },
    }
    assert engine.dependencies(condition) == {"Evaluate"}
    assert engine.dependencies(transform) == {"BatchModel"}


@pytest.mark.fast
def test_enum_parameters_accept_only_their_values():
    definition = {
        "Parameters": [
            {
                "Name": "BatchJoinSource",
                "Type": "String",
                "DefaultValue": "None",
                "EnumValues": ["None", "Input"],
            }
        ]
    }
    assert engine.parameter_values(definition, {}) == {"BatchJoinSource": "None"}
    assert engine.parameter_values(definition, {"BatchJoinSource": "Input"}) == {
        "BatchJoinSource": "Input"
    }
    with pytest.raises(PipelineError, match="must be one of None, Input; 'input' is not one"):
        engine.parameter_values(definition, {"BatchJoinSource": "input"})


@pytest.mark.fast
@pytest.mark.parametrize(
    "uri, problem",
    [
        ("s3://churn-local//{outside}/evil.csv", "may not start with '/'"),
        ("s3://churn-local/a/../../{outside}/evil.csv", "'..'"),
        ("s3://../{outside}/evil.csv", "is not an S3 bucket name"),
        ("s3:///{outside}/evil.csv", "is not an S3 bucket name"),
    ],
)
def test_keys_that_would_leave_the_store_are_refused(tmp_path, uri, problem):
    """s3://bucket//abs/path once read and wrote any absolute path (a BatchOutputUrl wrote to
    an arbitrary folder): keys are confined to the store, with a one-line error."""
    outside = tmp_path / "outside"
    outside.mkdir()
    store = Store(tmp_path / "home")
    uri = uri.format(outside=str(outside).lstrip("/"))
    with pytest.raises(UserError, match=problem):  # a UserError: one line, no traceback
        store.put_bytes(uri, b"x")
    with pytest.raises(UserError, match=problem):
        store.objects(uri)
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "home").exists() or not any(
        p.name == "evil.csv" for p in (tmp_path / "home").rglob("*")
    )


@pytest.mark.fast
def test_a_link_out_of_the_store_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    store = Store(tmp_path / "home")
    (tmp_path / "home" / "s3" / "churn-local").mkdir(parents=True)
    (tmp_path / "home" / "s3" / "churn-local" / "out").symlink_to(outside)
    with pytest.raises(UserError, match="leads outside the local store"):
        store.put_bytes("s3://churn-local/out/evil.csv", b"x")
    assert list(outside.iterdir()) == []


def test_a_job_that_wrote_nothing_is_never_cached(home, runner):
    """TrainingInstanceCount=0 once 'succeeded' with an empty model.tar.gz that was cached, and
    every later run failed at EvaluateModel for 30 days. A step whose outputs are missing or
    empty is not cached, and a cache entry whose outputs vanished is not reused."""
    store = Store(home)
    store.put_bytes(BUCKET + "/empty/sourcedir.tar.gz", tarball({"probe.py": b"print('nothing')"}))
    train = training_step()
    hps = train["Arguments"]["HyperParameters"]
    hps["sagemaker_submit_directory"] = '"%s/empty/sourcedir.tar.gz"' % BUCKET
    train["CacheConfig"] = {"Enabled": True, "ExpireAfter": "P30D"}
    first = run_definition(home, definition(train), "Empty", runner=runner)
    second = run_definition(home, definition(train), "Empty", runner=runner)
    assert first["PipelineExecutionStatus"] == second["PipelineExecutionStatus"] == "Succeeded"
    assert second["Steps"][0]["CacheHit"] is None  # the empty model was not reused

    cached = processing_step()
    cached["CacheConfig"] = {"Enabled": True, "ExpireAfter": "P30D"}
    first = run_definition(home, definition(cached), "Gone", runner=runner)
    assert (
        run_definition(home, definition(cached), "Gone", runner=runner)["Steps"][0]["CacheHit"]
        == first["PipelineExecutionId"]
    )
    for path in store.objects("%s/%s/" % (BUCKET, first["PipelineExecutionId"])).values():
        path.unlink()  # what the cached job wrote is gone
    third = run_definition(home, definition(cached), "Gone", runner=runner)
    assert third["PipelineExecutionStatus"] == "Succeeded"
    assert third["Steps"][0]["CacheHit"] is None


@pytest.mark.fast
@pytest.mark.parametrize(
    "step, parameters, message",
    [
        (training_step(count=0), {}, "ResourceConfig.InstanceCount is 0; CreateTrainingJob takes"),
        (training_step(count=-1), {}, "ResourceConfig.InstanceCount is -1"),
        (processing_step(count=0), {}, "InstanceCount is 0; CreateProcessingJob takes 1 to 100"),
        (processing_step(count=101), {}, "InstanceCount is 101"),
        (
            processing_step(count={"Get": "Parameters.N"}),
            {"N": 0},
            "InstanceCount (parameter N) is 0",
        ),
    ],
)
def test_what_the_create_job_apis_refuse_is_refused_before_anything_runs(
    home, step, parameters, message
):
    with pytest.raises(PipelineError, match=re.escape(message)):
        run_definition(home, definition(step), "Refused", parameters)
    assert not (home / "executions").exists()


def crafted(kind, outside):
    """A tar.gz a hostile archive would hold: path traversal, an absolute path, a link."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("probe.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"#"))
        if kind == "traversal":
            info = tarfile.TarInfo("../../../../../../../../%s/evil.py" % outside.lstrip("/"))
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        elif kind == "absolute":
            info = tarfile.TarInfo(outside + "/evil.py")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        else:
            info = tarfile.TarInfo("evil")
            info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.CHRTYPE
            info.linkname = outside
            tar.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink", "device"])
def test_a_crafted_code_archive_fails_the_training_step_and_writes_nothing(
    home, runner, tmp_path, kind
):
    """The training job's code archive goes through the one extractor (as the transform job's
    model and code archives, serving, and evaluate.py do)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    Store(home).put_bytes(BUCKET + "/crafted/sourcedir.tar.gz", crafted(kind, str(outside)))
    train = training_step()
    train["Arguments"]["HyperParameters"]["sagemaker_submit_directory"] = (
        '"%s/crafted/sourcedir.tar.gz"' % BUCKET
    )
    record = run_definition(home, definition(train), "Crafted", runner=runner)
    assert record["PipelineExecutionStatus"] == "Failed"
    assert (
        "is unsafe" in record["FailureReason"]
        and "nothing was extracted" in record["FailureReason"]
    )
    assert list(outside.iterdir()) == []
    job = home / "executions" / record["PipelineExecutionId"] / "ProbeTraining"
    assert not list(job.rglob("evil*"))


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink", "device"])
def test_a_crafted_model_archive_fails_the_transform_step_and_writes_nothing(
    home, runner, tmp_path, kind
):
    """The Transform job unpacks the model archive CreateModel names with the same extractor."""
    from pipelines.churn.bundles import build_bundles

    outside = tmp_path / "outside"
    outside.mkdir()
    store = Store(home)
    store.put_bytes(BUCKET + "/crafted/model.tar.gz", crafted(kind, str(outside)))
    store.put_bytes(
        BUCKET + "/serve/sourcedir.tar.gz",
        build_bundles()["inference"].objects()["sourcedir.tar.gz"],
    )
    store.put_bytes(BUCKET + "/batch/a.csv", b"40,3,1000.0,2,1\n")
    steps = model_step(BUCKET + "/crafted/model.tar.gz"), transform_step()
    record = run_definition(home, definition(*steps), "Crafted", runner=runner)
    assert record["PipelineExecutionStatus"] == "Failed"
    assert record["FailureReason"].startswith("step Score failed: ")
    assert (
        "is unsafe" in record["FailureReason"]
        and "nothing was extracted" in record["FailureReason"]
    )
    assert list(outside.iterdir()) == []
    assert not list((home / "executions" / record["PipelineExecutionId"]).rglob("evil*"))
    assert not store.objects(BUCKET + "/scored/")


@pytest.mark.fast
def test_an_execution_id_cannot_climb_out_of_the_executions_folder(tmp_path):
    """`churn runs show ../x` (and the UI) name executions by id; an id is never a path."""
    backend = SageMakerBackend(tmp_path / "home")
    try:
        (tmp_path / "home" / "x").mkdir(parents=True)
        (tmp_path / "home" / "x" / "execution.json").write_text('{"StartTime": 0}')
        for bad in ("../x", "..", "x/../../x", ""):
            with pytest.raises(PipelineError, match="no execution"):
                backend.executions.load(bad)
    finally:
        backend.close()
