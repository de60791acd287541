"""HTML built from Python values, escaped by construction: `tag()` escapes every string it is
given and every attribute value, and only what `tag()` (or `Html`) made passes through as it
is. A page never formats user-controlled text into markup by hand, so a step name, a failure
reason or a captured value cannot inject markup (the pages' Content-Security-Policy forbids
inline script besides)."""

import html
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Optional, Union


class Html(str):
    """Markup that is already safe."""


def escape(value: object) -> Html:
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


# Children are any values (hence `object`): Html passes as it is, None and False are left out,
# lists and tuples are flattened, anything else is escaped text.
def _children(children: Iterable[object]) -> Iterator[Html]:
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, (list, tuple)):
            yield from _children(child)
        else:
            yield escape(child)


VOID = {"br", "img", "input", "meta", "link", "hr"}


def tag(name: str, /, *children: object, **attrs: object) -> Html:
    """<name attrs>children</name>; an attribute `class_` is `class`, `data_x` is `data-x`, a
    True value is a bare attribute and None or False leaves it out."""
    parts = [name]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        key = key.rstrip("_").replace("_", "-")
        parts.append(key if value is True else '%s="%s"' % (key, escape(value)))
    start = "<%s>" % " ".join(parts)
    if name in VOID:
        return Html(start)
    return Html(start + "".join(_children(children)) + "</%s>" % name)


def join(*children: object) -> Html:
    return Html("".join(_children(children)))


def when(moment: Union[float, datetime, None]) -> str:
    """Local time of epoch seconds or of a datetime (what boto3 answers), "-" for none."""
    if isinstance(moment, datetime):
        moment = moment.timestamp()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment else "-"


def seconds(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return "%.1f s" % value if value < 120 else "%d min %02d s" % divmod(int(value), 60)


def number(value: object, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return ("%%.%df" % digits) % value if isinstance(value, float) else str(value)


def size(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return ("%d %s" if unit == "B" else "%.1f %s") % (n, unit)
        n /= 1024.0
    return "%.1f GB" % n


def pretty_json(value: object) -> Html:
    return tag("pre", json.dumps(value, indent=1, default=str), class_="json")


def table(headers: Sequence[object], rows: Iterable[Sequence[object]], **attrs: object) -> Html:
    return tag(
        "table",
        tag("thead", tag("tr", [tag("th", h) for h in headers])),
        tag("tbody", [tag("tr", [tag("td", c) for c in row]) for row in rows]),
        **attrs,
    )


def status_badge(status: str, label: Optional[str] = None) -> Html:
    return tag("span", label or status, class_="badge status-%s" % status.lower().replace(" ", "-"))


def page(title: str, body: object, section: Optional[str], **body_attrs: object) -> Html:
    """The whole document: the navigation, the title and the body."""
    nav = tag(
        "nav",
        tag("span", "churn ui", class_="brand"),
        [
            tag("a", label, href=href, class_="current" if key == section else None)
            for key, label, href in (
                ("executions", "Executions", "/executions"),
                ("models", "Model registry", "/models"),
                ("monitoring", "Monitoring", "/monitoring"),
            )
        ],
    )
    return Html(
        "<!doctype html>\n"
        + tag(
            "html",
            tag(
                "head",
                tag("meta", charset="utf-8"),
                tag("title", title + " - churn ui"),
                tag("link", rel="stylesheet", href="/static/ui.css"),
                tag("link", rel="icon", href="/static/favicon.svg", type="image/svg+xml"),
                tag("script", src="/static/ui.js", defer=True),
            ),
            tag("body", nav, tag("main", tag("h1", title), body), **body_attrs),
            lang="en",
        )
    )
