"""What the `churn` commands share: where home is, and how a user's mistake is reported."""
import argparse
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
