"""A CreateTrainingJob request in script mode run as local processes
(docs/container-contracts.md section 2): channels copied in, the config files and SM_* variables
the training toolkit would set, hyperparameters as arguments, the hosts' /opt/ml/model packed
into model.tar.gz, FinalMetricDataList scraped from the logs with the MetricDefinitions.

A job in the XGBoost image's algorithm mode (its TrainingImage the XGBoost image, no
`sagemaker_program`: algorithms.py) runs the image's built-in trainer instead of a script, here
training/xgboost_algorithm.py, with the variables the image's algorithm mode reads
(SM_INPUT_TRAINING_CONFIG_FILE, SM_INPUT_DATA_CONFIG_FILE, SM_CHANNEL_*, SM_MODEL_DIR), and
the algorithm's metric definitions applied to its log as SageMaker applies a built-in
algorithm's (section 2.9).

A multi-host job learns the XGBoost tracker's loopback address from CHURN_TRACKER_URI, since the
hosts' names (algo-1, ...) do not resolve on this machine, and its hosts share a private network
(network.py). So does a job with EnableNetworkIsolation: its hosts reach nothing but each other,
as on SageMaker, where the code arrives through the `code` channel the SDK adds.

CheckpointConfig: each host's LocalPath (CHURN_CHECKPOINT_DIR names its stand-in folder) is
filled from S3Uri before the job, and what the hosts wrote there is copied back to S3Uri when
the job ends however it ends, as SageMaker keeps the checkpoints of a stopped or interrupted
job: a job started again with the same CheckpointConfig resumes from them.
"""

from __future__ import annotations  # kept light as the job layer: no typing at run time

import json
import re
import socket
import sys
import tarfile
import time
from pathlib import Path

from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker import algorithms
from pipelines.local.sagemaker.jobs.container import (
    Container,
    Launch,
    StepFailure,
    base_env,
    copy_inputs,
    hosts_of,
    raise_first_failure,
    thread_budget,
    unpack,
    write_json,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Iterable, Union

    from pipelines.local.s3 import Store
    from pipelines.local.sagemaker.jobs.container import Runner


def decode_hyperparameter(value: Any) -> Any:
    """The toolkit json.loads each value when it can ("5" -> 5, '"train.py"' -> "train.py")."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


def encode_env(value: Any) -> str:
    """mapping.to_env_vars: strings raw, None empty, anything else compact sorted JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def cli_args(hyperparameters: dict[str, Any]) -> list[str]:
    """mapping.to_cmd_args: sorted keys, `--key value` (`-k` for one letter), str() values,
    dicts as k1=v1,k2=v2."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        if isinstance(value, dict):
            value = ",".join("%s=%s" % (k, v) for k, v in sorted(value.items()))
        args += ["-" + key if len(key) == 1 else "--" + key, str(value)]
    return args


def training_env(
    request: dict[str, Any],
    job_name: str,
    host: str,
    hosts: list[str],
    c: Container,
    threads: int,
    region: str,
) -> tuple[dict[str, str], dict[str, Any], str]:
    hps_raw = request.get("HyperParameters") or {}
    decoded = {k: decode_hyperparameter(v) for k, v in hps_raw.items()}
    user_hps = {k: v for k, v in decoded.items() if not k.startswith("sagemaker_")}
    framework = {
        k: v
        for k, v in decoded.items()
        if k.startswith("sagemaker_")
        and k
        not in (
            "sagemaker_program",
            "sagemaker_submit_directory",
            "sagemaker_region",
            "sagemaker_job_name",
            "sagemaker_container_log_level",
        )
    }
    channels = sorted(ch["ChannelName"] for ch in request.get("InputDataConfig", []))
    program = decoded.get("sagemaker_program", "")
    input_config = json.loads(c.path("/opt/ml/input/config/inputdataconfig.json").read_text())
    resource_config = json.loads(c.path("/opt/ml/input/config/resourceconfig.json").read_text())
    log_level = decoded.get("sagemaker_container_log_level", 20)
    env: dict[str, Any] = {
        "SM_MODEL_DIR": "/opt/ml/model",
        "SM_CHANNELS": channels,
        "SM_HPS": user_hps,
        "SM_USER_ARGS": cli_args(user_hps),
        "SM_HOSTS": hosts,
        "SM_CURRENT_HOST": host,
        "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_NUM_CPUS": threads,
        "SM_NUM_GPUS": 0,
        "SM_LOG_LEVEL": log_level,
        "SM_INPUT_DIR": "/opt/ml/input",
        "SM_INPUT_CONFIG_DIR": "/opt/ml/input/config",
        "SM_OUTPUT_DIR": "/opt/ml/output",
        "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
        "SM_OUTPUT_INTERMEDIATE_DIR": "/opt/ml/output/intermediate",
        "SM_MODULE_NAME": program[:-3] if program.endswith(".py") else program,
        "SM_MODULE_DIR": decoded.get("sagemaker_submit_directory", ""),
        "SM_USER_ENTRY_POINT": program,
        "SM_FRAMEWORK_MODULE": "sagemaker_xgboost_container.training:main",
        "SM_FRAMEWORK_PARAMS": framework,
        "SM_RESOURCE_CONFIG": resource_config,
        "SM_INPUT_DATA_CONFIG": input_config,
    }
    for name in channels:
        env["SM_CHANNEL_" + name.upper()] = "/opt/ml/input/data/" + name
    for key, value in user_hps.items():
        env["SM_HP_" + key.upper()] = value
    env["SM_TRAINING_ENV"] = {
        "channel_input_dirs": {n: "/opt/ml/input/data/" + n for n in channels},
        "current_host": host,
        "hosts": hosts,
        "hyperparameters": user_hps,
        "input_data_config": input_config,
        "job_name": job_name,
        "log_level": log_level,
        "model_dir": "/opt/ml/model",
        "module_name": env["SM_MODULE_NAME"],
        "num_cpus": threads,
        "num_gpus": 0,
        "output_data_dir": "/opt/ml/output/data",
        "resource_config": resource_config,
        "user_entry_point": program,
    }
    out = {k: c.rewrite(encode_env(v)) for k, v in env.items()}
    # Paths inside JSON values (SM_TRAINING_ENV, ...) point at the host folder too.
    root = str(c.root)
    for key in ("SM_TRAINING_ENV",):
        out[key] = out[key].replace('"/opt/ml', '"' + root + "/opt/ml")
    out.update(
        {
            "TRAINING_JOB_NAME": job_name,
            "SAGEMAKER_JOB_NAME": job_name,
            "TRAINING_JOB_ARN": sagemaker_arn("training-job", job_name),
            "CURRENT_HOST": host,
            "SAGEMAKER_REGION": region,
            "PYTHONPATH": str(c.path("/opt/ml/code")),
        }
    )
    return out, user_hps, program


def pack_model(folders: Iterable[Path], tar_path: Path) -> Path:
    """model.tar.gz: the files of every host's folder at the archive root (SageMaker merges
    the hosts' /opt/ml/model)."""
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "w:gz") as tar:
        for folder in folders:
            for item in sorted(folder.rglob("*")):
                if item.is_file():
                    tar.add(str(item), arcname=str(item.relative_to(folder)))
    return tar_path


def final_metrics(
    definitions: list[dict[str, Any]], logs: Iterable[Union[str, Path]]
) -> list[dict[str, Any]]:
    """Apply MetricDefinitions to the job logs with tabs as #011 (CloudWatch's spelling); the
    last value of each metric wins, as in FinalMetricDataList."""
    found: dict[str, float] = {}
    for log in logs:
        for line in Path(log).read_text(errors="replace").splitlines():
            line = line.replace("\t", "#011")
            for d in definitions:
                m = re.search(d["Regex"], line)
                if m:
                    try:
                        found[d["Name"]] = float(m.group(1))
                    except (IndexError, ValueError):
                        pass
    return [{"MetricName": k, "Value": v, "Timestamp": time.time()} for k, v in found.items()]


def check_algorithm_mode(request: dict[str, Any], version: str) -> None:
    """What the local XGBoost algorithm cannot do as the image does, refused before anything
    runs (docs/container-contracts.md section 2.9)."""
    if not algorithms.saves_with_save_model(version):
        raise StepFailure(
            "XGBoost image %s: its algorithm mode pickles the model; the local twin runs the "
            "algorithm of images 1.3-1 and later (Booster.save_model)" % version
        )
    if int(request["ResourceConfig"]["InstanceCount"]) > 1:
        raise StepFailure("the local XGBoost algorithm trains on one instance (InstanceCount 1)")
    if request.get("CheckpointConfig"):
        raise StepFailure("the local XGBoost algorithm does not take a CheckpointConfig")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_training(
    request: dict[str, Any],
    job_name: str,
    workdir: Union[str, Path],
    store: Store,
    runner: Runner,
    region: str = "local",
    concurrent_jobs: int = 1,
) -> dict[str, Any]:
    """Run a CreateTrainingJob request (script mode); returns DescribeTrainingJob's shape.
    `concurrent_jobs`: how many jobs run beside it (a tuning job's parallel trials), which
    share the thread budget."""
    started = time.time()
    resources = request["ResourceConfig"]
    hosts = hosts_of(resources["InstanceCount"])
    threads = thread_budget(len(hosts) * concurrent_jobs)
    hps = request.get("HyperParameters") or {}
    submit = decode_hyperparameter(hps.get("sagemaker_submit_directory", '""'))
    algorithm = algorithms.training_algorithm(request)
    if algorithm is not None:
        check_algorithm_mode(request, algorithm)
    elif not submit:
        raise StepFailure(
            "the training request has no sagemaker_submit_directory: the local "
            "runner runs script-mode jobs and the XGBoost image's algorithm mode only"
        )
    isolated = bool(request.get("EnableNetworkIsolation"))
    checkpoint = request.get("CheckpointConfig")
    checkpoint_dir = (checkpoint or {}).get("LocalPath") or "/opt/ml/checkpoints"
    tracker = "127.0.0.1:%d" % _free_port() if len(hosts) > 1 else None
    launches: list[Launch] = []
    containers: dict[str, Container] = {}
    for host in hosts:
        c = containers[host] = Container(Path(workdir) / host)
        data_config = {}
        for channel in request.get("InputDataConfig", []):
            name = channel["ChannelName"]
            source = channel["DataSource"]["S3DataSource"]
            shard = None
            if source.get("S3DataDistributionType") == "ShardedByS3Key":
                shard = (hosts.index(host), len(hosts))
            copy_inputs(store, source["S3Uri"], c.path("/opt/ml/input/data/" + name), shard)
            entry = {
                "TrainingInputMode": request["AlgorithmSpecification"].get(
                    "TrainingInputMode", "File"
                ),
                "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            }
            if channel.get("ContentType"):
                entry["ContentType"] = channel["ContentType"]
            data_config[name] = entry
        config = c.path("/opt/ml/input/config")
        write_json(config / "hyperparameters.json", hps)
        write_json(config / "inputdataconfig.json", data_config)
        write_json(
            config / "resourceconfig.json",
            {
                "current_host": host,
                "hosts": hosts,
                "network_interface_name": "eth0",
                "current_instance_type": resources.get("InstanceType", "local"),
            },
        )
        for folder in ("/opt/ml/model", "/opt/ml/output/data", "/opt/ml/output/intermediate"):
            c.path(folder).mkdir(parents=True, exist_ok=True)
        c.path("/opt/ml/code").mkdir(parents=True, exist_ok=True)
        if algorithm is None:
            # Under network isolation the code is a channel's file (/opt/ml/input/data/code/...).
            code_archive = c.path(submit) if submit.startswith("/opt/ml/") else store.file(submit)
            unpack(code_archive, c.path("/opt/ml/code"), submit)
        if checkpoint:
            copy_inputs(store, checkpoint["S3Uri"].rstrip("/") + "/", c.path(checkpoint_dir))
        env, user_hps, program = training_env(request, job_name, host, hosts, c, threads, region)
        env = dict(base_env(threads), **env)
        env.update({k: str(v) for k, v in (request.get("Environment") or {}).items()})
        if tracker:
            env["CHURN_TRACKER_URI"] = tracker
        if checkpoint:
            env["CHURN_CHECKPOINT_DIR"] = str(c.path(checkpoint_dir))
        if algorithm is not None:
            # What the image's algorithm mode reads (its sm_env_constants).
            env["SM_INPUT_TRAINING_CONFIG_FILE"] = str(config / "hyperparameters.json")
            env["SM_INPUT_DATA_CONFIG_FILE"] = str(config / "inputdataconfig.json")
            env["SM_CHECKPOINT_CONFIG_FILE"] = str(config / "checkpointconfig.json")
            env["CHURN_XGBOOST_IMAGE_VERSION"] = algorithm  # the image knows its own version
            argv = [sys.executable, str(algorithms.TRAINER)]
        else:
            module = program[:-3] if program.endswith(".py") else program
            # The XGBoost image runs the entry point as a module from /opt/ml/code.
            argv = [sys.executable, "-m", module] + cli_args(user_hps)
        launches.append(
            Launch(host, argv, env, c.path("/opt/ml/code"), Path(workdir) / (host + ".log"))
        )
    timeout = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    # XGBoost's collective listens on every interface: several hosts get a network of their own.
    try:
        results = runner.run(launches, timeout, private_network=len(hosts) > 1 or isolated)
    finally:
        if checkpoint:
            for c in containers.values():
                store.upload_folder(c.path(checkpoint_dir), checkpoint["S3Uri"])
    raise_first_failure(results, lambda h: containers[h].path("/opt/ml/output/failure"))

    output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    model_uri = "%s/%s/output/model.tar.gz" % (output_path, job_name)
    tmp = Path(workdir) / "model.tar.gz"
    pack_model([c.path("/opt/ml/model") for c in containers.values()], tmp)
    store.put_file(model_uri, tmp)
    definitions = list(request["AlgorithmSpecification"].get("MetricDefinitions") or [])
    if algorithm is not None:  # a built-in algorithm's own definitions, as SageMaker applies them
        named = {d["Name"] for d in definitions}
        definitions += [d for d in algorithms.METRIC_DEFINITIONS if d["Name"] not in named]
    metrics = final_metrics(definitions, [log for _, _, log in results])
    return dict(
        request,
        TrainingJobName=job_name,
        TrainingJobArn=sagemaker_arn("training-job", job_name),
        TrainingJobStatus="Completed",
        SecondaryStatus="Completed",
        ModelArtifacts={"S3ModelArtifacts": model_uri},
        FinalMetricDataList=metrics,
        TrainingStartTime=started,
        TrainingEndTime=time.time(),
    )
