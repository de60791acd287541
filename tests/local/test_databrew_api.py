"""The DataBrew twin is boto3's `databrew` client (docs/adr/0011): its calls, answers and error
codes are the API's, from the API reference
(https://docs.aws.amazon.com/databrew/latest/dg/API_Operations.html) and botocore's model; every
answer is checked against its output shape while the suite runs (CHURN_CHECK_ANSWERS,
tests/conftest.py). And one scenario through pipelines/aws/databrew.py (publish) runs against a
moto server and against the twin with the same observable result. moto has no StartJobRun or
DescribeJobRun, so runs are not in the scenario (tests/end_to_end/test_workflows.py runs them on
the twin, tests/aws/test_workflows_aws.py drives run_job with botocore's Stubber)."""

import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from pipelines.aws.databrew import publish
from pipelines.churn.databrew import databrew_requests
from pipelines.local.databrew.service import DataBrew
from pipelines.local.s3 import Store
from processing.churn_schema import load_schema

from conftest import aws_client, churn_cli

MODEL = botocore.session.get_session().get_service_model("databrew")
ROLE = "arn:aws:iam::123456789012:role/churn-databrew"
DEDUPE = [{"Action": {"Operation": "DELETE_DUPLICATE_ROWS", "Parameters": {}}}]
INPUT = {"S3InputDefinition": {"Bucket": "churn-in", "Key": "raw/table.csv"}}
OUTPUTS = [{"Location": {"Bucket": "churn-out", "Key": "prepared/"}, "Format": "CSV"}]


@pytest.fixture
def brew(tmp_path):
    return DataBrew(tmp_path / "home", Store(tmp_path / "home"))


def refusal(call):
    """(code, HTTP status) of the ClientError `call` raises; the code must be one the
    operation's documented errors hold (botocore's model: each operation's Errors in the API
    reference), with the status documented for it."""
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value
    code = error.response["Error"]["Code"]
    status = error.response["ResponseMetadata"]["HTTPStatusCode"]
    documented = {
        shape.name: shape.metadata["error"]["httpStatusCode"]
        for shape in MODEL.operation_model(error.operation_name).error_shapes
    }
    assert documented.get(code) == status, (error.operation_name, code, status, documented)
    return code, status


def with_job(brew):
    brew.create_dataset(Name="raw", Input=INPUT)
    brew.create_recipe(Name="dedupe", Steps=DEDUPE)
    brew.publish_recipe(Name="dedupe")
    brew.create_recipe_job(Name="prepare", DatasetName="raw", Outputs=OUTPUTS, RoleArn=ROLE,
                           RecipeReference={"Name": "dedupe", "RecipeVersion": "1.0"})  # fmt: skip


@pytest.mark.fast
def test_a_missing_dataset_recipe_job_or_run_is_resource_not_found(brew):
    """ResourceNotFoundException, HTTP 404: DescribeDataset, UpdateDataset
    (API_DescribeDataset.html, API_UpdateDataset.html), DescribeRecipe (a missing recipe or
    version), UpdateRecipe, PublishRecipe (API_DescribeRecipe.html, API_UpdateRecipe.html,
    API_PublishRecipe.html), CreateRecipeJob over a missing dataset or recipe
    (API_CreateRecipeJob.html), DescribeJob, DeleteJob, StartJobRun (API_DescribeJob.html,
    API_DeleteJob.html, API_StartJobRun.html), DescribeJobRun of a missing run
    (API_DescribeJobRun.html)."""
    with_job(brew)
    missing = [
        lambda: brew.describe_dataset(Name="nope"),
        lambda: brew.update_dataset(Name="nope", Input=INPUT),
        lambda: brew.describe_recipe(Name="nope"),
        lambda: brew.describe_recipe(Name="dedupe", RecipeVersion="9.0"),
        lambda: brew.update_recipe(Name="nope", Steps=DEDUPE),
        lambda: brew.publish_recipe(Name="nope"),
        lambda: brew.create_recipe_job(Name="j2", DatasetName="nope", Outputs=OUTPUTS,
                                       RoleArn=ROLE, RecipeReference={"Name": "dedupe"}),
        lambda: brew.create_recipe_job(Name="j2", DatasetName="raw", Outputs=OUTPUTS,
                                       RoleArn=ROLE, RecipeReference={"Name": "nope"}),
        lambda: brew.describe_job(Name="nope"),
        lambda: brew.delete_job(Name="nope"),
        lambda: brew.start_job_run(Name="nope"),
        lambda: brew.describe_job_run(Name="prepare", RunId="db_nope"),
    ]  # fmt: skip
    assert [refusal(call) for call in missing] == [("ResourceNotFoundException", 404)] * 12
    assert brew.describe_job(Name="prepare")["Name"] == "prepare"  # the job was there all along


@pytest.mark.fast
def test_a_run_is_found_only_under_its_own_job(brew, tmp_path):
    """DescribeJobRun takes the job's name and the run's id (API_DescribeJobRun.html): another
    job's name with the id is no run of that job."""
    with_job(brew)
    brew.create_recipe_job(Name="other", DatasetName="raw", Outputs=OUTPUTS, RoleArn=ROLE,
                           RecipeReference={"Name": "dedupe", "RecipeVersion": "1.0"})  # fmt: skip
    run_id = brew.start_job_run(Name="prepare")["RunId"]
    assert brew.describe_job_run(Name="prepare", RunId=run_id)["RunId"] == run_id
    assert refusal(lambda: brew.describe_job_run(Name="other", RunId=run_id)) == (
        "ResourceNotFoundException",
        404,
    )


@pytest.mark.fast
def test_creating_what_exists_is_a_conflict(brew):
    """ConflictException, HTTP 409, for a name in use: CreateDataset (API_CreateDataset.html),
    CreateRecipe (API_CreateRecipe.html), CreateRecipeJob (API_CreateRecipeJob.html). What
    exists is left as it was."""
    with_job(brew)
    again = [
        lambda: brew.create_dataset(Name="raw", Input={"S3InputDefinition": {"Bucket": "other"}}),
        lambda: brew.create_recipe(Name="dedupe", Steps=DEDUPE + DEDUPE),
        lambda: brew.create_recipe_job(Name="prepare", DatasetName="raw", Outputs=OUTPUTS,
                                       RoleArn=ROLE, RecipeReference={"Name": "dedupe"}),
    ]  # fmt: skip
    assert [refusal(call) for call in again] == [("ConflictException", 409)] * 3
    assert brew.describe_dataset(Name="raw")["Input"] == INPUT
    assert brew.describe_recipe(Name="dedupe", RecipeVersion="LATEST_WORKING")["Steps"] == DEDUPE


@pytest.mark.fast
def test_the_models_constraints_are_validation_exceptions(brew):
    """ValidationException, HTTP 400, for what the model's constraints refuse: a job name over
    240 characters (API_DescribeJob.html, API_StartJobRun.html), a RunId over 255
    (API_DescribeJobRun.html), a Format outside its enum (API_CreateDataset.html), a recipe
    step's Operation not matching ^[A-Z\\_]+$ (API_RecipeAction.html). These 300-character
    names used to pass to the twin's own file-name check; the model refuses them first, as
    DataBrew does. What boto3 checks itself (a missing required member) is boto3's
    ParamValidationError, raised before any request."""
    with_job(brew)
    invalid = [
        lambda: brew.describe_job(Name="j" * 300),
        lambda: brew.start_job_run(Name="j" * 300),
        lambda: brew.describe_job_run(Name="prepare", RunId="r" * 300),
        lambda: brew.create_dataset(Name="x", Input=INPUT, Format="XML"),
        lambda: brew.create_recipe(Name="r", Steps=[{"Action": {"Operation": "fill"}}]),
    ]
    assert [refusal(call) for call in invalid] == [("ValidationException", 400)] * 5
    with pytest.raises(ClientError, match="Member must have length less than or equal to 240"):
        brew.describe_job(Name="j" * 300)
    with pytest.raises(ParamValidationError, match="Missing required parameter.*Input"):
        brew.create_dataset(Name="x")


@pytest.mark.fast
def test_what_the_twin_cannot_do_is_a_validation_exception_naming_it(brew):
    """The twin reads CSV from S3, runs a dataset with a recipe (no projects) into one CSV
    output, and replays only the operations processing/churn_recipe.py knows: anything else is
    refused at creation as DataBrew refuses a request, ValidationException (HTTP 400), naming
    what it cannot do (API_CreateDataset.html, API_CreateRecipeJob.html,
    API_CreateRecipe.html), rather than accepted and run otherwise."""
    with_job(brew)
    cannot = {
        "reads CSV": lambda: brew.create_dataset(Name="p", Input=INPUT, Format="PARQUET"),
        "S3InputDefinition": lambda: brew.create_dataset(
            Name="d", Input={"DatabaseInputDefinition": {"GlueConnectionName": "g"}}
        ),
        "no projects": lambda: brew.create_recipe_job(Name="j", ProjectName="p", RoleArn=ROLE),
        "one CSV output": lambda: brew.create_recipe_job(
            Name="j", DatasetName="raw", RoleArn=ROLE, RecipeReference={"Name": "dedupe"},
            Outputs=OUTPUTS + OUTPUTS,
        ),
        "SPLIT_COLUMN_SINGLE_DELIMITER": lambda: brew.create_recipe(Name="s", Steps=[{"Action": {
            "Operation": "SPLIT_COLUMN_SINGLE_DELIMITER", "Parameters": {"sourceColumn": "a"}}}]),
    }  # fmt: skip
    for words, call in cannot.items():
        with pytest.raises(ClientError, match=words) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "ValidationException", words
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, words


def scenario(client):
    """Publish the bank project twice through pipelines/aws/databrew.py (created, then updated,
    the recipe's next version published and the job replaced to run it), then what DataBrew
    describes; the service's own dates left out."""
    schema = load_schema("bank")
    requests = databrew_requests(
        schema, "s3://churn-scn/raw/bank.csv", "s3://churn-scn/prepared/", ROLE, "scn"
    )
    first = publish(client, requests)
    second = publish(client, requests)
    dataset = client.describe_dataset(Name="scn-raw")
    latest = client.describe_recipe(Name="scn-recipe")
    job = client.describe_job(Name="scn-prepare")
    return {
        "first": first,
        "second": second,
        "dataset": {k: dataset[k] for k in ("Name", "Format", "FormatOptions", "Input")},
        "latest version": latest["RecipeVersion"],
        "steps": latest["Steps"],
        "first version's steps": client.describe_recipe(Name="scn-recipe", RecipeVersion="1.0")[
            "Steps"
        ],
        "job": {
            k: job[k]
            for k in ("Name", "DatasetName", "RecipeReference", "Outputs", "RoleArn", "Type")
        },
        "missing job": code_of(lambda: client.describe_job(Name="scn-nope")),
        "missing dataset": code_of(lambda: client.describe_dataset(Name="scn-nope")),
    }


def code_of(call):
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


def test_one_scenario_through_the_same_code_against_moto_and_the_twin(aws_env, brew):
    """publish (CreateDataset or UpdateDataset, CreateRecipe or UpdateRecipe, PublishRecipe,
    DescribeRecipe, CreateRecipeJob or DeleteJob and CreateRecipeJob) on moto's DataBrew and on
    the twin: the same answers, the same descriptions, the same error codes."""
    on_moto = scenario(aws_client("databrew", aws_env))
    assert scenario(brew) == on_moto
    assert on_moto["first"]["job"] == "created" and on_moto["second"]["job"] == "replaced"
    assert on_moto["latest version"] == "2.0" and on_moto["job"]["RecipeReference"] == {
        "Name": "scn-recipe",
        "RecipeVersion": "2.0",
    }


def test_a_twin_refusal_is_one_line_from_the_cli(tmp_path):
    """`churn databrew run` of a job the home does not have: DataBrew's refusal
    (ResourceNotFoundException, API_StartJobRun.html) as one line, as on AWS
    (pipelines/aws/errors.py words both)."""
    proc = churn_cli(tmp_path / "home", "databrew", "run", "--job", "nope")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "churn databrew: error: databrew job nope: job nope does not exist"
    ], proc.stderr
