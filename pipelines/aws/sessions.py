"""The one place a boto3 session is made: every call to AWS goes through a client of this
session (or a twin's client, docs/adr/0011), so region and profile are chosen once."""

from typing import Any, Optional


def aws_session(region: Optional[str] = None, profile: Optional[str] = None) -> Any:
    """boto3's Session for `region` and `profile` (each None: the environment's, as boto3
    reads AWS_DEFAULT_REGION, AWS_PROFILE and the config files)."""
    import boto3

    return boto3.Session(region_name=region, profile_name=profile)


def aws_client(service: str, region: Optional[str] = None, profile: Optional[str] = None) -> Any:
    """boto3's client of `service` in that session."""
    return aws_session(region, profile).client(service)
