"""The stages a released model goes through (staging, then prod), each an endpoint stack the
release pipeline (infra/release.py) deploys with CloudFormation, so that everything that bills
for an endpoint is a resource of one stack and `cdk destroy <prefix>-<stage>` removes it:

- the model (the approved model package, by ARN), its endpoint config (data capture into
  <prefix>/capture/<stage>/, the project's key) and the endpoint <prefix>-<stage>;
- blue/green updates: a canary (or linear) share of the capacity first, the rest after the
  wait, the old fleet kept for the bake, and an automatic rollback when one of the stage's
  alarms fires meanwhile (5xx answers, ModelLatency p99; drift with rollback_on_drift);
- auto-scaling of the variant on invocations per instance (target tracking);
- hourly data-quality monitoring against the version's DriftCheckBaselines, publishing the
  drift metrics the stage's alarms watch;
- the alarms, to the project's topic.

The roles the endpoint and the monitoring jobs run as are per stage and per purpose, in
ServingRolesStack (infra/stage_roles.py: <prefix>-serving, or <prefix>-<stage>-serving in a
stage's own account), which an administrator deploys: the release pipeline's CloudFormation
role creates no role, it only passes these.

What the stacks deploy comes from the synthesis context (the release build writes it with
`python -m pipelines.aws.release_context`): model_package_arn, baseline_constraints and
baseline_statistics. Without model_package_arn the app has no stage stack (nothing to deploy
yet)."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.monitoring import EndpointAlarms
from infra.roles import arn
from infra.stage_roles import (
    capture_prefix,
    endpoint_role_name,
    monitoring_prefix,
    monitoring_role_name,
    stage_name,
)
from infra.storage import StorageStack
from pipelines.aws.deploy import CAPTURE_CSV_TYPES, CAPTURE_JSON_TYPES, HOURLY, schedule_name
from pipelines.aws.scaling import DIMENSION, METRIC, VARIANT

MONITORING_INSTANCE = "ml.m5.xlarge"


@dataclass(frozen=True)
class StageSettings(object):
    """How one stage serves: its fleet, scaling, capture and rollout."""

    name: str
    instance_type: str = "ml.m5.large"
    min_instances: int = 1
    max_instances: int = 2
    # Target tracking holds this many invocations per instance per minute.
    invocations_per_instance: float = 1000
    capture_percent: int = 100
    traffic: str = "CANARY"  # or LINEAR
    step_percent: int = 25  # the canary's (or each linear step's) share of the capacity
    wait_seconds: int = 300  # between the shifts
    bake_seconds: int = 600  # the old fleet stays this long after the last shift
    latency_p99_ms: float = 100
    rollback_on_drift: bool = True


# What the release pipeline deploys to, in this order (staging is tested before prod).
STAGES = (
    StageSettings("staging", wait_seconds=120, bake_seconds=120),
    StageSettings("prod", min_instances=2, max_instances=4, wait_seconds=600),
)


@dataclass(frozen=True)
class Release(object):
    """The approved version a stage serves and the baselines its monitoring compares with."""

    model_package_arn: str
    baseline_constraints: str
    baseline_statistics: str

    def suffix(self, stage: StageSettings) -> str:
        """8 hex of the version and the stage's settings: a new model, config or job
        definition gets a new name, so CloudFormation replaces it (creates, then deletes)."""
        text = "%s %s" % (self.model_package_arn, stage)
        return hashlib.sha256(text.encode()).hexdigest()[:8]


class StageStack(cdk.Stack):
    """One stage's endpoint, scaling, monitoring and alarms (the module's docstring)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        stage: StageSettings,
        release: Release,
        storage: StorageStack,
        features: Iterable[str],
        monitor_image: str,
        topic_arn: str,
        **kwargs: Any,
    ) -> None:
        # Deployed by CloudFormation from the release pipeline, not by the CDK CLI: no
        # bootstrap-version rule (it would need the deploying role to read the CDK's SSM
        # parameter) and no assets.
        kwargs.setdefault(
            "synthesizer", cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
        )
        super().__init__(scope, id, **kwargs)
        cdk.Tags.of(self).add("stage", stage.name)
        account = self.account
        name = stage_name(prefix, stage.name)
        suffix = release.suffix(stage)
        bucket, key = storage.bucket_name, storage.key.key_arn
        role = arn("iam", "", account, "role/%s" % endpoint_role_name(prefix, stage.name))
        monitor_role = arn("iam", "", account, "role/%s" % monitoring_role_name(prefix, stage.name))
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            model_name="%s-%s" % (name, suffix),
            execution_role_arn=role,
            containers=[
                sagemaker.CfnModel.ContainerDefinitionProperty(
                    model_package_name=release.model_package_arn
                )
            ],
        )
        self.config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            endpoint_config_name="%s-%s" % (name, suffix),
            kms_key_id=key,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    model_name=self.model.attr_model_name,
                    initial_instance_count=stage.min_instances,
                    instance_type=stage.instance_type,
                    initial_variant_weight=1.0,
                )
            ],
            data_capture_config=sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=True,
                initial_sampling_percentage=stage.capture_percent,
                destination_s3_uri="s3://%s/%s" % (bucket, capture_prefix(prefix, stage.name)),
                kms_key_id=key,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=mode)
                    for mode in ("Input", "Output")
                ],
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=CAPTURE_CSV_TYPES, json_content_types=CAPTURE_JSON_TYPES
                ),
            ),
        )
        alarms = EndpointAlarms(
            self,
            name,
            name,
            features,
            stage.latency_p99_ms,
            rollback_on_drift=stage.rollback_on_drift,
        )
        topic = sns.Topic.from_topic_arn(self, "Topic", topic_arn)
        for alarm in alarms.all:
            alarm.add_alarm_action(actions.SnsAction(topic))
        self.alarms = alarms
        size = {"type": "CAPACITY_PERCENT", "value": stage.step_percent}
        routing: dict[str, Any] = {
            "type": stage.traffic,
            "wait_interval_in_seconds": stage.wait_seconds,
            "canary_size" if stage.traffic == "CANARY" else "linear_step_size": size,
        }
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=name,
            endpoint_config_name=self.config.attr_endpoint_config_name,
            # Keep the instance count auto-scaling reached when a new version comes.
            retain_all_variant_properties=True,
            deployment_config=sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                        **routing
                    ),
                    termination_wait_in_seconds=stage.bake_seconds,
                    maximum_execution_timeout_in_seconds=max(
                        600, 3 * (stage.wait_seconds + stage.bake_seconds)
                    ),
                ),
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                    alarms=[
                        sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name)
                        for a in alarms.rollback
                    ]
                ),
            ),
        )
        self.scaling = autoscaling.CfnScalableTarget(
            self,
            "ScalableTarget",
            service_namespace="sagemaker",
            resource_id="endpoint/%s/variant/%s" % (name, VARIANT),
            scalable_dimension=DIMENSION,
            min_capacity=stage.min_instances,
            max_capacity=stage.max_instances,
        )
        self.scaling.node.add_dependency(self.endpoint)
        self.scaling_policy = autoscaling.CfnScalingPolicy(
            self,
            "ScalingPolicy",
            policy_name="%s-invocations-per-instance" % name,
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.scaling.ref,
            target_tracking_scaling_policy_configuration=autoscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=float(stage.invocations_per_instance),
                predefined_metric_specification=autoscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type=METRIC
                ),
                # Out fast when traffic rises; in slowly, so a lull does not drop capacity.
                scale_in_cooldown=300,
                scale_out_cooldown=60,
            ),
        )
        self.job_definition = sagemaker.CfnDataQualityJobDefinition(
            self,
            "DataQuality",
            job_definition_name="%s-data-quality-%s" % (name, suffix),
            data_quality_app_specification=sagemaker.CfnDataQualityJobDefinition.DataQualityAppSpecificationProperty(
                image_uri=monitor_image,
                environment={"publish_cloudwatch_metrics": "Enabled"},
            ),
            data_quality_baseline_config=sagemaker.CfnDataQualityJobDefinition.DataQualityBaselineConfigProperty(
                constraints_resource=sagemaker.CfnDataQualityJobDefinition.ConstraintsResourceProperty(
                    s3_uri=release.baseline_constraints
                ),
                statistics_resource=sagemaker.CfnDataQualityJobDefinition.StatisticsResourceProperty(
                    s3_uri=release.baseline_statistics
                ),
            ),
            data_quality_job_input=sagemaker.CfnDataQualityJobDefinition.DataQualityJobInputProperty(
                endpoint_input=sagemaker.CfnDataQualityJobDefinition.EndpointInputProperty(
                    endpoint_name=name,
                    local_path="/opt/ml/processing/input/endpoint",
                    s3_input_mode="File",
                    s3_data_distribution_type="FullyReplicated",
                )
            ),
            data_quality_job_output_config=sagemaker.CfnDataQualityJobDefinition.MonitoringOutputConfigProperty(
                kms_key_id=key,
                monitoring_outputs=[
                    sagemaker.CfnDataQualityJobDefinition.MonitoringOutputProperty(
                        s3_output=sagemaker.CfnDataQualityJobDefinition.S3OutputProperty(
                            s3_uri="s3://%s/%s" % (bucket, monitoring_prefix(prefix, stage.name)),
                            local_path="/opt/ml/processing/output",
                            s3_upload_mode="EndOfJob",
                        )
                    )
                ],
            ),
            job_resources=sagemaker.CfnDataQualityJobDefinition.MonitoringResourcesProperty(
                cluster_config=sagemaker.CfnDataQualityJobDefinition.ClusterConfigProperty(
                    instance_count=1,
                    instance_type=MONITORING_INSTANCE,
                    volume_size_in_gb=20,
                    volume_kms_key_id=key,
                )
            ),
            role_arn=monitor_role,
            stopping_condition=sagemaker.CfnDataQualityJobDefinition.StoppingConditionProperty(
                max_runtime_in_seconds=3600
            ),
        )
        self.job_definition.node.add_dependency(self.endpoint)
        self.schedule = sagemaker.CfnMonitoringSchedule(
            self,
            "Schedule",
            monitoring_schedule_name=schedule_name(name),
            endpoint_name=name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=self.job_definition.job_definition_name,
                monitoring_type="DataQuality",
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=HOURLY
                ),
            ),
        )
        self.schedule.node.add_dependency(self.endpoint)
        cdk.CfnOutput(self, "EndpointName", value=name)


def default_release(context: Any) -> Optional[Release]:
    """The Release the synthesis context names (model_package_arn, baseline_constraints,
    baseline_statistics), or None without model_package_arn."""
    arn_given = context("model_package_arn")
    if not arn_given:
        return None
    missing = [k for k in ("baseline_constraints", "baseline_statistics") if not context(k)]
    if missing:
        raise SystemExit(
            "-c model_package_arn=... needs %s too (python -m pipelines.aws.release_context "
            "prints all three for a group's newest approved version)" % " and ".join(missing)
        )
    return Release(arn_given, context("baseline_constraints"), context("baseline_statistics"))
