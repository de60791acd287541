"""The monitoring pages: for each endpoint `churn monitor` has reported on, the drift distance
of every feature over time with the threshold drawn, each report's violations, and, per
feature, the baseline's distribution against the captured traffic. Reports are read by
pipelines/monitoring/report.py, captured requests by capture_reader.py, and distributions are
drift.py's: the code `churn monitor` runs."""

import os
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Optional

from pipelines.errors import MonitorError, UserError
from pipelines.monitoring.capture_reader import Payload, captured_payloads, rows_from_payloads
from pipelines.monitoring.drift import FeatureDistribution, distributions
from pipelines.monitoring.report import Report, monitored_endpoints, reports
from pipelines.ui.context import UI
from pipelines.ui.html import Html, join, page, table, tag, when
from pipelines.ui.registry import version_href, version_name

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
)
DEFAULT_THRESHOLD = 0.1  # Model Monitor's comparison_threshold when constraints name none


def endpoints(ui: UI) -> list[str]:
    """Endpoints with reports or captured traffic in the home (churn serve's capture folder,
    or a local endpoint's capture destination)."""
    found = set(monitored_endpoints(str(ui.ws.endpoints.monitoring_dir)))
    if ui.ws.endpoints.capture_dir.is_dir():
        found |= {p.name for p in ui.ws.endpoints.capture_dir.iterdir() if p.is_dir()}
    pages = ui.ws.sagemaker_client.get_paginator("list_endpoints").paginate()
    for name in [e["EndpointName"] for listed in pages for e in listed["Endpoints"]]:
        capture = (ui.ws.endpoints.served(name) or {}).get("CaptureDir")
        if capture and os.path.isdir(os.path.join(capture, name)):
            found.add(name)
    return sorted(found)


def index_page(ui: UI) -> Html:
    rows: list[list[object]] = []
    for name in endpoints(ui):
        found = reports(str(ui.ws.endpoints.monitoring_dir), name)
        last = found[-1] if found else None
        rows.append(
            [
                tag("a", name, href="/monitoring/%s" % name),
                len(found),
                when(last["time"]) if last else "-",
                len(last["violations"]) if last else "-",
            ]
        )
    body = (
        table(["Endpoint", "Reports", "Latest report", "Violations in it"], rows)
        if rows
        else tag(
            "p",
            "No monitoring reports yet: serve a version with capture on, send it "
            "requests, then run `churn monitor`.",
        )
    )
    return page("Monitoring", body, "monitoring")


def _drift_chart(
    found: Sequence[Report], threshold: float, width: int = 760, height: int = 300, pad: int = 44
) -> Html:
    features = sorted({f for r in found for f in r["metrics"]})
    points = [r for r in found if r["metrics"]]
    if not points:
        return tag("p", "These reports hold no drift metrics.")
    top = max([threshold * 1.5] + [v for r in points for v in r["metrics"].values()])
    t0, t1 = points[0]["time"], points[-1]["time"]
    span = (t1 - t0) or 1.0

    def x(t: float) -> float:
        return pad + (t - t0) / span * (width - 2 * pad) if t1 != t0 else width / 2.0

    def y(v: float) -> float:
        return height - pad - v / top * (height - 2 * pad)

    parts = [
        tag("line", x1=pad, y1=height - pad, x2=width - pad, y2=height - pad, class_="axis"),
        tag("line", x1=pad, y1=pad, x2=pad, y2=height - pad, class_="axis"),
        tag(
            "line",
            x1=pad,
            y1="%.1f" % y(threshold),
            x2=width - pad,
            y2="%.1f" % y(threshold),
            class_="threshold",
        ),
        tag(
            "text",
            "threshold %g" % threshold,
            x=width - pad - 90,
            y="%.1f" % (y(threshold) - 6),
            class_="threshold-label",
        ),
        tag("text", "0", x=pad - 14, y=height - pad + 4, class_="tick"),
        tag("text", "%.2f" % top, x=4, y=pad + 4, class_="tick"),
        tag("text", when(t0), x=pad, y=height - pad + 18, class_="tick"),
        tag("text", when(t1), x=width - pad - 120, y=height - pad + 18, class_="tick")
        if t1 != t0
        else None,
    ]
    legend = []
    for i, feature in enumerate(features):
        colour = PALETTE[i % len(PALETTE)]
        series = [
            (x(r["time"]), y(r["metrics"][feature])) for r in points if feature in r["metrics"]
        ]
        parts.append(
            tag(
                "polyline",
                points=" ".join("%.1f,%.1f" % p for p in series),
                stroke=colour,
                class_="series",
                data_feature=feature,
            )
        )
        parts += [
            tag("circle", cx="%.1f" % px, cy="%.1f" % py, r=3, fill=colour) for px, py in series
        ]
        legend.append(
            tag(
                "li",
                tag("svg", tag("rect", width=12, height=12, fill=colour), width=12, height=12),
                " ",
                feature,
            )
        )
    return join(
        tag(
            "svg",
            parts,
            xmlns="http://www.w3.org/2000/svg",
            width=width,
            height=height,
            viewBox="0 0 %d %d" % (width, height),
            class_="chart",
            role="img",
            aria_label="drift distance over time",
        ),
        tag("ul", legend, class_="legend"),
    )


def _bars(feature: FeatureDistribution, width: int = 360, row: int = 18) -> Html:
    buckets = feature["buckets"]
    height = row * len(buckets) + 8
    label_w, bar_w = 130, width - 130 - 8
    top = max([b["baseline"] for b in buckets] + [b["captured"] for b in buckets] + [1e-9])
    parts = []
    for i, b in enumerate(buckets):
        y0 = 4 + i * row
        parts.append(tag("text", b["label"][:20], x=0, y=y0 + 12, class_="tick"))
        for side, share, offset in (("baseline", b["baseline"], 1), ("captured", b["captured"], 9)):
            parts.append(
                tag(
                    "rect",
                    x=label_w,
                    y=y0 + offset,
                    height=7,
                    width="%.1f" % (share / top * bar_w),
                    class_="bar-" + side,
                )
            )
    return tag(
        "svg",
        parts,
        xmlns="http://www.w3.org/2000/svg",
        width=width,
        height=height,
        class_="bars",
        role="img",
        aria_label="distribution of %s" % feature["name"],
    )


def baseline_version(
    ui: UI, endpoint: str, found: Sequence[Report], version: Optional[str]
) -> tuple[Optional[dict[str, Any]], str, Optional[datetime]]:
    """(the version whose baseline the page draws, why that one, the time from which captured
    traffic is drawn against it or None): the version the address names, else the one the
    endpoint serves (its traffic since it began serving it), else the one its latest report
    was checked against; (None, why none, None) when none of them is known. Never the newest
    Approved version of some group: that may be another table's."""
    if version:
        return ui.ws.versions.package(version, None), "named in the address", None
    served = ui.ws.endpoints.served(endpoint) or {}
    if served.get("ModelPackageArn"):
        since = served.get("Since")
        return (
            ui.ws.versions.package(served["ModelPackageArn"], None),
            "the version %s serves" % endpoint,
            # to the second, as captured records name their time
            datetime.fromtimestamp(int(since), timezone.utc) if since else None,
        )
    checked = [
        r["baseline"]["ModelPackageArn"]
        for r in found
        if r["baseline"] and r["baseline"].get("ModelPackageArn")
    ]
    if checked:
        return (
            ui.ws.versions.package(checked[-1], None),
            "the latest report was checked against it",
            None,
        )
    return (
        None,
        (
            "%s serves no registered version this home knows of (a model folder, or nothing "
            "served yet) and no report names one; name one with ?version=GROUP/N" % endpoint
        ),
        None,
    )


def endpoint_page(ui: UI, endpoint: str, version: Optional[str] = None) -> Html:
    if endpoint not in endpoints(ui):
        raise UserError("no monitoring reports or captured traffic for endpoint %r" % endpoint)
    found = reports(str(ui.ws.endpoints.monitoring_dir), endpoint)
    parts: list[Html] = []
    statistics: Optional[dict[str, Any]] = None
    constraints: Optional[dict[str, Any]] = None
    package, why, since = baseline_version(ui, endpoint, found, version)
    baseline_note = tag("p", "No baseline to compare with: %s." % why)
    if package:
        try:
            statistics, constraints = ui.ws.versions.drift_baseline(package["ModelPackageArn"])
        except UserError as e:
            baseline_note = tag("p", "No baseline to compare with: %s" % e)
        others = sorted(
            {
                r["baseline"]["description"]
                for r in found
                if r["baseline"]
                and r["baseline"].get("ModelPackageArn") != package["ModelPackageArn"]
            }
        )
        if others:
            parts.append(
                tag(
                    "p",
                    "Some reports were checked against another baseline than the one drawn "
                    "below (%s): %s." % (version_name(package), "; ".join(others)),
                    class_="warning",
                )
            )
    threshold = float(
        ((constraints or {}).get("monitoring_config", {}).get("distribution_constraints", {})).get(
            "comparison_threshold", DEFAULT_THRESHOLD
        )
    )
    parts.append(tag("h2", "Drift distance over time"))
    parts.append(_drift_chart(found, threshold) if found else tag("p", "No reports yet."))
    parts.append(tag("h2", "Reports"))
    parts.append(
        table(
            ["Report", "Rows checked", "Violations", "Checked against"],
            [
                [
                    when(r["time"]),
                    r["rows"] if r["rows"] is not None else "-",
                    len(r["violations"]),
                    r["baseline"]["description"] if r["baseline"] else "-",
                ]
                for r in reversed(found)
            ],
        )
    )
    parts.append(tag("h2", "Violations in the latest report"))
    latest = found[-1]["violations"] if found else []
    parts.append(
        table(
            ["Feature", "Check", "Description"],
            [[v["feature_name"], v["constraint_check_type"], v["description"]] for v in latest],
        )
        if latest
        else tag("p", "None.")
    )
    parts.append(tag("h2", "Baseline against captured traffic"))
    capture_dir = (ui.ws.endpoints.served(endpoint) or {}).get(
        "CaptureDir"
    ) or ui.ws.endpoints.capture_dir
    if statistics is None or package is None:  # a baseline is read only for a version
        parts.append(baseline_note)
    else:
        parts.append(
            tag(
                "p",
                "Baseline of ",
                tag("a", version_name(package), href=version_href(package)),
                " (%s); captured requests under %s%s."
                % (why, capture_dir, " since %s" % when(since.timestamp()) if since else ""),
                class_="muted",
            )
        )
        payloads: list[Payload]
        try:
            payloads, _ = captured_payloads(str(capture_dir), endpoint, since)
        except MonitorError as e:
            payloads = []
            parts.append(tag("p", str(e)))
        features = [f["name"] for f in statistics["features"]]
        rows = rows_from_payloads(payloads, features)[0]
        parts.append(
            tag(
                "p",
                Html('<span class="key bar-baseline"></span>'),
                " baseline ",
                Html('<span class="key bar-captured"></span>'),
                " captured (%d rows)" % len(rows),
                class_="legend-line",
            )
        )
        parts.append(
            tag(
                "div",
                [
                    tag("figure", _bars(f), tag("figcaption", "%s (%s)" % (f["name"], f["type"])))
                    for f in distributions(statistics, rows)
                ],
                class_="distributions",
            )
        )
    return page("Endpoint %s" % endpoint, join(parts), "monitoring")
