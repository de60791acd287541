"""A full disk, for real: a small tmpfs mounted for the test (root, as on these machines; the
tests skip where mounting is not allowed). Neither staging nor data capture may ever publish a
partial object or record, and both must recover when space returns."""

import errno
import json
import os
import subprocess
import urllib.request

import pytest
from test_serve import SEED_ROW, request, start_server, stop

from conftest import churn_cli, register_versions


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % made.stderr.strip())
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def grow(mount, size):
    subprocess.run(["mount", "-o", "remount,size=%s" % size, str(mount)], check=True)


def invoke(url, inference_id):
    req = urllib.request.Request(
        url + "/invocations",
        data=SEED_ROW.encode(),
        headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": inference_id},
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.status


def records_of(capture):
    """Every capture line, each of which must be a whole record."""
    records = []
    for root, _, names in os.walk(capture):
        for name in names:
            with open(os.path.join(root, name), encoding="utf-8") as f:
                text = f.read()
            assert text == "" or text.endswith("\n"), "a partial record ends %s" % name
            records += [json.loads(line) for line in text.splitlines()]
    return records


def test_capture_survives_a_full_disk_and_resumes_when_space_returns(
    seed_model, tmp_path, small_disk
):
    """After one ENOSPC the writer stopped for good: requests got 200 and were never
    captured, the file ended in a partial line and SIGTERM drained nothing."""
    proc, url = start_server(tmp_path / "home", small_disk, "--model-dir", str(seed_model["model"]))
    try:
        sent = 0
        while sent < 3000:  # about 600 records fill 256 KB
            assert invoke(url, "before-%d" % sent) == 200
            sent += 1
            if sent % 100 == 0:
                headers = urllib.request.urlopen(url + "/ping", timeout=30).headers
                if int(headers["X-Churn-Capture-Dropped"]) > 0:
                    break
        dropped = int(
            urllib.request.urlopen(url + "/ping", timeout=30).headers["X-Churn-Capture-Dropped"]
        )
        assert dropped > 0, "the disk never filled"
        grow(small_disk, "8m")  # space returns
        for i in range(200):
            assert invoke(url, "after-%d" % i) == 200
        assert request(url + "/ping", method="GET")[0] == 200
    finally:
        stop(proc)
    records = records_of(small_disk)
    ids = [r["eventMetadata"].get("inferenceId", "") for r in records]
    assert sum(1 for i in ids if i.startswith("after-")) == 200  # every one after recovery
    assert sum(1 for i in ids if i.startswith("before-")) + dropped >= sent
    assert "records dropped so far" in proc.stderr.read()


def test_monitor_skips_and_counts_a_partial_capture_line(tmp_path):
    """churn monitor crashed on the partial line a full disk used to leave."""
    capture = tmp_path / "capture" / "churn-local" / "AllTraffic" / "2026" / "11" / "30" / "10"
    capture.mkdir(parents=True)
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": SEED_ROW,
                "encoding": "CSV",
            }
        },
        "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-30T10:00:00Z"},
        "eventVersion": "0",
    }
    line = json.dumps(record)
    (capture / "a.jsonl").write_text((line + "\n") * 20 + line[: len(line) // 2])
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    (baseline / "statistics.json").write_text(json.dumps({"features": []}))
    (baseline / "constraints.json").write_text(json.dumps({"features": []}))
    proc = churn_cli(
        tmp_path / "home",
        "monitor",
        "--baseline-dir",
        baseline,
        "--capture-dir",
        tmp_path / "capture",
        "--output",
        tmp_path / "out",
    )
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1 unreadable capture line" in proc.stdout
    assert "20 captured rows checked" in proc.stdout


def test_staging_on_a_full_disk_publishes_nothing_and_a_later_run_recovers(tmp_path, small_disk):
    """A full disk while `churn run --data FILE` copied the file left a partial object that
    every later run validated or trained on."""
    from pipelines.churn.datagen import write_csv

    table = tmp_path / "customers.csv"
    write_csv(10000, 5, table)  # about 600 KB: more than the disk holds
    home = small_disk / "home"
    full = churn_cli(home, "run", "--data", table, "--json")
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
    assert "No space left on device" in full.stderr.strip().splitlines()[-1]
    staged = [p for p in home.rglob("*") if p.is_file() and "churn/data" in str(p)]
    assert staged == []  # nothing half-written under a key, no temporary file left

    grow(small_disk, "64m")
    again = churn_cli(home, "run", "--data", table, "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    result = json.loads(again.stdout)
    log = home / "executions" / result["execution_id"] / "ValidateData" / "algo-1.log"
    assert "validate: 10000 rows" in log.read_text()


def test_a_read_only_home_is_one_line(tmp_path, small_disk):
    """A read-only home was a traceback (root writes through file modes, so the test mounts the
    home read-only)."""
    from pipelines.churn.datagen import write_csv

    table = tmp_path / "customers.csv"
    write_csv(500, 5, table)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    proc = churn_cli(small_disk / "home", "run", "--data", table)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "Read-only file system" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("models", "approve", "churn-seed/1"),
        ("models", "reject", "churn-seed/1"),
        # deploy --local records a model in the registry before anything starts
        ("deploy", "--local", "--endpoint-name", "e", "--model-version", "churn-seed/2"),
    ],
)
def test_a_registry_write_on_a_read_only_home_is_one_line(small_disk, args):
    """The registry's database on a read-only home was a traceback (sqlite3's
    OperationalError: attempt to write a readonly database)."""
    home = small_disk / "home"
    register_versions(home, "PendingManualApproval", "Approved")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    proc = churn_cli(home, *args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("churn %s: error: " % args[0]), lines[0]
    assert "readonly database" in lines[0] and str(home) in lines[0], lines[0]
    assert "make %s writable" % home in lines[0], lines[0]


def fill(mount):
    """Write zeros into `mount` until its disk is full."""
    try:
        with open(mount / "filler", "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
    except OSError as e:
        assert e.errno == errno.ENOSPC, e


def test_runs_list_and_show_read_a_full_home(small_disk):
    """Listing settles a record whose process was killed (Executing, process gone) and saves
    it: on a full disk that save failed the whole listing ("No space left on device")."""
    from pipelines.local.sagemaker.records import ExecutionRecords

    home = small_disk / "home"
    gone = subprocess.Popen(["true"])
    gone.wait()
    ExecutionRecords(home).save(
        {
            "PipelineExecutionId": "killed-run",
            "PipelineName": "ChurnPipeline",
            "PipelineExecutionStatus": "Executing",
            "StartTime": 1.0,
            "EndTime": None,
            "FailureReason": None,
            "Parameters": {},
            "Steps": [],
            "ProcessId": gone.pid,
        }
    )
    fill(small_disk)
    listed = churn_cli(home, "runs", "list")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert listed.stdout.split()[:2] == ["killed-run", "Failed"], listed.stdout
    shown = churn_cli(home, "runs", "show", "killed-run")
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert "ChurnPipeline killed-run: Failed" in shown.stdout
    assert "killed?" in shown.stdout
