"""BatchReport and SyncReport say "interrupted" only when rows were left untried."""

from __future__ import annotations

from pathlib import Path

import anyio

from stampsync import StampedClient, StampsClient
from stampsync._engine.writes import ExitCode
from stampsync.batch import Outcome
from stampsync.batch.sync import SyncOutcome, sync_customers
from stampsync.stamps import StampAward
from tests._server import RecordingServer


def awards(n: int) -> list[StampAward]:
    return [StampAward(key=f"k{i}", user="a@b.co", number_of_stamps=1, store=1) for i in range(n)]


async def test_a_stop_after_the_last_award_was_taken_is_not_an_interruption(
    server: RecordingServer, tmp_path: Path
) -> None:
    stop = anyio.Event()
    seen: list[Outcome] = []

    def record(outcome: Outcome) -> None:
        seen.append(outcome)
        if len(seen) == 5:  # every row taken and done: a signal now cuts nothing off
            stop.set()

    async with StampsClient("tok-123456", api_url=server.url) as sp:
        report = await sp.stamps.add_many(
            awards(5), journal=tmp_path / "j.sqlite", on_outcome=record, stop=stop
        )
    assert report.counts["applied"] == 5
    assert not report.interrupted
    assert report.exit_code == ExitCode.OK


async def test_a_stop_with_rows_left_is_an_interruption(
    server: RecordingServer, tmp_path: Path
) -> None:
    stop = anyio.Event()

    def record(outcome: Outcome) -> None:
        stop.set()

    async with StampsClient("tok-123456", api_url=server.url, concurrent_batch_executions=2) as sp:
        report = await sp.stamps.add_many(
            awards(50), journal=tmp_path / "j.sqlite", on_outcome=record, stop=stop
        )
    assert report.interrupted
    assert report.counts["applied"] < 50
    assert report.exit_code == ExitCode.INTERRUPTED


async def test_a_stop_after_the_last_sync_row_was_taken_is_not_an_interruption(
    server: RecordingServer, tmp_path: Path
) -> None:
    stop = anyio.Event()
    seen: list[SyncOutcome] = []

    def record(outcome: SyncOutcome) -> None:
        seen.append(outcome)
        if len(seen) == 3:
            stop.set()

    rows = [{"email": f"p{i}@x.co"} for i in range(3)]
    async with StampedClient("pub", "key-123456", "1", api_url=server.url) as st:
        report = await sync_customers(
            st, rows, state=tmp_path / "s.db", on_outcome=record, stop=stop
        )
    assert report.counts["sent"] == 3
    assert not report.interrupted
    assert report.exit_code == ExitCode.OK
