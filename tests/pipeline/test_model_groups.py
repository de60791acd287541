"""One model package group per table: each schema registers into its own group, and every
command that picks "the newest Approved version" picks it in the group of the schema (or
--group) it is given. Two tables here: the seed schema's generated customers, and the same
customers under a schema of another name (`other`), registered after them."""

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT, changed_schema, free_port
from conftest import churn_cli as churn

SEED_ROW = "40,5,100000,2,1"


class Home(type(ROOT)):
    """The home, and the other table's schema file."""

    other = None


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """churn-seed/1 and churn-other/1, both Approved; churn-other/1 the newer."""
    home = Home(tmp_path_factory.mktemp("groups"))
    other = changed_schema(home.parent / "other.json", "seed")
    seed = churn(home, "run", "--rows", "2000")
    assert seed.returncode == 0, seed.stderr[-2000:]
    assert "approve it with `churn models approve churn-seed/1`" in seed.stdout
    data = home / "data" / "churn-2000-rows-seed-0.csv"
    second = churn(home, "run", "--data", data, "--schema", other)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "registered churn-other version 1" in second.stdout
    for version in ("churn-seed/1", "churn-other/1"):
        assert churn(home, "models", "approve", version).returncode == 0
    home.other = other
    return home


def test_each_table_registers_into_its_own_group_and_the_listing_says_which(home):
    listed = churn(home, "models", "list", "--json")
    versions = {(v["group"], v["version"]): v for v in json.loads(listed.stdout)}
    assert set(versions) == {("churn-other", 1), ("churn-seed", 1)}
    assert versions[("churn-seed", 1)]["schema"] == "seed"
    assert versions[("churn-other", 1)]["schema"] == "other"
    assert 0.5 < versions[("churn-seed", 1)]["auc"] < 1
    lines = churn(home, "models", "list", "--schema", home.other).stdout.splitlines()
    assert len(lines) == 1 and lines[0].split()[:2] == ["churn-other", "1"]
    ambiguous = churn(home, "models", "describe", "1")
    assert ambiguous.returncode == 1 and "several model package groups" in ambiguous.stderr
    described = json.loads(churn(home, "models", "describe", "1", "--schema", home.other).stdout)
    assert described["ModelPackageGroupName"] == "churn-other"


def serve(home, *args):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "serve", "--home", str(home)]
        + ["--port", str(port)]
        + [str(a) for a in args],
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(url + "/ping", timeout=2).status == 200:
                return server, url
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                raise AssertionError(server.communicate()[1])
            time.sleep(0.2)


def stop(server):
    server.terminate()
    return server.communicate(timeout=30)


@pytest.mark.parametrize("schema, group", [(None, "churn-seed"), ("other", "churn-other")])
def test_serve_picks_the_newest_approved_version_of_the_schemas_group(home, schema, group):
    """After approving another table's version, the README's own `churn predict --csv` got a
    400 from `churn serve`: it served the newest Approved version of any table."""
    args = [] if schema is None else ["--schema", home.other]
    server, url = serve(home, *args)
    try:
        predicted = churn(home, "predict", "--endpoint", url, "--csv", SEED_ROW)
    finally:
        out, _ = stop(server)
    assert out.startswith("serving %s/1 (Approved)" % group), out
    assert predicted.returncode == 0 and 0 < float(predicted.stdout.split(",")[0]) < 1


def test_commands_given_a_table_without_approved_versions_say_where_they_are(home, tmp_path):
    lonely = changed_schema(tmp_path / "lonely.json", "seed")
    for command in ("serve", "batch", "monitor"):
        args = [command, "--schema", lonely]
        if command == "batch":
            (tmp_path / "rows.csv").write_text(SEED_ROW + "\n")
            args += ["--input", tmp_path / "rows.csv", "--output", tmp_path / "out"]
        if command == "monitor":  # an endpoint nothing was served as: the schema decides
            args += ["--endpoint-name", "never-served"]
        proc = churn(home, *args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1, proc.stderr
        assert "no Approved model version in group churn-lonely" in lines[0]
        assert "Approved versions are in churn-other, churn-seed" in lines[0]


def test_batch_scores_with_the_group_it_is_given(home, tmp_path):
    (tmp_path / "rows.csv").write_text(SEED_ROW + "\n")
    for args, group in (([], "churn-seed"), (["--group", "churn-other"], "churn-other")):
        out = tmp_path / group
        proc = churn(home, "batch", "--input", tmp_path / "rows.csv", "--output", out, *args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("scored with %s/1 (Approved)" % group), proc.stdout


def test_run_registers_into_the_group_it_is_given(home):
    data = home / "data" / "churn-2000-rows-seed-0.csv"
    proc = churn(home, "run", "--data", data, "--group", "churn-experiments")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "registered churn-experiments version 1" in proc.stdout
    bad = churn(home, "run", "--data", data, "--group", "churn models")
    assert bad.returncode == 2 and "'churn models' is not a model package group name" in (
        bad.stderr
    )


def test_monitor_checks_an_endpoint_against_what_it_serves(home):
    """`churn serve --endpoint-name` records what it serves; monitoring takes that version's
    baseline and the traffic captured since it began serving (not what another version
    answered under the same name before), and refuses a schema that is not the served
    version's table."""
    server, url = serve(home, "--endpoint-name", "other-endpoint")  # the seed group's first
    try:
        for _ in range(2):
            assert churn(home, "predict", "--endpoint", url, "--csv", SEED_ROW).returncode == 0
    finally:
        stop(server)
    server, url = serve(home, "--schema", home.other, "--endpoint-name", "other-endpoint")
    try:
        assert churn(home, "predict", "--endpoint", url, "--csv", SEED_ROW).returncode == 0
    finally:
        stop(server)  # drains the capture
    proc = churn(home, "monitor", "--endpoint-name", "other-endpoint")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        "baseline: churn-other/1 (the version endpoint other-endpoint serves); traffic since "
    )
    assert "\n1 captured rows checked;" in proc.stdout  # not the seed version's two
    wrong = churn(home, "monitor", "--endpoint-name", "other-endpoint", "--schema", "seed")
    assert wrong.returncode == 1 and wrong.stderr.strip().endswith(
        "endpoint other-endpoint serves churn-other/1, not a version of group churn-seed: its "
        "traffic is checked against the baseline of what it serves (drop --schema/--group, or "
        "name a version with --model-version)"
    )
