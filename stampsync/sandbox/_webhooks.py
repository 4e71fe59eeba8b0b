"""The sandbox's webhook pushes: what happens in it, pushed to a receiver as Stamped would.

With ``webhook_url`` set, the sandbox pushes an event for each thing a shop's bot would
hear of: points earned or spent (every V3 activity that moves a balance), a VIP tier
change, and a review a shopper writes (``POST /__sandbox/write-review``: the APIs have no
route that writes one). Each push carries the shared secret and the topic in Stamped's
headers and a body the receiver's parser types.

Delivery is the sandbox's own choice where Stamped documents none: a push that is not
answered 2xx (or whose connection fails) is tried up to 5 times in all, 0.2 s apart and
doubling; a redirect is not followed (it could lead off this machine). Two faults test a
receiver's de-duplication and patience: ``webhook_redeliver`` sends a push a second time
``seconds`` after the first, ``webhook_delay`` holds a push ``seconds`` before its first
try; their routes match ``WEBHOOK <topic>``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from ._config import Fault
from ._middleware import Gate

log = logging.getLogger("stampsync.sandbox")

#: Tries of one push before it is given up (and counted ``webhook:failed``).
TRIES = 5
#: Pushes in flight at once.
SENDERS = 4


class WebhookSender:
    """Queues events and pushes them to the configured receiver in the background."""

    def __init__(self, gate: Gate) -> None:
        config = gate.config
        self.url = config.webhook_url
        self.secret = config.webhook_secret
        self.store_url = f"sandbox-{config.store_hash}.example"
        self.gate = gate
        self.counters = gate.counters
        self.rng = random.Random(config.fault_seed + 1)
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=100_000)
        """Each push made: topic, id, tries, and whether it was answered 2xx."""
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], float]] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._later: set[asyncio.Task[None]] = set()
        self._trying = 0
        self._ids = 0
        self.reviews = 0
        """Reviews written through the inspection API (their ids)."""

    def emit(self, topic: str, payload: dict[str, Any]) -> None:
        """Push an event (from a route's handler: returns at once). Nothing happens
        without a receiver."""
        if self.url is None:
            return
        if "id" not in payload:
            self._ids += 1
            payload = {"id": f"evt_{self._ids:06d}", **payload}
        delay = 0.0
        for fault in self._hits(topic, "webhook_delay"):
            delay = max(delay, fault.seconds)
        self._queue.put_nowait((topic, payload, delay))
        for fault in self._hits(topic, "webhook_redeliver"):
            self.counters["webhook:redelivered"] += 1
            self._queue.put_nowait((topic, payload, delay + fault.seconds))

    def _hits(self, topic: str, kind: str) -> list[Fault]:
        hit = []
        for fault in self.gate.config.faults:  # as set now (faults change at run time)
            if fault.kind != kind or not fault.matches("WEBHOOK", topic):
                continue
            if fault.roll(self.rng):
                self.counters[f"fault:{kind}"] += 1
                hit.append(fault)
        return hit

    def pending(self) -> int:
        """Pushes not yet answered or given up: queued, delayed, or being tried."""
        return self._queue.qsize() + len(self._later) + self._trying

    async def _push(self, topic: str, payload: dict[str, Any]) -> None:
        assert self._session is not None
        assert self.url is not None
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Stamped-Topic": topic,
            "X-Stamped-Webhook-Secret": self.secret,
            "X-Stamped-Store-Url": self.store_url,
        }
        pause = 0.2
        self._trying += 1
        try:
            for attempt in range(1, TRIES + 1):
                if attempt > 1:
                    self.counters["webhook:retried"] += 1
                    await asyncio.sleep(pause)
                    pause *= 2
                try:
                    # Never a redirect: it could lead off this machine, secret and all.
                    async with self._session.post(
                        self.url, data=body, headers=headers, allow_redirects=False
                    ) as answer:
                        ok = 200 <= answer.status < 300
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    self.counters["webhook:sent"] += 1
                    entry = {"topic": topic, "id": payload["id"], "tries": attempt, "ok": True}
                    self.log.append(entry)
                    return
            self.counters["webhook:failed"] += 1
            self.log.append({"topic": topic, "id": payload["id"], "tries": TRIES, "ok": False})
        finally:
            self._trying -= 1

    async def _delayed(self, topic: str, payload: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)
        await self._push(topic, payload)

    async def _sender(self) -> None:
        while True:
            topic, payload, delay = await self._queue.get()
            if delay > 0:
                task = asyncio.create_task(self._delayed(topic, payload, delay))
                self._later.add(task)
                task.add_done_callback(self._later.discard)
                continue
            try:
                await self._push(topic, payload)
            except Exception:  # a sender must outlive any one push
                log.exception("sandbox webhook push failed")

    async def running(self, _: web.Application) -> AsyncIterator[None]:
        """The application's cleanup context: senders run while the sandbox serves."""
        if self.url is None:
            yield
            return
        timeout = aiohttp.ClientTimeout(total=10)
        self._session = aiohttp.ClientSession(timeout=timeout)
        senders = [asyncio.create_task(self._sender()) for _ in range(SENDERS)]
        try:
            yield
        finally:
            for task in [*senders, *self._later]:
                task.cancel()
            for task in [*senders, *self._later]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._session.close()
