"""How each API authenticates a request, with secrets that never print themselves."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, final

import msgspec

from .errors import ConfigurationError


def _header_safe(ch: str) -> bool:
    code = ord(ch)
    return (
        (code >= 0x20 or ch == "\t") and code != 0x7F and not 0x80 <= code <= 0x9F and code <= 0xFF
    )


def check_header_text(value: str, name: str) -> None:
    """Refuse a credential with a character aiohttp would refuse in a header (or that
    only a typo puts in a key: a control character such as a newline from a file)."""
    bad = next((ch for ch in value if not _header_safe(ch)), None)
    if bad is not None:
        # Said once, when the client is built, rather than by every send.
        raise ConfigurationError(
            f"{name} contains a character not allowed in an HTTP header "
            f"(U+{ord(bad):04X}): control characters, DEL and characters beyond "
            "Latin-1 are refused"
        )


@final
class Secret:
    """A credential that shows as ``'***'`` in every repr, str and format."""

    __slots__ = ("_value",)

    def __init__(self, value: str, *, name: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{name} must be a non-empty string")
        check_header_text(value, name)
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for building a header. Never log the result."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


class AuthScheme(Protocol):
    """Produces the credential header; may refresh itself once after a 401.

    The header is ``Authorization`` unless the scheme has a ``header_name`` attribute
    naming another (Stamped V3's ``stamped-api-key``).
    """

    async def header(self) -> str:
        """The value of the credential header for the next request."""
        ...

    def fixed_header(self) -> str | None:
        """The header if it never changes (built once, not per request), else ``None``."""
        ...

    async def refresh(self, used: str) -> bool:
        """Renew the credential after a 401 answered the header ``used``.

        True if a retry with a different header is worth it.
        """
        ...

    def secrets(self) -> tuple[str, ...]:
        """Every secret string this auth sends, so messages can be scrubbed of them."""
        ...


class _FixedAuth:
    """Credentials that never change: every request sends :meth:`fixed_header`, and one
    the server refuses cannot be refreshed."""

    async def header(self) -> str:
        return self.fixed_header()

    def fixed_header(self) -> str:
        raise NotImplementedError

    async def refresh(self, used: str) -> bool:
        return False


class BasicAuth(_FixedAuth):
    """HTTP Basic with a public key as user and a private key as password (Stamped.io)."""

    def __init__(self, public_key: str, private_key: Secret) -> None:
        if not isinstance(public_key, str) or not public_key.strip():
            raise ConfigurationError("public_key must be a non-empty string")
        if ":" in public_key:
            raise ConfigurationError("public_key must not contain ':'")
        # Base64 would carry any character, but a control character or a lone
        # surrogate in a key is a typo (or cannot even be encoded): refuse it here.
        check_header_text(public_key, "public_key")
        self._private_key = private_key
        blob = base64.b64encode(f"{public_key}:{private_key.reveal()}".encode()).decode("ascii")
        self._header = Secret("Basic " + blob, name="authorization")

    def fixed_header(self) -> str:
        return self._header.reveal()

    def secrets(self) -> tuple[str, ...]:
        value = self._header.reveal()
        return (self._private_key.reveal(), value, value.split(" ", 1)[1])

    def __repr__(self) -> str:
        return "BasicAuth(***)"


class TokenAuth(_FixedAuth):
    """``Authorization: <token_type> <token>`` (Stamps: ``Token`` or ``Bearer``)."""

    def __init__(self, token: Secret, token_type: str = "Token") -> None:  # noqa: S107
        if token_type not in ("Token", "Bearer"):
            raise ConfigurationError(f"token_type must be 'Token' or 'Bearer', got {token_type!r}")
        self._token = token
        self._token_type = token_type

    def fixed_header(self) -> str:
        return f"{self._token_type} {self._token.reveal()}"

    def secrets(self) -> tuple[str, ...]:
        return (self._token.reveal(),)

    def __repr__(self) -> str:
        return f"TokenAuth({self._token_type} ***)"


class ApiKeyAuth(_FixedAuth):
    """A key sent as is in its own header (Stamped V3: ``stamped-api-key: <key>``)."""

    def __init__(self, key: Secret, header_name: str = "stamped-api-key") -> None:
        self._key = key
        self.header_name = header_name

    def fixed_header(self) -> str:
        return self._key.reveal()

    def secrets(self) -> tuple[str, ...]:
        return (self._key.reveal(),)

    def __repr__(self) -> str:
        return f"ApiKeyAuth({self.header_name}: ***)"


class MissingAuth:
    """Stands in for credentials a client was not given: a request needing them is
    refused before it is sent, with ``reason`` (a :class:`ConfigurationError`)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def header(self) -> str:
        raise ConfigurationError(self.reason)

    def fixed_header(self) -> None:
        return None

    async def refresh(self, used: str) -> bool:
        return False

    def secrets(self) -> tuple[str, ...]:
        return ()

    def __repr__(self) -> str:
        return "MissingAuth()"


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


JWT_LIFETIME = 24 * 3600.0
#: A token is renewed once this fraction of its lifetime has passed, if that comes
#: before ``renew_before`` ahead of its expiry (short-lived tokens).
RENEW_AT_FRACTION = 0.8
#: A token whose lifetime cannot be judged (its ``exp`` already past by our clock) is
#: still used this long before another exchange: clocks differ, and a 401 renews it anyway.
MIN_TOKEN_USE = 10.0


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (not verified: we only need to know when to renew)."""
    try:
        payload = token.split(".")[1]
        claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error, msgspec.DecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class JwtAuth:
    """Stamps JWT: exchange the static token for a 24-hour access token, renew it early.

    ``fetch(static_token)`` performs ``POST /api/auth/get-access-token/`` and returns the
    access token. It is renewed ``renew_before`` seconds before it expires (its ``exp``
    claim, else 24 hours after issue), or at 80 % of its lifetime if that comes first
    (a 60 s token is renewed after 48 s, never before every call), and once after a 401;
    concurrent callers share one renewal.

    When it is due is kept on the event loop's clock (the one the throttle and the retry
    budget read, and tests move); the ``exp`` claim is read against the wall clock.
    ``clock``, for tests, replaces both.
    """

    def __init__(
        self,
        static_token: Secret,
        fetch: Callable[[str], Awaitable[str]],
        *,
        renew_before: float = 300.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._static = static_token
        self._fetch = fetch
        self._renew_before = renew_before
        self._clock = _loop_time if clock is None else clock
        self._wall = time.time if clock is None else clock
        self._jwt: Secret | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.renewals = 0
        """How many access tokens were fetched."""

    def _current(self) -> str | None:
        if self._jwt is None or self._clock() >= self._renew_at:
            return None
        return "Bearer " + self._jwt.reveal()

    def current(self) -> str | None:
        """The header if no renewal is due (never waits), else ``None``."""
        return self._current()

    async def header(self) -> str:
        current = self._current()
        if current is not None:
            return current
        async with self._lock:
            current = self._current()
            if current is None:
                await self._renew()
                current = "Bearer " + self._jwt.reveal()  # type: ignore[union-attr]
            return current

    def fixed_header(self) -> str | None:
        return None  # renewed every 24 hours

    async def refresh(self, used: str) -> bool:
        async with self._lock:
            if self._jwt is not None and used != "Bearer " + self._jwt.reveal():
                return True  # another caller already renewed it
            await self._renew()
            return True

    async def _renew(self) -> None:
        token = await self._fetch(self._static.reveal())
        self._jwt = Secret(token, name="access_token")
        wall = self._wall()
        expires = jwt_expiry(token) or wall + JWT_LIFETIME
        lifetime = expires - wall
        # Early by renew_before, but at most by a fifth of the lifetime: a token shorter
        # than renew_before would otherwise count as due at once, before every call.
        early = min(self._renew_before, lifetime * (1 - RENEW_AT_FRACTION))
        self._renew_at = self._clock() + (lifetime - early if lifetime > 0 else MIN_TOKEN_USE)
        self.renewals += 1

    def secrets(self) -> tuple[str, ...]:
        jwt = () if self._jwt is None else (self._jwt.reveal(),)
        return (self._static.reveal(), *jwt)

    def __repr__(self) -> str:
        return "JwtAuth(***)"
