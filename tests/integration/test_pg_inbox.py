"""The webhook inbox on PostgreSQL (a real server): receivers sharing one database store
each push once and handle each event once; a handler's own writes commit with its done
mark, so a failed try leaves none behind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from stampsync.errors import ConfigurationError, JournalError, WebhookError
from stampsync.stamped.webhooks import HandleReport, PgInbox, WebhookEvent, handler_connection

pytestmark = pytest.mark.postgres

SECRET = "pg-inbox-secret"


def push(n: int, topic: str = "review.created") -> tuple[dict[str, str], bytes]:
    headers = {"X-Stamped-Webhook-Secret": SECRET, "X-Stamped-Topic": topic}
    return headers, json.dumps({"id": n, "rating": 4}).encode()


async def effects_table(dsn: str) -> None:
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        await con.execute("CREATE TABLE effects (key TEXT NOT NULL, by TEXT NOT NULL)")
    finally:
        await con.close()


async def effects(dsn: str) -> list[str]:
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        return [r["key"] for r in await con.fetch("SELECT key FROM effects ORDER BY key")]
    finally:
        await con.close()


def recording(name: str) -> Callable[[WebhookEvent], Awaitable[None]]:
    async def handler(event: WebhookEvent) -> None:
        con = handler_connection()
        await con.execute("INSERT INTO effects (key, by) VALUES ($1, $2)", event.key, name)
        await asyncio.sleep(0)  # let the other receiver run meanwhile

    return handler


async def test_two_receivers_store_a_push_once_and_handle_each_event_once(pg_dsn: str) -> None:
    await effects_table(pg_dsn)
    async with PgInbox(pg_dsn, secret=SECRET) as a, PgInbox(pg_dsn, secret=SECRET) as b:
        stored = [await inbox.accept(*push(n)) for n in range(60) for inbox in (a, b)]
        assert sum(s.new for s in stored) == 60  # each push stored by one of the two
        reports = await asyncio.gather(
            a.handle(recording("a")),
            b.handle(recording("b")),
        )
        assert sum(r.done for r in reports) == 60
        assert all(r.done > 0 for r in reports)  # both took part
        keys = await effects(pg_dsn)
        assert len(keys) == 60
        assert len(set(keys)) == 60
        assert {e.status for e in await a.entries()} == {"done"}


async def test_a_failing_handlers_writes_are_undone_and_it_is_retried_then_parked(
    pg_dsn: str,
) -> None:
    await effects_table(pg_dsn)
    calls: list[str] = []

    async def flaky(event: WebhookEvent) -> None:
        calls.append(event.key)
        await handler_connection().execute(
            "INSERT INTO effects (key, by) VALUES ($1, 'x')", event.key
        )
        raise RuntimeError("the bot's API said no")

    async with PgInbox(pg_dsn, secret=SECRET, max_attempts=2, retry_seconds=0.2) as inbox:
        await inbox.accept(*push(7))
        first = await inbox.handle(flaky)
        assert (first.retried, first.failed) == (1, 0)
        assert await inbox.handle(flaky) == HandleReport(0, 0, 0)  # not due yet
        assert len(calls) == 1
        await asyncio.sleep(0.3)
        second = await inbox.handle(flaky)
        assert second.failed == 1
        assert len(calls) == 2
        assert await effects(pg_dsn) == []  # neither try's write survived
        (parked,) = await inbox.failed()
        assert parked.attempts == 2
        assert parked.error is not None
        assert "the bot's API said no" in parked.error
        assert await inbox.replay(parked.key)
        assert not await inbox.replay(parked.key)  # queued already

        async def fixed(event: WebhookEvent) -> None:
            await handler_connection().execute(
                "INSERT INTO effects (key, by) VALUES ($1, 'fixed')", event.key
            )

        assert (await inbox.handle(fixed)).done == 1
        assert await effects(pg_dsn) == [parked.key]


async def test_hostile_pushes_are_refused_and_never_stored(pg_dsn: str) -> None:
    async with PgInbox(pg_dsn, secret=SECRET) as inbox:
        with pytest.raises(WebhookError) as wrong:
            await inbox.accept({"X-Stamped-Webhook-Secret": "nope"}, b"{}")
        assert wrong.value.status == 401
        with pytest.raises(WebhookError) as bad:
            await inbox.accept(push(1)[0], b"\xff\xfe")
        assert bad.value.status == 400
        assert await inbox.entries() == []


async def test_settings_and_secrets(pg_dsn: str) -> None:
    inbox = PgInbox(pg_dsn, secret=SECRET)
    assert "pg-SECRET-pass" not in repr(inbox)
    assert SECRET not in repr(inbox)
    with pytest.raises(ConfigurationError, match="postgresql://"):
        PgInbox("mysql://x", secret=SECRET)
    with pytest.raises(ConfigurationError, match="only open inside"):
        handler_connection()
    closed = PgInbox(pg_dsn.rsplit(":", 1)[0] + ":1/none", secret=SECRET, outage_seconds=0.1)
    with pytest.raises(JournalError) as refused:
        async with closed:
            pass
    assert "pg-SECRET-pass" not in str(refused.value)
    assert "webhook inbox database" in str(refused.value)


async def test_a_handler_whose_own_call_fails_or_overruns_is_a_failed_try(pg_dsn: str) -> None:
    """A handler's own connection error (an API it calls refused) or a handler past its
    deadline is that handler's failure: counted, retried, then parked. Neither is taken
    for the inbox's database going away (which would retry it at once, uncounted, and
    hold up every event behind it)."""
    await effects_table(pg_dsn)

    async def refused(event: WebhookEvent) -> None:
        await handler_connection().execute(
            "INSERT INTO effects (key, by) VALUES ($1, 'r')", event.key
        )
        raise ConnectionRefusedError("the CRM refused the connection")

    async def slow(event: WebhookEvent) -> None:
        await asyncio.sleep(30)

    settings = {"secret": SECRET, "max_attempts": 2, "retry_seconds": 0.1, "lease_seconds": 0.3}
    async with PgInbox(pg_dsn, **settings) as inbox:  # type: ignore[arg-type]
        await inbox.accept(*push(1, "points.earned"))
        await inbox.accept(*push(2, "review.created"))

        async def either(event: WebhookEvent) -> None:
            await (refused if event.topic == "points.earned" else slow)(event)

        first = await asyncio.wait_for(inbox.handle(either, limit=2), 10)
        assert first == HandleReport(0, 2, 0)  # both retried later, the second not held up
        await asyncio.sleep(0.2)
        second = await asyncio.wait_for(inbox.handle(either), 10)
        assert second == HandleReport(0, 0, 2)
        errors = {e.key: e.error or "" for e in await inbox.failed()}
        assert "the CRM refused" in errors["points.earned:1"]
        assert "ran past lease_seconds" in errors["review.created:2"]
        assert await effects(pg_dsn) == []  # the refused try's write was undone
