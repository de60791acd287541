"""`churn ui` as a user meets it: the command serving a real home on 127.0.0.1, read over HTTP
and driven in headless Chromium (Debian's, through Playwright). The home holds real runs made
by `churn run`, capture written by the serving code and reports written by `churn monitor`.
Screenshots go to $CHURN_TEST_ARTIFACTS (default .test-artifacts/) for a person to look at."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from pipelines.churn.schema_source import SchemaSource
from pipelines.serving.capture import CaptureWriter

from conftest import ROOT, churn_cli

ARTIFACTS = Path(os.environ.get("CHURN_TEST_ARTIFACTS", ROOT / ".test-artifacts")) / "ui"
CANARY = "canary-outside-the-home-3f9a"


def chromium_path():
    for candidate in (
        os.environ.get("CHURN_CHROMIUM"),
        shutil.which("chromium"),
        "/usr/bin/chromium",
    ):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def capture_rows(capture_dir, frame):
    writer = CaptureWriter(str(capture_dir), "churn-local")
    for i in range(0, len(frame), 25):
        body = frame.iloc[i : i + 25].to_csv(header=False, index=False).encode()
        writer.capture(body, "text/csv", b"0.1,0\n", "text/csv")
    writer.close()


class UIServer(object):
    """`churn ui --port 0 [options]` on `home`; requests go to it on 127.0.0.1 whatever address
    it listens on (0.0.0.0 included)."""

    def __init__(self, home, *options):
        self.home = home
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "ui", "--home", str(home), "--port", "0"]
            + list(options),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
        )
        line = self.proc.stdout.readline()
        match = re.search(r"(http://[^ ]+/) ", line)
        assert match, line + self.proc.stderr.read()
        self.url = match.group(1)
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])

    def get(self, path, headers=None, data=None, method=None):
        """(status, body text, headers) of one request; errors are answers too."""
        request = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, path),
            data=data,
            headers=headers or {},
            method=method,
        )
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=30) as r:
                return r.status, r.read().decode("utf-8", "replace"), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace"), e.headers

    def close(self):
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A home with a passing run (version 1), its rerun from the cache (version 2), a failing
    one (AucThreshold=0.99), two monitor
    reports (the second on shifted traffic), a canary file beside the home, and `churn ui`."""
    base = tmp_path_factory.mktemp("ui")
    home = base / "home"
    (base / "secret.txt").write_text(CANARY)
    passing = churn_cli(home, "run", "--rows", "2000", "--json")
    assert passing.returncode == 0, passing.stderr[-2000:]
    again = churn_cli(home, "run", "--rows", "2000")  # from the cache: version 2, to compare
    assert again.returncode == 0, again.stderr[-2000:]
    failing = churn_cli(home, "run", "--rows", "2000", "--param", "AucThreshold=0.99", "--json")
    assert failing.returncode == 1, failing.stderr[-2000:]
    features = SchemaSource("seed").schema.feature_names
    table = pd.read_csv(home / "data" / "churn-2000-rows-seed-0.csv")[features]
    capture = home / "capture"
    for stamp, frame in (
        ("20261201T080000Z", table.iloc[:400]),
        ("20261201T090000Z", table.iloc[400:800].assign(age=table["age"].iloc[400:800] + 30)),
    ):
        capture_rows(capture, frame)
        proc = churn_cli(
            home,
            "monitor",
            "--model-version",
            "1",
            "--output",
            home / "monitoring" / "churn-local" / stamp,
        )
        assert proc.returncode == 0, proc.stderr
    server = UIServer(home)
    server.passing = json.loads(passing.stdout)
    server.failing = json.loads(failing.stdout)
    yield server
    err = server.close()
    assert "Traceback" not in err, err  # no page failed on the server's side


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium: `make browser` installs Debian's (make test runs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    errors = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield p
    context.close()
    assert not errors, errors  # no script error, no refused resource (CSP)


def shoot(page, name):
    page.screenshot(path=str(ARTIFACTS / (name + ".png")), full_page=True)


def wait_until(page, expression, timeout):
    """Poll `expression` in the page (Playwright's wait_for_function evaluates strings, which
    the pages' Content-Security-Policy rightly forbids); a reload in between is retried."""
    from playwright.sync_api import Error

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if page.evaluate(expression):
                return
        except Error:  # the page was reloading
            pass
        time.sleep(0.1)
    raise AssertionError("not within %d s: %s" % (timeout, expression))


def node_status(page, step):
    classes = page.locator('g.node[data-step="%s"]' % step).get_attribute("class").split()
    return [c for c in classes if c.startswith("status-")][0]


# ---------------------------------------------------------------------------- in the browser


def test_execution_view_shows_every_step_succeeded_and_the_auc(site, page):
    execution = site.passing["execution_id"]
    page.goto(site.url + "executions")
    page.click("text=" + execution)
    page.wait_for_selector("svg.graph")
    ran = [s["name"] for s in site.passing["steps"]]
    assert len(ran) == 13
    for step in ran:
        assert node_status(page, step) == "status-succeeded", step
    assert node_status(page, "AucTooLow") == "status-not-run"  # the branches not taken
    assert node_status(page, "UntrustedData") == "status-not-run"
    assert page.locator("svg.graph path.edge.branch").count() == 4  # two conditions' branches
    auc = "%.4f" % site.passing["metrics"]["auc"]
    assert page.locator("table.metrics tr", has_text="auc").first.inner_text().split()[-1] == auc
    shoot(page, "execution")


def test_failing_run_shows_auc_too_low_failed_with_its_message(site, page):
    execution = site.failing["execution_id"]
    page.goto(site.url + "executions?status=Failed")
    assert page.locator("table.executions tbody tr").count() == 1
    page.click("text=" + execution)
    assert node_status(page, "AucTooLow") == "status-failed"
    assert node_status(page, "TrainModel") == "status-cache-hit"
    assert node_status(page, "RegisterModel-RegisterModel") == "status-not-run"
    assert "is below the AucThreshold 0.99" in page.locator("p.failure").inner_text()
    shoot(page, "execution-failed")
    page.click('g.node[data-step="AucTooLow"]')
    page.wait_for_url(re.compile(r".*/steps/AucTooLow$"))
    assert "is below the AucThreshold 0.99" in page.locator("span.failure").inner_text()
    page.goto(site.url + "executions/%s/steps/TrainModel" % execution)
    text = page.locator("table.facts").inner_text()
    assert "from execution %s" % site.passing["execution_id"] in text  # the cache hit's source
    assert "model.tar.gz" in page.locator("main").inner_text()  # its output object, linked


def test_approve_version_1_from_the_page(site, page):
    page.goto(site.url + "models")
    page.locator("table.versions a", has_text=re.compile(r"^version 1$")).click()
    shoot(page, "registry-version")
    page.fill("input[name=description]", "looked at it in churn ui")
    page.click("button.approve")
    page.wait_for_selector("#approval-status .badge.status-approved")
    described = json.loads(churn_cli(site.home, "models", "describe", "1").stdout)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "looked at it in churn ui"
    assert page.locator("button.approve").is_disabled()


def test_a_live_run_recolours_the_graph_while_it_executes(site, page):
    """A run on fresh data (no cache hits) opened while its first step executes: the graph
    turns that step green without a reload, then the page shows the run's end."""
    before = {p.name for p in (site.home / "executions").iterdir()}
    run = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--rows", "3000", "--home", str(site.home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=str(ROOT),
    )
    try:
        deadline = time.time() + 60
        new = set()
        while not new and time.time() < deadline:
            time.sleep(0.1)
            new = {p.name for p in (site.home / "executions").iterdir()} - before
            new = {n for n in new if (site.home / "executions" / n / "definition.json").exists()}
        (execution,) = new
        page.goto(site.url + "executions/" + execution)
        assert node_status(page, "ValidateShards") == "status-executing", "run ended too soon"
        assert node_status(page, "TrainModel") == "status-not-run"
        shoot(page, "execution-live-executing")
        page.evaluate("window.notReloaded = true")
        # the step's log, followed from before the job wrote its first line
        log = page.context.new_page()
        log.goto(site.url + "executions/%s/steps/ValidateShards" % execution)
        assert log.locator("pre.log[data-follow]").count() == 1, "the step ended too soon"
        log.evaluate("window.notReloaded = true")
        wait_until(
            log,
            "document.querySelector('pre.log').textContent.includes('validate: algo-1 checked')"
            " && document.querySelector('#step-status .badge').textContent === 'Succeeded'"
            " && window.notReloaded === true",
            60,
        )
        shoot(log, "step-log-followed")
        log.close()
        wait_until(
            page,
            "document.querySelector('g.node[data-step=ValidateShards]')"
            ".classList.contains('status-succeeded') && window.notReloaded === true",
            60,
        )
        shoot(page, "execution-live-later")
        wait_until(
            page, "document.body.dataset.status === 'Succeeded' && !window.notReloaded", 120
        )  # the end reloads the page, which then shows the finished run
        assert node_status(page, "RegisterModel-RegisterModel") == "status-succeeded"
    finally:
        assert run.wait(timeout=120) == 0, run.stderr.read()[-2000:]


def test_registry_compare_and_monitoring_pages(site, page):
    page.goto(site.url + "models/compare?a=churn-seed/1&b=churn-seed/2")
    assert page.locator("table.metrics tr", has_text="AUC").count() >= 1
    assert page.locator(".plots img").count() == 4
    shoot(page, "registry-compare")
    page.goto(site.url + "monitoring")
    page.click("text=churn-local")
    page.wait_for_url(re.compile(r".*/monitoring/churn-local$"))
    page.wait_for_selector("svg.chart")  # count() does not wait for the page the click opened
    chart = page.locator("svg.chart")
    assert chart.locator("line.threshold").count() == 1
    age = chart.locator('polyline[data-feature="age"]').get_attribute("points").split()
    assert len(age) == 2  # two reports
    assert "age" in page.locator("table", has_text="baseline_drift_check").inner_text()
    page.goto(site.url + "monitoring/churn-local?version=1")  # whether or not one is Approved
    assert page.locator(".distributions figure").count() == len(
        SchemaSource("seed").schema.feature_names
    )
    shoot(page, "monitoring")


# ---------------------------------------------------------------------------- over HTTP


def test_listens_on_loopback_and_refuses_other_hosts(site):
    assert site.url.startswith("http://127.0.0.1:")
    status, body, _ = site.get("/executions", headers={"Host": "attacker.example"})
    assert status == 421 and "127.0.0.1" in body
    status, body, headers = site.get("/executions")
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]


def version_status(site):
    return json.loads(churn_cli(site.home, "models", "describe", "1").stdout)["ModelApprovalStatus"]


def test_state_changes_only_by_post_with_the_csrf_token(site):
    status, body, _ = site.get("/models/churn-seed/1")
    token = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
    before = version_status(site)
    target = "PendingManualApproval" if before != "Rejected" else "Approved"
    assert target  # the refused requests below must leave `before` as it is
    form = lambda **f: "&".join("%s=%s" % kv for kv in f.items()).encode()  # noqa: E731
    refused = [
        site.get("/models/churn-seed/1/approval?status=Rejected&csrf_token=" + token),
        site.get("/models/churn-seed/1/approval", data=form(status="Rejected")),
        site.get(
            "/models/churn-seed/1/approval",
            data=form(status="Rejected", csrf_token="x" + token),
        ),
        site.get(
            "/models/churn-seed/1/approval",
            data=form(status="Rejected", csrf_token=token),
            headers={"Origin": "http://attacker.example"},
        ),
        site.get(
            "/models/churn-seed/1/approval",
            data=form(status="PendingManualApproval", csrf_token=token),
        ),
    ]
    assert [r[0] for r in refused] == [405, 403, 403, 403, 400]
    assert version_status(site) == before
    status, _, headers = site.get(
        "/models/churn-seed/1/approval", data=form(status="Rejected", csrf_token=token)
    )
    assert status == 303 and headers["Location"] == "/models/churn-seed/1"
    assert version_status(site) == "Rejected"
    churn_cli(site.home, "models", "approve", "1")  # as the browser test left it


def test_no_path_outside_the_home_is_served(site, tmp_path):
    """Traversal in every parameter that names a file: none answers 200, none shows the canary
    file beside the home, the registry database or a file of the package."""
    execution = site.passing["execution_id"]
    store = site.home / "s3" / "churn-local"
    (store / "link-out.txt").symlink_to(site.home.parent / "secret.txt")
    climbs = [
        "..",
        "../secret.txt",
        "..%2fsecret.txt",
        "%2e%2e",
        "%2e%2e%2fsecret.txt",
        "..%5csecret.txt",
        "%252e%252e%252fsecret.txt",
        "....//secret.txt",
        "%00",
    ]
    paths = []
    for c in climbs:
        paths += [
            "/executions/" + c,
            "/executions/%s/steps/%s" % (execution, c),
            "/executions/%s/steps/%s/log?host=algo-1" % (execution, c),
            "/executions/%s/steps/TrainModel/log?host=%s" % (execution, c),
            "/executions/%s/steps/TrainModel/log?host=algo-1/%s" % (execution, c),
            "/store/churn-local/" + c,
            "/store/churn-local/%s/%s/registry.db" % (c, c),
            "/store/" + c,
            "/static/" + c,
            "/static/%s/server.py" % c,
            "/monitoring/" + c,
            "/monitoring/churn-local?version=" + c,
            "/models/%s/1" % c,
            "/models/churn-seed/" + c,
            "/models/compare?a=%s&b=churn-seed/1" % c,
        ]
    paths += [
        "/store/churn-local/link-out.txt",
        "/store//etc/passwd",
        "/store/etc/passwd",
        "/static/%2e%2e/server.py",
        "/executions/%s/execution.json" % execution,
    ]
    for path in paths:
        status, body, _ = site.get(path)
        assert status in (400, 404, 405), (path, status)
        assert CANARY not in body and "SQLite format" not in body, path
        assert "root:" not in body and "import asyncio" not in body, path
    status, body, _ = site.get(
        "/store/churn-local/churn/%s/EvaluateModel/evaluation/evaluation.json" % execution
    )
    assert status == 200 and "binary_classification_metrics" in body  # objects are served


def test_unknown_names_are_one_clear_404(site):
    status, body, _ = site.get("/executions/0123456789ab")
    assert status == 404 and "no execution 0123456789ab under" in body
    status, body, _ = site.get("/models/churn-seed/99")
    assert status == 404 and "no model version 99" in body
    status, body, _ = site.get("/executions?status=Sideways")
    assert status == 404 and "not one of Executing" in body


def test_a_port_in_use_or_out_of_range_is_one_clear_line(site):
    port = site.url.rsplit(":", 1)[1].strip("/")
    for value, message in (
        (port, "cannot listen on 127.0.0.1:%s" % port),
        ("70000", "--port 70000: give a port from 1 to 65535"),
    ):
        proc = churn_cli(site.home, "ui", "--port", value, timeout=60)
        assert proc.returncode == 1, proc.stdout
        assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_the_monitoring_page_draws_the_baseline_its_reports_were_checked_against(site):
    """After a newer version of another table was approved, the page drew version 1's drift
    chart over that version's baseline histograms with no warning. The baseline is now the
    one the endpoint serves or its reports name, never the newest Approved of some group."""
    from pipelines.workspace import Workspace

    with Workspace(site.home) as ws:
        seed = ws.registry.find("churn-seed/1")
        other = {k: seed[k] for k in ("InferenceSpecification", "DriftCheckBaselines")}
        other.update(ModelPackageGroupName="churn-bank", ModelApprovalStatus="Approved")
        ws.registry.create_model_package(other)
    status, body, _ = site.get("/monitoring/churn-local")
    assert status == 200
    assert "Baseline of" in body and "churn-seed/1" in body and "churn-bank" not in body
    assert "the latest report was checked against it" in body
    # Each report says what it was checked against.
    assert body.count("churn-seed/1 (--model-version)") == 2
    # A version named in the address wins, and a mixed history is pointed out.
    status, body, _ = site.get("/monitoring/churn-local?version=churn-bank/1")
    assert status == 200 and "Some reports were checked against another baseline" in body


def test_host_0_0_0_0_answers_the_names_it_is_told_and_refuses_other_names(tmp_path):
    """`--host 0.0.0.0` answered 421 to every real client: the rebinding defence allowed only
    127.0.0.1 and localhost. A name given with --allow-host is answered, an address is (a page
    that rebinds a name of its own sends that name), any other name still gets 421."""
    server = UIServer(tmp_path / "home", "--host", "0.0.0.0", "--allow-host", "churn.lan")
    try:
        assert server.url.startswith("http://0.0.0.0:")
        answers = {
            host: server.get("/executions", headers={"Host": "%s:%d" % (host, server.port)})
            for host in (
                "127.0.0.1",
                "churn.lan",
                "CHURN.LAN",
                "192.0.2.7",
                "[::1]",
                "evil.example",
            )
        }
    finally:
        err = server.close()
    assert "warning: listening on 0.0.0.0" in err and "Traceback" not in err, err
    assert {h: a[0] for h, a in answers.items()} == {
        "127.0.0.1": 200,
        "churn.lan": 200,
        "CHURN.LAN": 200,
        "192.0.2.7": 200,
        "[::1]": 200,
        "evil.example": 421,
    }
    assert "--allow-host" in answers["evil.example"][1]
    shown = churn_cli(tmp_path / "home", "ui", "--help")
    assert "--allow-host" in shown.stdout
    for bad in ("http://churn.lan", "churn.lan:8090", "a b"):
        refused = churn_cli(tmp_path / "home", "ui", "--allow-host", bad, "--port", "0", timeout=60)
        assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1, (
            bad,
            refused.stderr,
        )
        assert "--allow-host %s" % bad in refused.stderr and "Traceback" not in refused.stderr


def open_stream(port, path):
    """A raw connection that asked for an event stream: (socket, status line and headers)."""
    import socket

    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path.encode(), port))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        assert chunk, "closed without answering: %r" % head
        head += chunk
    return conn, head.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def test_event_streams_are_capped_and_the_next_one_is_told_to_retry(tmp_path):
    """1,500 open event streams took 94% of a core (each polls its record four times a
    second). At MAX_STREAMS open, the next is a 503 with Retry-After (the streams open keep
    going; a browser tab holds one or two); once one closes, a new one is served."""
    from pipelines.local.sagemaker.records import ExecutionRecords
    from pipelines.ui.streams import MAX_STREAMS

    home = tmp_path / "home"
    # A run in progress (this process is its runner, so it is not settled as killed).
    ExecutionRecords(home).save(
        {
            "PipelineExecutionId": "0123456789ab",
            "PipelineExecutionStatus": "Executing",
            "FailureReason": None,
            "Steps": [],
            "ProcessId": os.getpid(),
        }
    )
    server = UIServer(home)
    streams = []
    try:
        for _ in range(MAX_STREAMS):
            streams.append(open_stream(server.port, "/executions/0123456789ab/events"))
        assert all(head.startswith("HTTP/1.1 200") for _, head in streams), streams[-1][1]
        extra, head = open_stream(server.port, "/executions/0123456789ab/events")
        extra.close()
        assert head.startswith("HTTP/1.1 503") and "retry-after: " in head.lower(), head
        status, _, _ = server.get("/models")  # pages are still served
        assert status == 200
        streams.pop()[0].close()
        deadline = time.time() + 10
        while True:  # the server notices the closed stream within a poll
            conn, head = open_stream(server.port, "/executions/0123456789ab/events")
            streams.append((conn, head))
            if head.startswith("HTTP/1.1 200") or time.time() > deadline:
                break
            streams.pop()[0].close()
            time.sleep(0.2)
        assert head.startswith("HTTP/1.1 200"), head
    finally:
        for conn, _ in streams:
            conn.close()
        err = server.close()
    assert "Traceback" not in err, err


def test_over_long_names_in_paths_and_queries_are_a_4xx(site):
    """A 5,000-character /store key was a 500 (the file system's 'File name too long'). S3
    refuses a key over 1,024 bytes with 400 KeyTooLongError
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html); a segment
    over 255 bytes can be no file of the local store. Every other parameter is probed too."""
    execution = site.passing["execution_id"]
    long = "a" * 5000
    status, body, _ = site.get("/store/churn-local/" + long)
    assert status == 400 and "1024 bytes" in body, (status, body[-300:])
    status, body, _ = site.get("/store/churn-local/%s/x.csv" % ("b" * 300))
    assert status == 400 and "255 bytes" in body, (status, body[-300:])
    status, _, _ = site.get("/store/churn-local/" + "/".join(["c" * 200] * 30))
    assert status == 400
    paths = [
        "/store/" + long,
        "/executions/" + long,
        "/executions?status=" + long,
        "/executions/%s/events" % long,
        "/executions/%s/steps/%s" % (execution, long),
        "/executions/%s/steps/%s/log?host=algo-1" % (execution, long),
        "/executions/%s/steps/TrainModel/log?host=%s" % (execution, long),
        "/executions/%s/steps/TrainModel/log?host=algo-1&offset=%s" % (execution, "9" * 5000),
        "/models/%s/1" % long,
        "/models/churn-seed/" + "9" * 5000,
        "/models/compare?a=%s&b=churn-seed/1" % long,
        "/models/compare?a=churn-seed/1&b=churn-seed/" + "9" * 5000,
        "/monitoring/" + long,
        "/monitoring/churn-local?version=" + long,
        "/monitoring/churn-local?version=churn-seed/" + "9" * 5000,
        "/static/" + long,
    ]
    for path in paths:
        status, _, _ = site.get(path)
        assert 400 <= status < 500, (path[:80], status)
    status, _, _ = site.get("/models?group=" + long)  # a filter: no version matches it
    assert status == 200
