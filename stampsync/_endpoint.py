"""Each API operation declared once: method, path template, answer type, idempotency.

A section module declares its endpoints at module level and its methods send through
them; the sandbox builds its route table from the same objects, and the retries page's
table is checked against them. A path string written anywhere else is a bug (a test
looks for one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, Literal, TypeVar

from ._request import Request

T = TypeVar("T")

Api = Literal["stamped", "stamped_v3", "stamps"]

#: Every endpoint declared so far, in declaration order (the section modules fill it on
#: import; ``import stampsync`` imports them all).
ENDPOINTS: list[Endpoint[object]] = []


class Endpoint(Generic[T]):
    """One operation of one API.

    Attributes:
        method: the HTTP method.
        path: the full path template; each ``{name}`` is one path segment (Stamped.io's
            paths start ``/api/v2/{store_hash}``).
        into: the type the answer's JSON is decoded into.
        idempotent: whether sending the request twice has the effect of sending it
            once. Decides what may be retried after it may have reached the server.
        api: which API it belongs to.
        authenticate: send the credentials (off only for the token exchange).
        credential: which of the client's credentials it sends (``""``: the main one;
            Stamped V3 sends its API key, named ``"stamped_v3"``).
    """

    __slots__ = ("api", "authenticate", "credential", "idempotent", "into", "method", "path")

    def __init__(
        self,
        api: Api,
        method: str,
        path: str,
        into: type[T],
        *,
        idempotent: bool,
        authenticate: bool = True,
    ) -> None:
        self.api = api
        self.method = method
        self.path = path
        self.into = into
        self.idempotent = idempotent
        self.authenticate = authenticate
        self.credential = "stamped_v3" if api == "stamped_v3" else ""
        ENDPOINTS.append(self)  # type: ignore[arg-type]

    def request(
        self,
        params: Mapping[str, object],
        query: Mapping[str, object] | None = None,
        body: object = None,
        idempotent: bool | None = None,
    ) -> Request:
        """The :class:`Request` for one call; ``idempotent`` overrides the declaration for
        a call whose body makes it so (setting points is safe to repeat, adding is not)."""
        return Request(
            self.method,
            self.path,
            params=params,
            query=query,
            body=body,
            idempotent=self.idempotent if idempotent is None else idempotent,
            authenticate=self.authenticate,
            credential=self.credential,
        )

    def __repr__(self) -> str:
        return f"Endpoint({self.method} {self.path})"


def stamped(method: str, path: str, into: type[T], *, idempotent: bool) -> Endpoint[T]:
    """A Stamped.io v2 endpoint; ``path`` is written after ``/api/v2/{store_hash}``."""
    return Endpoint("stamped", method, "/api/v2/{store_hash}" + path, into, idempotent=idempotent)


def stamps(
    method: str, path: str, into: type[T], *, idempotent: bool, authenticate: bool = True
) -> Endpoint[T]:
    """A Stamps endpoint; ``path`` is the whole path (``/api/...``, ``/api/v2/...``)."""
    return Endpoint("stamps", method, path, into, idempotent=idempotent, authenticate=authenticate)


#: Where each part of the Stamped V3 reference lives; ``{store_hash}`` is its ``shopId``.
STAMPED_V3_PREFIXES = {
    "loyalty": "/api/v3/loyalty/shops/{store_hash}",
    "merchant": "/api/v3/merchant/shops/{store_hash}",
}


def stamped_v3(
    part: Literal["loyalty", "merchant"],
    method: str,
    path: str,
    into: type[T],
    *,
    idempotent: bool,
) -> Endpoint[T]:
    """A Stamped V3 endpoint (``stamped-api-key`` auth); ``path`` is written after
    ``/api/v3/{part}/shops/{store_hash}`` (the shop id is the store hash)."""
    return Endpoint(
        "stamped_v3", method, STAMPED_V3_PREFIXES[part] + path, into, idempotent=idempotent
    )
