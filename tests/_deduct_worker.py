"""One ``deduct_many`` run in its own process: ``python -m tests._deduct_worker ...``.

Arguments: SANDBOX_URL JOURNAL. Started through ``tests._barrier.start_together``, so two
workers begin at once. Prints the run's report as JSON: ``sent``, ``held`` and each row's
outcome.
"""

from __future__ import annotations

import asyncio
import json
import sys

from stampsync import StampsClient
from stampsync.sandbox import SandboxConfig
from stampsync.stamps import StampDeduction
from tests._barrier import ready_then_wait

#: The race: 200 deductions over 20 members, keyed d0..d199, the key in the notes.
USERS = [f"member{i}@example.com" for i in range(1, 21)]
DEDUCTIONS = [
    StampDeduction(key=f"d{i}", user=USERS[i % 20], stamps=1, notes=f"deduct-d{i}")
    for i in range(200)
]


async def main(url: str, journal: str) -> dict[str, object]:
    c = SandboxConfig()
    async with StampsClient(
        c.stamps_token,
        api_url=url,
        merchant=c.merchant,
        store=c.stores[0],
        concurrent_batch_executions=20,
        concurrent_connections=20,
        throttle_limit=100_000,
        throttle_seconds=1.0,
    ) as client:
        await asyncio.to_thread(ready_then_wait)
        report = await client.stamps.deduct_many(DEDUCTIONS, journal=journal)
    return {
        "sent": report.sent,
        "held": report.held,
        "outcomes": [[o.key, o.status, o.error] for o in report],
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
