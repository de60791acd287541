"""The optional VPC (context vpc=true): private subnets for the jobs and endpoints, one security
group they share, and VPC endpoints for what they call, so their AWS traffic stays off the
internet: S3 (a gateway endpoint), the SageMaker API and runtime, ECR (API and images), CloudWatch
Logs and STS. One NAT gateway remains for the two jobs that install packages from PyPI
(ValidateShards, BuildDataset); the isolated jobs never use it. Flow logs go to CloudWatch Logs
encrypted with the project's key."""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.cfn import cfn_resource
from infra.storage import StorageStack

INTERFACE_ENDPOINTS = {
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrImages": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
}


class NetworkStack(cdk.Stack):
    def __init__(
        self, scope: Construct, id: str, *, prefix: str, storage: StorageStack, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, **kwargs)
        flow_log_group = "/%s/vpc-flow-logs" % prefix  # a literal: the key policy names it
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            log_group_name=flow_log_group,
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=storage.key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        storage.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="FlowLogs",
                principals=[iam.ServicePrincipal("logs.%s.amazonaws.com" % self.region)],
                actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=["*"],  # in a key policy, "*" is the key itself
                conditions={
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": "arn:%s:logs:%s:%s:log-group:%s"
                        % (self.partition, self.region, self.account, flow_log_group)
                    }
                },
            )
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="jobs", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs)
                )
            },
            restrict_default_security_group=False,
        )
        # Synthesis offline knows no AZ names (it would write placeholders): CloudFormation
        # picks the region's first two when it deploys.
        for subnets in (self.vpc.public_subnets, self.vpc.private_subnets):
            for index, subnet in enumerate(subnets):
                cfn_resource(subnet).add_property_override(
                    "AvailabilityZone", cdk.Fn.select(index, cdk.Fn.get_azs())
                )
        self.security_group = ec2.SecurityGroup(
            self,
            "Jobs",
            vpc=self.vpc,
            description="the %s jobs and endpoints; hosts of one job talk to each other" % prefix,
            allow_all_outbound=True,
        )
        # Multi-instance training: the hosts reach each other on every port (XGBoost's
        # collective picks its ports), and nothing else reaches them.
        self.security_group.add_ingress_rule(
            self.security_group, ec2.Port.all_traffic(), "between the hosts of one job"
        )
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        # The endpoints answer HTTPS from the jobs' security group only, not the whole VPC.
        endpoints = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=self.vpc,
            description="the %s VPC endpoints: HTTPS from the jobs" % prefix,
            allow_all_outbound=False,
        )
        endpoints.add_ingress_rule(self.security_group, ec2.Port.tcp(443), "HTTPS from the jobs")
        for name, service in INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                private_dns_enabled=True,
                security_groups=[endpoints],
                open=False,
            )
        self.subnet_ids = [s.subnet_id for s in self.vpc.private_subnets]
