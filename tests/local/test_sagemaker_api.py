"""The SageMaker twin is boto3's `sagemaker` client for the model registry, pipelines and jobs
(docs/adr/0011): each operation as the API reference documents it, refusals as ClientErrors
with SageMaker's codes, and one registry scenario through pipelines/aws/registry.py that runs
against a moto server and against the twin with the same observable result. Every answer the
twin gives here is checked against its output shape (CHURN_CHECK_ANSWERS, tests/conftest.py).

The refusals' codes: the API reference models no error for DescribeModelPackage,
CreateModelPackageGroup's taken name or CreateModelPackage's missing group; SageMaker answers
them ValidationException, and so does moto (moto/sagemaker/models.py: "Model package ... not
found", "Model Package Group does not exist."). DescribePipelineExecution, ListPipelineExecutions,
ListPipelineExecutionSteps, DescribePipeline and DescribeTrainingJob (and its kin) model
ResourceNotFound (API_DescribePipelineExecution.html#API_DescribePipelineExecution_Errors, ...).
sagemaker is a JSON-protocol service whose model gives its errors no status: 400.

moto (5.x) has CreateModelPackageGroup, DescribeModelPackageGroup, ListModelPackageGroups,
CreateModelPackage, DescribeModelPackage, ListModelPackages and UpdateModelPackage, so the
scenario compares all of pipelines/aws/registry.py. What moto answers differently is not
compared: it leaves ModelPackageName (a required member) out of a versioned package's
description, and its update_model_package drops CustomerMetadataProperties it is not given.
"""

import datetime
import uuid

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from pipelines.aws.registry import (
    drift_baselines,
    find_package,
    latest_approved,
    list_versions,
    require_approved,
    set_approval,
)
from pipelines.errors import ModelSourceError, RegistryError
from pipelines.local.sagemaker.api import SageMakerClient
from pipelines.local.sagemaker.backend import SageMakerBackend
from pipelines.local.sagemaker.engine import run_definition

from conftest import aws_client

CONTAINER = {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1", "ModelDataUrl": "s3://b/model.tar.gz"}  # fmt: skip
INFERENCE = {
    "Containers": [CONTAINER],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}
BASELINES = {
    "ModelDataQuality": {
        "Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/statistics.json"},
        "Constraints": {"ContentType": "application/json", "S3Uri": "s3://b/constraints.json"},
    }
}


@pytest.fixture
def backend(tmp_path):
    b = SageMakerBackend(tmp_path / "home")
    yield b
    b.close()


@pytest.fixture
def sm(backend):
    return SageMakerClient(backend)


def refusal(call):
    with pytest.raises(ClientError) as refused:
        call()
    answer = refused.value.response
    return answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"], str(refused.value)


def register(sm, group, **fields):
    return sm.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=INFERENCE, **fields
    )["ModelPackageArn"]


# -- one scenario, moto and the twin ---------------------------------------------------------


def scenario(sm, group):
    """A group, three versions (the second with a baseline), approvals through
    pipelines/aws/registry.py: what a caller sees, without the account, region and times."""
    sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription="t")
    for fields in ({}, {"DriftCheckBaselines": BASELINES}, {}):
        register(sm, group, ModelApprovalStatus="PendingManualApproval", **fields)
    pending = find_package(sm, "%s/2" % group, None)
    with pytest.raises(ModelSourceError) as gate:
        require_approved(pending)
    with pytest.raises(RegistryError) as none_approved:
        latest_approved(sm, group)
    approved = set_approval(sm, "2", "Approved", "looks good", group)
    set_approval(sm, "%s/3" % group, "Rejected", None)
    newest = find_package(sm, None, group)
    versions = list_versions(sm, group)
    by_arn = find_package(sm, newest["ModelPackageArn"], None)
    with pytest.raises(RegistryError) as missing:
        find_package(sm, "9", group)
    arn = newest["ModelPackageArn"].split(":")
    return {
        "gate": str(gate.value),
        # what follows names other groups with Approved versions: the moto server's other tests'
        "none approved": str(none_approved.value).split(":")[0],
        "approved": (approved["ModelApprovalStatus"], approved["ApprovalDescription"]),
        "newest approved": (newest["ModelPackageGroupName"], newest["ModelPackageVersion"]),
        "by arn is the same": by_arn["ModelPackageArn"] == newest["ModelPackageArn"],
        "arn shape": arn[:3] + arn[5:],
        "versions": [(p["ModelPackageVersion"], p["ModelApprovalStatus"]) for p in versions],
        "baselines": [drift_baselines(p) for p in versions],
        "times are datetimes": all(
            isinstance(p["CreationTime"], datetime.datetime) for p in versions
        ),
        "missing": str(missing.value).split(" (registered")[0],
        "inference": newest["InferenceSpecification"]["Containers"][0]["ModelDataUrl"],
    }


def test_one_registry_scenario_through_the_same_code_against_moto_and_the_twin(aws_env, sm):
    group = "scenario-%s" % uuid.uuid4().hex[:8]  # the moto server lives for the session
    on_moto = scenario(aws_client("sagemaker", aws_env), group)
    assert scenario(sm, group) == on_moto
    assert on_moto["versions"] == [(1, "PendingManualApproval"), (2, "Approved"), (3, "Rejected")]
    assert on_moto["baselines"] == [
        None,
        ("s3://b/statistics.json", "s3://b/constraints.json"),
        None,
    ]
    assert on_moto["arn shape"] == ["arn", "aws", "sagemaker", "model-package/%s/2" % group]
    assert "%s/2 is PendingManualApproval, not Approved" % group in on_moto["gate"]
    assert "--allow-unapproved" in on_moto["gate"]
    assert on_moto["none approved"] == "no Approved model version in group %s" % group
    assert on_moto["missing"] == "no model version 9 in group %s" % group


# -- model package groups ---------------------------------------------------------------------


@pytest.mark.fast
def test_create_and_describe_a_model_package_group_and_a_taken_name_is_refused(sm):
    """API_CreateModelPackageGroup, API_DescribeModelPackageGroup: the group's ARN,
    description, status Completed; a name taken, or a group there is not, is a
    ValidationException."""
    arn = sm.create_model_package_group(
        ModelPackageGroupName="Churn-Seed", ModelPackageGroupDescription="the seed table"
    )["ModelPackageGroupArn"]
    assert arn.endswith(":model-package-group/churn-seed")  # names lower-case in ARNs
    described = sm.describe_model_package_group(ModelPackageGroupName="Churn-Seed")
    assert described["ModelPackageGroupArn"] == arn
    assert described["ModelPackageGroupDescription"] == "the seed table"
    assert described["ModelPackageGroupStatus"] == "Completed"
    assert isinstance(described["CreationTime"], datetime.datetime)
    code, status, _ = refusal(
        lambda: sm.create_model_package_group(ModelPackageGroupName="Churn-Seed")
    )
    assert (code, status) == ("ValidationException", 400)
    code, status, text = refusal(
        lambda: sm.describe_model_package_group(ModelPackageGroupName="nobody")
    )
    assert (code, status) == ("ValidationException", 400) and "does not exist" in text
    code, _, text = refusal(lambda: sm.create_model_package_group(ModelPackageGroupName="-bad-"))
    assert code == "ValidationException" and "modelPackageGroupName" in text


@pytest.mark.fast
def test_list_model_package_groups_sorts_filters_and_pages(sm):
    """API_ListModelPackageGroups: NameContains, SortBy Name or CreationTime, SortOrder,
    MaxResults with NextToken (botocore's paginator over them)."""
    for name in ("b-churn", "a-churn", "c-other"):
        sm.create_model_package_group(ModelPackageGroupName=name)
    listed = sm.list_model_package_groups(SortBy="Name", SortOrder="Descending")
    names = [g["ModelPackageGroupName"] for g in listed["ModelPackageGroupSummaryList"]]
    assert names == ["c-other", "b-churn", "a-churn"] and "NextToken" not in listed
    churn = sm.list_model_package_groups(NameContains="churn", SortBy="Name")
    assert [g["ModelPackageGroupName"] for g in churn["ModelPackageGroupSummaryList"]] == [
        "a-churn",
        "b-churn",
    ]
    pages = list(
        sm.get_paginator("list_model_package_groups").paginate(SortBy="Name", MaxResults=2)
    )
    assert [len(p["ModelPackageGroupSummaryList"]) for p in pages] == [2, 1]
    assert "NextToken" in pages[0] and "NextToken" not in pages[1]


# -- model packages ---------------------------------------------------------------------------


@pytest.mark.fast
def test_create_model_package_versions_a_group_that_exists(sm):
    """API_CreateModelPackage: with ModelPackageGroupName the package is a version of that
    group, numbered from 1; the group must exist; ModelPackageName and ModelPackageGroupName
    together, or neither, are refused (ValidationException, as SageMaker and moto answer)."""
    code, _, text = refusal(lambda: register(sm, "missing"))
    assert code == "ValidationException" and "does not exist" in text
    sm.create_model_package_group(ModelPackageGroupName="g")
    assert register(sm, "g").endswith(":model-package/g/1")
    assert register(sm, "g").endswith(":model-package/g/2")
    both = lambda: sm.create_model_package(ModelPackageGroupName="g", ModelPackageName="p")
    assert refusal(both)[0] == "ValidationException"
    assert refusal(lambda: sm.create_model_package(InferenceSpecification=INFERENCE))[0] == (
        "ValidationException"
    )
    bad_status = lambda: register(sm, "g", ModelApprovalStatus="Maybe")
    code, _, text = refusal(bad_status)
    assert code == "ValidationException" and "modelApprovalStatus" in text
    with pytest.raises(ParamValidationError):  # boto3 refuses it before sending
        sm.create_model_package(ModelPackageGroupName="g", CertifyForMarketplace="yes")


@pytest.mark.fast
def test_describe_model_package_by_arn_or_group_and_number(sm):
    """API_DescribeModelPackage: ModelPackageName is a name or ARN, for a versioned package
    GROUP/NUMBER or its ARN; the answer carries the request's members that are the output
    shape's (and none that are not: Tags, ClientToken), status Completed, times as datetimes.
    A package there is not is a ValidationException ("Model package ... not found")."""
    sm.create_model_package_group(ModelPackageGroupName="g")
    arn = register(
        sm,
        "g",
        ModelApprovalStatus="Approved",
        DriftCheckBaselines=BASELINES,
        CustomerMetadataProperties={"schema": "seed"},
        Tags=[{"Key": "k", "Value": "v"}],
    )
    by_arn = sm.describe_model_package(ModelPackageName=arn)
    by_name = sm.describe_model_package(ModelPackageName="g/1")
    assert by_arn == by_name
    assert (by_arn["ModelPackageGroupName"], by_arn["ModelPackageVersion"]) == ("g", 1)
    assert (
        by_arn["ModelApprovalStatus"] == "Approved" and by_arn["ModelPackageStatus"] == "Completed"
    )
    assert by_arn["CustomerMetadataProperties"] == {"schema": "seed"}
    assert drift_baselines(by_arn) == ("s3://b/statistics.json", "s3://b/constraints.json")
    assert "Tags" not in by_arn and isinstance(by_arn["LastModifiedTime"], datetime.datetime)
    for name in ("g/2", arn[: -len("1")] + "7", "nobody/1"):
        code, status, text = refusal(lambda n=name: sm.describe_model_package(ModelPackageName=n))
        assert (code, status) == ("ValidationException", 400) and "not found" in text


@pytest.mark.fast
def test_list_model_packages_filters_sorts_and_pages_through_botocores_paginator(sm):
    """API_ListModelPackages: ModelPackageGroupName (name or ARN) lists its versions;
    ModelApprovalStatus filters; SortBy CreationTime (default) with SortOrder (Ascending by
    default); MaxResults and NextToken page, as botocore's paginator drives them. Without a
    group the default ModelPackageType is UNVERSIONED ("This is the default value if no
    ModelPackageType is specified"), of which the twin keeps none; Both lists every version."""
    group_arn = sm.create_model_package_group(ModelPackageGroupName="g")["ModelPackageGroupArn"]
    sm.create_model_package_group(ModelPackageGroupName="h")
    for status in ("Approved", "Rejected", "Approved", "PendingManualApproval"):
        register(sm, "g", ModelApprovalStatus=status)
    register(sm, "h")

    def versions(**request):
        listed = sm.list_model_packages(**request)["ModelPackageSummaryList"]
        return [(p["ModelPackageGroupName"], p["ModelPackageVersion"]) for p in listed]

    assert versions(ModelPackageGroupName="g") == [("g", n) for n in (1, 2, 3, 4)]
    assert versions(ModelPackageGroupName=group_arn, ModelApprovalStatus="Approved") == [
        ("g", 1),
        ("g", 3),
    ]
    newest = versions(ModelPackageGroupName="g", SortOrder="Descending", MaxResults=1)
    assert newest == [("g", 4)]
    assert versions() == [] and len(versions(ModelPackageType="Both")) == 5
    pages = list(
        sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName="g", MaxResults=3)
    )
    assert [
        [p["ModelPackageVersion"] for p in page["ModelPackageSummaryList"]] for page in pages
    ] == [
        [1, 2, 3],
        [4],
    ]
    summary = pages[0]["ModelPackageSummaryList"][0]
    assert set(summary) <= {
        "ModelPackageName",
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelPackageArn",
        "ModelPackageDescription",
        "CreationTime",
        "ModelPackageStatus",
        "ModelApprovalStatus",
    }
    assert refusal(lambda: sm.list_model_packages(NextToken="not a token"))[0] == (
        "ValidationException"
    )


@pytest.mark.fast
def test_update_model_package_sets_the_approval_its_description_and_metadata(sm):
    """API_UpdateModelPackage: ModelApprovalStatus, ApprovalDescription and
    CustomerMetadataProperties change; LastModifiedTime moves; the answer is the ARN. A
    package there is not is a ValidationException; a status not in the enum too. The twin's
    own ARNs (region `local`) pass the ModelPackageArn pattern."""
    sm.create_model_package_group(ModelPackageGroupName="g")
    arn = register(sm, "g", CustomerMetadataProperties={"schema": "seed"})
    before = sm.describe_model_package(ModelPackageName=arn)
    answer = sm.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="AUC 0.91",
        CustomerMetadataProperties={"reviewer": "ana"},
    )
    assert answer == {"ModelPackageArn": arn}
    after = sm.describe_model_package(ModelPackageName=arn)
    assert (after["ModelApprovalStatus"], after["ApprovalDescription"]) == ("Approved", "AUC 0.91")
    assert after["CustomerMetadataProperties"] == {"schema": "seed", "reviewer": "ana"}
    assert after["LastModifiedTime"] >= before["LastModifiedTime"]
    missing = arn[: -len("1")] + "5"
    code, _, text = refusal(
        lambda: sm.update_model_package(ModelPackageArn=missing, ModelApprovalStatus="Approved")
    )
    assert code == "ValidationException" and "not found" in text
    code, _, text = refusal(
        lambda: sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Fine")
    )
    assert code == "ValidationException" and "modelApprovalStatus" in text


# -- the one registry path's refusals ---------------------------------------------------------


@pytest.mark.fast
def test_find_package_says_what_there_is_and_the_one_approval_gate(sm):
    """pipelines/aws/registry.py: a number names a version of the only group there is;
    with several groups it needs one; a version there is not lists those there are; a ref that
    is not a number says what to give. require_approved is the one gate and wording."""
    sm.create_model_package_group(ModelPackageGroupName="g")
    register(sm, "g")
    assert find_package(sm, "1", None)["ModelPackageGroupName"] == "g"
    sm.create_model_package_group(ModelPackageGroupName="h")
    register(sm, "h", ModelApprovalStatus="Approved")
    with pytest.raises(RegistryError, match=r"several model package groups \(g, h\)"):
        find_package(sm, "1", None)
    with pytest.raises(
        RegistryError, match=r"no model version 4 in group g \(registered: g/1, h/1\)"
    ):
        find_package(sm, "g/4", None)
    with pytest.raises(RegistryError, match="give a version number, group/number or an ARN"):
        find_package(sm, "g/latest", None)
    with pytest.raises(RegistryError, match="Approved versions are in h: .* --group h"):
        find_package(sm, None, "g", "under /home")
    pending = find_package(sm, "g/1", None)
    with pytest.raises(ModelSourceError, match="g/1 is PendingManualApproval, not Approved"):
        require_approved(pending)
    require_approved(pending, allow_unapproved=True)
    require_approved(find_package(sm, None, "h"))
    assert set_approval(sm, "g/1", "Rejected", "worse")["ApprovalDescription"] == "worse"
    with pytest.raises(RegistryError, match="is not one of"):
        set_approval(sm, "g/1", "Maybe")


# -- pipelines and their executions -----------------------------------------------------------

CHECK_THEN_FAIL = {
    "Version": "2020-12-01",
    "Parameters": [{"Name": "N", "Type": "Integer", "DefaultValue": 1}],
    "Steps": [
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {"Type": "Equals", "LeftValue": {"Get": "Parameters.N"}, "RightValue": 1}
                ],
                "IfSteps": [],
                "ElseSteps": [
                    {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "N is not 1"}}
                ],
            },
        }
    ],
}


def test_pipeline_executions_read_from_the_local_records(backend, sm):
    """API_DescribePipelineExecution, API_ListPipelineExecutions (newest first by default),
    API_ListPipelineExecutionSteps (a Condition's Outcome True/False), API_DescribePipeline and
    API_ListPipelines: a pipeline is known by its executions here. An execution or pipeline
    there is not is ResourceNotFound."""
    home = backend.home
    ok = run_definition(home, CHECK_THEN_FAIL, "Probe", {"N": 1})
    failed = run_definition(home, CHECK_THEN_FAIL, "Probe", {"N": 2})
    described = sm.describe_pipeline_execution(PipelineExecutionArn=failed["PipelineExecutionArn"])
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "N is not 1" in described["FailureReason"]
    assert described["PipelineArn"].endswith(":pipeline/probe")
    assert described["LastModifiedTime"] >= described["CreationTime"]
    listed = sm.list_pipeline_executions(PipelineName="Probe")["PipelineExecutionSummaries"]
    assert [e["PipelineExecutionArn"] for e in listed] == [
        failed["PipelineExecutionArn"],
        ok["PipelineExecutionArn"],
    ]
    assert [e["PipelineExecutionStatus"] for e in listed] == ["Failed", "Succeeded"]
    steps = sm.list_pipeline_execution_steps(
        PipelineExecutionArn=failed["PipelineExecutionArn"], SortOrder="Ascending"
    )["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [
        ("Check", "Succeeded"),
        ("Stop", "Failed"),
    ]
    assert steps[0]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert steps[1]["Metadata"] == {"Fail": {"ErrorMessage": "N is not 1"}}
    pipeline = sm.describe_pipeline(PipelineName="Probe")
    assert pipeline["PipelineName"] == "Probe" and pipeline["PipelineStatus"] == "Active"
    assert '"Check"' in pipeline["PipelineDefinition"]
    assert [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]] == ["Probe"]
    missing = failed["PipelineExecutionArn"].rsplit("/", 1)[0] + "/000000000000"
    for call in (
        lambda: sm.describe_pipeline_execution(PipelineExecutionArn=missing),
        lambda: sm.list_pipeline_execution_steps(PipelineExecutionArn=missing),
        lambda: sm.list_pipeline_executions(PipelineName="Nobody"),
        lambda: sm.describe_pipeline(PipelineName="Nobody"),
    ):
        assert refusal(call)[:2] == ("ResourceNotFound", 400)


def test_start_pipeline_execution_goes_through_the_injected_starter(backend):
    """API_StartPipelineExecution: the parameters reach the starter as {name: value}; boto3
    fills ClientRequestToken (an idempotency token) when the caller does not. A client given no
    starter knows no pipeline: ResourceNotFound."""
    started = []

    def start(name, parameters):
        started.append((name, parameters))
        return "arn:aws:sagemaker:local:000000000000:pipeline/%s/execution/abc" % name.lower()

    sm = SageMakerClient(backend, start)
    answer = sm.start_pipeline_execution(
        PipelineName="ChurnPipeline",
        PipelineParameters=[{"Name": "InputDataUrl", "Value": "s3://b/x.csv"}],
    )
    assert answer == {
        "PipelineExecutionArn": "arn:aws:sagemaker:local:000000000000:pipeline/churnpipeline/execution/abc"
    }
    assert started == [("ChurnPipeline", {"InputDataUrl": "s3://b/x.csv"})]
    code, _, _ = refusal(
        lambda: SageMakerClient(backend).start_pipeline_execution(PipelineName="P")
    )
    assert code == "ResourceNotFound"


@pytest.mark.fast
def test_jobs_there_are_not_are_resource_not_found_and_requests_are_botocores(sm):
    """API_DescribeTrainingJob, API_DescribeProcessingJob, API_DescribeTransformJob model
    ResourceNotFound for a job there is not; a request missing a required member is refused
    as boto3 refuses it (ParamValidationError)."""
    for kind in ("training", "processing", "transform"):
        describe = getattr(sm, "describe_%s_job" % kind)
        name = "%sJobName" % kind.capitalize()
        assert refusal(lambda d=describe, n=name: d(**{n: "nobody"}))[:2] == (
            "ResourceNotFound",
            400,
        )
    with pytest.raises(ParamValidationError):
        sm.create_training_job(TrainingJobName="t")
