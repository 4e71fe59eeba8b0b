"""Settings a client reads from the environment when they are not passed.

The names are the ones the command line and ``stampsync sandbox`` print, so a snippet
written for the real API runs against a sandbox after ``eval "$(stampsync sandbox
--env)"``, unchanged. An argument given in code always wins.
"""

from __future__ import annotations

import math
import os
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._options import ClientOptions, ClientSettings
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .throttle import Throttle

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


#: The settings every client and the command line read from the environment: the name
#: of the variable, the client setting it fills, and how its text is read.
STAMPSYNC_THROTTLE_LIMIT = "STAMPSYNC_THROTTLE_LIMIT"
STAMPSYNC_THROTTLE_SECONDS = "STAMPSYNC_THROTTLE_SECONDS"
STAMPSYNC_CONNECTIONS = "STAMPSYNC_CONNECTIONS"
STAMPSYNC_BATCH = "STAMPSYNC_BATCH"
STAMPSYNC_REDIS_URL = "STAMPSYNC_REDIS_URL"
STAMPSYNC_THROTTLE_KEY = "STAMPSYNC_THROTTLE_KEY"
STAMPSYNC_CA_FILE = "STAMPSYNC_CA_FILE"
STAMPSYNC_PROXY = "STAMPSYNC_PROXY"
STAMPSYNC_TRUST_ENV = "STAMPSYNC_TRUST_ENV"
#: Every tuning variable, as the command line's options name them.
TUNING_VARIABLES = (
    STAMPSYNC_THROTTLE_LIMIT,
    STAMPSYNC_THROTTLE_SECONDS,
    STAMPSYNC_CONNECTIONS,
    STAMPSYNC_BATCH,
    STAMPSYNC_REDIS_URL,
    STAMPSYNC_THROTTLE_KEY,
    STAMPSYNC_CA_FILE,
    STAMPSYNC_PROXY,
    STAMPSYNC_TRUST_ENV,
)

_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "f", "n"})


def missing_credential(
    client: str, what: str, arguments: str, variables: str
) -> ConfigurationError:
    """The one wording, for both clients, of a credential given neither way."""
    return ConfigurationError(
        f"{client} needs {what}: pass {arguments} or set {variables} in the environment"
    )


def _read(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


def _integer(name: str, found: str) -> int:
    try:
        value = int(found)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {found!r}")
    return value


def _seconds(name: str, found: str) -> float:
    try:
        value = float(found)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {found!r}")
    return value


def _flag(name: str, found: str) -> bool:
    if found.lower() in _TRUE:
        return True
    if found.lower() in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be 1/true/yes or 0/false/no, got {found!r}")


def _text(name: str, found: str) -> str:
    return found


#: The variables read as plain values: (variable, client setting, parser of its text).
_SIMPLE: tuple[tuple[str, str, Callable[[str, str], object]], ...] = (
    (STAMPSYNC_THROTTLE_LIMIT, "throttle_limit", _integer),
    (STAMPSYNC_THROTTLE_SECONDS, "throttle_seconds", _seconds),
    (STAMPSYNC_CONNECTIONS, "concurrent_connections", _integer),
    (STAMPSYNC_BATCH, "concurrent_batch_executions", _integer),
    (STAMPSYNC_TRUST_ENV, "trust_env", _flag),
    (STAMPSYNC_PROXY, "proxy", _text),
)


def _quota_key(make: Callable[[], str]) -> str:
    try:
        return make()
    except (ValueError, UnicodeError):  # the api_url, checked again (and named) later
        raise ConfigurationError("api_url is not a valid URL") from None


def client_settings(
    settings: ClientSettings, options: ClientOptions | None, *, quota_key: Callable[[], str]
) -> tuple[ClientSettings, Throttle | None]:
    """``settings`` with what the environment says for each one not given, as the
    command line reads it; and the throttle made here (``STAMPSYNC_REDIS_URL``), which
    the client then owns and closes.

    An ``options=`` object is an explicit choice of every setting: with one, the
    environment is not read. ``quota_key()`` names the shared quota in Redis when
    ``STAMPSYNC_THROTTLE_KEY`` does not (the command line's default for the same API
    and store, so a service and a batch script share one quota).
    """
    if options is not None:
        return settings, None
    merged = ClientSettings(**settings)
    found: dict[str, object] = {}
    for variable, setting, parse in _SIMPLE:
        text = _read(variable)
        if text is None:
            continue
        value = parse(variable, text)  # even when given: a bad value is refused either way
        if setting not in merged:
            found[setting] = value
    merged.update(found)  # type: ignore[typeddict-item]
    ca_file = _read(STAMPSYNC_CA_FILE)
    if ca_file is not None and "ssl" not in merged:
        try:
            merged["ssl"] = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError):
            raise ConfigurationError(
                f"{STAMPSYNC_CA_FILE}={ca_file}: not a readable PEM certificate file"
            ) from None
    throttle: Throttle | None = None
    redis_url = _read(STAMPSYNC_REDIS_URL)
    if redis_url is not None and "throttle" not in merged and "transport" not in merged:
        from .throttle import RedisThrottle

        throttle = RedisThrottle(
            redis_url,
            key=_read(STAMPSYNC_THROTTLE_KEY) or _quota_key(quota_key),
            limit=merged.get("throttle_limit", 500),
            seconds=merged.get("throttle_seconds", 60),
        )
        merged["throttle"] = throttle
    return merged, throttle
