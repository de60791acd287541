"""The Distributed Map over the local store, from AWS's developer guide and API reference:

- "Using Map state in Distributed mode"
  https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html
- "ItemReader (Map)" https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html
- "ItemBatcher (Map)" https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html
- "ResultWriter (Map)"
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
- "Setting failure thresholds for Distributed Map states"
  https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html
- "Examining Map Run" https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html
- API_DescribeMapRun, API_ListMapRuns, API_ListExecutions, API_DescribeExecution
  https://docs.aws.amazon.com/step-functions/latest/apireference/

Every execution runs through the service (boto3's `stepfunctions` client) over a temporary home
whose local store holds real objects; every answer is checked against botocore's output shape
(CHURN_CHECK_ANSWERS, tests/conftest.py)."""

import json

import pytest
from botocore.exceptions import ClientError

from pipelines.local.s3 import Store
from pipelines.local.s3_api import S3Client
from pipelines.local.sfn_integrations import s3_map_resources
from pipelines.local.stepfunctions import map_items
from pipelines.local.stepfunctions.integrations import Integrations
from pipelines.local.stepfunctions.interpreter import Clock
from pipelines.local.stepfunctions.service import StepFunctions

pytestmark = pytest.mark.fast

ROLE = "arn:aws:iam::123456789012:role/churn-states"
BUCKET = "data"


@pytest.fixture
def s3(tmp_path):
    client = S3Client(Store(tmp_path / "home"))
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def sfn(tmp_path, s3):
    return StepFunctions(
        tmp_path / "home", Integrations(map_resources=s3_map_resources(s3)), Clock()
    )


def put(s3, key, body):
    s3.put_object(Bucket=BUCKET, Key=key, Body=body if isinstance(body, bytes) else body.encode())


def distributed_map(processor_states=None, execution_type="STANDARD", **fields):
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
        "StartAt": "Echo",
        "States": processor_states or {"Echo": {"Type": "Pass", "End": True}},
    }
    state = dict({"Type": "Map", "ItemProcessor": processor, "End": True}, **fields)
    return {"StartAt": "Fan", "States": {"Fan": state}}


def execute(sfn, definition, document=None, name="m"):
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(document or {}))
    sfn.wait()
    return sfn.describe_execution(executionArn=execution["executionArn"])


def output(described):
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    return json.loads(described["output"])


def refusal(sfn, definition):
    with pytest.raises(ClientError) as refused:
        sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=ROLE)
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    return refused.value.response["Error"]["Message"]


def map_run_of(sfn, execution_arn):
    runs = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    assert len(runs) == 1
    return sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])


# -- items from the state input, and the Map Run a user can examine --------------------------


def test_items_from_the_input_run_as_child_executions_a_user_can_list_and_describe(sfn):
    """Without an ItemReader the items are the input's array (ItemsPath), each child's input
    the ItemSelector over $$.Map.Item (state-map-distributed.html); the Map Run is
    DescribeMapRun's and ListMapRuns', the children ListExecutions' with mapRunArn, and the
    history has MapRunStarted and MapRunSucceeded (concepts-examine-map-run.html)."""
    definition = distributed_map(
        ItemsPath="$.numbers",
        ItemSelector={"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value"},
        MaxConcurrency=2,
        Label="Numbers",
    )
    described = execute(sfn, definition, {"numbers": [10, 20, 30]})
    assert output(described) == [
        {"index": 0, "value": 10},
        {"index": 1, "value": 20},
        {"index": 2, "value": 30},
    ]
    run = map_run_of(sfn, described["executionArn"])
    assert run["status"] == "SUCCEEDED"
    assert run["mapRunArn"].startswith("arn:aws:states:local:000000000000:mapRun:m/Numbers:")
    assert run["executionArn"] == described["executionArn"]
    assert run["maxConcurrency"] == 2
    assert (run["toleratedFailurePercentage"], run["toleratedFailureCount"]) == (0.0, 0)
    for counts in (run["itemCounts"], run["executionCounts"]):
        assert (counts["total"], counts["succeeded"], counts["failed"]) == (3, 3, 0)
        # 3, not 0, without a ResultWriter: as test_sfn_api_map_run.snapshot.json recorded
        assert (counts["pending"], counts["running"], counts["resultsWritten"]) == (0, 0, 3)
    # The Map Run's state machine is <machine>/<label>, as recorded (ListMapRuns)
    listed = sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"][0]
    assert listed["stateMachineArn"] == described["stateMachineArn"] + "/Numbers"
    children = sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]
    assert len(children) == 3
    for child in children:
        assert child["mapRunArn"] == run["mapRunArn"]
        assert child["itemCount"] == 1 and child["status"] == "SUCCEEDED"
        assert child["stateMachineArn"] == listed["stateMachineArn"]
        assert child["executionArn"].startswith(
            "arn:aws:states:local:000000000000:execution:m/Numbers:"
        )
        one = sfn.describe_execution(executionArn=child["executionArn"])
        assert one["mapRunArn"] == run["mapRunArn"]
        assert json.loads(one["output"]) in output(described)
        events = sfn.get_execution_history(executionArn=child["executionArn"])["events"]
        assert events[0]["type"] == "ExecutionStarted"
        assert events[-1]["type"] == "ExecutionSucceeded"
    # Children are not the state machine's own executions
    machine = sfn.list_executions(stateMachineArn=described["stateMachineArn"])["executions"]
    assert [e["executionArn"] for e in machine] == [described["executionArn"]]
    events = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    kinds = [e["type"] for e in events]
    started = kinds.index("MapRunStarted")
    assert kinds[started - 1 :] == [
        "MapStateStarted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    assert events[started]["mapRunStartedEventDetails"]["mapRunArn"] == run["mapRunArn"]


def test_list_executions_takes_a_state_machine_or_a_map_run_not_both(sfn):
    """API_ListExecutions: "You can specify either a mapRunArn or a stateMachineArn, but not
    both"; a Map Run that does not exist is ResourceNotFound (API_DescribeMapRun: errors)."""
    described = execute(sfn, distributed_map(), [1])
    run = map_run_of(sfn, described["executionArn"])
    with pytest.raises(ClientError) as both:
        sfn.list_executions(
            stateMachineArn=described["stateMachineArn"], mapRunArn=run["mapRunArn"]
        )
    assert both.value.response["Error"]["Code"] == "ValidationException"
    missing = run["mapRunArn"][:-8] + "00000000"
    with pytest.raises(ClientError) as absent:
        sfn.describe_map_run(mapRunArn=missing)
    assert absent.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as bad:
        sfn.describe_map_run(mapRunArn="not-an-arn")
    assert bad.value.response["Error"]["Code"] == "InvalidArn"


# -- ItemReader -------------------------------------------------------------------------------


def test_a_json_array_in_s3_is_the_items(sfn, s3):
    """ItemReader with s3:getObject and InputType JSON: "a JSON file ... that contains an
    array" (input-output-itemreader.html)."""
    put(s3, "in/items.json", json.dumps([{"id": 1}, {"id": 2}]))
    definition = distributed_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": BUCKET, "Key.$": "$.key"},
        }
    )
    assert output(execute(sfn, definition, {"key": "in/items.json"})) == [{"id": 1}, {"id": 2}]


def test_csv_rows_are_objects_of_strings_under_the_first_row_or_given_headers(sfn, s3):
    """InputType CSV: CSVHeaderLocation FIRST_ROW takes the headers from the first row, GIVEN
    from CSVHeaders; every value is a string; MaxItems limits the rows read
    (input-output-itemreader.html)."""
    put(s3, "ratings.csv", 'userId,note\n1,"good, really"\n2,"two\nlines"\n3,bad\n')
    first_row = distributed_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 2},
            "Parameters": {"Bucket": BUCKET, "Key": "ratings.csv"},
        }
    )
    assert output(execute(sfn, first_row, name="first")) == [
        {"userId": "1", "note": "good, really"},
        {"userId": "2", "note": "two\nlines"},
    ]
    put(s3, "plain.csv", "1;a\n2;b\n")
    given = distributed_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {
                "InputType": "CSV",
                "CSVHeaderLocation": "GIVEN",
                "CSVHeaders": ["n", "letter"],
                "CSVDelimiter": "SEMICOLON",
                "MaxItemsPath": "$.most",
            },
            "Parameters": {"Bucket": BUCKET, "Key": "plain.csv"},
        }
    )
    assert output(execute(sfn, given, {"most": 0}, name="given")) == [
        {"n": "1", "letter": "a"},
        {"n": "2", "letter": "b"},
    ]


def test_list_objects_v2_lists_the_objects_under_a_prefix(sfn, s3):
    """ItemReader with s3:listObjectsV2: each item is an object's Etag, Key, LastModified,
    Size and StorageClass (input-output-itemreader.html, "Objects in an Amazon S3 bucket")."""
    put(s3, "images/a.jpg", b"aaa")
    put(s3, "images/b.jpg", b"bbbbb")
    put(s3, "other/c.jpg", b"c")
    definition = distributed_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": BUCKET, "Prefix": "images/"},
        }
    )
    items = output(execute(sfn, definition))
    assert [(i["Key"], i["Size"], i["StorageClass"]) for i in items] == [
        ("images/a.jpg", 3, "STANDARD"),
        ("images/b.jpg", 5, "STANDARD"),
    ]
    assert all(isinstance(i["LastModified"], int) and i["Etag"].startswith('"') for i in items)


def test_an_item_reader_that_cannot_read_fails_with_item_reader_failed(sfn, s3, monkeypatch):
    """A missing object, a JSON file that is no array, and an object over the reader's size
    limit fail the Map with States.ItemReaderFailed (input-output-itemreader.html)."""
    put(s3, "object.json", json.dumps({"not": "an array"}))
    put(s3, "big.json", json.dumps(list(range(100))))
    monkeypatch.setattr(map_items, "READER_LIMIT", 64)
    for key, name in (("missing.json", "a"), ("object.json", "b"), ("big.json", "c")):
        definition = distributed_map(
            ItemReader={
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket": BUCKET, "Key": key},
            }
        )
        described = execute(sfn, definition, name=name)
        assert (described["status"], described["error"]) == ("FAILED", "States.ItemReaderFailed")


# -- ItemBatcher ------------------------------------------------------------------------------


def test_item_batcher_gives_each_child_items_and_batch_input(sfn):
    """ItemBatcher: each child's input is {"Items": [...], "BatchInput": ...}, at most
    MaxItemsPerBatch items, at most MaxInputBytesPerBatch bytes (input-output-itembatcher.html)."""
    definition = distributed_map(
        ItemsPath="$.items",
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"factor.$": "$.factor"}},
    )
    out = output(execute(sfn, definition, {"items": [1, 2, 3, 4, 5], "factor": 7}, name="a"))
    assert out == [
        {"Items": [1, 2], "BatchInput": {"factor": 7}},
        {"Items": [3, 4], "BatchInput": {"factor": 7}},
        {"Items": [5], "BatchInput": {"factor": 7}},
    ]
    by_bytes = distributed_map(ItemsPath="$.items", ItemBatcher={"MaxInputBytesPerBatch": 40})
    words = ["x" * 10] * 4
    out = output(execute(sfn, by_bytes, {"items": words}, name="b"))
    assert [len(batch["Items"]) for batch in out] == [2, 2]
    assert all(len(json.dumps(batch, separators=(",", ":"))) <= 40 for batch in out)
    described = execute(sfn, by_bytes, {"items": ["y" * 100]}, name="c")
    assert described["status"] == "FAILED"
    run = map_run_of(sfn, described["executionArn"])
    children = sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]
    assert children == []


def test_a_batch_counts_its_items_in_the_map_run(sfn):
    described = execute(sfn, distributed_map(ItemBatcher={"MaxItemsPerBatch": 3}), list(range(7)))
    run = map_run_of(sfn, described["executionArn"])
    assert (run["itemCounts"]["total"], run["executionCounts"]["total"]) == (7, 3)
    counts = [c["itemCount"] for c in sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]]
    assert sorted(counts) == [1, 3, 3]


# -- ResultWriter -----------------------------------------------------------------------------


FAIL_ON_BAD = {
    "Check": {
        "Type": "Choice",
        "Choices": [{"Variable": "$", "StringEquals": "bad", "Next": "Bad"}],
        "Default": "Good",
    },
    "Bad": {"Type": "Fail", "Error": "BadItem", "Cause": "the item is bad"},
    "Good": {"Type": "Pass", "Parameters": {"item.$": "$"}, "End": True},
}


def failing_map(**fields):
    definition = distributed_map(FAIL_ON_BAD, **fields)
    definition["States"]["Fan"]["ItemProcessor"]["StartAt"] = "Check"
    return definition


def read_json(s3, key):
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_result_writer_writes_a_manifest_and_a_file_per_status(sfn, s3):
    """ResultWriter with s3:putObject: the Map's output is the Map Run's ARN and
    ResultWriterDetails (the manifest's Bucket and Key); under <Prefix>/<map run id>/ a
    manifest.json naming the result files, and SUCCEEDED_0.json / FAILED_0.json with each
    child's ExecutionArn, Input, Output or Error and Cause, Status
    (input-output-resultwriter.html)."""
    definition = failing_map(
        ToleratedFailureCount=1,
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": BUCKET, "Prefix": "results"},
        },
    )
    described = execute(sfn, definition, ["a", "bad", "b"])
    out = output(described)
    run_arn = out["MapRunArn"]
    run_id = run_arn.rsplit(":", 1)[1]
    assert out["ResultWriterDetails"] == {
        "Bucket": BUCKET,
        "Key": "results/%s/manifest.json" % run_id,
    }
    manifest = read_json(s3, out["ResultWriterDetails"]["Key"])
    assert manifest["DestinationBucket"] == BUCKET and manifest["MapRunArn"] == run_arn
    files = manifest["ResultFiles"]
    assert [f["Key"] for f in files["SUCCEEDED"]] == ["results/%s/SUCCEEDED_0.json" % run_id]
    assert [f["Key"] for f in files["FAILED"]] == ["results/%s/FAILED_0.json" % run_id]
    assert files["PENDING"] == []
    succeeded = read_json(s3, files["SUCCEEDED"][0]["Key"])
    assert files["SUCCEEDED"][0]["Size"] == len(
        s3.get_object(Bucket=BUCKET, Key=files["SUCCEEDED"][0]["Key"])["Body"].read()
    )
    assert sorted(json.loads(e["Output"])["item"] for e in succeeded) == ["a", "b"]
    assert {e["Status"] for e in succeeded} == {"SUCCEEDED"}
    assert all(e["ExecutionArn"].startswith("arn:aws:states:") for e in succeeded)
    (failed,) = read_json(s3, files["FAILED"][0]["Key"])
    assert (failed["Status"], failed["Error"], failed["Cause"]) == (
        "FAILED",
        "BadItem",
        "the item is bad",
    )
    assert json.loads(failed["Input"]) == "bad" and "Output" not in failed


# -- failure thresholds -----------------------------------------------------------------------


def test_one_failure_fails_the_map_run_by_default(sfn):
    """Without a threshold any failed item fails the Map Run, and the Map state with
    States.ExceedToleratedFailureThreshold (maprun-fail-threshold.html); the history has
    MapRunFailed."""
    described = execute(sfn, failing_map(MaxConcurrency=1), ["a", "bad", "b", "c"])
    assert (described["status"], described["error"]) == (
        "FAILED",
        "States.ExceedToleratedFailureThreshold",
    )
    events = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    kinds = [e["type"] for e in events]
    assert "MapRunFailed" in kinds and "MapRunSucceeded" not in kinds
    failed = events[kinds.index("MapRunFailed")]["mapRunFailedEventDetails"]
    assert failed["error"] == "States.ExceedToleratedFailureThreshold"
    # The cause AWS gives (LocalStack's test_state_configuration.snapshot.json, recorded)
    assert failed["cause"] == "The specified tolerated failure threshold was exceeded"
    run = map_run_of(sfn, described["executionArn"])
    assert run["status"] == "FAILED"
    assert run["itemCounts"]["failed"] == 1


def test_once_exceeded_running_children_are_aborted_and_the_rest_stay_pending(sfn, s3):
    """maprun-fail-threshold.html: once the threshold is exceeded the Map Run fails; the
    children still running are aborted (ABORTED, ExecutionAborted) and those not started are
    the PENDING results (input-output-resultwriter.html)."""
    states = dict(FAIL_ON_BAD)
    states["Check"] = dict(
        FAIL_ON_BAD["Check"],
        Choices=FAIL_ON_BAD["Check"]["Choices"]
        + [{"Variable": "$", "StringEquals": "slow", "Next": "Slow"}],
    )
    states["Slow"] = {"Type": "Wait", "Seconds": 600, "Next": "Good"}
    definition = distributed_map(
        states,
        MaxConcurrency=2,
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": BUCKET, "Prefix": "out/"},
        },
    )
    definition["States"]["Fan"]["ItemProcessor"]["StartAt"] = "Check"
    described = execute(sfn, definition, ["slow", "bad", "a", "b"])
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    run = map_run_of(sfn, described["executionArn"])
    counts = run["itemCounts"]
    assert (counts["aborted"], counts["failed"], counts["pending"], counts["total"]) == (1, 1, 2, 4)
    children = {
        c["status"]: c for c in sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]
    }
    assert sorted(children) == ["ABORTED", "FAILED"]
    events = sfn.get_execution_history(executionArn=children["ABORTED"]["executionArn"])["events"]
    assert events[-1]["type"] == "ExecutionAborted"
    run_id = run["mapRunArn"].rsplit(":", 1)[1]
    manifest = read_json(s3, "out/%s/manifest.json" % run_id)
    pending = read_json(s3, manifest["ResultFiles"]["PENDING"][0]["Key"])
    assert [json.loads(p["Input"]) for p in pending] == ["a", "b"]
    failed = read_json(s3, manifest["ResultFiles"]["FAILED"][0]["Key"])
    assert sorted(f["Status"] for f in failed) == ["ABORTED", "FAILED"]


def test_tolerated_failures_by_count_and_by_percentage_path(sfn):
    """ToleratedFailureCount and ToleratedFailurePercentagePath: the Map Run fails only when
    the failed items exceed them (maprun-fail-threshold.html)."""
    items = ["a", "bad", "b", "bad"]
    out = output(execute(sfn, failing_map(ToleratedFailureCount=2), items, name="count"))
    assert out[0] == {"item": "a"} and out[1]["Error"] == "BadItem"
    percentage = failing_map(ToleratedFailurePercentagePath="$.tolerated", ItemsPath="$.items")
    ok = execute(sfn, percentage, {"items": items, "tolerated": 50}, name="p50")
    assert ok["status"] == "SUCCEEDED"
    run = map_run_of(sfn, ok["executionArn"])
    assert run["toleratedFailurePercentage"] == 50.0
    over = execute(sfn, percentage, {"items": items, "tolerated": 49.5}, name="p49")
    assert over["error"] == "States.ExceedToleratedFailureThreshold"
    bad = execute(sfn, percentage, {"items": items, "tolerated": 101}, name="p101")
    assert bad["error"] == "States.Runtime"


def test_a_catch_takes_the_exceeded_threshold(sfn):
    definition = failing_map(
        Catch=[{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "Caught"}]
    )
    definition["States"]["Fan"].pop("End")
    definition["States"]["Fan"]["Next"] = "Done"
    definition["States"]["Caught"] = {"Type": "Pass", "Result": "caught", "End": True}
    definition["States"]["Done"] = {"Type": "Succeed"}
    assert output(execute(sfn, definition, ["bad"])) == "caught"


# -- EXPRESS children -------------------------------------------------------------------------


def test_express_children_are_described_but_have_no_history(sfn):
    """API_DescribeExecution: "Executions of an EXPRESS state machine aren't supported by
    DescribeExecution unless a Map Run dispatched them"; API_GetExecutionHistory: "not
    supported by EXPRESS state machines"."""
    described = execute(sfn, distributed_map(execution_type="EXPRESS"), [1, 2])
    assert output(described) == [1, 2]
    run = map_run_of(sfn, described["executionArn"])
    child = sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"][0]
    assert sfn.describe_execution(executionArn=child["executionArn"])["status"] == "SUCCEEDED"
    with pytest.raises(ClientError):
        sfn.get_execution_history(executionArn=child["executionArn"])


# -- what does not run locally is refused by name ---------------------------------------------


def test_what_the_twin_does_not_run_is_refused_naming_it(sfn):
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "MANIFEST"},
        "Parameters": {"Bucket": BUCKET, "Key": "manifest.json"},
    }
    assert "MANIFEST" in refusal(sfn, distributed_map(ItemReader=reader))
    writer = {"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}}
    assert "WriterConfig" in refusal(sfn, distributed_map(ResultWriter=writer))
    no_type = distributed_map()
    del no_type["States"]["Fan"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"]
    assert "ExecutionType" in refusal(sfn, no_type)
    inline = distributed_map(ItemReader=dict(reader, ReaderConfig={"InputType": "JSON"}))
    inline["States"]["Fan"]["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    assert "ItemReader" in refusal(sfn, inline)
    versioned = dict(reader, ReaderConfig={"InputType": "JSON"},
                     Parameters={"Bucket": BUCKET, "Key": "k", "VersionId": "v1"})  # fmt: skip
    assert "VersionId" in refusal(sfn, distributed_map(ItemReader=versioned))
    nested = distributed_map({"Inner": distributed_map()["States"]["Fan"]})
    nested["States"]["Fan"]["ItemProcessor"]["StartAt"] = "Inner"
    assert "inside" in refusal(sfn, nested)
    sync = distributed_map(
        {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": "x"},
                "End": True,
            }
        },  # fmt: skip
        execution_type="EXPRESS",
    )
    sync["States"]["Fan"]["ItemProcessor"]["StartAt"] = "Run"
    assert "EXPRESS" in refusal(sfn, sync)
    task = {"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": "arn:aws:states:::s3:getObject",
        "Parameters": {"Bucket": BUCKET, "Key": "k"}, "End": True}}}  # fmt: skip
    assert "s3:getObject" in refusal(sfn, task)
    # The Label's refusals are AWS's, as test_sfn_api_map_run.snapshot.json recorded them
    assert "Label contains invalid character: ' '" in refusal(sfn, distributed_map(Label="a b"))
    assert "Label cannot be empty" in refusal(sfn, distributed_map(Label=""))
    assert "Label cannot exceed 40 characters" in refusal(sfn, distributed_map(Label="x" * 41))
    assert "MaxItemsPerBatch" in refusal(sfn, distributed_map(ItemBatcher={"BatchInput": {}}))
    assert "Prefix" in refusal(
        sfn,
        distributed_map(
            ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {}}
        ),
    )


def test_json_lines_are_the_items_one_a_line(sfn, s3):
    """InputType JSONL: one JSON value a line (input-output-itemreader.html)."""
    put(s3, "lines.jsonl", '{"a": 1}\n\n{"a": 2}\n{"a": 3}\n')
    definition = distributed_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL", "MaxItems": 2},
            "Parameters": {"Bucket": BUCKET, "Key": "lines.jsonl"},
        }
    )
    assert output(execute(sfn, definition)) == [{"a": 1}, {"a": 2}]


def test_a_failing_parallel_sibling_aborts_the_map_runs_children(sfn):
    """A Parallel branch that fails cancels its siblings; a Distributed Map among them aborts
    the children it runs (state-parallel: "If any branch fails ... the entire Parallel state
    fails")."""
    slow = distributed_map({"Slow": {"Type": "Wait", "Seconds": 600, "Next": "Done"},
                            "Done": {"Type": "Pass", "End": True}})  # fmt: skip
    slow["States"]["Fan"]["ItemProcessor"]["StartAt"] = "Slow"
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    slow,
                    {
                        "StartAt": "Wait",
                        "States": {
                            "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Fail"},
                            "Fail": {"Type": "Fail", "Error": "Sibling"},
                        },
                    },
                ],  # fmt: skip
            }
        },
    }
    described = execute(sfn, definition, [1, 2])
    assert (described["status"], described["error"]) == ("FAILED", "Sibling")
    run = map_run_of(sfn, described["executionArn"])
    assert run["status"] == "FAILED"
    statuses = [c["status"] for c in sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]]
    assert statuses == ["ABORTED", "ABORTED"]


def test_the_interpreter_alone_runs_a_distributed_map_over_its_input():
    """Without the service (interpreter.Execution), the Map Runs are kept in memory."""
    from pipelines.local.stepfunctions.interpreter import Execution, validate

    definition = distributed_map(ItemSelector={"v.$": "$$.Map.Item.Value"})
    validate(definition, Integrations())
    execution = Execution(definition, Integrations(), [1, 2], clock=Clock()).run()
    assert (execution.status, execution.output) == ("SUCCEEDED", [{"v": 1}, {"v": 2}])
    (run,) = execution.map_runs.runs.values()
    assert run.status == "SUCCEEDED" and run.execution_counts["succeeded"] == 2
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
              "Parameters": {"Bucket": BUCKET, "Key": "k"}}  # fmt: skip
    with pytest.raises(ValueError, match="no local twin"):
        validate(distributed_map(ItemReader=reader), Integrations())


# -- behaviour recorded against AWS -----------------------------------------------------------
# LocalStack's Step Functions snapshot tests are recorded against AWS
# (github.com/localstack/localstack, tests/aws/services/stepfunctions/v2/scenarios/
# test_base_scenarios.snapshot.json): the events, errors and causes below are those recordings'.


def csv_map(key, **config):
    return distributed_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": dict({"InputType": "CSV"}, **config),
            "Parameters": {"Bucket": BUCKET, "Key": key},
        }
    )


def test_csv_fields_past_the_headers_are_dropped_and_missing_ones_empty(sfn, s3):
    """test_map_item_reader_csv_headers_decl_extra_fields: GIVEN ["H1"] over three fields a row
    keeps H1 only; a row shorter than the headers has "" for the rest."""
    put(s3, "rows.csv", "Value1,Value2,Value3\nValue4\n")
    given = csv_map("rows.csv", CSVHeaderLocation="GIVEN", CSVHeaders=["H1", "H2"])
    assert output(execute(sfn, given)) == [
        {"H1": "Value1", "H2": "Value2"},
        {"H1": "Value4", "H2": ""},
    ]


def test_an_item_reader_failure_fails_the_map_run_it_started(sfn, s3):
    """test_map_item_reader_csv_headers_decl_duplicate_headers: MapStateStarted (length 0),
    MapRunStarted, MapRunFailed with States.ItemReaderFailed "CSV headers cannot contain
    duplicates.", MapStateFailed; test_map_item_reader_json_no_json_list_object: "Attempting
    to map over non-iterable node."."""
    put(s3, "dup.csv", "A,A\n1,2\n")
    described = execute(sfn, csv_map("dup.csv", CSVHeaderLocation="FIRST_ROW"), name="dup")
    assert (described["error"], described["cause"]) == (
        "States.ItemReaderFailed",
        "CSV headers cannot contain duplicates.",
    )
    events = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    kinds = [e["type"] for e in events]
    assert kinds[2:] == [
        "MapStateStarted",
        "MapRunStarted",
        "MapRunFailed",
        "MapStateFailed",
        "ExecutionFailed",
    ]
    assert events[2]["mapStateStartedEventDetails"] == {"length": 0}
    put(s3, "object.json", "{}")
    not_array = distributed_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": BUCKET, "Key": "object.json"},
        }
    )
    described = execute(sfn, not_array, name="object")
    assert described["cause"] == "Attempting to map over non-iterable node."


def test_max_items_path_values_as_aws_takes_them(sfn, s3):
    """test_map_item_reader_csv_max_items_paths: -1 is States.ItemReaderFailed "field MaxItems
    must be positive", 1.5 States.Runtime, 0 and 100000001 read every row."""
    put(s3, "four.csv", "Col1\n1\n2\n3\n4\n")
    definition = csv_map("four.csv", CSVHeaderLocation="FIRST_ROW", MaxItemsPath="$.most")
    for most, name in ((0, "zero"), (100_000_001, "many")):
        assert len(output(execute(sfn, definition, {"most": most}, name=name))) == 4
    negative = execute(sfn, definition, {"most": -1}, name="negative")
    assert (negative["error"], negative["cause"]) == (
        "States.ItemReaderFailed",
        "field MaxItems must be positive",
    )
    fraction = execute(sfn, definition, {"most": 1.5}, name="fraction")
    assert fraction["error"] == "States.Runtime"
    assert 'refers to value "1.5" which is not a valid integer' in fraction["cause"]


def test_threshold_paths_refuse_what_aws_refuses(sfn):
    """test_map_state_tolerated_failure_count_path and _percentage_path: a value that is no
    number, a negative count, a percentage outside 0-100 are States.Runtime before the Map
    Run starts; 1.1 percent is taken."""
    count = distributed_map(ToleratedFailureCountPath="$.n", ItemsPath="$.items")
    share = distributed_map(ToleratedFailurePercentagePath="$.n", ItemsPath="$.items")
    cases = [
        (count, "NoNumber", 'refers to value "NoNumber" which is not a valid integer'),
        (count, -1, "ToleratedFailureCount cannot be negative."),
        (share, {}, 'refers to value "{}" which is not a valid float'),
        (share, 100.1, "ToleratedFailurePercentage must be between 0 and 100."),
    ]
    for i, (definition, value, cause) in enumerate(cases):
        described = execute(sfn, definition, {"items": [0], "n": value}, name="bad%d" % i)
        assert described["error"] == "States.Runtime" and cause in described["cause"]
        events = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
        assert [e["type"] for e in events][-2:] == ["MapStateStarted", "ExecutionFailed"]
    assert output(execute(sfn, share, {"items": [0], "n": 1.1}, name="ok")) == [0]


# -- a Distributed Map in JSONata -------------------------------------------------------------
# The developer guide's JSONata forms: "ItemReader (Map)" shows the JSONata ItemReader with
# Arguments in place of Parameters; "Transforming data with JSONata" (transforming-data.html)
# names the JSONPath fields a JSONata state cannot have (ItemsPath, MaxConcurrencyPath, the
# *Path forms) and the fields that take expressions (Items, ItemSelector, MaxConcurrency...);
# the other fields' JSONata forms follow LocalStack's templates recorded against AWS
# (map_item_reader_base_json_max_items_jsonata: ReaderConfig MaxItems an expression;
# map_item_batcher_base_max_per_batch_jsonata: ItemBatcher fields and BatchInput expressions).


def jsonata_map(processor_states=None, **fields):
    definition = distributed_map(processor_states, **fields)
    definition["QueryLanguage"] = "JSONata"
    return definition


def test_a_jsonata_item_reader_takes_arguments_and_max_items_as_expressions(sfn, s3):
    """input-output-itemreader.html: in JSONata "Parameters is replaced with Arguments"; Bucket
    and Key as values or {% %} expressions over $states.input and the variables, MaxItems a
    number or an expression (map_item_reader_base_json_max_items_jsonata); the ItemSelector
    reads $states.context.Map.Item and the parent's variables (it is evaluated in the parent);
    Output and Assign read $states.result."""
    put(s3, "in/items.json", json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]))
    definition = jsonata_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $most %}"},
            "Arguments": {"Bucket": BUCKET, "Key": "{% $states.input.prefix & '/items.json' %}"},
        },
        ItemSelector={
            "n": "{% $states.context.Map.Item.Value.n %}",
            "index": "{% $states.context.Map.Item.Index %}",
            "factor": "{% $factor %}",
        },
        Output="{% $states.result.n %}",
        Assign={"count": "{% $count($states.result) %}"},
    )
    fan = definition["States"].pop("Fan")
    fan.pop("End")
    fan["Next"] = "Done"
    definition["States"] = {
        "Setup": {"Type": "Pass", "Assign": {"most": 2, "factor": 10}, "Next": "Fan"},
        "Fan": fan,
        "Done": {"Type": "Pass", "Output": {"ns": "{% $states.input %}", "count": "{% $count %}"},
                 "End": True},
    }  # fmt: skip
    definition["StartAt"] = "Setup"
    assert output(execute(sfn, definition, {"prefix": "in"})) == {"ns": [1, 2], "count": 2}
    # the children got the selected items (and read nothing of the parent's variables)
    described = execute(sfn, definition, {"prefix": "in"}, name="again")
    run = map_run_of(sfn, described["executionArn"])
    children = sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]
    got = [json.loads(sfn.describe_execution(executionArn=c["executionArn"])["input"])
           for c in children]  # fmt: skip
    assert sorted(got, key=lambda i: i["index"]) == [
        {"n": 1, "index": 0, "factor": 10},
        {"n": 2, "index": 1, "factor": 10},
    ]


def test_a_jsonata_processor_inherits_the_query_language(sfn):
    """A child workflow's states are JSONata when the machine's QueryLanguage is (the
    processor is part of the definition, as a Parallel branch is), without the parent's
    variables: a child reading one fails (workflow-variables.html: a Distributed Map's
    children cannot read the outer scope)."""
    double = {"Double": {"Type": "Pass", "Output": "{% $states.input * 2 %}", "End": True}}
    definition = jsonata_map(double, Items="{% $states.input.numbers %}", MaxConcurrency="{% 1 %}")
    definition["States"]["Fan"]["ItemProcessor"]["StartAt"] = "Double"
    assert output(execute(sfn, definition, {"numbers": [1, 2, 3]})) == [2, 4, 6]


def test_jsonata_item_batcher_fields_and_batch_input_are_expressions(sfn):
    """input-output-itembatcher.html with map_item_batcher_base_max_per_batch_jsonata:
    MaxItemsPerBatch and MaxInputBytesPerBatch numbers or expressions, BatchInput's values
    expressions over $states.input and $states.context."""
    definition = jsonata_map(
        Items="{% $states.input.items %}",
        ItemBatcher={
            "MaxItemsPerBatch": "{% $states.input.per %}",
            "MaxInputBytesPerBatch": 1000,
            "BatchInput": {
                "factor": "{% $states.input.factor %}",
                "state": "{% $states.context.State.Name %}",
            },
        },  # fmt: skip
    )
    out = output(execute(sfn, definition, {"items": [1, 2, 3], "per": 2, "factor": 7}))
    head = {"factor": 7, "state": "Fan"}
    assert out == [{"Items": [1, 2], "BatchInput": head}, {"Items": [3], "BatchInput": head}]
    bad = execute(sfn, definition, {"items": [1], "per": 0, "factor": 7}, name="zero")
    assert bad["error"] == "States.QueryEvaluationError" and "MaxItemsPerBatch" in bad["cause"]


def test_jsonata_result_writer_and_thresholds(sfn, s3):
    """ResultWriter with Arguments (Bucket, Prefix as values or expressions) and
    ToleratedFailureCount / ToleratedFailurePercentage as numbers or expressions
    (maprun-fail-threshold.html); a threshold's expression of the wrong kind fails the state
    with States.QueryEvaluationError (transforming-data.html, "Handling expression errors")."""
    definition = failing_map(
        ToleratedFailureCount="{% $states.input.tolerated %}",
        ToleratedFailurePercentage=100,
        Items="{% $states.input.items %}",
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Arguments": {"Bucket": "{% $states.input.bucket %}", "Prefix": "jsonata"},
        },
    )
    definition["QueryLanguage"] = "JSONata"
    processor = definition["States"]["Fan"]["ItemProcessor"]
    processor["QueryLanguage"] = "JSONPath"  # FAIL_ON_BAD's states are JSONPath
    document = {"items": ["a", "bad"], "tolerated": 1, "bucket": BUCKET}
    out = output(execute(sfn, definition, document))
    assert out["ResultWriterDetails"]["Bucket"] == BUCKET
    assert out["ResultWriterDetails"]["Key"].startswith("jsonata/")
    manifest = read_json(s3, out["ResultWriterDetails"]["Key"])
    assert len(manifest["ResultFiles"]["FAILED"]) == 1
    run = map_run_of(sfn, execute(sfn, definition, document, name="again")["executionArn"])
    assert (run["toleratedFailureCount"], run["toleratedFailurePercentage"]) == (1, 100.0)
    zero = dict(definition)
    zero["States"] = json.loads(json.dumps(definition["States"]))
    del zero["States"]["Fan"]["ToleratedFailurePercentage"]
    exceeded = execute(sfn, zero, dict(document, tolerated=0), name="exceeded")
    assert exceeded["error"] == "States.ExceedToleratedFailureThreshold"
    negative = execute(sfn, zero, dict(document, tolerated=-1), name="negative")
    assert negative["error"] == "States.QueryEvaluationError"
    assert "ToleratedFailureCount" in negative["cause"]


def test_jsonpath_fields_in_a_jsonata_distributed_map_are_refused_naming_them(sfn):
    """transforming-data.html: a JSONata state has none of JSONPath's fields; the guide's
    ItemReader has Arguments, not Parameters. Each is refused naming the state and field."""
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Arguments": {"Bucket": BUCKET, "Key": "k"},
    }
    writer = {"Resource": "arn:aws:states:::s3:putObject",
              "Arguments": {"Bucket": BUCKET, "Prefix": "p"}}  # fmt: skip
    cases = [
        ({"ItemReader": dict(reader, Parameters={"Bucket": BUCKET, "Key": "k"})},
         "ItemReader Parameters"),
        ({"ItemReader": dict(reader, ReaderConfig={"InputType": "JSON", "MaxItemsPath": "$.n"})},
         "MaxItemsPath"),
        ({"ItemBatcher": {"MaxItemsPerBatchPath": "$.n"}}, "MaxItemsPerBatchPath"),
        ({"ResultWriter": {"Resource": writer["Resource"],
                           "Parameters": {"Bucket": BUCKET, "Prefix": "p"}}},
         "ResultWriter Parameters"),
        ({"ToleratedFailureCountPath": "$.n"}, "ToleratedFailureCountPath"),
        ({"ToleratedFailurePercentagePath": "$.n"}, "ToleratedFailurePercentagePath"),
        ({"ItemsPath": "$.items"}, "ItemsPath"),
        ({"ItemReader": reader, "Items": "{% $states.input %}"}, "Items"),
        ({"ItemReader": dict(reader, Arguments={"Bucket": "{% $states.result %}", "Key": "k"})},
         "$states.result"),
        ({"ItemReader": dict(reader, Arguments={"Bucket": "{% 1 + %}", "Key": "k"})},
         "ItemReader Arguments"),
        ({"ToleratedFailureCount": "{% ( %}"}, "ToleratedFailureCount"),
        ({"ToleratedFailurePercentage": 101}, "ToleratedFailurePercentage"),
        ({"ResultWriter": dict(writer, Arguments={"Bucket": BUCKET})}, "Prefix"),
    ]  # fmt: skip
    for fields, named in cases:
        message = refusal(sfn, jsonata_map(**fields))
        assert "'Fan'" in message and named in message, (fields, message)
    # The JSONata forms themselves are taken
    sfn.create_state_machine(
        name="ok",
        definition=json.dumps(
            jsonata_map(ItemReader=reader, ResultWriter=writer, ToleratedFailureCount="{% 1 %}")
        ),  # fmt: skip
        roleArn=ROLE,
    )
