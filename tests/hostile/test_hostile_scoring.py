"""Rows a careless or hostile caller sends to a registered model, through `churn batch`,
`churn serve` and `churn run --batch-input`: each refused with one line naming the row (the
input file's line, or the request's record), the column and the value, never a score, never
a 5xx, and nothing half written (the values are those the seed schema's validation refuses)."""

import json
import urllib.request

import pytest

from conftest import BIGML, free_port, needs_shared_data
from conftest import churn_cli as churn

GOOD = "40,5,100000,2,1"
# (the row, what the refusal says after "column ...": the same words every way it arrives)
HOSTILE_ROWS = [
    ("150,5,100000,2,1", "'age': 150 is outside [0, 120]"),
    ("-42,5,100000,2,1", "'age': -42 is outside [0, 120]"),
    ("42.5,5,100000,2,1", "'age': 42.5 is not a whole number"),
    (
        "40,5,,2,1",
        "'balance': a value is required (the schema's completeness for balance is 1, the "
        "default; set it below 1, e.g. 0.99, to allow gaps)",
    ),
    ("40,5,-5,2,1", "'balance': -5 is below 0"),
    ("40,5,100000,0,1", "'num_products': 0 is outside [1, 10]"),
    ("40,5,100000,2,2", "'is_active': 2 is outside [0, 1]"),
    ("40,5,nan,2,1", "'balance': 'nan' is not a number"),
    ("40,5,1e309,2,1", "'balance': '1e309' is not a number"),
    ("40,5,1_000,2,1", "'balance': '1_000' is not a number"),
    ("40,5,lots,2,1", "'balance': 'lots' is not a number"),
    ("٤٠,5,100000,2,1", "'age': '٤٠' is not a number"),
]
IDS = [row for row, _ in HOSTILE_ROWS]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home with an approved seed-schema version, made by `churn run`."""
    home = tmp_path_factory.mktemp("hostile-scoring")
    proc = churn(home, "run", "--rows", "3000")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert churn(home, "models", "approve", "churn-seed/1").returncode == 0
    return home


def rows_file(folder, row, line=3):
    """Five rows, `row` on line `line`."""
    lines = [GOOD] * 5
    lines[line - 1] = row
    path = folder / "rows.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("row, refusal", HOSTILE_ROWS, ids=IDS)
def test_churn_batch_fails_naming_the_line_and_writes_nothing(home, tmp_path, row, refusal):
    out = tmp_path / "scores"
    proc = churn(home, "batch", "--input", rows_file(tmp_path, row), "--output", out)
    assert proc.returncode == 1 and proc.stdout == "", proc.stdout
    assert proc.stderr == (
        "churn batch: error: rows.csv line 3, column %s; nothing was written to %s\n"
        % (refusal, out)
    )
    assert not out.exists()


def test_churn_serve_answers_each_with_a_4xx_naming_record_column_and_value(home, tmp_path):
    import subprocess
    import sys
    import time

    from conftest import ROOT

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "serve", "--home", str(home), "--port", str(port)],
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = "http://127.0.0.1:%d" % port

    def post(body, content_type):
        request = urllib.request.Request(
            url + "/invocations", data=body.encode(), headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(url + "/ping", timeout=2).status == 200:
                    break
            except OSError:
                assert time.time() < deadline and server.poll() is None, server.stderr.read()
                time.sleep(0.2)
        assert post(GOOD, "text/csv")[0] == 200
        for row, refusal in HOSTILE_ROWS:
            status, body = post(GOOD + "\n" + row, "text/csv")
            assert status == 400, (row, status, body)
            assert json.loads(body)["message"].startswith("record 2, column " + refusal), body
        # The same rows as JSON instances by name, numbers as JSON numbers where they are.
        names = ["age", "tenure", "balance", "num_products", "is_active"]
        status, body = post(
            json.dumps({"instances": [dict(zip(names, [40, 5, 100000, 2, 1])),
                                      dict(zip(names, [40, 5, None, 2, 1]))]}),
            "application/json",
        )  # fmt: skip
        assert status == 400 and "record 2, column 'balance': a value is required" in body
        status, body = post(json.dumps([[420, 5, 100000, 2, 1]]), "application/json")
        assert status == 400 and "record 1, column 'age': 420 is outside [0, 120]" in body
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_churn_run_batch_input_fails_naming_the_line(home, tmp_path):
    """The pipeline's BatchTransform refuses the file the same way; the version the run
    registered stays registered (scoring comes after registering), and no score is
    published."""
    rows = rows_file(tmp_path, "150,5,100000,2,1", line=4)
    proc = churn(home, "run", "--rows", "3000", "--batch-input", rows)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("failed: step BatchTransform failed: ")
    assert "rows.csv line 4, column 'age': 150 is outside [0, 120]" in first, first
    assert not list((home / "s3" / "churn-local" / "churn" / "batch" / "output").rglob("*.out"))


@needs_shared_data
def test_a_lower_case_category_fails_a_bigml_batch_instead_of_lowering_its_auc(tmp_path):
    """BigML's 'No' written 'no' in one column was scored as an unknown category: exit 0 and
    AUC 0.92 -> 0.76. Now the batch fails naming the line, and says what the value would
    have to be."""
    home = tmp_path / "home"
    run = churn(home, "run", "--data", BIGML, "--schema", "bigml", "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    version = "churn-bigml/%d" % json.loads(run.stdout)["model_package"]["version"]
    assert churn(home, "models", "approve", version).returncode == 0
    rows = tmp_path / "rows.csv"
    made = churn(home, "data", "features", "--data", BIGML, "--schema", "bigml", "--out", rows)
    assert made.returncode == 0 and made.stdout.startswith("wrote 2666 rows of bigml's features")
    good = churn(home, "batch", "--schema", "bigml", "--input", rows, "--output", tmp_path / "ok")
    assert good.returncode == 0, good.stderr
    lines = rows.read_text().splitlines()
    assert lines[99].split(",")[3] == "No"
    lines[99] = lines[99].replace(",No,", ",no,", 1)
    rows.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores"
    proc = churn(home, "batch", "--schema", "bigml", "--input", rows, "--output", out)
    assert proc.returncode == 1 and not out.exists()
    assert proc.stderr.startswith(
        "churn batch: error: rows.csv line 100, column 'International plan': 'no' is not one "
        "of No, Yes (categories match exactly, case and spaces included: did you mean 'No'?)"
    ), proc.stderr


def test_churn_serve_refuses_a_hostile_model_archive_in_one_line(home, tmp_path):
    """A registered version whose model.tar.gz carries a 64 KB pax header of digits (the
    CVE-2024-6232 shape: seconds of CPU in tarfile's header parsing, minutes for a bigger one)
    is refused before anything is unpacked, in one line, instead of being parsed and
    unpacked."""
    import gzip
    import shutil
    import tarfile

    from test_churn_job import END, MEMBER, header, padded

    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    digits = 64 * 1024
    stream = header("././@PaxHeader", tarfile.XHDTYPE, digits) + padded(b"1" * digits)
    archives = list((copy / "s3").rglob("model.tar.gz"))
    assert archives
    for archive in archives:
        with gzip.open(archive, "wb") as f:
            f.write(stream + MEMBER + END)
    proc = churn(copy, "serve", "--port", free_port(), timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "is unsafe: an extended header (tar type 'x') of 65536 bytes" in proc.stderr
    assert "nothing was extracted" in proc.stderr
