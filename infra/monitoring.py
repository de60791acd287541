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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.topic: sns.ITopic
        if alarm_topic_arn:
            # An existing topic: its owner's policy must let CloudWatch publish to it.
            self.topic = sns.Topic.from_topic_arn(self, "Alarms", alarm_topic_arn)
        else:
            topic = sns.Topic(
                self,
                "Alarms",
                topic_name="%s-alarms" % prefix,
                master_key=storage.key,
                enforce_ssl=True,
            )
            # The topic policy has the TLS-only Deny; CloudWatch's alarms and EventBridge's
            # rules of this account (and these names) may publish, as AWS recommends.
            topic.add_to_resource_policy(
                self.publish_statement(
                    "CloudWatchAlarmsPublish",
                    "cloudwatch.amazonaws.com",
                    topic,
                    "arn:%s:cloudwatch:%s:%s:alarm:%s-*"
                    % (self.partition, self.region, self.account, prefix),
                )
            )
            topic.add_to_resource_policy(
                self.publish_statement(
                    "EventBridgeRulesPublish",
                    "events.amazonaws.com",
                    topic,
                    "arn:%s:events:%s:%s:rule/%s-*"
                    % (self.partition, self.region, self.account, prefix),
                )
            )
            # Both publish to the encrypted topic: they may use the key for that, only.
            storage.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="CloudWatchAlarmsToTheTopic",
                    principals=[
                        iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                        iam.ServicePrincipal("events.amazonaws.com"),
                    ],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],  # in a key policy, "*" is the key itself
                    conditions={"StringEquals": {"aws:SourceAccount": self.account}},
                )
            )
            self.topic = topic
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        endpoint = {"EndpointName": endpoint_name, "VariantName": "AllTraffic"}

        def endpoint_metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map=endpoint,
                statistic=statistic,
                period=FIVE_MINUTES,
            )

        drift = {
            f: cloudwatch.Metric(
                namespace=DRIFT_NAMESPACE,
                metric_name="feature_baseline_drift_%s" % f,
                dimensions_map={
                    "Endpoint": endpoint_name,
                    "MonitoringSchedule": schedule_name(endpoint_name),
                },
                statistic="Maximum",
                period=cdk.Duration.hours(1),
            )
            for f in features
        }

        def pipeline_metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/Sagemaker/ModelBuildingPipeline",
                metric_name=name,
                dimensions_map={"PipelineName": pipeline_name},
                statistic="Sum",
                period=FIVE_MINUTES,
            )

        def above(
            id: str,
            name: str,
            metric: cloudwatch.IMetric,
            threshold: float,
            evaluation_periods: int = 1,
            datapoints_to_alarm: Optional[int] = None,
        ) -> cloudwatch.Alarm:
            """An alarm when `metric` goes above `threshold`; no data is not a breach."""
            return cloudwatch.Alarm(
                self,
                id,
                alarm_name="%s-%s" % (prefix, name),
                metric=metric,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                datapoints_to_alarm=datapoints_to_alarm,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        alarms = [
            above("Endpoint5xx", "endpoint-5xx", endpoint_metric("Invocation5XXErrors", "Sum"), 0),
            above(
                "LatencyP99",
                "model-latency-p99",
                endpoint_metric("ModelLatency", "p99"),
                latency_p99_ms * 1000,  # ModelLatency is in microseconds
                evaluation_periods=3,
                datapoints_to_alarm=2,
            ),
            above("PipelineFailed", "pipeline-failed", pipeline_metric("ExecutionFailed"), 0),
        ] + [
            above("Drift%d" % i, "drift-%s" % f, metric, DRIFT_THRESHOLD)
            for i, (f, metric) in enumerate(sorted(drift.items()))
        ]
        for alarm in alarms:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms = alarms
        self.endpoint_alarms = alarms[:2]  # errors and latency: a rollout's rollback alarms
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name="%s-overview" % prefix,
            widgets=[
                [
                    cloudwatch.GraphWidget(
                        title="Invocations", width=8, left=[endpoint_metric("Invocations", "Sum")]
                    ),
                    cloudwatch.GraphWidget(
                        title="ModelLatency p50 / p99 (us)",
                        width=8,
                        left=[
                            endpoint_metric("ModelLatency", "p50"),
                            endpoint_metric("ModelLatency", "p99"),
                        ],
                    ),
                    cloudwatch.GraphWidget(
                        title="Errors",
                        width=8,
                        left=[
                            endpoint_metric("Invocation4XXErrors", "Sum"),
                            endpoint_metric("Invocation5XXErrors", "Sum"),
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
                            pipeline_metric(name)
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

    def publish_statement(
        self, sid: str, service: str, topic: sns.ITopic, source_arn: str
    ) -> iam.PolicyStatement:
        """`service` may publish to `topic` for this account's resources named `source_arn`."""
        return iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(service)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": self.account},
                "ArnLike": {"aws:SourceArn": source_arn},
            },
        )
