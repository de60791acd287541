"""S3's XML bodies: the answers this layer writes and the request documents it reads
(DeleteObjects' <Delete>, CompleteMultipartUpload's parts). Requests are read with the
standard library's expat parser, which refuses entity expansion bombs (expat >= 2.4.1), and only
from bodies this layer already bounded in size."""

import datetime
import email.utils
from typing import Any, Dict, Iterable, List, Optional, Tuple
from urllib.parse import quote
from xml.etree import ElementTree

from pipelines.local.s3wire.errors import S3Error

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

Node = Tuple[str, Any]  # (tag, text | list of nodes | None)


def document(root: str, children: Iterable[Node]) -> bytes:
    """<root xmlns=S3's namespace>children</root>, escaped."""
    element = ElementTree.Element(root, xmlns=NAMESPACE)
    _append(element, children)
    return DECLARATION + ElementTree.tostring(element, encoding="utf-8")


def error_document(code: str, message: str, request_id: str, extra: Dict[str, str]) -> bytes:
    element = ElementTree.Element("Error")
    _append(element, [("Code", code), ("Message", message)] + list(extra.items()))
    _append(element, [("RequestId", request_id), ("HostId", request_id)])
    return DECLARATION + ElementTree.tostring(element, encoding="utf-8")


def _append(parent: ElementTree.Element, children: Iterable[Node]) -> None:
    for tag, value in children:
        child = ElementTree.SubElement(parent, tag)
        if isinstance(value, list):
            _append(child, value)
        elif value is not None:
            child.text = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return iso_time(value)
    return str(value)


def iso_time(when: datetime.datetime) -> str:
    """S3's timestamps in XML: 2009-10-12T17:50:30.000Z."""
    when = when.astimezone(datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (when.microsecond // 1000)


def http_time(when: datetime.datetime) -> str:
    """Last-Modified's format (RFC 7231's IMF-fixdate): Wed, 12 Oct 2009 17:50:00 GMT."""
    return email.utils.format_datetime(when.astimezone(datetime.timezone.utc), usegmt=True)


def encoded(text: str, encoding: Optional[str]) -> str:
    """A key as a listing writes it: URL-encoded when the request asked encoding-type=url
    (botocore asks by default, and decodes the answer)."""
    return quote(text, safe="/") if encoding == "url" else text


def parse(body: bytes, root: str) -> ElementTree.Element:
    """A request document whose root element is `root` (namespace or not), or MalformedXML."""
    try:
        element = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise S3Error(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our "
            "published schema.",
        ) from None
    if _local(element.tag) != root:
        raise S3Error("MalformedXML", "the document's root element is not <%s>" % root)
    return element


def children(element: ElementTree.Element, tag: str) -> List[ElementTree.Element]:
    return [c for c in element if _local(c.tag) == tag]


def child_text(element: ElementTree.Element, tag: str) -> Optional[str]:
    found = children(element, tag)
    return (found[0].text or "") if found else None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
