"""The sandbox pushes webhooks for what happens in it: points moved through the V3 API, a
tier change, a review a shopper writes; with faults that redeliver and delay. A real
receiver (``webhooks.app`` over an :class:`Inbox`) takes them and acts once per event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from stampsync.errors import ConfigurationError
from stampsync.sandbox import Sandbox
from stampsync.sandbox.server import free_port
from stampsync.stamped.webhooks import (
    Inbox,
    LoyaltyPayload,
    ReviewPayload,
    TierChangedPayload,
    WebhookEvent,
    app,
)

SECRET = "sandbox-hook-secret"


@asynccontextmanager
async def receiver(inbox: Inbox, handled: list[WebhookEvent]) -> AsyncIterator[str]:
    async def handler(event: WebhookEvent) -> None:
        handled.append(event)

    runner = web.AppRunner(app(inbox, handler, poll_seconds=0.1))
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/stamped/webhooks"
    finally:
        await runner.cleanup()


async def settled(sb: Sandbox, handled: list[WebhookEvent], n: int, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await sb.webhooks())["pending"] == 0 and len(handled) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"handled {len(handled)} of {n} events within {within} s")


async def test_points_tiers_and_reviews_are_pushed_and_each_acted_on_once(
    tmp_path: Path,
) -> None:
    handled: list[WebhookEvent] = []
    faults = ["webhook_redeliver:1:0.05"]  # every push sent twice
    async with (
        Inbox(tmp_path / "in.sqlite", secret=SECRET) as inbox,
        receiver(inbox, handled) as url,
        Sandbox(webhook_url=url, webhook_secret=SECRET, faults=faults) as sb,
    ):
        async with sb.stamped_client() as st:
            customers = await sb.v3("customers")
            customer = next(c for c in customers if c["activity"]["vipTier"] != "Platinum")
            balance = customer["activity"]["totalPoints"]
            await st.v3.loyalty.adjust_points(customer["customerId"], points=5000)
            await st.v3.loyalty.adjust_points(customer["customerId"], points=-10)
        await sb.write_review("buyer@example.com", 4, "Sturdy", "Holds up well")
        await settled(sb, handled, 4)
        pushes = (await sb.webhooks())["pushes"]
        counters = await sb.counters()
    topics = sorted(e.topic for e in handled)
    # 5000 points lift the customer to the top tier (from wherever they were).
    assert topics == ["points.earned", "points.spent", "review.created", "vip.tier.changed"]
    assert len(pushes) == 8  # each pushed twice...
    assert all(p["ok"] for p in pushes)
    assert counters["webhook:redelivered"] == 4
    by_topic = {e.topic: e for e in handled}  # ...and handled once
    earned = by_topic["points.earned"].data
    assert isinstance(earned, LoyaltyPayload)
    assert earned.points == 5000
    assert earned.points_balance == balance + 5000
    tier = by_topic["vip.tier.changed"].data
    assert isinstance(tier, TierChangedPayload)
    assert tier.new_tier == "Platinum"
    review = by_topic["review.created"].data
    assert isinstance(review, ReviewPayload)
    assert review.review_rating == 4
    assert review.customer_email == "buyer@example.com"


async def test_a_delayed_push_arrives_no_sooner_than_its_delay(tmp_path: Path) -> None:
    arrived: list[float] = []

    async def handler(event: WebhookEvent) -> None:
        arrived.append(time.monotonic())

    faults = ["webhook_delay:1:0.6@WEBHOOK review.*"]
    async with Inbox(tmp_path / "in.sqlite", secret=SECRET) as inbox:
        runner = web.AppRunner(app(inbox, handler, poll_seconds=0.05))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}/stamped/webhooks"
        try:
            async with Sandbox(webhook_url=url, webhook_secret=SECRET, faults=faults) as sb:
                written = time.monotonic()
                await sb.write_review("late@example.com", 5)
                for _ in range(100):
                    if arrived:
                        break
                    await asyncio.sleep(0.05)
                counters = await sb.counters()
        finally:
            await runner.cleanup()
    assert len(arrived) == 1
    assert arrived[0] - written >= 0.6
    assert counters["fault:webhook_delay"] == 1


async def test_a_receiver_that_was_down_gets_the_push_on_a_later_try(tmp_path: Path) -> None:
    handled: list[WebhookEvent] = []
    port = free_port()
    url = f"http://127.0.0.1:{port}/stamped/webhooks"
    async with Sandbox(webhook_url=url, webhook_secret=SECRET) as sb:
        await sb.write_review("early@example.com", 5)  # nobody listens yet
        async with Inbox(tmp_path / "in.sqlite", secret=SECRET) as inbox:
            await asyncio.sleep(0.5)  # past the first try (and the second, 0.2 s later)
            runner = web.AppRunner(app(inbox, _collect(handled), poll_seconds=0.05))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            try:
                await settled(sb, handled, 1)
            finally:
                await runner.cleanup()
        (push,) = (await sb.webhooks())["pushes"]
    assert push["ok"]
    assert push["tries"] >= 2
    assert [e.topic for e in handled] == ["review.created"]


async def test_a_redirect_is_never_followed() -> None:
    """A receiver that answers with a redirect could send the push (its secret and its
    shoppers' emails) anywhere: the sandbox does not follow it."""
    elsewhere: list[str] = []

    async def record(request: web.Request) -> web.Response:
        elsewhere.append(request.path)
        return web.Response(status=204)

    target = web.Application()
    target.router.add_post("/{tail:.*}", record)
    target_port = free_port()

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{target_port}/caught")

    receiver = web.Application()
    receiver.router.add_post("/stamped/webhooks", redirect)
    port = free_port()
    runners = [web.AppRunner(target), web.AppRunner(receiver)]
    for runner, at in zip(runners, (target_port, port), strict=True):
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", at).start()
    try:
        url = f"http://127.0.0.1:{port}/stamped/webhooks"
        async with Sandbox(webhook_url=url, webhook_secret=SECRET) as sb:
            await sb.write_review("buyer@example.com", 5)
            for _ in range(200):  # 5 tries: 0.2 + 0.4 + 0.8 + 1.6 s apart
                hooks = await sb.webhooks()
                if hooks["pending"] == 0 and hooks["pushes"]:
                    break
                await asyncio.sleep(0.05)
            counters = await sb.counters()
    finally:
        for runner in runners:
            await runner.cleanup()
    assert elsewhere == []
    (push,) = hooks["pushes"]
    assert (push["ok"], push["tries"]) == (False, 5)
    assert counters["webhook:failed"] == 1


def _collect(handled: list[WebhookEvent]) -> Callable[[WebhookEvent], Awaitable[None]]:
    async def handler(event: WebhookEvent) -> None:
        handled.append(event)

    return handler


def test_the_sandbox_pushes_only_to_this_machine() -> None:
    for url in ("https://hooks.example.com/x", "ftp://127.0.0.1/x", "http://10.0.0.1/x"):
        with pytest.raises(ConfigurationError, match="on this machine"):
            Sandbox(webhook_url=url)
    with pytest.raises(ConfigurationError, match="webhook_secret"):
        Sandbox(webhook_url="http://127.0.0.1:9/x", webhook_secret="")
