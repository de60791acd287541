"""The local Step Functions twin's cost per item of an inline Map against a Pass state's.

    python benchmarks/stepfunctions.py [--items 2000] [--runs 3]

Runs, through the service (StartExecution, the record written as events arrive, wait), a Map
of --items iterations of one Pass state each, and a chain of --items Pass states; and the same
two definitions through the interpreter alone (no record). Prints the medians of --runs and the
ratio of a Map iteration to a Pass state, the baseline run in the same command.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine, median  # noqa: E402

from pipelines.local.stepfunctions.integrations import Integrations  # noqa: E402
from pipelines.local.stepfunctions.interpreter import Execution  # noqa: E402
from pipelines.local.stepfunctions.runtime import Clock  # noqa: E402
from pipelines.local.stepfunctions.service import StepFunctions  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/states"


def definitions(items: int) -> dict[str, tuple[dict[str, Any], Any]]:
    one = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    chain = {"P%d" % i: {"Type": "Pass", "Next": "P%d" % (i + 1)} for i in range(items - 1)}
    chain["P%d" % (items - 1)] = {"Type": "Pass", "End": True}
    return {
        "map": (
            {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": one, "End": True}}},
            list(range(items)),
        ),
        "passes": ({"StartAt": "P0", "States": chain}, {}),
    }


def through_service(definition: dict[str, Any], document: Any) -> float:
    with tempfile.TemporaryDirectory() as home:
        sfn = StepFunctions(home, Integrations(), Clock())
        arn = sfn.create_state_machine(
            name="bench", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        start = time.perf_counter()
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(document))
        sfn.wait()
        seconds = time.perf_counter() - start
        status = sfn.describe_execution(executionArn=execution["executionArn"])["status"]
        assert status == "SUCCEEDED", status
        return seconds


def interpreter_only(definition: dict[str, Any], document: Any) -> float:
    start = time.perf_counter()
    run = Execution(definition, Integrations(), document).run()
    assert run.status == "SUCCEEDED", run.cause
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    print("| %d items | Map | Pass chain | Map iteration / Pass state |" % args.items)
    print("|---|---|---|---|")
    for label, how in (("service", through_service), ("interpreter", interpreter_only)):
        seconds = {
            name: median([how(definition, document) for _ in range(args.runs)])
            for name, (definition, document) in definitions(args.items).items()
        }
        print(
            "| %s | %.2f s | %.2f s | %.1f |"
            % (label, seconds["map"], seconds["passes"], seconds["map"] / seconds["passes"])
        )


if __name__ == "__main__":
    main()
