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
import logging
import os
import random
import threading
import time
import uuid
from typing import Optional, TypedDict

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
log = logging.getLogger("churn.capture")
PAYLOAD = '{"observedContentType":%s,"mode":"%s","data":%s,"encoding":"%s"}'
# A request as it waits in the queue: (epoch seconds, request body, its content type, response
# body, its content type or None when the model named none, inference id or None).
Pending = tuple[float, bytes, str, bytes, Optional[str], Optional[str]]


class _CaptureConfigRequired(TypedDict):
    destination: str
    endpoint: str


class CaptureConfig(_CaptureConfigRequired, total=False):
    """CaptureWriter's arguments, as `churn serve`'s configuration carries them (ServeConfig
    in app.py)."""

    variant: str
    percent: float


def _payload(data: bytes, content_type: Optional[str], mode: str) -> str:
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
    request_body: bytes,
    request_type: str,
    response_body: bytes,
    response_type: Optional[str],
    inference_time: str,
    inference_id: Optional[str] = None,
) -> str:
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
    """Appends capture records to the hour's file, whole records or none.

    A full disk (or any write error) never stops the writer and never leaves part of a record:
    the failed write is cut back to the last whole record, the records are counted as dropped
    (`dropped`, logged, and reported on /ping), and the next flush tries again, so capture
    resumes by itself when space returns. Records are dropped rather than kept, so memory
    stays bounded by one flush interval's requests; SageMaker's capture is best effort too.
    """

    def __init__(
        self, destination: str, endpoint: str, variant: str = "AllTraffic", percent: float = 100.0
    ) -> None:
        self.root = os.path.join(destination, endpoint, variant)
        self.percent = float(percent)
        # appends and pops are thread-safe
        self.pending: collections.deque[Pending] = collections.deque()
        self.stopping = threading.Event()
        self.files: dict[int, int] = {}  # UTC hour -> open file descriptor
        self.dropped = 0  # records lost to write errors since the start
        # the error of the last failed write, until one succeeds
        self.failing: Optional[OSError] = None
        self.thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
        self.thread.start()

    def capture(
        self,
        request_body: bytes,
        request_type: str,
        response_body: bytes,
        response_type: Optional[str],
        inference_id: Optional[str] = None,
    ) -> None:
        """Called per request: sampling and an append, nothing else."""
        if self.percent < 100.0 and random.random() * 100.0 >= self.percent:
            return
        self.pending.append(
            (time.time(), request_body, request_type, response_body, response_type, inference_id)
        )

    def _file(self, hour: int) -> int:
        """The file descriptor of an UTC hour's file (seconds since the epoch // 3600)."""
        fd = self.files.get(hour)
        if fd is None:
            started = time.gmtime(hour * 3600)
            folder = os.path.join(self.root, time.strftime("%Y/%m/%d/%H", started))
            os.makedirs(folder, exist_ok=True)
            name = "%s-%s.jsonl" % (time.strftime("%M-%S", time.gmtime()), uuid.uuid4().hex)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            fd = self.files[hour] = os.open(os.path.join(folder, name), flags, 0o644)
        return fd

    def _write_pending(self) -> None:
        by_hour: dict[int, list[str]] = {}
        second, stamp = -1, ""  # the second of the last record formatted, and its stamp
        formatted = 0
        while self.pending:
            when, body, body_type, out, out_type, inference_id = self.pending.popleft()
            if int(when) != second:
                second = int(when)
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
            by_hour.setdefault(second // 3600, []).append(
                capture_line(body, body_type, out, out_type, stamp, inference_id)
            )
            formatted += 1
            if formatted % YIELD_EVERY == 0:
                time.sleep(0)  # hand the GIL back to the event loop now and then
        for hour, lines in by_hour.items():
            self._append(hour, "".join(lines).encode("utf-8"), len(lines))

    def _append(self, hour: int, data: bytes, count: int) -> None:
        fd: Optional[int] = None
        start: Optional[int] = None
        try:
            fd = self._file(hour)
            start = os.lseek(fd, 0, os.SEEK_END)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as e:
            if fd is not None and start is not None:
                try:
                    os.ftruncate(fd, start)  # no partial record stays behind
                except OSError:
                    pass
            self.dropped += count
            if self.failing is None:
                log.warning(
                    "data capture: cannot write to %s (%s); dropping records until it can",
                    self.root,
                    e.strerror or e,
                )
            self.failing = e
            return
        if self.failing is not None:
            log.warning("data capture: writing again; %d records dropped so far", self.dropped)
            self.failing = None

    def _run(self) -> None:
        while not self.stopping.wait(FLUSH_SECONDS):
            self._write_pending()
        self._write_pending()
        for fd in self.files.values():
            os.close(fd)
        if self.dropped:
            log.warning("data capture: %d records were dropped by write errors", self.dropped)

    def close(self) -> None:
        """Write everything still queued, then close the files."""
        self.stopping.set()
        self.thread.join()
