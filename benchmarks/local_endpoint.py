"""The local endpoint's own cost (`churn local`: every twin over its AWS protocol on 127.0.0.1)
against moto's server, each in a process of its own, driven by the same boto3 code in one run.

    python benchmarks/local_endpoint.py [--calls 200] [--transfers 10] [--megabytes 10]

Measures: a DescribePipelineExecution round trip (of an execution that ended: a one-step
pipeline created and started through the same API), and a PutObject and a GetObject (body read
whole) of --megabytes. Prints the median of each, both servers, and the ratio.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict

from common import ROOT, machine, median

DEFINITION = json.dumps(
    {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "benchmark"}}],
    }
)
ROLE = "arn:aws:iam::123456789012:role/Benchmark"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list, port: int, env: Dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(command, cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("%s did not start" % command[:3])


def clients(url: str) -> Any:
    import boto3

    session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench",
                            region_name="us-east-1")  # fmt: skip
    return session.client("sagemaker", endpoint_url=url), session.client("s3", endpoint_url=url)


def timed(call: Callable[[], Any], times: int) -> float:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return median(seconds)


def measure(url: str, args: argparse.Namespace) -> Dict[str, float]:
    sagemaker, s3 = clients(url)
    sagemaker.create_pipeline(PipelineName="bench", PipelineDefinition=DEFINITION, RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(PipelineName="bench")["PipelineExecutionArn"]
    for _ in range(600):  # the execution ends (moto's at once), so every call reads an end
        status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        if status["PipelineExecutionStatus"] != "Executing":
            break
        time.sleep(0.1)
    describe = timed(lambda: sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn),
                     args.calls)  # fmt: skip
    s3.create_bucket(Bucket="bench")
    body = os.urandom(args.megabytes * 2**20)
    put = timed(lambda: s3.put_object(Bucket="bench", Key="big", Body=body), args.transfers)
    got = timed(lambda: s3.get_object(Bucket="bench", Key="big")["Body"].read(), args.transfers)
    return {"describe": describe, "put": put, "get": got}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--transfers", type=int, default=10)
    parser.add_argument("--megabytes", type=int, default=10)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    results = {}
    with tempfile.TemporaryDirectory() as home:
        for name, command in (
            ("churn local", [sys.executable, "-m", "pipelines.cli", "local", "--home", home]),
            ("moto server", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1"]),
        ):
            port = free_port()
            proc = start(command + ["--port" if name == "churn local" else "-p", str(port)],
                         port, env)  # fmt: skip
            try:
                results[name] = measure("http://127.0.0.1:%d" % port, args)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    ours, moto = results["churn local"], results["moto server"]
    print(machine())
    print("| median of | churn local | moto server | ratio |")
    print("|---|---|---|---|")
    for key, label in (
        ("describe", "DescribePipelineExecution (%d calls)" % args.calls),
        ("put", "PutObject %d MB (%d)" % (args.megabytes, args.transfers)),
        ("get", "GetObject %d MB, body read (%d)" % (args.megabytes, args.transfers)),
    ):
        print("| %s | %.2f ms | %.2f ms | %.2f |"
              % (label, ours[key] * 1e3, moto[key] * 1e3, ours[key] / moto[key]))  # fmt: skip


if __name__ == "__main__":
    main()
