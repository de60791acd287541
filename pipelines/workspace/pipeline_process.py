"""The process a pipeline execution StartPipelineExecution started runs in, for a home opened
as a workspace (Home.sagemaker.pipeline_launcher names it): the execution runs on the home's
twins as `churn run --module-name` runs a pipeline that is not ours (the home's Lambda
functions answer its Lambda steps). The twin's side (what starts it, what it is handed, how it
is stopped) is pipelines/local/sagemaker/pipeline_process.py."""

import sys

from pipelines.local.sagemaker.pipeline_process import read_work, run_started
from pipelines.workspace import Workspace


def main() -> int:
    work = read_work(sys.stdin.buffer)
    if work is None:  # the caller died before handing it any
        return 1
    with Workspace(work["home"]) as ws:
        record = run_started(ws.sagemaker, work)
    return 0 if record["PipelineExecutionStatus"] == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
