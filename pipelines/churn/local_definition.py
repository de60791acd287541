"""The churn definition as `churn run` executes it: what get_pipeline() builds for SageMaker,
with the local store's bucket.

The definition is a pure function of the code, the build arguments and the SDK version, so it is
memoised keyed by a hash of exactly those: a rerun does not import the SDK at all. Nothing in it
depends on the home, so the memo lives in the user's cache (`$XDG_CACHE_HOME/churn/definitions`,
else `~/.cache/churn/definitions`) and a new home, a fresh clone's or a test's, reuses it.
"""

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from pipelines.churn.bundles import ROOT, CodeBundle, build_bundles
from pipelines.churn.schema_source import SchemaSource
from processing.churn_job import write_text_atomic

LOCAL_BUCKET = "churn-local"
LOCAL_REGION = "us-east-1"  # image URIs need a region; nothing is called there
PREFIX = "churn"
KEEP_MEMOS = 64  # every code change makes new keys: the cache keeps the most recently used
# The files that shape the definition besides the job code (which the bundles cover).
BUILDER_SOURCES = (
    "pipelines/churn/pipeline.py",
    "pipelines/churn/bundles.py",
    "pipelines/churn/sdk.py",
    "pipelines/churn/feature_group.py",  # the offline store's default prefix
)


def definition_key(build_args: Mapping[str, Any], bundles: Mapping[str, CodeBundle]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(build_args, sort_keys=True).encode())
    h.update(metadata.version("sagemaker").encode())
    for source in BUILDER_SOURCES:
        h.update((ROOT / source).read_bytes())
    for name, bundle in sorted(bundles.items()):
        h.update(("%s=%s" % (name, bundle.digest)).encode())
    return h.hexdigest()[:24]


def memo_folder() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "churn" / "definitions"


def local_definition(
    source: SchemaSource,
    pipeline_name: str = "ChurnPipeline",
    before_build: Optional[Callable[[], Any]] = None,
    **overrides: Any,
) -> tuple[dict[str, Any], dict[str, CodeBundle]]:
    """(definition dict, bundles) for a SchemaSource, from the memo when nothing it depends on
    changed. `before_build` is called when it must be built (seconds of the SDK's import):
    what may overlap that, such as starting the job parent."""
    bundles = build_bundles(source.user_file)
    build_args = dict(overrides, pipeline_name=pipeline_name, **source.identity())
    memo = memo_folder() / (definition_key(build_args, bundles) + ".json")
    try:
        definition = json.loads(memo.read_text())
    except (OSError, ValueError):
        definition = None  # not built yet, or a cache we cannot read: build it
    if definition is not None:
        try:
            os.utime(memo)  # recently used: kept by prune_memos
        except OSError:
            pass
        return definition, bundles
    if before_build is not None:
        before_build()
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
    try:
        write_text_atomic(memo, json.dumps(definition))
        prune_memos(memo.parent)
    except OSError:
        pass  # a read-only or full cache only costs the next run this build
    return definition, bundles


def prune_memos(folder: Path) -> None:
    memos = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in memos[KEEP_MEMOS:]:
        stale.unlink()
