"""SageMaker hosting on this machine: endpoint configs and endpoints as managed services.

An endpoint is a serving process the control plane starts in the background, detached from the
command that asked (its port, pid and start time, log and capture folder recorded in the home's
database; it is signalled only while its pid still names that process, never another process
given the pid after it exited).
What the process runs is the workspace's business: `launcher(model, port, endpoint, capture,
log)` gives its argv, for a model (the CreateModel request) and the config's data capture.

The API follows SageMaker's: CreateEndpointConfig, CreateEndpoint (Creating until the process
answers GET /ping, then InService; Failed with the log's last line if it dies), UpdateEndpoint
(only an InService endpoint; the new configuration starts beside the old, traffic moves to it
once it answers, all at once or by a blue/green canary or linear shift: shifting.py; then the
old one drains: SIGTERM, in-flight requests finish, capture is flushed), DescribeEndpoint
(which is also when those transitions are observed; a shift's state is computed from its
timestamps by every reader), DeleteEndpoint.
Clients address an endpoint by name (`invoke`), as InvokeEndpoint does, and each request is
routed to the old or the new process by the share of the moment, so a shift loses no request.

This is the twin's backend (as moto keeps one per service): requests arrive already checked
and shaped by boto3's `sagemaker` client over it (hosting_api.py) and boto3's
`sagemaker-runtime` client (runtime.py); a HostingError's `code` is the error code the client
answers with. One serving process serves an endpoint whatever its InitialInstanceCount.
"""

import http.client
import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from pipelines.errors import DeployError
from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker import shifting
from pipelines.local.sagemaker.serving_processes import HostLauncher, ModelOf, ServingProcesses
from processing.churn_schema import SAGEMAKER_NAME

DRAIN_SECONDS = 1.0  # after a switch: a request routed to the old process just before it

Json = Dict[str, Any]


class HostingError(DeployError):
    """A hosting call SageMaker would refuse; `code` is SageMaker's error code."""

    def __init__(self, message: str, code: str = "ValidationException") -> None:
        super().__init__(message)
        self.code = code


class Hosting(object):
    def __init__(
        self,
        connection: Callable[[], sqlite3.Connection],
        home: Union[str, Path],
        launcher: Optional[HostLauncher] = None,
    ) -> None:
        self._connection = connection  # the calling thread's database connection
        self.home = Path(home)
        self.processes = ServingProcesses(self.home, launcher)
        self.deleted: Dict[str, Dict[int, str]] = {}  # endpoint: what delete_endpoint reported

    @property
    def db(self) -> sqlite3.Connection:
        return self._connection()

    # ------------------------------------------------------------------ endpoint configs

    def create_endpoint_config(self, request: Json) -> Json:
        name = _checked_name(request["EndpointConfigName"], "endpointConfigName")
        variants = request.get("ProductionVariants") or []
        if len(variants) != 1:
            raise HostingError(
                "endpoint config %s: the local twin serves one production variant (got %d)"
                % (name, len(variants))
            )
        if self._row("endpoint_configs", name):
            raise HostingError(
                "Cannot create already existing endpoint configuration %r"
                % sagemaker_arn("endpoint-config", name)
            )
        with self.db:
            self.db.execute(
                "INSERT INTO endpoint_configs VALUES (?, ?, ?)",
                (name, time.time(), json.dumps(request)),
            )
        return {"EndpointConfigArn": sagemaker_arn("endpoint-config", name)}

    def describe_endpoint_config(self, name: str) -> Json:
        row = self._row("endpoint_configs", name)
        if row is None:
            raise HostingError("Could not find endpoint configuration %r" % name)
        return dict(
            json.loads(row["request"]),
            EndpointConfigArn=sagemaker_arn("endpoint-config", name),
            CreationTime=row["created"],
        )

    def delete_endpoint_config(self, name: str) -> None:
        self.describe_endpoint_config(name)
        with self.db:
            self.db.execute("DELETE FROM endpoint_configs WHERE name = ?", (name,))

    def list_endpoint_configs(self) -> List[Tuple[str, float]]:
        """[(name, creation time)], oldest first."""
        rows = self.db.execute("SELECT name, created FROM endpoint_configs ORDER BY created")
        return [(r["name"], r["created"]) for r in rows.fetchall()]

    # ------------------------------------------------------------------ endpoints

    def create_endpoint(self, name: str, config_name: str, model_of: ModelOf) -> Json:
        """`model_of(model_name)` gives the CreateModel request of a model name."""
        _checked_name(name, "endpointName")
        config = self.describe_endpoint_config(config_name)
        if self._row("endpoints", name):
            raise HostingError(
                "Cannot create already existing endpoint %r" % sagemaker_arn("endpoint", name)
            )
        process = self.processes.start(name, config, model_of)
        now = time.time()
        with self.db:
            self.db.execute(
                "INSERT INTO endpoints (name, config, status, created, updated, serving) "
                "VALUES (?, ?, 'Creating', ?, ?, ?)",
                (name, config_name, now, now, json.dumps(process)),
            )
        return {"EndpointArn": sagemaker_arn("endpoint", name)}

    def update_endpoint(
        self, name: str, config_name: str, model_of: ModelOf, deployment: Optional[Json] = None
    ) -> Json:
        """`deployment`: the request's checked DeploymentConfig (shifting.py), or None."""
        self.describe_endpoint(name)  # observe what happened since
        row = self._endpoint(name)
        if row["status"] == "Failed":
            raise HostingError(
                "endpoint %s is Failed and cannot be updated: delete it (`churn endpoints "
                "delete %s`) and create it again" % (name, name)
            )
        if row["status"] != "InService":
            raise HostingError(
                "Cannot update in-progress endpoint %r (it is %s)"
                % (sagemaker_arn("endpoint", name), row["status"])
            )
        config = self.describe_endpoint_config(config_name)
        count = config["ProductionVariants"][0].get("InitialInstanceCount", 1)
        process = self.processes.start(name, config, model_of)
        # The schedule travels with the green process's record: every reader computes from it.
        process["shift"] = shifting.plan(deployment, count)
        with self.db:
            self.db.execute(
                "UPDATE endpoints SET status = 'Updating', pending = ?, pending_config = ?, "
                "failure = NULL, updated = ? WHERE name = ?",
                (json.dumps(process), config_name, time.time(), name),
            )
        return {"EndpointArn": sagemaker_arn("endpoint", name)}

    def describe_endpoint(self, name: str) -> Json:
        row = self._endpoint(name)
        # create_endpoint writes every row with its process: the else is never taken here
        serving: Any = json.loads(row["serving"]) if row["serving"] else None
        if row["status"] == "Creating":
            state = self.processes.probe(serving)
            if state == "ready":
                self._set(name, status="InService")
            elif state == "dead":
                self._set(name, status="Failed", failure=self.processes.reason(serving))
        elif row["status"] == "Updating":
            self._observe_update(name, row)
        elif row["status"] == "InService" and self.processes.probe(serving) == "dead":
            self._set(name, status="Failed", failure=self.processes.reason(serving))
        return self._description(self._endpoint(name))

    def _observe_update(self, name: str, row: sqlite3.Row) -> None:
        """Where an update stands now (shifting.py): green not yet answering, shifting, baking
        or done (blue stopped); or ended with the endpoint back on blue, InService with a
        FailureReason: green exited, or MaximumExecutionTimeoutInSeconds passed."""
        pending = json.loads(row["pending"])
        schedule = pending.get("shift") or shifting.plan(None, 1)
        now = time.time()
        state = self.processes.probe(pending)
        if state == "dead":  # as SageMaker does: the endpoint keeps its previous configuration
            self._roll_back(name, pending, self.processes.reason(pending))
            return
        if shifting.timed_out(schedule, now - pending["started"]):
            self._roll_back(
                name,
                pending,
                "the update to %s did not finish within MaximumExecutionTimeoutInSeconds (%d "
                "s): rolled back, all traffic on %s" % (row["pending_config"],
                                                         schedule["timeout"], row["config"]),
            )  # fmt: skip
            return
        if pending.get("ready") is None:
            if state != "ready":
                return
            pending["ready"] = now  # the shift's clock starts
            self._set(name, pending=json.dumps(pending))
        if now - pending["ready"] >= shifting.finished_after(schedule):
            self._set(
                name,
                status="InService",
                serving=json.dumps(pending),
                config=row["pending_config"],
                pending=None,
                pending_config=None,
            )
            time.sleep(DRAIN_SECONDS)  # for a request routed to blue just before
            self.processes.stop(json.loads(row["serving"]))

    def _roll_back(self, name: str, pending: Json, reason: str) -> None:
        """All traffic back to blue, then green stopped once requests routed to it end."""
        self._set(name, status="InService", pending=None, pending_config=None, failure=reason)
        if pending.get("ready") is not None:
            time.sleep(DRAIN_SECONDS)
        self.processes.stop(pending)

    def list_endpoints(self) -> List[Json]:
        rows = self.db.execute("SELECT name FROM endpoints ORDER BY created").fetchall()
        return [self.describe_endpoint(r["name"]) for r in rows]

    def delete_endpoint(self, name: str) -> Dict[int, str]:
        """DeleteEndpoint; returns what became of its serving processes, {pid: "stopped",
        "exited" (before, its pid maybe another process's by now) or "unverified" (left
        running: this system cannot tell whether the pid is still the endpoint's process)}."""
        row = self._endpoint(name)
        processes: Dict[int, str] = {}
        for column in ("pending", "serving"):
            if row[column]:
                process = json.loads(row[column])
                processes[process["pid"]] = self.processes.stop(process)
        with self.db:
            self.db.execute("DELETE FROM endpoints WHERE name = ?", (name,))
        self.deleted[name] = processes  # DeleteEndpoint answers nothing; a command may tell
        return processes

    def has_endpoint(self, name: str) -> bool:
        return self._row("endpoints", name) is not None

    def config_of(self, name: str) -> str:
        """The name of the endpoint config `name` serves now."""
        return self._endpoint(name)["config"]

    def address(self, name: str) -> Tuple[str, int]:
        """(host, port) of the process serving `name` now."""
        row = self._endpoint(name)
        if row["status"] not in ("InService", "Updating"):
            raise HostingError(
                "endpoint %s is %s, not InService%s"
                % (name, row["status"], ": " + row["failure"] if row["failure"] else "")
            )
        serving = json.loads(row["serving"])
        pending = json.loads(row["pending"]) if row["pending"] else None
        if pending and pending.get("ready") is not None:
            schedule = pending.get("shift") or shifting.plan(None, 1)
            share = shifting.green_share(schedule, time.time() - pending["ready"])
            if random.random() < share:  # this request's fleet, by the current share
                return "127.0.0.1", pending["port"]
        return "127.0.0.1", serving["port"]

    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: Optional[str] = "text/csv",
        accept: Optional[str] = "text/csv",
        timeout: float = 60,
    ) -> Tuple[int, Optional[str], bytes]:
        """InvokeEndpoint: (status, content type, body) from the process serving `name`; a
        header given as None is not sent."""
        host, port = self.address(name)
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        headers = {"Content-Type": content_type, "Accept": accept}
        try:
            connection.request(
                "POST",
                "/invocations",
                body=body,
                headers={k: v for k, v in headers.items() if v is not None},
            )
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type"), response.read()
        finally:
            connection.close()

    # ------------------------------------------------------------------ records

    def _row(self, table: str, name: str) -> Optional[sqlite3.Row]:
        return self.db.execute("SELECT * FROM %s WHERE name = ?" % table, (name,)).fetchone()

    def _endpoint(self, name: str) -> sqlite3.Row:
        row = self._row("endpoints", name)
        if row is None:
            raise HostingError("Could not find endpoint %r" % name)
        return row

    def _set(self, name: str, **columns: Any) -> None:
        columns["updated"] = time.time()
        assignments = ", ".join("%s = ?" % c for c in columns)
        with self.db:
            self.db.execute(
                "UPDATE endpoints SET %s WHERE name = ?" % assignments,
                list(columns.values()) + [name],
            )

    def _description(self, row: sqlite3.Row) -> Json:
        config = self.describe_endpoint_config(row["config"])
        variant = config["ProductionVariants"][0]
        out: Json = {
            "EndpointName": row["name"],
            "EndpointArn": sagemaker_arn("endpoint", row["name"]),
            "EndpointConfigName": row["config"],
            "EndpointStatus": row["status"],
            "ProductionVariants": [
                {
                    "VariantName": variant["VariantName"],
                    # One serving process, whatever the config asks: said as it is.
                    "CurrentInstanceCount": 1,
                    "DesiredInstanceCount": variant.get("InitialInstanceCount", 1),
                    "CurrentWeight": 1.0,
                    "DesiredWeight": 1.0,
                }
            ],
            "CreationTime": row["created"],
            "LastModifiedTime": row["updated"],
        }
        capture = config.get("DataCaptureConfig")
        if capture:
            out["DataCaptureConfig"] = {
                "EnableCapture": capture.get("EnableCapture", True),
                "CaptureStatus": "Started",
                "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage", 100),
                "DestinationS3Uri": capture["DestinationS3Uri"],
                # A member the output shape requires; empty when the config names no key.
                "KmsKeyId": capture.get("KmsKeyId", ""),
            }
        if row["failure"]:
            out["FailureReason"] = row["failure"]
        if row["pending_config"]:  # the deployment in progress
            out["PendingDeploymentSummary"] = {"EndpointConfigName": row["pending_config"]}
        serving = json.loads(row["serving"]) if row["serving"] else None
        if serving and row["status"] in ("InService", "Updating"):
            out["Url"] = "http://127.0.0.1:%d" % serving["port"]  # not in SageMaker's answer
        return out


def _checked_name(name: str, member: str) -> str:
    """`name` as SageMaker checks an endpoint's or a config's name (the service does; boto3
    checks no pattern). Here they also name the endpoint's folder and its config's log, which
    a name such as '../x' would put outside the home."""
    if not SAGEMAKER_NAME.match(name):
        raise HostingError(
            "1 validation error detected: Value %r at '%s' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: %s"
            % (name, member, SAGEMAKER_NAME.pattern.rstrip("$"))
        )
    return name
