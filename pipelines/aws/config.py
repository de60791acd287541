"""The project's names in Parameter Store (the infrastructure's config stack writes them), so
commands and CodeBuild need no hard-coded names: `--config-prefix /churn/` fills every flag
that was not given from <prefix><name>.

    bucket, kms-key-arn, pipeline-role-arn, states-role-arn, model-package-group,
    endpoint-name, alarm-topic-arn, rollback-alarms (comma-separated), feature-group (with a
    schema that has a record identifier), and in VPC mode subnets and security-group-ids
    (comma-separated)
"""

import argparse
from typing import Any, Mapping, Optional

from pipelines.aws.errors import aws_errors
from pipelines.errors import UserError

NAMES = (
    "bucket",
    "kms-key-arn",
    "pipeline-role-arn",
    "states-role-arn",
    "model-package-group",
    "endpoint-name",
    "alarm-topic-arn",
    "rollback-alarms",
    "subnets",
    "security-group-ids",
    "feature-group",
)


def split_ids(text: Optional[str]) -> list[str]:
    """The ids of a comma-separated value (subnets, security groups, alarm names), as the
    config stack writes them and as flags take them."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def read_config(prefix: str, ssm: Any = None, region: Optional[str] = None) -> dict[str, str]:
    """{name: value} of the parameters under `prefix` (a path such as /churn/)."""
    if not prefix.startswith("/"):
        raise UserError("--config-prefix %r: a Parameter Store path, such as /churn/" % prefix)
    path = prefix if prefix.endswith("/") else prefix + "/"
    if ssm is None:
        from pipelines.aws.sessions import aws_client

        ssm = aws_client("ssm", region)
    found: dict[str, str] = {}
    with aws_errors("Parameter Store %s: " % path):
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path):
            for parameter in page["Parameters"]:
                name = parameter["Name"][len(path) :]
                if name in NAMES:
                    found[name] = parameter["Value"]
    if not found:
        raise UserError(
            "no parameters under %s in Parameter Store: deploy the infrastructure (README, "
            "Infrastructure) or give the names as flags" % path
        )
    return found


def fill(
    args: argparse.Namespace,
    prefix: str,
    mapping: Mapping[str, str],
    ssm: Any = None,
    region: Optional[str] = None,
) -> dict[str, str]:
    """Set each attribute of `args` named in `mapping` ({attribute: parameter name}) that is
    unset from the parameters under `prefix`; returns the parameters read."""
    config = read_config(prefix, ssm, region)
    for attribute, name in mapping.items():
        if getattr(args, attribute, None) in (None, "") and name in config:
            setattr(args, attribute, config[name])
    return config
