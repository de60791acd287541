"""Processing and training jobs as child processes (SAGEMAKER_CONTRACTS.md sections 1, 2, 10).

Each instance ("host") of a job gets its own folder standing in for the container's filesystem:
every path the request names under /opt/ml lives at <job folder>/<host>/opt/ml/..., and the
entrypoint, arguments and SM_* values are rewritten to those folders. Inputs are copied from the
local store before the process starts, outputs copied back after it exits 0, exactly when
SageMaker downloads and uploads them.

What differs from a container, on purpose: `python3`/`python` run this interpreter (the project's
virtualenv has every package the images have); each job gets a thread budget (OMP_NUM_THREADS)
and a passive OpenMP wait policy, so jobs sharing two cores do not spin against each other; and a
multi-host training job learns the XGBoost tracker's loopback address from CHURN_TRACKER_URI,
since the hosts' names (algo-1, ...) do not resolve on this machine.
"""
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from pipelines.local.expressions import as_text

CORES = os.cpu_count() or 1
BASE_ENV_KEYS = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
LOG_TAIL_LINES = 20


class JobFailed(Exception):
    """A job ended without success; `reason` is what DescribeJob's FailureReason would say."""

    def __init__(self, reason, log=None, tail=""):
        Exception.__init__(self, reason)
        self.reason = reason
        self.log = log
        self.tail = tail


def hosts_of(count):
    return ["algo-%d" % (i + 1) for i in range(int(count))]


def thread_budget(concurrent):
    return max(1, CORES // max(1, concurrent))


class Container(object):
    """One host's stand-in filesystem: maps /opt/ml/... to <root>/opt/ml/..."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, container_path):
        return self.root / container_path.lstrip("/")

    def rewrite(self, value):
        if isinstance(value, str) and value.startswith("/opt/ml"):
            return str(self.path(value))
        return value


def base_env(threads):
    env = {k: os.environ[k] for k in BASE_ENV_KEYS if k in os.environ}
    # The job's python3 is this interpreter; its scripts find the same packages.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin",
                                   "/bin"])
    env.update({"OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE",
                "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                "PYTHONUNBUFFERED": "1"})
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # machine quirks, see the env notes
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _stringify_app(request):
    """The API takes container arguments and environment values as strings; a pipeline
    parameter in them arrives as its text."""
    request = dict(request)
    app = dict(request["AppSpecification"])
    for key in ("ContainerEntrypoint", "ContainerArguments"):
        if app.get(key):
            app[key] = [as_text(v) for v in app[key]]
    request["AppSpecification"] = app
    if request.get("Environment"):
        request["Environment"] = {k: as_text(v) for k, v in request["Environment"].items()}
    return request


def _command(argv):
    """python3 / python in an entrypoint mean this interpreter."""
    if argv and os.path.basename(argv[0]) in ("python3", "python"):
        return [sys.executable] + list(argv[1:])
    return list(argv)


def _write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, default=str))


def _copy_inputs(store, uri, destination, shard=None):
    """Download an S3Prefix input. `shard` = (index, count) for ShardedByS3Key: objects are
    dealt out by sorted key, as SageMaker deals about 1/n of the objects to each instance."""
    destination.mkdir(parents=True, exist_ok=True)
    objects = sorted(store.objects(uri).items())
    if shard is not None:
        index, count = shard
        objects = objects[index::count]
    for relative, source in objects:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return len(objects)


def _tail(path, lines=LOG_TAIL_LINES):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


class ColdRunner(object):
    """Each host a fresh process, as a container would start it."""

    last_usage = {}  # not measured here

    def run(self, launches, timeout):
        """Start every host, wait for all; returns [(host, returncode, log)]."""
        started = []
        for host, argv, env, cwd, log in launches:
            with open(log, "wb") as out:  # the child keeps its own descriptor
                started.append((host, subprocess.Popen(
                    argv, env=env, cwd=str(cwd), stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL), log))
        deadline = time.time() + timeout if timeout else None
        results = []
        for host, proc, log in started:
            try:
                code = proc.wait(timeout=max(1, deadline - time.time()) if deadline else None)
            except subprocess.TimeoutExpired:
                for _, other, _ in started:
                    other.kill()
                raise _timed_out(timeout, log)
            results.append((host, code, log))
        return results

    def close(self):
        pass


class WarmRunner(object):
    """Hosts forked from a zygote that has the heavy libraries imported already
    (pipelines/local/zygote.py); anything but a Python entry point runs cold."""

    def __init__(self, log):
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "pipelines.local.zygote"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, env=dict(os.environ, **base_env(CORES)),
                                     cwd=str(Path(__file__).resolve().parents[2]))
        self.ready = False
        self.last_usage = {}
        self.waited = 0.0  # seconds the first job waited for the imports to finish

    def run(self, launches, timeout):
        if any(argv[0] != sys.executable for _, argv, _, _, _ in launches):
            self.last_usage = {}
            return ColdRunner().run(launches, timeout)
        if not self.ready:  # the preloading overlapped whatever the engine did meanwhile
            started = time.time()
            self._read()
            self.ready = True
            self.waited = time.time() - started
        request = {"launches": [{"host": h, "argv": a, "env": e, "cwd": str(c), "log": str(l)}
                                for h, a, e, c, l in launches], "timeout": timeout}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        reply = self._read()
        self.last_usage = reply.get("usage", {})
        logs = {h: l for h, _, _, _, l in launches}
        if reply["timed_out"]:
            raise _timed_out(timeout, logs[launches[0][0]])
        return [(h, code, logs[h]) for h, code in reply["results"]]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise OSError("the warm job parent stopped; see %s" % self.log.name)
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            if self.ready:
                self.proc.stdin.close()  # end of requests: the zygote exits
                self.proc.wait(timeout=30)
            else:
                self.proc.kill()  # never used (every step came from the cache): no waiting
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


def _timed_out(timeout, log):
    return JobFailed("MaxRuntimeInSeconds (%d s) exceeded; the job was stopped" % timeout,
                     log, _tail(log))


def last_message(tail):
    """The last unindented log line and the indented lines under it: a script's error with
    its details, or the exception line that ends a traceback."""
    lines = [l for l in tail.splitlines() if l.strip()]
    starts = [i for i, l in enumerate(lines) if not l[0].isspace()]
    return "\n".join(lines[starts[-1]:]) if starts else "\n".join(lines[-1:])


def _raise_first_failure(results, failure_file):
    for host, code, log in results:
        if code != 0:
            message = ""
            if failure_file is not None:
                path = failure_file(host)
                if path.is_file():
                    message = path.read_text(errors="replace").strip()[:1024]
            tail = _tail(log)
            reason = message or last_message(tail)
            raise JobFailed("%s exited with code %d: %s" % (host, code, reason), log, tail)


# ----------------------------------------------------------------------------- processing

def run_processing(request, job_name, workdir, store, runner):
    """Run a CreateProcessingJob request; returns its DescribeProcessingJob-shaped dict."""
    started = time.time()
    request = _stringify_app(request)
    cluster = request["ProcessingResources"]["ClusterConfig"]
    hosts = hosts_of(cluster["InstanceCount"])
    threads = thread_budget(len(hosts))
    app = request["AppSpecification"]
    inputs = request.get("ProcessingInputs", [])
    outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    arn = "arn:aws:sagemaker:local:000000000000:processing-job/%s" % job_name.lower()
    launches, containers = [], {}
    for index, host in enumerate(hosts):
        c = containers[host] = Container(Path(workdir) / host)
        for item in inputs:
            s3 = item["S3Input"]
            shard = (index, len(hosts)) if s3.get(
                "S3DataDistributionType") == "ShardedByS3Key" else None
            _copy_inputs(store, s3["S3Uri"], c.path(s3["LocalPath"]), shard)
        for item in outputs:
            c.path(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        c.path("/opt/ml/output").mkdir(parents=True, exist_ok=True)
        config = dict(request, ProcessingJobArn=arn, ProcessingJobName=job_name)
        _write_json(c.path("/opt/ml/config/processingjobconfig.json"), config)
        _write_json(c.path("/opt/ml/config/resourceconfig.json"),
                    {"current_host": host, "hosts": hosts})
        env = base_env(threads)
        env.update(request.get("Environment") or {})
        argv = [c.rewrite(a) for a in (app.get("ContainerEntrypoint") or [])
                + (app.get("ContainerArguments") or [])]
        if not argv:
            raise JobFailed("the request has no ContainerEntrypoint: the local runner cannot "
                            "run an image's built-in entry point")
        launches.append((host, _command(argv), env, c.root, Path(workdir) / (host + ".log")))
    timeout = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    results = runner.run(launches, timeout)
    _raise_first_failure(results, lambda h: containers[h].path("/opt/ml/output/message"))
    for host, c in containers.items():
        for item in outputs:
            store.upload_folder(c.path(item["S3Output"]["LocalPath"]), item["S3Output"]["S3Uri"])
    message = containers[hosts[0]].path("/opt/ml/output/message")
    return dict(request, ProcessingJobName=job_name, ProcessingJobArn=arn,
                ProcessingJobStatus="Completed",
                ExitMessage=message.read_text()[:1024] if message.is_file() else "",
                ProcessingStartTime=started, ProcessingEndTime=time.time())


# ----------------------------------------------------------------------------- training

def decode_hyperparameter(value):
    """The toolkit json.loads each value when it can ("5" -> 5, '"train.py"' -> "train.py")."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


def encode_env(value):
    """mapping.to_env_vars: strings raw, None empty, anything else compact sorted JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def cli_args(hyperparameters):
    """mapping.to_cmd_args: sorted keys, `--key value` (`-k` for one letter), str() values,
    dicts as k1=v1,k2=v2."""
    args = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        if isinstance(value, dict):
            value = ",".join("%s=%s" % (k, v) for k, v in sorted(value.items()))
        args += ["-" + key if len(key) == 1 else "--" + key, str(value)]
    return args


def training_env(request, job_name, host, hosts, c, threads, region):
    hps_raw = request.get("HyperParameters") or {}
    decoded = {k: decode_hyperparameter(v) for k, v in hps_raw.items()}
    user_hps = {k: v for k, v in decoded.items() if not k.startswith("sagemaker_")}
    framework = {k: v for k, v in decoded.items() if k.startswith("sagemaker_") and k not in (
        "sagemaker_program", "sagemaker_submit_directory", "sagemaker_region",
        "sagemaker_job_name", "sagemaker_container_log_level")}
    channels = sorted(ch["ChannelName"] for ch in request.get("InputDataConfig", []))
    program = decoded.get("sagemaker_program", "")
    input_config = json.loads(c.path("/opt/ml/input/config/inputdataconfig.json").read_text())
    resource_config = json.loads(c.path("/opt/ml/input/config/resourceconfig.json").read_text())
    log_level = decoded.get("sagemaker_container_log_level", 20)
    env = {
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
        "current_host": host, "hosts": hosts, "hyperparameters": user_hps,
        "input_data_config": input_config, "job_name": job_name,
        "log_level": log_level, "model_dir": "/opt/ml/model",
        "module_name": env["SM_MODULE_NAME"], "num_cpus": threads, "num_gpus": 0,
        "output_data_dir": "/opt/ml/output/data", "resource_config": resource_config,
        "user_entry_point": program}
    out = {k: c.rewrite(encode_env(v)) for k, v in env.items()}
    # Paths inside JSON values (SM_TRAINING_ENV, ...) point at the host folder too.
    root = str(c.root)
    for key in ("SM_TRAINING_ENV",):
        out[key] = out[key].replace('"/opt/ml', '"' + root + "/opt/ml")
    out.update({"TRAINING_JOB_NAME": job_name, "SAGEMAKER_JOB_NAME": job_name,
                "TRAINING_JOB_ARN": "arn:aws:sagemaker:local:000000000000:training-job/%s"
                                    % job_name.lower(),
                "CURRENT_HOST": host, "SAGEMAKER_REGION": region,
                "PYTHONPATH": str(c.path("/opt/ml/code"))})
    return out, user_hps, program


def extract_code(tarball, destination):
    """Unpack sourcedir.tar.gz, refusing members that could land outside `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:*") as tar:
        members = tar.getmembers()
        for m in members:
            if m.name.startswith("/") or ".." in m.name.split("/") or not (m.isfile() or m.isdir()):
                raise JobFailed("code archive member %r is unsafe (absolute, '..', link or "
                                "device); nothing was extracted" % m.name)
        for m in members:
            target = destination.joinpath(*m.name.split("/"))
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)


def pack_model(folders, tar_path):
    """model.tar.gz: the files of every host's folder at the archive root (SageMaker merges
    the hosts' /opt/ml/model)."""
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "w:gz") as tar:
        for folder in folders:
            for item in sorted(folder.rglob("*")):
                if item.is_file():
                    tar.add(str(item), arcname=str(item.relative_to(folder)))
    return tar_path


def final_metrics(definitions, logs):
    """Apply MetricDefinitions to the job logs with tabs as #011 (CloudWatch's spelling); the
    last value of each metric wins, as in FinalMetricDataList."""
    found = {}
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


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_training(request, job_name, workdir, store, runner, region="local"):
    """Run a CreateTrainingJob request (script mode); returns DescribeTrainingJob's shape."""
    started = time.time()
    resources = request["ResourceConfig"]
    hosts = hosts_of(resources["InstanceCount"])
    threads = thread_budget(len(hosts))
    hps = request.get("HyperParameters") or {}
    submit = decode_hyperparameter(hps.get("sagemaker_submit_directory", '""'))
    if not submit:
        raise JobFailed("the training request has no sagemaker_submit_directory: the local "
                        "runner runs script-mode jobs only")
    tarball = store.read_bytes(submit)
    tracker = "127.0.0.1:%d" % _free_port() if len(hosts) > 1 else None
    launches, containers = [], {}
    for host in hosts:
        c = containers[host] = Container(Path(workdir) / host)
        data_config = {}
        for channel in request.get("InputDataConfig", []):
            name = channel["ChannelName"]
            source = channel["DataSource"]["S3DataSource"]
            shard = None
            if source.get("S3DataDistributionType") == "ShardedByS3Key":
                shard = (hosts.index(host), len(hosts))
            _copy_inputs(store, source["S3Uri"], c.path("/opt/ml/input/data/" + name), shard)
            entry = {"TrainingInputMode": request["AlgorithmSpecification"].get(
                "TrainingInputMode", "File"),
                "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None")}
            if channel.get("ContentType"):
                entry["ContentType"] = channel["ContentType"]
            data_config[name] = entry
        config = c.path("/opt/ml/input/config")
        _write_json(config / "hyperparameters.json", hps)
        _write_json(config / "inputdataconfig.json", data_config)
        _write_json(config / "resourceconfig.json", {
            "current_host": host, "hosts": hosts, "network_interface_name": "eth0",
            "current_instance_type": resources.get("InstanceType", "local")})
        for folder in ("/opt/ml/model", "/opt/ml/output/data", "/opt/ml/output/intermediate"):
            c.path(folder).mkdir(parents=True, exist_ok=True)
        extract_code(tarball, c.path("/opt/ml/code"))
        env, user_hps, program = training_env(request, job_name, host, hosts, c, threads, region)
        env = dict(base_env(threads), **env)
        env.update({k: str(v) for k, v in (request.get("Environment") or {}).items()})
        if tracker:
            env["CHURN_TRACKER_URI"] = tracker
        module = program[:-3] if program.endswith(".py") else program
        # The XGBoost image runs the entry point as a module from /opt/ml/code.
        argv = [sys.executable, "-m", module] + cli_args(user_hps)
        launches.append((host, argv, env, c.path("/opt/ml/code"),
                         Path(workdir) / (host + ".log")))
    timeout = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    results = runner.run(launches, timeout)
    _raise_first_failure(results, lambda h: containers[h].path("/opt/ml/output/failure"))

    output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    model_uri = "%s/%s/output/model.tar.gz" % (output_path, job_name)
    tmp = Path(workdir) / "model.tar.gz"
    pack_model([c.path("/opt/ml/model") for c in containers.values()], tmp)
    store.put_file(model_uri, tmp)
    metrics = final_metrics(request["AlgorithmSpecification"].get("MetricDefinitions", []),
                            [log for _, _, log in results])
    return dict(request, TrainingJobName=job_name,
                TrainingJobArn="arn:aws:sagemaker:local:000000000000:training-job/%s"
                               % job_name.lower(),
                TrainingJobStatus="Completed", SecondaryStatus="Completed",
                ModelArtifacts={"S3ModelArtifacts": model_uri},
                FinalMetricDataList=metrics, TrainingStartTime=started,
                TrainingEndTime=time.time())


# ----------------------------------------------------------------------------- transform

def run_transform(request, job_name, workdir, store, runner, model):
    """Run a CreateTransformJob request against a model made by CreateModel (`model`)."""
    started = time.time()
    processing = request.get("DataProcessing") or {}
    for key in ("InputFilter", "OutputFilter"):
        if processing.get(key, "$") != "$":
            raise JobFailed("DataProcessing.%s %r: the local runner supports only '$'"
                            % (key, processing[key]))
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    env_model = container.get("Environment") or {}
    c = Container(Path(workdir) / "algo-1")
    model_dir = c.path("/opt/ml/model")
    extract_code(store.read_bytes(container["ModelDataUrl"]), model_dir)
    submit = env_model.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    code_dir = model_dir / "code"
    if submit.startswith("s3://"):
        extract_code(store.read_bytes(submit), code_dir)
    program = env_model.get("SAGEMAKER_PROGRAM")
    if not program or not (code_dir / program).is_file():
        raise JobFailed("the model has no inference program (SAGEMAKER_PROGRAM %r in %s)"
                        % (program, code_dir))
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    input_dir, output_dir = c.path("/opt/ml/input/data"), c.path("/opt/ml/output/data")
    if _copy_inputs(store, source["S3Uri"], input_dir) == 0:
        raise JobFailed("no input objects under %s" % source["S3Uri"])
    output_dir.mkdir(parents=True, exist_ok=True)
    transform_input, transform_output = request["TransformInput"], request["TransformOutput"]
    strategy = request.get("BatchStrategy") or "MultiRecord"
    payload = request.get("MaxPayloadInMB") or 6
    env = dict(base_env(CORES), **{k: as_text(v) for k, v in env_model.items()})
    env.update({"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(payload),
                "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD" if strategy == "SingleRecord"
                else "MULTI_RECORD",
                "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(
                    request.get("MaxConcurrentTransforms") or 1)})
    env.update({k: as_text(v) for k, v in (request.get("Environment") or {}).items()})
    argv = [sys.executable, "-m", "pipelines.local.batch_worker",
            "--model-dir", str(model_dir), "--code-dir", str(code_dir), "--program", program,
            "--input-dir", str(input_dir), "--output-dir", str(output_dir),
            "--content-type", transform_input.get("ContentType") or "text/csv",
            "--accept", transform_output.get("Accept") or "text/csv",
            "--split-type", transform_input.get("SplitType") or "None",
            "--strategy", strategy, "--max-payload-mb", str(payload),
            "--assemble-with", transform_output.get("AssembleWith") or "None",
            "--join-source", processing.get("JoinSource") or "None"]
    log = Path(workdir) / "algo-1.log"
    timeout = (request.get("ModelClientConfig") or {}).get("InvocationsTimeoutInSeconds")
    results = runner.run([("algo-1", argv, env, c.root, log)], None if timeout is None
                         else timeout * 100)
    _raise_first_failure(results, None)
    store.upload_folder(output_dir, transform_output["S3OutputPath"])
    return dict(request, TransformJobName=job_name, TransformJobStatus="Completed",
                TransformJobArn="arn:aws:sagemaker:local:000000000000:transform-job/%s"
                                % job_name.lower(),
                TransformStartTime=started, TransformEndTime=time.time())
