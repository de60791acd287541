"""CloudWatch over the whole flow: alarms on the endpoint's 5xx answers, its ModelLatency p99,
each feature's drift (the feature_baseline_drift_<feature> metrics `churn monitor` and Model
Monitor publish) and failed pipeline executions, all to an SNS topic encrypted with the
project's key; and one dashboard of invocations, latency, errors, drift per feature and
pipeline executions.

The topic's policy lets CloudWatch (the alarms) and EventBridge (rules named <prefix>-*) of
this account publish, and the key's lets them encrypt for it. Context alarm_email=ADDRESS
subscribes that address (it confirms by mail); alarm_topic_arn=ARN publishes to that existing
topic instead of creating one (its policy and key must let CloudWatch publish)."""

from collections.abc import Iterable
from typing import Any, Optional

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.storage import StorageStack
from pipelines.aws.deploy import schedule_name
from pipelines.monitoring.report import NAMESPACE as DRIFT_NAMESPACE

DRIFT_THRESHOLD = 0.1  # the distribution distance `churn monitor` and Model Monitor flag
FIVE_MINUTES = cdk.Duration.minutes(5)


class MonitoringStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        storage: StorageStack,
        features: Iterable[str],
        pipeline_name: str = "ChurnPipeline",
        endpoint_name: str = "churn",
        latency_p99_ms: float = 100,
        alarm_email: Optional[str] = None,
        alarm_topic_arn: Optional[str] = None,
        endpoint_alarms: bool = False,
        **kwargs: Any,
    ) -> None:
        """`endpoint_name`: the endpoint the dashboard shows (the prod stage's); with
        `endpoint_alarms`, its alarms too (the workflows' endpoint, which no stage stack
        owns)."""
        super().__init__(scope, id, **kwargs)
        self.topic: sns.ITopic
        if alarm_topic_arn:
            # An existing topic: its owner's policy must let CloudWatch publish to it.
            self.topic = sns.Topic.from_topic_arn(self, "Alarms", alarm_topic_arn)
        else:
            topic = alarm_topic(self, prefix, storage.key)
            self.topic = topic
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        failed = above(
            self,
            "PipelineFailed",
            "%s-pipeline-failed" % prefix,
            pipeline_metric(pipeline_name, "ExecutionFailed"),
            0,
        )
        self.alarms: list[cloudwatch.AlarmBase] = [failed]
        # The endpoint the workflows deploy (-c workflows=1) has its alarms here; the stages'
        # endpoints have theirs in their own stacks (infra/stage.py).
        self.endpoint_alarms: list[cloudwatch.AlarmBase] = []
        if endpoint_alarms:
            alarms = EndpointAlarms(self, prefix, endpoint_name, features, latency_p99_ms)
            self.endpoint_alarms = alarms.rollback
            self.alarms += alarms.all
        for alarm in self.alarms:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
        drift = {f: drift_metric(endpoint_name, f) for f in features}
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name="%s-overview" % prefix,
            widgets=[
                [
                    cloudwatch.GraphWidget(
                        title="Invocations %s" % endpoint_name,
                        width=8,
                        left=[endpoint_metric(endpoint_name, "Invocations", "Sum")],
                    ),
                    cloudwatch.GraphWidget(
                        title="ModelLatency p50 / p99 (us)",
                        width=8,
                        left=[
                            endpoint_metric(endpoint_name, "ModelLatency", "p50"),
                            endpoint_metric(endpoint_name, "ModelLatency", "p99"),
                        ],
                    ),
                    cloudwatch.GraphWidget(
                        title="Errors",
                        width=8,
                        left=[
                            endpoint_metric(endpoint_name, "Invocation4XXErrors", "Sum"),
                            endpoint_metric(endpoint_name, "Invocation5XXErrors", "Sum"),
                        ],
                    ),
                ],
                [
                    cloudwatch.GraphWidget(
                        title="Drift per feature (alarm above %g)" % DRIFT_THRESHOLD,
                        width=12,
                        left=[drift[f] for f in sorted(drift)],
                        left_annotations=[cloudwatch.HorizontalAnnotation(value=DRIFT_THRESHOLD)],
                    ),
                    cloudwatch.GraphWidget(
                        title="Pipeline executions",
                        width=12,
                        left=[
                            pipeline_metric(pipeline_name, name)
                            for name in (
                                "ExecutionStarted",
                                "ExecutionSucceeded",
                                "ExecutionFailed",
                            )
                        ],
                    ),
                ],
            ],
        )


def alarm_topic(stack: cdk.Stack, prefix: str, key: kms.IKey) -> sns.Topic:
    """The topic <prefix>-alarms, encrypted with `key`. Its policy has the TLS-only Deny;
    CloudWatch's alarms and EventBridge's rules of this account (and these names) may publish,
    as AWS recommends, and use the key for that only."""
    topic = sns.Topic(
        stack, "Alarms", topic_name="%s-alarms" % prefix, master_key=key, enforce_ssl=True
    )
    for sid, service, source in (
        ("CloudWatchAlarmsPublish", "cloudwatch", "alarm:%s-*" % prefix),
        ("EventBridgeRulesPublish", "events", "rule/%s-*" % prefix),
    ):
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal("%s.amazonaws.com" % service)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": "arn:%s:%s:%s:%s:%s"
                        % (stack.partition, service, stack.region, stack.account, source)
                    },
                },
            )
        )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsToTheTopic",
            principals=[
                iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                iam.ServicePrincipal("events.amazonaws.com"),
            ],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],  # in a key policy, "*" is the key itself
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        )
    )
    return topic


def endpoint_metric(endpoint_name: str, name: str, statistic: str) -> cloudwatch.Metric:
    """One of the metrics SageMaker publishes for the endpoint's one variant."""
    return cloudwatch.Metric(
        namespace="AWS/SageMaker",
        metric_name=name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": "AllTraffic"},
        statistic=statistic,
        period=FIVE_MINUTES,
    )


def drift_metric(endpoint_name: str, feature: str) -> cloudwatch.Metric:
    """The drift `churn monitor` and the endpoint's Model Monitor schedule publish."""
    return cloudwatch.Metric(
        namespace=DRIFT_NAMESPACE,
        metric_name="feature_baseline_drift_%s" % feature,
        dimensions_map={
            "Endpoint": endpoint_name,
            "MonitoringSchedule": schedule_name(endpoint_name),
        },
        statistic="Maximum",
        period=cdk.Duration.hours(1),
    )


def pipeline_metric(pipeline_name: str, name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/Sagemaker/ModelBuildingPipeline",
        metric_name=name,
        dimensions_map={"PipelineName": pipeline_name},
        statistic="Sum",
        period=FIVE_MINUTES,
    )


def above(
    scope: Construct,
    id: str,
    alarm_name: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    evaluation_periods: int = 1,
    datapoints_to_alarm: Optional[int] = None,
) -> cloudwatch.Alarm:
    """An alarm when `metric` goes above `threshold`; no data is not a breach."""
    return cloudwatch.Alarm(
        scope,
        id,
        alarm_name=alarm_name,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


class EndpointAlarms(object):
    """An endpoint's alarms in `scope`, named <name_prefix>-...: any 5xx answer, ModelLatency
    p99 above the budget in 2 of 3 periods, and each feature's drift above DRIFT_THRESHOLD
    (`all`, each notifying). `rollback` are the ones a blue/green rollout rolls back on:
    errors and latency, and with `rollback_on_drift` <name_prefix>-drift-any."""

    def __init__(
        self,
        scope: Construct,
        name_prefix: str,
        endpoint_name: str,
        features: Iterable[str],
        latency_p99_ms: float = 100,
        rollback_on_drift: bool = False,
    ) -> None:
        errors = above(
            scope,
            "Endpoint5xx",
            "%s-endpoint-5xx" % name_prefix,
            endpoint_metric(endpoint_name, "Invocation5XXErrors", "Sum"),
            0,
        )
        latency = above(
            scope,
            "LatencyP99",
            "%s-model-latency-p99" % name_prefix,
            endpoint_metric(endpoint_name, "ModelLatency", "p99"),
            latency_p99_ms * 1000,  # ModelLatency is in microseconds
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )
        self.drift = [
            above(
                scope,
                "Drift%d" % i,
                "%s-drift-%s" % (name_prefix, f),
                drift_metric(endpoint_name, f),
                DRIFT_THRESHOLD,
            )
            for i, f in enumerate(sorted(features))
        ]
        self.all: list[cloudwatch.AlarmBase] = [errors, latency, *self.drift]
        self.rollback: list[cloudwatch.AlarmBase] = [errors, latency]
        if rollback_on_drift and self.drift:
            # A rollout takes at most 10 alarms (AutoRollbackConfig): the features' drift as
            # one composite alarm, which notifies nobody (each feature's alarm does).
            self.rollback.append(
                cloudwatch.CompositeAlarm(
                    scope,
                    "DriftAny",
                    composite_alarm_name="%s-drift-any" % name_prefix,
                    alarm_description="any feature of %s drifted" % endpoint_name,
                    alarm_rule=cloudwatch.AlarmRule.any_of(*self.drift),
                )
            )
