"""A bad item given to a mass write from Python fails its row alone; the batch goes on."""

from __future__ import annotations

from pathlib import Path

from stampsync import StampsClient
from stampsync.batch import Journal
from stampsync.stamps import StampAward
from tests._server import RecordingServer


def award(key: object) -> StampAward:
    return StampAward(key=key, user="a@b.co", number_of_stamps=1, store=1)  # type: ignore[arg-type]


async def test_keys_a_journal_cannot_hold_fail_their_rows_alone(
    server: RecordingServer, tmp_path: Path
) -> None:
    items = [award("k\ud800"), award("ok"), award("k\x00nul"), award(7), award("ok2")]
    async with StampsClient("tok-123456", api_url=server.url) as sp:
        report = await sp.stamps.add_many(items, journal=tmp_path / "j.sqlite")
    by_row = {o.row: o for o in report}
    assert by_row[1].status == "failed"
    assert "lone surrogate" in str(by_row[1].error)
    assert by_row[1].key == "k\\ud800"  # printable in any report
    assert by_row[3].status == "failed"
    assert "NUL" in str(by_row[3].error)
    assert by_row[4].status == "failed"
    assert "key must be text, got 7" in str(by_row[4].error)
    assert by_row[2].status == by_row[5].status == "applied"
    assert report.exit_code == 1
    awards = [a for a in server.arrivals if a.path == "/api/stamps/add"]
    assert len(awards) == 2
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.counts()["applied"] == 2
        assert sum(j.counts().values()) == 2  # nothing journaled for the refused keys


async def test_a_row_that_cannot_be_prepared_for_any_reason_fails_alone() -> None:
    """A row whose value no check foresaw (here a prepare that raises ValueError) fails
    with the reason; the rows around it are sent, and nothing escapes the batch."""
    from stampsync._engine.writes import BatchOptions, Prepared, WriteRun

    sent: list[str] = []

    def prepare(item: StampAward) -> Prepared:
        if item.key == "odd":
            raise ValueError("a value of a kind nobody checked")

        async def send(start: object) -> int | None:
            sent.append(item.key)
            return 1

        return Prepared(item.key, {"k": item.key}, send)

    rows = [StampAward(key=k, user="a@b.co", number_of_stamps=1) for k in ("a", "odd", "b")]
    report = await WriteRun("test.write", prepare, BatchOptions(concurrency=1)).run(rows)
    by_key = {o.key: o for o in report}
    assert sent == ["a", "b"]
    assert by_key["odd"].status == "failed"
    assert "ValueError: a value of a kind nobody checked" in (by_key["odd"].error or "")
