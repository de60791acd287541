"""DataBrew calls: publish the churn project (dataset, recipe and its next version, recipe job;
each created, or updated when it exists), run its job, and the Step Functions integration
(databrew:startJobRun) that runs one from a workflow. Each takes a `databrew` client, boto3's
or the local twin's (pipelines/local/databrew/service.py): the same code runs both
(docs/adr/0011), and a refusal is botocore's ClientError from either."""

import json
import time
from typing import Any, Callable, Dict

from botocore.exceptions import ClientError, ParamValidationError

from pipelines.errors import UserError
from pipelines.local.stepfunctions.errors import StatesError

FINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT")
# AWS documents ConflictException for a name in use; moto answers AlreadyExistsException.
EXISTS = ("ConflictException", "AlreadyExistsException")

Request = Dict[str, Any]
Answer = Dict[str, Any]


def _exists(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in EXISTS


def _create_or_update(
    create: Callable[..., Answer],
    update: Callable[..., Answer],
    request: Request,
    conflict: Callable[[Request], Request],
) -> str:
    try:
        create(**request)
        return "created"
    except ClientError as e:
        if not _exists(e):
            raise
    update(**conflict(request))
    return "updated"


def publish(client: Any, requests: Dict[str, Request]) -> Dict[str, Any]:
    """Returns {"dataset", "recipe", "job": what was done, "recipe_version", "names"}."""
    dataset, recipe, job = requests["dataset"], requests["recipe"], requests["job"]
    done: Dict[str, Any] = {}
    done["dataset"] = _create_or_update(
        client.create_dataset,
        client.update_dataset,
        dataset,
        dict,
    )
    done["recipe"] = _create_or_update(
        client.create_recipe,
        client.update_recipe,
        recipe,
        lambda r: {k: r[k] for k in ("Name", "Description", "Steps")},
    )
    client.publish_recipe(Name=recipe["Name"], Description="published by churn databrew publish")
    version = client.describe_recipe(Name=recipe["Name"], RecipeVersion="LATEST_PUBLISHED")
    job = dict(
        job, RecipeReference=dict(job["RecipeReference"], RecipeVersion=version["RecipeVersion"])
    )
    # UpdateRecipeJob cannot change the recipe version a job runs: the job is made again.
    try:
        client.create_recipe_job(**job)
        done["job"] = "created"
    except ClientError as e:
        if not _exists(e):
            raise
        client.delete_job(Name=job["Name"])
        client.create_recipe_job(**job)
        done["job"] = "replaced"
    done["recipe_version"] = version["RecipeVersion"]
    done["names"] = {"dataset": dataset["Name"], "recipe": recipe["Name"], "job": job["Name"]}
    return done


def start_run(client: Any, name: str) -> str:
    """StartJobRun: the run's id."""
    run_id: str = client.start_job_run(Name=name)["RunId"]
    return run_id


def wait_for_run(
    client: Any,
    name: str,
    run_id: str,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 48 * 3600,
    sleep: Callable[[float], None] = time.sleep,
) -> Answer:
    """DescribeJobRun until the run ends: its description, whatever its final state."""
    deadline = time.time() + timeout_seconds
    while True:
        described: Answer = client.describe_job_run(Name=name, RunId=run_id)
        if described["State"] in FINAL:
            return described
        if time.time() > deadline:
            raise UserError(
                "DataBrew job %s run %s is still %s after %d s"
                % (name, run_id, described["State"], timeout_seconds)
            )
        sleep(poll_seconds)


def run_job(
    client: Any,
    name: str,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 48 * 3600,
    sleep: Callable[[float], None] = time.sleep,
) -> Answer:
    """StartJobRun, then DescribeJobRun until the run ends; its description, or a UserError
    with DataBrew's reason when it did not succeed."""
    run_id = start_run(client, name)
    described = wait_for_run(client, name, run_id, poll_seconds, timeout_seconds, sleep)
    if described["State"] != "SUCCEEDED":
        raise UserError(
            "DataBrew job %s run %s ended %s: %s"
            % (name, run_id, described["State"], described.get("ErrorMessage", "no reason given"))
        )
    return described


def databrew_integrations(client: Any, poll_seconds: float = 0.05) -> Dict[str, Any]:
    """Step Functions' databrew:startJobRun integration over `client`, by resource: .sync
    waits for the run and fails as it fails, with the run's description as the cause, as the
    optimized integration does; a refusal is DataBrew.<error code>."""

    def start(parameters: Request, wait: bool) -> Answer:
        try:
            run_id = start_run(client, parameters["Name"])
            if not wait:
                return {"RunId": run_id}
            described = wait_for_run(client, parameters["Name"], run_id, poll_seconds)
        except ClientError as e:
            error = e.response["Error"]
            raise StatesError("DataBrew.%s" % error["Code"], error.get("Message", ""))
        except ParamValidationError as e:  # sent over HTTP, the service answers these itself
            raise StatesError("DataBrew.ValidationException", " ".join(str(e).split()))
        # boto3's answer holds datetimes; a state's JSON holds them as epoch seconds
        described = json.loads(json.dumps(described, default=lambda d: d.timestamp()))
        if described["State"] != "SUCCEEDED":
            raise StatesError("States.TaskFailed", json.dumps(described))
        return described

    return {
        "databrew:startJobRun.sync": lambda p, call: start(p, True),
        "databrew:startJobRun": lambda p, call: start(p, False),
    }
