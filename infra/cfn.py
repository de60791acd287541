"""What the stacks share about CloudFormation itself."""

import aws_cdk as cdk
from constructs import IConstruct


def cfn_resource(construct: IConstruct) -> cdk.CfnResource:
    """The CloudFormation resource a higher-level construct wraps (its default child), for the
    overrides CDK has no property for."""
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnResource):
        raise TypeError("%s wraps no CloudFormation resource" % construct.node.path)
    return child
