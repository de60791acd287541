"""Data-quality baseline (processing/baseline.py) and `churn monitor` on captured requests."""

import json
import os
import subprocess
import sys

import pytest

from pipelines.churn.datagen import generate
from pipelines.monitoring.drift import analyze, categorical_distance, numeric_distance, robust
from pipelines.serving.capture import CaptureWriter

from conftest import ROOT, run

FEATURES = ["age", "tenure", "balance", "num_products", "is_active"]


@pytest.fixture(scope="module")
def baseline_dir(seed_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline")
    run(
        "processing/baseline.py",
        "--input",
        seed_csv,
        "--schema",
        "seed",
        "--output-dir",
        out,
        check=0,
    )
    return out


def capture(folder, frame, rows_per_request=20):
    writer = CaptureWriter(str(folder), "churn-local")
    for i in range(0, len(frame), rows_per_request):
        body = frame.iloc[i : i + rows_per_request].to_csv(header=False, index=False).encode()
        writer.capture(body, "text/csv", b"0.1,0\n", "text/csv")
    writer.close()


def monitor(baseline_dir, capture_dir, out):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "monitor",
            "--baseline-dir",
            str(baseline_dir),
            "--capture-dir",
            str(capture_dir),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(os.environ, CHURN_HOME=str(out / "home")),
    )


def test_baseline_files_follow_the_model_monitor_format(baseline_dir, seed_csv):
    statistics = json.loads((baseline_dir / "statistics.json").read_text())
    constraints = json.loads((baseline_dir / "constraints.json").read_text())
    assert statistics["dataset"]["item_count"] == 3000
    age = statistics["features"][0]
    assert age["name"] == "age" and age["inferred_type"] == "Integral"
    numbers = age["numerical_statistics"]
    assert numbers["common"] == {"num_present": 3000, "num_missing": 0}
    assert 18 <= numbers["min"] <= numbers["mean"] <= numbers["max"] <= 92
    kll = numbers["distribution"]["kll"]
    assert len(kll["buckets"]) == 10 and sum(b["count"] for b in kll["buckets"]) == 3000
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    assert len(kll["sketch"]["data"][0]) == 2048
    assert constraints["features"][0]["completeness"] == 1.0
    assert constraints["features"][0]["num_constraints"] == {"is_non_negative": True}
    drift = constraints["monitoring_config"]["distribution_constraints"]
    assert drift["comparison_threshold"] == 0.1 and drift["categorical_drift_method"] == "LInfinity"


def test_the_baseline_counts_only_numbers_as_values(tmp_path):
    """Run alone on unvalidated text, a value that is not a number, like a missing one, is no
    value: the statistics come from the numbers only."""
    rows = ["C%d,%d,3,%s,1,1,0" % (i, 20 + i, value)
            for i, value in enumerate(["10", "lots", "", " 20 ", "1e1", "30"])]  # fmt: skip
    table = tmp_path / "t.csv"
    table.write_text("customer_id,age,tenure,balance,num_products,is_active,churn\n"
                     + "\n".join(rows) + "\n")  # fmt: skip
    run("processing/baseline.py", "--input", table, "--output-dir", tmp_path / "out", check=0)
    features = json.loads((tmp_path / "out" / "statistics.json").read_text())["features"]
    balance = [f for f in features if f["name"] == "balance"][0]["numerical_statistics"]
    assert balance["common"] == {"num_present": 4, "num_missing": 2}
    assert (balance["sum"], balance["min"], balance["max"]) == (70.0, 10.0, 30.0)


def test_three_instances_reading_small_chunks_give_the_baseline_of_one(seed_csv, tmp_path):
    """The table in five files, one without the text feature, dealt to three instances as
    ShardedByS3Key deals objects; each reads 97 rows at a time. Merged, their summaries give
    the very files one instance reading it whole writes."""
    schema = json.loads((ROOT / "processing" / "schemas" / "seed.json").read_text())
    schema["name"] = "seed_plan"
    schema["features"].append({"name": "plan", "type": "categorical", "completeness": 0.5})
    (tmp_path / "seed_plan.json").write_text(json.dumps(schema))
    lines = seed_csv.read_text().splitlines()
    plans = ["basic", "plus", "", "pro", "plus"]
    rows = [line + "," + plans[i % 5] for i, line in enumerate(lines[1:])]
    whole = tmp_path / "whole"
    for k in range(5):
        part = rows[600 * k : 600 * (k + 1)]
        header = lines[0] + ",plan"
        if k == 3:  # a file without the column: its rows count as missing plans
            header, part = lines[0], [r.rsplit(",", 1)[0] for r in part]
        (whole / ("part-%d.csv" % k)).parent.mkdir(exist_ok=True)
        (whole / ("part-%d.csv" % k)).write_text("\n".join([header] + part) + "\n")
    schema_arg = ("--schema", tmp_path / "seed_plan.json")
    run("processing/baseline.py", "--input", whole, *schema_arg, "--output-dir", tmp_path / "one",
        check=0)  # fmt: skip
    files = sorted(whole.iterdir())
    procs = []
    for i in range(3):
        host = tmp_path / ("algo-%d" % (i + 1))
        (host / "data").mkdir(parents=True)
        for f in files[i::3]:
            (host / "data" / f.name).write_bytes(f.read_bytes())
        (host / "resourceconfig.json").write_text(json.dumps({"current_host": host.name}))
        procs.append(subprocess.Popen(
            [sys.executable, str(ROOT / "processing" / "baseline.py"), "--input", str(host / "data"),
             "--schema", str(schema_arg[1]), "--chunk-rows", "97", "--output-dir",
             str(tmp_path / "shards"), "--shard-of", str(host / "resourceconfig.json")],
            stdout=subprocess.PIPE, text=True,
        ))  # fmt: skip
    for proc in procs:
        assert proc.communicate(timeout=120)[0].startswith("baseline: algo-")
        assert proc.returncode == 0
    run("processing/baseline.py", "--merge", tmp_path / "shards", *schema_arg, "--output-dir",
        tmp_path / "three", check=0)  # fmt: skip
    for name in ("statistics.json", "constraints.json"):
        one = json.loads((tmp_path / "one" / name).read_text())
        assert json.loads((tmp_path / "three" / name).read_text()) == one
    plan = json.loads((tmp_path / "one" / "statistics.json").read_text())["features"][-1]
    assert plan["string_statistics"]["common"] == {"num_present": 1920, "num_missing": 1080}
    assert [b["value"] for b in plan["string_statistics"]["distribution"]["categorical"]["buckets"]] == [
        "basic", "plus", "pro"]  # fmt: skip


def test_a_damaged_baseline_summary_is_one_line(seed_csv, tmp_path):
    """A summary whose arrays disagree (a cut or edited file) is refused by name, not merged."""
    import numpy as np

    (tmp_path / "rc.json").write_text(json.dumps({"current_host": "algo-1"}))
    run("processing/baseline.py", "--input", seed_csv, "--output-dir", tmp_path / "shards",
        "--shard-of", tmp_path / "rc.json", check=0)  # fmt: skip
    path = tmp_path / "shards" / "algo-1" / "baseline_shard.npz"
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["counts_0"] = arrays["counts_0"][:-1]
    np.savez(path, **arrays)
    proc = run("processing/baseline.py", "--merge", tmp_path / "shards", "--output-dir",
               tmp_path / "out", check=1)  # fmt: skip
    assert proc.stderr.startswith("baseline: error: ") and proc.stderr.count("\n") == 1
    assert "is not a baseline shard summary: the arrays of 'age'" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_baseline_merge_without_shards_is_one_line(tmp_path):
    (tmp_path / "shards").mkdir()
    proc = run("processing/baseline.py", "--merge", tmp_path / "shards", "--output-dir",
               tmp_path / "out", check=1)  # fmt: skip
    assert proc.stderr.startswith("baseline: error: no baseline_shard.npz under ")
    assert proc.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_shifted_data_is_drift_unshifted_is_not(baseline_dir, tmp_path):
    same = generate(600, seed=11)[FEATURES]
    capture(tmp_path / "same", same)
    proc = monitor(baseline_dir, tmp_path / "same", tmp_path / "out-same")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out-same" / "constraint_violations.json").read_text()) == {
        "violations": []
    }
    assert "600 captured rows checked; 0 violations" in proc.stdout
    emf = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert {m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in emf} == {
        "feature_baseline_drift_" + f for f in FEATURES
    }

    shifted = same.assign(age=same["age"] + 25)
    capture(tmp_path / "shifted", shifted)
    proc = monitor(baseline_dir, tmp_path / "shifted", tmp_path / "out-shifted")
    violations = json.loads((tmp_path / "out-shifted" / "constraint_violations.json").read_text())
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations["violations"]] == [
        ("age", "baseline_drift_check")
    ]
    assert "Baseline drift distance: 0.6" in violations["violations"][0]["description"]


def test_type_completeness_domain_and_column_checks(baseline_dir):
    statistics = json.loads((baseline_dir / "statistics.json").read_text())
    constraints = json.loads((baseline_dir / "constraints.json").read_text())
    constraints["features"].append(
        {
            "name": "plan",
            "inferred_type": "String",
            "completeness": 1.0,
            "string_constraints": {"domains": ["a"]},
        }
    )
    statistics["features"].append(
        {
            "name": "plan",
            "inferred_type": "String",
            "string_statistics": {
                "common": {"num_present": 10, "num_missing": 0},
                "distinct_count": 1.0,
                "distribution": {"categorical": {"buckets": [{"value": "a", "count": 10}]}},
            },
        }
    )
    rows = [
        {
            "age": "forty" if i % 3 == 0 else "40",
            "tenure": "" if i % 2 else "5",
            "balance": "100",
            "plan": "b",
        }
        for i in range(30)
    ]
    violations, _ = analyze(
        statistics, constraints, rows, {"num_products", "is_active"}, {"colour"}
    )
    kinds = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert ("age", "data_type_check") in kinds
    assert ("tenure", "completeness_check") in kinds
    assert ("plan", "categorical_values_check") in kinds
    assert ("num_products", "missing_column_check") in kinds
    assert ("colour", "extra_column_check") in kinds


@pytest.mark.fast
def test_distances():
    assert numeric_distance([1, 2, 3, 4], [1, 2, 3, 4]) == 0
    assert numeric_distance([1, 2, 3, 4], [10, 11]) == 1.0
    assert categorical_distance({"a": 50, "b": 50}, ["a", "a", "a", "b"]) == pytest.approx(0.25)
    assert robust(0.3, 1000, 100) == pytest.approx(0.3 - 1.8 * (1100 / 100000) ** 0.5)
    assert robust(0.05, 1000, 100) == 0.0


def test_no_capture_is_one_clear_line(baseline_dir, tmp_path):
    proc = monitor(baseline_dir, tmp_path / "none", tmp_path / "out")
    assert proc.returncode == 1 and "no captured data for endpoint churn-local" in proc.stderr


DEEP = 100000  # far beyond Python's recursion limit


def append_line(folder, line):
    with open(next(folder.rglob("*.jsonl")), "a") as f:
        f.write(line + "\n")


def capture_body(folder, body, content_type):
    writer = CaptureWriter(str(folder), "churn-local")
    writer.capture(body, content_type, b"0.1\n", "text/csv")
    writer.close()


@pytest.mark.parametrize(
    "damage",
    [
        # a whole capture line nested DEEP arrays deep
        lambda folder: append_line(folder, "[" * DEEP + "]" * DEEP),
        # a capture record whose JSON request body is
        lambda folder: capture_body(folder, b"[" * DEEP + b"]" * DEEP, "application/json"),
        # and one whose JSON body is no JSON at all
        lambda folder: capture_body(folder, b'{"instances": [', "application/json"),
    ],
    ids=["line", "body", "not-json"],
)
def test_a_capture_nested_too_deep_or_undecodable_is_skipped_and_counted(
    baseline_dir, tmp_path, damage
):
    """churn monitor was a traceback: RecursionError from the capture line, InferenceError
    from the request body."""
    capture(tmp_path / "capture", generate(100, seed=3)[FEATURES])
    damage(tmp_path / "capture")
    proc = monitor(baseline_dir, tmp_path / "capture", tmp_path / "out")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-2000:]
    assert "skipped 1 unreadable capture line" in proc.stdout, proc.stdout
    assert "100 captured rows checked" in proc.stdout, proc.stdout


# ----------------------------------------------------------------------------- on AWS (moto)

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"


def upload_capture(s3, bucket, prefix, local_capture):
    """Capture files written by the endpoint's CaptureWriter, uploaded with the same key layout
    (<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl)."""
    for path in sorted(local_capture.rglob("*.jsonl")):
        s3.upload_file(str(path), bucket, prefix + "/" + str(path.relative_to(local_capture)))


def churn_aws(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "monitor"] + list(args),
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=env,
        timeout=120,
    )


def drift_metrics(cloudwatch, endpoint, schedule):
    """{feature: value} of the feature_baseline_drift_* metrics under Model Monitor's
    namespace and dimensions, as an alarm would read them."""
    from datetime import datetime, timedelta, timezone

    listed = cloudwatch.list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "Endpoint", "Value": endpoint}]
    )["Metrics"]
    dimensions = [
        {"Name": "Endpoint", "Value": endpoint},
        {"Name": "MonitoringSchedule", "Value": schedule},
    ]
    assert all(sorted(m["Dimensions"], key=lambda d: d["Name"]) == dimensions for m in listed)
    now = datetime.now(timezone.utc)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m%d" % i,
                "Label": m["MetricName"],
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": m["MetricName"],
                        "Dimensions": dimensions,
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
            for i, m in enumerate(listed)
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
    )
    return {
        r["Label"][len("feature_baseline_drift_") :]: r["Values"]
        for r in answer["MetricDataResults"]
    }


def test_on_aws_drift_from_s3_capture_reaches_cloudwatch(baseline_dir, aws_env, bucket, tmp_path):
    """The endpoint's capture destination (from its DataCaptureConfig) and the version's
    DriftCheckBaselines, both in S3: shifted ages give one baseline_drift_check violation,
    written to S3, and one drift metric per feature in CloudWatch."""
    import uuid

    from conftest import aws_client

    s3, sagemaker = aws_client("s3", aws_env), aws_client("sagemaker", aws_env)
    cloudwatch = aws_client("cloudwatch", aws_env)
    endpoint = "churn-%s" % uuid.uuid4().hex[:8]
    for name in ("statistics.json", "constraints.json"):
        s3.upload_file(str(baseline_dir / name), bucket, "baseline/" + name)
    group = "Monitored-%s" % endpoint
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "i", "ModelDataUrl": "s3://a/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        DriftCheckBaselines={
            "ModelDataQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": "s3://%s/baseline/statistics.json" % bucket,
                },
                "Constraints": {
                    "ContentType": "application/json",
                    "S3Uri": "s3://%s/baseline/constraints.json" % bucket,
                },
            }
        },
    )["ModelPackageArn"]
    sagemaker.create_model(
        ModelName=endpoint,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "i", "ModelDataUrl": "s3://a/m.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=endpoint + "-config",
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
            "DestinationS3Uri": "s3://%s/capture" % bucket,
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint + "-config")

    shifted = generate(600, seed=11)[FEATURES]
    shifted = shifted.assign(age=shifted["age"] + 25)
    writer = CaptureWriter(str(tmp_path / "capture"), endpoint)
    for i in range(0, len(shifted), 20):
        body = shifted.iloc[i : i + 20].to_csv(header=False, index=False).encode()
        writer.capture(body, "text/csv", b"0.1,0\n", "text/csv")
    writer.close()
    upload_capture(s3, bucket, "capture", tmp_path / "capture")
    # An old hour with rows of seven columns: --since 2h must leave it out.
    old = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "1,2,3,4,5,6,7\n",
                "encoding": "CSV",
            }
        },
        "eventMetadata": {"eventId": "e", "inferenceTime": "2020-01-01T00:10:00Z"},
        "eventVersion": "0",
    }
    s3.put_object(
        Bucket=bucket,
        Key="capture/%s/AllTraffic/2020/01/01/00/old.jsonl" % endpoint,
        Body=json.dumps(old).encode(),
    )

    proc = churn_aws(
        aws_env,
        "--region",
        "us-east-1",
        "--endpoint-name",
        endpoint,
        "--model-package-arn",
        arn,
        "--since",
        "2h",
        "--output",
        "s3://%s/monitoring/run-1" % bucket,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "600 captured rows checked; 1 violation; s3://%s/monitoring/run-1/"
        "constraint_violations.json" % bucket in proc.stdout
    )
    report = json.loads(
        s3.get_object(Bucket=bucket, Key="monitoring/run-1/constraint_violations.json")[
            "Body"
        ].read()
    )
    assert [(v["feature_name"], v["constraint_check_type"]) for v in report["violations"]] == [
        ("age", "baseline_drift_check")
    ]
    reported = float(report["violations"][0]["description"].split(": ")[1].split(" ")[0])

    values = drift_metrics(cloudwatch, endpoint, endpoint + "-adhoc")
    assert set(values) == set(FEATURES)
    assert all(len(v) == 1 for v in values.values())
    assert values["age"][0] == pytest.approx(reported, abs=1e-4) and values["age"][0] > 0.5
    assert all(values[f][0] <= 0.1 for f in FEATURES if f != "age")


def test_on_aws_unshifted_capture_is_no_violation(baseline_dir, aws_env, bucket, tmp_path):
    """An explicit capture destination and a local baseline; the report in a local folder."""
    import uuid

    from conftest import aws_client

    s3, cloudwatch = aws_client("s3", aws_env), aws_client("cloudwatch", aws_env)
    endpoint = "churn-%s" % uuid.uuid4().hex[:8]
    capture(tmp_path / "capture", generate(600, seed=11)[FEATURES])  # endpoint churn-local
    upload_capture(s3, bucket, "prod/capture", tmp_path / "capture")
    proc = churn_aws(
        aws_env,
        "--region",
        "us-east-1",
        "--endpoint-name",
        "churn-local",
        "--capture-destination",
        "s3://%s/prod/capture/" % bucket,
        "--baseline-dir",
        str(baseline_dir),
        "--schedule-name",
        endpoint,
        "--output",
        str(tmp_path / "report"),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "report" / "constraint_violations.json").read_text()) == {
        "violations": []
    }
    assert (
        "published 5 metrics to CloudWatch %s (Endpoint=churn-local, MonitoringSchedule=%s)"
        % (NAMESPACE, endpoint)
        in proc.stdout
    )
    listed = cloudwatch.list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "MonitoringSchedule", "Value": endpoint}]
    )["Metrics"]
    assert {m["MetricName"] for m in listed} == {"feature_baseline_drift_" + f for f in FEATURES}


MISSING_BUCKET = ["--capture-destination", "s3://no-such-churn-bucket/capture"]


@pytest.mark.parametrize(
    "unset, args, message",
    [
        (
            ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
            MISSING_BUCKET,
            "no AWS credentials found",
        ),
        (
            ["AWS_DEFAULT_REGION"],
            MISSING_BUCKET,
            "no AWS region: give --region, or set AWS_DEFAULT_REGION",
        ),
        (
            [],
            MISSING_BUCKET,
            "capture destination s3://no-such-churn-bucket/capture: bucket "
            "no-such-churn-bucket does not exist",
        ),
        (
            [],
            ["--capture-destination", "s3://BUCKET/empty"],
            "no captured data for endpoint churn-prod under s3://BUCKET/empty/",
        ),
        (
            [],
            ["--model-package-arn", "arn:aws:sagemaker:us-east-1:123456789012:model-package/x/1"],
            "model package arn:aws:sagemaker:us-east-1:123456789012:model-package/x/1",
        ),
        (
            [],
            ["--capture-destination", "s3://BUCKET/c", "--model-version", "1"],
            "--baseline-dir and --model-version each name the baseline: give one",
        ),
    ],
)
def test_on_aws_mistakes_are_one_line(baseline_dir, aws_env, bucket, unset, args, message):
    env = {k: v for k, v in aws_env.items() if k not in unset}
    env.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    env["CHURN_TARGET"] = "aws"  # the target without a flag (the default is the local home)
    args = [a.replace("BUCKET", bucket) for a in args]
    if "--model-package-arn" not in args:
        args += ["--baseline-dir", str(baseline_dir)]
    proc = churn_aws(env, "--endpoint-name", "churn-prod", *args)
    assert proc.returncode == 1
    assert message.replace("BUCKET", bucket) in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
