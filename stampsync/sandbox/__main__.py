"""``python -m stampsync.sandbox`` (and ``stampsync sandbox``): serve the sandbox until Ctrl-C."""

from __future__ import annotations

import argparse
import shlex
import socket
import sys
from collections.abc import Sequence

from aiohttp import web

from ..errors import ConfigurationError
from ._config import SandboxConfig, add_arguments, config_from
from .app import build_app
from .server import HOST, free_port, spawn

#: Exit codes, as ``--help`` lists them.
OK, CANNOT_LISTEN, USAGE = 0, 1, 2

EPILOG = """\
exit codes: 0 stopped by Ctrl-C or SIGTERM (with --env: started); 1 could not listen
(the port is in use, say); 2 bad options; 70 internal error.

Point the stampsync command line and clients at it from a shell:
  eval "$(stampsync sandbox --env)"     # starts it in the background
  kill "$STAMPSYNC_SANDBOX_PID"         # stops it
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stampsync sandbox",
        description="A local server of the Stamped.io and Stamps APIs, on 127.0.0.1.\n"
        "It prints the environment variables that point stampsync at it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument(
        "--env",
        action="store_true",
        help="start in the background and print only sourceable export lines (with "
        "STAMPSYNC_SANDBOX_PID, to stop it), then return",
    )
    p.add_argument("--quiet", action="store_true", help="print nothing")
    add_arguments(p)
    return p


def exports(url: str, config: SandboxConfig, pid: int | None = None) -> list[str]:
    """Shell lines that point stampsync at this sandbox (``eval``-able)."""
    values = {
        "STAMPED_API_URL": url,
        "STAMPED_PUBLIC_KEY": config.public_key,
        "STAMPED_PRIVATE_KEY": config.private_key,
        "STAMPED_STORE_HASH": config.store_hash,
        "STAMPED_API_KEY": config.api_key,
        "STAMPS_MERCHANT": str(config.merchant),
        "STAMPS_API_URL": url,
        "STAMPS_TOKEN": config.stamps_token,
    }
    if pid is not None:
        values["STAMPSYNC_SANDBOX_PID"] = str(pid)
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def banner(url: str, config: SandboxConfig) -> str:
    """What to paste into a shell to point stampsync at this sandbox (comments are
    ``#`` lines, so the whole text can be sourced)."""
    return "\n".join(
        [
            f"# stampsync sandbox listening on {url}  (Ctrl-C to stop)",
            *exports(url, config),
            f"# Stamps merchant {config.merchant}, stores {', '.join(map(str, config.stores))}",
            "",
        ]
    )


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = config_from(args)
    except ConfigurationError as exc:
        print(f"stampsync sandbox: {exc}", file=sys.stderr)
        return USAGE
    port = args.port or free_port()
    url = f"http://{HOST}:{port}"
    if args.env:
        try:
            proc = spawn(config, port, detach=True)
        except ConfigurationError as exc:
            print(f"stampsync sandbox: {exc}", file=sys.stderr)
            return CANNOT_LISTEN
        print("\n".join(exports(url, config, proc.pid)), flush=True)
        return OK
    try:
        # Bound before the banner: a busy port is said in one line, not after "listening".
        sock = _listen(port)
    except OSError as exc:
        print(
            f"stampsync sandbox: cannot listen on {HOST}:{port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return CANNOT_LISTEN
    if not args.quiet:
        print(banner(url, config), flush=True)
    # run_app stops cleanly on SIGINT and SIGTERM.
    web.run_app(
        build_app(config),
        sock=sock,
        access_log=None,
        print=None,
        handler_cancellation=True,
    )
    return OK


if __name__ == "__main__":
    sys.exit(main())
