"""Files stampsync creates (journals, locks, reports, sync state, exports): owner-only,
and never through a symbolic link.

They hold emails, names and award history, so a new one is created ``0600`` whatever
the umask (a restrictive umask cannot leave it unwritable, a lax one cannot widen it);
an existing file keeps the mode its owner gave it. SQLite gives a database's ``-wal``
and ``-shm`` files the database's own mode, so they are 0600 too.

Every open is ``O_NOFOLLOW``: a link planted at a journal, lock or output path would
otherwise have stampsync write (or truncate) whatever it points at. A path that exists
but cannot be opened (a link, dangling or not; a directory) is a
:class:`~stampsync.errors.ConfigurationError` naming it, never a retry loop.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import ConfigurationError

PRIVATE_MODE = 0o600
#: ``O_NOFOLLOW`` where the platform has it (every POSIX system; not Windows).
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: Times a file removed between "it exists" and opening it is created again, before the
#: path is taken as contested and refused (a race lost this often is not a race).
_ATTEMPTS = 5


def _refused(path: str | Path, exc: OSError) -> ConfigurationError:
    if exc.errno == errno.ELOOP or os.path.islink(path):
        why = "it is a symbolic link (stampsync does not write through links; give the real path)"
    elif exc.errno == errno.EISDIR:
        why = "it is a directory"
    else:
        why = exc.strerror or str(exc)
    return ConfigurationError(f"cannot open {path}: {why}")


def _open(path: str | Path, flags: int, mode: int = PRIVATE_MODE) -> int:
    try:
        return os.open(path, flags | NOFOLLOW, mode)
    except (FileExistsError, FileNotFoundError):
        raise  # the caller's business: create it, or open what is there
    except OSError as exc:
        raise _refused(path, exc) from None


def open_private(path: str | Path, flags: int) -> int:
    """``os.open`` without following a link; a file it creates gets mode exactly 0600.

    Returns the descriptor. Raises :class:`~stampsync.errors.ConfigurationError` when
    ``path`` exists but cannot be opened (a symbolic link, a directory, no permission).
    """
    if not flags & os.O_CREAT:
        try:
            return _open(path, flags)
        except FileNotFoundError as exc:
            raise _refused(path, exc) from None
    for _ in range(_ATTEMPTS):
        try:
            fd = _open(path, flags | os.O_EXCL)
        except FileExistsError:
            try:
                return _open(path, flags & ~os.O_CREAT)
            except FileNotFoundError:
                if os.path.lexists(path):  # a dangling link: O_EXCL saw it, open cannot
                    raise _refused(path, OSError(errno.ELOOP, "a symbolic link")) from None
                continue  # removed in between: create it after all
        os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken bits away
        return fd
    raise ConfigurationError(
        f"cannot open {path}: it keeps appearing and disappearing (another process?)"
    )


def create_private(path: str | Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist yet (refusing a link)."""
    os.close(open_private(path, os.O_WRONLY | os.O_CREAT))
