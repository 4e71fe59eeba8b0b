"""Where a worker gets each store's credentials: a provider you supply.

A provider is a callable taking an account name (as in the campaign's ``account``
column) and returning the keyword arguments of a
:class:`~stampsync.stamps.client.StampsClient` for it (``token`` at least; ``api_url``,
``merchant``, ``store``, ``token_type``...), or an awaitable of them. The throttle is the
worker's (the store's quota in Redis); a provider's own ``throttle`` is refused.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

CredentialsProvider = Callable[[str], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
"""``provider(account) -> StampsClient keyword arguments`` (or an awaitable of them)."""

#: The environment variable :func:`json_credentials` reads the file's path from.
CREDENTIALS_ENV = "STAMPSYNC_FLEET_CREDENTIALS"


def json_credentials(account: str) -> Mapping[str, Any]:
    """A provider reading a JSON file named by ``STAMPSYNC_FLEET_CREDENTIALS``:
    ``{"<account>": {"token": "...", "api_url": "...", "merchant": 14, "store": 2}}``.

    The file holds secrets: it must not be readable by group or others. It is read on
    each call (a worker calls once per store), so rotated tokens are picked up.
    """
    data, path = credentials_file()
    found = data.get(account) if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise ConfigurationError(f"no credentials for account {account!r} in {path}")
    return found


def credentials_file() -> tuple[Any, Path]:
    """The parsed file :func:`json_credentials` reads, and its path; a
    :class:`ConfigurationError` if it is not named, missing, readable by others or not
    JSON (a worker checks this at start)."""
    name = os.environ.get(CREDENTIALS_ENV)
    if not name:
        raise ConfigurationError(f"{CREDENTIALS_ENV} names no credentials file")
    path = Path(name)
    try:
        private = not path.stat().st_mode & 0o077
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read credentials file {path}: {exc.strerror}") from None
    if not private:
        raise ConfigurationError(f"credentials file {path} is readable by others: chmod 600 {path}")
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigurationError(f"credentials file {path} is not JSON") from None
    return data, path


def load_provider(spec: str) -> CredentialsProvider:
    """The provider ``module:attribute`` names (``mypkg.creds:lookup``)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"credentials provider must be module:attribute, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r}: {exc}") from None
    provider = getattr(module, attribute, None)
    if not callable(provider):
        raise ConfigurationError(f"{spec!r} is not a callable credentials provider")
    return provider  # type: ignore[no-any-return]
