"""Run the container scripts one after another on a local folder, as the pipeline's jobs would.

This is `make run` until the local pipeline runner exists: every script runs as its own child
process with the same arguments and SM_* variables the SageMaker jobs give it, each step reading
the previous step's output folder. Tests use it for end-to-end checks too.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from pipelines.errors import UserError
from pipelines.local.sagemaker.jobs.training import pack_model

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {
    "validate": ROOT / "processing" / "validate.py",
    "preprocess": ROOT / "processing" / "preprocess.py",
    "train": ROOT / "training" / "train.py",
    "evaluate": ROOT / "evaluation" / "evaluate.py",
    "inference": ROOT / "inference" / "inference.py",
    "build_dataset": ROOT / "processing" / "build_dataset.py",
}


class StepFailed(UserError):
    """A script exited non-zero; the message ends with its last lines of standard error."""

    def __init__(self, step: str, returncode: int, stderr: str, log: Path) -> None:
        self.step = step
        lines = stderr.strip().splitlines()
        self.last_line = lines[-1] if lines else "step %s failed (exit %d)" % (step, returncode)
        last = "\n".join(lines[-15:])
        UserError.__init__(
            self, "step %s failed (exit %d); log: %s\n%s" % (step, returncode, log, last)
        )


def run_script(
    step: str, args: Sequence[object], workdir: Path, env: Optional[Mapping[str, str]] = None
) -> tuple[str, float]:
    """Run one container script as a child process; its output goes to <workdir>/logs/."""
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / (step + ".log")
    child_env = dict(os.environ)
    # Jobs must not spin on each other's cores (OpenMP busy-waits by default).
    child_env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    child_env.update(env or {})
    started = time.time()
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS[step])] + [str(a) for a in args],
        env=child_env,
        capture_output=True,
        text=True,
    )
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise StepFailed(step, proc.returncode, proc.stderr, log)
    return proc.stdout, time.time() - started


def run_sequence(
    data: Union[str, Path],
    schema: str,
    workdir: Union[str, Path],
    hyperparameters: Optional[Mapping[str, object]] = None,
    echo: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """validate -> preprocess -> train -> evaluate -> score a few raw rows. Returns a summary."""
    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    timings: dict[str, float] = {}

    def step(name: str, args: Sequence[object], env: Optional[Mapping[str, str]] = None) -> str:
        echo("  %-10s ..." % name)
        out, seconds = run_script(name, args, workdir, env)
        timings[name] = round(seconds, 2)
        echo("  %-10s done in %.1f s" % (name, seconds))
        return out

    step("validate", ["--input", data, "--schema", schema, "--output-dir", workdir / "validation"])
    step("preprocess", ["--input", data, "--schema", schema, "--output-dir", workdir / "processed"])
    hp_args: list[object] = []
    for key, value in sorted((hyperparameters or {}).items()):
        hp_args += ["--%s" % key, value]
    step(
        "train",
        hp_args,
        env={
            "SM_MODEL_DIR": str(workdir / "model"),
            "SM_CHANNEL_TRAIN": str(workdir / "processed" / "train"),
            "SM_CHANNEL_VALIDATION": str(workdir / "processed" / "validation"),
            "SM_CHANNEL_PREPROCESSING": str(workdir / "processed" / "preprocessing"),
        },
    )
    tarball = pack_model([workdir / "model"], workdir / "artifacts" / "model.tar.gz")
    step(
        "evaluate",
        [
            "--model-dir",
            tarball.parent,
            "--test-dir",
            workdir / "processed" / "test",
            "--output-dir",
            workdir / "evaluation",
        ],
    )
    sample = workdir / "sample.csv"
    with open(data, encoding="utf-8") as f:
        sample.write_text("".join(f.readline() for _ in range(6)))  # header + 5 rows
    scores = step("inference", ["--model-dir", workdir / "model", "--input", sample])

    report = json.loads((workdir / "evaluation" / "evaluation.json").read_text())
    metrics = report["binary_classification_metrics"]
    return {
        "workdir": str(workdir),
        "model": str(tarball),
        "auc": metrics["auc"]["value"],
        "auc_std": metrics["auc"]["standard_deviation"],
        "accuracy": metrics["accuracy"]["value"],
        "f1": metrics["f1"]["value"],
        "sample_scores": scores.strip().splitlines(),
        "seconds": timings,
    }
