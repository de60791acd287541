"""`churn run --module-name M [--kwargs JSON]`: a pipeline that is not the churn pipeline, a
module's get_pipeline() (as `run-pipeline --module-name` upserts it on AWS), built and executed
on this machine (pipelines/workspace/user_pipelines.py)."""

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Dict, List

from pipelines.churn.feature_group import DEFAULT_NAME as DEFAULT_GROUP
from pipelines.cli.common import parse_params
from pipelines.cli.template import load_pipeline, parse_kwargs
from pipelines.errors import UserError
from pipelines.local.sagemaker.records import elapsed

if TYPE_CHECKING:
    from pipelines.workspace import Workspace

# churn run's options that shape the churn pipeline only, with their defaults.
CHURN_ONLY = {
    "data": None,
    "schema": "seed",
    "group": None,
    "batch_input": None,
    "ingest_features": False,
    "train_from_feature_store": False,
    "as_of": None,
    "feature_group": DEFAULT_GROUP,
    "rows": 10000,
    "seed": 0,
    "tune": 0,
    "tune_strategy": "Bayesian",
    "spot": False,
    "network_isolation": False,
}


def cmd_run_module(args: argparse.Namespace, ws: "Workspace") -> int:
    given = [k for k, default in CHURN_ONLY.items() if getattr(args, k, default) != default]
    if given:
        raise UserError(
            "--%s shapes the churn pipeline; with --module-name the module's get_pipeline() "
            "builds the pipeline (give its arguments with --kwargs and its parameters with "
            "--param)" % given[0].replace("_", "-")
        )
    kwargs = parse_kwargs(args.kwargs)
    progress = sys.stderr if args.json else sys.stdout
    echo = lambda line: (progress.write(line + "\n"), progress.flush())  # noqa: E731
    definition, name = ws.user_pipelines.definition(lambda: load_pipeline(args.module_name, kwargs))
    echo("%s: %d steps from %s.get_pipeline()" % (name, len(definition["Steps"]), args.module_name))
    record = ws.user_pipelines.run(definition, name, parse_params(args.param), echo)
    if args.json:
        print(json.dumps(record, indent=1, default=str))
    else:
        print_outcome(record, ws.sagemaker_client)
    return 0 if record["PipelineExecutionStatus"] == "Succeeded" else 1


def print_outcome(record: Dict[str, Any], sagemaker: Any) -> None:
    print(
        "%s: %s in %.1f s (%d steps)"
        % (
            record["PipelineExecutionId"],
            record["PipelineExecutionStatus"],
            elapsed(record),
            len(record["Steps"]),
        )
    )
    if record.get("FailureReason"):
        print("failure: " + record["FailureReason"])
    for arn in registered(record):
        package = sagemaker.describe_model_package(ModelPackageName=arn)
        version = "%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])
        print(
            "registered %s version %d (%s); approve it with `churn models approve %s`"
            % (
                package["ModelPackageGroupName"],
                package["ModelPackageVersion"],
                package["ModelApprovalStatus"],
                version,
            )
        )


def registered(record: Dict[str, Any]) -> List[str]:
    """The model package ARNs the execution's RegisterModel steps created."""
    return [
        s["Metadata"]["RegisterModel"]["Arn"]
        for s in record["Steps"]
        if s.get("StepStatus") == "Succeeded" and "RegisterModel" in (s.get("Metadata") or {})
    ]
