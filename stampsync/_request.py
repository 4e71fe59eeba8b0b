"""A request described before it is sent: method, path template, query, body, idempotency.

Also the rules for turning it into a URL: each path parameter is one percent-encoded
segment, query values are written one way, and plain http is refused off loopback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from ipaddress import ip_address
from typing import Any
from urllib.parse import quote

import msgspec
from yarl import URL

from ._validate import encodable
from .errors import ConfigurationError

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class Request(msgspec.Struct, frozen=True):
    """One API call, described before it is sent.

    A frozen msgspec Struct rather than a frozen dataclass: one is built per call, and
    the Struct's constructor costs a fifteenth of the dataclass's.

    Attributes:
        method: HTTP method.
        path: a template such as ``/api/v2/{store_hash}/dashboard/customers/{id}``;
            each ``{name}`` is filled from ``params`` as exactly one path segment.
        params: values for the template's placeholders.
        query: query-string values; ``None`` values are left out, booleans sent as
            ``true``/``false``.
        body: JSON body (a msgspec Struct or plain data), or ``None``.
        idempotent: whether repeating the request is harmless; defaults from the method
            (POST is not, unless the endpoint says otherwise).
        authenticate: send the credential header (off for the token exchange).
        credential: which of the client's credentials to send: ``""`` its main one,
            ``"stamped_v3"`` the Stamped V3 API key.
    """

    method: str
    path: str
    params: Mapping[str, object] = msgspec.field(default_factory=dict)
    query: Mapping[str, object] | None = None
    body: object = None
    idempotent: bool | None = None
    authenticate: bool = True
    credential: str = ""

    def __repr__(self) -> str:
        # The body is never shown: the token exchange carries the static token in it,
        # and other bodies carry personal data.
        body = "None" if self.body is None else "<not shown>"
        return (
            f"Request({self.method} {self.path}, params={dict(self.params)!r}, "
            f"query={self.query!r}, body={body}, idempotent={self.idempotent!r}, "
            f"authenticate={self.authenticate!r}, credential={self.credential!r})"
        )

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """What rich's pretty printer shows: the fields, the body hidden (see __repr__)."""
        return [
            ("method", self.method),
            ("path", self.path),
            ("params", dict(self.params)),
            ("query", self.query),
            ("body", None if self.body is None else "<not shown>"),
            ("idempotent", self.idempotent),
            ("authenticate", self.authenticate),
            ("credential", self.credential),
        ]

    @property
    def is_idempotent(self) -> bool:
        """The request's idempotency, explicit or from its method."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method in IDEMPOTENT_METHODS

    def render_path(self) -> str:
        """The path with every placeholder filled and percent-encoded as one segment."""
        if not self.params and "{" not in self.path:
            return self.path
        filled = {}
        for k, v in self.params.items():  # a loop: a comprehension is a frame before 3.12
            filled[k] = path_segment(v, k)
        try:
            return self.path.format_map(filled)
        except KeyError as exc:
            raise ConfigurationError(f"missing path parameter {exc.args[0]!r}") from None


# Characters quote(safe="") leaves alone: a value made only of them is its own encoding.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")


def path_segment(value: object, name: str = "value") -> str:
    """Percent-encode ``value`` so it stays one path segment (``/``, ``?``, ``..`` included)."""
    if type(value) is int:  # digits and "-": nothing to encode (bool is refused below)
        return str(value)
    if value is None or isinstance(value, bool):
        raise ConfigurationError(f"{name} must be a string or an integer, got {value!r}")
    text = str(value)
    if _UNRESERVED.fullmatch(text) and text not in (".", ".."):
        return text
    if not text.strip():
        raise ConfigurationError(f"{name} must not be empty")
    encodable(text, name)
    encoded = quote(text, safe="")
    # "." and ".." would be collapsed by URL normalisation, climbing out of the path.
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return encoded


def query_value(value: object) -> str:
    """How a query value is written: booleans lower-case, dates ISO, enums by value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return query_value(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(api_url: str) -> URL:
    """Parse ``api_url``; refuse plain http except on loopback, and anything not a base URL."""
    if not isinstance(api_url, str) or not api_url.strip():
        raise ConfigurationError("api_url must be a non-empty URL such as https://stamped.io")
    encodable(api_url, "api_url")
    try:
        url = URL(api_url.strip())
    except ValueError:  # a host name IDNA refuses, a bad port; the URL not shown (a password?)
        raise ConfigurationError("api_url is not a valid URL (its host name or port)") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigurationError(f"api_url must be an http(s) URL with a host, got {api_url!r}")
    if url.user or url.password:
        raise ConfigurationError("api_url must not carry credentials; pass them as arguments")
    if url.query_string or url.fragment:
        raise ConfigurationError("api_url must not have a query string or fragment")
    if url.scheme == "http" and not is_loopback(url.host):
        raise ConfigurationError(
            f"api_url {url.scheme}://{url.host} uses plain http; https is required "
            "(plain http is allowed only for loopback hosts such as the sandbox)"
        )
    return url.with_path(url.path.rstrip("/"))


def compact(**kwargs: Any) -> dict[str, Any]:
    """Keyword arguments without the ``None`` ones: optional fields left out are not sent."""
    return {k: v for k, v in kwargs.items() if v is not None}
