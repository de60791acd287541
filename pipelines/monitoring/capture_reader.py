"""Captured requests read back: the capture files of an endpoint (docs/container-contracts.md
section 5), their records, and the request rows in them."""

import base64
import binascii
import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, Optional

from pipelines.errors import MonitorError
from processing import churn_decoding as decoding

# A captured request: (its content type, its body as text).
Payload = tuple[str, str]
# A request row: {column: raw value} (text from CSV, any JSON value from JSON).
Row = dict[str, Any]


def captured_payloads(
    capture_dir: str, endpoint: str, since: Optional[datetime] = None
) -> tuple[list[Payload], int]:
    """([(content type, text)] of every captured request at or after `since` (UTC datetime),
    the number of unreadable lines skipped)."""
    root = os.path.join(capture_dir, endpoint)
    if not os.path.isdir(root):
        raise MonitorError("no captured data for endpoint %s under %s" % (endpoint, capture_dir))
    payloads: list[Payload] = []
    skipped = 0
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if not name.endswith(".jsonl"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                found, unreadable = payloads_of_records(f, since)
            payloads += found
            skipped += unreadable
    return payloads, skipped


def payloads_of_records(
    lines: Iterable[str], since: Optional[datetime] = None
) -> tuple[list[Payload], int]:
    """([(content type, text)] of the requests in capture-record lines at or after `since`,
    the number of lines skipped because they are not capture records: a line cut short by a
    crash or a full disk, one nested too deeply to parse, or anything else that is not one)."""
    payloads: list[Payload] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            when = datetime.strptime(
                record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ"
            ).replace(tzinfo=timezone.utc)
            data = record["captureData"]["endpointInput"]
            text = (
                data["data"]
                if data["encoding"] != "BASE64"
                else base64.b64decode(data["data"]).decode("utf-8", "replace")
            )
            content_type = data["observedContentType"]
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, RecursionError):
            skipped += 1
            continue
        if since and when < since:
            continue
        payloads.append((content_type, text))
    return payloads, skipped


def rows_from_payloads(
    payloads: Iterable[Payload], features: Sequence[str]
) -> tuple[list[Row], set[str], set[str], int]:
    """Rows as {column: raw value}, the column problems seen (missing / extra columns) and the
    number of payloads skipped as unreadable: a body no scoring could read either (not JSON,
    nested too deeply, an instance that is neither a row nor a record). Bodies are read with
    the inference code's own rules (processing/churn_decoding.py)."""
    rows: list[Row] = []
    missing: set[str] = set()
    extra: set[str] = set()
    unreadable = 0
    for content_type, text in payloads:
        media = decoding.media_type(content_type)
        try:
            if media == decoding.CSV:
                records = decoding.csv_rows(text.strip("\r\n"))
            elif media in (decoding.JSON, decoding.JSONLINES):
                records = decoding.json_instances(text, media)
            else:
                continue
        except decoding.InferenceError:
            unreadable += 1
            continue
        if media == decoding.CSV:
            if records and decoding.is_header(records[0], features):
                header = [v.strip() for v in records[0]]
                missing |= set(features) - set(header)
                extra |= set(header) - set(features)
                rows += [dict(zip(header, r)) for r in records[1:]]
            else:
                for r in records:
                    if len(r) < len(features):
                        missing |= set(features[len(r) :])
                    elif len(r) > len(features):
                        extra.add("column %d" % (len(features) + 1))
                    rows.append(dict(zip(features, r)))
            continue
        if not all(isinstance(instance, (list, dict)) for instance in records):
            unreadable += 1
            continue
        for instance in records:
            if isinstance(instance, list):
                instance = dict(zip(features, instance))
            missing |= set(features) - set(instance)
            extra |= set(instance) - set(features)
            rows.append(instance)
    return rows, missing, extra, unreadable
