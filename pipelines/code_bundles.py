"""The code each job runs, stored in S3 under keys derived from its content.

The SDK would upload code while building the definition, under keys that need a live S3 (and,
in SDK v3, change on every build). Here every bundle's key holds a hash of its files, so:
- two builds of unchanged code give the very same definition JSON, and SageMaker's step cache
  can hit (code inputs are part of the cache key);
- the definition can be built with no credentials and no endpoint: the keys are known without
  uploading anything; `upload` puts the objects there later (skipping those already present).

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

ROOT = Path(__file__).resolve().parent.parent
USER_SCHEMA_DIR = "schemas/user"  # apart from the shipped ones, so no name can shadow them
PROCESSING_FILES = ("validate.py", "preprocess.py", "baseline.py", "churn_schema.py", "churn_recipe.py",
                    "churn_io.py", "requirements.txt", "run_with_requirements.py")


class CodeBundle(object):
    """Named files with their bytes; `packed` bundles are stored as one sourcedir.tar.gz."""

    def __init__(self, name, files, packed):
        self.name = name
        self.files = dict(sorted(files.items()))
        self.packed = packed

    @property
    def digest(self):
        h = hashlib.sha256()
        for arcname, data in self.files.items():
            h.update(arcname.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
        return h.hexdigest()[:16]

    def prefix(self, bucket, key_prefix):
        return "s3://%s/%s/code/%s/%s" % (bucket, key_prefix.strip("/"), self.name, self.digest)

    def uri(self, bucket, key_prefix):
        """What a step refers to: the tarball for packed bundles, else the folder prefix."""
        base = self.prefix(bucket, key_prefix)
        return base + "/sourcedir.tar.gz" if self.packed else base + "/"

    def objects(self):
        """{relative key: bytes} as stored under `prefix`."""
        if self.packed:
            return {"sourcedir.tar.gz": deterministic_tarball(self.files)}
        return dict(self.files)


def deterministic_tarball(files):
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


def _read(folder, names):
    return {name: (ROOT / folder / name).read_bytes() for name in names}


def build_bundles(schema_file=None):
    """All bundles. `schema_file`: a user's schema outside the shipped ones, delivered with the
    processing code as schemas/user/<file name>."""
    schemas = sorted(p.name for p in (ROOT / "processing" / "schemas").glob("*.json"))
    processing = _read("processing", PROCESSING_FILES)
    processing.update({"schemas/" + name: data for name, data in
                       _read("processing/schemas", schemas).items()})
    if schema_file is not None:
        processing[USER_SCHEMA_DIR + "/" + os.path.basename(schema_file)] = \
            Path(schema_file).read_bytes()
    inference = _read("inference", ["inference.py"])
    inference.update(_read("processing", ["churn_recipe.py"]))
    return {
        "processing": CodeBundle("processing", processing, packed=False),
        "evaluation": CodeBundle("evaluation", _read("evaluation", ["evaluate.py"]), packed=False),
        "training": CodeBundle("training", _read("training", ["train.py"]), packed=True),
        "inference": CodeBundle("inference", inference, packed=True),
    }


def upload(bundles, s3_client, bucket, key_prefix):
    """Put every bundle object into S3 unless an object with that key exists (the key is a
    content hash, so an existing object holds the same bytes). Returns the keys written."""
    written = []
    for bundle in bundles.values():
        base = bundle.prefix(bucket, key_prefix)[len("s3://%s/" % bucket):]
        for name, data in bundle.objects().items():
            key = "%s/%s" % (base, name)
            if not _exists(s3_client, bucket, key):
                s3_client.put_object(Bucket=bucket, Key=key, Body=data)
                written.append(key)
    return written


def _exists(s3_client, bucket, key):
    from botocore.exceptions import ClientError

    try:
        s3_client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
