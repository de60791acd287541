"""A local endpoint's serving process (pipelines/local/sagemaker/hosting.py): what `churn
endpoints delete` stops is the process the endpoint started, never another process that was
given its process id after it exited."""

import json
import subprocess
import sys

import pytest

from pipelines.local.sagemaker.database import connect
from pipelines.local.sagemaker.hosting import Hosting, HostingError

from conftest import churn_cli


def record_endpoint(home, name, argv):
    """Endpoint `name` as CreateEndpoint records it, its serving process `argv` (started here,
    as the control plane starts one); returns that process."""
    db = connect(home)
    try:
        hosting = Hosting(lambda: db, home, launcher=lambda *_: argv)
        hosting.create_endpoint_config(
            {
                "EndpointConfigName": name + "-config",
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "model"}],
            }
        )
        hosting.create_endpoint(name, name + "-config", lambda model: {"ModelName": model})
        (child,) = hosting.processes._children.values()
        return child
    finally:
        db.close()


def give_its_pid_to(home, name, pid):
    """What the endpoint's record says once its process has exited and the system has given
    its process id to another process: nothing changes in the record but who holds the id."""
    db = connect(home)
    try:
        serving = json.loads(
            db.execute("SELECT serving FROM endpoints WHERE name = ?", (name,)).fetchone()[0]
        )
        with db:
            db.execute(
                "UPDATE endpoints SET serving = ? WHERE name = ?",
                (json.dumps(dict(serving, pid=pid)), name),
            )
    finally:
        db.close()


def test_delete_signals_no_process_that_took_the_endpoints_pid(tmp_path):
    """The process id recorded was signalled whatever process held it: delete killed it."""
    served = record_endpoint(tmp_path, "gone", [sys.executable, "-c", "pass"])
    served.wait()
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        give_its_pid_to(tmp_path, "gone", stranger.pid)
        proc = churn_cli(tmp_path, "endpoints", "delete", "gone")
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert stranger.poll() is None, "delete signalled a process that was not the endpoint's"
        assert proc.stdout.strip() == (
            "deleted local endpoint gone; its serving process had already exited"
        )
        assert "no local endpoints" in churn_cli(tmp_path, "endpoints", "list").stdout
    finally:
        stranger.kill()
        stranger.wait()


def test_delete_stops_the_endpoints_own_process(tmp_path):
    served = record_endpoint(tmp_path, "running", ["sleep", "60"])
    try:
        proc = churn_cli(tmp_path, "endpoints", "delete", "running")
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert proc.stdout.strip() == "deleted local endpoint running; stopped its serving process"
        assert served.wait(timeout=10) == -15  # SIGTERM
    finally:
        served.kill()
        served.wait()


@pytest.mark.fast
@pytest.mark.parametrize("endpoint, config", [("../../x", "config"), ("e", "../../x")])
def test_a_name_sagemaker_refuses_is_refused_before_anything_is_written(tmp_path, endpoint, config):
    """An endpoint's folder and its config's log are named after them: a workflow's
    CreateEndpoint named '../../x' created <home>/endpoints/../../x (SageMaker refuses such a
    name: boto3 checks no pattern, the service does)."""
    home = tmp_path / "a" / "home"
    db = connect(home)
    try:
        hosting = Hosting(lambda: db, home, launcher=lambda *_: [sys.executable, "-c", "pass"])
        with pytest.raises(HostingError, match="failed to satisfy constraint") as refused:
            hosting.create_endpoint_config(
                {
                    "EndpointConfigName": config,
                    "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "model"}],
                }
            )
            hosting.create_endpoint(endpoint, config, lambda model: {"ModelName": model})
        assert "Value '../../x' at" in str(refused.value)
        assert hosting.processes._children == {}
    finally:
        db.close()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "home", "registry.db"]
