"""`churn local`: the home's twins on one loopback endpoint, each over its AWS wire protocol
(pipelines/local/endpoint/, docs/adr/0015), for code that makes its own clients: boto3, the AWS
CLI, the SageMaker Python SDK, with

    export AWS_ENDPOINT_URL=http://127.0.0.1:4566

and any credentials. It also keeps a warm job parent (docs/adr/0002) that the executions it
starts, and `churn run` in a shell given its exports (CHURN_JOB_PARENT), fork their jobs from
instead of importing the libraries again. Runs until Ctrl-C or SIGTERM."""

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Dict, Optional

from pipelines.cli.common import add_home
from pipelines.errors import UserError
from pipelines.local.sagemaker.runners import SHARED_PARENT, SharedJobParent

if TYPE_CHECKING:
    from pipelines.workspace import Workspace

REGION = "us-east-1"  # what the clients sign with; the twins answer any region
# How often the Feature Store's buffered offline rows are written (SageMaker: within about 15
# minutes), so the offline store's files are in the local S3 shortly after an ingest.
SETTLE_SECONDS = 1.0


def export_lines(url: str, job_parent: str) -> str:
    """The shell lines that point an AWS SDK or the CLI at `url`, and `churn run` at the
    shared job parent's socket."""
    variables: Dict[str, str] = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        SHARED_PARENT: job_parent,
    }
    return "".join("export %s=%s\n" % item for item in variables.items())


def share_a_job_parent(ws: "Workspace") -> Optional[SharedJobParent]:
    """The executions this process starts (the SDK's pipeline.start()), and every `churn run`
    given the exports, fork their jobs from one warm parent: none pays the imports. One that
    CHURN_JOB_PARENT names already is used instead."""
    if os.environ.get(SHARED_PARENT):
        return None
    parent = SharedJobParent(Path(ws.home) / "warm-parent-shared.log")
    os.environ.update(parent.environment)
    return parent


def cmd_local(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.local.endpoint import EndpointServer
    from pipelines.local.endpoint.server import loopback

    if not loopback(args.host):
        sys.stderr.write(
            "churn local: warning: listening on %s: no signature is checked, so anyone who "
            "reaches the port reads and changes this home (models, endpoints, the store)\n"
            % args.host
        )
    try:
        server = EndpointServer(ws.session, args.host, args.port, allow_remote=True)
    except OSError as e:
        raise UserError(
            "cannot listen on %s:%d (%s): pick another --port (0: any free one)"
            % (args.host, args.port, e.strerror or e)
        ) from None
    parent = share_a_job_parent(ws)
    stop = threading.Event()

    def stopping(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    def settling() -> None:
        while not stop.wait(SETTLE_SECONDS):
            try:
                ws.settle_features()
            except Exception as e:  # the rows stay buffered: the next settle or close writes them
                sys.stderr.write("churn local: the offline store's write failed: %r\n" % e)

    settler = threading.Thread(target=settling, name="offline-store-settle", daemon=True)
    previous = {s: signal.signal(s, stopping) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        sys.stdout.write(
            "churn local: the twins of %s on %s (any credentials; Ctrl-C stops it)\n%s"
            % (ws.home, server.url, export_lines(server.url, os.environ[SHARED_PARENT]))
        )
        sys.stdout.flush()
        settler.start()
        stop.wait()
    finally:
        server.close()
        if settler.is_alive():
            settler.join()
        if parent:
            parent.close()
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "local",
        help="every local twin over its AWS API on one port, for AWS_ENDPOINT_URL (boto3, the "
        "AWS CLI, the SageMaker SDK)",
    )
    p.add_argument("--port", type=int, default=4566, help="default: %(default)s (0: any free)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; default: %(default)s, this machine only (no signature "
        "is checked: another address lets other machines act on the home)",
    )
    add_home(p)
    p.set_defaults(func=cmd_local)
