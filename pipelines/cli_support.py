"""What the `churn` commands share: where home is, and how a user's mistake is reported."""
import argparse
import contextlib
import os
from pathlib import Path

DEFAULT_HOME = ".churn"


def home():
    # Absolute: jobs run in their own working directories and must still find the store.
    return Path(os.environ.get("CHURN_HOME", DEFAULT_HOME)).resolve()


class UserError(Exception):
    """Something the user can fix; printed as one line without a traceback."""


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("%r is not a positive whole number" % text)
    return value


@contextlib.contextmanager
def aws_errors(context=""):
    """An AWS call's failure as one line: the service's message, or what to do about missing
    credentials. `context` ("endpoint x: ") goes in front of a service message."""
    from botocore.exceptions import BotoCoreError, ClientError

    from pipelines.driver import credentials_error

    try:
        yield
    except ClientError as e:
        raise UserError(context + e.response["Error"].get("Message", str(e)))
    except BotoCoreError as e:
        friendly = credentials_error(e)
        raise UserError(str(friendly) if friendly else str(e))
