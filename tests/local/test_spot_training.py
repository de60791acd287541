"""Managed Spot Training locally: TrainModel checkpoints into the local store, and a training
killed part-way (as a Spot interruption stops it) resumes from its last checkpoint when the
pipeline runs again."""

import glob
import os
import re
import signal
import subprocess
import sys
import time

from conftest import ROOT

ROUNDS = 1500  # long enough to be killed after its first checkpoints, seconds in all


def churn_run(home):
    return [
        sys.executable,
        "-m",
        "pipelines.cli",
        "run",
        "--home",
        str(home),
        "--rows",
        "3000",
        "--spot",
        "--param",
        "NumRound=%d" % ROUNDS,
        "--param",
        "EarlyStoppingRounds=0",
    ]


def training_process(code_dir):
    """The pid of the training process working in `code_dir` (the job's /opt/ml/code; a job
    forked from the warm parent has no environment of its own in /proc)."""
    for cwd in glob.glob("/proc/[0-9]*/cwd"):
        try:
            if os.readlink(cwd) == code_dir:
                return int(cwd.split("/")[2])
        except OSError:  # gone, or not ours
            continue
    return None


def kill_training_after_first_checkpoint(home, proc, deadline=120):
    started = time.time()
    while time.time() - started < deadline:
        assert proc.poll() is None, "the run ended before a checkpoint was written"
        found = glob.glob(str(home / "executions/*/TrainModel/algo-1/opt/ml/checkpoints/*.ubj"))
        if found:
            pid = training_process(
                os.path.normpath(os.path.join(os.path.dirname(found[0]), "..", "code"))
            )
            if pid:
                os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.05)
    raise AssertionError("no checkpoint within %d s" % deadline)


def test_a_killed_spot_training_resumes_from_its_checkpoint(tmp_path):
    home = tmp_path / "home"
    first = subprocess.Popen(
        churn_run(home), cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    kill_training_after_first_checkpoint(home, first)
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 1, out
    assert re.search(r"TrainModel\s+Failed", out), out
    saved = sorted(
        (home / "s3/churn-local/churn/checkpoints/train").glob("checkpoint-*.ubj")
    )  # the store keeps what the stopped job wrote
    assert saved, out
    done = max(int(p.stem.rsplit("-", 1)[1]) for p in saved)
    assert 0 < done < ROUNDS

    second = subprocess.run(
        churn_run(home), cwd=str(ROOT), capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "from cache" in second.stdout  # the steps before training are not repeated
    logs = sorted(home.glob("executions/*/TrainModel/algo-1.log"), key=os.path.getmtime)
    log = logs[-1].read_text()
    resumed = re.search(r"resuming from checkpoint checkpoint-\w+-(\d+)\.ubj \((\d+) of", log)
    assert resumed, log[-2000:]
    assert int(resumed.group(2)) == int(resumed.group(1)) >= done
    assert "%d rounds kept" % ROUNDS in log  # the resumed job finished every round
    assert "[0]\t" not in log  # and did not start over
    assert re.search(r"auc 0\.[6-9]", second.stdout), second.stdout
