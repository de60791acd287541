"""Lambda functions, on AWS or on the home's Lambda twin (the same calls on either client):
register one from a folder or a .zip (`churn lambda create`), list, delete and invoke them.

A folder is zipped here, before the call, into the package CreateFunction takes as ZipFile:
its files by their paths relative to the folder (symbolic links followed only when they stay
inside it; __pycache__ and .pyc files left out), so a local function and the function on AWS
are made from the same bytes. Re-run `create` after editing the folder: it updates the code of a
function that exists (UpdateFunctionCode) and creates it otherwise."""

import base64
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from pipelines.errors import UserError

SKIPPED = ("__pycache__",)


def package(code: str) -> bytes:
    """The deployment package for `code`: a .zip file's bytes as they are, or a folder zipped."""
    path = Path(code)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise UserError("%s is neither a folder nor a .zip file" % code)
        return path.read_bytes()
    if not path.is_dir():
        raise UserError("%s: no such folder or .zip file" % code)
    root = path.resolve()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, folders, files in os.walk(root, followlinks=False):
            folders[:] = sorted(f for f in folders if f not in SKIPPED)
            for name in sorted(files):
                source = Path(folder) / name
                if name.endswith(".pyc") or not source.resolve().is_relative_to(root):
                    continue
                info = zipfile.ZipInfo(source.relative_to(root).as_posix(), (1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16  # the same bytes for the same files
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, source.read_bytes())
    return buffer.getvalue()


def create_or_update(
    client: Any,
    name: str,
    handler: str,
    code: bytes,
    role: str,
    runtime: str = "python3.11",
    timeout: int = 120,
    memory: int = 128,
    environment: Optional[Dict[str, str]] = None,
) -> Tuple[str, Dict[str, Any]]:
    """Create the function, or update the code of the one of that name (its settings as they
    were): ("created" | "updated", its configuration)."""
    from botocore.exceptions import ClientError

    try:
        client.get_function(FunctionName=name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        request: Dict[str, Any] = dict(
            FunctionName=name, Runtime=runtime, Role=role, Handler=handler,
            Code={"ZipFile": code}, Timeout=timeout, MemorySize=memory,
        )  # fmt: skip
        if environment:
            request["Environment"] = {"Variables": environment}
        return "created", client.create_function(**request)
    return "updated", client.update_function_code(FunctionName=name, ZipFile=code)


def list_functions(client: Any) -> List[Dict[str, Any]]:
    found: List[Dict[str, Any]] = []
    for page in client.get_paginator("list_functions").paginate():
        found += page["Functions"]
    return found


def delete(client: Any, name: str) -> None:
    client.delete_function(FunctionName=name)


def invoke(client: Any, name: str, event: Any) -> Tuple[Any, Optional[str], str]:
    """Invoke and wait: (the answer as JSON, FunctionError or None, the log's tail)."""
    answer = client.invoke(
        FunctionName=name, Payload=json.dumps(event).encode("utf-8"), LogType="Tail"
    )
    body = answer["Payload"].read()
    try:
        result = json.loads(body) if body else None
    except ValueError:
        result = body.decode("utf-8", "replace")
    log = base64.b64decode(answer.get("LogResult") or b"").decode("utf-8", "replace")
    return result, answer.get("FunctionError"), log
