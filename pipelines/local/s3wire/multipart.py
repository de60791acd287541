"""Multipart uploads on the wire: each upload a folder under the home's scratch space
(<home>/s3-wire/uploads/<upload id>/) holding its parts as they arrive; CompleteMultipartUpload
checks the parts the client lists against the ones received (InvalidPart, InvalidPartOrder,
EntityTooSmall: every part but the last at least 5 MiB) and assembles them into one file, which
the caller then writes into the store whole or not at all. The object's ETag is S3's multipart
ETag: the MD5 of the parts' binary MD5s, a dash and the number of parts."""

import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from pipelines.local.s3wire.errors import S3Error

MIN_PART = 5 * 1024 * 1024  # every part but the last
MAX_PART = 5 * 1024**3
MAX_PARTS = 10_000
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")  # what create() makes: never a path


@dataclass
class Part:
    number: int
    etag: str  # quoted, as S3 writes it
    size: int
    modified: datetime.datetime
    checksum: Optional[Tuple[str, str]]  # (header name, base64 value)


class Uploads(object):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def create(self, bucket: str, key: str) -> str:
        upload_id = uuid.uuid4().hex
        folder = self.folder / upload_id
        folder.mkdir(parents=True)
        _write_json(folder / "upload.json", {"bucket": bucket, "key": key})
        return upload_id

    def folder_of(self, bucket: str, key: str, upload_id: str) -> Path:
        """An open upload's folder, or NoSuchUpload (also for an id of another object)."""
        known = None
        folder = self.folder / upload_id
        if UPLOAD_ID.match(upload_id):  # checked first: the id becomes a path
            try:
                known = json.loads((folder / "upload.json").read_text("utf-8"))
            except (OSError, ValueError):
                pass
        if known != {"bucket": bucket, "key": key}:
            raise S3Error(
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, or the "
                "upload may have been aborted or completed.",
                extra={"UploadId": upload_id[:64]},
            )
        return folder

    def add_part(
        self, folder: Path, number: int, body: Path, md5: bytes, checksum: Optional[Tuple[str, str]]
    ) -> str:
        """Keep a received part (a file in `folder`) as part `number`; its ETag."""
        etag = json.dumps(md5.hex())
        meta = {"etag": etag, "checksum": list(checksum) if checksum else None}
        _write_json(folder / ("%05d.json" % number), meta)
        os.replace(body, folder / ("%05d.part" % number))
        return etag

    def parts(self, folder: Path) -> List[Part]:
        found = []
        for meta_path in sorted(folder.glob("[0-9]" * 5 + ".json")):
            data = folder / (meta_path.stem + ".part")
            try:
                meta = json.loads(meta_path.read_text("utf-8"))
                stat = data.stat()
            except (OSError, ValueError):
                continue  # a part still arriving
            when = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.timezone.utc)
            checksum = tuple(meta["checksum"]) if meta.get("checksum") else None
            found.append(Part(int(meta_path.stem), meta["etag"], stat.st_size, when, checksum))
        return found

    def assemble(self, folder: Path, wanted: List[Tuple[int, str]]) -> Tuple[Path, str]:
        """The listed parts joined in a new file of `folder`, and the object's ETag."""
        if not wanted:
            raise S3Error("MalformedXML", "CompleteMultipartUpload lists no parts")
        numbers = [n for n, _ in wanted]
        if numbers != sorted(set(numbers)):
            raise S3Error(
                "InvalidPartOrder",
                "The list of parts was not in ascending order. The parts list must be "
                "specified in order by part number.",
            )
        have = {p.number: p for p in self.parts(folder)}
        chosen = []
        for number, etag in wanted:
            part = have.get(number)
            if part is None or part.etag.strip('"') != etag.strip().strip('"'):
                raise S3Error(
                    "InvalidPart",
                    "One or more of the specified parts could not be found. The part may not "
                    "have been uploaded, or the specified entity tag may not match the part's "
                    "entity tag.",
                    extra={"PartNumber": str(number)},
                )
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART:
                raise S3Error(
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size.",
                    extra={
                        "ProposedSize": str(part.size),
                        "MinSizeAllowed": str(MIN_PART),
                        "PartNumber": str(part.number),
                    },  # fmt: skip
                )
        digest = hashlib.md5(usedforsecurity=False)
        fd, name = tempfile.mkstemp(prefix=".object.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                for part in chosen:
                    digest.update(bytes.fromhex(part.etag.strip('"')))
                    with (folder / ("%05d.part" % part.number)).open("rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name), json.dumps("%s-%d" % (digest.hexdigest(), len(chosen)))

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)


class Etags(object):
    """The ETags of objects this layer assembled from parts (the store keeps files, and a
    file's ETag is otherwise the MD5 of its bytes): remembered with the file's size, mtime and
    inode, so an object replaced since by any writer gets its MD5 again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def remember(self, uri: str, path: Path, etag: str) -> None:
        stat = path.stat()
        _write_json(
            self._file(uri),
            {"uri": uri, "stat": [stat.st_size, stat.st_mtime_ns, stat.st_ino], "etag": etag},
        )

    def of(self, uri: str, path: Path, computed: str) -> str:
        try:
            known = json.loads(self._file(uri).read_text("utf-8"))
            stat = path.stat()
        except (OSError, ValueError):
            return computed
        if known.get("uri") == uri and known.get("stat") == [
            stat.st_size,
            stat.st_mtime_ns,
            stat.st_ino,
        ]:
            return str(known["etag"])
        return computed

    def _file(self, uri: str) -> Path:
        return self.folder / (hashlib.sha256(uri.encode("utf-8")).hexdigest() + ".json")


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(value, f)
    os.replace(name, path)
