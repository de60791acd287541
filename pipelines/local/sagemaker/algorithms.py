"""The SageMaker XGBoost image in algorithm mode (docs/container-contracts.md section 2.9): which
requests ask for it, what stands for the image's built-in code here, and the metric
definitions SageMaker applies to a built-in algorithm's log.

A training job is in algorithm mode when its TrainingImage is the region's XGBoost image
(`<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:<version>`, what
`sagemaker.image_uris.retrieve("xgboost", region, version)` gives) and no `sagemaker_program`
hyperparameter names a script; a model is, when its container's Image is that image and no
SAGEMAKER_PROGRAM names inference code. The image's built-in programs are, here, the project's
container scripts training/xgboost_algorithm.py and inference/xgboost_algorithm.py.
"""

from __future__ import annotations  # kept light as the job layer: no typing at run time

import json
import re
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[3]
TRAINER = ROOT / "training" / "xgboost_algorithm.py"
SERVING_DIR = ROOT / "inference"
SERVING_PROGRAM = "xgboost_algorithm.py"

XGBOOST_IMAGE = re.compile(
    r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/sagemaker-xgboost:(?P<tag>[^/@]+)$"
)
# Images whose algorithm mode saves the booster with Booster.save_model; 0.90-1, 0.90-2,
# 1.0-1 and 1.2-x pickle it (the XGBoost page's "Use XGBoost with model files").
FIRST_SAVE_MODEL_VERSION = (1, 3)

# The metrics the algorithm computes (the "Tune an XGBoost Model" page; the container's
# algorithm_mode/metrics.py gives each this regex over the CloudWatch line).
MAXIMIZED = ("accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro",
             "map", "ndcg", "precision", "r2", "recall", "precision_macro", "precision_micro",
             "recall_macro", "recall_micro")  # fmt: skip
MINIMIZED = ("aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
             "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss",
             "mphe", "mse", "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik")  # fmt: skip
METRIC_DEFINITIONS = [
    {"Name": "validation:" + name, "Regex": ".*\\[[0-9]+\\].*#011validation-%s:(\\S+)" % name}
    for name in MAXIMIZED + MINIMIZED
]


def xgboost_version(image: Any) -> Optional[str]:
    """The version tag of the XGBoost image `image` names (1.7-1, 3.0-5, ...), else None."""
    match = XGBOOST_IMAGE.match(image) if isinstance(image, str) else None
    return match.group("tag") if match else None


def saves_with_save_model(version: str) -> bool:
    """Whether this image's algorithm mode writes xgboost-model with Booster.save_model."""
    numbers = re.findall(r"[0-9]+", version)
    return tuple(int(n) for n in numbers[:2]) >= FIRST_SAVE_MODEL_VERSION


def _program(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def training_algorithm(request: dict[str, Any]) -> Optional[str]:
    """The XGBoost image version a CreateTrainingJob request runs in algorithm mode, or None
    (script mode: a `sagemaker_program` hyperparameter names the entry point)."""
    version = xgboost_version((request.get("AlgorithmSpecification") or {}).get("TrainingImage"))
    hyperparameters = request.get("HyperParameters") or {}
    if version is None or _program(hyperparameters.get("sagemaker_program")):
        return None
    return version


def model_algorithm(container: dict[str, Any]) -> Optional[str]:
    """The XGBoost image version a CreateModel container serves in algorithm mode, or None."""
    version = xgboost_version(container.get("Image"))
    if version is None or (container.get("Environment") or {}).get("SAGEMAKER_PROGRAM"):
        return None
    return version
