"""What botocore's endpoint table says of a region (no call is made)."""


def ecr_hostname(region: str) -> str:
    """The ECR registry host of `region`, as the SageMaker SDK's image_uris.retrieve builds it
    (its own fallback for a region botocore's table may lack)."""
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    endpoint = EndpointResolver(create_loader().load_data("endpoints")).construct_endpoint(
        "ecr", region
    )
    return endpoint["hostname"] if endpoint else "ecr.%s.amazonaws.com" % region
