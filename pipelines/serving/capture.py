"""Endpoint data capture in SageMaker's format (SAGEMAKER_CONTRACTS.md section 5).

One JSON object per line, under <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
(UTC hour of the invocation). Requests only append to a queue; a writer thread wakes every
FLUSH_SECONDS, writes what has queued up and flushes, and close() (server shutdown, SIGTERM
included) writes the rest, so no captured record is lost and no request waits on the disk. The
writer wakes on a timer rather than per record: a thread woken per record takes the GIL from the
event loop thousands of times a second, in the middle of requests.
"""
import base64
import collections
import json
import os
import random
import threading
import time
import uuid
from datetime import datetime, timezone

CSV_TYPES = ("text/csv",)
JSON_TYPES = ("application/json", "application/jsonlines")
FLUSH_SECONDS = 0.2
# Formatting a record takes about 20 us: yielding every 16 keeps a request's wait for the
# GIL well under a millisecond, instead of the interpreter's 5 ms switch interval.
YIELD_EVERY = 16


def _payload(data, content_type, mode):
    media = (content_type or "").split(";")[0].strip().lower()
    if media in CSV_TYPES or media in JSON_TYPES:
        try:
            return {"observedContentType": content_type, "mode": mode,
                    "data": data.decode("utf-8"),
                    "encoding": "CSV" if media in CSV_TYPES else "JSON"}
        except UnicodeDecodeError:
            pass
    return {"observedContentType": content_type, "mode": mode,
            "data": base64.b64encode(data).decode("ascii"), "encoding": "BASE64"}


def capture_record(request_body, request_type, response_body, response_type, when,
                   inference_id=None):
    metadata = {"eventId": str(uuid.uuid4()),
                "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return {"captureData": {"endpointInput": _payload(request_body, request_type, "INPUT"),
                            "endpointOutput": _payload(response_body, response_type, "OUTPUT")},
            "eventMetadata": metadata, "eventVersion": "0"}


class CaptureWriter(object):
    def __init__(self, destination, endpoint, variant="AllTraffic", percent=100.0):
        self.root = os.path.join(destination, endpoint, variant)
        self.percent = float(percent)
        self.pending = collections.deque()  # appends and pops are thread-safe
        self.stopping = threading.Event()
        self.files = {}  # hour folder -> open file
        self.thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
        self.thread.start()

    def capture(self, request_body, request_type, response_body, response_type,
                inference_id=None):
        """Called per request: sampling and an append, nothing else."""
        if self.percent < 100.0 and random.random() * 100.0 >= self.percent:
            return
        self.pending.append((request_body, request_type, response_body, response_type,
                             datetime.now(timezone.utc), inference_id))

    def _file(self, when):
        folder = os.path.join(self.root, when.strftime("%Y/%m/%d/%H"))
        f = self.files.get(folder)
        if f is None:
            os.makedirs(folder, exist_ok=True)
            name = "%s-%s.jsonl" % (when.strftime("%M-%S-%f")[:-3], uuid.uuid4().hex)
            f = self.files[folder] = open(os.path.join(folder, name), "a", encoding="utf-8")
        return f

    def _write_pending(self):
        written = 0
        while self.pending:
            body, body_type, out, out_type, when, inference_id = self.pending.popleft()
            record = capture_record(body, body_type, out, out_type, when, inference_id)
            self._file(when).write(json.dumps(record, separators=(",", ":")) + "\n")
            written += 1
            if written % YIELD_EVERY == 0:
                time.sleep(0)  # hand the GIL back to the event loop now and then
        for f in self.files.values():
            f.flush()

    def _run(self):
        while not self.stopping.wait(FLUSH_SECONDS):
            self._write_pending()
        self._write_pending()
        for f in self.files.values():
            f.close()

    def close(self):
        """Write everything still queued, then close the files."""
        self.stopping.set()
        self.thread.join()
