"""Keep the SageMaker SDK quiet and offline in our commands.

SDK v2 warns about its own deprecation on import and on every class, and logs where it looked
for config files. Our users chose nothing of that (docs/adr/0001-sagemaker-sdk-v2.md records the
choice), so our commands silence it before the SDK is imported.

The SDK also sends telemetry (an STS call and an HTTPS request) from a few methods
(Estimator.fit, Pipeline.create, Pipeline.start) unless its config says TelemetryOptOut. Keeping
that setting in the session's config for good would cost 15-30 s per definition build: the SDK
validates the whole config against its JSON schema on each of its ~80 config lookups. So the
opt-out is put in place only around the calls that emit telemetry.
"""

import contextlib
import copy
import logging
import os
import warnings
from typing import Any, Iterator

TELEMETRY_OPT_OUT: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


def quiet_sdk() -> None:
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    warnings.filterwarnings("ignore", module=r"sagemaker(\.|$)")
    # The SDK configures logging at INFO on import; botocore then reports every endpoint lookup.
    for name in ("sagemaker.config", "sagemaker", "botocore", "boto3"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def telemetry_opted_out(session: Any) -> Iterator[None]:
    """Run the enclosed SDK calls with TelemetryOptOut added to the session's config."""
    saved = session.sagemaker_config
    config: dict[str, Any] = copy.deepcopy(saved) if saved else {"SchemaVersion": "1.0"}
    modules = (
        config.setdefault("SageMaker", {}).setdefault("PythonSDK", {}).setdefault("Modules", {})
    )
    modules["TelemetryOptOut"] = True
    session.sagemaker_config = config
    try:
        yield
    finally:
        session.sagemaker_config = saved
