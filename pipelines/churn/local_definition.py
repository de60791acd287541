"""The churn definition as `churn run` executes it: what get_pipeline() builds for SageMaker,
with the local store's bucket.

The definition is a pure function of the code, the build arguments and the SDK version, so it is
memoised under <home>/definitions/ keyed by a hash of exactly those: a rerun does not import the
SDK at all.
"""

import hashlib
import json
from importlib import metadata
from pathlib import Path

from pipelines.churn.bundles import ROOT, build_bundles
from processing.churn_job import write_text_atomic

LOCAL_BUCKET = "churn-local"
LOCAL_REGION = "us-east-1"  # image URIs need a region; nothing is called there
PREFIX = "churn"
# The files that shape the definition besides the job code (which the bundles cover).
BUILDER_SOURCES = (
    "pipelines/churn/pipeline.py",
    "pipelines/churn/bundles.py",
    "pipelines/churn/sdk.py",
    "pipelines/churn/feature_group.py",  # the offline store's default prefix
)


def definition_key(build_args, bundles):
    h = hashlib.sha256()
    h.update(json.dumps(build_args, sort_keys=True).encode())
    h.update(metadata.version("sagemaker").encode())
    for source in BUILDER_SOURCES:
        h.update((ROOT / source).read_bytes())
    for name, bundle in sorted(bundles.items()):
        h.update(("%s=%s" % (name, bundle.digest)).encode())
    return h.hexdigest()[:24]


def local_definition(home, source, pipeline_name="ChurnPipeline", **overrides):
    """(definition dict, bundles) for a SchemaSource, from the memo when nothing it depends on
    changed."""
    bundles = build_bundles(source.user_file)
    build_args = dict(overrides, pipeline_name=pipeline_name, **source.identity())
    memo = Path(home) / "definitions" / (definition_key(build_args, bundles) + ".json")
    if memo.is_file():
        return json.loads(memo.read_text()), bundles
    from pipelines.churn.pipeline import get_pipeline  # imports the SDK: seconds

    pipeline = get_pipeline(
        region=LOCAL_REGION,
        default_bucket=LOCAL_BUCKET,
        pipeline_name=pipeline_name,
        base_job_prefix=PREFIX,
        upload_code=False,
        schema=source,
        code_bundles=bundles,
        **overrides,
    )
    definition = json.loads(pipeline.definition())
    write_text_atomic(memo, json.dumps(definition))
    return definition, bundles
