"""CloudWatch over the whole flow: alarms on the endpoint's 5xx answers, its ModelLatency p99,
each feature's drift (the feature_baseline_drift_<feature> metrics `churn monitor` and Model
Monitor publish) and failed pipeline executions, all to an SNS topic encrypted with the
project's key; and one dashboard of invocations, latency, errors, drift per feature and
pipeline executions."""

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

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
        prefix,
        storage,
        features,
        pipeline_name="ChurnPipeline",
        endpoint_name="churn",
        latency_p99_ms=100,
        **kwargs,
    ):
        super().__init__(scope, id, **kwargs)
        self.topic = sns.Topic(
            self,
            "Alarms",
            topic_name="%s-alarms" % prefix,
            master_key=storage.key,
            enforce_ssl=True,
        )
        # CloudWatch publishes to the encrypted topic: it may use the key for that, only.
        storage.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsToTheTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is the key itself
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        endpoint = {"EndpointName": endpoint_name, "VariantName": "AllTraffic"}

        def endpoint_metric(name, statistic):
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
        failed = cloudwatch.Metric(
            namespace="AWS/Sagemaker/ModelBuildingPipeline",
            metric_name="ExecutionFailed",
            dimensions_map={"PipelineName": pipeline_name},
            statistic="Sum",
            period=FIVE_MINUTES,
        )
        alarms = [
            cloudwatch.Alarm(
                self,
                "Endpoint5xx",
                alarm_name="%s-endpoint-5xx" % prefix,
                metric=endpoint_metric("Invocation5XXErrors", "Sum"),
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "LatencyP99",
                alarm_name="%s-model-latency-p99" % prefix,
                metric=endpoint_metric("ModelLatency", "p99"),
                threshold=latency_p99_ms * 1000,  # ModelLatency is in microseconds
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "PipelineFailed",
                alarm_name="%s-pipeline-failed" % prefix,
                metric=failed,
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ] + [
            cloudwatch.Alarm(
                self,
                "Drift%d" % i,
                alarm_name="%s-drift-%s" % (prefix, f),
                metric=metric,
                threshold=DRIFT_THRESHOLD,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            for i, (f, metric) in enumerate(sorted(drift.items()))
        ]
        for alarm in alarms:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms = alarms
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
                            cloudwatch.Metric(
                                namespace="AWS/Sagemaker/ModelBuildingPipeline",
                                metric_name=name,
                                dimensions_map={"PipelineName": pipeline_name},
                                statistic="Sum",
                                period=FIVE_MINUTES,
                            )
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
