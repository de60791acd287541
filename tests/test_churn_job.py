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


def test_every_member_is_checked_before_any_is_extracted(tmp_path):
    archive = tar_of(tmp_path / "model.tar.gz", [("xgboost-model", b"model"), ("../evil", b"x")])
    destination = tmp_path / "extract"
    destination.mkdir()
    with pytest.raises(churn_job.ArchiveError, match="nothing was extracted"):
        churn_job.extract_archive(archive, destination)
    assert list(destination.iterdir()) == []  # not even the valid members listed first
    assert not (tmp_path / "evil").exists()


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


def test_a_file_that_is_not_an_archive_is_one_clear_error(tmp_path):
    (tmp_path / "model.tar.gz").write_bytes(b"not a tar file")
    with pytest.raises(churn_job.ArchiveError, match="is not a readable tar archive"):
        churn_job.extract_archive(tmp_path / "model.tar.gz", tmp_path / "out")


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
