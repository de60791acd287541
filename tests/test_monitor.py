"""Data-quality baseline (processing/baseline.py) and `churn monitor` on captured requests."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, run
from pipelines.datagen import generate
from pipelines.monitor import analyze, categorical_distance, numeric_distance, robust
from pipelines.serving.capture import CaptureWriter

FEATURES = ["age", "tenure", "balance", "num_products", "is_active"]


@pytest.fixture(scope="module")
def baseline_dir(seed_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline")
    run("processing/baseline.py", "--input", seed_csv, "--schema", "seed", "--output-dir", out,
        check=0)
    return out


def capture(folder, frame, rows_per_request=20):
    writer = CaptureWriter(str(folder), "churn-local")
    for i in range(0, len(frame), rows_per_request):
        body = frame.iloc[i:i + rows_per_request].to_csv(header=False, index=False).encode()
        writer.capture(body, "text/csv", b"0.1,0\n", "text/csv")
    writer.close()


def monitor(baseline_dir, capture_dir, out):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "monitor", "--baseline-dir",
                           str(baseline_dir), "--capture-dir", str(capture_dir), "--output",
                           str(out)], capture_output=True, text=True, cwd=str(ROOT),
                          env=dict(os.environ, CHURN_HOME=str(out / "home")))


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


def test_shifted_data_is_drift_unshifted_is_not(baseline_dir, tmp_path):
    same = generate(600, seed=11)[FEATURES]
    capture(tmp_path / "same", same)
    proc = monitor(baseline_dir, tmp_path / "same", tmp_path / "out-same")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out-same" / "constraint_violations.json").read_text()) == \
        {"violations": []}
    assert "600 captured rows checked; 0 violations" in proc.stdout
    emf = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    assert {m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in emf} == {
        "feature_baseline_drift_" + f for f in FEATURES}

    shifted = same.assign(age=same["age"] + 25)
    capture(tmp_path / "shifted", shifted)
    proc = monitor(baseline_dir, tmp_path / "shifted", tmp_path / "out-shifted")
    violations = json.loads((tmp_path / "out-shifted" / "constraint_violations.json").read_text())
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations["violations"]] == \
        [("age", "baseline_drift_check")]
    assert "Baseline drift distance: 0.6" in violations["violations"][0]["description"]


def test_type_completeness_domain_and_column_checks(baseline_dir):
    statistics = json.loads((baseline_dir / "statistics.json").read_text())
    constraints = json.loads((baseline_dir / "constraints.json").read_text())
    constraints["features"].append({"name": "plan", "inferred_type": "String",
                                    "completeness": 1.0, "string_constraints": {"domains": ["a"]}})
    statistics["features"].append({"name": "plan", "inferred_type": "String", "string_statistics": {
        "common": {"num_present": 10, "num_missing": 0}, "distinct_count": 1.0,
        "distribution": {"categorical": {"buckets": [{"value": "a", "count": 10}]}}}})
    rows = [{"age": "forty" if i % 3 == 0 else "40", "tenure": "" if i % 2 else "5",
             "balance": "100", "plan": "b"} for i in range(30)]
    violations, _ = analyze(statistics, constraints, rows, {"num_products", "is_active"},
                            {"colour"})
    kinds = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert ("age", "data_type_check") in kinds
    assert ("tenure", "completeness_check") in kinds
    assert ("plan", "categorical_values_check") in kinds
    assert ("num_products", "missing_column_check") in kinds
    assert ("colour", "extra_column_check") in kinds


def test_distances():
    assert numeric_distance([1, 2, 3, 4], [1, 2, 3, 4]) == 0
    assert numeric_distance([1, 2, 3, 4], [10, 11]) == 1.0
    assert categorical_distance({"a": 50, "b": 50}, ["a", "a", "a", "b"]) == pytest.approx(0.25)
    assert robust(0.3, 1000, 100) == pytest.approx(0.3 - 1.8 * (1100 / 100000) ** 0.5)
    assert robust(0.05, 1000, 100) == 0.0


def test_no_capture_is_one_clear_line(baseline_dir, tmp_path):
    proc = monitor(baseline_dir, tmp_path / "none", tmp_path / "out")
    assert proc.returncode == 1 and "no captured data for endpoint churn-local" in proc.stderr
