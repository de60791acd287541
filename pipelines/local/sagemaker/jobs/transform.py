"""A CreateTransformJob request run locally (docs/container-contracts.md section 3.3): the model
made by CreateModel unpacked as the serving container sees it, the input objects copied in, and
the batch-transform worker run as the container's process.

A model of the XGBoost image with no SAGEMAKER_PROGRAM is served by the image's algorithm-mode
inference, here inference/xgboost_algorithm.py (algorithms.py; section 3.4).

The worker is the serving layer's (pipelines/serving/batch_transform.py), started by module
name: the job knows only the command line a container would run.
"""

from __future__ import annotations  # kept light as the job layer: no typing at run time

import sys
import time
from pathlib import Path

from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker import algorithms
from pipelines.local.sagemaker.expressions import as_text
from pipelines.local.sagemaker.jobs.container import (
    CORES,
    Container,
    Launch,
    StepFailure,
    base_env,
    copy_inputs,
    raise_first_failure,
    unpack,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Union

    from pipelines.local.s3 import Store
    from pipelines.local.sagemaker.jobs.container import Runner

TRANSFORM_WORKER = "pipelines.serving.batch_transform"


def run_transform(
    request: dict[str, Any],
    job_name: str,
    workdir: Union[str, Path],
    store: Store,
    runner: Runner,
    model: dict[str, Any],
) -> dict[str, Any]:
    """Run a CreateTransformJob request against a model made by CreateModel (`model`)."""
    started = time.time()
    processing = request.get("DataProcessing") or {}
    for key in ("InputFilter", "OutputFilter"):
        if processing.get(key, "$") != "$":
            raise StepFailure(
                "DataProcessing.%s %r: the local runner supports only '$'" % (key, processing[key])
            )
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    env_model = container.get("Environment") or {}
    c = Container(Path(workdir) / "algo-1")
    model_dir = c.path("/opt/ml/model")
    unpack(store.file(container["ModelDataUrl"]), model_dir, container["ModelDataUrl"])
    submit = env_model.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    code_dir = model_dir / "code"
    if submit.startswith("s3://"):
        unpack(store.file(submit), code_dir, submit)
    program = env_model.get("SAGEMAKER_PROGRAM")
    if algorithms.model_algorithm(container) is not None:
        code_dir, program = algorithms.SERVING_DIR, algorithms.SERVING_PROGRAM
    elif not program or not (code_dir / program).is_file():
        raise StepFailure(
            "the model has no inference program (SAGEMAKER_PROGRAM %r in %s)" % (program, code_dir)
        )
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    input_dir, output_dir = c.path("/opt/ml/input/data"), c.path("/opt/ml/output/data")
    if copy_inputs(store, source["S3Uri"], input_dir) == 0:
        raise StepFailure("no input objects under %s" % source["S3Uri"])
    output_dir.mkdir(parents=True, exist_ok=True)
    transform_input, transform_output = request["TransformInput"], request["TransformOutput"]
    strategy = request.get("BatchStrategy") or "MultiRecord"
    payload = request.get("MaxPayloadInMB") or 6
    env = dict(base_env(CORES), **{k: as_text(v) for k, v in env_model.items()})
    env.update(
        {
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(payload),
            "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD"
            if strategy == "SingleRecord"
            else "MULTI_RECORD",
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(request.get("MaxConcurrentTransforms") or 1),
        }
    )
    env.update({k: as_text(v) for k, v in (request.get("Environment") or {}).items()})
    argv = [
        sys.executable,
        "-m",
        TRANSFORM_WORKER,
        "--model-dir",
        str(model_dir),
        "--code-dir",
        str(code_dir),
        "--program",
        program,
        "--input-dir",
        str(input_dir),
        "--output-dir",
        str(output_dir),
        "--content-type",
        transform_input.get("ContentType") or "text/csv",
        "--accept",
        transform_output.get("Accept") or "text/csv",
        "--split-type",
        transform_input.get("SplitType") or "None",
        "--strategy",
        strategy,
        "--max-payload-mb",
        str(payload),
        "--assemble-with",
        transform_output.get("AssembleWith") or "None",
        "--join-source",
        processing.get("JoinSource") or "None",
    ]
    log = Path(workdir) / "algo-1.log"
    timeout = (request.get("ModelClientConfig") or {}).get("InvocationsTimeoutInSeconds")
    results = runner.run(
        [Launch("algo-1", argv, env, c.root, log)],
        None if timeout is None else timeout * 100,
        # An isolated model's container reaches nothing; its code is in the artifact.
        private_network=bool(model.get("EnableNetworkIsolation")),
    )
    raise_first_failure(results, None)
    store.upload_folder(output_dir, transform_output["S3OutputPath"])
    return dict(
        request,
        TransformJobName=job_name,
        TransformJobStatus="Completed",
        TransformJobArn=sagemaker_arn("transform-job", job_name),
        TransformStartTime=started,
        TransformEndTime=time.time(),
    )
