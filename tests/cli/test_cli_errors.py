"""Mistakes on the command line: refused with what is wrong and what to do, never a traceback,
never a silent reinterpretation (defects 11 and 12 of the hostile review)."""

import json
import os

import pytest

from pipelines.serving.capture import CaptureWriter

from conftest import churn_cli as churn
from conftest import free_port, register_versions


@pytest.mark.parametrize(
    "args, env, message",
    [
        # --port 70000 bound port 4464 (70000 mod 65536)
        (["serve", "--port", "70000"], {}, "'70000' is not a port number (1 to 65535)"),
        (["serve", "--port", "0"], {}, "'0' is not a port number"),
        # 150 was accepted, and -5 turned capture off silently
        (["serve", "--capture-percent", "150"], {}, "'150' is not a percentage from 0 to 100"),
        (["serve", "--capture-percent", "-5"], {}, "'-5' is not a percentage"),
        (
            [
                "deploy",
                "--model-package-arn",
                "a",
                "--endpoint-name",
                "e",
                "--data-capture-percent",
                "nan",
            ],
            {},
            "'nan' is not a percentage",
        ),
        # a 23-digit version was an OverflowError traceback from SQLite
        (["models", "describe", "99999999999999999999999"], {}, "give a version number"),
        # --param InputDataUrl=... was silently replaced by --data
        (
            ["run", "--param", "InputDataUrl=s3://churn-local/elsewhere/"],
            {},
            "--param InputDataUrl: give the file with --data instead",
        ),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(tmp_path, args, env, message):
    proc = churn(tmp_path, *args, env=env)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "executions").exists()


def test_a_bad_bind_port_variable_is_one_line(tmp_path, seed_model):
    proc = churn(
        tmp_path,
        "serve",
        "--model-dir",
        str(seed_model["model"]),
        env={"SAGEMAKER_BIND_TO_PORT": "abc"},
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "SAGEMAKER_BIND_TO_PORT: 'abc' is not a port number" in lines[0]


def test_serving_a_corrupt_model_dir_is_one_line(tmp_path, seed_model):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(seed_model["model"], model)
    (model / "preprocessing.json").write_text('{"format": "churn-preprocessing/0"}')
    proc = churn(tmp_path, "serve", "--model-dir", str(model))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "cannot be loaded: ValueError: preprocessing.json" in lines[0]


def test_serving_on_a_busy_port_is_one_line_before_anything_is_printed(tmp_path, seed_model):
    """It printed "serving ... on :8080", then uvicorn's raw Errno 98, exit 3."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = churn(
            tmp_path, "serve", "--model-dir", str(seed_model["model"]), "--port", str(port)
        )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and proc.stdout == "" and len(lines) == 1, proc.stderr
    assert lines[0] == (
        "churn serve: error: cannot serve on 127.0.0.1:%d: Address already in use; stop what "
        "listens there or pass --port" % port
    )


@pytest.mark.fast
def test_every_option_says_what_it_is_and_its_default():
    """Many options had no help text, or a default the help did not give."""
    import argparse

    from pipelines.cli import build_parser

    unsaid = []

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, path + [name])
            elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                name = " ".join(path + [action.option_strings[-1] if action.option_strings
                                        else action.dest])  # fmt: skip
                if not action.help:
                    unsaid.append(name + ": no help")
                elif action.default not in (None, False) and "default" not in action.help:
                    unsaid.append(name + ": its default %r unsaid" % (action.default,))

    walk(build_parser(), ["churn"])
    assert unsaid == []


def everything_under(folder):
    return sorted(str(p) for p in folder.rglob("*"))


CLIMBING = "../../../x"


def serve_args(home, seed_model):
    return ["serve", "--model-dir", seed_model["model"], "--port", free_port()]


def deploy_args(home, seed_model):
    register_versions(home, "Approved")
    return ["deploy", "--local", "--model-version", "churn-seed/1"]


def monitor_args(home, seed_model):
    """Capture where the name leads from the home's capture folder, as if an endpoint of that
    name had captured there."""
    (home / "capture").mkdir(parents=True)
    escape = os.path.normpath(home / "capture" / CLIMBING)
    writer = CaptureWriter(os.path.dirname(escape), os.path.basename(escape))
    writer.capture(b"40,5,100000,2,1\n", "text/csv", b"0.1\n", "text/csv")
    writer.close()
    baseline = home.parent / "baseline"
    baseline.mkdir()
    for name in ("statistics.json", "constraints.json"):
        (baseline / name).write_text(json.dumps({"features": []}))
    return ["monitor", "--baseline-dir", baseline]


@pytest.mark.parametrize("command_args", [serve_args, deploy_args, monitor_args])
def test_an_endpoint_name_that_climbs_out_of_the_home_is_refused_writing_nothing(
    tmp_path, seed_model, command_args
):
    """An endpoint's name becomes files and folders of the home: what churn serve records and
    captures, a local endpoint's folder and log (deploy --local created
    <home>/endpoints/../../../x and its log), where churn monitor reads capture and writes its
    report (<home>/monitoring/../../../x/TIME/). A name SageMaker would refuse is refused
    first. The home is deep enough in tmp_path that every climb stays inside it."""
    home = tmp_path / "a" / "b" / "c" / "d" / "home"
    args = command_args(home, seed_model)
    before = everything_under(tmp_path)
    proc = churn(home, *args, "--endpoint-name", CLIMBING)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and proc.stdout == "" and len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        "churn %s: error: endpoint name %r: use letters, digits" % (args[0], CLIMBING)
    ), lines[0]
    outside = [p for p in everything_under(tmp_path) if not p.startswith(str(home))]
    assert outside == [p for p in before if not p.startswith(str(home))]
