"""What every page reads (`UI`): the workspace, this server's CSRF token and the host names it
answers, object hashes. The pages and the server take it; it imports neither."""

import ipaddress
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from processing.churn_job import file_digest

if TYPE_CHECKING:  # the command opens it; the pages only read through it
    from pipelines.workspace import Workspace


def host_name(host: str) -> str:
    """The name in a Host header or an Origin's authority: lower-case, without the port, the
    brackets of an IPv6 address or a final dot."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class UI(object):
    """What every page reads: the workspace, this server's CSRF token, object hashes."""

    def __init__(self, ws: "Workspace", allowed_hosts: Iterable[str]) -> None:
        self.ws = ws
        self.csrf_token = secrets.token_urlsafe(32)
        self.allowed_hosts = {host_name(h) for h in allowed_hosts}
        self._digests: dict[tuple[str, int, int], tuple[int, str]] = {}

    def answers(self, host: str) -> bool:
        """Whether a request's Host is one this server answers."""
        name = host_name(host)
        return name in self.allowed_hosts or is_address(name)

    def digest(self, path: Path) -> tuple[int, str]:
        """(size, sha256) of a store object, hashed once per (file, size, modification time)."""
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._digests:
            self._digests[key] = file_digest(path)
        return self._digests[key]
