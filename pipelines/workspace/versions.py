"""Registered versions read for what the commands do with them: served (laid out as a model
folder), reported (`churn ui`), monitored (their data-quality baseline). The registry calls are
pipelines/aws/registry.py's, on the home's `sagemaker` twin client."""

import json
from typing import Any, Dict, Optional, Tuple

from pipelines.aws.registry import (
    drift_baselines,
    evaluation_uri,
    find_package,
    latest_approved,
    quality_metrics,
    require_approved,
)
from pipelines.errors import MonitorError
from pipelines.serving.model import ServableModel, unpack_model
from pipelines.workspace.home import Home

Package = Dict[str, Any]
# The plots EvaluateModel writes beside evaluation.json (evaluation/evaluate.py).
EVALUATION_PLOTS = {"roc": "roc_curve.png", "pr": "precision_recall_curve.png"}


class Versions(object):
    def __init__(self, ws: Home) -> None:
        self.ws = ws

    @property
    def _where(self) -> str:
        return "under %s" % self.ws.home

    def latest_approved(self, group: str) -> str:
        """The ARN of the newest Approved version of model package group `group` (what the
        templates deploy)."""
        return latest_approved(self.ws.sagemaker_client, group, self._where)

    def package(self, ref: Optional[Any], group: Optional[str]) -> Package:
        """A registered version (DescribeModelPackage): `ref` (number, GROUP/NUMBER or ARN; a
        number in `group`), or the newest Approved version of `group`."""
        return find_package(self.ws.sagemaker_client, ref or None, group, self._where)

    def servable_model(
        self, ref: Optional[Any], group: Optional[str], allow_unapproved: bool = False
    ) -> ServableModel:
        """A registered version (see `package`) laid out for serving. Only Approved versions
        unless `allow_unapproved`: the registry's approval is the gate to production."""
        package = self.package(ref, group)
        require_approved(package, allow_unapproved)
        status = package["ModelApprovalStatus"]
        name = "%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])
        container = package["InferenceSpecification"]["Containers"][0]
        env = container.get("Environment") or {}
        submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        store = self.ws.store
        model_dir = unpack_model(
            self.ws.home / "serving",
            store.file(container["ModelDataUrl"]),
            store.file(submit) if submit.startswith("s3://") else None,
            label=container["ModelDataUrl"],
        )
        return ServableModel(
            model_dir,
            model_dir / "code",
            env.get("SAGEMAKER_PROGRAM", "inference.py"),
            "%s (%s)" % (name, status),
            package["ModelPackageArn"],
        )

    def report(self, ref: Any) -> Dict[str, Any]:
        """What a registered version carries, read once for `churn ui`: the package, its test
        metrics and evaluation report (ModelMetrics.ModelQuality), the ROC and PR plots that
        EvaluateModel writes beside the report, and the data-quality baseline (statistics and
        constraints, None where the version has none)."""
        ws = self.ws
        package = self.package(ref, None)
        report_uri = evaluation_uri(package)
        evaluation = ws.store_json(report_uri) if report_uri else None
        plots = {}
        if report_uri:
            folder = report_uri.rsplit("/", 1)[0]
            for name, file_name in EVALUATION_PLOTS.items():
                uri = folder + "/" + file_name
                if ws.store.exists(uri):
                    plots[name] = uri
        baselines = drift_baselines(package)
        return {
            "package": package,
            "evaluation": evaluation,
            "metrics": quality_metrics(evaluation) if evaluation else {},
            "plots": plots,
            "statistics": ws.store_json(baselines[0]) if baselines else None,
            "constraints": ws.store_json(baselines[1]) if baselines else None,
        }

    def metrics(self, package: Package) -> Dict[str, float]:
        """A version's test metrics alone (what a listing of versions shows), {} without a
        report."""
        report_uri = evaluation_uri(package)
        evaluation = self.ws.store_json(report_uri) if report_uri else None
        return quality_metrics(evaluation) if evaluation else {}

    def drift_baseline(self, ref: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """(statistics, constraints) of a version's data-quality DriftCheckBaselines."""
        baselines = drift_baselines(self.package(ref, None))
        if not baselines:
            raise MonitorError("model version %s has no data-quality DriftCheckBaselines" % ref)
        store = self.ws.store
        return (
            json.loads(store.read_bytes(baselines[0])),
            json.loads(store.read_bytes(baselines[1])),
        )
