"""Lay a model out as the serving container sees it: /opt/ml/model holds model.tar.gz's files,
and the inference code sits in /opt/ml/model/code. Where the model comes from (the registry, a
trained model's folder) is the caller's business: serving knows no registry and no store."""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

from pipelines.errors import ModelSourceError
from processing.churn_job import ArchiveError, extract_archive, file_digest

INFERENCE_DIR = Path(__file__).resolve().parents[2] / "inference"  # this checkout's code


class ServableModel(object):
    """A model as the serving container sees it: its folder, its inference code's folder and
    program, what to call it in messages, and the registered version it is, if one."""

    def __init__(
        self,
        model_dir: Union[str, Path],
        code_dir: Union[str, Path],
        program: str,
        description: str,
        model_package_arn: Optional[str] = None,
    ) -> None:
        self.model_dir = str(model_dir)
        self.code_dir = str(code_dir)
        self.program = program
        self.description = description
        self.model_package_arn = model_package_arn  # the registered version it is, if one


def unpack_model(
    cache_root: Union[str, Path],
    model_archive: Union[str, Path],
    code_archive: Optional[Union[str, Path]],
    label: str,
) -> Path:
    """The model folder of an artifact (and of its SAGEMAKER_SUBMIT_DIRECTORY code archive, if
    any) under cache_root, keyed by the archives' content: a repaired or replaced artifact
    gets a folder of its own. It is unpacked into a temporary folder with the one safe
    extractor and renamed into place only once whole, so a failed or interrupted unpack is
    never reused."""
    archives = [a for a in (model_archive, code_archive) if a is not None]
    key = hashlib.sha256("".join(file_digest(a)[1] for a in archives).encode()).hexdigest()
    folder = Path(cache_root) / key[:16]
    if (folder / "model").is_dir():
        return folder / "model"
    Path(cache_root).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=str(cache_root)))
    try:
        extract_archive(model_archive, tmp / "model", label=label)
        if code_archive is not None:
            extract_archive(code_archive, tmp / "model" / "code")
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "model").is_dir():  # not another server that won the race
                raise
    except ArchiveError as e:
        raise ModelSourceError(str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / "model"


def from_dir(model_dir: Union[str, Path]) -> ServableModel:
    """A folder with xgboost-model and preprocessing.json (a training job's /opt/ml/model);
    the inference code is its code/ folder, or this checkout's inference/."""
    folder = Path(model_dir)
    if not (folder / "xgboost-model").is_file():
        raise ModelSourceError(
            "%s has no xgboost-model: point --model-dir at a trained model's folder" % folder
        )
    code = folder / "code" if (folder / "code").is_dir() else INFERENCE_DIR
    return ServableModel(folder, code, "inference.py", str(folder))
