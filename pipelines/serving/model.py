"""Find the model to serve and lay it out as the serving container sees it:
/opt/ml/model holds model.tar.gz's files, and the inference code sits in /opt/ml/model/code."""
import hashlib
from pathlib import Path

from pipelines.code_bundles import ROOT
from pipelines.local.jobs import extract_code
from pipelines.local.registry import Registry
from pipelines.local.store import Store


class ModelSourceError(ValueError):
    pass


class ServableModel(object):
    def __init__(self, model_dir, code_dir, program, description):
        self.model_dir = str(model_dir)
        self.code_dir = str(code_dir)
        self.program = program
        self.description = description


def from_registry(home, ref, allow_unapproved=False):
    """A registered version (number, GROUP/NUMBER or ARN). Only Approved versions unless
    `allow_unapproved`: the registry's approval is the gate to production."""
    registry = Registry(home)
    try:
        package = registry.find(ref)
    finally:
        registry.close()
    status = package["ModelApprovalStatus"]
    name = "%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])
    if status != "Approved" and not allow_unapproved:
        raise ModelSourceError("model version %s is %s, not Approved: approve it with "
                               "`churn models approve %s`, or pass --allow-unapproved to serve "
                               "it anyway" % (name, status, name))
    container = package["InferenceSpecification"]["Containers"][0]
    env = container.get("Environment") or {}
    store = Store(home)
    digest = hashlib.sha256(container["ModelDataUrl"].encode()).hexdigest()[:16]
    model_dir = Path(home) / "serving" / digest / "model"
    if not (model_dir / "code").is_dir():  # unpack once per model artifact
        extract_code(store.read_bytes(container["ModelDataUrl"]), model_dir)
        submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        if submit.startswith("s3://"):
            extract_code(store.read_bytes(submit), model_dir / "code")
    return ServableModel(model_dir, model_dir / "code", env.get("SAGEMAKER_PROGRAM",
                                                               "inference.py"),
                         "%s (%s)" % (name, status))


def from_dir(model_dir):
    """A folder with xgboost-model and preprocessing.json (a training job's /opt/ml/model);
    the inference code is its code/ folder, or this checkout's inference/."""
    model_dir = Path(model_dir)
    if not (model_dir / "xgboost-model").is_file():
        raise ModelSourceError("%s has no xgboost-model: point --model-dir at a trained "
                               "model's folder" % model_dir)
    code = model_dir / "code" if (model_dir / "code").is_dir() else ROOT / "inference"
    return ServableModel(model_dir, code, "inference.py", str(model_dir))
