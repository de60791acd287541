"""`churn monitor` is one command on either target (pipelines/cli/target.py, docs/adr/0011):
one scenario, the same command, the same assertions, on the local home and on AWS (a moto
server on 127.0.0.1), only the target flag differing.

A version of the seed model is registered with its data-quality baseline as
DriftCheckBaselines, both written through the target's own `s3` and `sagemaker` clients; an
endpoint serves the version with data capture; shifted traffic (age + 25) is captured; `churn
monitor --endpoint-name E` finds the version and the capture through the endpoint's own
configuration, reads both through the S3 of the target, and writes its report under an s3://
prefix there. Locally the endpoint is a real serving process made by `churn deploy` and the
traffic goes through InvokeEndpoint; moto serves nothing (its endpoints answer canned results),
so on AWS the endpoint is made with the same calls and the capture files a CaptureWriter wrote
are uploaded with the endpoint's key layout. The metrics go to CloudWatch on AWS; the local home
has no CloudWatch, so there they are Embedded Metric Format lines in the report."""

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid

import pytest

from pipelines.churn.bundles import build_bundles
from pipelines.churn.datagen import generate
from pipelines.churn.local_definition import LOCAL_BUCKET, PREFIX
from pipelines.serving.capture import CaptureWriter
from pipelines.workspace import Workspace

from conftest import ROOT, aws_client, run

FEATURES = ["age", "tenure", "balance", "num_products", "is_active"]
NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ROWS_PER_REQUEST = 20


@pytest.fixture(scope="module")
def baseline_dir(seed_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline")
    run("processing/baseline.py", "--input", seed_csv, "--schema", "seed", "--output-dir", out,
        check=0)  # fmt: skip
    return out


def shifted_requests():
    """600 rows whose ages are 25 years older than the baseline's, 20 rows a request."""
    frame = generate(600, seed=11)[FEATURES]
    frame = frame.assign(age=frame["age"] + 25)
    return [
        frame.iloc[i : i + ROWS_PER_REQUEST].to_csv(header=False, index=False).encode()
        for i in range(0, len(frame), ROWS_PER_REQUEST)
    ]


def register(s3, sm, bucket, seed_model, baseline_dir):
    """The seed model as a pipeline registers it, through the target's clients: its artifact,
    serving code and baseline in the bucket, a version of a new group naming them. Returns
    the version's ARN and its name (GROUP/1)."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path in sorted(seed_model["model"].iterdir()):
            tar.add(str(path), arcname=path.name)
    s3.put_object(Bucket=bucket, Key="churn/models/seed/model.tar.gz", Body=archive.getvalue())
    code = build_bundles()["inference"]
    code_prefix = code.prefix(bucket, "churn")[len("s3://%s/" % bucket) :]
    for name, data in code.objects().items():
        s3.put_object(Bucket=bucket, Key=code_prefix + "/" + name, Body=data)
    for name in ("statistics.json", "constraints.json"):
        s3.upload_file(str(baseline_dir / name), bucket, "churn/baseline/" + name)
    group = "monitored-%s" % uuid.uuid4().hex[:8]
    sm.create_model_package_group(ModelPackageGroupName=group)
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": "s3://%s/churn/models/seed/model.tar.gz" % bucket,
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": code.uri(bucket, "churn"),
                    },
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        DriftCheckBaselines={
            "ModelDataQuality": {
                kind: {
                    "ContentType": "application/json",
                    "S3Uri": "s3://%s/churn/baseline/%s.json" % (bucket, kind.lower()),
                }
                for kind in ("Statistics", "Constraints")
            }
        },
    )["ModelPackageArn"]
    return arn, "%s/1" % group


def churn(home, env, *args):
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli"] + [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(env, CHURN_HOME=str(home)),
        timeout=300,
    )


def captured_records(s3, bucket, prefix):
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sum(
        len(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().splitlines())
        for o in listed
        if o["Key"].endswith(".jsonl")
    )


def read_json(s3, uri):
    bucket, key = uri[len("s3://") :].split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


# ----------------------------------------------------------------------------- the two targets


@pytest.fixture
def local(tmp_path, seed_model, baseline_dir):
    """The local home: `churn deploy` of the version, 30 requests through InvokeEndpoint."""
    home = tmp_path / "home"
    endpoint = "monitored-local"
    ws = Workspace(home)
    try:
        s3, sm = ws.session.client("s3"), ws.session.client("sagemaker")
        s3.create_bucket(Bucket=LOCAL_BUCKET)
        arn, version = register(s3, sm, LOCAL_BUCKET, seed_model, baseline_dir)
        env = dict(os.environ)
        env.pop("CHURN_TARGET", None)  # the default target: the local home
        deployed = churn(home, env, "deploy", "--model-package-arn", arn, "--endpoint-name",
                         endpoint, "--data-capture-percent", "100")  # fmt: skip
        assert deployed.returncode == 0, deployed.stderr
        runtime = ws.session.client("sagemaker-runtime")
        for body in shifted_requests():
            answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv",
                                             Accept="text/csv", Body=body)  # fmt: skip
            assert answer["Body"].read().count(b"\n") == ROWS_PER_REQUEST
        prefix = "%s/capture/%s/" % (PREFIX, endpoint)
        deadline = time.time() + 30
        while captured_records(s3, LOCAL_BUCKET, prefix) < 30:  # the writer flushes on a timer
            assert time.time() < deadline, "the endpoint did not capture its 30 requests"
            time.sleep(0.2)
        yield {
            "run": lambda *args: churn(home, env, "monitor", *args),
            "s3": s3,
            "bucket": LOCAL_BUCKET,
            "endpoint": endpoint,
            "arn": arn,
            "version": version,
            "cloudwatch": None,
        }
    finally:
        for name in [e["EndpointName"] for e in ws.hosting.list_endpoints()]:
            ws.hosting.delete_endpoint(name)
        ws.close()


@pytest.fixture
def aws(tmp_path, aws_env, bucket, seed_model, baseline_dir):
    """AWS (moto): the endpoint made with deploy's calls, the captured requests uploaded."""
    s3, sm = aws_client("s3", aws_env), aws_client("sagemaker", aws_env)
    arn, version = register(s3, sm, bucket, seed_model, baseline_dir)
    endpoint = "monitored-%s" % uuid.uuid4().hex[:8]
    sm.create_model(
        ModelName=endpoint,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"ModelPackageName": arn},
    )
    sm.create_endpoint_config(
        EndpointConfigName=endpoint,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": endpoint,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://%s/churn/capture" % bucket,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    writer = CaptureWriter(str(tmp_path / "capture"), endpoint)
    for body in shifted_requests():
        writer.capture(body, "text/csv", b"0.1,0\n" * ROWS_PER_REQUEST, "text/csv")
    writer.close()
    for path in sorted((tmp_path / "capture").rglob("*.jsonl")):
        key = "churn/capture/" + str(path.relative_to(tmp_path / "capture"))
        s3.upload_file(str(path), bucket, key)
    yield {
        "run": lambda *args: churn(
            tmp_path / "home", aws_env, "monitor", "--region", "us-east-1", *args
        ),  # fmt: skip
        "s3": s3,
        "bucket": bucket,
        "endpoint": endpoint,
        "arn": arn,
        "version": version,
        "cloudwatch": aws_client("cloudwatch", aws_env),
    }


@pytest.fixture(params=["local", "aws"])
def target(request):
    return request.getfixturevalue(request.param)


def test_one_scenario_on_either_target(target):
    """The version the endpoint serves and its capture, found through the endpoint's own
    configuration and read through the target's S3; the report under an s3:// prefix there;
    the metrics where the target keeps them."""
    endpoint, bucket, s3 = target["endpoint"], target["bucket"], target["s3"]
    output = "s3://%s/churn/monitoring/run-1" % bucket
    proc = target["run"]("--endpoint-name", endpoint, "--output", output)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(
        "baseline: %s (the version endpoint %s serves); traffic since " % (target["version"],
                                                                          endpoint)
    ), proc.stdout  # fmt: skip
    assert (
        "600 captured rows checked; 1 violation; %s/constraint_violations.json" % output
        in proc.stdout
    ), proc.stdout
    report = read_json(s3, output + "/constraint_violations.json")
    assert [(v["feature_name"], v["constraint_check_type"]) for v in report["violations"]] == [
        ("age", "baseline_drift_check")
    ]
    reported = float(report["violations"][0]["description"].split(": ")[1].split(" ")[0])
    assert reported > 0.5
    baseline = read_json(s3, output + "/baseline.json")
    assert baseline["ModelPackageArn"] == target["arn"] and baseline["Served"] is True

    if target["cloudwatch"] is None:  # no CloudWatch: the metrics are EMF lines, kept too
        printed = [json.loads(line) for line in lines if line.startswith("{")]
        bucket_key = output[len("s3://%s/" % bucket) :] + "/cloudwatch_metrics.jsonl"
        kept = s3.get_object(Bucket=bucket, Key=bucket_key)["Body"].read().decode()
        assert [json.loads(line) for line in kept.splitlines()] == printed
        values = {
            name[len("feature_baseline_drift_") :]: entry[name]
            for entry in printed
            for name in [entry["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]]
        }
        assert all(entry["Endpoint"] == endpoint for entry in printed)
        assert all(entry["item_count"] == 600 for entry in printed)
    else:
        assert (
            "published 5 metrics to CloudWatch %s (Endpoint=%s, MonitoringSchedule=%s-adhoc)"
            % (NAMESPACE, endpoint, endpoint)
            in proc.stdout
        )
        listed = target["cloudwatch"].list_metrics(
            Namespace=NAMESPACE, Dimensions=[{"Name": "Endpoint", "Value": endpoint}]
        )["Metrics"]
        assert {m["MetricName"] for m in listed} == {
            "feature_baseline_drift_" + f for f in FEATURES
        }
        values = {
            line.split()[0][len("feature_baseline_drift_") :]: float(line.split()[1])
            for line in lines
            if line.startswith("feature_baseline_drift_")
        }
    assert set(values) == set(FEATURES)
    assert values["age"] == pytest.approx(reported, abs=1e-4)
    assert all(values[f] <= 0.1 for f in FEATURES if f != "age")


@pytest.mark.parametrize("where", ["local", "aws"])
def test_a_missing_endpoint_says_where_it_looked_on_either_target(where, baseline_dir, tmp_path,
                                                                  request):  # fmt: skip
    """No endpoint of that name on the target and no `churn serve` capture of it: one line
    naming both places and the flags that name a capture."""
    env = dict(os.environ)
    env.pop("CHURN_TARGET", None)
    flags = []
    if where == "aws":
        env, flags = request.getfixturevalue("aws_env"), ["--region", "us-east-1"]
    proc = churn(tmp_path / "home", env, "monitor", "--endpoint-name", "no-such-endpoint",
                 "--baseline-dir", baseline_dir, *flags)  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert (
        "no captured data for endpoint no-such-endpoint under %s (where `churn serve` "
        "captures), and no endpoint no-such-endpoint in " % (tmp_path / "home" / "capture")
    ) in lines[0]
    assert ("the local home" if where == "local" else "AWS (us-east-1)") in lines[0]
    assert lines[0].endswith("--capture-dir DIR or --capture-destination s3://...")
