"""processing/churn_job.py, the one home of what every job script and the local engine share:
atomic publishing, safe archive extraction and the failure message. Run as the scripts import it
(from the processing folder) and as pipelines imports it."""

import io
import os
import subprocess
import sys
import tarfile

import pytest

from processing import churn_job

from conftest import ROOT


def tar_of(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_failure_message_file_is_written_only_where_sagemaker_expects_it(tmp_path):
    """The /opt/ml/output/message contract, on a temp folder: first 1024 characters, and
    nothing when the folder is absent (a local run)."""
    code = "import sys, churn_job\nchurn_job.write_failure_message('x' * 2000, sys.argv[1])\n"
    present = tmp_path / "output" / "message"
    present.parent.mkdir()
    absent = tmp_path / "missing" / "message"
    for target in (present, absent):
        subprocess.run(
            [sys.executable, "-c", code, str(target)], check=True, cwd=str(ROOT / "processing")
        )
    assert present.read_text() == "x" * 1024
    assert not absent.parent.exists()


@pytest.mark.fast
def test_every_member_is_checked_before_any_is_extracted(tmp_path):
    archive = tar_of(tmp_path / "model.tar.gz", [("xgboost-model", b"model"), ("../evil", b"x")])
    destination = tmp_path / "extract"
    destination.mkdir()
    with pytest.raises(churn_job.ArchiveError, match="nothing was extracted"):
        churn_job.extract_archive(archive, destination)
    assert list(destination.iterdir()) == []  # not even the valid members listed first
    assert not (tmp_path / "evil").exists()


@pytest.mark.fast
def test_member_count_and_size_are_capped(tmp_path):
    archive = tar_of(
        tmp_path / "model.tar.gz", [("xgboost-model", b"m" * 200), ("preprocessing.json", b"{}")]
    )
    with pytest.raises(churn_job.ArchiveError, match="more than 1 members"):
        churn_job.extract_archive(archive, tmp_path / "a", max_members=1)
    with pytest.raises(churn_job.ArchiveError, match="more than 100 bytes"):
        churn_job.extract_archive(archive, tmp_path / "b", max_bytes=100)
    churn_job.extract_archive(archive, tmp_path / "c")
    assert (tmp_path / "c" / "xgboost-model").read_bytes() == b"m" * 200


@pytest.mark.fast
def test_a_file_that_is_not_an_archive_is_one_clear_error(tmp_path):
    (tmp_path / "model.tar.gz").write_bytes(b"not a tar file")
    with pytest.raises(churn_job.ArchiveError, match="is not a readable tar archive"):
        churn_job.extract_archive(tmp_path / "model.tar.gz", tmp_path / "out")


@pytest.mark.fast
def test_a_failed_write_publishes_nothing_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("the old report")

    def write_half(tmp):
        with open(tmp, "w") as f:
            f.write("half a rep")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        churn_job.write_atomic(target, write_half)
    assert target.read_text() == "the old report"
    assert os.listdir(tmp_path) == ["report.json"]


@pytest.mark.fast
def test_temporary_files_are_named_so_listings_can_skip_them(tmp_path):
    seen = []
    churn_job.write_atomic(
        tmp_path / "data.csv",
        lambda tmp: seen.append(os.path.basename(tmp)) or open(tmp, "w").close(),
        suffix=".ubj",
    )
    assert churn_job.is_temporary(seen[0]) and seen[0].endswith(".tmp.ubj")
    assert not churn_job.is_temporary("data.csv")
    assert (tmp_path / "data.csv").exists()


@pytest.mark.fast
def test_files_published_together_appear_together_or_not_at_all(tmp_path):
    """Files streamed over chunks stay under temporary names (which listings skip) until the
    block ends; a block that raises leaves the old files and no temporary one."""
    (tmp_path / "b.bin").write_bytes(b"old")
    with churn_job.PublishedTogether() as files:
        files.file(str(tmp_path / "a" / "a.csv")).write("x,1\n")
        files.file(str(tmp_path / "b.bin"), binary=True).write(b"new")
        files.file(str(tmp_path / "a" / "a.csv")).write("y,2\n")
        hidden = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
        assert hidden == [".a.csv.tmp", ".b.bin.tmp", "b.bin"]
        assert all(churn_job.is_temporary(n) for n in hidden[:2])
    assert (tmp_path / "a" / "a.csv").read_text() == "x,1\ny,2\n"
    assert (tmp_path / "b.bin").read_bytes() == b"new"

    with pytest.raises(OSError):
        with churn_job.PublishedTogether() as files:
            files.file(str(tmp_path / "b.bin"), binary=True).write(b"newer")
            files.file(str(tmp_path / "c.csv")).write("half")
            raise OSError(28, "No space left on device")
    assert (tmp_path / "b.bin").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.csv", "b.bin"]


def test_a_set_whose_last_flush_fails_publishes_none_of_its_files(tmp_path):
    """A full disk met at the end, when the last file's buffer is flushed: the file flushed
    before it must not be published alone. A 10 KB file-size limit stands in for the disk:
    12 KB written a kilobyte at a time leaves 4 KB in the buffer for the end."""
    script = """
import resource, signal, sys
sys.path.insert(0, sys.argv[2])
import churn_job
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (10 * 1024, 10 * 1024))
try:
    with churn_job.PublishedTogether() as files:
        files.file(sys.argv[1] + "/a.csv").write("a" * 100)
        for _ in range(12):
            files.file(sys.argv[1] + "/b.csv").write("b" * 1024)
except OSError as e:
    print("refused:", e.strerror)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(ROOT / "processing")],
        capture_output=True,
        text=True,
    )
    assert proc.stdout == "refused: File too large\n", proc.stdout + proc.stderr
    assert os.listdir(tmp_path) == []


class Zeros(io.RawIOBase):
    """n zero bytes, read without holding them."""

    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def gzip_bomb(path, size):
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = size
        archive.addfile(info, io.BufferedReader(Zeros(size)))
    return path


def test_a_gzip_bomb_is_refused_by_its_ratio_before_anything_is_written(tmp_path):
    bomb = gzip_bomb(tmp_path / "model.tar.gz", 300 * 1024**2)  # 300 MB of zeros, ~300 KB
    assert bomb.stat().st_size * churn_job.MAX_RATIO < 300 * 1024**2
    with pytest.raises(churn_job.ArchiveError, match="times its own size at most"):
        churn_job.extract_archive(bomb, tmp_path / "out")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


# ----------------------------------------------------------------------------- hostile headers

MEMORY_LIMIT = 512 * 1024**2  # the child's address space: a header bomb fails inside it
EXTRACT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (%d, %d))
import churn_job
try:
    churn_job.extract_archive(sys.argv[1], sys.argv[2])
except churn_job.ArchiveError as e:
    sys.stderr.write("%%s\\n" %% e)
    sys.exit(1)
""" % (MEMORY_LIMIT, MEMORY_LIMIT)


def header(name, kind=tarfile.REGTYPE, size=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    return info.tobuf(tarfile.GNU_FORMAT)  # a name over 100 bytes gets a GNU long name


def padded(data):
    return data + bytes(-len(data) % 512)


def pax(records):
    """A pax extended header and its records ({keyword: value})."""
    data = b""
    for key, value in records.items():
        record = b" %s=%s\n" % (key, value)
        length = len(record) + len(str(len(record)))
        length = len(record) + len(str(length))  # the length counts its own digits
        data += b"%d%s" % (length, record)
    return header("././@PaxHeader", tarfile.XHDTYPE, len(data)) + padded(data)


MEMBER = header("xgboost-model", size=5) + padded(b"model")
END = bytes(1024)
DECLARED_GIB = header("././@LongLink", tarfile.GNUTYPE_LONGNAME, 1024**3) + bytes(512)
HOSTILE_ARCHIVES = {
    # (the archive's tar stream, what the refusal names); each did what the comment says
    "pax-header-declaring-1-gib": (  # MemoryError traceback
        header("././@PaxHeader", tarfile.XHDTYPE, 1024**3) + bytes(512) + MEMBER + END,
        "an extended header (tar type 'x') of 1073741824 bytes",
    ),
    "gnu-long-name-declaring-1-gib": (  # MemoryError traceback
        DECLARED_GIB + MEMBER + END,
        "an extended header (tar type 'L') of 1073741824 bytes",
    ),
    "cve-2024-6232-pax-digits": (  # 40 s of CPU in tarfile's header regex
        header("././@PaxHeader", tarfile.XHDTYPE, 256 * 1024)
        + padded(b"1" * 256 * 1024)
        + MEMBER
        + END,
        "an extended header (tar type 'x') of 262144 bytes",
    ),
    "a-chain-of-3000-long-names": (  # RecursionError traceback
        header("././@LongLink", tarfile.GNUTYPE_LONGNAME, 0) * 3000 + MEMBER + END,
        "more than 8 extended headers before one member",
    ),
    "gnu-sparse-1.0-map-of-a-billion-blocks": (  # ValueError traceback
        pax({b"GNU.sparse.major": b"1", b"GNU.sparse.minor": b"0", b"GNU.sparse.name": b"m"})
        + header("m", size=512)
        + padded(b"1000000000\n" + b"1\n" * 200)
        + END,
        "a sparse file",
    ),
    "a-folder-then-a-file-of-its-name": (  # IsADirectoryError traceback
        header("code", tarfile.DIRTYPE) + header("code", size=1) + padded(b"x") + END,
        "'code' is both a file and a folder",
    ),
    "a-file-then-a-folder-of-its-name": (  # FileExistsError traceback
        header("code", size=1)
        + padded(b"x")
        + header("code/inference.py", size=1)
        + padded(b"x")
        + END,
        "'code' is both a file and a folder",
    ),
    "a-name-over-255-bytes": (  # OSError File name too long
        header("x" * 300, size=1) + padded(b"x") + END,
        "a name longer than 255 bytes",
    ),
    "a-path-over-4096-bytes": (  # OSError File name too long
        header(("y" * 200 + "/") * 25 + "f", size=1) + padded(b"x") + END,
        "a path longer than 4096 bytes",
    ),
    "a-path-1500-folders-deep": (  # RecursionError traceback in os.makedirs
        header("a/" * 1500 + "f", size=1) + padded(b"x") + END,
        "is nested more than 100 folders deep",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ARCHIVES))
def test_a_hostile_archive_is_one_line_in_bounded_time_and_memory(tmp_path, name):
    """Each crafted archive, through extract_archive in a child process limited to 512 MB of
    address space and 5 s: one line that names the problem, no traceback, nothing extracted."""
    import gzip
    import time

    stream, refusal = HOSTILE_ARCHIVES[name]
    archive = tmp_path / "model.tar.gz"
    with gzip.open(archive, "wb", compresslevel=1) as f:
        f.write(stream)
    destination = tmp_path / "out"
    started = time.time()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", EXTRACT, str(archive), str(destination)],
            capture_output=True,
            text=True,
            cwd=str(ROOT / "processing"),
            timeout=5,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("extract_archive ran past 5 s")
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
    assert refusal in proc.stderr and "nothing was extracted" in proc.stderr, proc.stderr
    assert not destination.exists() or list(destination.iterdir()) == []
    assert time.time() - started < 5


@pytest.mark.fast
def test_archives_with_the_extended_headers_tar_writes_still_unpack(tmp_path):
    """pax (long and non-ASCII names, as Python and GNU tar --format=posix write them) and GNU
    long names pass the header bounds."""
    long_name = "code/" + "n" * 180 + ".py"
    for kind in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        archive = tmp_path / ("model-%d.tar.gz" % kind)
        with tarfile.open(archive, "w:gz", format=kind) as tar:
            for name in ("xgboost-model", long_name, "code/café.py"):
                info = tarfile.TarInfo(name)
                info.size = 2
                if kind == tarfile.PAX_FORMAT:
                    info.pax_headers = {"atime": "1700000000.5", "ctime": "1700000000.5"}
                tar.addfile(info, io.BytesIO(b"ok"))
        out = tmp_path / ("out-%d" % kind)
        churn_job.extract_archive(archive, out)
        assert (out / long_name).read_bytes() == b"ok" and (out / "code" / "café.py").exists()
