"""The handler the three-receiver test serves: ``--handler tests._webhook_handler:handle``.

Its effect is a row in ``effects`` written through the inbox's transaction, so a
receiver killed at any instant leaves either the effect and the done mark or neither.
An adjustment of exactly 13 points is refused until a row is put in ``fixed``: those
events fail, are parked, and are retried by the operator once "the bug is fixed".
"""

from __future__ import annotations

import asyncio
import os

from stampsync.stamped.webhooks import LoyaltyPayload, WebhookEvent, handler_connection

REFUSED_POINTS = 13


async def handle(event: WebhookEvent) -> None:
    con = handler_connection()
    data = event.data
    refused = isinstance(data, LoyaltyPayload) and data.points == REFUSED_POINTS
    if refused and not await con.fetchval("SELECT count(*) FROM fixed"):
        raise RuntimeError(f"{REFUSED_POINTS} points are refused until fixed")
    await con.execute("INSERT INTO effects (key, pid) VALUES ($1, $2)", event.key, os.getpid())
    await asyncio.sleep(0.002)  # the handler's own work
