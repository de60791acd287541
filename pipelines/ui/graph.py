"""The pipeline graph of an execution, laid out and drawn as SVG: every step of the definition
(a condition's two branches included), edges from DependsOn and property references (the
engine's own `dependencies`, so the graph is what the engine waits on) and from a condition to
the steps of each branch, each step coloured by its status in the execution's record.

Layout: each step's row is one more than its deepest predecessor's (the longest path from a
first step), and the steps of a row are ordered by the mean position of their predecessors,
which keeps a pipeline this size free of most crossings without a layout library."""

from collections.abc import Callable
from typing import Any, Optional

from pipelines.local.sagemaker.engine import all_steps, dependencies
from pipelines.ui.html import Html, tag

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 250, 46, 36, 44, 16


def step_status(entry: Optional[dict[str, Any]]) -> str:
    """The status a step is drawn with: its record's status, "Cache hit" for a step whose job
    came from the cache, "Not run" for a step the execution never started."""
    if entry is None:
        return "Not run"
    if entry["StepStatus"] == "Succeeded" and entry.get("CacheHit"):
        return "Cache hit"
    return entry["StepStatus"]


def edges(definition: dict[str, Any]) -> list[tuple[str, str, str]]:
    """[(from, to, label)]: data and DependsOn edges, and a condition's branch edges labelled
    "if true" and "if false"."""
    names = {s["Name"] for s in all_steps(definition)}
    out: list[tuple[str, str, str]] = []
    for step in all_steps(definition):
        for dep in sorted(dependencies(step) & names):
            out.append((dep, step["Name"], ""))
        if step["Type"] == "Condition":
            for key, label in (("IfSteps", "if true"), ("ElseSteps", "if false")):
                for branch in step["Arguments"].get(key, []):
                    out.append((step["Name"], branch["Name"], label))
    return out


def layout(definition: dict[str, Any]) -> tuple[dict[str, tuple[float, float]], int, int]:
    """({step: (x, y)}, width, height)."""
    steps: list[str] = [s["Name"] for s in all_steps(definition)]
    preds: dict[str, list[str]] = {name: [] for name in steps}
    for a, b, _ in edges(definition):
        if a != b and a not in preds[b]:
            preds[b].append(a)
    rows: dict[str, int] = {}

    def row(name: str, seen: tuple[str, ...] = ()) -> int:
        if name not in rows:
            if name in seen:  # a cycle the engine would refuse; draw it rather than recurse
                return 0
            rows[name] = 1 + max((row(p, seen + (name,)) for p in preds[name]), default=-1)
        return rows[name]

    for name in steps:
        row(name)
    by_row: dict[int, list[str]] = {}
    for name in steps:  # definition order first, then by the predecessors' mean column
        by_row.setdefault(rows[name], []).append(name)
    column: dict[str, int] = {}
    for r in sorted(by_row):
        names = by_row[r]
        for i, name in enumerate(names):
            column[name] = i
        names.sort(
            key=lambda n: (
                sum(column[p] for p in preds[n]) / len(preds[n]) if preds[n] else column[n]
            )
        )
        for i, name in enumerate(names):
            column[name] = i
    widest = max(len(v) for v in by_row.values()) if by_row else 1
    width = MARGIN * 2 + widest * NODE_W + (widest - 1) * GAP_X
    positions: dict[str, tuple[float, float]] = {}
    for r, names in by_row.items():
        span = len(names) * NODE_W + (len(names) - 1) * GAP_X
        left = (width - span) / 2.0
        for i, name in enumerate(names):
            positions[name] = (left + i * (NODE_W + GAP_X), MARGIN + r * (NODE_H + GAP_Y))
    height = MARGIN * 2 + len(by_row) * NODE_H + (len(by_row) - 1) * GAP_Y
    return positions, width, height


def svg(
    definition: dict[str, Any], record: dict[str, Any], step_href: Callable[[str], str]
) -> Html:
    """The graph as an <svg> element; `step_href(name)` is where a click on a step leads."""
    entries = {e["StepName"]: e for e in record["Steps"]}
    types = {s["Name"]: s["Type"] for s in all_steps(definition)}
    positions, width, height = layout(definition)
    lines = []
    for a, b, label in edges(definition):
        (x1, y1), (x2, y2) = positions[a], positions[b]
        sx, sy = x1 + NODE_W / 2.0, y1 + NODE_H
        tx, ty = x2 + NODE_W / 2.0, y2
        bend = max(20.0, (ty - sy) / 2.0)
        lines.append(
            tag(
                "path",
                d="M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f"
                % (sx, sy, sx, sy + bend, tx, ty - bend, tx, ty - 4),
                class_="edge" + (" branch" if label else ""),
                marker_end="url(#arrow)",
            )
        )
        if label:
            lines.append(
                tag(
                    "text",
                    label,
                    x="%.1f" % ((sx + tx) / 2 + 4),
                    y="%.1f" % ((sy + ty) / 2),
                    class_="edge-label",
                )
            )
    nodes = []
    for name, (x, y) in positions.items():
        status = step_status(entries.get(name))
        nodes.append(
            tag(
                "a",
                tag(
                    "g",
                    tag("title", "%s (%s): %s" % (name, types[name], status)),
                    tag("rect", x="%.1f" % x, y="%.1f" % y, width=NODE_W, height=NODE_H, rx=6),
                    tag("text", name, x="%.1f" % (x + 10), y="%.1f" % (y + 19), class_="name"),
                    tag(
                        "text",
                        "%s · %s" % (types[name], status),
                        x="%.1f" % (x + 10),
                        y="%.1f" % (y + 36),
                        class_="step-status",
                    ),
                    class_="node status-%s" % status.lower().replace(" ", "-"),
                    data_step=name,
                    data_type=types[name],
                ),
                href=step_href(name),
            )
        )
    defs = Html(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" '
        'class="arrow"/></marker></defs>'
    )
    return tag(
        "svg",
        defs,
        lines,
        nodes,
        xmlns="http://www.w3.org/2000/svg",
        width=int(width),
        height=int(height),
        viewBox="0 0 %d %d" % (width, height),
        class_="graph",
        role="img",
        aria_label="pipeline graph",
    )
