"""Helpers for testing code that uses stampsync.

``max_in_window(times, seconds)`` checks a quota against an arrival log.
``no_backoff()`` makes retries happen at once, so a test of retry behaviour does not
sleep; what is retried and how often stays exactly as in production::

    from stampsync.testing import no_backoff

    async def test_my_sync_survives_a_503(...):
        with no_backoff():
            await my_sync(client)
"""

from __future__ import annotations

from collections.abc import Iterable

from ._retry import backoff_disabled as no_backoff

__all__ = ["max_in_window", "no_backoff"]


def max_in_window(times: Iterable[float], seconds: float) -> int:
    """The most of ``times`` that any window of ``seconds`` holds.

    Use it on a sandbox's arrival log (``await sandbox.arrivals()``) to check that your
    code kept a quota as a strict server counts it.
    """
    ordered = sorted(times)
    best = 0
    end = 0
    for start, at in enumerate(ordered):
        end = max(end, start)
        while end < len(ordered) and ordered[end] < at + seconds:
            end += 1
        best = max(best, end - start)
    return best
