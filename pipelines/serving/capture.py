"""Endpoint data capture in SageMaker's format (docs/container-contracts.md section 5).

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

from processing.churn_decoding import CSV, JSON, JSONLINES, media_type

CSV_TYPES = (CSV,)
JSON_TYPES = (JSON, JSONLINES)
FLUSH_SECONDS = 0.2
# Yielding the GIL every 16 records keeps a request's wait for it well under a millisecond,
# instead of the interpreter's 5 ms switch interval.
YIELD_EVERY = 16
# One record per line, keys in SageMaker's order. Filled in with %: a record is written at
# request rate, and formatting a template costs a third of json.dumps on nested dicts.
RECORD = (
    '{"captureData":{"endpointInput":%s,"endpointOutput":%s},'
    '"eventMetadata":{"eventId":"%s"%s,"inferenceTime":"%s"},"eventVersion":"0"}\n'
)
PAYLOAD = '{"observedContentType":%s,"mode":"%s","data":%s,"encoding":"%s"}'


def _payload(data, content_type, mode):
    media = media_type(content_type)
    if media in CSV_TYPES or media in JSON_TYPES:
        try:
            return PAYLOAD % (
                json.dumps(content_type),
                mode,
                json.dumps(data.decode("utf-8")),
                "CSV" if media in CSV_TYPES else "JSON",
            )
        except UnicodeDecodeError:
            pass
    return PAYLOAD % (
        json.dumps(content_type),
        mode,
        '"%s"' % base64.b64encode(data).decode("ascii"),
        "BASE64",
    )


def capture_line(
    request_body, request_type, response_body, response_type, inference_time, inference_id=None
):
    """One capture record as a JSON line; inference_time is "yyyy-mm-ddThh:mm:ssZ"."""
    event_id = uuid.UUID(int=random.getrandbits(128), version=4)  # no system call per record
    return RECORD % (
        _payload(request_body, request_type, "INPUT"),
        _payload(response_body, response_type, "OUTPUT"),
        event_id,
        ',"inferenceId":%s' % json.dumps(inference_id) if inference_id else "",
        inference_time,
    )


class CaptureWriter(object):
    def __init__(self, destination, endpoint, variant="AllTraffic", percent=100.0):
        self.root = os.path.join(destination, endpoint, variant)
        self.percent = float(percent)
        self.pending = collections.deque()  # appends and pops are thread-safe
        self.stopping = threading.Event()
        self.files = {}  # hour folder -> open file
        self.thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
        self.thread.start()

    def capture(self, request_body, request_type, response_body, response_type, inference_id=None):
        """Called per request: sampling and an append, nothing else."""
        if self.percent < 100.0 and random.random() * 100.0 >= self.percent:
            return
        self.pending.append(
            (time.time(), request_body, request_type, response_body, response_type, inference_id)
        )

    def _file(self, hour):
        """The open file of an UTC hour (seconds since the epoch // 3600)."""
        f = self.files.get(hour)
        if f is None:
            started = time.gmtime(hour * 3600)
            folder = os.path.join(self.root, time.strftime("%Y/%m/%d/%H", started))
            os.makedirs(folder, exist_ok=True)
            name = "%s-%s.jsonl" % (time.strftime("%M-%S", time.gmtime()), uuid.uuid4().hex)
            f = self.files[hour] = open(os.path.join(folder, name), "a", encoding="utf-8")
        return f

    def _write_pending(self):
        written, second, stamp = 0, None, None
        while self.pending:
            when, body, body_type, out, out_type, inference_id = self.pending.popleft()
            if int(when) != second:
                second = int(when)
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
            self._file(second // 3600).write(
                capture_line(body, body_type, out, out_type, stamp, inference_id)
            )
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
