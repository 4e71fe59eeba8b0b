"""aioresponses 0.7.9 (the latest release) builds ``ClientResponse`` without the
``stream_writer`` argument aiohttp 3.14 made required (aioresponses issue #289, open).

aiohttp 3.14 is a security release, so we keep it and supply the argument instead: a
writer that reports zero bytes sent, used only when the caller gave none. Real aiohttp
always passes one, so this changes nothing outside aioresponses. Delete this module
once an aioresponses release handles it.
"""

from __future__ import annotations

import inspect
from typing import Any

from aiohttp import client_reqrep


class _NothingWritten:
    output_size = 0


def install() -> None:
    init = client_reqrep.ClientResponse.__init__
    if "stream_writer" not in inspect.signature(init).parameters:
        return
    if getattr(init, "_stampsync_compat", False):
        return

    def __init__(self: client_reqrep.ClientResponse, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NothingWritten())
        init(self, *args, **kwargs)

    __init__._stampsync_compat = True  # type: ignore[attr-defined]
    client_reqrep.ClientResponse.__init__ = __init__  # type: ignore[method-assign]
