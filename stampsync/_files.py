"""Files that hold personal data (journals, reports, sync state, exports): owner-only.

They hold emails, names and award history, so a new one is created ``0600`` whatever
the umask (a restrictive umask cannot leave it unwritable, a lax one cannot widen it);
an existing file keeps the mode its owner gave it. SQLite gives a database's ``-wal``
and ``-shm`` files the database's own mode, so they are 0600 too.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def open_private(path: str | Path, flags: int) -> int:
    """``os.open``; a file it creates gets mode exactly 0600. Returns the descriptor."""
    if not flags & os.O_CREAT:
        return os.open(path, flags)
    while True:
        try:
            fd = os.open(path, flags | os.O_EXCL, PRIVATE_MODE)
        except FileExistsError:
            try:
                return os.open(path, flags & ~os.O_CREAT)
            except FileNotFoundError:
                continue  # removed in between: create it after all
        os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken bits away
        return fd


def create_private(path: str | Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist yet."""
    os.close(open_private(path, os.O_WRONLY | os.O_CREAT))
