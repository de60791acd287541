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
import sqlite3
import threading
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from pipelines.local.api import Answer, TwinClient
from pipelines.local.featurestore import groups
from pipelines.local.featurestore.catalog import GROUPS, Description
from pipelines.local.featurestore.errors import RUNTIME, validation
from pipelines.local.featurestore.offline import OfflineStore
from pipelines.local.featurestore.online import OnlineStore
from pipelines.local.featurestore.records import MAX_BATCH_RECORDS, RecordStore, iso
from pipelines.local.parameters import check_parameters
from pipelines.local.s3 import Store


class LocalFeatureStore(RecordStore):
    """One home's feature store: its groups (GroupCatalog, catalog.py), their records
    (RecordStore, records.py), its online and offline stores, and the two clients."""

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
        # botocore.utils (50 ms of import) only for a listing that asks for it.
        from botocore.utils import parse_to_aware_datetime

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
