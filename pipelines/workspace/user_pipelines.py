"""Pipelines that are not ours: a user's get_pipeline() (the module `churn run --module-name`
names, as `run-pipeline --module-name` does on AWS) built against this home and executed by the
local engine, whatever its steps (the engine refuses, before anything runs, the steps it
cannot run).

The user's code builds its own sessions from a region, as AWS's project templates do, and the
SDK uploads the steps' code to S3 while it builds the definition. So the build runs with
boto3's S3 endpoint (AWS_ENDPOINT_URL_S3) on the home's store served over S3's wire protocol on
127.0.0.1 (pipelines/local/s3wire/): the code lands in the local store where the jobs read
it. Nothing else leaves the machine: the build's credentials are placeholders, every other
service's endpoint and every HTTP(S) proxy is a loopback port that refuses connections (the
SDK's telemetry included: its refused request is not logged), so a build that calls another
service fails at once instead of calling AWS with the user's credentials.

A pipeline parameter given as `file://PATH` is a local file or folder staged into the store;
the execution gets its s3:// URI (said on the progress output).
"""

import contextlib
import json
import logging
import os
import socket
from typing import Any, Callable, Dict, Iterator, Mapping, Optional

from pipelines.errors import UserError
from pipelines.local.s3wire import S3Server
from pipelines.local.sagemaker.engine import Execution
from pipelines.workspace.home import Home
from pipelines.workspace.staging import Staging

Record = Dict[str, Any]
Echo = Callable[[str], Any]
# boto3 signs with some credentials, which the local store does not check: placeholders, so
# that the user's own never leave this machine during a build.
BUILD_CREDENTIALS: Dict[str, Optional[str]] = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
}
USER_INPUTS = "user-inputs"
TELEMETRY_LOGGER = "sagemaker.telemetry.telemetry_logging"


@contextlib.contextmanager
def environment(values: Mapping[str, Optional[str]]) -> Iterator[None]:
    """os.environ with `values` set (None: unset), restored afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class UserPipelines(object):
    def __init__(self, ws: Home, staging: Staging) -> None:
        self.ws = ws
        self.staging = staging

    def definition(self, build: Callable[[], Any]) -> "tuple[Dict[str, Any], str]":
        """(definition, pipeline name) of the Pipeline `build()` returns, built with boto3's
        S3 calls served by the home's store."""
        with S3Server(self.ws.home) as server, _refusing_port() as refused:
            values = dict(BUILD_CREDENTIALS, AWS_ENDPOINT_URL_S3=server.url)
            nowhere = "http://127.0.0.1:%d" % refused
            values["AWS_ENDPOINT_URL"] = nowhere
            for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
                values[proxy] = nowhere
            values["NO_PROXY"] = values["no_proxy"] = "127.0.0.1,localhost"
            if not (os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")):
                values["AWS_DEFAULT_REGION"] = "us-east-1"
            with environment(values), _quiet(TELEMETRY_LOGGER):
                pipeline = build()
                definition = json.loads(pipeline.definition())
        return definition, str(pipeline.name)

    def run(
        self,
        definition: Dict[str, Any],
        pipeline_name: str,
        parameters: Mapping[str, Any],
        echo: Optional[Echo] = None,
    ) -> Record:
        """Execute the definition; `file://` parameter values staged first."""
        say = echo or (lambda line: None)
        values = dict(parameters)
        for name, value in parameters.items():
            if isinstance(value, str) and value.startswith("file://"):
                path = value[len("file://") :]
                if not os.path.exists(path):
                    raise UserError("--param %s=%s: no such file or folder" % (name, value))
                values[name] = self.staging.stage_data(path, USER_INPUTS)
                say("  %-28s %s staged as %s" % (name, path, values[name]))
        self.ws.sagemaker.start_runner()
        record: Record = Execution(self.ws.sagemaker, definition, pipeline_name, values, echo).run()
        return record


@contextlib.contextmanager
def _refusing_port() -> Iterator[int]:
    """A loopback port bound and never listened on: a connection to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """The logger silenced, restored afterwards."""
    logger = logging.getLogger(logger_name)
    saved = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(saved)
