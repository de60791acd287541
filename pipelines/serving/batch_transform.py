"""A batch transform job's container, emulated (docs/container-contracts.md section 3.3).

    python -m pipelines.serving.batch_transform --model-dir D --code-dir D --program inference.py
        --input-dir D --output-dir D [--content-type text/csv] [--accept text/csv]
        [--split-type Line] [--strategy MultiRecord] [--max-payload-mb 6]
        [--assemble-with Line] [--join-source None] [--concurrency N]

Imports the model's inference module as the serving container does (model_fn once, then
input_fn / predict_fn / output_fn per request), cuts every input object into requests by
SplitType and BatchStrategy within MaxPayloadInMB, and writes `<object>.out` in input order,
with a newline after each response when AssembleWith is Line and each output record appended to
its input record when JoinSource is Input. An object's output is written only when all of it
succeeded, whole or not at all. A record the model refuses fails the job, naming the object's
line (the inference code's record number, counted from the request's first line).

Up to --concurrency requests are in flight at once (MaxConcurrentTransforms; default from
SAGEMAKER_MAX_CONCURRENT_TRANSFORMS), each in a process forked after the model is loaded: one
process scores one payload on one core, as one request to a serving container does.
"""

import argparse
import json
import mmap
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, Optional, Union

from pipelines.errors import ChurnError, first_line
from pipelines.serving.handlers import invoke, load_handlers
from processing.churn_job import write_atomic

MB = 1024 * 1024
NOT_BLANK = re.compile(rb"\S")
# How the inference code names a record of a request; a job names the line of its object.
RECORD = re.compile(r"^(?:record|instance|JSON line) (\d+)")
# An input object: read whole, or mapped into memory (transform_object says when).
Data = Union[bytes, mmap.mmap]


class TransformError(ChurnError):
    """An input object that cannot be transformed as the job asks; the object fails whole."""


def refused_record(error: BaseException, data: Data, start: int) -> Optional[TransformError]:
    """The inference code's error about a record of the request that starts at byte `start`,
    as a TransformError naming the object's line (a request's records are its lines: blank
    lines are not records, and batch inputs have none)."""
    record = getattr(error, "record", None)
    if record is None:
        return None
    line = bytes(data[:start]).count(b"\n") + record
    return TransformError(RECORD.sub("line %d" % line, str(error), count=1))


def payloads(data: Data, strategy: str, max_payload_bytes: int) -> Iterator[tuple[int, int]]:
    """(start, end) byte ranges of the request bodies SplitType=Line cuts from `data`: whole
    lines, one per request for SingleRecord, as many as fit in max_payload_bytes for
    MultiRecord. Blank lines are not records."""
    if strategy == "SingleRecord":
        start = 0
        # transform_object reads such an object whole: a mapped one would be copied here
        for line in (data if isinstance(data, bytes) else data[:]).splitlines(True):
            if line.strip():
                yield start, start + len(line)
            start += len(line)
        return
    start = 0
    while start < len(data):
        end = (
            len(data)
            if len(data) - start <= max_payload_bytes
            else data.rfind(b"\n", start, start + max_payload_bytes) + 1
        )
        if end <= start:
            raise TransformError(
                "a record of more than %d bytes exceeds MaxPayloadInMB" % max_payload_bytes
            )
        if NOT_BLANK.search(data, start, end):
            yield start, end
        start = end


def join(body: bytes, response: bytes, content_type: str) -> bytes:
    """JoinSource=Input: each output record appended to its input record."""
    records = [line for line in body.splitlines() if line.strip()]
    outputs = response.decode("utf-8").splitlines()
    if len(outputs) != len(records):
        raise TransformError(
            "JoinSource=Input needs one output line per record; got %d for %d"
            % (len(outputs), len(records))
        )
    joined = []
    for record, output in zip(records, outputs):
        text = record.decode("utf-8").rstrip("\r")
        if content_type.startswith("text/csv"):
            joined.append("%s,%s\n" % (text, output))
        else:
            obj = json.loads(text)
            obj["SageMakerOutput"] = json.loads(output)
            joined.append(json.dumps(obj) + "\n")
    return "".join(joined).encode("utf-8")


# What a forked request process works on: set before the processes fork, so that the model
# and the object's bytes are shared with them instead of being sent to them.
_job: dict[str, Any] = {}


def _respond(span: tuple[int, int]) -> bytes:
    data, handlers, model, args = _job["data"], _job["handlers"], _job["model"], _job["args"]
    body = data[span[0] : span[1]]
    try:
        response = invoke(handlers, model, body, args.content_type, args.accept)[0]
    except Exception as e:
        refused = refused_record(e, data, span[0])
        if refused is None:
            raise
        raise refused
    if args.join_source == "Input":
        response = join(body, response, args.content_type)
    if args.assemble_with == "Line" and not response.endswith(b"\n"):
        response += b"\n"
    return response


def transform_object(
    path: str, out_path: str, handlers: ModuleType, model: object, args: argparse.Namespace
) -> int:
    """Score one object, its responses written in order as they arrive. The object is mapped
    into memory, not read (its pages are the page cache's, shared with the forked request
    processes), and no more than the requests in flight are held at once: memory does not grow
    with the object. The output is published whole or not at all."""
    data: Data
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0 or (args.split_type == "Line" and args.strategy == "SingleRecord"):
            data = f.read()  # splitlines() below needs bytes; an empty object cannot be mapped
        else:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    max_bytes = int(args.max_payload_mb * MB)
    if args.concurrency > 1:
        # Smaller requests (still within MaxPayloadInMB) keep every process busy to the end:
        # three 6 MB payloads on two processes would leave one idle for a third of the time.
        max_bytes = min(max_bytes, max(MB, size // (4 * args.concurrency) + 1))
    spans = (
        list(payloads(data, args.strategy, max_bytes))
        if args.split_type == "Line"
        else [(0, len(data))]
    )
    _job.update(data=data, handlers=handlers, model=model, args=args)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as out:
            if args.concurrency > 1 and len(spans) > 1:
                with multiprocessing.get_context("fork").Pool(
                    min(args.concurrency, len(spans))
                ) as pool:
                    for part in pool.imap(_respond, spans, chunksize=1):
                        out.write(part)
            else:
                for span in spans:
                    out.write(_respond(span))

    try:
        write_atomic(out_path, write)
    finally:
        _job.clear()
        if isinstance(data, mmap.mmap):
            data.close()
    return len(spans)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Batch transform worker")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--code-dir", required=True)
    p.add_argument("--program", required=True)
    p.add_argument("--input-dir", required=True)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--content-type", default="text/csv")
    p.add_argument("--accept", default="text/csv")
    p.add_argument("--split-type", default="Line", choices=("None", "Line"))
    p.add_argument("--strategy", default="MultiRecord", choices=("MultiRecord", "SingleRecord"))
    p.add_argument("--max-payload-mb", type=float, default=6)
    p.add_argument("--assemble-with", default="Line", choices=("None", "Line"))
    p.add_argument("--join-source", default="None", choices=("None", "Input"))
    p.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "1")),
    )
    return p.parse_args(argv)


def transform_all(args: argparse.Namespace) -> str:
    """Every input object to its .out file; raises TransformError saying what failed (the
    model, or an object as a whole); returns what it did, as one line."""
    try:
        handlers = load_handlers(args.code_dir, args.program)
        model = handlers.model_fn(args.model_dir)
    except Exception as e:  # a model that cannot be loaded fails the job as a whole
        raise TransformError(
            "the model in %s cannot be loaded: %s: %s"
            % (args.model_dir, type(e).__name__, first_line(e))
        )
    count = requests = 0
    started = time.perf_counter()
    for root, _, names in sorted(os.walk(args.input_dir)):
        for name in sorted(names):
            source = os.path.join(root, name)
            relative = os.path.relpath(source, args.input_dir)
            try:
                requests += transform_object(
                    source, os.path.join(args.output_dir, relative + ".out"), handlers, model, args
                )
            except TransformError as e:  # a record the model refused: the object's line
                raise TransformError("%s %s" % (relative, e))
            except Exception as e:  # the object fails as a whole, with what went wrong
                raise TransformError("%s failed: %s: %s" % (relative, type(e).__name__, e))
            count += 1
    # The time after model_fn: what scoring costs, without the fixed cost of imports.
    return "%d objects, %d requests in %.2f s" % (count, requests, time.perf_counter() - started)


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        print("transform: %s" % transform_all(parse_args(argv)))
    except TransformError as e:
        sys.stderr.write("transform: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
