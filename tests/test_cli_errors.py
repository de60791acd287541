"""Mistakes on the command line: refused with what is wrong and what to do, never a traceback,
never a silent reinterpretation (defects 11 and 12 of the hostile review)."""

import pytest

from conftest import churn_cli as churn


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


def test_an_endpoint_name_that_is_no_name_is_refused_before_serving(tmp_path, seed_model):
    """`churn serve` records what an endpoint serves in a file of the home named after it: a
    name SageMaker would refuse (`../x`) would have written outside the home."""
    proc = churn(
        tmp_path, "serve", "--model-dir", str(seed_model["model"]), "--endpoint-name", "../x"
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and proc.stdout == "" and len(lines) == 1, proc.stderr
    assert lines[0].startswith("churn serve: error: endpoint name '../x': use letters, digits")
    assert not (tmp_path / "serving" / "x.json").exists()
