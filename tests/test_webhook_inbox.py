"""The durable webhook inbox (SQLite): each push stored once, each event handled once to
completion across restarts and across inboxes on one file; failing handlers retried,
then parked and replayable; hostile pushes never stored."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from stampsync.errors import ConfigurationError, WebhookError
from stampsync.stamped.webhooks import (
    ASGIApp,
    Handlers,
    Inbox,
    LoyaltyPayload,
    ReviewPayload,
    TierChangedPayload,
    WebhookEvent,
    app,
    asgi_app,
)

# The inbox's leases and retry times are wall-clock times (they outlive a process).
pytestmark = pytest.mark.real_time

SECRET = "inbox-test-secret"


def push(n: int, topic: str = "review.created") -> tuple[dict[str, str], bytes]:
    headers = {"X-Stamped-Webhook-Secret": SECRET, "X-Stamped-Topic": topic}
    body = json.dumps({"id": n, "rating": 5, "author": f"buyer{n}@example.com"}).encode()
    return headers, body


class Recorder:
    """A handler that records the keys it handled (the events' data checked typed)."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def __call__(self, event: WebhookEvent) -> None:
        if event.topic.startswith("review"):
            assert isinstance(event.data, ReviewPayload)  # typed as when it arrived
        self.keys.append(event.key)


async def test_a_receiver_restarted_between_a_push_and_its_redelivery_acts_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inbox.sqlite"
    handler = Recorder()
    async with Inbox(path, secret=SECRET) as inbox:
        first = await inbox.accept(*push(1))
        again = await inbox.accept(*push(1))  # redelivered before it was handled
        assert (first.new, again.new) == (True, False)
        assert (await inbox.handle(handler)).done == 1
    # The receiver restarts; the sender redelivers the same event.
    async with Inbox(path, secret=SECRET) as inbox:
        late = await inbox.accept(*push(1))
        assert late.new is False
        report = await inbox.handle(handler)
        assert report.done == 0
        assert [e.status for e in await inbox.entries()] == ["done"]
    assert handler.keys == ["review.created:1"]


async def test_two_inboxes_on_one_file_handle_each_event_once(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    handled: list[str] = []

    async def slow(event: WebhookEvent) -> None:
        await asyncio.sleep(0.01)  # long enough for the other inbox to try the same event
        handled.append(event.key)

    async with Inbox(path, secret=SECRET) as a, Inbox(path, secret=SECRET) as b:
        for n in range(40):
            await (a if n % 2 else b).accept(*push(n))
        reports = await asyncio.gather(a.handle(slow), b.handle(slow))
    assert sorted(handled) == sorted(f"review.created:{n}" for n in range(40))
    assert sum(r.done for r in reports) == 40
    assert all(r.done > 0 for r in reports), reports  # both took a share


async def test_an_event_whose_process_died_while_handling_it_runs_after_its_lease(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inbox.sqlite"
    handler = Recorder()
    async with Inbox(path, secret=SECRET, lease_seconds=0.3) as dead:
        await dead.accept(*push(7))
        assert await dead._file.arun(dead._claim) is not None  # claimed, never finished
    async with Inbox(path, secret=SECRET) as live:
        assert (await live.handle(handler)).done == 0  # still leased to the dead one
        await asyncio.sleep(0.4)
        assert (await live.handle(handler)).done == 1
    assert handler.keys == ["review.created:7"]


async def test_a_failing_handler_is_retried_then_parked_and_can_be_replayed(
    tmp_path: Path,
) -> None:
    calls: list[int] = []
    fail = True

    async def handler(event: WebhookEvent) -> None:
        calls.append(1)
        if fail:
            raise RuntimeError("the CRM is down")

    async with Inbox(
        tmp_path / "inbox.sqlite", secret=SECRET, max_attempts=3, retry_seconds=0.05
    ) as inbox:
        await inbox.accept(*push(3))
        first = await inbox.handle(handler)
        assert (first.retried, first.failed) == (1, 0)
        assert (await inbox.handle(handler)).done == 0  # not due yet
        for _ in range(40):
            await asyncio.sleep(0.05)
            await inbox.handle(handler)
            if await inbox.failed():
                break
        (parked,) = await inbox.failed()
        assert (parked.key, parked.attempts) == ("review.created:3", 3)
        assert parked.error == "RuntimeError: the CRM is down"
        assert len(calls) == 3
        fail = False
        assert await inbox.replay("review.created:3") is True
        assert await inbox.replay("review.created:3") is False  # queued already
        assert (await inbox.handle(handler)).done == 1
        assert await inbox.failed() == []
        assert await inbox.replay("no-such-key") is False


async def test_hostile_pushes_are_refused_and_never_stored(tmp_path: Path) -> None:
    handler = Recorder()
    async with Inbox(tmp_path / "inbox.sqlite", secret=SECRET) as inbox:
        headers, body = push(1)
        with pytest.raises(WebhookError) as wrong:
            await inbox.accept({**headers, "X-Stamped-Webhook-Secret": "guess"}, body)
        assert wrong.value.status == 401
        for bad in (b"\xff\xfe", b"[1, 2]", b"[" * 100_000, b"not json"):
            with pytest.raises(WebhookError) as refused:
                await inbox.accept(headers, bad)
            assert refused.value.status == 400
        assert await inbox.entries() == []
        assert (await inbox.handle(handler)).done == 0
        assert SECRET not in repr(inbox)
    assert SECRET.encode() not in (tmp_path / "inbox.sqlite").read_bytes()
    assert handler.keys == []


def test_bad_settings_are_refused_by_name(tmp_path: Path) -> None:
    for kwargs, words in (
        ({"max_attempts": 0}, "max_attempts"),
        ({"retry_seconds": -1}, "retry_seconds"),
        ({"lease_seconds": True}, "lease_seconds"),
    ):
        with pytest.raises(ConfigurationError, match=words):
            Inbox(tmp_path / "x.sqlite", secret=SECRET, **kwargs)
    with pytest.raises(ConfigurationError, match="secret"):
        Inbox(tmp_path / "x.sqlite", secret="")


async def wait_done(inbox: Inbox, n: int, within: float = 10.0) -> None:
    for _ in range(int(within / 0.02)):
        if len(await inbox.entries("done")) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{n} events not handled within {within} s: {await inbox.entries()}")


async def test_the_receiver_app_answers_once_stored_and_handles_each_push_once(
    tmp_path: Path,
) -> None:
    handler = Recorder()
    async with Inbox(tmp_path / "inbox.sqlite", secret=SECRET) as inbox:
        # A long poll: only the wake of a stored push can make the handler run in time.
        receiver = app(inbox, handler, poll_seconds=60)
        async with TestClient(TestServer(receiver)) as client:
            headers, body = push(5)
            for _ in range(3):  # delivered, then redelivered twice
                answer = await client.post("/stamped/webhooks", data=body, headers=headers)
                assert answer.status == 204
            wrong = {**headers, "X-Stamped-Webhook-Secret": "guess"}
            assert (await client.post("/stamped/webhooks", data=body, headers=wrong)).status == 401
            bad = await client.post("/stamped/webhooks", data=b"[]", headers=headers)
            assert bad.status == 400
            huge_body = io.BytesIO(b" " * (2 << 20))
            huge = await client.post("/stamped/webhooks", data=huge_body, headers=headers)
            assert huge.status == 413
            await wait_done(inbox, 1)
        assert [e.key for e in await inbox.entries()] == ["review.created:5"]
    assert handler.keys == ["review.created:5"]


async def test_the_receiver_app_retries_a_failing_handler_in_the_background(
    tmp_path: Path,
) -> None:
    tries: list[str] = []

    async def flaky(event: WebhookEvent) -> None:
        tries.append(event.key)
        if len(tries) == 1:
            raise RuntimeError("the CRM is down")

    inbox = Inbox(tmp_path / "inbox.sqlite", secret=SECRET, retry_seconds=0.1)
    async with inbox, TestClient(TestServer(app(inbox, flaky, poll_seconds=0.05))) as client:
        answer = await client.post("/stamped/webhooks", data=push(9)[1], headers=push(9)[0])
        assert answer.status == 204
        await wait_done(inbox, 1)
    assert tries == ["review.created:9", "review.created:9"]


async def test_handlers_route_each_event_by_its_payload_type(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    async def on_review(event: WebhookEvent, review: ReviewPayload) -> None:
        seen.append(("review", str(review.id)))

    async def on_points(event: WebhookEvent, points: LoyaltyPayload) -> None:
        seen.append(("points", str(points.id)))

    async def on_tier_changed(event: WebhookEvent, tier: TierChangedPayload) -> None:
        seen.append(("tier", str(tier.id)))

    async def other(event: WebhookEvent) -> None:
        seen.append(("other", event.topic))

    routed = Handlers(on_review, on_points, on_tier_changed, other)
    topics = ["review.created", "points.earned", "vip.tier_changed", "question.created"]
    async with Inbox(tmp_path / "inbox.sqlite", secret=SECRET) as inbox:
        for n, topic in enumerate(topics):
            await inbox.accept(*push(n, topic))
        assert (await inbox.handle(routed)).done == 4
        # Without its own handler, an event goes to ``other``; with neither, it is done.
        await inbox.accept(*push(10, "points.spent"))
        assert (await inbox.handle(Handlers(on_review=on_review, other=other))).done == 1
        await inbox.accept(*push(11, "points.spent"))
        assert (await inbox.handle(Handlers(on_review=on_review))).done == 1
    assert seen == [
        ("review", "0"),
        ("points", "1"),
        ("tier", "2"),
        ("other", "question.created"),
        ("other", "points.spent"),
    ]


class AsgiCall:
    """One request through an ASGI application, driven by hand (no server)."""

    def __init__(self, method: str, path: str, headers: dict[str, bytes], body: bytes) -> None:
        self.scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [(k.lower().encode(), v) for k, v in headers.items()],
        }
        # In two chunks, as a server may hand a body over.
        half = len(body) // 2
        self.incoming: list[MutableMapping[str, Any]] = [
            {"type": "http.request", "body": body[:half], "more_body": True},
            {"type": "http.request", "body": body[half:], "more_body": False},
        ]
        self.sent: list[dict[str, object]] = []

    async def receive(self) -> MutableMapping[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(dict(message))

    async def status(self, application: ASGIApp) -> int:
        await application(self.scope, self.receive, self.send)
        return int(str(self.sent[0]["status"]))


async def test_the_asgi_receiver_answers_as_the_aiohttp_one_and_handles_once(
    tmp_path: Path,
) -> None:
    handler = Recorder()
    lifespan_in: list[MutableMapping[str, Any]] = [{"type": "lifespan.startup"}]
    lifespan_out: list[MutableMapping[str, Any]] = []
    async with Inbox(tmp_path / "inbox.sqlite", secret=SECRET) as inbox:
        receiver = asgi_app(inbox, handler, poll_seconds=60)
        go_on = asyncio.Event()

        async def lifespan_receive() -> MutableMapping[str, Any]:
            if lifespan_in:
                return lifespan_in.pop(0)
            await go_on.wait()
            return {"type": "lifespan.shutdown"}

        async def lifespan_send(message: MutableMapping[str, Any]) -> None:
            lifespan_out.append(message)

        async def lifespan() -> None:
            await receiver({"type": "lifespan"}, lifespan_receive, lifespan_send)

        life = asyncio.create_task(lifespan())
        try:
            headers, body = push(5)
            raw = {k: v.encode() for k, v in headers.items()}
            for _ in range(2):  # delivered, then redelivered
                assert (
                    await AsgiCall("POST", "/stamped/webhooks", raw, body).status(receiver) == 204
                )
            wrong = {**raw, "X-Stamped-Webhook-Secret": b"\xffguess"}  # not even UTF-8
            assert await AsgiCall("POST", "/stamped/webhooks", wrong, body).status(receiver) == 401
            assert await AsgiCall("POST", "/stamped/webhooks", raw, b"[]").status(receiver) == 400
            huge = b" " * (2 << 20)
            assert await AsgiCall("POST", "/stamped/webhooks", raw, huge).status(receiver) == 413
            assert await AsgiCall("GET", "/stamped/webhooks", raw, b"").status(receiver) == 405
            assert await AsgiCall("POST", "/elsewhere", raw, body).status(receiver) == 404
            await wait_done(inbox, 1)
        finally:
            go_on.set()  # the lifespan ends, and stops the handler loop, pass or fail
            await life
        assert [m["type"] for m in lifespan_out] == [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ]
        assert [e.key for e in await inbox.entries()] == ["review.created:5"]
    assert handler.keys == ["review.created:5"]


async def test_a_receiver_whose_inbox_cannot_store_answers_503(tmp_path: Path) -> None:
    """The sender keeps a push it was refused with 503 and tries again later; a 500 (an
    error escaping the receiver) says nothing of the kind."""
    inbox = Inbox(tmp_path / "inbox.sqlite", secret=SECRET)
    await inbox.aclose()  # closed: every accept fails as a StampsyncError
    headers, body = push(1)

    async def never(event: WebhookEvent) -> None:
        raise AssertionError("nothing is stored, so nothing is handled")

    async with TestClient(TestServer(app(inbox, never))) as client:
        answer = await client.post("/stamped/webhooks", data=body, headers=headers)
        assert answer.status == 503
    raw = {k: v.encode() for k, v in headers.items()}
    assert (
        await AsgiCall("POST", "/stamped/webhooks", raw, body).status(asgi_app(inbox, never)) == 503
    )


async def test_the_asgi_receiver_mounted_under_a_prefix_takes_its_pushes(tmp_path: Path) -> None:
    """Mounted (Starlette's Mount, uvicorn --root-path), the scope's path carries the
    prefix as ``root_path`` does."""
    async with Inbox(tmp_path / "inbox.sqlite", secret=SECRET) as inbox:
        receiver = asgi_app(inbox, Recorder(), poll_seconds=60)
        headers, body = push(8)
        raw = {k: v.encode() for k, v in headers.items()}
        mounted = AsgiCall("POST", "/hooks/stamped/webhooks", raw, body)
        mounted.scope["root_path"] = "/hooks"
        try:
            assert await mounted.status(receiver) == 204
            assert [e.key for e in await inbox.entries()] == ["review.created:8"]
        finally:
            await receiver({"type": "lifespan"}, _shutdown, _ignore)


async def _shutdown() -> MutableMapping[str, Any]:
    return {"type": "lifespan.shutdown"}


async def _ignore(message: MutableMapping[str, Any]) -> None:
    return None


async def test_a_receiver_stops_when_a_push_wakes_it_as_it_is_stopped(tmp_path: Path) -> None:
    """A push's wake and the shutdown's cancel in the same turn of the loop: on Python
    3.11, asyncio.wait_for returned the wake and dropped the cancel, so the receiver's
    shutdown waited forever (a mutation run hung on it)."""
    from stampsync.stamped._receivers import _Receiver

    async with Inbox(tmp_path / "inbox.sqlite", secret=SECRET) as inbox:
        for _ in range(5):
            receiver = _Receiver(inbox, Recorder(), poll_seconds=60)
            receiver.start()
            await asyncio.sleep(0.2)  # it has looked at the (empty) inbox, and waits
            loop_task = receiver.task
            receiver.wake.set()  # the wake and the cancel in one turn of the loop
            # Its poll is 60 s: a loop that dropped the cancel is still waiting at 10.
            async with asyncio.timeout(10):
                await receiver.stop()
            assert loop_task is not None
            assert loop_task.done()
