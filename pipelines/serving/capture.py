"""Endpoint data capture in SageMaker's format (SAGEMAKER_CONTRACTS.md section 5).

One JSON object per line, under <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
(UTC hour of the invocation). Requests only enqueue a record; a writer thread appends them and
flushes at least every FLUSH_SECONDS, and close() (server shutdown, SIGTERM included) drains the
queue, so no captured record is lost and no request waits on the disk.
"""
import base64
import json
import os
import queue
import random
import threading
import time
import uuid
from datetime import datetime, timezone

CSV_TYPES = ("text/csv",)
JSON_TYPES = ("application/json", "application/jsonlines")
FLUSH_SECONDS = 0.5
_STOP = object()


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
        self.queue = queue.SimpleQueue()
        self.files = {}  # hour folder -> open file
        self.thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
        self.thread.start()

    def capture(self, request_body, request_type, response_body, response_type,
                inference_id=None):
        """Called per request: sampling and a queue put, nothing else."""
        if self.percent < 100.0 and random.random() * 100.0 >= self.percent:
            return
        self.queue.put((request_body, request_type, response_body, response_type,
                        datetime.now(timezone.utc), inference_id))

    def _file(self, when):
        folder = os.path.join(self.root, when.strftime("%Y/%m/%d/%H"))
        f = self.files.get(folder)
        if f is None:
            os.makedirs(folder, exist_ok=True)
            name = "%s-%s.jsonl" % (when.strftime("%M-%S-%f")[:-3], uuid.uuid4().hex)
            f = self.files[folder] = open(os.path.join(folder, name), "a", encoding="utf-8")
        return f

    def _run(self):
        last_flush = time.time()
        while True:
            try:
                item = self.queue.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None:
                when = item[4]
                record = capture_record(item[0], item[1], item[2], item[3], when, item[5])
                self._file(when).write(json.dumps(record, separators=(",", ":")) + "\n")
            if item is None or time.time() - last_flush >= FLUSH_SECONDS:
                for f in self.files.values():
                    f.flush()
                last_flush = time.time()
        for f in self.files.values():
            f.close()

    def close(self):
        """Write everything still queued, then close the files."""
        self.queue.put(_STOP)
        self.thread.join()
