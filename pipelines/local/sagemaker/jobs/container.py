"""What every local job shares: a host's stand-in filesystem, its environment, its inputs, and
how its failure is read (docs/container-contracts.md sections 1, 2 and 10).

Each instance ("host") of a job gets its own folder standing in for the container's filesystem:
every path the request names under /opt/ml lives at <job folder>/<host>/opt/ml/..., and the
entrypoint, arguments and SM_* values are rewritten to those folders. Inputs are copied from the
local store before the process starts, outputs copied back after it exits 0, exactly when
SageMaker downloads and uploads them.

What differs from a container, on purpose: `python3`/`python` run this interpreter (the project's
virtualenv has every package the images have); each job gets a thread budget (OMP_NUM_THREADS)
and a passive OpenMP wait policy, so jobs sharing two cores do not spin against each other.
"""

from __future__ import annotations  # the job processes import this: no typing at run time

import collections
import json
import os
import shutil
import sys
from pathlib import Path

from pipelines.local.sagemaker.expressions import as_text
from pipelines.local.sagemaker.failure import StepFailure
from processing.churn_job import ArchiveError, extract_archive

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Protocol, Sequence, Union

    from pipelines.local.s3 import Store

    # What a runner answers for each host it ran: (host, return code, log path).
    Results = list[tuple[str, int, Path]]

    class Runner(Protocol):
        """What a job kind asks of its runner (pipelines/local/sagemaker/runners.py)."""

        def run(
            self, launches: list[Launch], timeout: Optional[float], private_network: bool = ...
        ) -> Results: ...


CORES = os.cpu_count() or 1
BASE_ENV_KEYS = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
LOG_TAIL_LINES = 20

# One host's process as a runner starts it (pipelines/local/sagemaker/runners.py). `stop`: a
# file whose appearance asks the runner to send the process SIGTERM, as StopTrainingJob does
# (a tuning job stopping a trial early: tuning/trials.py); None for a job nothing stops.
Launch = collections.namedtuple("Launch", "host argv env cwd log stop", defaults=(None,))


def hosts_of(count: Union[int, str]) -> list[str]:
    return ["algo-%d" % (i + 1) for i in range(int(count))]


def thread_budget(concurrent: int) -> int:
    return max(1, CORES // max(1, concurrent))


class Container(object):
    """One host's stand-in filesystem: maps /opt/ml/... to <root>/opt/ml/..."""

    def __init__(self, root: Union[str, Path]) -> None:
        self.root = Path(root)

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def rewrite(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("/opt/ml"):
            return str(self.path(value))
        return value


def base_env(threads: int) -> dict[str, str]:
    env = {k: os.environ[k] for k in BASE_ENV_KEYS if k in os.environ}
    # The job's python3 is this interpreter; its scripts find the same packages.
    env["PATH"] = os.pathsep.join(
        [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
    )
    env.update(
        {
            "OMP_NUM_THREADS": str(threads),
            "OMP_WAIT_POLICY": "PASSIVE",
            "OPENBLAS_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
            "PYTHONUNBUFFERED": "1",
        }
    )
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # machine quirks, see the env notes
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def stringify_app(request: dict[str, Any]) -> dict[str, Any]:
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


def command(argv: Sequence[str]) -> list[str]:
    """python3 / python in an entrypoint mean this interpreter."""
    if argv and os.path.basename(argv[0]) in ("python3", "python"):
        return [sys.executable] + list(argv[1:])
    return list(argv)


def write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, default=str))


def copy_inputs(
    store: Store, uri: str, destination: Path, shard: Optional[tuple[int, int]] = None
) -> int:
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


def tail(path: Union[str, Path], lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def last_message(text: str) -> str:
    """The last unindented log line and the indented lines under it: a script's error with
    its details, or the exception line that ends a traceback."""
    lines = [line for line in text.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if not line[0].isspace()]
    return "\n".join(lines[starts[-1] :]) if starts else "\n".join(lines[-1:])


def raise_first_failure(results: Results, failure_file: Optional[Callable[[str], Path]]) -> None:
    for host, code, log in results:
        if code != 0:
            message = ""
            if failure_file is not None:
                path = failure_file(host)
                if path.is_file():
                    message = path.read_text(errors="replace").strip()[:1024]
            tail_text = tail(log)
            reason = message or last_message(tail_text)
            raise StepFailure("%s exited with code %d: %s" % (host, code, reason), log, tail_text)


def timed_out(timeout: float, log: Union[str, Path]) -> StepFailure:
    return StepFailure(
        "MaxRuntimeInSeconds (%d s) exceeded; the job was stopped" % timeout, log, tail(log)
    )


def unpack(archive: Path, destination: Path, uri: str) -> None:
    """A code or model archive from the store, unpacked with the one safe extractor."""
    try:
        extract_archive(archive, destination, label=uri)
    except ArchiveError as e:
        raise StepFailure(str(e))


def job_usage(rusage: Any) -> dict[str, float]:
    """A finished job process's peak memory and CPU time, from os.wait4's resource usage
    (Linux counts ru_maxrss in KiB, and includes the children it waited for)."""
    return {
        "max_rss_mb": round(rusage.ru_maxrss / 1024.0, 1),
        "cpu_seconds": round(rusage.ru_utime + rusage.ru_stime, 3),
    }
