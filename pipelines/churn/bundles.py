"""The code each job runs, stored in S3 under keys derived from its content.

The SDK would upload code while building the definition, under keys that need a live S3 (and,
in SDK v3, change on every build). Here every bundle's key holds a hash of its files, so:
- two builds of unchanged code give the very same definition JSON, and SageMaker's step cache
  can hit (code inputs are part of the cache key);
- the definition can be built with no credentials and no endpoint: the keys are known without
  uploading anything; pipelines/aws/code_upload.py puts the objects there later (skipping those
  already present).

Bundles:
  processing  the processing scripts and their modules, schemas and requirements.txt, delivered
              as a `code` ProcessingInput prefix (one S3 object per file)
  evaluation  evaluate.py, likewise
  training    sourcedir.tar.gz for the XGBoost estimator (script mode, entry point train.py)
  inference   sourcedir.tar.gz for the serving container (inference.py + the recipe module)
"""

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Iterable, Mapping, Optional, Union

ROOT = Path(__file__).resolve().parents[2]
USER_SCHEMA_DIR = "schemas/user"  # apart from the shipped ones, so no name can shadow them
PROCESSING_FILES = (
    "validate.py",
    "preprocess.py",
    "baseline.py",
    "ingest.py",
    "build_dataset.py",
    "churn_features.py",
    "churn_checks.py",
    "churn_schema.py",
    "churn_recipe.py",
    "churn_rules.py",
    "churn_io.py",
    "churn_job.py",
    "churn_quality.py",
    "requirements.txt",
    "run_with_requirements.py",
)
# The job module every script shares (atomic publishing, safe unpacking, failure messages)
# travels in each bundle whose script imports it; the container scripts never import pipelines.
SHARED_JOB_MODULE = "churn_job.py"
INFERENCE_FILES = ("inference.py", "churn_predictor.py")
# The processing modules the serving code shares: the recipe, the input rules, request decoding.
INFERENCE_SHARED_FILES = ("churn_recipe.py", "churn_rules.py", "churn_decoding.py")


class CodeBundle(object):
    """Named files with their bytes; `packed` bundles are stored as one sourcedir.tar.gz."""

    def __init__(self, name: str, files: Mapping[str, bytes], packed: bool) -> None:
        self.name = name
        self.files = dict(sorted(files.items()))
        self.packed = packed

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for arcname, data in self.files.items():
            h.update(arcname.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
        return h.hexdigest()[:16]

    def prefix(self, bucket: str, key_prefix: str) -> str:
        return "s3://%s/%s/code/%s/%s" % (bucket, key_prefix.strip("/"), self.name, self.digest)

    def uri(self, bucket: str, key_prefix: str) -> str:
        """What a step refers to: the tarball for packed bundles, else the folder prefix."""
        base = self.prefix(bucket, key_prefix)
        return base + "/sourcedir.tar.gz" if self.packed else base + "/"

    def objects(self) -> dict[str, bytes]:
        """{relative key: bytes} as stored under `prefix`."""
        if self.packed:
            return {"sourcedir.tar.gz": deterministic_tarball(self.files)}
        return dict(self.files)


def deterministic_tarball(files: Mapping[str, bytes]) -> bytes:
    """A tar.gz whose bytes depend only on the files' names and contents (no times, owners)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, data in files.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def _read(folder: str, names: Iterable[str]) -> dict[str, bytes]:
    return {name: (ROOT / folder / name).read_bytes() for name in names}


def build_bundles(schema_file: Optional[Union[str, Path]] = None) -> dict[str, CodeBundle]:
    """All bundles. `schema_file`: a user's schema outside the shipped ones, delivered with the
    processing code as schemas/user/<file name>."""
    schemas = sorted(p.name for p in (ROOT / "processing" / "schemas").glob("*.json"))
    processing = _read("processing", PROCESSING_FILES)
    processing.update(
        {"schemas/" + name: data for name, data in _read("processing/schemas", schemas).items()}
    )
    if schema_file is not None:
        processing[USER_SCHEMA_DIR + "/" + os.path.basename(schema_file)] = Path(
            schema_file
        ).read_bytes()
    shared = _read("processing", [SHARED_JOB_MODULE])
    inference = _read("inference", INFERENCE_FILES)
    inference.update(_read("processing", INFERENCE_SHARED_FILES))
    return {
        "processing": CodeBundle("processing", processing, packed=False),
        "evaluation": CodeBundle(
            "evaluation", dict(_read("evaluation", ["evaluate.py"]), **shared), packed=False
        ),
        "training": CodeBundle(
            "training", dict(_read("training", ["train.py"]), **shared), packed=True
        ),
        "inference": CodeBundle("inference", inference, packed=True),
    }
