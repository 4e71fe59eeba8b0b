"""One worker process sharing a RedisThrottle: ``python -m tests._redis_worker ...``.

Arguments: REDIS_URL KEY LIMIT SECONDS SANDBOX_URL REQUESTS START_AT (a time.time())
[MAX_RETRIES, default 0].
Prints the number of requests that failed.
"""

from __future__ import annotations

import asyncio
import sys
import time

from stampsync import StampedClient
from stampsync.sandbox import SandboxConfig
from stampsync.throttle import RedisThrottle


async def main(
    redis_url: str,
    key: str,
    limit: int,
    seconds: float,
    url: str,
    n: int,
    start_at: float,
    retries: int = 0,
) -> int:
    c = SandboxConfig()
    shared = RedisThrottle(redis_url, key=key, limit=limit, seconds=seconds)
    client = StampedClient(
        c.public_key,
        c.private_key,
        c.store_hash,
        api_url=url,
        throttle=shared,
        concurrent_connections=4,
        max_retries=retries,
    )
    async with shared, client:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        results = await asyncio.gather(
            *(client.customers.get(1 + i % 50) for i in range(n)), return_exceptions=True
        )
    return sum(isinstance(r, BaseException) for r in results)


if __name__ == "__main__":
    a = sys.argv[1:]
    retries = int(a[7]) if len(a) > 7 else 0
    print(
        asyncio.run(main(a[0], a[1], int(a[2]), float(a[3]), a[4], int(a[5]), float(a[6]), retries))
    )
