"""Helpers for testing code that uses stampsync.

``no_backoff()`` makes retries happen at once, so a test of retry behaviour does not
sleep; what is retried and how often stays exactly as in production::

    from stampsync.testing import no_backoff

    async def test_my_sync_survives_a_503(...):
        with no_backoff():
            await my_sync(client)
"""

from __future__ import annotations

from ._retry import backoff_disabled as no_backoff

__all__ = ["no_backoff"]
