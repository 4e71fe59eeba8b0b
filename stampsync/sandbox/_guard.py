"""The sandbox answers its own tests only: loopback Host, no foreign Origin, marked answers.

It binds to 127.0.0.1, but a web page can still reach it: a DNS-rebinding domain
(``evil.example`` resolving to 127.0.0.1) sends ``Host: evil.example``, and a cross-site
form sends ``Origin: https://evil.example``. Both are refused with 403 before the gate
counts them; every answer carries :data:`SANDBOX_HEADER` so a client can tell it is
talking to the sandbox.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from yarl import URL

from .._request import is_loopback
from .._sandbox_mark import SANDBOX_HEADER
from ._middleware import Handler, json_response

__all__ = ["SANDBOX_HEADER", "guard", "loopback_host", "loopback_origin", "mark"]


def loopback_host(value: str) -> bool:
    """True if a ``Host`` header names a loopback address (with or without a port)."""
    host = value.strip()
    if host.startswith("["):  # [::1]:8080
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
        if not port.isdigit():
            return False
    elif ":" in host:
        # An IPv6 literal must be bracketed in Host (RFC 3986); Python 3.13+ would call
        # a bare "::ffff:7f00:1" loopback, 3.11 not: refuse it on every version.
        return False
    return bool(host) and is_loopback(host.rstrip("."))


def loopback_origin(value: str, port: int | None = None) -> bool:
    """True if an ``Origin`` header is an http(s) origin on a loopback host.

    With ``port``, only the sandbox's own origin passes: ``http``, a loopback host and
    that port. Any other local web app (a dev server on ``localhost:3000``) is another
    origin, and its pages must not post to the sandbox either.
    """
    try:
        url = URL(value.strip())
    except (ValueError, TypeError):
        return False
    if url.host is None or not is_loopback(url.host):
        return False
    if port is None:
        return url.scheme in ("http", "https")
    return url.scheme == "http" and url.port == port


def _local_port(request: web.Request) -> int | None:
    """The port this connection reached: the sandbox's own, whatever the Host says."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2 and isinstance(sockname[1], int):
        return sockname[1]
    return None


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a non-loopback Host or a foreign Origin, before anything else runs."""
    host = request.headers.get(hdrs.HOST)
    if host is not None and not loopback_host(host):
        return json_response(
            {"detail": "the sandbox answers loopback Host names only (127.0.0.1, localhost)"},
            403,
        )
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and not loopback_origin(origin, _local_port(request)):
        return json_response({"detail": "cross-origin requests are refused by the sandbox"}, 403)
    return await handler(request)


async def mark(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer says it is the sandbox."""
    response.headers[SANDBOX_HEADER] = "1"
