"""DataBrew calls: publish the churn project (dataset, recipe and its next version, recipe job;
each created, or updated when it exists) and run its job. `client` is boto3's `databrew`, or
the local twin, which answers the same calls."""

import time

from pipelines.errors import UserError

FINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT")
# AWS documents ConflictException for a name in use; moto answers AlreadyExistsException.
EXISTS = ("ConflictException", "AlreadyExistsException")


def _code(error):
    response = getattr(error, "response", None)
    return response["Error"]["Code"] if response else getattr(error, "code", "")


def _create_or_update(create, update, request, conflict):
    try:
        create(**request)
        return "created"
    except Exception as e:  # boto3's ClientError or the twin's DataBrewError, by code
        if _code(e) not in EXISTS:
            raise
    update(**conflict(request))
    return "updated"


def publish(client, requests):
    """Returns {"dataset", "recipe", "recipe_version", "job"}: names, and what was done."""
    dataset, recipe, job = requests["dataset"], requests["recipe"], requests["job"]
    done = {}
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
    except Exception as e:
        if _code(e) not in EXISTS:
            raise
        client.delete_job(Name=job["Name"])
        client.create_recipe_job(**job)
        done["job"] = "replaced"
    done["recipe_version"] = version["RecipeVersion"]
    done["names"] = {"dataset": dataset["Name"], "recipe": recipe["Name"], "job": job["Name"]}
    return done


def run_job(client, name, poll_seconds=15.0, timeout_seconds=48 * 3600, sleep=time.sleep):
    """StartJobRun, then DescribeJobRun until the run ends; its description, or a UserError
    with DataBrew's reason when it did not succeed."""
    run_id = client.start_job_run(Name=name)["RunId"]
    deadline = time.time() + timeout_seconds
    while True:
        described = client.describe_job_run(Name=name, RunId=run_id)
        if described["State"] in FINAL:
            break
        if time.time() > deadline:
            raise UserError(
                "DataBrew job %s run %s is still %s after %d s"
                % (name, run_id, described["State"], timeout_seconds)
            )
        sleep(poll_seconds)
    if described["State"] != "SUCCEEDED":
        raise UserError(
            "DataBrew job %s run %s ended %s: %s"
            % (name, run_id, described["State"], described.get("ErrorMessage", "no reason given"))
        )
    return described
