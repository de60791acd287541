"""A private network for a multi-host job: its hosts share a fresh Linux network namespace whose
only interface is loopback, so what they listen on is reachable by each other and by nothing
else.

Why: XGBoost's collective opens each worker's peer socket on every interface (0.0.0.0) and has
no option to bind it elsewhere; on SageMaker the hosts sit in the job's own network, here they
would sit on the user's. A namespace is what a SageMaker cluster's network is to its hosts.

The engine runs `python -m pipelines.local.sagemaker.network` as the hosts' leader: it reads
{"launches": [...], "timeout": seconds or null} on stdin, enters the namespace (it is a fresh,
single-threaded interpreter, as unshare(CLONE_NEWUSER) requires), starts the hosts as a
ColdRunner would and writes {"results": [[host, code]]}, {"timed_out": true} or
{"refused": reason} on stdout.
"""

from __future__ import annotations  # the hosts' leader imports nothing it does not need

import ctypes
import fcntl
import json
import os
import socket
import struct
import sys
from errno import ENOSPC

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def enter_private_network() -> None:
    """Move this process into a new network namespace with loopback up. As root a network
    namespace alone; otherwise inside a user namespace that maps our own uid and gid, so files
    keep their owner. Raises OSError naming why the system refused."""
    try:
        unshare = ctypes.CDLL(None, use_errno=True).unshare
    except (OSError, AttributeError):
        raise OSError("network namespaces are Linux-only") from None
    if unshare(CLONE_NEWNET) != 0:
        uid, gid = os.getuid(), os.getgid()
        if unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            why = os.strerror(errno)
            if errno == ENOSPC:  # the kernel's word for a namespace limit
                why = "user.max_user_namespaces is reached"
            raise OSError("unshare: " + why)
        for name, text in (
            ("uid_map", "%d %d 1" % (uid, uid)),
            ("setgroups", "deny"),  # the kernel's condition for an unprivileged gid_map
            ("gid_map", "%d %d 1" % (gid, gid)),
        ):
            with open("/proc/self/" + name, "w") as f:
                f.write(text)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def main() -> None:
    from pipelines.local.sagemaker.failure import StepFailure
    from pipelines.local.sagemaker.jobs.container import Launch
    from pipelines.local.sagemaker.runners import ColdRunner

    request = json.loads(sys.stdin.read())
    reply: dict[str, Any]
    try:
        enter_private_network()
    except OSError as e:
        reply = {"refused": str(e)}
    else:
        launches = [Launch(**launch) for launch in request["launches"]]
        runner = ColdRunner()
        try:
            reply = {"results": runner.run(launches, request["timeout"])}
            reply["usage"] = runner.last_usage
        except StepFailure:  # only the timeout raises; the engine words it
            reply = {"timed_out": True}
    sys.stdout.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()
