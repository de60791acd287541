"""Model Monitor's analyzer image in a region, without importing the SageMaker SDK.

`churn deploy --monitor hourly` and `churn workflow create|update` on AWS need this one image
and nothing else from the SDK, whose import takes seconds. The SDK's own table
(sagemaker/image_uri_config/model-monitor.json: the account per region) is read as data and the
URI put together as image_uris.retrieve does (botocore's ECR hostname for the region); a test
holds the two equal in every region of the table, so an SDK upgrade cannot drift them apart.
"""

import importlib.util
import json
import os
from typing import Any

from pipelines.aws.regions import ecr_hostname
from pipelines.errors import UserError

ECR_URI = "{registry}.dkr.{hostname}/{repository}"  # image_uris.ECR_URI_TEMPLATE


def sdk_image_table(name: str) -> Any:
    """One of the SDK's image_uri_config tables, found without importing the package."""
    spec = importlib.util.find_spec("sagemaker")
    assert spec is not None and spec.submodule_search_locations is not None  # a dependency
    folder = list(spec.submodule_search_locations)[0]
    with open(os.path.join(folder, "image_uri_config", name + ".json")) as f:
        return json.load(f)


def model_monitor_image(region: str) -> str:
    """Model Monitor's analyzer image in `region`, for data-quality monitoring schedules."""
    config = sdk_image_table("model-monitor")["versions"][""]
    registries = config["registries"]
    if region not in registries:
        raise UserError(
            "Model Monitor has no image in region %r; it runs in %s"
            % (region, ", ".join(sorted(registries)))
        )
    return ECR_URI.format(
        registry=registries[region],
        hostname=ecr_hostname(region),
        repository=config["repository"],
    )
