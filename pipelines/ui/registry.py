"""The model registry pages: versions per group, one version (metrics, confusion matrix, the
ROC and PR plots, the data-quality baseline, approve and reject), two versions side by side.
The facts are the workspace's `version_report`; approval goes through pipelines/aws/registry.py's
`set_approval`, as `churn models approve/reject` does."""

from collections.abc import Mapping
from typing import Any, Optional

from pipelines.aws.registry import list_versions
from pipelines.aws.registry import set_approval as set_registry_approval
from pipelines.ui.context import UI
from pipelines.ui.executions import execution_href, store_href
from pipelines.ui.html import Html, join, number, page, status_badge, table, tag, when

METRIC_LABELS = (
    ("auc", "AUC"),
    ("pr_auc", "PR AUC"),
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
)


def version_name(package: Mapping[str, Any]) -> str:
    return "%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])


def version_href(package: Mapping[str, Any]) -> str:
    return "/models/%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])


def _execution_link(package: Mapping[str, Any]) -> str:
    arn = (package.get("MetadataProperties") or {}).get("GeneratedBy", "")
    if "/execution/" not in arn:
        return "-"
    execution_id = arn.rsplit("/", 1)[1]
    return tag("a", execution_id, href=execution_href(execution_id))


def list_page(ui: UI, group: Optional[str] = None) -> Html:
    packages = list_versions(ui.ws.sagemaker_client, group)
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in packages:
        groups.setdefault(p["ModelPackageGroupName"], []).append(p)
    sections = []
    for name, versions in sorted(groups.items()):
        rows = []
        for p in reversed(versions):
            metrics = ui.ws.versions.metrics(p)
            rows.append(
                [
                    tag("a", "version %d" % p["ModelPackageVersion"], href=version_href(p)),
                    status_badge(p["ModelApprovalStatus"]),
                    when(p["CreationTime"]),
                    number(metrics.get("auc")),
                    number(metrics.get("pr_auc")),
                    number(metrics.get("accuracy")),
                    _execution_link(p),
                ]
            )
        choices = [
            tag("option", "version %d" % p["ModelPackageVersion"], value=version_name(p))
            for p in reversed(versions)
        ]
        compare = tag(
            "form",
            tag("label", "Compare ", tag("select", choices, name="a")),
            tag("label", " with ", tag("select", choices[1:] + choices[:1], name="b")),
            tag("button", "Compare", type="submit"),
            method="get",
            action="/models/compare",
            class_="filter",
        )
        sections.append(
            tag(
                "section",
                tag("h2", name),
                compare if len(versions) > 1 else None,
                table(
                    ["Version", "Status", "Registered", "AUC", "PR AUC", "Accuracy", "Execution"],
                    rows,
                    class_="versions",
                ),
            )
        )
    body = join(sections) or tag(
        "p", "No model versions yet: a `churn run` that passes the AUC gate registers one."
    )
    return page("Model registry", body, "models")


def _confusion(evaluation: Optional[dict[str, Any]]) -> Html:
    matrix = (evaluation or {}).get("binary_classification_metrics", {}).get("confusion_matrix")
    if not matrix:
        return tag("p", "No confusion matrix in the report.")
    labels = sorted(matrix)
    return table(
        ["actual \\ predicted"] + labels,
        [[a] + [matrix[a].get(p, 0) for p in labels] for a in labels],
        class_="confusion",
    )


def _plots(report: dict[str, Any]) -> Html:
    return tag(
        "div",
        [
            tag("figure", tag("img", src=store_href(uri), alt=title), tag("figcaption", title))
            for key, title in (("roc", "ROC curve"), ("pr", "Precision-recall curve"))
            for uri in [report["plots"].get(key)]
            if uri
        ]
        or tag("p", "No plots beside the evaluation report."),
        class_="plots",
    )


def _baseline(report: dict[str, Any]) -> Html:
    statistics = report["statistics"]
    if not statistics:
        return tag("p", "This version carries no data-quality baseline.")
    constraints = {c["name"]: c for c in (report["constraints"] or {}).get("features", [])}
    rows = []
    for f in statistics["features"]:
        c = constraints.get(f["name"], {})
        if "numerical_statistics" in f:
            n = f["numerical_statistics"]
            summary = "mean %s, sd %s, min %s, max %s" % (
                number(n.get("mean")),
                number(n.get("std_dev")),
                number(n.get("min")),
                number(n.get("max")),
            )
        else:
            n = f["string_statistics"]
            top = sorted(n["distribution"]["categorical"]["buckets"], key=lambda b: -b["count"])[:4]
            summary = "%d distinct; %s" % (
                n.get("distinct_count", len(top)),
                ", ".join("%s %d" % (b["value"], b["count"]) for b in top),
            )
        rows.append(
            [
                f["name"],
                f["inferred_type"],
                n["common"]["num_present"],
                n["common"]["num_missing"],
                number(c.get("completeness")),
                summary,
            ]
        )
    return table(["Feature", "Type", "Present", "Missing", "Completeness", "Distribution"], rows)


def approval_form(ui: UI, package: Mapping[str, Any]) -> Html:
    return tag(
        "form",
        tag("input", type="hidden", name="csrf_token", value=ui.csrf_token),
        tag("label", "Note ", tag("input", type="text", name="description", maxlength="1000")),
        [
            tag(
                "button",
                label,
                type="submit",
                name="status",
                value=status,
                class_=css,
                disabled=package["ModelApprovalStatus"] == status,
            )
            for label, status, css in (
                ("Approve", "Approved", "approve"),
                ("Reject", "Rejected", "reject"),
            )
        ],
        method="post",
        action=version_href(package) + "/approval",
        class_="approval",
    )


def version_page(ui: UI, group: str, version: str) -> Html:
    report = ui.ws.versions.report("%s/%s" % (group, version))
    p = report["package"]
    container = (p.get("InferenceSpecification") or {}).get("Containers", [{}])[0]
    facts = [
        ["Status", tag("span", status_badge(p["ModelApprovalStatus"]), id="approval-status")],
        ["Registered", when(p["CreationTime"])],
        ["Last modified", when(p["LastModifiedTime"])],
        ["Approval note", p.get("ApprovalDescription") or "-"],
        ["Execution", _execution_link(p)],
        ["Description", p.get("ModelPackageDescription") or "-"],
        [
            "Model data",
            tag("a", container["ModelDataUrl"], href=store_href(container["ModelDataUrl"]))
            if container.get("ModelDataUrl", "").startswith("s3://")
            else "-",
        ],
        ["ARN", p["ModelPackageArn"]],
    ]
    metrics = report["metrics"]
    body = join(
        table(["", ""], facts, class_="facts vertical"),
        approval_form(ui, p),
        tag(
            "div",
            tag(
                "section",
                tag("h2", "Test metrics"),
                table(
                    ["Metric", "Value"],
                    [[label, number(metrics.get(key))] for key, label in METRIC_LABELS],
                    class_="metrics",
                ),
            ),
            tag("section", tag("h2", "Confusion matrix"), _confusion(report["evaluation"])),
            class_="columns",
        ),
        _plots(report),
        tag("h2", "Data-quality baseline"),
        _baseline(report),
    )
    return page("%s version %s" % (group, version), body, "models")


def compare_page(ui: UI, a: str, b: str) -> Html:
    reports = [ui.ws.versions.report(a), ui.ws.versions.report(b)]
    names = [version_name(r["package"]) for r in reports]
    rows = []
    for key, label in METRIC_LABELS:
        values = [r["metrics"].get(key) for r in reports]
        delta = values[1] - values[0] if None not in values else None
        rows.append(
            [label] + [number(v) for v in values] + [number(delta) if delta is not None else "-"]
        )
    rows.append(
        ["Status"] + [status_badge(r["package"]["ModelApprovalStatus"]) for r in reports] + [""]
    )
    means = []
    stats = [{f["name"]: f for f in (r["statistics"] or {}).get("features", [])} for r in reports]
    for name in sorted(set(stats[0]) | set(stats[1])):
        cells = []
        for s in stats:
            f = s.get(name)
            if f is None:
                cells.append("absent")
            elif "numerical_statistics" in f:
                cells.append("mean %s" % number(f["numerical_statistics"].get("mean")))
            else:
                cells.append("%d distinct" % f["string_statistics"].get("distinct_count", 0))
        means.append([name] + cells)
    body = join(
        table(
            ["Metric"] + names + ["Difference (%s - %s)" % (names[1], names[0])],
            rows,
            class_="metrics",
        ),
        tag(
            "div",
            [
                tag(
                    "section",
                    tag("h2", tag("a", n, href=version_href(r["package"]))),
                    _confusion(r["evaluation"]),
                    _plots(r),
                )
                for n, r in zip(names, reports)
            ],
            class_="columns compare",
        ),
        tag("h2", "Baselines"),
        table(["Feature"] + names, means),
    )
    return page("%s against %s" % (names[0], names[1]), body, "models")


def set_approval(
    ui: UI, group: str, version: str, status: str, description: Optional[str]
) -> dict[str, Any]:
    """What the approve and reject buttons do: `churn models approve/reject`'s call."""
    return set_registry_approval(
        ui.ws.sagemaker_client, "%s/%s" % (group, version), status, description or None
    )
