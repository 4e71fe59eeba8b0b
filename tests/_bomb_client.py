"""Run in a subprocess by tests: one GET against a compression bomb, then peak RSS.

Prints one JSON line: the error's type and message, the peak RSS (bytes) after a warm-up
request, and the peak RSS after the bomb. ``ru_maxrss`` is per process, so the client
needs a process of its own for the figure to be its own.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys

from stampsync import StampedClient
from stampsync.errors import StampsyncError


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


async def main(url: str, cap: int) -> None:
    async with StampedClient("pub", "key-private", "1", api_url=url, max_response_bytes=cap) as c:
        await c.customers.get(1)  # warm-up: imports, session, decoders
        baseline = peak_rss()
        error: StampsyncError | None = None
        try:
            await c.customers.get(2)
        except StampsyncError as exc:
            error = exc
    print(
        json.dumps(
            {
                "error": type(error).__name__ if error else None,
                "message": str(error) if error else "",
                "baseline": baseline,
                "peak": peak_rss(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
