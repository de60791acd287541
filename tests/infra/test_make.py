"""`make` targets a test can run without installing anything: `make browser`, which `make test`
runs first, with apt-get and sudo stand-ins that only record their calls."""

import os
import shutil
import subprocess

import pytest

from conftest import ROOT


@pytest.fixture
def recorded(tmp_path):
    """A PATH with no Chromium, whose apt-get and sudo write their arguments to a log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for tool, then in (("apt-get", ""), ("sudo", 'exec "$@"\n')):
        script = bin_dir / tool
        script.write_text('#!/bin/sh\necho "%s $*" >> "%s"\n%s' % (tool, log, then))
        script.chmod(0o755)
    os.symlink(shutil.which("id"), bin_dir / "id")
    return bin_dir, log


def make_browser(bin_dir, *variables):
    env = {"PATH": str(bin_dir), "HOME": str(bin_dir.parent)}
    return subprocess.run(
        [shutil.which("make"), "--no-print-directory", "-C", str(ROOT), "browser", *variables],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_make_browser_installs_chromium_when_it_is_missing(recorded):
    bin_dir, log = recorded
    proc = make_browser(bin_dir)
    assert proc.returncode == 0, proc.stderr
    assert "apt-get install -y -q chromium" in log.read_text()


def test_browser_skip_installs_nothing(recorded):
    """`make test` apt-installed Chromium with no way to say no."""
    bin_dir, log = recorded
    proc = make_browser(bin_dir, "BROWSER=skip")
    assert proc.returncode == 0, proc.stderr
    assert not log.exists(), log.read_text()
    assert "BROWSER=skip" in proc.stdout and "browser tests skip" in proc.stdout
