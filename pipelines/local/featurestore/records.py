"""The Feature Store twin's records: PutRecord's, GetRecord's and DeleteRecord's work over a
group's online store (online.py) and offline buffer (offline.py), with the documented checks
of a record (its features, sizes, identifier, event time, the values' types), the bulk
`put_columns` path of a local ingest, and the online and offline writes of one record in one
transaction (a mixin of store.py's LocalFeatureStore).
"""

import datetime
import json
import math
import re
import time
from typing import Any, Iterable, Mapping, Optional, Sequence, Union, cast

import numpy as np

from pipelines.local.featurestore import groups
from pipelines.local.featurestore.catalog import Description, GroupCatalog, feature_types
from pipelines.local.featurestore.errors import validation

MAX_RECORD_BYTES = 350 * 1024  # the documented quotas
MAX_VALUE_BYTES = 350 * 1024
MAX_IDENTIFIER_BYTES = 2 * 1024
MAX_BATCH_RECORDS = 100
INTEGRAL = re.compile(r"^[+-]?[0-9]+$")
# The event-time formats CreateFeatureGroup documents: a String one is yyyy-MM-dd'T'HH:mm:ssZ
# or yyyy-MM-dd'T'HH:mm:ss.SSSZ (milliseconds), a Fractional one Unix seconds written as a
# number (a double's text: sign, fraction and exponent allowed; ASCII digits only).
ISO_EVENT_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{3})?Z"
)
SECONDS_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# A Fractional event time is epoch seconds from 0001-01-01 to 9999-12-31.
EVENT_SECONDS = (-62135596800, 253402300799)
COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode
# A record (PutRecord's Record: FeatureName and ValueAsString pairs), and a typed offline
# column's value.
Record = list[dict[str, str]]
TypedValue = Union[int, float, str, None]


def iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


class RecordStore(GroupCatalog):
    """put, put_columns, get and delete of a group's records, checked as the service checks
    them; the group's description from GroupCatalog."""

    def put(
        self,
        group_name: str,
        records: Sequence[Record],
        target_stores: Optional[Sequence[str]] = None,
        ttl: Optional[Mapping[str, Any]] = None,
        operation: str = "PutRecord",
    ) -> int:
        """PutRecord for each of `records` (Record lists), in one transaction; returns how
        many changed the online store."""
        with self.lock:
            description = self.group(group_name, operation)
            columns: dict[str, list[Optional[str]]] = {
                n: [None] * len(records) for n in feature_types(description)
            }
            for row, record in enumerate(records):
                seen: set[str] = set()
                for fv in record:
                    name = fv["FeatureName"]
                    if name not in columns:
                        raise validation(
                            "feature %s is not defined in feature group %s"
                            % (name, description["FeatureGroupName"]),
                            operation,
                        )
                    if name in seen:
                        raise validation(
                            "feature %s appears more than once in the record" % name, operation
                        )
                    if "ValueAsStringList" in fv or "ValueAsString" not in fv:
                        raise validation(
                            "feature %s needs a ValueAsString (it is not a collection)" % name,
                            operation,
                        )
                    seen.add(name)
                    columns[name][row] = fv["ValueAsString"]
            return self.put_columns(group_name, columns, target_stores, ttl, operation)

    def put_columns(
        self,
        group_name: str,
        columns: Mapping[str, Sequence[Optional[str]]],
        target_stores: Optional[Sequence[str]] = None,
        ttl: Optional[Mapping[str, Any]] = None,
        operation: str = "PutRecord",
    ) -> int:
        """PutRecord for each row of `columns` ({feature: [text or None]}, one list per
        feature, all of one length), with the same checks, checked column by column: the bulk
        path of a local ingest. Returns how many rows changed the online store."""
        with self.lock:
            description = self.group(group_name, operation)
            online, offline = self._targets(description, target_stores, operation)
            kinds = feature_types(description)
            unknown = sorted(set(columns) - set(kinds))
            if unknown:
                raise validation(
                    "features %s are not defined in feature group %s"
                    % (", ".join(unknown), description["FeatureGroupName"]),
                    operation,
                )
            n = len(next(iter(columns.values()))) if columns else 0
            names = list(kinds)
            full = [columns.get(name) or [None] * n for name in names]
            # A record over 350 KB is only possible when the longest values could add up to
            # it (a character is at most 4 bytes); only then are rows measured one by one.
            longest = [max((len(v) for v in c if v is not None), default=0) for c in full]
            if (sum(longest) + sum(map(len, names))) * 4 > MAX_RECORD_BYTES:
                for row in zip(*full):
                    size = sum(len(v.encode("utf-8")) for v in row if v is not None)
                    if size > MAX_RECORD_BYTES:
                        raise validation("the record is over 350 KB", operation)
            id_name = description["RecordIdentifierFeatureName"]
            ids = full[names.index(id_name)]
            for rid in ids:
                if rid is None:
                    raise validation(
                        "the record has no %s (its record identifier)" % id_name, operation
                    )
                if (
                    len(rid) * 4 > MAX_IDENTIFIER_BYTES
                    and len(rid.encode("utf-8")) > MAX_IDENTIFIER_BYTES
                ):
                    raise validation("the record identifier is over 2 KB", operation)
            et_name = description["EventTimeFeatureName"]
            events = full[names.index(et_name)]
            if any(v is None for v in events):
                raise validation("the record has no %s (its event time)" % et_name, operation)
            # cast: no event time is None, as just checked
            seconds = self._event_seconds_column(description, cast("list[str]", events), operation)
            typed = [_typed_column(n, kinds[n], c, operation) for n, c in zip(names, full)]
            ttl_seconds = groups.ttl_seconds(
                ttl or (description.get("OnlineStoreConfig") or {}).get("TtlDuration")
            )
            now = time.time()
            name = description["FeatureGroupName"]
            changed = 0
            with self.db:  # online and offline in one transaction: what is acknowledged is kept
                if online:
                    values = list(map(COMPACT_JSON, zip(*full)))
                    expires = [s + ttl_seconds for s in seconds] if ttl_seconds else [None] * n
                    rows: Iterable[tuple[Any, float, str, Optional[float]]] = zip(
                        ids, seconds, values, expires
                    )
                    # In key order: SQLite's B-tree takes sorted keys several times faster.
                    if n > 1000:
                        rows = sorted(rows, key=lambda row: row[0])  # stable: put order per id
                    changed = self.online.put(name, rows, now)
                if offline:
                    self.offline.append(description, typed, seconds, [now] * n, [False] * n)
            return changed

    def get(
        self,
        group_name: str,
        record_ids: Sequence[str],
        feature_names: Optional[Sequence[str]],
        operation: str,
    ) -> dict[str, tuple[Record, Optional[float]]]:
        """{record_id: (Record, expires_at)} of the live records among record_ids."""
        with self.lock:
            description = self.group(group_name, operation)
            if not (description.get("OnlineStoreConfig") or {}).get("EnableOnlineStore"):
                raise validation(
                    "feature group %s has no online store" % description["FeatureGroupName"],
                    operation,
                )
            names = list(feature_types(description))
            unknown = [n for n in feature_names or [] if n not in names]
            if unknown:
                raise validation(
                    "features %s are not defined in feature group %s"
                    % (", ".join(unknown), description["FeatureGroupName"]),
                    operation,
                )
            found = self.online.get_many(description["FeatureGroupName"], record_ids, time.time())
        wanted = set(feature_names or names)
        return {
            rid: (
                [
                    {"FeatureName": n, "ValueAsString": v}
                    for n, v in zip(names, values)
                    if v is not None and n in wanted
                ],
                expires,
            )
            for rid, (values, expires) in found.items()
        }

    def delete(
        self,
        group_name: str,
        record_id: str,
        event_time: str,
        target_stores: Optional[Sequence[str]],
        mode: str,
    ) -> None:
        op = "DeleteRecord"
        with self.lock:
            description = self.group(group_name, op)
            online, offline = self._targets(description, target_stores, op)
            seconds = self._event_seconds(description, event_time, op)
            name = description["FeatureGroupName"]
            now = time.time()
            stored = self.online.live_event_time(name, record_id, now) if online else None
            if mode == "HardDelete" and stored is not None and seconds <= stored:
                # DeleteRecord's documented rule: such a HardDelete fails and writes no
                # marker (a SoftDelete's marker is still written offline).
                raise validation(
                    "EventTime %s is not later than the EventTime of the record stored for %s "
                    "(%s): a HardDelete must be later; nothing was deleted"
                    % (event_time, record_id, iso(stored)),
                    op,
                )
            with self.db:  # online and offline in one transaction
                if online:
                    self.online.delete(name, record_id, seconds, mode == "HardDelete", now)
                if offline:
                    tombstone = {
                        description["RecordIdentifierFeatureName"]: record_id,
                        description["EventTimeFeatureName"]: event_time,
                    }
                    typed = [
                        _typed_column(n, k, [tombstone.get(n)], op)
                        for n, k in feature_types(description).items()
                    ]
                    self.offline.append(description, typed, [seconds], [time.time()], [True])

    def _targets(
        self, description: Description, target_stores: Optional[Sequence[str]], operation: str
    ) -> tuple[bool, bool]:
        has_online = bool((description.get("OnlineStoreConfig") or {}).get("EnableOnlineStore"))
        has_offline = "OfflineStoreConfig" in description
        wanted = set(target_stores or ["OnlineStore", "OfflineStore"])
        if target_stores and (
            ("OnlineStore" in wanted and not has_online)
            or ("OfflineStore" in wanted and not has_offline)
        ):
            raise validation(
                "TargetStores %s: feature group %s has no such store"
                % (", ".join(sorted(wanted)), description["FeatureGroupName"]),
                operation,
            )
        return has_online and "OnlineStore" in wanted, has_offline and "OfflineStore" in wanted

    def _event_seconds_column(
        self, description: Description, texts: Sequence[str], operation: str
    ) -> list[float]:
        """_event_seconds of each text; Fractional ones converted and checked at once."""
        kind = feature_types(description)[description["EventTimeFeatureName"]]
        if kind == "Fractional":
            try:
                seconds = np.array(texts, dtype=np.float64)
            except ValueError:
                seconds = None
            if seconds is not None and not all(map(SECONDS_TEXT.fullmatch, texts)):
                seconds = None  # float() reads more than numbers (" 1", "1_0"): one by one
            if seconds is not None and (
                not len(seconds)
                or (np.isfinite(seconds).all() and seconds.min() >= EVENT_SECONDS[0])
                and seconds.max() <= EVENT_SECONDS[1]
            ):
                return seconds.tolist()
        return [self._event_seconds(description, t, operation) for t in texts]

    def _event_seconds(self, description: Description, text: str, operation: str) -> float:
        kind = feature_types(description)[description["EventTimeFeatureName"]]
        if kind == "Fractional":
            seconds = float(text) if SECONDS_TEXT.fullmatch(text) else math.nan
            if not math.isfinite(seconds) or not EVENT_SECONDS[0] <= seconds <= EVENT_SECONDS[1]:
                raise validation(
                    "event time %r: a Fractional event time is epoch seconds, a number between "
                    "0001-01-01 and 9999-12-31" % text,
                    operation,
                )
            return seconds
        match = ISO_EVENT_TIME.fullmatch(text)
        try:
            if match is None:
                raise ValueError(text)
            moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise validation(
                "event time %r: a String event time is ISO-8601 in UTC, "
                "yyyy-MM-dd'T'HH:mm:ssZ or yyyy-MM-dd'T'HH:mm:ss.SSSZ" % text,
                operation,
            ) from None
        fraction = float(match.group(2)) if match.group(2) else 0.0
        return moment.replace(tzinfo=datetime.timezone.utc).timestamp() + fraction


def _typed_column(
    name: str, kind: str, column: Sequence[Optional[str]], operation: str
) -> Sequence[TypedValue]:
    """A column's values as the offline store types them (int, float, str or None), after the
    checks of its feature type and the per-value size limit."""
    present = [t for t in column if t is not None]
    if any(not isinstance(t, str) for t in present):
        raise validation("feature %s: ValueAsString must be a string" % name, operation)
    if present and max(map(len, present)) * 4 > MAX_VALUE_BYTES:
        if any(len(t.encode("utf-8")) > MAX_VALUE_BYTES for t in present):
            raise validation("feature %s's value is over 350 KB" % name, operation)
    if kind == "String":
        return column
    if kind == "Integral":
        integers: list[Optional[int]] = []
        for text in column:
            if text is None:
                integers.append(None)
            elif text.isdigit() and text.isascii() and len(text) < 19:
                integers.append(int(text))
            elif (
                INTEGRAL.match(text)
                and len(text.lstrip("+-0")) <= 19  # before int(): Python refuses 4,300 digits
                and -(2**63) <= int(text) < 2**63
            ):
                integers.append(int(text))
            else:
                raise validation(
                    "feature %s: %s is not a 64-bit integer" % (name, _shown(text)), operation
                )
        return integers
    numbers: Optional[list[Optional[float]]]
    try:
        numbers = [None if t is None else float(t) for t in column]
    except ValueError:
        numbers = None
    if numbers is None or not all(map(math.isfinite, (v for v in numbers if v is not None))):
        bad = next(t for t in present if not _finite(t))
        raise validation("feature %s: %s is not a finite double" % (name, _shown(bad)), operation)
    return numbers


def _shown(text: str) -> str:
    """A value as a message quotes it: whole when short, its start when long."""
    return repr(text) if len(text) <= 40 else "%r... (%d characters)" % (text[:30], len(text))


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
