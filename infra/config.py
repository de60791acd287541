"""The project's names in Parameter Store under /<prefix>/ (pipelines/aws/config.py reads them
for `--config-prefix`), so CodeBuild and the commands need no hard-coded names."""

from typing import Any, Optional

import aws_cdk as cdk
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.mlops import MlopsStack
from infra.monitoring import MonitoringStack
from infra.network import NetworkStack
from infra.storage import StorageStack
from infra.workflows import WorkflowStack


class ConfigStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        storage: StorageStack,
        mlops: MlopsStack,
        workflows: Optional[WorkflowStack],
        monitoring: MonitoringStack,
        endpoint_name: str,
        feature_group: Optional[str] = None,
        network: Optional[NetworkStack] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        values = {
            "bucket": storage.bucket_name,
            "kms-key-arn": storage.key.key_arn,
            "pipeline-role-arn": mlops.pipeline_role.role_arn,
            "model-package-group": mlops.group.model_package_group_name,
            "endpoint-name": endpoint_name,
            "alarm-topic-arn": monitoring.topic.topic_arn,
        }
        if feature_group:  # run-pipeline's FeatureGroupName
            values["feature-group"] = feature_group
        if workflows:  # the workflows' role, and the alarms their endpoint rolls back on
            values["states-role-arn"] = workflows.role.role_arn
            # churn deploy --blue-green rolls back on these
            values["rollback-alarms"] = cdk.Fn.join(
                ",", [a.alarm_name for a in monitoring.endpoint_alarms]
            )
        if network:
            values["subnets"] = cdk.Fn.join(",", network.subnet_ids)
            values["security-group-ids"] = network.security_group.security_group_id
        self.parameters = {
            name: ssm.StringParameter(
                self,
                name.title().replace("-", ""),
                parameter_name="/%s/%s" % (prefix, name),
                string_value=value,
                description="churn %s (written by the %s-config stack)" % (name, prefix),
            )
            for name, value in values.items()
        }
