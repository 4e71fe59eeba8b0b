"""The ``stampsync`` command line, for batch scripts.

Credentials come from flags or environment variables (``STAMPED_API_URL``,
``STAMPED_PUBLIC_KEY``, ``STAMPED_PRIVATE_KEY``, ``STAMPED_STORE_HASH``,
``STAMPS_API_URL``, ``STAMPS_TOKEN``); the throttle from ``--throttle-limit`` and
``--throttle-seconds`` or ``STAMPSYNC_THROTTLE_LIMIT`` / ``STAMPSYNC_THROTTLE_SECONDS``.
Secrets are never printed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``stampsync`` command."""
    try:
        from ._app import app
    except ImportError as exc:  # typer and rich come with the "cli" extra
        sys.exit(
            f"stampsync: the command line needs its extra: pip install 'stampsync[cli]' "
            f"({exc.name} is missing)"
        )
    app(args=list(argv) if argv is not None else None, prog_name="stampsync")
