"""What every job script and the local engine share: publishing a file whole or not at all,
unpacking an archive safely, and reporting a job's failure.

Standard library only, Python 3.9: this module ships inside the processing, training and
evaluation code bundles (the container scripts never import `pipelines`), and `pipelines`
imports it too, so each of these mechanics has exactly one implementation.
"""

import gzip
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import zlib

# A model or code archive holds a few files; the caps stop a broken or hostile archive from
# filling the disk before anything is loaded.
MAX_ARCHIVE_MEMBERS = 1000
MAX_ARCHIVE_BYTES = 2 * 1024**3
# A model or code archive compresses a few times, a gzip bomb a thousand times. Past a floor
# (small archives of text compress well), unpacking to more than MAX_RATIO times the archive's
# own size is refused.
MAX_RATIO = 200
RATIO_FLOOR_BYTES = 64 * 1024**2
# Extended headers (pax records, GNU long names) carry the next member's name and attributes.
# tarfile reads each one whole into memory, recurses through consecutive ones, and before
# Python 3.9.20/3.11.10/3.12.6 (CVE-2024-6232) parses pax records in time quadratic in their
# size (64 KB took 3 s, 8 KB 0.05 s). A path and its attributes fit in 8 KB (PATH_MAX is 4096
# bytes), a thousand members' pax times in 256 KB, and a member follows at most a few.
MAX_HEADER_BYTES = 8 * 1024
MAX_ARCHIVE_HEADER_BYTES = 256 * 1024
MAX_HEADER_CHAIN = 8
EXTENDED_HEADER_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
# What a file system and os.makedirs (recursive, one frame a folder) take.
NAME_MAX = 255
PATH_MAX = 4096
MAX_FOLDER_DEPTH = 100
FAILURE_MESSAGE_BYTES = 1024  # what SageMaker keeps of a job's failure message


class ArchiveError(ValueError):
    """An archive that is unreadable or unsafe to unpack; nothing was extracted."""


class _UnsafeHeader(Exception):
    """A header refused before tarfile reads what it declares (the message says why)."""


# ----------------------------------------------------------------------------- publishing


def write_atomic(path, write, suffix=""):
    """Publish `path` whole or not at all: `write(tmp)` writes a temporary file in the same
    folder, which is flushed to disk and renamed over `path`. Readers never see half a file,
    and a kill or a full disk leaves at most a hidden temporary file behind. `suffix` ends the
    temporary name, for writers that pick a format from the extension."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp" + suffix, dir=folder
    )
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


class PublishedTogether(object):
    """Files written a piece at a time and published together: each under a temporary name
    (one `is_temporary` knows) until the `with` block ends, then flushed to disk and renamed;
    removed instead if the block raises. A job that streams its outputs over chunks of its
    input never leaves readers a half-written file or a set with one file missing."""

    def __init__(self):
        self.files = {}

    def file(self, path, binary=False):
        """The open temporary file that becomes `path`; opened (folders made) on first use."""
        if path not in self.files:
            folder = os.path.dirname(path) or "."
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, "." + os.path.basename(path) + ".tmp")
            if binary:
                self.files[path] = open(tmp, "wb")
            else:
                self.files[path] = open(tmp, "w", encoding="utf-8", newline="")
        return self.files[path]

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        try:
            if kind is None:
                # Every file whole on disk before the first is renamed: a full disk at the
                # last flush must not leave the files before it published alone.
                for f in self.files.values():
                    f.flush()
                    os.fsync(f.fileno())
                    f.close()
                for path, f in self.files.items():
                    os.replace(f.name, path)
                return False
        except BaseException:
            self.discard()
            raise
        self.discard()
        return False

    def discard(self):
        """Close and remove every temporary file that was not renamed."""
        for f in self.files.values():
            try:
                f.close()
            except OSError:  # the flush that failed fails again: the file closes all the same
                pass
            try:
                os.unlink(f.name)
            except FileNotFoundError:  # renamed before a later rename failed
                pass


def is_temporary(name):
    """Whether a file name is one of write_atomic's temporary files (not yet published)."""
    return name.startswith(".") and ".tmp" in name


def write_bytes_atomic(path, data):
    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)

    return write_atomic(path, write)


def write_text_atomic(path, text):
    return write_bytes_atomic(path, text.encode("utf-8"))


def copy_atomic(source, path):
    return write_atomic(path, lambda tmp: shutil.copyfile(source, tmp))


def file_digest(path, block_size=1024 * 1024):
    """(size, sha256 hex) of a file, read in blocks (a table may not fit in memory)."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(block_size), b""):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


# ----------------------------------------------------------------------------- archives


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile's TarInfo, refusing a header that would make tarfile read or parse too much
    before tarfile reads it: an extended header over MAX_HEADER_BYTES, extended headers over
    MAX_ARCHIVE_HEADER_BYTES in all or more than MAX_HEADER_CHAIN before one member, and sparse
    files (their block maps are read whole too; no model archive holds one).

    It hooks _proc_member, tarfile's step that has a header's type and declared size and has
    read nothing else (unchanged from Python 2.7 to 3.13; the hostile-archive tests fail if it
    stops being called). A scan of the raw blocks beforehand would have to follow every rule
    tarfile uses to find the next header, or it would check other headers than tarfile reads."""

    __slots__ = ()

    def _proc_member(self, tarfile_):
        spent, chain = getattr(tarfile_, "_churn_header_use", (0, 0))
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _UnsafeHeader("member %r is a sparse file" % self.name)
        if self.type in EXTENDED_HEADER_TYPES:
            kind = self.type.decode("latin-1")
            if self.size > MAX_HEADER_BYTES:
                raise _UnsafeHeader(
                    "an extended header (tar type %r) of %d bytes; at most %d are read"
                    % (kind, self.size, MAX_HEADER_BYTES)
                )
            spent, chain = spent + self.size, chain + 1
            if spent > MAX_ARCHIVE_HEADER_BYTES:
                raise _UnsafeHeader(
                    "extended headers of more than %d bytes in all" % MAX_ARCHIVE_HEADER_BYTES
                )
            if chain > MAX_HEADER_CHAIN:
                raise _UnsafeHeader(
                    "more than %d extended headers before one member" % MAX_HEADER_CHAIN
                )
        else:
            chain = 0
        tarfile_._churn_header_use = (spent, chain)
        return super()._proc_member(tarfile_)

    def _proc_gnusparse_10(self, member, pax_headers, tarfile_):
        raise _UnsafeHeader("member %r is a sparse file" % member.name)


def _path_parts(name):
    """A member name's folders and file name, as os.path.join sees them ('a//./b' is a/b)."""
    return [part for part in name.split("/") if part not in ("", ".")]


def member_problem(member):
    """Why this archive member may not be extracted, or None for a plain file or folder that
    stays inside the extraction folder."""
    parts = _path_parts(member.name)
    if not member.name or not (parts or member.isdir()):
        return "has an empty name"
    if member.name.startswith("/"):
        return "has an absolute path"
    if ".." in parts:
        return "has a '..' path component"
    if any(len(os.fsencode(part)) > NAME_MAX for part in parts):
        return "has a name longer than %d bytes" % NAME_MAX
    if len(parts) > MAX_FOLDER_DEPTH:
        return "is nested more than %d folders deep" % MAX_FOLDER_DEPTH
    if member.sparse is not None:
        return "is a sparse file"
    if member.issym():
        return "is a symbolic link (to %r)" % member.linkname
    if member.islnk():
        return "is a hard link (to %r)" % member.linkname
    if member.ischr() or member.isblk():
        return "is a device file"
    if member.isfifo():
        return "is a FIFO"
    if not (member.isreg() or member.isdir()):
        return "is not a regular file or folder (tar type %r)" % member.type
    return None


def _checked_members(archive, label, destination, max_members, max_bytes, archive_bytes):
    """All members, each checked before any is extracted, so an archive with a single unsafe
    member leaves nothing behind. Reading the headers streams through the archive once; the
    limits stop it as soon as they are crossed."""
    max_bytes = min(max_bytes, max(RATIO_FLOOR_BYTES, MAX_RATIO * archive_bytes))
    members, total_bytes, files, folders = [], 0, set(), set()
    for member in archive:
        problem = member_problem(member)
        parts = tuple(_path_parts(member.name))
        if not problem and len(os.fsencode(os.path.join(destination, *parts))) >= PATH_MAX:
            problem = "makes a path longer than %d bytes" % PATH_MAX
        if problem:
            name = member.name if len(member.name) <= 100 else member.name[:100] + "..."
            raise ArchiveError(
                "%s is unsafe: member %r %s; nothing was extracted" % (label, name, problem)
            )
        members.append(member)
        (folders if member.isdir() else files).add(parts)
        folders.update(parts[:end] for end in range(1, len(parts)))
        total_bytes += member.size
        if len(members) > max_members:
            raise ArchiveError(
                "%s has more than %d members; nothing was extracted" % (label, max_members)
            )
        if total_bytes > max_bytes:
            raise ArchiveError(
                "%s unpacks to more than %d bytes (%d times its own size at most); nothing was "
                "extracted" % (label, max_bytes, MAX_RATIO)
            )
    both = sorted(files & folders)
    if both:
        raise ArchiveError(
            "%s is unsafe: %r is both a file and a folder; nothing was extracted"
            % (label, "/".join(both[0]))
        )
    return members


def archive_has_members(path):
    """Whether a (compressed) tar archive opens and holds at least one member."""
    try:
        with tarfile.open(os.fspath(path), "r:*", tarinfo=_BoundedTarInfo) as archive:
            return archive.next() is not None
    except (tarfile.TarError, EOFError, OSError, zlib.error, _UnsafeHeader):
        return False


def extract_archive(
    path, destination, label=None, max_members=MAX_ARCHIVE_MEMBERS, max_bytes=MAX_ARCHIVE_BYTES
):
    """Unpack the (optionally compressed) tar archive at `path` into `destination`.

    Read from the file, never whole into memory. Files are written by hand rather than with
    TarFile.extractall: its `filter=` argument does not exist on the Python 3.9 of older
    images, and copying bytes alone means no owner, mode or timestamp from the archive is ever
    applied. With links refused and every name relative and free of '..', each target lies
    inside `destination`."""
    label = label or os.fspath(path)
    destination = os.fspath(destination)
    try:
        os.makedirs(destination, exist_ok=True)
        with tarfile.open(os.fspath(path), "r:*", tarinfo=_BoundedTarInfo) as archive:
            for member in _checked_members(
                archive,
                label,
                destination,
                max_members,
                max_bytes,
                os.path.getsize(os.fspath(path)),
            ):
                target = os.path.join(destination, *_path_parts(member.name))
                if member.isdir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.extractfile(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    except _UnsafeHeader as e:
        raise ArchiveError("%s is unsafe: %s; nothing was extracted" % (label, e))
    except ArchiveError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, ValueError) as e:
        raise ArchiveError("%s is not a readable tar archive: %s" % (label, e))
    except (OSError, RecursionError) as e:
        # What the checks above cannot see (a full disk, a file already in the destination
        # where the archive has a folder): still one line, naming the path.
        raise ArchiveError("%s cannot be unpacked into %s: %s" % (label, destination, e))


# ----------------------------------------------------------------------------- cluster


def current_host(resource_config):
    """This instance's name (algo-1, algo-2, ...) from the job's resourceconfig.json, which
    SageMaker writes for every processing and training instance: a sharded job names its
    partial result after it, so the instances' uploads to one S3 prefix never collide."""
    try:
        with open(resource_config, encoding="utf-8") as f:
            host = json.load(f)["current_host"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise OSError("cannot read this instance's name from %s: %s" % (resource_config, e))
    if not isinstance(host, str) or not host or "/" in host or host.startswith("."):
        raise OSError("%s names this instance %r, not a host name" % (resource_config, host))
    return host


def add_division_arguments(parser, chunk_rows, partial, result):
    """How a job divides its work: --chunk-rows, the rows it reads and works on at a time, and
    --shard-of and --merge, the two halves of a job divided over instances: each instance
    writes its `partial` result, then one instance merges them into the `result`."""
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=chunk_rows,
        help="rows read and worked on at a time (memory against per-chunk overhead)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--shard-of",
        metavar="RESOURCE_CONFIG",
        help="this instance's share only (its host named in this resourceconfig.json): write "
        "its %s under <output-dir>/<host>/ for --merge" % partial,
    )
    mode.add_argument(
        "--merge",
        metavar="DIR",
        help="write the %s from the shards' results under DIR instead of reading --input" % result,
    )


def shard_results(folder, name, program):
    """The paths of every shard result called `name` under `folder`, in host order."""
    paths = sorted(
        os.path.join(root, found)
        for root, _, names in os.walk(folder)
        for found in names
        if found == name
    )
    if not paths:
        raise OSError("no %s under %s: %s --shard-of writes them" % (name, folder, program))
    return paths


# ----------------------------------------------------------------------------- failure


def write_failure_message(message, failure_file):
    """The job's failure message for SageMaker, where its folder exists: the processing
    contract's /opt/ml/output/message, training's <SM_OUTPUT_DIR>/failure."""
    if os.path.isdir(os.path.dirname(failure_file)):
        with open(failure_file, "w", encoding="utf-8") as f:
            f.write(message[:FAILURE_MESSAGE_BYTES])


def fail(program, message, failure_file):
    """One clear line for the user and the failure message for SageMaker; exits 1."""
    sys.stderr.write("%s: error: %s\n" % (program, message))
    write_failure_message(message, failure_file)
    sys.exit(1)
