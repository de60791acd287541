"""A CreateProcessingJob request run as local processes (docs/container-contracts.md section 1):
inputs copied in (ShardedByS3Key dealt out by key), the config files written, the entrypoint
run on every host, outputs copied back once every host exited 0."""

from __future__ import annotations  # kept light as the job layer: no typing at run time

import time
from pathlib import Path

from pipelines.local.arns import sagemaker_arn
from pipelines.local.sagemaker.jobs.container import (
    Container,
    Launch,
    StepFailure,
    base_env,
    command,
    copy_inputs,
    hosts_of,
    raise_first_failure,
    stringify_app,
    thread_budget,
    write_json,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Union

    from pipelines.local.s3 import Store
    from pipelines.local.sagemaker.jobs.container import Runner


def run_processing(
    request: dict[str, Any],
    job_name: str,
    workdir: Union[str, Path],
    store: Store,
    runner: Runner,
) -> dict[str, Any]:
    """Run a CreateProcessingJob request; returns its DescribeProcessingJob-shaped dict."""
    started = time.time()
    request = stringify_app(request)
    cluster = request["ProcessingResources"]["ClusterConfig"]
    hosts = hosts_of(cluster["InstanceCount"])
    threads = thread_budget(len(hosts))
    app = request["AppSpecification"]
    inputs = request.get("ProcessingInputs", [])
    outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    arn = sagemaker_arn("processing-job", job_name)
    launches: list[Launch] = []
    containers: dict[str, Container] = {}
    for index, host in enumerate(hosts):
        c = containers[host] = Container(Path(workdir) / host)
        for item in inputs:
            s3 = item["S3Input"]
            shard = (
                (index, len(hosts))
                if s3.get("S3DataDistributionType") == "ShardedByS3Key"
                else None
            )
            copy_inputs(store, s3["S3Uri"], c.path(s3["LocalPath"]), shard)
        for item in outputs:
            c.path(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        c.path("/opt/ml/output").mkdir(parents=True, exist_ok=True)
        config = dict(request, ProcessingJobArn=arn, ProcessingJobName=job_name)
        write_json(c.path("/opt/ml/config/processingjobconfig.json"), config)
        write_json(
            c.path("/opt/ml/config/resourceconfig.json"), {"current_host": host, "hosts": hosts}
        )
        env = base_env(threads)
        env.update(request.get("Environment") or {})
        argv = [
            c.rewrite(a)
            for a in (app.get("ContainerEntrypoint") or []) + (app.get("ContainerArguments") or [])
        ]
        if not argv:
            raise StepFailure(
                "the request has no ContainerEntrypoint: the local runner cannot "
                "run an image's built-in entry point"
            )
        launches.append(Launch(host, command(argv), env, c.root, Path(workdir) / (host + ".log")))
    timeout = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    # Network isolation: the hosts reach nothing (a job that would download packages fails
    # here as it would on SageMaker).
    isolated = bool((request.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))
    results = runner.run(launches, timeout, private_network=isolated)
    raise_first_failure(results, lambda h: containers[h].path("/opt/ml/output/message"))
    for c in containers.values():
        for item in outputs:
            store.upload_folder(c.path(item["S3Output"]["LocalPath"]), item["S3Output"]["S3Uri"])
    message = containers[hosts[0]].path("/opt/ml/output/message")
    return dict(
        request,
        ProcessingJobName=job_name,
        ProcessingJobArn=arn,
        ProcessingJobStatus="Completed",
        ExitMessage=message.read_text()[:1024] if message.is_file() else "",
        ProcessingStartTime=started,
        ProcessingEndTime=time.time(),
    )
