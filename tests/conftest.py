"""Shared test helpers: where the scripts and the public datasets are, and how to run a script."""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The test files sit in one folder per layer (tests/README.md), without __init__.py: pytest
# imports each under its own name, which is unique across the folders. Every folder is on the
# path from the start, so a test module imports another's helpers by that name
# (`from test_serve import start_server`) whichever subset of the suite runs.
for _folder in sorted(Path(__file__).resolve().parent.iterdir()):
    if _folder.is_dir() and any(_folder.glob("test_*.py")) and str(_folder) not in sys.path:
        sys.path.insert(1, str(_folder))
# Every answer a twin gives, in this process and in every process the tests start, is checked
# against its operation's output shape in botocore's model (pipelines/local/api.py).
os.environ["CHURN_CHECK_ANSWERS"] = "1"
SHARED_DATA = ROOT.parent / "shared" / "data"
BANK = SHARED_DATA / "bank_churn_modelling.csv"
TELCO = SHARED_DATA / "telco_customer_churn.csv"
BIGML = SHARED_DATA / "churn_bigml_80.csv"
# Each table's AUC in stratified 5-fold cross-validation (README). One seeded test split of 15%
# draws its AUC within about two of its bootstrap standard deviations of it (seeds 1-5 of the
# hashed split gave bank 0.861-0.885, telco 0.854-0.874; seed 42 0.858 and 0.838).
REFERENCE_AUC = {"bank": 0.866, "telco": 0.846}


def reaches_reference_auc(table: str, auc: float, sd: float) -> bool:
    return auc >= REFERENCE_AUC[table] - 2 * sd


needs_shared_data = pytest.mark.skipif(
    not BANK.is_file(), reason="../shared/data is not next to this checkout"
)


def churn_cli(home, *args, env=None, timeout=600):
    """The `churn` command as a user runs it, in its own process, with `home` as CHURN_HOME."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli"] + [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(os.environ, CHURN_HOME=str(home), **(env or {})),
        timeout=timeout,
    )


def churn_workspace(home):
    """A Workspace of `home` as the `churn` command opens it: its local endpoints' serving
    processes are `churn serve` (the command's launcher)."""
    from pipelines.cli.serve import serving_argv
    from pipelines.workspace import Workspace

    return Workspace(home, launcher=serving_argv)


def register_versions(home, *statuses):
    """Versions 1, 2, ... of churn-seed in the home's registry, with these approval statuses
    (their packages name a container whose artifact does not exist: the commands under test
    only record a decision, or deploy no further than CreateModel)."""
    from pipelines.local.sagemaker.database import connect
    from pipelines.local.sagemaker.registry import Registry

    db = connect(home)
    try:
        for status in statuses:
            Registry(db).create_model_package(
                {
                    "ModelPackageGroupName": "churn-seed",
                    "ModelApprovalStatus": status,
                    "InferenceSpecification": {
                        "Containers": [{"Image": "i", "ModelDataUrl": "s3://none/model.tar.gz"}]
                    },
                }
            )
    finally:
        db.close()


def run(script, *args, env=None, check=None):
    """Run a container script (path relative to the repo) as a child process."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(ROOT / script)] + [str(a) for a in args],
        capture_output=True,
        text=True,
        env=full_env,
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def write_model_inputs(data, schema, workdir):
    """preprocess + train a model on `data`; returns the folders as a dict."""
    processed = workdir / "processed"
    run(
        "processing/preprocess.py",
        "--input",
        data,
        "--schema",
        schema,
        "--output-dir",
        processed,
        check=0,
    )
    model = workdir / "model"
    run(
        "training/train.py",
        env={
            "SM_MODEL_DIR": str(model),
            "SM_CHANNEL_TRAIN": str(processed / "train"),
            "SM_CHANNEL_VALIDATION": str(processed / "validation"),
            "SM_CHANNEL_PREPROCESSING": str(processed / "preprocessing"),
        },
        check=0,
    )
    return {"processed": processed, "model": model}


def changed_schema(path, base, on_invalid=None, **features):
    """A copy of the shipped schema `base` at `path`, with the named features' fields updated
    (`age={"completeness": 0.9}`) and, given, the schema's on_invalid."""
    import json

    schema = json.loads((ROOT / "processing" / "schemas" / (base + ".json")).read_text())
    for spec in schema["features"]:
        spec.update(features.pop(spec["name"], {}))
    assert not features, "no such features: %s" % ", ".join(features)
    if on_invalid:
        schema["on_invalid"] = on_invalid
    schema["name"] = path.stem
    path.write_text(json.dumps(schema))
    return path


@pytest.fixture(scope="session")
def seed_csv(tmp_path_factory):
    from pipelines.churn.datagen import write_csv

    path = tmp_path_factory.mktemp("seed-data") / "churn.csv"
    write_csv(3000, 7, path)
    return path


@pytest.fixture(scope="session")
def seed_model(seed_csv, tmp_path_factory):
    """A model trained by the real scripts on generated seed-schema data."""
    return write_model_inputs(seed_csv, "seed", tmp_path_factory.mktemp("seed-model"))


@pytest.fixture(scope="session")
def lenient_seed_model(seed_csv, tmp_path_factory):
    """A seed model whose schema lets tenure be missing and flags (scores) rows that break
    another rule, instead of refusing them."""
    folder = tmp_path_factory.mktemp("lenient-seed-model")
    schema = changed_schema(
        folder / "lenient.json", "seed", on_invalid="flag", tenure={"completeness": 0.5}
    )
    return write_model_inputs(seed_csv, schema, folder)


@pytest.fixture(scope="session")
def bank_model(tmp_path_factory):
    if not BANK.is_file():
        pytest.skip("../shared/data is not next to this checkout")
    return write_model_inputs(BANK, "bank", tmp_path_factory.mktemp("bank-model"))


# ----------------------------------------------------------------------------- the fast marker


# A test marked fast (`make test-fast`) promises to start no process: while its fixtures are set
# up and while it runs, starting one fails it, naming the command, so the promise cannot rot.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("fast") is None:
        _share_a_job_parent()
    with _no_process_if_fast(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with _no_process_if_fast(item):
        return (yield)


@contextlib.contextmanager
def _no_process_if_fast(item):
    if item.get_closest_marker("fast") is None:
        yield
        return
    popen_init = subprocess.Popen.__init__

    def refuse(self, args, *rest, **kwargs):
        pytest.fail("a test marked fast started a process: %r; unmark it" % (args,))

    subprocess.Popen.__init__ = refuse
    try:
        yield
    finally:
        subprocess.Popen.__init__ = popen_init


# The runs of one test process fork their jobs from one warm parent (runners.SharedJobParent)
# instead of each importing pandas, xgboost and Great Expectations in a parent of its own: a
# fifth of the suite's CPU time. Started before the first test that may start a process; the
# tests of the unshared parent itself take the variable out of their environment.
_job_parent = []


def _share_a_job_parent():
    from pipelines.local.sagemaker.runners import SHARED_PARENT, SharedJobParent

    if _job_parent or SHARED_PARENT in os.environ:
        return
    folder = Path(tempfile.mkdtemp(prefix="churn-tests-job-parent-"))
    _job_parent.append((SharedJobParent(folder / "warm-parent.log"), folder))
    os.environ.update(_job_parent[0][0].environment)


def pytest_sessionfinish(session):
    for parent, folder in _job_parent:
        for variable in parent.environment:
            os.environ.pop(variable, None)
        parent.close()
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- AWS stand-in

# Never let boto look for credentials on the instance-metadata address: tests talk to 127.0.0.1.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """A moto server on loopback: the AWS APIs over real HTTP, with dummy credentials."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield "http://127.0.0.1:%d" % port
    server.stop()


@pytest.fixture
def aws_env(moto_server):
    """Environment for a child process that should reach only the moto server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": moto_server,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


@pytest.fixture
def moto_executes(moto_server):
    """moto's Step Functions runs the executions it starts (its executor), for this test."""
    import json
    import urllib.request

    def configure(on):
        urllib.request.urlopen(urllib.request.Request(
            moto_server + "/moto-api/config", method="POST",
            data=json.dumps({"stepfunctions": {"execute_state_machine": on}}).encode(),
            headers={"Content-Type": "application/json"}), timeout=30).read()  # fmt: skip

    configure(True)
    yield
    configure(False)


def aws_client(service, env):
    import boto3

    return boto3.client(
        service,
        region_name=env["AWS_DEFAULT_REGION"],
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(aws_env, request):
    """A fresh bucket per test, so tests sharing the server do not see each other's objects."""
    import re
    import uuid

    name = "churn-%s-%s" % (
        re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:30].strip("-"),
        uuid.uuid4().hex[:8],
    )
    aws_client("s3", aws_env).create_bucket(Bucket=name)
    return name


def load_inference():
    """inference/inference.py imported from its file, as the serving container imports it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "churn_inference", ROOT / "inference" / "inference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_rows(model_dir, csv_text):
    """Reference scores (CSV lines) for headerless rows, from the handlers in this process."""
    module = load_inference()
    model = module.model_fn(str(model_dir))
    body, _ = module.output_fn(
        module.predict_fn(module.input_fn(csv_text, "text/csv"), model), "text/csv"
    )
    return body.splitlines()
