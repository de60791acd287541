"""The churn workflows: their definitions checked by statelint and the Step Functions schema
cfn-lint ships, then run locally end to end by `churn workflow run` (the ASL interpreter, the
pipeline, the registry, local endpoints as serving processes, the DataBrew twin). Each in
JSONPath and in JSONata: the same states, and the same outcome of the same scenario."""

import json
import re
import threading
import time
from pathlib import Path

import pytest

from pipelines.aws.stepfunctions import describe
from pipelines.churn.workflows import NAMES, WorkflowSettings, definition

from conftest import BANK, ROOT, churn_cli, churn_workspace, needs_shared_data

SEED_ROW = "40,5,100000,2,1"
FAST = ("--wait-scale", "0.05")
CFN_SCHEMA = "cfnlint/data/schemas/other/step_functions/statemachine.json"
LANGUAGES = ("JSONPath", "JSONata")


def statelint(document):
    """statelint's problems. It knows JSONata's fields; its evaluate_jsonata option is left
    off: it evaluates each expression with no variables and checks the value in place of the
    text (`{% $not($exists($x)) %}` is then true, "not a String"). The twin's validation
    parses every expression."""
    from statelint.linter import Linter

    return list(Linter.validate(document))


def cfn_schema(document):
    """The Step Functions definition schema cfn-lint ships, as its rule (E3601) applies it: to
    a definition whose QueryLanguage is JSONata, in the JSONata form the rule derives from it
    (every state JSONata, no JSONPath fields, Choice rules with a Condition)."""
    import importlib.util

    import jsonschema

    if document.get("QueryLanguage") == "JSONata":
        from cfnlint.rules.resources.stepfunctions.StateMachineDefinition import (
            StateMachineDefinition,
        )

        schema = StateMachineDefinition()._convert_schema_to_jsonata()
    else:
        origin = Path(importlib.util.find_spec("cfnlint").origin).parent.parent
        schema = json.loads((origin / CFN_SCHEMA).read_text())
    return [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(document)]


def lint(document):
    return statelint(document) + cfn_schema(document)


@pytest.mark.fast
@pytest.mark.parametrize("name", NAMES)
def test_each_workflow_passes_statelint_and_the_cfn_lint_schema(name):
    assert lint(definition(name)) == []
    assert lint(definition(name, WorkflowSettings(monitor=False, databrew_job="prep"))) == []


@pytest.mark.fast
def test_the_linters_do_refuse_a_broken_definition():
    broken = definition("deploy")
    broken["States"]["Names"]["Type"] = "Bogus"
    broken["States"]["Approved?"]["Choices"][0]["Next"] = "Nowhere"
    assert any('No state found named "Nowhere"' in p for p in statelint(broken))
    assert any('Names.Type is "Bogus"' in p for p in statelint(broken))
    assert any("'Bogus' is not one of" in p for p in cfn_schema(broken))


# -- JSONata: the same states, the data handled in JSONata -----------------------------------

JSONATA = WorkflowSettings(query_language="JSONata")
# What a state does with data, in either language; the rest is the state graph.
DATA_FIELDS = {"InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath", "Result",
               "ErrorPath", "CausePath", "Arguments", "Output", "Assign"}  # fmt: skip


def validated(document):
    """The twin's ValidateStateMachineDefinition of `document`, warnings included, against
    integrations that know every resource (the definition alone)."""
    import tempfile

    from pipelines.local.stepfunctions.service import StepFunctions
    from pipelines.local.stepfunctions.validation import AnyResource

    with tempfile.TemporaryDirectory() as home:
        service = StepFunctions(Path(home), AnyResource())
        answer = service.validate_state_machine_definition(
            definition=json.dumps(document), severity="WARNING"
        )
        created = service.create_state_machine(name="check", definition=json.dumps(document),
                                               roleArn="arn:aws:iam::000000000000:role/R")  # fmt: skip
        assert created["stateMachineArn"].endswith(":stateMachine:check")
    return answer


def graph(document):
    """The state graph of a definition: every state without its data fields (a Fail's Error
    and Cause stay when they are texts), a Choice's rules as their targets, a catcher as its
    errors and target."""
    states = {}
    for name, state in document["States"].items():
        kept = {k: v for k, v in state.items() if k not in DATA_FIELDS}
        for field in ("Error", "Cause"):
            if str(kept.get(field, "")).startswith("{%"):
                del kept[field]
        if "Choices" in kept:
            kept["Choices"] = [rule["Next"] for rule in kept["Choices"]]
        if "Catch" in kept:
            kept["Catch"] = [(c["ErrorEquals"], c["Next"]) for c in kept["Catch"]]
        states[name] = kept
    return dict({k: v for k, v in document.items() if k != "QueryLanguage"}, States=states)


@pytest.mark.fast
@pytest.mark.parametrize("name", NAMES)
def test_each_workflow_in_jsonata_passes_statelint_the_schema_and_the_twins_validation(name):
    for settings in (JSONATA, WorkflowSettings(query_language="jsonata", monitor=False,
                                              databrew_job="prep", kms_key="K", subnets=["s"])):  # fmt: skip
        document = definition(name, settings)
        assert document["QueryLanguage"] == "JSONata"
        assert lint(document) == []
        assert validated(document) == {"result": "OK", "diagnostics": []}


@pytest.mark.fast
@pytest.mark.parametrize("name", NAMES)
def test_jsonata_and_jsonpath_share_one_state_graph(name):
    """Names, transitions, Retry, Catch errors and targets, resources, waits, timeouts: the
    same; only the data fields differ, and the JSONata ones are JSONata, not JSONPath with
    the language flipped."""
    for more in ({}, {"monitor": False}):
        jsonpath = definition(name, WorkflowSettings(**more))
        jsonata = definition(name, WorkflowSettings(query_language="JSONata", **more))
        assert graph(jsonata) == graph(jsonpath)
        text = json.dumps(jsonata)
        assert '.$"' not in text and '"$.' not in text and "$$." not in text  # no paths
        assert not re.search(r"States\.[A-Za-z]+\(", text)  # no intrinsic functions
        for field in ("Parameters", "ResultSelector", "ResultPath", "InputPath", "Variable",
                      "ErrorPath", "CausePath"):  # fmt: skip
            assert '"%s"' % field not in text
    texts = json.dumps([definition(n, JSONATA) for n in NAMES])
    for idiom in ("$states.input.", "$states.result", "$states.errorOutput",
                  "$states.context.Execution", "$uuid()", "$merge([", "$parse(", " & ",
                  '"Assign"', '"Condition"', '"Arguments"', '"Output"'):  # fmt: skip
        assert idiom in texts, idiom


@pytest.mark.fast
def test_the_linters_and_the_twin_refuse_a_broken_jsonata_definition():
    broken = definition("deploy", JSONATA)
    broken["States"]["Names"]["Parameters"] = {"Suffix.$": "$.x"}  # a JSONPath field
    assert any('"Parameters" not allowed in State Machine.States.Names' in p
               for p in statelint(broken))  # fmt: skip
    assert any("does not allow {'Suffix.$': '$.x'}" in p for p in cfn_schema(broken))
    answer = validated_fails(broken)
    assert answer["diagnostics"][0]["location"] == "/States/Names/Parameters"
    broken = definition("deploy", JSONATA)
    broken["States"]["Approved?"]["Choices"][0]["Condition"] = "{% $package.Status = %}"
    answer = validated_fails(broken)
    assert answer["diagnostics"][0]["location"] == "/States/Approved?/Condition"
    assert "Unexpected end of expression" in answer["diagnostics"][0]["message"]


def validated_fails(document):
    import tempfile

    from pipelines.local.stepfunctions.service import StepFunctions
    from pipelines.local.stepfunctions.validation import AnyResource

    with tempfile.TemporaryDirectory() as home:
        answer = StepFunctions(Path(home), AnyResource()).validate_state_machine_definition(
            definition=json.dumps(document)
        )
    assert answer["result"] == "FAIL" and answer["diagnostics"][0]["code"] == (
        "SCHEMA_VALIDATION_FAILED"
    )
    return answer


PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:111122223333:pipeline/churnpipeline/execution/p1"
PENDING = {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/churn-seed/3",
           "ModelApprovalStatus": "PendingManualApproval"}  # fmt: skip


def pipeline_ending(described, packages):
    """train-and-deploy's integrations: a pipeline whose DescribePipelineExecution answers
    `described`, a group holding `packages`; the DataBrew job and the deploy never run."""
    from pipelines.local.stepfunctions.integrations import Integrations

    def never(parameters, call):
        raise AssertionError("not in this scenario")

    return Integrations({
        "databrew:startJobRun.sync": never,
        "states:startExecution.sync:2": never,
        "aws-sdk:sagemaker:startPipelineExecution": lambda p, c: {"PipelineExecutionArn": PIPELINE_ARN},
        "aws-sdk:sagemaker:describePipelineExecution": lambda p, c: described,
        "aws-sdk:sagemaker:listModelPackages": lambda p, c: {"ModelPackageSummaryList": packages},
    })  # fmt: skip


@pytest.mark.fast
@pytest.mark.parametrize("described, packages, ends", [
    ({"PipelineExecutionStatus": "Succeeded"}, [PENDING],
     ("SUCCEEDED", {"Status": "awaiting approval", "PipelineExecutionArn": PIPELINE_ARN,
                    "ModelPackageArn": PENDING["ModelPackageArn"]}, None, None)),
    ({"PipelineExecutionStatus": "Succeeded"}, [],  # the evaluation gate registered nothing
     ("FAILED", None, "NoModelPackage",
      "the pipeline succeeded but group churn-seed has no model package")),
    ({"PipelineExecutionStatus": "Failed", "FailureReason": "step TrainModel failed"}, [],
     ("FAILED", None, "PipelineExecutionFailed", "step TrainModel failed")),
    ({"PipelineExecutionStatus": "Stopped"}, [],
     ("FAILED", None, "PipelineExecutionFailed",
      "the pipeline execution %s ended Stopped" % PIPELINE_ARN)),
], ids=["awaiting approval", "no package", "failed", "stopped"])  # fmt: skip
def test_train_and_deploy_ends_alike_in_both_languages_however_the_pipeline_ends(
    tmp_path, described, packages, ends
):
    """The pipeline's ends and the registry's answers of train-and-deploy, given by stand-in
    integrations (no pipeline runs): the same states, output or error and cause in both."""
    from pipelines.local.stepfunctions.service import StepFunctions

    seen = []
    for language in LANGUAGES:
        service = StepFunctions(tmp_path / language, pipeline_ending(described, packages))
        settings = WorkflowSettings(query_language=language, pipeline_poll_seconds=0)
        done = run_machine(service, "t", definition("train-and-deploy", settings), {})
        output = json.loads(done["output"]) if "output" in done else None
        assert (done["status"], output, done.get("error"), done.get("cause")) == ends
        seen.append(entered_and_exited(describe(service, done["executionArn"])["events"]))
    assert seen[0] == seen[1]


@pytest.mark.fast
def test_an_unknown_query_language_is_refused_naming_both():
    from pipelines.errors import UserError

    with pytest.raises(UserError, match="no query language 'YAML': JSONPath or JSONata"):
        definition("deploy", WorkflowSettings(query_language="YAML"))


def test_workflow_definition_prints_what_the_code_generates(tmp_path):
    proc = churn_cli(tmp_path, "workflow", "definition", "deploy", "--endpoint-name", "prod")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == definition("deploy", WorkflowSettings(endpoint_name="prod"))
    proc = churn_cli(tmp_path, "workflow", "definition", "deploy", "--endpoint-name", "x" * 60)
    assert proc.returncode == 1 and "at most 54 characters" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = churn_cli(tmp_path, "workflow", "definition", "direct", "--query-language", "jsonata")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == definition("direct", JSONATA)
    proc = churn_cli(tmp_path, "workflow", "definition", "direct", "--query-language", "yaml")
    assert proc.returncode == 2 and "no query language 'yaml': JSONPath or JSONata" in proc.stderr


def test_the_key_and_the_vpc_reach_the_models_endpoint_configs_and_training(tmp_path):
    """Given the infrastructure's key and VPC (flags, or --config-prefix), every model runs in
    the VPC and the endpoint's volumes, the captures and direct's training use the key."""
    proc = churn_cli(tmp_path, "workflow", "definition", "direct", "--kms-key", "KEY",
                     "--subnets", "subnet-1, subnet-2", "--security-group-ids", "sg-1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert lint(document) == []
    vpc = {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}
    states = document["States"]
    assert states["Create model"]["Parameters"]["VpcConfig"] == vpc
    config = states["Create endpoint config"]["Parameters"]
    assert config["KmsKeyId"] == config["DataCaptureConfig"]["KmsKeyId"] == "KEY"
    train = states["Train"]["Parameters"]
    assert train["VpcConfig"] == vpc
    assert train["OutputDataConfig"]["KmsKeyId"] == train["ResourceConfig"]["VolumeKmsKeyId"]
    assert train["OutputDataConfig"]["KmsKeyId"] == "KEY"
    deploy = definition("deploy", WorkflowSettings(subnets=["subnet-1"], security_group_ids=["g"]))
    assert deploy["States"]["Create model"]["Parameters"]["VpcConfig"]["Subnets"] == ["subnet-1"]
    # Without them, none of these fields.
    plain = json.dumps(definition("direct"))
    assert "VpcConfig" not in plain and "KmsKeyId" not in plain


# -- local runs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("workflows")
    yield home
    with churn_workspace(home) as ws:  # no serving process outlives the tests
        for endpoint in ws.hosting.list_endpoints():
            ws.hosting.delete_endpoint(endpoint["EndpointName"])


def workflow(home, name, document=None, *args):
    proc = churn_cli(home, "workflow", "run", name, "--input", json.dumps(document or {}),
                     *FAST, *args, timeout=900)  # fmt: skip
    return proc


def execution(home, proc):
    return shown(home, proc.stdout.strip().splitlines()[-1].split()[-1])


def shown(home, arn):
    shown = churn_cli(home, "workflow", "runs", "show", arn)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def entered_and_exited(events):
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")
    ]
    exited = [
        e["stateExitedEventDetails"]["name"] for e in events if e["type"].endswith("StateExited")
    ]
    return entered, exited


# A poll loop's states: how many rounds a run takes is a matter of timing.
POLLS = {"Wait for pipeline", "Describe pipeline execution", "Pipeline done?",
         "Wait for endpoint", "Describe endpoint", "Count poll", "Endpoint ready?"}  # fmt: skip
# What differs between two runs of one scenario: UUIDs (execution names, ids), a pipeline
# execution's id, a deployment's <endpoint>-<8 hex>, a model package's version.
RUN_IDS = [
    (re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"(pipeline/[\w-]+/execution/)\w+"), r"\1<id>"),
    (re.compile(r"-[0-9a-f]{8}\b"), "-<suffix>"),
    (re.compile(r"(model-package/[\w-]+/)\d+"), r"\1<version>"),
]
# scenario -> its outcome in JSONPath, which the run in JSONata must repeat
OUTCOMES = {}


def polled_once(entered):
    """The states entered, each run of a poll loop's states as one round."""
    out, round_ = [], []
    for name in entered + [None]:
        if name in POLLS:
            round_ += [] if name in round_ else [name]
            continue
        out += round_ + ([name] if name else [])
        round_ = []
    return out


def outcome(record, endpoint=None):
    """What an execution came to: status, output or error and cause, the states entered (a poll
    loop's rounds as one), with the run's own names (RUN_IDS, and the endpoint's) as
    placeholders."""
    entered, _ = entered_and_exited(record["events"])
    seen = {
        "status": record["status"],
        "output": json.loads(record["output"]) if record.get("output") else None,
        "error": record.get("error"),
        "cause": record.get("cause"),
        "entered": polled_once(entered),
    }
    text = json.dumps(seen)
    for pattern, placeholder in RUN_IDS:
        text = pattern.sub(placeholder, text)
    if endpoint:
        text = re.sub(r'(?<=")%s(?=")|\b%s(?=-<suffix>)' % (endpoint, endpoint), "<endpoint>", text)
    return json.loads(text)


def same_outcome(scenario, language, record, endpoint=None):
    """Keeps the JSONPath run's outcome of `scenario`; the JSONata run's must be the same."""
    seen = outcome(record, endpoint)
    if language == "JSONPath":
        OUTCOMES[scenario] = seen
        return
    assert scenario in OUTCOMES, "the JSONPath run of %r comes first: run the whole file" % scenario
    assert seen == OUTCOMES[scenario]


def language_args(language):
    return ("--query-language", language.lower())


def test_train_and_deploy_runs_the_pipeline_and_deploys_an_approved_model(home):
    proc = workflow(home, "train-and-deploy", {"ModelApprovalStatus": "Approved"}, "--rows", "2000")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = execution(home, proc)
    assert record["status"] == "SUCCEEDED"
    output = json.loads(record["output"])
    assert output["Status"] == "deployed" and output["Deployment"]["EndpointName"] == "churn"
    entered, exited = entered_and_exited(record["events"])
    assert entered[:4] == ["Defaults", "Settings", "Prepare with DataBrew?", "Start pipeline"]
    assert entered[-1] == "Deploy" and "Describe pipeline execution" in entered
    assert entered == exited  # every state entered was left
    with churn_workspace(home) as ws:
        described = ws.hosting.describe_endpoint("churn")
        assert described["EndpointStatus"] == "InService"
        assert described["EndpointConfigName"] == output["Deployment"]["EndpointConfigName"]
    predicted = churn_cli(home, "predict", "--endpoint-name", "churn", "--csv", SEED_ROW)
    assert predicted.returncode == 0, predicted.stderr
    score, label = predicted.stdout.strip().split(",")
    assert 0.0 <= float(score) <= 1.0 and label in ("0", "1")
    # churn monitor finds what the endpoint captured (in the store, where its DataCaptureConfig
    # says) and checks it against the baseline of the version it serves; it looked under
    # <home>/capture and found nothing.
    deadline = time.time() + 20
    while True:  # the capture writer flushes on a timer
        monitored = churn_cli(home, "monitor", "--endpoint-name", "churn")
        if monitored.returncode == 0 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert monitored.returncode == 0, monitored.stderr
    served = ws_served(home, "churn")
    assert monitored.stdout.startswith(
        "baseline: %s (the version endpoint churn serves); traffic since " % served
    ), monitored.stdout
    assert "1 captured rows checked" in monitored.stdout
    listed = churn_cli(home, "workflow", "runs", "list")
    assert "churn-train-and-deploy" in listed.stdout and "churn-deploy" in listed.stdout
    by_name = churn_cli(home, "workflow", "runs", "show", record["name"])
    assert (
        by_name.returncode == 0
        and json.loads(by_name.stdout)["executionArn"] == record["executionArn"]
    )
    unknown = churn_cli(home, "workflow", "runs", "show", "no-such-run")
    assert unknown.returncode == 1 and "no workflow execution named no-such-run" in unknown.stderr
    same_outcome("train-and-deploy: approved", "JSONPath", record, "churn")
    deployed = shown(home, output["DeployExecutionArn"])
    same_outcome("deploy: created", "JSONPath", deployed, "churn")


def test_train_and_deploy_in_jsonata_deploys_an_approved_model_alike(home):
    """The same scenario in JSONata (its nested deploy in JSONata too), behind an endpoint of
    its own: the same states, the same output, and an endpoint that answers."""
    proc = workflow(home, "train-and-deploy", {"ModelApprovalStatus": "Approved"}, "--rows", "2000",
                    "--endpoint-name", "jsonata", *language_args("JSONata"))  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = execution(home, proc)
    same_outcome("train-and-deploy: approved", "JSONata", record, "jsonata")
    deployed = shown(home, json.loads(record["output"])["DeployExecutionArn"])
    same_outcome("deploy: created", "JSONata", deployed, "jsonata")
    from pipelines.local.stepfunctions.integrations import Integrations
    from pipelines.local.stepfunctions.service import StepFunctions

    service = StepFunctions(home, Integrations())
    for arn in (record["stateMachineArn"], deployed["stateMachineArn"]):
        described = service.describe_state_machine(stateMachineArn=arn)
        assert json.loads(described["definition"])["QueryLanguage"] == "JSONata"
    predicted = churn_cli(home, "predict", "--endpoint-name", "jsonata", "--csv", SEED_ROW)
    assert predicted.returncode == 0, predicted.stderr
    with churn_workspace(home) as ws:
        ws.hosting.delete_endpoint("jsonata")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_model_awaiting_approval_is_not_deployed(home, language):
    proc = workflow(home, "train-and-deploy", {"ModelApprovalStatus": "PendingManualApproval"},
                    "--rows", "2000", "--endpoint-name", "pending", *language_args(language))  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    record = execution(home, proc)
    output = json.loads(record["output"])
    assert output["Status"] == "awaiting approval"
    same_outcome("train-and-deploy: awaiting approval", language, record)
    with churn_workspace(home) as ws:
        assert not ws.hosting.has_endpoint("pending")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_failing_pipeline_ends_the_workflow_in_its_fail_state_with_the_reason(
    home, tmp_path, language
):
    bad = tmp_path / "bad.csv"
    bad.write_text("age,tenure\n40,5\n")  # the seed schema's other columns are missing
    proc = workflow(home, "train-and-deploy", {}, "--data", str(bad), "--endpoint-name", "bad",
                    *language_args(language))  # fmt: skip
    assert proc.returncode == 1
    record = execution(home, proc)
    assert record["status"] == "FAILED" and record["error"] == "PipelineExecutionFailed"
    assert "ValidateData" in record["cause"]
    entered, _ = entered_and_exited(record["events"])
    assert entered[-1] == "Pipeline failed with reason"
    same_outcome("train-and-deploy: the pipeline fails", language, record)


def ws_served(home, endpoint):
    """GROUP/N of the version a local endpoint serves, from its own configuration."""
    with churn_workspace(home) as ws:
        package = ws.registry.find(ws.endpoints.served(endpoint)["ModelPackageArn"])
    return "%s/%d" % (package["ModelPackageGroupName"], package["ModelPackageVersion"])


def approved_arn(home):
    with churn_workspace(home) as ws:
        return ws.versions.latest_approved("churn-seed")  # the seed schema's group


@pytest.mark.parametrize("language", LANGUAGES)
def test_deploying_again_updates_the_endpoint_under_load_without_a_failed_request(home, language):
    arn = approved_arn(home)
    with churn_workspace(home) as ws:
        before = ws.hosting.describe_endpoint("churn")
    stop, outcomes, ports = threading.Event(), [], set()

    def load():
        with churn_workspace(home) as ws:
            while not stop.is_set():
                ports.add(ws.hosting.address("churn")[1])
                try:
                    status, _, body = ws.hosting.invoke("churn", SEED_ROW.encode(), timeout=30)
                    outcomes.append(status)
                except OSError as e:
                    outcomes.append(repr(e))
                time.sleep(0.002)  # bounded: about 2 x 300 requests a second

    senders = [threading.Thread(target=load) for _ in range(2)]
    for t in senders:
        t.start()
    try:
        proc = workflow(home, "deploy", {"detail": {"ModelPackageArn": arn}},
                        *language_args(language))  # fmt: skip
    finally:
        time.sleep(0.5)
        stop.set()
        for t in senders:
            t.join()
    assert proc.returncode == 0, proc.stdout[-3000:]
    record = execution(home, proc)
    output = json.loads(record["output"])
    same_outcome("deploy: updated", language, record)
    with churn_workspace(home) as ws:
        after = ws.hosting.describe_endpoint("churn")
    assert (
        after["EndpointConfigName"] == output["EndpointConfigName"] != before["EndpointConfigName"]
    )
    assert len(ports) == 2, "traffic never moved to the new configuration"
    failed = [o for o in outcomes if o != 200]
    assert len(outcomes) > 100 and failed == []


def test_deploying_a_model_that_cannot_serve_keeps_the_previous_configuration(home):
    with churn_workspace(home) as ws:
        good = ws.registry.find(approved_arn(home))
        request = {k: good[k] for k in ("ModelPackageGroupName", "InferenceSpecification")}
        container = dict(request["InferenceSpecification"]["Containers"][0])
        container["ModelDataUrl"] = "s3://churn-local/churn/models/missing/model.tar.gz"
        request["InferenceSpecification"] = dict(
            request["InferenceSpecification"], Containers=[container]
        )
        request["ModelApprovalStatus"] = "Approved"
        broken = ws.registry.create_model_package(request)["ModelPackageArn"]
        before = ws.hosting.describe_endpoint("churn")["EndpointConfigName"]
    proc = workflow(home, "deploy", {"ModelPackageArn": broken})
    assert proc.returncode == 1
    record = execution(home, proc)
    assert record["error"] == "EndpointUpdateFailed"
    assert "keeps serving its previous configuration %s" % before in record["cause"]
    assert "no object at s3://churn-local/churn/models/missing/model.tar.gz" in record["cause"]
    predicted = churn_cli(home, "predict", "--endpoint-name", "churn", "--csv", SEED_ROW)
    assert predicted.returncode == 0, predicted.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_deploying_an_unapproved_package_fails_naming_it(home, language):
    with churn_workspace(home) as ws:
        pending = [p for p in ws.registry.list_packages() if p["ModelApprovalStatus"] != "Approved"]
    proc = workflow(home, "deploy", {"ModelPackageArn": pending[0]["ModelPackageArn"]},
                    *language_args(language))  # fmt: skip
    record = execution(home, proc)
    assert record["error"] == "ModelPackageNotApproved" and "not Approved" in record["cause"]
    assert pending[0]["ModelPackageArn"] in record["cause"]
    same_outcome("deploy: not approved", language, record)


def test_local_endpoints_commands(home):
    listed = churn_cli(home, "endpoints", "list")
    assert listed.returncode == 0 and "InService" in listed.stdout
    proc = churn_cli(home, "endpoints", "describe", "nope")
    assert proc.returncode == 1 and "Could not find endpoint 'nope'" in proc.stderr
    with churn_workspace(home) as ws:  # the first Approved version (a later one cannot serve)
        first = min((p for p in ws.registry.list_packages() if p["ModelApprovalStatus"] == "Approved"),
                    key=lambda p: p["ModelPackageVersion"])  # fmt: skip
    proc = churn_cli(home, "deploy", "--local", "--endpoint-name", "second", "--model-version",
                     first["ModelPackageArn"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "local endpoint second InService" in proc.stdout
    with churn_workspace(home) as ws:
        pid = json.loads(ws.hosting._endpoint("second")["serving"])["pid"]
    proc = churn_cli(home, "endpoints", "delete", "second")
    assert proc.returncode == 0, proc.stderr
    # A version whose model is gone: the serving process exits, the endpoint is Failed with
    # its last log line, and the command says so in one line.
    with churn_workspace(home) as ws:
        broken = max(ws.registry.list_packages(), key=lambda p: p["ModelPackageVersion"])
    assert "missing" in broken["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    proc = churn_cli(home, "deploy", "--local", "--endpoint-name", "third", "--model-version",
                     broken["ModelPackageArn"])  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert (
        "endpoint third failed: the serving process" in proc.stderr
        and "no object at" in proc.stderr
    )
    assert "Failed" in churn_cli(home, "endpoints", "list").stdout
    again = churn_cli(home, "deploy", "--local", "--endpoint-name", "third", "--model-version",
                      first["ModelPackageArn"])  # fmt: skip
    assert again.returncode == 1 and "churn endpoints delete third" in again.stderr
    assert churn_cli(home, "endpoints", "delete", "third").returncode == 0
    deadline = time.time() + 10
    while time.time() < deadline and Path("/proc/%d" % pid).exists() and _state(pid) != "Z":
        time.sleep(0.1)
    assert not Path("/proc/%d" % pid).exists() or _state(pid) == "Z", "the process outlived delete"


def _state(pid):
    try:
        return Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


# -- DataBrew ------------------------------------------------------------------------------


DEDUPE = [{"Action": {"Operation": "DELETE_DUPLICATE_ROWS", "Parameters": {}}}]


def dedupe_job(ws, table, output_key, output_bucket=None, steps=DEDUPE):
    """A DataBrew job "prepare" running `steps` (by default: dropping the duplicate rows) on
    `table` (a CSV file), staged in the home's store, into `output_key`: the store's bucket."""
    uri = ws.staging.stage_data(str(table), "databrew-input")
    bucket, key = uri[len("s3://") :].split("/", 1)
    brew = ws.databrew
    brew.create_dataset(Name="raw", Input={"S3InputDefinition": {"Bucket": bucket, "Key": key}})
    brew.create_recipe(Name="dedupe", Steps=steps)
    brew.publish_recipe(Name="dedupe")
    brew.create_recipe_job(Name="prepare", DatasetName="raw",
                           RecipeReference={"Name": "dedupe", "RecipeVersion": "1.0"},
                           Outputs=[{"Location": {"Bucket": output_bucket or bucket,
                                                  "Key": output_key},
                                     "Format": "CSV", "Overwrite": True}],
                           RoleArn="arn:aws:iam::000000000000:role/DataBrew")  # fmt: skip
    return bucket


def test_a_databrew_job_prepares_the_table_before_the_pipeline(home, seed_csv):
    with churn_workspace(home) as ws:
        bucket = dedupe_job(ws, seed_csv, "churn/prepared/")
    proc = workflow(home, "train-and-deploy", {"DataBrewJobName": "prepare"}, "--rows", "2000",
                    "--endpoint-name", "brewed")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    record = execution(home, proc)
    entered, _ = entered_and_exited(record["events"])
    assert entered[2:5] == ["Prepare with DataBrew?", "Run DataBrew job", "Use DataBrew output"]
    scheduled = [json.loads(e["taskScheduledEventDetails"]["parameters"]) for e in record["events"]
                 if e["type"] == "TaskScheduled"]  # fmt: skip
    started = next(p for p in scheduled if "PipelineName" in p)
    data_url = started["PipelineParameters"][0]["Value"]
    assert data_url == "s3://%s/churn/prepared/" % bucket
    with churn_workspace(home) as ws:
        ((name, path),) = ws.store.objects(data_url).items()
    assert name.startswith("prepare_") and name.endswith("_part00000.csv")
    assert path.read_text().splitlines()[0] == Path(seed_csv).read_text().splitlines()[0]


@pytest.mark.fast
def test_a_recipe_the_twin_cannot_replay_is_refused_by_name(home):
    from botocore.exceptions import ClientError

    with (
        churn_workspace(home) as ws,
        pytest.raises(ClientError, match="operation SPLIT_COLUMN_SINGLE_DELIMITER") as refused,
    ):
        ws.databrew.create_recipe(Name="split", Steps=[{"Action": {
            "Operation": "SPLIT_COLUMN_SINGLE_DELIMITER", "Parameters": {"sourceColumn": "a"}}}])  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "ValidationException"


@needs_shared_data
def test_the_bank_table_through_train_and_deploy(tmp_path):
    """The DataBrew job (dropping duplicate rows, so its output is still a raw bank table), the
    pipeline on its output, the Approved version deployed, a bank row scored."""
    home = tmp_path / "bank"
    try:
        with churn_workspace(home) as ws:
            raw = ws.staging.stage_data(str(BANK), "databrew-input")
            bucket, key = raw[len("s3://") :].split("/", 1)
            brew = ws.databrew
            brew.create_dataset(
                Name="bank", Input={"S3InputDefinition": {"Bucket": bucket, "Key": key}}
            )
            brew.create_recipe(Name="dedupe", Steps=[{"Action": {"Operation": "DELETE_DUPLICATE_ROWS",
                                                                "Parameters": {}}}])  # fmt: skip
            brew.publish_recipe(Name="dedupe")
            brew.create_recipe_job(Name="bank-prepare", DatasetName="bank",
                                   RecipeReference={"Name": "dedupe", "RecipeVersion": "1.0"},
                                   Outputs=[{"Location": {"Bucket": bucket, "Key": "churn/bank-prepared/"},
                                             "Format": "CSV", "Overwrite": True}],
                                   RoleArn="arn:aws:iam::000000000000:role/DataBrew")  # fmt: skip
        proc = workflow(home, "train-and-deploy", {"ModelApprovalStatus": "Approved",
                                                   "DataBrewJobName": "bank-prepare"},
                        "--data", str(BANK), "--schema", "bank")  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        record = execution(home, proc)
        entered, exited = entered_and_exited(record["events"])
        assert entered == exited and entered[-1] == "Deploy"
        assert "Run DataBrew job" in entered and "Describe pipeline execution" in entered
        import pandas as pd

        from processing.churn_schema import load_schema

        features = load_schema("bank").feature_names
        row = pd.read_csv(BANK, nrows=1)[features].to_csv(index=False, header=False).strip()
        predicted = churn_cli(home, "predict", "--endpoint-name", "churn", "--csv", row)
        assert predicted.returncode == 0, predicted.stderr
        assert 0.0 <= float(predicted.stdout.split(",")[0]) <= 1.0
    finally:
        with churn_workspace(home) as ws:
            for endpoint in ws.hosting.list_endpoints():
                ws.hosting.delete_endpoint(endpoint["EndpointName"])


# -- jobs outside a pipeline ----------------------------------------------------------------

REQUEST_FIELDS = ("AlgorithmSpecification", "OutputDataConfig", "StoppingCondition",
                  "ResourceConfig", "RoleArn", "InputDataConfig", "HyperParameters")  # fmt: skip


def training_request(home):
    """The CreateTrainingJob request a pipeline run made (from its step cache)."""
    with churn_workspace(home) as ws:
        row = ws.sagemaker.db.execute(
            "SELECT properties FROM step_cache WHERE step = 'TrainModel' LIMIT 1").fetchone()  # fmt: skip
    return {k: v for k, v in json.loads(row["properties"]).items() if k in REQUEST_FIELDS}


def train_workflow(request):
    return {"StartAt": "Train", "States": {
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                  "Parameters": dict(request, **{"TrainingJobName.$": "$.name"}),
                  "ResultSelector": {"Model.$": "$.ModelArtifacts.S3ModelArtifacts",
                                     "Status.$": "$.TrainingJobStatus"},
                  # States.TaskFailed matches every error but a timeout: the API's refusals
                  # are caught first, so the job failures' cause (a description) is JSON.
                  "Catch": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "ResultPath": "$.error",
                             "Next": "Refused"},
                            {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error",
                             "Next": "Read failure"}], "End": True},
        "Refused": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        "Read failure": {"Type": "Pass", "Parameters": {"job.$": "States.StringToJson($.error.Cause)"},
                         "Next": "Training failed"},
        "Training failed": {"Type": "Fail", "Error": "TrainingFailed", "CausePath": "$.job.FailureReason"}}}  # fmt: skip


def create_machine(service, name, document):
    """CreateStateMachine through the code that creates the workflows, on AWS as here."""
    from pipelines.aws.stepfunctions import ensure_state_machine

    return ensure_state_machine(service, name, document, "arn:aws:iam::000000000000:role/Local")[0]


def run_machine(service, name, document, execution_input):
    """An execution of state machine `name` (created or updated from `document` first, unless
    None) to its end: its DescribeExecution."""
    from pipelines.aws.stepfunctions import find, follow, start

    arn = create_machine(service, name, document) if document else find(service, name)
    return follow(service, start(service, arn, execution_input), poll_seconds=0.02)


def test_a_training_job_runs_from_a_task_and_a_failing_one_ends_in_the_fail_state_with_its_reason(
    home,
):
    from pipelines.local.sfn_integrations import sagemaker_integrations
    from pipelines.local.stepfunctions.integrations import Integrations
    from pipelines.local.stepfunctions.service import StepFunctions

    request = training_request(home)
    with churn_workspace(home) as ws:
        service = StepFunctions(home, Integrations(sagemaker_integrations(ws.sagemaker, None)))
        done = run_machine(
            service, "train-only", train_workflow(request), {"name": "direct-train-1"}
        )
        assert done["status"] == "SUCCEEDED", done
        output = json.loads(done["output"])
        assert output["Status"] == "Completed" and ws.store.exists(output["Model"])
        again = run_machine(service, "train-only", None, {"name": "direct-train-1"})
        assert (
            again["error"] == "SageMaker.AmazonSageMakerException"
            and "must be unique" in again["cause"]
        )
        # A train channel of text where numbers belong: train.py's own message is the reason.
        ws.store.put_bytes("s3://churn-local/churn/bad-train/train.csv", b"yes,no\nmaybe,so\n")
        bad = json.loads(json.dumps(request))
        bad["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
            "s3://churn-local/churn/bad-train/"
        )
        failed = run_machine(service, "train-bad", train_workflow(bad), {"name": "direct-train-2"})
        assert failed["status"] == "FAILED" and failed["error"] == "TrainingFailed"
        from pipelines.local.sagemaker.job_api import Jobs  # the job's description agrees

        job = Jobs(ws.sagemaker).describe("Training", "direct-train-2")
        assert (
            job["TrainingJobStatus"] == "Failed" and failed["cause"] == job["FailureReason"] != ""
        )


def test_deploy_retries_an_account_limit_with_the_definitions_delays_time_injected(home):
    """CreateModel hits SageMaker.ResourceLimitExceededException twice (injected in front of
    the real local integration); the deploy definition's Retry waits at most 60 s then 120 s
    (FULL jitter), time recorded rather than slept, and the deployment then succeeds."""
    from test_stepfunctions_interpreter import RecordingClock

    from pipelines.local.sfn_integrations import sagemaker_integrations
    from pipelines.local.stepfunctions.errors import StatesError
    from pipelines.local.stepfunctions.integrations import Integrations
    from pipelines.local.stepfunctions.service import StepFunctions

    with churn_workspace(home) as ws:
        integrations = Integrations(sagemaker_integrations(ws.sagemaker, None))
        real, refusals = integrations.lookup("sagemaker:createModel"), []

        def limited(parameters, call):
            if len(refusals) < 2:
                refusals.append(call.context["State"]["RetryCount"])
                raise StatesError("SageMaker.ResourceLimitExceededException", "account limit")
            return real(parameters, call)

        integrations.register("sagemaker:createModel", limited)

        class PollingClock(RecordingClock):
            """Recorded time, and a little real time per sleep: the local endpoint comes up
            in real time while the poll loop's Waits pass in recorded time."""

            def sleep(self, seconds, cancelled=None):
                super().sleep(seconds, cancelled)
                time.sleep(min(seconds, 0.25))

        clock = PollingClock()
        service = StepFunctions(home, integrations, clock)
        settings = WorkflowSettings(endpoint_name="limited", monitor=False, endpoint_poll_seconds=1)
        create_machine(service, "deploy-limited", definition("deploy", settings))
        clock.sleeps.clear()
        done = run_machine(service, "deploy-limited", None, {"ModelPackageArn": approved_first(ws)})
        assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
        assert refusals == [0, 1]  # $$.State.RetryCount as the retries counted
        retry_waits = clock.sleeps[:2]
        assert 0 <= retry_waits[0] <= 60 and 0 <= retry_waits[1] <= 120
        events = describe(service, done["executionArn"])["events"]
        failed = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
        # then DescribeEndpoint's refusal of a missing endpoint, which routes to CreateEndpoint
        assert failed == ["SageMaker.ResourceLimitExceededException"] * 2 + [
            "SageMaker.ValidationException"
        ]
        ws.hosting.delete_endpoint("limited")


def approved_first(ws):
    approved = [p for p in ws.registry.list_packages() if p["ModelApprovalStatus"] == "Approved"]
    return min(approved, key=lambda p: p["ModelPackageVersion"])["ModelPackageArn"]


# -- direct: the guide's literal shape -------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_direct_trains_on_the_databrew_output_and_serves_prepared_rows(home, seed_csv, language):
    published = churn_cli(home, "databrew", "publish", "--data-url", seed_csv)
    assert published.returncode == 0, published.stderr
    endpoint = "direct" if language == "JSONPath" else "direct-jsonata"
    proc = workflow(home, "direct", {}, "--data", seed_csv, "--endpoint-name", endpoint,
                    *language_args(language))  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    record = execution(home, proc)
    entered, exited = entered_and_exited(record["events"])
    assert entered[:3] == ["Defaults", "Settings", "Run DataBrew job"]
    assert ["Train", "Create model", "Create endpoint config"] == [
        n for n in entered if n in ("Train", "Create model", "Create endpoint config")]  # fmt: skip
    assert entered[-1] == "Deployed" and entered == exited
    output = json.loads(record["output"])
    with churn_workspace(home) as ws:
        assert ws.store.exists(output["ModelDataUrl"])
        ((_, prepared),) = ws.store.objects("s3://churn-local/churn/databrew/prepared/").items()
    header, first = prepared.read_text().splitlines()[:2]
    features = [v for name, v in zip(header.split(","), first.split(",")) if name != "churn"]
    predicted = churn_cli(home, "predict", "--endpoint-name", endpoint, "--csv", ",".join(features))
    assert predicted.returncode == 0, predicted.stderr
    assert 0.0 <= float(predicted.stdout.split(",")[0]) <= 1.0
    same_outcome("direct: deployed", language, record, endpoint)
    if language == "JSONata":
        with churn_workspace(home) as ws:
            ws.hosting.delete_endpoint(endpoint)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_failing_training_job_ends_direct_in_its_fail_state_with_the_jobs_reason(home, language):
    if language == "JSONPath":  # the JSONata run runs the same job
        with churn_workspace(home) as ws:
            brew = ws.databrew
            brew.create_recipe(Name="no-label", Steps=[{"Action": {"Operation": "DELETE",
                                                                  "Parameters": {"sourceColumn": "churn"}}}])  # fmt: skip
            brew.publish_recipe(Name="no-label")
            brew.create_recipe_job(Name="no-label", DatasetName="churn-raw",
                                   RecipeReference={"Name": "no-label", "RecipeVersion": "1.0"},
                                   Outputs=[{"Location": {"Bucket": "churn-local", "Key": "churn/no-label/"},
                                             "Format": "CSV", "Overwrite": True}],
                                   RoleArn="arn:aws:iam::000000000000:role/DataBrew")  # fmt: skip
    proc = workflow(home, "direct", {"DataBrewJobName": "no-label"}, "--endpoint-name", "nolabel",
                    *language_args(language))  # fmt: skip
    assert proc.returncode == 1
    record = execution(home, proc)
    assert record["error"] == "TrainingJobFailed"
    assert "no column 'churn' (label_column)" in record["cause"]
    entered, _ = entered_and_exited(record["events"])
    assert entered[-2:] == ["Read training failure", "Training failed"]
    with churn_workspace(home) as ws:
        assert not ws.hosting.has_endpoint("nolabel")
    same_outcome("direct: the training job fails", language, record)


# -- names that become paths ------------------------------------------------------------------


def test_an_arn_or_name_that_climbs_out_of_the_home_reads_nothing(tmp_path):
    """`runs show` read any .json through '../' in the state machine part of an execution ARN.
    Step Functions names are 1-80 characters
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html);
    locally letters, digits, '-' and '_' (the set AWS asks for logging), checked wherever a
    name from an ARN or a flag becomes a path."""
    from botocore.exceptions import ClientError

    from pipelines.local.stepfunctions.integrations import Integrations
    from pipelines.local.stepfunctions.service import StepFunctions

    home = tmp_path / "home"
    for folder in ("executions", "state-machines"):  # a home that has run workflows
        (home / "stepfunctions" / folder).mkdir(parents=True)
    outside = tmp_path / "outside" / "secret.json"
    outside.parent.mkdir()
    content = '{"canary": "outside-the-home-7c1d", "events": [], "definition": "{}"}'
    outside.write_text(content)
    prefix = "arn:aws:states:us-east-1:000000000000:"
    for arn in (
        prefix + "execution:../../../outside:secret",
        prefix + "execution:churn-deploy:../../../outside/secret",
        prefix + "execution:churn-deploy:",
        prefix + "execution:%s:x" % ("m" * 81),
    ):
        proc = churn_cli(home, "workflow", "runs", "show", arn)
        assert proc.returncode == 1 and "outside-the-home" not in proc.stdout + proc.stderr, arn
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert "1-80 letters, digits, - and _" in proc.stderr, proc.stderr
    service = StepFunctions(home, Integrations())
    machine = prefix + "stateMachine:../../../outside/secret"
    for call in (
        lambda: service.describe_state_machine(stateMachineArn=machine),
        lambda: service.start_execution(stateMachineArn=machine),
        lambda: service.list_executions(stateMachineArn=prefix + "stateMachine:../../../outside"),
    ):
        with pytest.raises(ClientError, match="1-80 letters, digits, - and _") as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "InvalidName"
    assert outside.read_text() == content


def databrew_run(home, table, output_bucket=None, steps=DEDUPE):
    """StartJobRun of a job running `steps` (a dedupe by default) over `table` (CSV text), then
    DescribeJobRun polled until the run leaves RUNNING (at most 20 s): the run's description
    and the objects under its output prefix."""
    with churn_workspace(home) as ws:
        source = home.parent / "table.csv"
        source.write_text(table)
        bucket = dedupe_job(ws, source, "prepared/", output_bucket, steps)
        brew = ws.databrew
        run_id = brew.start_job_run(Name="prepare")["RunId"]
        deadline = time.time() + 20
        while True:
            described = brew.describe_job_run(Name="prepare", RunId=run_id)
            if described["State"] != "RUNNING" or time.time() > deadline:
                return described, ws.store.objects("s3://%s/prepared/" % bucket)


@pytest.mark.fast
def test_a_databrew_run_over_a_field_of_200_kb_succeeds(tmp_path):
    """A field over csv's 128 KB default killed the run's worker and the run stayed RUNNING.
    DataBrew documents no limit on a value's size
    (https://docs.aws.amazon.com/general/latest/gr/databrew.html lists its quotas; none is
    per cell), so the twin reads it."""
    big = "x" * 200_000
    described, written = databrew_run(
        tmp_path / "home", "id,note\n1,%s\n2,short\n1,%s\n" % (big, big)
    )
    assert described["State"] == "SUCCEEDED", described
    ((_, path),) = written.items()
    assert path.read_text() == "id,note\n1,%s\n2,short\n" % big  # the duplicate row went


@pytest.mark.fast
def test_any_failure_of_a_databrew_run_ends_it_failed_with_its_reason(tmp_path):
    """A run whose output cannot be written (a bucket name S3 refuses: the job's Outputs are
    checked only by length, https://docs.aws.amazon.com/databrew/latest/dg/API_S3Location.html)
    raised out of StartJobRun and left the run RUNNING forever. Any failure of a run ends it
    FAILED with an ErrorMessage (DescribeJobRun,
    https://docs.aws.amazon.com/databrew/latest/dg/API_DescribeJobRun.html)."""
    described, _ = databrew_run(tmp_path / "home", "id,note\n1,a\n", output_bucket="Not_A_Bucket")
    assert described["State"] == "FAILED", described
    assert "Not_A_Bucket" in described["ErrorMessage"] and "CompletedOn" in described


@pytest.mark.fast
def test_a_databrew_name_longer_than_a_file_name_is_a_validation_error(tmp_path):
    """A name from a workflow's input (DataBrewJobName) or a RunId becomes a file name: one of
    300 characters was an OSError ('File name too long'). DataBrew's names are at most 240
    (jobs) or 255 characters (https://docs.aws.amazon.com/databrew/latest/dg/API_DescribeJob.html);
    over that, or over a file name's 255 bytes locally, is a ValidationException. (Over the
    model's lengths, the model's check refuses first: test_databrew_api.py; here the names are
    within them, but of 2-byte characters, over a file name's bytes.)"""
    from botocore.exceptions import ClientError

    described, _ = databrew_run(tmp_path / "home", "id\n1\n")
    assert described["State"] == "SUCCEEDED"
    long_name = "\u00e9" * 200  # 200 characters, 400 bytes
    with churn_workspace(tmp_path / "home") as ws:
        for call in (
            lambda: ws.databrew.describe_job(Name=long_name),
            lambda: ws.databrew.describe_job_run(Name="prepare", RunId=long_name),
            lambda: ws.databrew.start_job_run(Name=long_name),
        ):
            with pytest.raises(ClientError, match="is not a DataBrew name") as refused:
                call()
            assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_databrew_run_whose_process_was_killed_ends_failed(tmp_path):
    """StartJobRun runs the job in the caller's process: a caller killed mid-run left the run
    RUNNING for good. DescribeJobRun finds its process gone and ends it FAILED, as DataBrew
    ends a run that cannot finish (https://docs.aws.amazon.com/databrew/latest/dg/API_DescribeJobRun.html)."""
    import signal
    import subprocess
    import sys

    home = tmp_path / "home"
    rows = "".join("%d,note %d\n" % (i, i % 97) for i in range(400_000))
    databrew_run(home, "id,note\n" + rows)  # creates the job; its run is not the one killed
    with churn_workspace(home) as ws:
        runs = ws.databrew.root / "runs"
        before = set(runs.iterdir())
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pipelines.workspace import Workspace\n"
         "with Workspace(sys.argv[1]) as ws: ws.databrew.start_job_run(Name='prepare')",
         str(home)],
        cwd=str(ROOT),
    )  # fmt: skip

    def new_runs():  # the run's record, not the temporary file of its atomic write
        return {p for p in runs.iterdir() if not p.name.startswith(".")} - before

    deadline = time.time() + 30
    while not new_runs() and time.time() < deadline:
        time.sleep(0.02)
    (started,) = new_runs()
    child.send_signal(signal.SIGKILL)
    child.wait()
    with churn_workspace(home) as ws:
        described = ws.databrew.describe_job_run(Name="prepare", RunId=started.stem)
    assert described["State"] == "FAILED", described
    assert "ended before" in described["ErrorMessage"] and "CompletedOn" in described
    assert not [k for k in described if k.startswith("_")], described


@pytest.mark.fast
def test_describe_recipe_without_a_version_answers_the_latest_published_one(tmp_path):
    """DescribeRecipe's RecipeVersion: "If this parameter isn't specified, then the latest
    published version is returned"
    (https://docs.aws.amazon.com/databrew/latest/dg/API_DescribeRecipe.html). The twin answered
    LATEST_WORKING, the unpublished edit."""
    from botocore.exceptions import ClientError

    fill = {"Action": {"Operation": "FILL_WITH_CUSTOM",
                       "Parameters": {"sourceColumn": "a", "value": "0"}}}  # fmt: skip
    with churn_workspace(tmp_path / "home") as ws:
        brew = ws.databrew
        brew.create_recipe(Name="r", Steps=[fill])
        with pytest.raises(ClientError) as unpublished:
            brew.describe_recipe(Name="r")
        assert unpublished.value.response["Error"]["Code"] == "ResourceNotFoundException"
        brew.publish_recipe(Name="r")
        brew.update_recipe(Name="r", Steps=[fill, fill])
        described = brew.describe_recipe(Name="r")
        assert (described["RecipeVersion"], described["Steps"]) == ("1.0", [fill])
        working = brew.describe_recipe(Name="r", RecipeVersion="LATEST_WORKING")
        assert working["Steps"] == [fill, fill]


@pytest.mark.fast
@pytest.mark.parametrize("operation", ["fill_with_custom", "FILL-WITH-CUSTOM", "FILL WITH"])
def test_an_operation_name_the_model_refuses_is_a_validation_exception(tmp_path, operation):
    """RecipeAction.Operation must match ^[A-Z\\_]+$
    (https://docs.aws.amazon.com/databrew/latest/dg/API_RecipeAction.html, botocore's databrew
    model); the twin upper-cased a lower-case name and replayed it, where DataBrew answers
    ValidationException at CreateRecipe and UpdateRecipe."""
    from botocore.exceptions import ClientError

    steps = [{"Action": {"Operation": operation,
                         "Parameters": {"sourceColumn": "a", "value": "0"}}}]  # fmt: skip
    good = [{"Action": {"Operation": "FILL_WITH_CUSTOM",
                        "Parameters": {"sourceColumn": "a", "value": "0"}}}]  # fmt: skip
    with churn_workspace(tmp_path / "home") as ws:
        with pytest.raises(ClientError, match="regular expression pattern") as created:
            ws.databrew.create_recipe(Name="r", Steps=steps)
        ws.databrew.create_recipe(Name="r", Steps=good)
        with pytest.raises(ClientError, match="regular expression pattern") as updated:
            ws.databrew.update_recipe(Name="r", Steps=steps)
    codes = [e.value.response["Error"]["Code"] for e in (created, updated)]
    assert codes == ["ValidationException"] * 2


def step(operation, conditions=None, **parameters):
    """A recipe step as CreateRecipe takes it."""
    return dict(
        {"Action": {"Operation": operation, "Parameters": parameters}},
        **({"ConditionExpressions": conditions} if conditions else {}),
    )


def prepared_text(home, table, steps):
    """The CSV a successful run of `steps` over `table` wrote."""
    described, written = databrew_run(home, table, steps=steps)
    assert described["State"] == "SUCCEEDED", described
    ((_, path),) = written.items()
    return path.read_text()


@pytest.mark.fast
@pytest.mark.parametrize("operation, kind", [("CHANGE_DATA_TYPE", "integer"),
                                             ("CAST_COLUMN_TYPE", "int")])  # fmt: skip
def test_a_column_cast_to_integer_is_written_as_integers(tmp_path, operation, kind):
    """CHANGE_DATA_TYPE to an integer type
    (https://docs.aws.amazon.com/databrew/latest/dg/recipe-actions.CHANGE_DATA_TYPE.html) made
    the job's CSV say 30.0 for 30: the twin wrote every number as a double. A missing value
    stays empty; a double column is still written as doubles."""
    steps = [step(operation, sourceColumn="age", columnDataType=kind),
             step("CHANGE_DATA_TYPE", sourceColumn="score", columnDataType="double")]  # fmt: skip
    text = prepared_text(tmp_path / "home", "id,age,score\n1,30,2\n2,,3.5\n3,41.0,\n", steps)
    assert text == "id,age,score\n1,30,2.0\n2,,3.5\n3,41,\n"


@pytest.mark.fast
def test_every_answer_of_the_databrew_twin_is_valid_against_botocores_output_shape(tmp_path):
    """Each answer is what boto3's client would hand back: valid against the operation's
    output shape in botocore's databrew model (the API reference's Response Syntax, e.g.
    https://docs.aws.amazon.com/databrew/latest/dg/API_DescribeJobRun.html), timestamps as
    datetimes. DescribeJobRun carried a Rows member the model does not have, and every date was
    a float of epoch seconds."""
    import datetime

    import boto3
    from botocore.stub import Stubber

    client = boto3.client("databrew", region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s")  # fmt: skip
    stubber = Stubber(client)
    model = client.meta.service_model
    answers = []

    def answered(method, **request):
        answer = getattr(brew, method)(**request)
        answers.append((method, answer))
        return answer

    with churn_workspace(tmp_path / "home") as ws:
        source = tmp_path / "table.csv"
        source.write_text("id,age\n1,30\n1,30\n")
        uri = ws.staging.stage_data(str(source), "databrew-input")
        bucket, key = uri[len("s3://") :].split("/", 1)
        brew = ws.databrew
        location = {"S3InputDefinition": {"Bucket": bucket, "Key": key}}
        answered("create_dataset", Name="raw", Input=location)
        answered("update_dataset", Name="raw", Input=location)
        answered("describe_dataset", Name="raw")
        answered("create_recipe", Name="r", Steps=DEDUPE)
        answered("update_recipe", Name="r", Steps=DEDUPE)
        answered("publish_recipe", Name="r")
        answered("describe_recipe", Name="r")
        answered("describe_recipe", Name="r", RecipeVersion="LATEST_WORKING")
        answered("create_recipe_job", Name="j", DatasetName="raw",
                 RecipeReference={"Name": "r", "RecipeVersion": "1.0"},
                 Outputs=[{"Location": {"Bucket": bucket, "Key": "out/"}}],
                 RoleArn="arn:aws:iam::000000000000:role/DataBrew")  # fmt: skip
        answered("describe_job", Name="j")
        run_id = answered("start_job_run", Name="j")["RunId"]
        described = answered("describe_job_run", Name="j", RunId=run_id)
        while described["State"] == "RUNNING":  # StartJobRun answers before the run ends
            time.sleep(0.02)
            described = answered("describe_job_run", Name="j", RunId=run_id)
        answered("delete_job", Name="j")
    assert described["State"] == "SUCCEEDED", described
    for method, answer in answers:
        stubber.add_response(method, answer)  # raises ParamValidationError when invalid
        shape = model.operation_model(client.meta.method_to_api_mapping[method]).output_shape
        for name, member in shape.members.items():
            if member.type_name == "timestamp" and name in answer:
                assert isinstance(answer[name], datetime.datetime), (method, name, answer[name])
                assert answer[name].tzinfo is not None, (method, name)
    assert {"CreateDate"} <= set(dict(answers)["describe_dataset"])
    assert {"StartedOn", "CompletedOn"} <= set(described)


@pytest.mark.fast
def test_a_dataset_naming_a_column_twice_fails_the_run_naming_it(tmp_path):
    """A header naming a column twice kept only its second column's values, without a word.
    DataBrew's CSV reading (https://docs.aws.amazon.com/databrew/latest/dg/API_CsvOptions.html)
    documents nothing for it, so the run fails (DescribeJobRun's ErrorMessage,
    https://docs.aws.amazon.com/databrew/latest/dg/API_DescribeJobRun.html) naming the column."""
    described, written = databrew_run(tmp_path / "home", "id,age,age\n1,30,31\n")
    assert described["State"] == "FAILED", described
    assert "'age'" in described["ErrorMessage"] and "twice" in described["ErrorMessage"]
    assert not written


@pytest.mark.fast
def test_a_scaling_whose_bounds_overflow_fails_the_run_naming_the_column(tmp_path):
    """NORMALIZATION (https://docs.aws.amazon.com/databrew/latest/dg/recipe-actions.NORMALIZATION.html)
    of a column whose range overflows a double (max - min = inf) made every value NaN: the
    column came out blank. DataBrew documents nothing for it; the run fails naming the
    column."""
    steps = [step("CHANGE_DATA_TYPE", sourceColumn="x", columnDataType="double"),
             step("NORMALIZATION", sourceColumn="x", strategy="MIN_MAX")]  # fmt: skip
    described, written = databrew_run(tmp_path / "home", "x\n1e308\n-1e308\n0\n", steps=steps)
    assert described["State"] == "FAILED", described
    assert "'x'" in described["ErrorMessage"] and "finite" in described["ErrorMessage"]
    assert not written


@pytest.mark.fast
@pytest.mark.parametrize("value", ["-1", "0", "ten"])
def test_a_max_categories_that_is_not_a_positive_count_is_refused(tmp_path, value):
    """ONE_HOT_ENCODING takes sourceColumn only
    (https://docs.aws.amazon.com/databrew/latest/dg/recipe-actions.ONE_HOT_ENCODING.html);
    the twin's maxCategories (how many of the most frequent values get a column) of -1 kept all
    but the last category, silently. A value that is not a positive count is refused by name
    at CreateRecipe."""
    from botocore.exceptions import ClientError

    steps = [step("ONE_HOT_ENCODING", sourceColumn="plan", maxCategories=value)]
    with churn_workspace(tmp_path / "home") as ws:
        with pytest.raises(ClientError, match="maxCategories") as refused:
            ws.databrew.create_recipe(Name="r", Steps=steps)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.fast
def test_a_steps_conditions_choose_the_rows_it_changes(tmp_path):
    """ "The action is only performed for column values where the condition evaluates to true",
    every condition of a step combined with AND
    (https://docs.aws.amazon.com/databrew/latest/dg/API_ConditionExpression.html,
    https://docs.aws.amazon.com/databrew/latest/dg/API_RecipeStep.html). The twin ignored
    ConditionExpressions: a fill meant for the rows of Paris filled Rome's too."""
    paris = [{"Condition": "IS", "Value": '["Paris"]', "TargetColumn": "city"}]
    steps = [
        step("FILL_WITH_CUSTOM", paris, sourceColumn="note", value="x"),
        step(
            "REMOVE_MISSING",
            [{"Condition": "STARTS_WITH", "Value": "Ro", "TargetColumn": "city"}],
            sourceColumn="note",
        ),  # fmt: skip
    ]
    table = "city,note\nParis,\nRome,\nParis,a\nRoma,b\nLyon,\n"
    assert prepared_text(tmp_path / "home", table, steps) == (
        "city,note\nParis,x\nParis,a\nRoma,b\nLyon,\n"
    )


@pytest.mark.fast
def test_a_condition_the_twin_cannot_evaluate_is_refused_by_name(tmp_path):
    """A condition (https://docs.aws.amazon.com/databrew/latest/dg/API_ConditionExpression.html)
    the twin does not evaluate, or a condition on an operation whose conditional meaning it
    does not replay, is refused at CreateRecipe by name: it used to be ignored, the step applied
    to every row."""
    from botocore.exceptions import ClientError

    refused = {
        "IS_INVALID": [step("FILL_WITH_CUSTOM", [{"Condition": "IS_INVALID", "Value": "[]",
                                                  "TargetColumn": "a"}],
                            sourceColumn="a", value="0")],
        "FILL_WITH_MEDIAN": [step("FILL_WITH_MEDIAN", [{"Condition": "IS_MISSING",
                                                        "TargetColumn": "b"}],
                                  sourceColumn="a")],
        "IS": [step("FILL_WITH_CUSTOM", [{"Condition": "IS", "Value": "Paris",
                                          "TargetColumn": "a"}], sourceColumn="a", value="0")],
    }  # fmt: skip
    with churn_workspace(tmp_path / "home") as ws:
        for name, steps in refused.items():
            with pytest.raises(ClientError, match=name) as error:
                ws.databrew.create_recipe(Name="r", Steps=steps)
            assert error.value.response["Error"]["Code"] == "ValidationException"


def test_start_job_run_answers_before_the_run_ends(tmp_path):
    """StartJobRun "Runs a DataBrew job" and answers its RunId
    (https://docs.aws.amazon.com/databrew/latest/dg/API_StartJobRun.html); the run's state is
    DescribeJobRun's to tell, RUNNING until it ends. The twin used to run the job to its end
    inside StartJobRun."""
    home = tmp_path / "home"
    rows = "".join("%d,note %d\n" % (i, i % 97) for i in range(400_000))
    databrew_run(home, "id,note\n" + rows)  # creates the job
    with churn_workspace(home) as ws:
        started = time.time()
        run_id = ws.databrew.start_job_run(Name="prepare")["RunId"]
        answered = time.time() - started
        first = ws.databrew.describe_job_run(Name="prepare", RunId=run_id)
        while True:
            described = ws.databrew.describe_job_run(Name="prepare", RunId=run_id)
            if described["State"] != "RUNNING":
                break
            time.sleep(0.02)
        took = time.time() - started
    assert first["State"] == "RUNNING" and described["State"] == "SUCCEEDED", described
    assert answered < took / 4, (answered, took)
