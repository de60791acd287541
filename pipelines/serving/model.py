"""Lay a model out as the serving container sees it: /opt/ml/model holds model.tar.gz's files,
and the inference code sits in /opt/ml/model/code. Where the model comes from (the registry, a
trained model's folder) is the caller's business: serving knows no registry and no store."""

import hashlib
from pathlib import Path

from pipelines.errors import ModelSourceError
from processing.churn_job import ArchiveError, extract_archive

INFERENCE_DIR = Path(__file__).resolve().parents[2] / "inference"  # this checkout's code


class ServableModel(object):
    def __init__(self, model_dir, code_dir, program, description):
        self.model_dir = str(model_dir)
        self.code_dir = str(code_dir)
        self.program = program
        self.description = description


def unpack_model(cache_root, model_archive, code_archive, key):
    """The model folder of an artifact (and its SAGEMAKER_SUBMIT_DIRECTORY code archive, if
    any) under cache_root, unpacked once per `key` (the artifact's URI)."""
    model_dir = Path(cache_root) / hashlib.sha256(key.encode()).hexdigest()[:16] / "model"
    if not (model_dir / "code").is_dir():
        try:
            extract_archive(model_archive, model_dir, label=key)
            if code_archive is not None:
                extract_archive(code_archive, model_dir / "code")
        except ArchiveError as e:
            raise ModelSourceError(str(e))
    return model_dir


def from_dir(model_dir):
    """A folder with xgboost-model and preprocessing.json (a training job's /opt/ml/model);
    the inference code is its code/ folder, or this checkout's inference/."""
    model_dir = Path(model_dir)
    if not (model_dir / "xgboost-model").is_file():
        raise ModelSourceError(
            "%s has no xgboost-model: point --model-dir at a trained model's folder" % model_dir
        )
    code = model_dir / "code" if (model_dir / "code").is_dir() else INFERENCE_DIR
    return ServableModel(model_dir, code, "inference.py", str(model_dir))
