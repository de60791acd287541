"""`churn ui`: the home's executions, model registry and monitoring reports as web pages, on
127.0.0.1 (pipelines/ui/)."""

import argparse
import sys
from typing import TYPE_CHECKING

from pipelines.cli.common import add_home

if TYPE_CHECKING:
    from pipelines.workspace import Workspace


def cmd_ui(args: argparse.Namespace, ws: "Workspace") -> int:
    from pipelines.ui.server import LOOPBACK, serve

    def ready(url: str) -> None:
        print("churn ui: %s (home %s); Ctrl-C stops it" % (url, ws.home))
        sys.stdout.flush()

    if args.host not in LOOPBACK:
        sys.stderr.write(
            "churn ui: warning: listening on %s lets other machines approve models; the pages "
            "have no login\n" % args.host
        )
    serve(ws, args.host, args.port, ready, args.allow_host or ())
    return 0


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "ui", help="web pages of the executions, model registry and monitoring (127.0.0.1)"
    )
    p.add_argument("--port", type=int, default=8090, help="default: %(default)s (0: any free)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; default: %(default)s, this machine only (0.0.0.0: "
        "every address; requests to them by address or by this machine's name are answered)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="answer requests addressed to NAME too (a DNS name or alias of this machine; "
        "repeatable). Requests to any other name get 421, so a page of another site cannot "
        "reach the UI by rebinding its own name to this machine",
    )
    add_home(p)
    p.set_defaults(func=cmd_ui)
