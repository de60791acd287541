"""The churn DataBrew project as plain data: the dataset, recipe and recipe job a schema implies.

    databrew_requests(schema, data_url, output_url, role_arn, prefix="churn")

The recipe holds exactly the steps PreprocessData applies for the schema (the schema's own
recipe, else the one it implies), with DataBrew's documented operation names and every
parameter a string; an operation the local twin cannot replay is refused by name. One
difference is by design: a DataBrew job fits each step on the whole table it prepares, where
PreprocessData fits them on the train split only (so no statistic of validation or test rows
reaches the model); train from PreprocessData's output when the numbers matter.
"""

from typing import Any

from pipelines.errors import UserError

# processing's table and recipe modules import pandas or numpy: they are imported in the
# functions that use them, so a command that reads no table starts about 0.4 s sooner.


def _location(uri: str, what: str) -> dict[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[len("s3://") :]:
        raise UserError("%s must be s3://bucket/key, not %r" % (what, uri))
    bucket, key = uri[len("s3://") :].split("/", 1)
    return {"Bucket": bucket, "Key": key}


def recipe_steps(schema: Any) -> list[dict[str, Any]]:
    from processing.churn_recipe import RecipeError, normalize_steps, schema_recipe

    try:
        return normalize_steps(schema_recipe(schema))
    except RecipeError as e:
        raise UserError("schema %s: %s" % (schema.name, e))


def databrew_requests(
    schema: Any, data_url: str, output_url: str, role_arn: str, prefix: str = "churn"
) -> dict[str, dict[str, Any]]:
    """{"dataset": CreateDataset, "recipe": CreateRecipe, "job": CreateRecipeJob} requests
    (the job's RecipeReference gets its version once the recipe is published)."""
    names = {k: "%s-%s" % (prefix, k) for k in ("raw", "recipe", "prepare")}
    output = _location(output_url if output_url.endswith("/") else output_url + "/", "--output-url")
    return {
        "dataset": {
            "Name": names["raw"],
            "Format": "CSV",
            "FormatOptions": {"Csv": {"Delimiter": ",", "HeaderRow": True}},
            "Input": {"S3InputDefinition": _location(data_url, "--data-url")},
        },
        "recipe": {
            "Name": names["recipe"],
            "Description": "PreprocessData's steps for schema %s" % schema.name,
            "Steps": recipe_steps(schema),
        },
        "job": {
            "Name": names["prepare"],
            "DatasetName": names["raw"],
            "RecipeReference": {"Name": names["recipe"]},
            "Outputs": [
                {
                    "Location": output,
                    "Format": "CSV",
                    "FormatOptions": {"Csv": {"Delimiter": ","}},
                    "Overwrite": True,
                }
            ],
            "RoleArn": role_arn,
            "EncryptionMode": "SSE-S3",
        },
    }
