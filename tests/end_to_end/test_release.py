"""`churn release` end to end on a local home: two registered versions of real models (served by
`churn serve` behind the hosting twin), the staged flow run by the command as a user runs it.

Version 1 is the seed model; version 2 the lenient seed model (tenure may be missing, rows
breaking a rule are flagged): both score the same rows, but version 2's answer has a third,
flags field, so each answer says which fleet gave it."""

import io
import os
import pty
import select
import subprocess
import sys
import tarfile
import threading
import time

import pytest

from pipelines.churn.bundles import build_bundles
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.local.sagemaker.api import SageMakerClient
from pipelines.local.sagemaker.runtime import RuntimeClient

from conftest import ROOT, churn_cli, churn_workspace

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ROW = "age,tenure,balance,num_products,is_active\n40,5,100000,2,1"
FAST = ("--approve", "--requests", "40", "--canary-percent", "50", "--canary-wait", "2")


def register(ws, model, key):
    """A version of `model` as a pipeline registers it: its artifact under `key` and the
    serving code in the home's store, the package naming both."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path in sorted(model["model"].iterdir()):
            tar.add(str(path), arcname=path.name)
    artifact = "s3://%s/%s/models/%s/model.tar.gz" % (LOCAL_BUCKET, PREFIX, key)
    ws.store.put_bytes(artifact, archive.getvalue())
    bundles = build_bundles()
    ws.staging.stage_code(bundles)
    submit = bundles["inference"].uri(LOCAL_BUCKET, PREFIX)
    return ws.registry.create_model_package({
        "ModelPackageGroupName": "churn-seed", "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {"Containers": [{
            "Image": IMAGE, "ModelDataUrl": artifact,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": submit}}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    })["ModelPackageArn"]  # fmt: skip


@pytest.fixture
def home(tmp_path, seed_model, lenient_seed_model):
    home = tmp_path / "home"
    with churn_workspace(home) as ws:
        register(ws, seed_model, "v1")
        register(ws, lenient_seed_model, "v2")
    yield home
    with churn_workspace(home) as ws:
        for e in ws.hosting.list_endpoints():
            ws.hosting.delete_endpoint(e["EndpointName"])


def on_a_terminal(home, answer, *args):
    """`churn` run with a terminal as its stdin and stdout, `answer` typed once it asks:
    (exit status, what the terminal showed, stderr)."""
    master, child_side = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], stdin=child_side,
                            stdout=child_side, stderr=subprocess.PIPE, cwd=str(ROOT),
                            env=dict(os.environ, CHURN_HOME=str(home)))  # fmt: skip
    os.close(child_side)
    shown, deadline = b"", time.time() + 120
    while b"[y/N]" not in shown and time.time() < deadline and proc.poll() is None:
        if select.select([master], [], [], 0.2)[0]:
            shown += os.read(master, 4096)
    os.write(master, answer.encode() + b"\n")
    with proc.stderr:
        errors = proc.stderr.read().decode()
    status = proc.wait(timeout=120)
    while select.select([master], [], [], 0.1)[0]:
        try:
            shown += os.read(master, 4096)
        except OSError:  # the terminal's other side closed
            break
    os.close(master)
    return status, shown.decode(errors="replace"), errors


def prod_config(home):
    with churn_workspace(home) as ws:
        return SageMakerClient(ws.sagemaker).describe_endpoint(EndpointName="churn-prod")


def test_a_release_stops_at_a_failing_staging_and_replaces_prod_under_load(home):
    first = churn_cli(home, "release", "--model-version", "1", *FAST)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("staging: version 1 of churn-seed serves churn-staging")
    assert lines[1].startswith("stage test churn-staging: 40 requests, 0 errors")
    assert lines[2] == "approval: given by --approve"
    assert lines[3].startswith("prod: version 1 of churn-seed serves churn-prod") and (
        lines[3].endswith(", created")
    )
    assert lines[4].startswith("stage test churn-prod: 40 requests, 0 errors")
    before = prod_config(home)["EndpointConfigName"]

    # (i) A latency budget no endpoint meets: staging fails, prod is never touched.
    failed = churn_cli(home, "release", "--model-version", "2", *FAST, "--p99-ms", "0.001")
    assert failed.returncode == 1
    assert "failed (p99 over the budget)" in failed.stdout
    assert failed.stderr.strip() == (
        "churn release: error: version 2 of churn-seed failed on churn-staging: churn-prod "
        "not touched"
    )
    assert "Traceback" not in failed.stderr and "prod:" not in failed.stdout
    described = prod_config(home)
    assert (described["EndpointConfigName"], described["EndpointStatus"]) == (
        before,
        "InService",
    )

    # No terminal and no --approve: refused before prod, in one line.
    asked = churn_cli(home, "release", "--model-version", "2", "--requests", "10")
    assert asked.returncode == 1 and asked.stderr.strip() == (
        "churn release: error: approval: no terminal to ask on: pass --approve to promote "
        "version 2 of churn-seed to churn-prod"
    )
    assert prod_config(home)["EndpointConfigName"] == before
    # On a terminal it asks; anything but y or yes leaves prod alone.
    status, shown, errors = on_a_terminal(home, "n", "release", "--model-version", "2",
                                          "--requests", "10")  # fmt: skip
    assert "promote version 2 of churn-seed to churn-prod? [y/N]" in shown
    assert status == 1 and errors.strip() == (
        "churn release: error: approval: not given: prod not touched"
    )
    assert prod_config(home)["EndpointConfigName"] == before

    # (ii) Version 2 passes and replaces prod through a canary while requests keep coming.
    answers, stop = [], threading.Event()

    def load():
        with churn_workspace(home) as ws:
            runtime = RuntimeClient(ws.sagemaker)
            while not stop.is_set():
                try:
                    body = runtime.invoke_endpoint(EndpointName="churn-prod", Body=ROW.encode(),
                                                   ContentType="text/csv", Accept="text/csv")  # fmt: skip
                    answers.append((time.time(), body["Body"].read().decode().strip()))
                except Exception as e:  # every failure is what the test counts
                    answers.append((time.time(), repr(e)))
                time.sleep(0.005)

    senders = [threading.Thread(target=load) for _ in range(2)]
    for t in senders:
        t.start()
    try:
        released = churn_cli(home, "release", "--model-version", "2", *FAST)
    finally:
        time.sleep(0.3)
        stop.set()
        for t in senders:
            t.join()
    assert released.returncode == 0, released.stderr
    assert "prod: version 2 of churn-seed serves churn-prod" in released.stdout
    assert "after a canary of 50% for 2 s" in released.stdout
    after = prod_config(home)
    assert after["EndpointConfigName"] != before and after["EndpointStatus"] == "InService"
    # version 1 answers "score,label", version 2 "score,label," (an empty flags field)
    old = [t for t, a in answers if a.count(",") == 1]
    new = [t for t, a in answers if a.count(",") == 2]
    failed = [a for _, a in answers if a.count(",") not in (1, 2)]
    assert failed == [] and len(answers) > 100
    assert old and new
    first_new = min(new)
    # The canary: both fleets answered in its first seconds, then only green.
    assert [t for t in old if t > first_new], "no request answered by blue during the canary"
    assert max(old) < first_new + 4.5

    # (e) A version that passes staging but not prod's own objective (a budget prod cannot
    # meet) goes through the canary and is rolled back to what prod served before.
    rolled = churn_cli(home, "release", "--model-version", "1", *FAST, "--prod-p99-ms", "0.001")
    assert rolled.returncode == 1
    lines = rolled.stdout.splitlines()
    assert lines[1].startswith("stage test churn-staging: 40 requests, 0 errors")
    assert "stage test churn-prod" in lines[4] and "failed (p99 over the budget)" in lines[4]
    assert (
        lines[5]
        == "prod: rolled back: churn-prod serves config %s again" % (after["EndpointConfigName"])
    )
    assert rolled.stderr.strip() == (
        "churn release: error: version 1 of churn-seed failed on churn-prod and was rolled back"
    )
    back = prod_config(home)
    assert (back["EndpointConfigName"], back["EndpointStatus"]) == (
        after["EndpointConfigName"],
        "InService",
    )
    with churn_workspace(home) as ws:
        answer = RuntimeClient(ws.sagemaker).invoke_endpoint(
            EndpointName="churn-prod", Body=ROW.encode(), ContentType="text/csv"
        )
        assert answer["Body"].read().decode().strip().count(",") == 2  # version 2's answer
