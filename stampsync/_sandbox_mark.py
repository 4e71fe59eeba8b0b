"""The header the sandbox puts on every answer, and the client's check of it.

A client pointed at a real API's address that gets an answer marked as the sandbox's is
misconfigured (a tunnel, a proxy, a test setting left in production): it logs one
WARNING, checked on the client's first answer only, so the request path pays nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from yarl import URL

#: Set on every sandbox answer; its value is the sandbox's name.
SANDBOX_HEADER = "X-Stampsync-Sandbox"

log = logging.getLogger("stampsync")


def warn_if_sandbox(name: str, base_url: URL, headers: Mapping[str, str]) -> bool:
    """Log a WARNING if ``headers`` carry the sandbox mark; True if they did."""
    if SANDBOX_HEADER not in headers:
        return False
    log.warning(
        "%s: the server at %s answered as the stampsync sandbox (header %s), but that is "
        "not a loopback address: check the api_url",
        name,
        base_url.host,
        SANDBOX_HEADER,
    )
    return True
