"""Blue/green traffic shifting of a local endpoint's update (pipelines/local/sagemaker/
shifting.py, hosting.py, hosting_api.py): all at once, canary and linear, as SageMaker's
developer guide describes them, and the DeploymentConfig checked as the API checks it. Each test
cites the page it follows:

  BG   https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html
  ALL  .../dg/deployment-guardrails-blue-green-all-at-once.html
  CAN  .../dg/deployment-guardrails-blue-green-canary.html
  LIN  .../dg/deployment-guardrails-blue-green-linear.html
  BGP  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html
  TRC  .../APIReference/API_TrafficRoutingConfig.html (and botocore's model: WaitIntervalInSeconds
       and TerminationWaitInSeconds 0-3600, MaximumExecutionTimeoutInSeconds 600-28800,
       CapacitySize.Value >= 1)

The serving processes here are a few lines of http.server answering /ping and, to
/invocations, which fleet they are (`blue` or `green`, from the model's environment): what is
under test is the routing between them, not a model."""

import json
import sys
import threading
import time

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from pipelines.local.sagemaker import shifting
from pipelines.local.sagemaker.api import SageMakerClient
from pipelines.local.sagemaker.database import connect
from pipelines.local.sagemaker.runtime import RuntimeClient
from pipelines.workspace import Workspace

from conftest import aws_client

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ROLE = "arn:aws:iam::123456789012:role/ChurnEndpointRole"
FLEET_SERVER = """
import http.server, sys
port, answer = int(sys.argv[1]), sys.argv[2].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(answer))); self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def fleet(ws, model, port, endpoint, capture, log):
    """The launcher: a process answering its model's FLEET variable."""
    return [sys.executable, "-c", FLEET_SERVER, str(port),
            model["PrimaryContainer"]["Environment"]["FLEET"]]  # fmt: skip


def canary(percent=None, count=None, wait=1, **policy):
    size = {"Type": "CAPACITY_PERCENT", "Value": percent} if percent else {
        "Type": "INSTANCE_COUNT", "Value": count}  # fmt: skip
    routing = {"Type": "CANARY", "CanarySize": size, "WaitIntervalInSeconds": wait}
    return {"BlueGreenUpdatePolicy": dict({"TrafficRoutingConfiguration": routing}, **policy)}


def linear(percent, wait=1, **policy):
    routing = {"Type": "LINEAR", "WaitIntervalInSeconds": wait,
               "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": percent}}  # fmt: skip
    return {"BlueGreenUpdatePolicy": dict({"TrafficRoutingConfiguration": routing}, **policy)}


# -- the schedule ------------------------------------------------------------------------


@pytest.mark.fast
def test_canary_sends_its_share_for_the_wait_then_all_then_bakes_then_waits_to_terminate():
    """CAN: the canary's share of the traffic to green, a baking period, then all of it and a
    final baking period; BGP: TerminationWaitInSeconds more before blue is terminated; TRC:
    INSTANCE_COUNT is a count of the variant's instances."""
    schedule = shifting.plan(canary(percent=25, wait=10, TerminationWaitInSeconds=5), 4)
    assert [shifting.green_share(schedule, t) for t in (0, 9.9, 10, 19.9)] == [0.25, 0.25, 1, 1]
    assert shifting.finished_after(schedule) == 10 + 10 + 5
    by_count = shifting.plan(canary(count=1, wait=10), 4)
    assert shifting.green_share(by_count, 0) == 0.25
    assert shifting.green_share(schedule, -1) == 0  # green not yet answering


@pytest.mark.fast
def test_linear_adds_a_step_per_wait_interval_until_all_then_bakes():
    """LIN: each step turns on LinearStepSize more of green, each followed by a baking period,
    until all traffic is on green."""
    schedule = shifting.plan(linear(30, wait=10), 1)
    shares = [shifting.green_share(schedule, t) for t in (0, 10, 20, 30, 39)]
    assert shares == pytest.approx([0.3, 0.6, 0.9, 1.0, 1.0])
    assert shifting.finished_after(schedule) == 40


@pytest.mark.fast
def test_all_at_once_bakes_and_no_policy_switches_at_once():
    """ALL: all traffic at once, then the baking period before blue is terminated; BGP: with
    no update policy, blue/green all at once (the twin, asked for no baking period, ends at
    once, as every local update did)."""
    routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 30}
    schedule = shifting.plan({"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}}, 1)
    assert shifting.green_share(schedule, 0) == 1 and shifting.finished_after(schedule) == 30
    default = shifting.plan(None, 3)
    assert shifting.green_share(default, 0) == 1 and shifting.finished_after(default) == 0
    assert not shifting.timed_out(default, 10**6)


@pytest.mark.fast
def test_the_execution_timeout_counts_from_the_update():
    """BGP: MaximumExecutionTimeoutInSeconds bounds the whole deployment."""
    schedule = shifting.plan(canary(percent=10, MaximumExecutionTimeoutInSeconds=600), 1)
    assert not shifting.timed_out(schedule, 600) and shifting.timed_out(schedule, 600.5)


# -- the request checked as the API checks it --------------------------------------------


@pytest.fixture
def ws(tmp_path):
    workspace = Workspace(tmp_path / "home", launcher=fleet)
    yield workspace
    for name in [e["EndpointName"] for e in workspace.hosting.list_endpoints()]:
        workspace.hosting.delete_endpoint(name)
    workspace.close()


@pytest.fixture
def sm(ws):
    return SageMakerClient(ws.sagemaker)


def a_fleet(sm, name, instances=1):
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": "s3://b/m.tar.gz",
            "Environment": {"FLEET": name},
        },
    )
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": instances,
        "InstanceType": "ml.m5.large"}])  # fmt: skip


def refusal(sm, deployment, config="green"):
    with pytest.raises(ClientError) as refused:
        sm.update_endpoint(EndpointName="absent", EndpointConfigName=config,
                           DeploymentConfig=deployment)  # fmt: skip
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


@pytest.mark.fast
def test_sizes_and_ranges_are_checked_as_the_api_checks_them(sm):
    """TRC: CanarySize at most 50% of the variant's instances, LinearStepSize 10-50%, the size
    the routing type needs; botocore's model: WaitIntervalInSeconds at most 3600 (the service
    checks maxima), MaximumExecutionTimeoutInSeconds at least 600 and CapacitySize.Value at
    least 1 (boto3 checks minima before sending). Alarms stay refused: CloudWatch has no twin."""
    a_fleet(sm, "green", instances=4)
    code, message = refusal(sm, canary(percent=60))
    assert code == "ValidationException" and "CanarySize CAPACITY_PERCENT 60" in message
    assert "at most 50%" in refusal(sm, canary(count=3))[1]
    assert "10% to 50%" in refusal(sm, linear(5))[1]
    no_size = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
        "Type": "LINEAR", "WaitIntervalInSeconds": 1}}}  # fmt: skip
    assert "LinearStepSize is required for LINEAR" in refusal(sm, no_size)[1]
    code, message = refusal(sm, canary(percent=10, wait=3601))
    assert code == "ValidationException" and "less than or equal to 3600" in message
    with pytest.raises(ParamValidationError):
        sm.update_endpoint(EndpointName="absent", EndpointConfigName="green",
                           DeploymentConfig=canary(percent=10, MaximumExecutionTimeoutInSeconds=60))  # fmt: skip
    alarms = dict(canary(percent=10), AutoRollbackConfiguration={"Alarms": [{"AlarmName": "a"}]})
    assert "alarms (CloudWatch has no local twin)" in refusal(sm, alarms)[1]
    # What passes the checks reaches the endpoint, which does not exist here.
    code, message = refusal(sm, canary(count=2))
    assert (code, message) == ("ValidationException", "Could not find endpoint 'absent'")


def test_boto3_refuses_the_same_bad_sizes_before_sending_to_moto_or_the_twin(aws_env, sm):
    """The checks boto3 makes before sending are the same whichever server answers: a
    CapacitySize of 0 or a timeout under 600 never reaches moto or the twin. What passes them
    cannot be compared: moto (5.2) does not implement UpdateEndpoint and answers it HTTP 500
    (its NotImplementedError), so the twin's behaviour follows the developer guide alone."""
    moto = aws_client("sagemaker", aws_env)
    zero = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
        "Type": "CANARY", "WaitIntervalInSeconds": 1,
        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 0}}}}  # fmt: skip
    for bad in (zero, canary(percent=10, MaximumExecutionTimeoutInSeconds=599)):
        for client in (moto, sm):
            with pytest.raises(ParamValidationError):
                client.update_endpoint(EndpointName="e", EndpointConfigName="c",
                                       DeploymentConfig=bad)  # fmt: skip
    with pytest.raises(ClientError) as unimplemented:
        moto.update_endpoint(EndpointName="e", EndpointConfigName="c",
                             DeploymentConfig=canary(percent=10))  # fmt: skip
    assert unimplemented.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


# -- the shift, observed -----------------------------------------------------------------


def shifted_under_load(ws, sm, deployment, green_instances=1):
    """Endpoint `e` on blue, updated to green with `deployment` while two threads invoke it:
    ([(time, answer or the failure)], [(time, status)], the last DescribeEndpoint)."""
    a_fleet(sm, "blue")
    a_fleet(sm, "green", instances=green_instances)
    sm.create_endpoint(EndpointName="e", EndpointConfigName="blue")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="e")
    runtime = RuntimeClient(ws.sagemaker)
    answers, statuses, stop = [], [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                body = runtime.invoke_endpoint(EndpointName="e", Body=b"1")["Body"].read()
                answers.append((time.time(), body.decode()))
            except Exception as e:  # any failure is what the test counts
                answers.append((time.time(), repr(e)))
            time.sleep(0.005)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        sm.update_endpoint(EndpointName="e", EndpointConfigName="green",
                           DeploymentConfig=deployment)  # fmt: skip
        while True:
            described = sm.describe_endpoint(EndpointName="e")
            statuses.append((time.time(), described["EndpointStatus"]))
            if described["EndpointStatus"] != "Updating":
                break
            assert described["PendingDeploymentSummary"]["EndpointConfigName"] == "green"
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert [a for _, a in answers if a not in ("blue", "green")] == []  # none failed
    assert described["EndpointStatus"] == "InService" and "FailureReason" not in described
    assert described["EndpointConfigName"] == "green"
    assert ws.hosting._endpoint("e")["pending"] is None  # blue is gone
    return answers, statuses, described


def green_share(answers, start, end):
    window = [a for t, a in answers if start <= t < end]
    return window.count("green") / len(window)


def test_a_canary_update_routes_its_share_to_green_then_all_without_a_failed_request(ws, sm):
    """CAN: green gets the canary's share while blue answers the rest, then all of it; BG: the
    endpoint is Updating until blue is terminated, InService after; no request fails."""
    # One instance of two: a canary of 50% (TRC's INSTANCE_COUNT over the variant's count).
    answers, statuses, _ = shifted_under_load(ws, sm, canary(count=1, wait=2), 2)
    first_green = min(t for t, a in answers if a == "green")
    assert 0.2 < green_share(answers, first_green, first_green + 1.8) < 0.8  # about half
    after = [a for t, a in answers if first_green + 2.2 <= t]
    assert after and set(after) == {"green"}
    updating = [t for t, s in statuses if s == "Updating"]
    # Updating through the canary (2 s) and the final baking period (2 s).
    assert updating[-1] - first_green > 3.5


def test_a_linear_update_moves_a_step_more_each_interval(ws, sm):
    """LIN: LinearStepSize (25%) more of the traffic on green every WaitIntervalInSeconds
    until all of it, no request failing on the way."""
    answers, _, _ = shifted_under_load(ws, sm, linear(25, wait=2))
    first = min(t for t, a in answers if a == "green")
    shares = [green_share(answers, first + 2 * k + 0.2, first + 2 * k + 1.8) for k in range(4)]
    assert shares[0] < 0.45 and 0.3 < shares[1] < 0.7 and shares[2] > 0.55, shares
    assert shares[3] == 1.0, shares


def test_an_update_past_its_execution_timeout_rolls_back_to_blue(ws, sm):
    """BGP: MaximumExecutionTimeoutInSeconds bounds the deployment; BG: a failed deployment
    sends all traffic back to blue. The twin reads the time from the update's record, so the
    record is aged past the limit rather than waiting ten minutes."""
    a_fleet(sm, "blue")
    a_fleet(sm, "green")
    sm.create_endpoint(EndpointName="e", EndpointConfigName="blue")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="e")
    sm.update_endpoint(EndpointName="e", EndpointConfigName="green", DeploymentConfig=canary(
        percent=50, wait=3600, MaximumExecutionTimeoutInSeconds=600))  # fmt: skip
    deadline = time.time() + 30
    while sm.describe_endpoint(EndpointName="e")["EndpointStatus"] == "Updating":
        row = ws.hosting._endpoint("e")
        if json.loads(row["pending"]).get("ready"):
            break
        assert time.time() < deadline
        time.sleep(0.1)
    runtime = RuntimeClient(ws.sagemaker)
    seen = {runtime.invoke_endpoint(EndpointName="e", Body=b"1")["Body"].read() for _ in range(40)}
    assert seen == {b"blue", b"green"}
    db = connect(ws.home)
    try:
        pending = json.loads(ws.hosting._endpoint("e")["pending"])
        pending["started"] -= 601
        with db:
            db.execute("UPDATE endpoints SET pending = ? WHERE name = 'e'", (json.dumps(pending),))
    finally:
        db.close()
    described = sm.describe_endpoint(EndpointName="e")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "blue")
    assert "MaximumExecutionTimeoutInSeconds (600 s): rolled back" in described["FailureReason"]
    seen = {runtime.invoke_endpoint(EndpointName="e", Body=b"1")["Body"].read() for _ in range(20)}
    assert seen == {b"blue"}
