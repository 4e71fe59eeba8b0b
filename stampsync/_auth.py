"""How each API authenticates a request, with secrets that never print themselves."""

from __future__ import annotations

import base64
from typing import Protocol, final

from .errors import ConfigurationError


@final
class Secret:
    """A credential that shows as ``'***'`` in every repr, str and format."""

    __slots__ = ("_value",)

    def __init__(self, value: str, *, name: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{name} must be a non-empty string")
        if any(ch in value for ch in "\r\n\x00"):
            raise ConfigurationError(f"{name} contains a line break or NUL character")
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


class Auth(Protocol):
    """Produces the Authorization header; may refresh itself once after a 401."""

    async def header(self) -> str:
        """The value of the Authorization header for the next request."""
        ...

    async def refresh(self) -> bool:
        """Try to renew the credential after a 401; True if a retry is worth it."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Every secret string this auth sends, so messages can be scrubbed of them."""
        ...


class BasicAuth:
    """HTTP Basic with a public key as user and a private key as password (Stamped.io)."""

    def __init__(self, public_key: str, private_key: Secret) -> None:
        if not isinstance(public_key, str) or not public_key.strip():
            raise ConfigurationError("public_key must be a non-empty string")
        if ":" in public_key:
            raise ConfigurationError("public_key must not contain ':'")
        self._private_key = private_key
        blob = base64.b64encode(f"{public_key}:{private_key.reveal()}".encode()).decode("ascii")
        self._header = Secret("Basic " + blob, name="authorization")

    async def header(self) -> str:
        return self._header.reveal()

    async def refresh(self) -> bool:
        return False

    def secrets(self) -> tuple[str, ...]:
        value = self._header.reveal()
        return (self._private_key.reveal(), value, value.split(" ", 1)[1])

    def __repr__(self) -> str:
        return "BasicAuth(***)"


class TokenAuth:
    """``Authorization: <token_type> <token>`` (Stamps: ``Token`` or ``Bearer``)."""

    def __init__(self, token: Secret, token_type: str = "Token") -> None:  # noqa: S107
        if token_type not in ("Token", "Bearer"):
            raise ConfigurationError(f"token_type must be 'Token' or 'Bearer', got {token_type!r}")
        self._token = token
        self._token_type = token_type

    async def header(self) -> str:
        return f"{self._token_type} {self._token.reveal()}"

    async def refresh(self) -> bool:
        return False

    def secrets(self) -> tuple[str, ...]:
        return (self._token.reveal(),)

    def __repr__(self) -> str:
        return f"TokenAuth({self._token_type} ***)"
