"""What `churn` prints for the first things a new user does: a listing piped into `head`,
`runs list --json` and the input it lists, `--version`, the line that ends `churn run`
(issue 24)."""

import json
import os
import re
import subprocess
import sys
import sysconfig

import pytest

from conftest import ROOT
from conftest import churn_cli as churn

SETUP_VERSION = re.search(r'version="([^"]+)"', (ROOT / "setup.py").read_text()).group(1)


class Home(type(ROOT)):
    """A home folder, with the --json result of its first run."""

    first = None


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home with one real execution on the user's own file, customers.csv."""
    from pipelines.churn.datagen import write_csv

    folder = tmp_path_factory.mktemp("cli-output")
    write_csv(600, 5, folder / "customers.csv")
    home = Home(folder / "home")
    proc = churn(
        home, "run", "--json", "--data", folder / "customers.csv", "--param", "AucThreshold=0"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    home.first = json.loads(proc.stdout)
    return home


def record_of(home, execution_id):
    proc = churn(home, "runs", "show", execution_id, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_runs_list_json_is_the_summaries_with_the_input_file(home):
    """--json printed the table; the listing never said which data a run read."""
    proc = churn(home, "runs", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert isinstance(listed, list)
    first = [r for r in listed if r["id"] == home.first["execution_id"]]
    assert len(first) == 1, listed
    summary = first[0]
    assert summary["status"] == "Succeeded" and summary["steps"] == 13
    assert summary["auc"] == home.first["metrics"]["auc"]
    # the staged key is content-hashed; what the user gave was customers.csv
    assert summary["input"] == "customers.csv"
    assert re.fullmatch(
        r"s3://churn-local/churn/data/[0-9a-f]{16}/customers\.csv", summary["input_data_url"]
    ), summary
    record = record_of(home, home.first["execution_id"])
    assert summary["input_data_url"] == record["Parameters"]["InputDataUrl"]

    table = churn(home, "runs", "list").stdout
    line = [x for x in table.splitlines() if x.startswith(home.first["execution_id"])][0]
    assert line.endswith("ChurnPipeline  customers.csv"), line


def test_the_run_line_gives_the_executions_time_and_the_commands_apart(home):
    """`churn run` said "Succeeded in 24.2 s" where `runs list` said 10.3 s: the first was the
    whole command (definition, staging, job parent), the second the execution."""
    data = home.parent / "customers.csv"
    proc = churn(home, "run", "--data", data, "--param", "AucThreshold=0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if ": Succeeded in " in x][0]
    found = re.fullmatch(
        r"(\w+): Succeeded in ([\d.]+) s \((\d+) of 13 steps from cache\); ([\d.]+) s in all with "
        r"the definition, staging and no job parent",
        line,
    )
    # The same file and parameters again: every job from the cache, so no job parent started
    # (issue 31: its imports cost a cached rerun about 5 CPU-seconds).
    assert found, line
    assert int(found.group(3)) == 10  # the three steps that are not jobs ran again
    record = record_of(home, found.group(1))
    took = record["EndTime"] - record["StartTime"]
    assert found.group(2) == "%.1f" % took
    assert float(found.group(4)) >= float(found.group(2))
    listed = [x for x in churn(home, "runs", "list").stdout.splitlines() if x.startswith(found[1])]
    assert " %s s " % found.group(2) in listed[0], listed  # the same figure as the listing's


def test_run_json_keeps_seconds_and_adds_the_executions_own(home):
    result = home.first
    assert result["job_parent"] is True  # the first run ran its jobs
    record = record_of(home, result["execution_id"])
    assert result["execution_seconds"] == round(record["EndTime"] - record["StartTime"], 2)
    assert result["seconds"] >= result["execution_seconds"]


def many_executions(home, count):
    """`count` more executions in the home: copies of the first one's record under new ids."""
    source = home / "executions" / home.first["execution_id"] / "execution.json"
    record = json.loads(source.read_text())
    for i in range(count):
        record["PipelineExecutionId"] = "copy%08d" % i
        folder = home / "executions" / record["PipelineExecutionId"]
        folder.mkdir(exist_ok=True)
        (folder / "execution.json").write_text(json.dumps(record))


def test_runs_list_into_head_ends_quietly_as_unix_tools_do(home):
    """`churn runs list | head` ended in "churn runs: error: Broken pipe", exit 1."""
    many_executions(home, 1500)  # far more than a pipe holds, so the listing outlives head
    proc = subprocess.run(
        [
            "bash",
            "-c",
            '"$0" -m pipelines.cli runs list | head -1; exit "${PIPESTATUS[0]}"',
            sys.executable,
        ],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(os.environ, CHURN_HOME=str(home)),
    )
    assert proc.stderr == ""
    assert proc.returncode == 141
    assert len(proc.stdout.splitlines()) == 1


def closed_pipe_run(argv, env=None):
    """argv with its stdout a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            argv,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
            env=dict(os.environ, **(env or {})),
            timeout=300,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [["schemas"], ["runs", "list"], ["runs", "list", "--json"], ["models", "list"]],
)
def test_any_churn_command_ends_quietly_on_a_closed_stdout(home, args):
    proc = closed_pipe_run(
        [sys.executable, "-m", "pipelines.cli"] + args, {"CHURN_HOME": str(home)}
    )
    assert proc.stderr == "", proc.stderr
    assert proc.returncode == 141


def test_get_pipeline_definition_ends_quietly_on_a_closed_stdout():
    proc = closed_pipe_run(
        [
            sys.executable,
            "-m",
            "pipelines.get_pipeline_definition",
            "--module-name",
            "pipelines.churn.pipeline",
            "--kwargs",
            '{"region": "us-east-1", "default_bucket": "churn-closed"}',
        ]
    )
    assert proc.stderr == "", proc.stderr
    assert proc.returncode == 141


def test_version_is_the_packages(tmp_path):
    proc = churn(tmp_path, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "churn " + SETUP_VERSION


def test_version_without_an_install_comes_from_setup_py(tmp_path):
    """A clone run as `python -m pipelines.cli` with the libraries but without the package's
    own metadata: every installed distribution but this one, and no .pth processing."""
    site = tmp_path / "site"
    site.mkdir()
    purelib = sysconfig.get_paths()["purelib"]
    for name in os.listdir(purelib):
        if "churn_pipelines" not in name:
            os.symlink(os.path.join(purelib, name), site / name)
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "pipelines.cli", "--version"],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(os.environ, PYTHONPATH=str(site)),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "churn " + SETUP_VERSION


def test_a_command_that_reads_no_table_imports_no_table_library(tmp_path):
    """Every command imported pandas (0.24 s) and numpy through the table and recipe modules and
    every twin's module, before reading anything; a command that reads no table now starts about
    0.4 s sooner. PYTHONPROFILEIMPORTTIME lists every module the process imports on stderr."""
    proc = churn(tmp_path, "models", "list", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0 and proc.stdout.startswith("no model versions"), proc.stderr[-2000:]
    imported = {
        line.split("|")[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "pipelines.cli" in imported  # the listing is there to be read
    assert not imported & {"pandas", "pyarrow", "sklearn", "xgboost", "great_expectations"}
