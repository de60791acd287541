"""The functions of one home, kept as files (what the twin's operations read and write):

    <home>/lambda/functions/<name>/function.json   its configuration, rewritten atomically
    <home>/lambda/functions/<name>/package.zip     the deployment package as it was uploaded
    <home>/lambda/functions/<name>/code/<sha>/     the package unpacked (package.py), one
                                                   folder per code version, never rewritten
    <home>/lambda/logs/<name>.log                  its invocations' logs (the log group)

A function's name is its folder's name, so only names Lambda itself accepts (letters, digits,
'-' and '_', at most 64) are kept; anything else is refused before a path is made of it."""

import base64
import hashlib
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from pipelines.local.awslambda.package import unpack
from processing.churn_job import write_bytes_atomic, write_text_atomic

NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
Configuration = Dict[str, Any]


def code_sha256(data: bytes) -> str:
    """CodeSha256 as Lambda gives it: the package's SHA-256, base64-encoded."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def last_modified(now: Optional[float] = None) -> str:
    """LastModified as Lambda writes it: 2024-05-01T12:00:00.000+0000."""
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03d+0000" % (
        int(now * 1000) % 1000
    )


class Functions(object):
    def __init__(self, home: Path) -> None:
        self.root = Path(home).resolve() / "lambda"

    def folder(self, name: str) -> Path:
        if not NAME.fullmatch(name):
            raise ValueError("not a function name: %r" % name)
        return self.root / "functions" / name

    def log_file(self, name: str) -> Path:
        return self.root / "logs" / ("%s.log" % name)

    def get(self, name: str) -> Optional[Configuration]:
        if not NAME.fullmatch(name):
            return None
        try:
            found: Configuration = json.loads((self.folder(name) / "function.json").read_text())
        except (OSError, ValueError):
            return None
        return found

    def names(self) -> List[str]:
        folder = self.root / "functions"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if (p / "function.json").is_file())

    def save(self, configuration: Configuration) -> None:
        path = self.folder(configuration["FunctionName"]) / "function.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(configuration, indent=1, sort_keys=True))

    def put_code(self, name: str, data: bytes) -> Dict[str, Any]:
        """Unpack a package (PackageError when it is refused) and keep it; returns CodeSize and
        CodeSha256 for the configuration. Done before the configuration names it, so a reader
        never finds a function whose code is missing."""
        sha = code_sha256(data)
        folder = self.code_folder(name, sha)
        if not folder.is_dir():
            folder.parent.mkdir(parents=True, exist_ok=True)
            unpack(data, folder)
        write_bytes_atomic(self.folder(name) / "package.zip", data)
        return {"CodeSize": len(data), "CodeSha256": sha}

    def code_folder(self, name: str, sha: str) -> Path:
        digest = hashlib.sha256(sha.encode("ascii")).hexdigest()[:32]  # a file name from base64
        return self.folder(name) / "code" / digest

    def package(self, name: str) -> Path:
        return self.folder(name) / "package.zip"

    def drop_old_code(self, name: str, keep: str) -> None:
        """Remove the unpacked code versions other than `keep` (an invocation still running
        from one keeps its open files; Lambda likewise serves the old code until an update
        completes)."""
        current = self.code_folder(name, keep)
        for folder in (self.folder(name) / "code").iterdir():
            if folder != current:
                shutil.rmtree(folder, ignore_errors=True)

    def delete(self, name: str) -> None:
        shutil.rmtree(self.folder(name), ignore_errors=True)
