"""The local SageMaker Feature Store against its documented rules: the offline store's layout,
columns and types; the online store's event-time, delete and TTL rules (property-based, against
a brute-force model); the limits and errors, named as SageMaker names them."""

import re
import time

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.local.featurestore.store import LocalFeatureStore

# Every test here runs in this process, with no child process, server or browser.
pytestmark = pytest.mark.fast

GROUP = "churn-customers"
ROLE = "arn:aws:iam::000000000000:role/FeatureStoreRole"


def create(sm, name=GROUP, ttl=None, event_type="Fractional", **extra):
    online = {"EnableOnlineStore": True}
    if ttl:
        online["TtlDuration"] = {"Unit": "Seconds", "Value": ttl}
    request = dict(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[
            {"FeatureName": "customer_id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": event_type},
            {"FeatureName": "age", "FeatureType": "Integral"},
            {"FeatureName": "balance", "FeatureType": "Fractional"},
            {"FeatureName": "plan", "FeatureType": "String"},
        ],
        OnlineStoreConfig=online,
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://churn-local/feature-store"}},
        RoleArn=ROLE,
    )
    request.update(extra)
    return sm.create_feature_group(**{k: v for k, v in request.items() if v not in ("", None)})


def record(rid, event_time, age=None, balance=None, plan=None):
    values = {"customer_id": rid, "event_time": event_time, "age": age, "balance": balance}
    values["plan"] = plan
    return [{"FeatureName": k, "ValueAsString": str(v)} for k, v in values.items() if v is not None]


@pytest.fixture
def fs(tmp_path):
    store = LocalFeatureStore(tmp_path)
    yield store
    store.close()


def error_code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_the_offline_store_has_sagemakers_layout_columns_and_types(fs, tmp_path):
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    create(sm)
    described = sm.describe_feature_group(FeatureGroupName=GROUP)
    created = int(described["CreationTime"].timestamp())
    resolved = described["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
    assert resolved == (
        "s3://churn-local/feature-store/000000000000/sagemaker/local/offline-store/"
        "%s-%d/data" % (GROUP, created)
    )
    assert described["FeatureGroupStatus"] == "Created"
    assert described["OfflineStoreStatus"] == {"Status": "Active"}
    # Two event-time hours, one of them twice: two files, each named after its latest event.
    t1, t2, t3 = 1714650000.5, 1714650900.0, 1714657201.25  # 11:40, 11:55 and 13:40 UTC
    rt.put_record(FeatureGroupName=GROUP, Record=record("C1", t1, 40, 10.5, "gold"))
    rt.put_record(FeatureGroupName=GROUP, Record=record("C2", t2, 41))
    rt.put_record(FeatureGroupName=GROUP, Record=record("C1", t3, 42, 0.25))
    rt.delete_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString="C2", EventTime=str(t3))
    fs.flush()
    root = tmp_path / "s3" / resolved[len("s3://") :]
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert len(files) == 2
    pattern = r"year=2024/month=05/day=02/hour=(11|13)/(\d{8}T\d{6}Z)_[A-Za-z0-9]{16}\.parquet"
    names = [re.fullmatch(pattern, f).groups() for f in files]
    assert names == [("11", "20240502T115500Z"), ("13", "20240502T134001Z")]
    table = pq.ParquetFile(root / files[0]).read()
    assert [(f.name, str(f.type)) for f in table.schema] == [
        ("customer_id", "string"),
        ("event_time", "double"),
        ("age", "int64"),
        ("balance", "double"),
        ("plan", "string"),
        ("write_time", "timestamp[ms, tz=UTC]"),
        ("api_invocation_time", "timestamp[ms, tz=UTC]"),
        ("is_deleted", "bool"),
    ]
    rows = table.to_pylist()
    assert [(r["customer_id"], r["age"], r["plan"], r["is_deleted"]) for r in rows] == [
        ("C1", 40, "gold", False),
        ("C2", 41, None, False),
    ]
    later = pq.ParquetFile(root / files[1]).read().to_pylist()
    tombstone = [r for r in later if r["is_deleted"]]
    assert [(r["customer_id"], r["event_time"], r["age"]) for r in tombstone] == [("C2", t3, None)]
    assert all(r["write_time"] >= r["api_invocation_time"] for r in rows + later)


# A brute-force model of the online store, from the documented rules.
def expected_online(operations, ttl, now):
    """({rid: values} online, [index of each HardDelete refused for not being later])."""
    state = {}  # rid -> (event_time, values or None (soft-deleted), expires)
    refused = []
    for index, op in enumerate(operations):
        kind, rid, et = op[0], op[1], op[2]
        stored = state.get(rid)
        live = stored is not None and (stored[2] is None or stored[2] > now)
        if kind == "put":
            if stored is None or not live or et > stored[0]:
                state[rid] = (et, op[3], et + ttl if ttl else None)
        elif live and et <= stored[0]:
            if kind == "hard":  # DeleteRecord: such a HardDelete is a ValidationError
                refused.append(index)
        elif stored is not None:
            if kind == "hard":
                del state[rid]
            else:
                state[rid] = (et, None, None)
    online = {
        rid: values
        for rid, (et, values, expires) in state.items()
        if values is not None and (expires is None or expires > now)
    }
    return online, refused


operation = st.tuples(
    st.sampled_from(["put", "put", "put", "soft", "hard"]),
    st.sampled_from(["C1", "C2", "C3"]),
    st.integers(0, 6),  # few event times: ties happen
    st.integers(0, 99),
)


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(operations=st.lists(operation, max_size=14), ttl=st.sampled_from([None, 2500]))
def test_the_online_store_follows_the_event_time_delete_and_ttl_rules(
    tmp_path_factory, operations, ttl
):
    """Events an hour apart ending an hour ago: with a TTL of 2500 s the older ones have
    expired and the newest not, so expiry meets late arrivals, ties and deletes."""
    fs = LocalFeatureStore(tmp_path_factory.mktemp("fs"))
    try:
        sm, rt = fs.sagemaker_client(), fs.runtime_client()
        create(sm, ttl=ttl)
        base = time.time() - 6 * 3600 - 3600
        ops, refused = [], []
        for kind, rid, step, age in operations:
            et = base + step * 3600
            if kind == "put":
                rt.put_record(FeatureGroupName=GROUP, Record=record(rid, et, age))
                ops.append((kind, rid, et, age))
                continue
            try:
                rt.delete_record(
                    FeatureGroupName=GROUP,
                    RecordIdentifierValueAsString=rid,
                    EventTime=str(et),
                    DeletionMode="HardDelete" if kind == "hard" else "SoftDelete",
                )
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ValidationError"
                refused.append(len(ops))
            ops.append((kind, rid, et, None))
        expected, expected_refused = expected_online(ops, ttl, time.time())
        assert refused == expected_refused
        for rid in ("C1", "C2", "C3"):
            got = rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=rid)
            if rid in expected:
                assert {v["FeatureName"]: v["ValueAsString"] for v in got["Record"]}["age"] == str(
                    expected[rid]
                )
            else:
                assert "Record" not in got
        batch = rt.batch_get_record(
            Identifiers=[
                {"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ["C1", "C2", "C3"]}
            ]
        )
        assert sorted(r["RecordIdentifierValueAsString"] for r in batch["Records"]) == sorted(
            expected
        )
    finally:
        fs.close()


def test_get_record_with_feature_names_and_expiration(fs):
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    create(sm, ttl=3600)
    et = time.time()
    rt.put_record(FeatureGroupName=GROUP, Record=record("C1", et, 40, 2.5, "gold"))
    got = rt.get_record(
        FeatureGroupName=GROUP,
        RecordIdentifierValueAsString="C1",
        FeatureNames=["plan", "age"],
        ExpirationTimeResponse="Enabled",
    )
    assert got["Record"] == [
        {"FeatureName": "age", "ValueAsString": "40"},
        {"FeatureName": "plan", "ValueAsString": "gold"},
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", got["ExpiresAt"])
    # A record-level TtlDuration supersedes the group's: one second in the past is expired.
    rt.put_record(
        FeatureGroupName=GROUP,
        Record=record("C2", et - 10, 41),
        TtlDuration={"Unit": "Seconds", "Value": 1},
    )
    assert "Record" not in rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString="C2")
    code = error_code(
        lambda: rt.get_record(
            FeatureGroupName=GROUP, RecordIdentifierValueAsString="C1", FeatureNames=["nope"]
        )
    )
    assert code[0] == "ValidationError" and "nope" in code[1]


def test_batch_get_record_processes_100_ids_and_returns_the_rest_unprocessed(fs):
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    create(sm)
    create(sm, name="other")
    now = time.time()
    fs.put(GROUP, [record("C%d" % i, now, i) for i in range(150)])
    answer = rt.batch_get_record(
        Identifiers=[
            {
                "FeatureGroupName": GROUP,
                "RecordIdentifiersValueAsString": ["C%d" % i for i in range(80)],
            },
            {"FeatureGroupName": "missing-group", "RecordIdentifiersValueAsString": ["C1"]},
            {
                "FeatureGroupName": GROUP,
                "RecordIdentifiersValueAsString": ["C%d" % i for i in range(80, 150)],
            },
        ]
    )
    assert len(answer["Records"]) == 99  # 80 + 19: the missing group's id took one place
    assert [e["ErrorCode"] for e in answer["Errors"]] == ["ResourceNotFound"]
    assert answer["UnprocessedIdentifiers"] == [
        {
            "FeatureGroupName": GROUP,
            "RecordIdentifiersValueAsString": ["C%d" % i for i in range(99, 150)],
        }
    ]
    code = error_code(  # more than 100 identifiers: the service refuses (botocore does not)
        lambda: rt.batch_get_record(
            Identifiers=[{"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ["C1"]}]
            * 101
        )
    )
    assert code[0] == "ValidationError"
    with pytest.raises(ParamValidationError):  # what boto3 refuses before sending
        rt.batch_get_record(Identifiers=[])


@pytest.mark.parametrize(
    "change, code, words",
    [
        ({"FeatureGroupName": "bad name"}, "ValidationError", "FeatureGroupName"),
        (
            {
                "FeatureDefinitions": [
                    {"FeatureName": "customer_id", "FeatureType": "String"},
                    {"FeatureName": "event_time", "FeatureType": "Fractional"},
                    {"FeatureName": "write_time", "FeatureType": "String"},
                ]
            },
            "ValidationError",
            "reserved",
        ),
        (
            {"EventTimeFeatureName": "missing"},
            "ValidationError",
            "not one of the FeatureDefinitions",
        ),
        ({"RoleArn": ""}, "ValidationError", "RoleArn is required"),
        ({"OnlineStoreConfig": {}, "OfflineStoreConfig": None}, "ValidationError", "needs an"),
    ],
)
def test_create_feature_group_refuses_what_sagemaker_refuses(fs, change, code, words):
    got = error_code(lambda: create(fs.sagemaker_client(), **change))
    assert got[0] == code and words in got[1], got


def test_an_integral_event_time_and_a_second_group_of_one_name_are_refused(fs):
    sm = fs.sagemaker_client()
    code, message = error_code(lambda: create(sm, event_type="Integral"))
    assert code == "ValidationError" and "Fractional (epoch seconds)" in message
    create(sm)
    assert error_code(lambda: create(sm))[0] == "ResourceInUse"


@pytest.mark.parametrize(
    "rec, words",
    [
        (record("C1", "1714650000", age="4.5"), "not a 64-bit integer"),
        (record("C1", "1714650000", age=str(2**63)), "not a 64-bit integer"),
        (record("C1", "1714650000", balance="inf"), "not a finite double"),
        (record("C1", "not-a-time"), "epoch seconds"),
        (record("x" * 2049, "1714650000"), "over 2 KB"),
        (record("C1", "1714650000", plan="p" * (350 * 1024 + 1)), "less than or equal to 358400"),
        (record("C1", "1714650000", plan="é" * (175 * 1024 + 1)), "over 350 KB"),  # in bytes
        (
            record("C1", "1714650000") + [{"FeatureName": "extra", "ValueAsString": "1"}],
            "not defined",
        ),
        (record("C1", "1714650000") + record("C1", "1714650000")[:1], "more than once"),
    ],
)
def test_put_record_refuses_bad_records_with_validation_error(fs, rec, words):
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    create(sm)
    code, message = error_code(lambda: rt.put_record(FeatureGroupName=GROUP, Record=rec))
    assert code == "ValidationError" and words in message, message


def test_string_event_times_take_sagemakers_two_iso_formats_only(fs):
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    create(sm, event_type="String")
    for good in ("2024-05-02T13:44:01Z", "2024-05-02T13:44:01.123Z"):
        rt.put_record(FeatureGroupName=GROUP, Record=record("C1", good))
    for bad in ("2024-05-02 13:44:01", "2024-05-02T13:44:01+02:00", "1714650000"):
        code, message = error_code(
            lambda bad=bad: rt.put_record(FeatureGroupName=GROUP, Record=record("C2", bad))
        )
        assert code == "ValidationError" and "ISO-8601" in message


def test_an_unknown_group_is_resource_not_found_and_deleting_keeps_the_offline_store(fs, tmp_path):
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    assert error_code(lambda: sm.describe_feature_group(FeatureGroupName=GROUP))[0] == (
        "ResourceNotFound"
    )
    create(sm)
    rt.put_record(FeatureGroupName=GROUP, Record=record("C1", time.time(), 40))
    assert [g["FeatureGroupName"] for g in sm.list_feature_groups()["FeatureGroupSummaries"]] == [
        GROUP
    ]
    sm.delete_feature_group(FeatureGroupName=GROUP)
    assert sm.list_feature_groups()["FeatureGroupSummaries"] == []
    assert (
        error_code(
            lambda: rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString="C1")
        )[0]
        == "ResourceNotFound"
    )
    assert len(list((tmp_path / "s3").rglob("*.parquet"))) == 1


FRESH = 1714650000
# What the service refuses by its model's constraints (enums, maximum lengths, patterns), which
# botocore does not check before sending: PutRecord, GetRecord, BatchGetRecord and DeleteRecord
# in https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_PutRecord.html
# (and the pages beside it): "Valid Values: OnlineStore | OfflineStore", "Array Members: Minimum
# number of 1 item. Maximum number of 2 items.", "Length Constraints: ... Maximum length of 150",
# "Pattern: (arn:aws[a-z\-]*:sagemaker:...)?([a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63})". AWS answers
# them with the model's ValidationError (400).
REFUSED_BY_CONSTRAINTS = [
    ("put_record", dict(Record=record("C9", FRESH), TargetStores=["Nowhere"]), "Nowhere"),
    (
        "put_record",
        dict(Record=record("C9", FRESH), TargetStores=["OnlineStore"] * 2 + ["OfflineStore"]),
        "targetStores",
    ),
    (
        "put_record",
        dict(Record=record("C9", FRESH), TtlDuration={"Unit": "Fortnights", "Value": 1}),
        "Fortnights",
    ),
    ("put_record", dict(FeatureGroupName="bad name!", Record=record("C9", FRESH)), "bad name!"),
    ("put_record", dict(FeatureGroupName="g" * 151, Record=record("C9", FRESH)), "150"),
    ("put_record", dict(Record=record("C9", FRESH, plan="\ud800")), "valueAsString"),
    ("get_record", dict(RecordIdentifierValueAsString="C1", ExpirationTimeResponse="On"), "On"),
    ("get_record", dict(RecordIdentifierValueAsString="\ud800"), "UTF-8"),
    (
        "batch_get_record",
        dict(
            Identifiers=[{"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ["C1"]}],
            ExpirationTimeResponse="Yes",
        ),
        "Yes",
    ),
    (
        "delete_record",
        dict(RecordIdentifierValueAsString="C1", EventTime=str(FRESH + 1), DeletionMode="Shred"),
        "Shred",
    ),
    (
        "delete_record",
        dict(
            RecordIdentifierValueAsString="C1",
            EventTime=str(FRESH + 1),
            TargetStores=["Nowhere"],
        ),
        "Nowhere",
    ),
]


@pytest.mark.parametrize("call, request_, words", REFUSED_BY_CONSTRAINTS)
def test_record_calls_refuse_what_the_services_constraints_refuse(
    fs, tmp_path, call, request_, words
):
    """The twin answered 200 to TargetStores ["Nowhere"] and wrote nothing, treated DeletionMode
    "Shred" as a soft delete, failed on an unknown TTL unit with a KeyError, and called a
    malformed group name not found. Each is the service's ValidationError now, and nothing
    changes in either store."""
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    create(sm)
    rt.put_record(FeatureGroupName=GROUP, Record=record("C1", FRESH, age=7))
    if call != "batch_get_record":
        request_ = dict({"FeatureGroupName": GROUP}, **request_)
    code, message = error_code(lambda: getattr(rt, call)(**request_))
    assert code == "ValidationError" and words in message, message
    assert message.startswith("1 validation error detected: "), message
    assert online_age(rt, "C1") == "7" and online_age(rt, "C9") is None
    fs.flush()
    assert len(offline_rows(fs, tmp_path)) == 1  # C1's put only


def online_age(rt, rid):
    got = rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=rid)
    return {v["FeatureName"]: v["ValueAsString"] for v in got.get("Record", [])}.get("age")


def offline_rows(fs, home):
    files = sorted((home / "s3").rglob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_a_hard_delete_not_later_than_the_stored_record_is_refused_and_writes_no_marker(
    fs, tmp_path
):
    """DeleteRecord (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
    API_feature_store_DeleteRecord.html): "the EventTime specified in DeleteRecord should be set
    later than the EventTime of the existing record ... If it is not, the deletion does not
    occur: For SoftDelete, the existing (not deleted) record remains in the OnlineStore, though
    the delete record marker is still written to the OfflineStore. HardDelete returns
    EventTime: 400 ValidationException ... No delete record marker is written to the
    OfflineStore." The twin answered such a HardDelete 200 and wrote the marker, which dropped
    the customer from the next dataset."""
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    create(sm)
    rt.put_record(FeatureGroupName=GROUP, Record=record("C1", FRESH, age=7))
    for older in (FRESH - 1, FRESH):  # earlier, and equal: neither is later
        code, message = error_code(
            lambda older=older: rt.delete_record(
                FeatureGroupName=GROUP,
                RecordIdentifierValueAsString="C1",
                EventTime=str(older),
                DeletionMode="HardDelete",
            )
        )
        assert code == "ValidationError" and "EventTime" in message, message
    assert online_age(rt, "C1") == "7"
    rt.delete_record(  # SoftDelete: answered, the record stays, the marker is written
        FeatureGroupName=GROUP, RecordIdentifierValueAsString="C1", EventTime=str(FRESH - 1)
    )
    assert online_age(rt, "C1") == "7"
    fs.flush()
    assert [(r["event_time"], r["is_deleted"]) for r in offline_rows(fs, tmp_path)] == [
        (FRESH, False),
        (FRESH - 1, True),
    ]


def definitions_of(*types):
    """The test group's record identifier and event time, then one feature per type."""
    return [
        {"FeatureName": "customer_id", "FeatureType": "String"},
        {"FeatureName": "event_time", "FeatureType": "Fractional"},
    ] + [{"FeatureName": "f%d" % i, "FeatureType": t} for i, t in enumerate(types)]


def offline_at(uri):
    return {"S3StorageConfig": {"S3Uri": uri}}


# CreateFeatureGroup's constraints (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
# API_CreateFeatureGroup.html and API_FeatureDefinition.html, botocore's sagemaker model):
# "FeatureDefinitions ... Array Members: Minimum number of 1 item. Maximum number of 2500
# items.", "FeatureType ... Valid Values: Integral | Fractional | String", and S3StorageConfig's
# "S3Uri ... Pattern: (https|s3)://([^/]+)/?(.*)". A bucket that is not an S3 bucket name cannot
# hold the offline store, and the local store holds s3:// URIs only.
REFUSED_AT_CREATION = [
    ({"FeatureDefinitions": definitions_of("Boolean")}, "Integral, Fractional, String"),
    ({"FeatureDefinitions": definitions_of(*["String"] * 2499)}, "less than or equal to 2500"),
    ({"OfflineStoreConfig": offline_at("file:///tmp/store")}, "regular expression pattern"),
    ({"OfflineStoreConfig": offline_at("s3://Not_A_Bucket/prefix")}, "not an S3 bucket name"),
    ({"OfflineStoreConfig": offline_at("https://bucket.example.com/x")}, "not an S3 URI"),
]


@pytest.mark.parametrize("change, words", REFUSED_AT_CREATION)
def test_create_feature_group_refuses_what_would_fail_later(fs, change, words):
    """The twin created each of these groups and failed later: an unknown FeatureType with
    KeyError('Boolean') at the offline store's flush, an unusable S3Uri when the flush wrote
    (losing the rows), and 2,501 features without a word. Each is a ValidationError at
    CreateFeatureGroup now, and no group is created."""
    sm = fs.sagemaker_client()
    code, message = error_code(lambda: create(sm, **change))
    assert code == "ValidationError" and words in message, message
    assert sm.list_feature_groups()["FeatureGroupSummaries"] == []


def test_a_group_of_2500_features_is_created_and_written(fs, tmp_path):
    """The limit is inclusive: 2,500 features are a group (and its records are written)."""
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    create(sm, FeatureDefinitions=definitions_of(*["Integral"] * 2498))
    rt.put_record(
        FeatureGroupName=GROUP,
        Record=record("C1", FRESH) + [{"FeatureName": "f2497", "ValueAsString": "5"}],
    )
    fs.flush()
    assert offline_rows(fs, tmp_path)[0]["f2497"] == 5


def output_problems(service, operation, answer):
    """What botocore's validator finds wrong with an answer against the operation's output
    shape (the twins' own check, pipelines/local/parameters.py): '' when it is valid. The
    session-wide check (CHURN_CHECK_ANSWERS) makes every call fail on such an answer already;
    this asserts it with the check off too."""
    from pipelines.local.parameters import answer_problems

    return "; ".join(answer_problems(service, operation, answer))


def test_every_answer_of_the_twin_validates_against_botocores_output_shapes(fs):
    """Each operation's answer is what AWS may answer: botocore's output shapes
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeFeatureGroup.html:
    NextToken is required in DescribeFeatureGroup's response; Tags are not a member of it).
    DescribeFeatureGroup answered without NextToken (Stubber refused it), echoed the
    request's Tags, and left out the DataCatalogConfig that SageMaker fills in for an offline
    store ("If not provided, Feature Store auto-generates the table name, database, and
    catalog", API_OfflineStoreConfig.html)."""
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    answers = [("CreateFeatureGroup", create(sm, Tags=[{"Key": "team", "Value": "churn"}]))]
    answers.append(
        (
            "CreateFeatureGroup",
            create(
                sm,
                name="online-only",
                OfflineStoreConfig=None,
                RoleArn=None,
                Description="no offline store",
                ThroughputConfig={"ThroughputMode": "OnDemand"},
            ),
        )
    )
    described = sm.describe_feature_group(FeatureGroupName=GROUP)
    answers.append(("DescribeFeatureGroup", described))
    answers.append(
        ("DescribeFeatureGroup", sm.describe_feature_group(FeatureGroupName="online-only"))
    )
    answers.append(("ListFeatureGroups", sm.list_feature_groups()))
    answers.append(("ListFeatureGroups", sm.list_feature_groups(MaxResults=1)))
    runtime = [
        ("PutRecord", rt.put_record(FeatureGroupName=GROUP, Record=record("C1", FRESH, 40))),
        ("GetRecord", rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString="C1")),
        ("GetRecord", rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString="C2")),
        (
            "BatchGetRecord",
            rt.batch_get_record(
                Identifiers=[
                    {"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ["C1", "C2"]},
                    {"FeatureGroupName": "nobody", "RecordIdentifiersValueAsString": ["C1"]},
                ]
            ),
        ),
        (
            "DeleteRecord",
            rt.delete_record(
                FeatureGroupName=GROUP, RecordIdentifierValueAsString="C1", EventTime=str(FRESH + 1)
            ),
        ),
    ]
    answers.append(("DeleteFeatureGroup", sm.delete_feature_group(FeatureGroupName="online-only")))
    problems = {
        "%s %d" % (operation, i): output_problems("sagemaker", operation, answer)
        for i, (operation, answer) in enumerate(answers)
    }
    problems.update(
        ("%s %d" % (operation, i), output_problems("sagemaker-featurestore-runtime", operation, a))
        for i, (operation, a) in enumerate(runtime)
    )
    assert {k: v for k, v in problems.items() if v} == {}
    catalog = described["OfflineStoreConfig"]["DataCatalogConfig"]
    created = int(described["CreationTime"].timestamp())
    assert catalog == {
        "TableName": "%s_%d" % (GROUP, created),
        "Catalog": "AwsDataCatalog",
        "Database": "sagemaker_featurestore",
    }
    assert "Tags" not in described


def test_list_feature_groups_filters_sorts_and_pages_as_documented(fs):
    """ListFeatureGroups (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
    API_ListFeatureGroups.html): NameContains, FeatureGroupStatusEquals,
    OfflineStoreStatusEquals, CreationTimeAfter / CreationTimeBefore filter; SortBy and
    SortOrder order; MaxResults (1 to 100) pages and NextToken resumes. The twin cut the list
    at MaxResults and gave no NextToken (the rest could not be read), and ignored the status
    and creation-time filters."""
    sm = fs.sagemaker_client()
    names = ["alpha-1", "beta-2", "Alpha-3", "gamma-4", "delta-5"]
    for name in names:
        if name == "gamma-4":
            create(sm, name=name, OfflineStoreConfig=None, RoleArn=None)
        else:
            create(sm, name=name)

    def listed(**request):
        pages, token = [], None
        while True:
            answer = sm.list_feature_groups(**request, **({"NextToken": token} if token else {}))
            pages.append([g["FeatureGroupName"] for g in answer["FeatureGroupSummaries"]])
            token = answer.get("NextToken")
            if not token:
                return pages

    by_name = sorted(names)  # code-point order (AWS's collation is not documented)
    assert listed(SortBy="Name", SortOrder="Ascending", MaxResults=2) == [
        by_name[0:2],
        by_name[2:4],
        by_name[4:],
    ]
    assert listed(SortBy="Name", SortOrder="Descending") == [by_name[::-1]]
    assert listed(SortBy="Name", SortOrder="Ascending", NameContains="alpha") == [
        ["Alpha-3", "alpha-1"]
    ]
    assert sorted(listed(OfflineStoreStatusEquals="Active")[0]) == sorted(set(names) - {"gamma-4"})
    assert listed(FeatureGroupStatusEquals="Creating") == [[]]
    assert sorted(listed(FeatureGroupStatusEquals="Created")[0]) == sorted(names)
    created = {
        g["FeatureGroupName"]: g["CreationTime"]
        for g in sm.list_feature_groups()["FeatureGroupSummaries"]
    }
    cutoff = created["Alpha-3"]
    assert sorted(listed(CreationTimeAfter=cutoff)[0]) == sorted(
        n for n, t in created.items() if t > cutoff
    )
    assert sorted(listed(CreationTimeBefore=cutoff)[0]) == sorted(
        n for n, t in created.items() if t < cutoff
    )
    for bad in ({"MaxResults": 101}, {"SortBy": "Size"}, {"NextToken": "not-a-token"}):
        code, message = error_code(lambda bad=bad: sm.list_feature_groups(**bad))
        assert code == "ValidationError", message


@pytest.mark.parametrize(
    "event_type, good, bad",
    [
        (
            "String",
            ["2024-05-02T13:44:01Z", "2024-05-02T13:44:01.123Z"],
            [
                "2024-05-02T13:44:01.1Z",
                "2024-05-02T13:44:01.123456Z",
                "2024-05-02T13:44:01.123456789Z",
                "٢٠٢٤-05-02T13:44:01Z",  # Arabic-Indic digits
            ],
        ),
        (
            "Fractional",
            ["1714650000", "1714650000.25", "1.71465E9", "+1714650000"],
            [" 1714650000", "1714650000\n", "1_714_650_000", "١٧١٤٦٥٠٠٠٠"],
        ),
    ],
)
def test_event_times_take_the_documented_formats_and_no_others(fs, event_type, good, bad):
    """CreateFeatureGroup's EventTimeFeatureName (https://docs.aws.amazon.com/sagemaker/latest/
    APIReference/API_CreateFeatureGroup.html): "Fractional: EventTime feature values must be a
    Unix timestamp in seconds. String: ... ISO-8601 ... yyyy-MM-dd'T'HH:mm:ssZ and
    yyyy-MM-dd'T'HH:mm:ss.SSSZ where ... SSS represent ... milliseconds". The twin took one to
    nine fractional digits, and for a Fractional event time whatever Python's float() reads
    (surrounding whitespace, digit-group underscores, other scripts' digits). PutRecord and
    DeleteRecord refuse them alike now."""
    sm, rt = fs.sagemaker_client(), fs.runtime_client()
    create(sm, event_type=event_type)
    for text in good:
        rt.put_record(FeatureGroupName=GROUP, Record=record("C1", text))
    for text in bad:
        for call in (
            lambda text=text: rt.put_record(FeatureGroupName=GROUP, Record=record("C2", text)),
            lambda text=text: rt.delete_record(
                FeatureGroupName=GROUP, RecordIdentifierValueAsString="C1", EventTime=text
            ),
        ):
            code, message = error_code(call)
            assert code == "ValidationError" and "event time" in message, (text, message)
    assert online_age(rt, "C2") is None
