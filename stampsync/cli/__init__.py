"""The ``stampsync`` command line, for batch scripts.

Credentials come from flags or environment variables (``STAMPED_API_URL``,
``STAMPED_PUBLIC_KEY``, ``STAMPED_PRIVATE_KEY``, ``STAMPED_STORE_HASH``,
``STAMPS_API_URL``, ``STAMPS_TOKEN``); the throttle from ``--throttle-limit`` and
``--throttle-seconds`` or ``STAMPSYNC_THROTTLE_LIMIT`` / ``STAMPSYNC_THROTTLE_SECONDS``.
Secrets are never printed.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

#: Exit code of an internal error (sysexits' EX_SOFTWARE); see ``ExitCode``.
CRASHED = 70

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
    try:
        app(args=list(argv) if argv is not None else None, prog_name="stampsync")
    except KeyboardInterrupt:
        sys.exit(130)  # a Ctrl-C outside a batch's own handling: quietly, as shells expect
    except Exception as exc:  # a bug: say so with its own exit code, never 1 ("rows failed")
        if os.environ.get("STAMPSYNC_DEBUG"):
            traceback.print_exc()
        bug: BaseException = exc
        while isinstance(bug, BaseExceptionGroup) and len(bug.exceptions) == 1:
            bug = bug.exceptions[0]  # a task group's wrapping says nothing about the bug
        print(
            f"stampsync: internal error ({type(bug).__name__}); nothing more was sent and the "
            "journal is consistent. Set STAMPSYNC_DEBUG=1 for the traceback and report it.",
            file=sys.stderr,
        )
        sys.exit(CRASHED)
