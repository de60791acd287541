"""What the release pipeline's build deploys: the newest Approved version of a model package
group and the data-quality baselines it was registered with, printed as the CDK context the
stage stacks are synthesized from (infra/stage.py):

    python -m pipelines.aws.release_context --group churn-seed [--region R]
    -c model_package_arn=arn:... -c baseline_constraints=s3://... -c baseline_statistics=s3://...

AWS's model-deploy project template does the same in its build step (the newest approved
package into the stage's parameters), so the version the staging test passes is the one prod
gets: both templates come from this one build."""

import argparse
import sys
from typing import Any, Dict, List, Optional

from pipelines.aws.errors import aws_errors
from pipelines.aws.registry import latest_approved
from pipelines.errors import DeployError, UserError


def release_context(sm: Any, group: str) -> Dict[str, str]:
    """{model_package_arn, baseline_constraints, baseline_statistics} of `group`'s newest
    Approved version (a DeployError when it has no data-quality DriftCheckBaselines: the stage's
    monitoring would have nothing to compare with)."""
    package_arn = latest_approved(sm, group)
    package = sm.describe_model_package(ModelPackageName=package_arn)
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    constraints = (quality.get("Constraints") or {}).get("S3Uri")
    statistics = (quality.get("Statistics") or {}).get("S3Uri")
    if not (constraints and statistics):
        raise DeployError(
            "model package %s has no data-quality DriftCheckBaselines (Constraints and "
            "Statistics): register it from the pipeline, whose baseline step gives them"
            % package_arn
        )
    return {
        "model_package_arn": package_arn,
        "baseline_constraints": constraints,
        "baseline_statistics": statistics,
    }


def as_cdk_arguments(context: Dict[str, str]) -> str:
    return " ".join("-c %s=%s" % kv for kv in context.items())


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.aws.release_context", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--group", required=True, help="the model package group")
    parser.add_argument("--region", help="the group's region (default: the session's)")
    parser.add_argument(
        "--endpoint-url", help="another SageMaker endpoint, e.g. churn local's (default: AWS's)"
    )
    args = parser.parse_args(argv)
    import boto3

    try:
        with aws_errors():
            sm = boto3.client("sagemaker", region_name=args.region, endpoint_url=args.endpoint_url)
            print(as_cdk_arguments(release_context(sm, args.group)))
    except (UserError, DeployError) as e:
        print("release context: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
