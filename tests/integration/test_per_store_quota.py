"""Per-store quotas: a Redis key per account, a sandbox window per token."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest

from stampsync.errors import ConfigurationError
from stampsync.sandbox import Sandbox
from stampsync.stamps import StampAward
from stampsync.testing import max_in_window
from stampsync.throttle import RedisThrottles
from tests._redis import redis_server

LIMIT, SECONDS = 5, 1.0


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _):
        yield url


@pytest.mark.stampsync_sandbox(extra_tokens=2, limit=3, seconds=60, members=20)
async def test_the_sandbox_keeps_a_window_per_token(stampsync_sandbox: Sandbox) -> None:
    sb = stampsync_sandbox
    async with aiohttp.ClientSession() as session:

        async def ping(store: int) -> int:
            headers = {"Authorization": f"Token {sb.stamps_token(store)}"}
            async with session.post(sb.url + "/api/ping", headers=headers) as r:
                return r.status

        assert [await ping(1) for _ in range(4)] == [200, 200, 200, 429]
        assert [await ping(2) for _ in range(3)] == [200, 200, 200]  # its own window
        assert await ping(0) == 200
        wrong = {"Authorization": f"Token {sb.config.stamps_token}-9"}
        async with session.post(sb.url + "/api/ping", headers=wrong) as r:
            assert r.status == 401
    by = await sb.arrivals_by_credential()
    assert sorted(len(t) for t in by.values()) == [1, 3, 4]
    assert all(sb.config.stamps_token not in who for who in by)
    with pytest.raises(ConfigurationError):
        sb.stamps_token(3)


def test_a_key_template_must_name_the_account() -> None:
    for bad in ("stamps", "stamps:{store}", "stamps:{account}{0}"):
        with pytest.raises(ConfigurationError, match="template"):
            RedisThrottles("redis://127.0.0.1:1/0", key=bad, limit=5, seconds=1)


async def two_workers_per_store(sb: Sandbox, redis_url: str) -> float:
    """Three stores, two "workers" (clients with their own throttle objects) per store:
    every store's window holds. Returns the seconds it took."""
    per_store = 12
    families = [
        RedisThrottles(redis_url, key="stamps:{account}", limit=LIMIT, seconds=SECONDS)
        for _ in range(2)
    ]
    assert "store-1" in families[0].key_for("store-1")
    assert families[0].for_account("store-1") is families[0].for_account("store-1")

    async def worker(family: RedisThrottles, store: int, half: int) -> None:
        throttle = family.for_account(f"store-{store}")
        async with sb.stamps_client() as base:
            merchant, shop = base.merchant, base.store
        from stampsync import StampsClient

        async with StampsClient(
            sb.stamps_token(store), api_url=sb.url, merchant=merchant, store=shop,
            throttle=throttle,
        ) as client:  # fmt: skip
            awards = [
                StampAward(key=f"s{store}-{half}-{i}", user=f"member{i + 1}@example.com",
                           number_of_stamps=1, notes=f"s{store}-{half}-{i}")
                for i in range(per_store // 2)
            ]  # fmt: skip
            report = await client.stamps.add_many(awards, check_first=False)
            assert report.counts["applied"] == per_store // 2

    started = asyncio.get_running_loop().time()
    try:
        await asyncio.gather(*(worker(families[h], s, h) for s in (1, 2, 3) for h in (0, 1)))
    finally:
        for family in families:
            await family.aclose()
    elapsed = asyncio.get_running_loop().time() - started
    by = await sb.arrivals_by_credential()
    assert len(by) == 3
    for times in by.values():
        assert len(times) == per_store
        assert max_in_window(times, SECONDS) <= LIMIT
    assert (await sb.counters()).get("rate_limited", 0) == 0
    return elapsed


STORES = pytest.mark.stampsync_sandbox(extra_tokens=3, limit=LIMIT, seconds=SECONDS, members=50)


@pytest.mark.redis
@STORES
async def test_each_store_keeps_its_own_window_across_workers(
    stampsync_sandbox: Sandbox, redis_url: str
) -> None:
    await two_workers_per_store(stampsync_sandbox, redis_url)


@pytest.mark.timing
@pytest.mark.redis
@STORES
async def test_stores_do_not_slow_each_other_down(
    stampsync_sandbox: Sandbox, redis_url: str
) -> None:
    elapsed = await two_workers_per_store(stampsync_sandbox, redis_url)
    # 12 awards at 5/s per store take a little over 2 s; one shared quota would take 7.
    assert elapsed < 5.0
