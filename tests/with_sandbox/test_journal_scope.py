"""A SQLite journal is its own scope: a rotated token or another spelling of the API URL
finds the same keys (issue 26, item 2: SQLite keeps working as it did)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stampsync import StampsClient
from stampsync.sandbox import Sandbox
from stampsync.stamps import StampAward


@pytest.mark.stampsync_sandbox(members=20, extra_tokens=1)
async def test_a_sqlite_journal_keeps_its_keys_across_token_url_and_merchant(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    journal = tmp_path / "awards.sqlite"
    awards = [
        StampAward(key=f"o{i}", user=f"member{i}@example.com", number_of_stamps=1, store=1)
        for i in range(1, 6)
    ]
    localhost = sb.url.replace("127.0.0.1", "localhost")
    clients = [
        StampsClient(sb.stamps_token(), api_url=sb.url),
        StampsClient(sb.stamps_token(1), api_url=sb.url),  # the rotated token
        StampsClient(sb.stamps_token(1), api_url=localhost),
        StampsClient(sb.stamps_token(1), api_url=localhost, merchant=sb.config.merchant),
    ]
    for number, client in enumerate(clients):
        async with client:
            report = await client.stamps.add_many(awards, journal=journal, account="ignored")
        assert report.counts["applied"] == 5
        assert report.counts["skipped"] == (5 if number else 0)
    assert len(await sb.awards()) == 5
