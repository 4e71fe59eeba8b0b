"""Files that hold personal data (journals, reports, sync state, exports): owner-only.

They hold emails, names and award history, so a new one is created ``0600`` whatever
the umask; an existing file keeps the mode its owner gave it.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def open_private(path: str | Path, flags: int) -> int:
    """``os.open`` with mode 0600 for a file it creates; returns the descriptor."""
    return os.open(path, flags, PRIVATE_MODE)


def create_private(path: str | Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist yet."""
    os.close(open_private(path, os.O_WRONLY | os.O_CREAT))
