"""One home's SageMaker Feature Store: feature groups, online and offline stores, and two clients
with the methods, arguments, answers and errors of boto3's:

    fs = LocalFeatureStore(home)
    sm = fs.sagemaker_client()   create_feature_group, describe_feature_group,
                                 list_feature_groups, delete_feature_group
    rt = fs.runtime_client()     put_record, get_record, batch_get_record, delete_record

Both are TwinClients (pipelines/local/api.py, docs/adr/0011): arguments are checked by
botocore's own validator first (what boto3 refuses before sending is refused here the same way),
then by the service's model constraints and documented rules (ValidationError and friends as
ClientError); answers are the operations' output shapes, checked under CHURN_CHECK_ANSWERS.
State lives in <home>/featurestore/featurestore.db (SQLite) and, for the offline store, as
Parquet objects in the local S3 store.
"""

import base64
import datetime
import json
import math
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union, cast

import numpy as np
from botocore.utils import parse_to_aware_datetime

from pipelines.errors import StoreError
from pipelines.local.api import Answer, TwinClient
from pipelines.local.featurestore import groups
from pipelines.local.featurestore.errors import RUNTIME, not_found, validation
from pipelines.local.featurestore.offline import OfflineStore
from pipelines.local.featurestore.online import OnlineStore
from pipelines.local.parameters import check_parameters
from pipelines.local.s3 import Store

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
ARN_NAME = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:feature-group/(.+)$")
# A Fractional event time is epoch seconds from 0001-01-01 to 9999-12-31.
EVENT_SECONDS = (-62135596800, 253402300799)
COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode
# A feature group's description (DescribeFeatureGroup's answer, as stored), a record (PutRecord's
# Record: FeatureName and ValueAsString pairs), and a typed offline column's value.
Description = dict[str, Any]
Record = list[dict[str, str]]
TypedValue = Union[int, float, str, None]
GROUPS = """
CREATE TABLE IF NOT EXISTS feature_groups (
    name TEXT PRIMARY KEY COLLATE NOCASE, created REAL NOT NULL, description TEXT NOT NULL);
"""


def feature_types(description: Mapping[str, Any]) -> dict[str, str]:
    """{feature name: FeatureType} of a group, in definition order."""
    return {d["FeatureName"]: d["FeatureType"] for d in description["FeatureDefinitions"]}


def iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


class LocalFeatureStore(object):
    def __init__(self, home: Union[str, Path]) -> None:
        folder = Path(home) / "featurestore"
        folder.mkdir(parents=True, exist_ok=True)
        # One connection behind a lock: the wire server calls in from several threads.
        self.db = sqlite3.connect(
            str(folder / "featurestore.db"), timeout=30, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(GROUPS)
        self.lock = threading.RLock()
        self.cache: dict[str, Description] = {}
        self.cache_version: Optional[int] = None
        self.online = OnlineStore(self.db)
        self.offline = OfflineStore(Store(home), self.db, self._description)

    def sagemaker_client(self) -> "SageMakerClient":
        return SageMakerClient(self)

    def runtime_client(self) -> "RuntimeClient":
        return RuntimeClient(self)

    def flush(self) -> None:
        """Write the offline store's buffered rows (what SageMaker does within ~15 minutes)."""
        with self.lock:
            self.offline.flush()

    def close(self) -> None:
        self.flush()
        self.db.close()

    # ------------------------------------------------------------------ control plane

    def create_group(self, request: Mapping[str, Any]) -> Description:
        with self.lock:
            description = groups.new_description(request)
            name = request["FeatureGroupName"]
            if "OfflineStoreConfig" in description:
                # An offline store the flush could not write would lose every row put.
                resolved = description["OfflineStoreConfig"]["S3StorageConfig"]
                try:
                    self.offline.store.path(resolved["ResolvedOutputS3Uri"] + "/")
                except StoreError as e:
                    raise validation(
                        "OfflineStoreConfig.S3StorageConfig.S3Uri %r cannot hold the offline "
                        "store: %s" % (resolved["S3Uri"], e),
                        "CreateFeatureGroup",
                    ) from None
            if self.db.execute("SELECT 1 FROM feature_groups WHERE name = ?", (name,)).fetchone():
                raise groups.in_use(name)
            if self.db.execute("SELECT COUNT(*) FROM feature_groups").fetchone()[0] >= (
                groups.MAX_GROUPS
            ):
                raise groups.too_many()
            self.db.execute(
                "INSERT INTO feature_groups VALUES (?, ?, ?)",
                (name, description["CreationTime"], json.dumps(description)),
            )
            self.db.commit()
            self.cache = {}
            return description

    def group(self, name_or_arn: str, operation: str) -> Description:
        match = ARN_NAME.match(name_or_arn)
        name = match.group(1) if match else name_or_arn
        with self.lock:
            # Descriptions are read once per change of the database (by any process).
            version = self.db.execute("PRAGMA data_version").fetchone()[0]
            if version != self.cache_version:
                self.cache, self.cache_version = {}, version
            if name.lower() not in self.cache:
                row = self.db.execute(
                    "SELECT description FROM feature_groups WHERE name = ?", (name,)
                ).fetchone()
                if row is None:
                    raise not_found(name, operation)
                self.cache[name.lower()] = json.loads(row[0])
            return self.cache[name.lower()]

    def _description(self, name: str) -> Optional[Description]:
        """A group's description by its exact name, or None (the offline store's flush)."""
        row = self.db.execute(
            "SELECT description FROM feature_groups WHERE name = ?", (name,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def list_groups(self) -> list[Description]:
        with self.lock:
            rows = self.db.execute("SELECT description FROM feature_groups ORDER BY created")
            return [json.loads(r[0]) for r in rows.fetchall()]

    def delete_group(self, name: str) -> None:
        with self.lock:
            description = self.group(name, "DeleteFeatureGroup")
            name = description["FeatureGroupName"]
            self.offline.flush(name)  # what was put stays in the offline store, as on AWS
            self.online.drop_group(name)
            self.db.execute("DELETE FROM feature_groups WHERE name = ?", (name,))
            self.db.commit()
            self.cache = {}

    # ------------------------------------------------------------------ records

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


def _offline_status(description: Mapping[str, Any]) -> str:
    return (description.get("OfflineStoreStatus") or {}).get("Status", "")


def _place(token: str, operation: str) -> tuple[Union[str, int, float], str]:
    """The (sort key, name) a NextToken of list_feature_groups holds."""
    try:
        key, name = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        if isinstance(key, (str, int, float)) and isinstance(name, str):
            return (key, name)
    except (ValueError, TypeError, UnicodeError):
        pass
    raise validation("NextToken %r is not a token ListFeatureGroups answered" % token, operation)


def _created(description: Mapping[str, Any]) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(description["CreationTime"], datetime.timezone.utc)


class SageMakerClient(TwinClient):
    """The feature-group calls of boto3's `sagemaker` client."""

    service = "sagemaker"
    # What the twin has always answered for a refused request (SageMaker itself may say
    # ValidationException: docs/feature-store.md).
    validation_code = "ValidationError"

    def __init__(self, fs: LocalFeatureStore) -> None:
        self.fs = fs

    def create_feature_group(self, **request: Any) -> Answer:
        op = "CreateFeatureGroup"
        # The rules that name the member they refuse come before the model's constraints
        # (which say "at 'featureGroupName'" of a bad name); they read a request botocore's
        # validation passed.
        check_parameters(self.service, op, request)
        groups.check_rules(request)
        self._request(op, request)
        description = self.fs.create_group(request)
        return self._answer(op, {"FeatureGroupArn": description["FeatureGroupArn"]})

    def describe_feature_group(self, **request: Any) -> Answer:
        op = "DescribeFeatureGroup"
        self._request(op, request)
        description = self.fs.group(request["FeatureGroupName"], op)
        # Tags are the group's (kept with it) but not a member of DescribeFeatureGroup's
        # output; NextToken is a required one ("": every feature definition is in the answer).
        answer = {k: v for k, v in description.items() if k != "Tags"}
        return self._answer(op, dict(answer, CreationTime=_created(description), NextToken=""))

    def list_feature_groups(self, **request: Any) -> Answer:
        op = "ListFeatureGroups"
        self._request(op, request)
        wanted = [
            lambda d: request.get("NameContains", "").lower() in d["FeatureGroupName"].lower(),
            lambda d: (
                request.get("FeatureGroupStatusEquals", d["FeatureGroupStatus"])
                == d["FeatureGroupStatus"]
            ),
            lambda d: (
                "OfflineStoreStatusEquals" not in request
                or _offline_status(d) == request["OfflineStoreStatusEquals"]
            ),
            lambda d: (
                "CreationTimeAfter" not in request
                or _created(d) > parse_to_aware_datetime(request["CreationTimeAfter"])
            ),
            lambda d: (
                "CreationTimeBefore" not in request
                or _created(d) < parse_to_aware_datetime(request["CreationTimeBefore"])
            ),
        ]
        found = [d for d in self.fs.list_groups() if all(w(d) for w in wanted)]
        key = {
            "Name": lambda d: d["FeatureGroupName"],
            "FeatureGroupStatus": lambda d: d["FeatureGroupStatus"],
            "OfflineStoreStatus": _offline_status,
            "CreationTime": lambda d: d["CreationTime"],
        }[request.get("SortBy", "CreationTime")]
        descending = request.get("SortOrder", "Descending") == "Descending"
        # Each group's place in the order, unique by its name: a NextToken is the place of
        # the last one answered, so a group created or deleted between pages moves nothing.
        places = sorted(((key(d), d["FeatureGroupName"]), d) for d in found)
        if descending:
            places.reverse()
        if "NextToken" in request:
            after = _place(request["NextToken"], op)
            places = [(p, d) for p, d in places if (p < after if descending else p > after)]
        page = places[: request.get("MaxResults", 100)]
        summaries = []
        for _, d in page:
            summary: dict[str, Any] = {
                "FeatureGroupName": d["FeatureGroupName"],
                "FeatureGroupArn": d["FeatureGroupArn"],
                "CreationTime": _created(d),
                "FeatureGroupStatus": d["FeatureGroupStatus"],
            }
            if "OfflineStoreStatus" in d:
                summary["OfflineStoreStatus"] = d["OfflineStoreStatus"]
            summaries.append(summary)
        answer: dict[str, Any] = {"FeatureGroupSummaries": summaries}
        if len(places) > len(page):
            answer["NextToken"] = base64.urlsafe_b64encode(
                json.dumps(page[-1][0]).encode()
            ).decode()
        return self._answer(op, answer)

    def delete_feature_group(self, **request: Any) -> Answer:
        op = "DeleteFeatureGroup"
        self._request(op, request)
        self.fs.delete_group(request["FeatureGroupName"])
        return self._answer(op, {})


class RuntimeClient(TwinClient):
    """boto3's `sagemaker-featurestore-runtime` client, for the four record calls."""

    service = RUNTIME
    validation_code = "ValidationError"  # the runtime model's own error for what it refuses

    def __init__(self, fs: LocalFeatureStore) -> None:
        self.fs = fs

    def put_record(self, **request: Any) -> Answer:
        op = "PutRecord"
        self._request(op, request)
        self.fs.put(
            request["FeatureGroupName"],
            [request["Record"]],
            request.get("TargetStores"),
            request.get("TtlDuration"),
        )
        return self._answer(op, {})

    def get_record(self, **request: Any) -> Answer:
        op = "GetRecord"
        self._request(op, request)
        record_id = request["RecordIdentifierValueAsString"]
        found = self.fs.get(
            request["FeatureGroupName"], [record_id], request.get("FeatureNames"), op
        )
        if record_id not in found:
            return self._answer(op, {})
        record, expires = found[record_id]
        answer: dict[str, Any] = {"Record": record} if record else {}
        if request.get("ExpirationTimeResponse") == "Enabled" and expires is not None:
            answer["ExpiresAt"] = iso(expires)
        return self._answer(op, answer)

    def batch_get_record(self, **request: Any) -> Answer:
        op = "BatchGetRecord"
        self._request(op, request)  # at most 100 Identifiers of at most 100 ids
        records, errors, unprocessed, budget = [], [], [], MAX_BATCH_RECORDS
        for identifier in request["Identifiers"]:
            ids = identifier["RecordIdentifiersValueAsString"]
            now, later = ids[:budget], ids[budget:]
            budget -= len(now)
            if later:
                unprocessed.append(dict(identifier, RecordIdentifiersValueAsString=later))
            if not now:
                continue
            group = identifier["FeatureGroupName"]
            try:
                found = self.fs.get(group, now, identifier.get("FeatureNames"), op)
            except Exception as e:  # a group's failure is that group's Errors entries
                code = getattr(e, "response", {}).get("Error", {})
                for rid in now:
                    errors.append(
                        {
                            "FeatureGroupName": group,
                            "RecordIdentifierValueAsString": rid,
                            "ErrorCode": code.get("Code", "InternalFailure"),
                            "ErrorMessage": code.get("Message", str(e))[:2048],
                        }
                    )
                continue
            for rid in now:
                if rid in found and found[rid][0]:
                    record, expires = found[rid]
                    detail: dict[str, Any] = {
                        "FeatureGroupName": group,
                        "RecordIdentifierValueAsString": rid,
                        "Record": record,
                    }
                    if request.get("ExpirationTimeResponse") == "Enabled" and expires is not None:
                        detail["ExpiresAt"] = iso(expires)
                    records.append(detail)
        answer = {"Records": records, "Errors": errors, "UnprocessedIdentifiers": unprocessed}
        return self._answer(op, answer)

    def delete_record(self, **request: Any) -> Answer:
        op = "DeleteRecord"
        self._request(op, request)
        self.fs.delete(
            request["FeatureGroupName"],
            request["RecordIdentifierValueAsString"],
            request["EventTime"],
            request.get("TargetStores"),
            request.get("DeletionMode", "SoftDelete"),
        )
        return self._answer(op, {})
