"""Settings a client reads from the environment when they are not passed.

The names are the ones the command line and ``stampsync sandbox`` print, so a snippet
written for the real API runs against a sandbox after ``eval "$(stampsync sandbox
--env)"``, unchanged. An argument given in code always wins.
"""

from __future__ import annotations

import os

from .errors import ConfigurationError

STAMPED_PUBLIC_KEY = "STAMPED_PUBLIC_KEY"
STAMPED_PRIVATE_KEY = "STAMPED_PRIVATE_KEY"
STAMPED_API_KEY = "STAMPED_API_KEY"
STAMPED_STORE_HASH = "STAMPED_STORE_HASH"
STAMPED_API_URL = "STAMPED_API_URL"
STAMPS_TOKEN = "STAMPS_TOKEN"  # noqa: S105 (the variable's name, not a token)
STAMPS_API_URL = "STAMPS_API_URL"
STAMPS_MERCHANT = "STAMPS_MERCHANT"
STAMPS_STORE = "STAMPS_STORE"


def text(value: str | None, name: str) -> str | None:
    """``value``, or the environment variable ``name`` when ``value`` is None."""
    if value is not None:
        return value
    found = os.environ.get(name, "").strip()
    return found or None


def number(value: int | None, name: str) -> int | None:
    """``value``, or the integer in the environment variable ``name``."""
    if value is not None:
        return value
    found = os.environ.get(name, "").strip()
    if not found:
        return None
    try:
        return int(found)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer id, got {found!r}") from None
