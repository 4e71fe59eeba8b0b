"""``python -m stampsync.sandbox``: serve the sandbox until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aiohttp import web

from ._middleware import Fault, SandboxConfig
from .app import build_app
from .server import HOST, free_port


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stampsync sandbox", description="A local server of the Stamped.io and Stamps APIs."
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    p.add_argument("--customers", type=int, default=100_000, help="Stamped.io customers")
    p.add_argument("--members", type=int, default=10_000, help="Stamps members")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="strict quota: at most LIMIT requests per --seconds per credential",
    )
    p.add_argument("--seconds", type=float, default=60.0, help="the quota's window")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject faults: KIND[:PROBABILITY[:SECONDS[:TIMES]]][@METHOD /path-glob]",
    )
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument("--no-arrival-log", action="store_true", help="do not keep arrival times")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """The :class:`SandboxConfig` the parsed arguments describe."""
    return SandboxConfig(
        seed=args.seed,
        customers=args.customers,
        members=args.members,
        limit=args.limit,
        seconds=args.seconds,
        faults=[Fault.parse(s) for s in args.fault],
        fault_seed=args.fault_seed,
        arrival_log=not args.no_arrival_log,
    )


def banner(url: str, config: SandboxConfig) -> str:
    """What to paste into a shell to point stampsync at this sandbox."""
    return "\n".join(
        [
            f"stampsync sandbox listening on {url}  (Ctrl-C to stop)",
            "",
            f"export STAMPED_API_URL={url}",
            f"export STAMPED_PUBLIC_KEY={config.public_key}",
            f"export STAMPED_PRIVATE_KEY={config.private_key}",
            f"export STAMPED_STORE_HASH={config.store_hash}",
            f"export STAMPS_API_URL={url}",
            f"export STAMPS_TOKEN={config.stamps_token}",
            f"# Stamps merchant {config.merchant}, stores {', '.join(map(str, config.stores))}",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = config_from(args)
    port = args.port or free_port()
    if not args.quiet:
        print(banner(f"http://{HOST}:{port}", config), flush=True)
    # run_app stops cleanly on SIGINT and SIGTERM.
    web.run_app(
        build_app(config),
        host=HOST,
        port=port,
        access_log=None,
        print=None,
        handler_cancellation=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
