"""Keep the SageMaker SDK quiet in our commands.

SDK v2 warns about its own deprecation on import and on every class, and logs where it looked
for config files. Our users chose nothing of that (docs/adr/0001-sagemaker-sdk-v2.md records the
choice), so our commands silence it before the SDK is imported.
"""
import logging
import os
import warnings


def quiet_sdk():
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    warnings.filterwarnings("ignore", module=r"sagemaker(\.|$)")
    for name in ("sagemaker.config", "sagemaker", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.ERROR)
