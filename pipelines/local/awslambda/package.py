"""A function's deployment package: a .zip archive, as CreateFunction's ZipFile takes it,
checked before anything is written and unpacked with the rules of the project's tar extractor
(processing/churn_job.py): plain files and folders only, every name relative and free of '..',
no links, bounded in members, depth and size. Nothing of an unsafe package is unpacked.

Lambda's own bounds (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
50 MB zipped for a direct upload, 250 MB unzipped (262,144,000 bytes)."""

import io
import os
import shutil
import stat
import zipfile
from pathlib import Path
from typing import List

MAX_ZIPPED_BYTES = 50 * 1024**2
MAX_UNZIPPED_BYTES = 262144000
MAX_MEMBERS = 10000
MAX_DEPTH = 100
NAME_MAX = 255


class PackageError(ValueError):
    """A package Lambda would refuse, or one the twin will not unpack: the message says why."""


def checked_members(data: bytes) -> List[zipfile.ZipInfo]:
    """The archive's members, every one checked; PackageError naming the first problem."""
    if len(data) > MAX_ZIPPED_BYTES:
        raise PackageError(
            "Zipped size must be smaller than %d bytes (a direct upload)" % MAX_ZIPPED_BYTES
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise PackageError("Could not unzip uploaded file. Please check your file, then try to "
                           "upload again.")  # fmt: skip
    if len(members) > MAX_MEMBERS:
        raise PackageError("the package has more than %d files" % MAX_MEMBERS)
    total = 0
    for member in members:
        problem = member_problem(member)
        if problem:
            raise PackageError(
                "the package is unsafe: member %r %s" % (member.filename[:100], problem)
            )
        total += member.file_size
    if total > MAX_UNZIPPED_BYTES:
        raise PackageError("Unzipped size must be smaller than %d bytes" % MAX_UNZIPPED_BYTES)
    return members


def member_problem(member: zipfile.ZipInfo) -> str:
    """Why a member may not be unpacked, or "" for a plain file or folder inside the target."""
    name = member.filename
    parts = [p for p in name.split("/") if p not in ("", ".")]
    mode = member.external_attr >> 16
    if not parts:
        return "has an empty name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in parts or any("\\" in p for p in parts):
        return "has a '..' or '\\' path component"
    if any(len(os.fsencode(p)) > NAME_MAX for p in parts):
        return "has a name longer than %d bytes" % NAME_MAX
    if len(parts) > MAX_DEPTH:
        return "is nested more than %d folders deep" % MAX_DEPTH
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no type recorded
        return "is not a regular file or folder"
    return ""


def unpack(data: bytes, destination: Path) -> None:
    """Unpack a checked package into `destination` (made; must not exist), through a sibling
    temporary folder renamed into place, so a reader sees the whole package or none. Bytes only:
    no mode, owner or time from the archive is applied; files that an archive lists twice end
    as the last copy. The unpacked size is counted as it is written, whatever the headers said."""
    members = checked_members(data)
    temporary = destination.with_name(".%s.partial" % destination.name)
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    written = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in members:
                parts = [p for p in member.filename.split("/") if p not in ("", ".")]
                target = temporary.joinpath(*parts)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(target, "wb") as sink:
                    while True:
                        block = source.read(1024 * 1024)
                        if not block:
                            break
                        written += len(block)
                        if written > MAX_UNZIPPED_BYTES:
                            raise PackageError(
                                "Unzipped size must be smaller than %d bytes" % MAX_UNZIPPED_BYTES
                            )
                        sink.write(block)
        os.replace(temporary, destination)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise PackageError("Could not unzip uploaded file (%s)" % e)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
