"""Running the sandbox: in a thread of its own, or as a separate process.

``Sandbox`` serves on 127.0.0.1 only, on a free port unless told otherwise:

    async with Sandbox(customers=1000) as sb:
        async with sb.stamped_client() as stamped:
            page = await stamped.customers.list()
        print(await sb.awards())

By default it runs its own event loop in a thread, so what it measures (arrival times)
is not skewed by the client's loop, and it can be started from synchronous code too
(``start()``/``stop()``). ``process=True`` runs ``python -m stampsync.sandbox`` instead,
stopped by its process id: use it for benchmarks and multi-process tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import fields, replace
from typing import Any, Literal, Self, overload
from urllib.parse import quote

import aiohttp
import msgspec
from aiohttp import web

from ..errors import ConfigurationError
from ..stamped.client import StampedClient
from ..stamps.client import StampsClient
from ._config import Fault, SandboxConfig, config_args
from .app import build_app
from .records import (
    AwardRecord,
    CustomerRecord,
    DeductionRecord,
    MemberRecord,
    RequestRecord,
    ReviewRecord,
    TransactionRecord,
    V3ActivityRecord,
    V3CustomerRecord,
    V3OrderRecord,
    V3ProductRecord,
    V3RewardRecord,
    WebhooksRecord,
)

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def spawn(config: SandboxConfig, port: int, *, detach: bool = False) -> subprocess.Popen[bytes]:
    """Start ``python -m stampsync.sandbox`` serving ``config`` on ``port``; once it
    answers, return it (stop it by its pid). A process that cannot start raises
    ConfigurationError with what it printed.

    ``detach``: in a session of its own, with no tie to this process's terminal or
    output (``stampsync sandbox --env``).
    """
    cmd = [sys.executable, "-m", "stampsync.sandbox", "--port", str(port), "--quiet"]
    url = f"http://{HOST}:{port}"
    # A file, not a pipe: a pipe nobody reads could fill and stall the server.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [*cmd, *config_args(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if detach else None,
            stderr=errors,
            start_new_session=detach,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                errors.seek(0)
                lines = errors.read().decode(errors="replace").strip().splitlines()
                why = lines[-1] if lines else f"exit status {proc.returncode}"
                raise ConfigurationError(f"sandbox process could not start on {url}: {why}")
            probe = url + "/__sandbox/info"  # http on 127.0.0.1, built here
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(probe, timeout=1),  # noqa: S310
            ):
                return proc
            time.sleep(0.05)
    proc.kill()
    proc.wait(10)
    raise ConfigurationError(f"sandbox process did not answer on {url} within 30 s")


class Sandbox:
    """A local server of both APIs, with demo credentials and an inspection API.

    Args:
        config: a full :class:`SandboxConfig`; keyword ``overrides`` change fields of it
            (``customers=1000``, ``limit=50``, ``faults=[Fault("503", ...)]``...).
        port: 0 (default) picks a free port.
        process: run as a separate process instead of a thread.
    """

    inspection_timeout: aiohttp.ClientTimeout = aiohttp.ClientTimeout(total=30)
    """How long each inspection call (``awards()``, ``counters()``...) waits for its answer;
    it is asked twice before :class:`ConfigurationError` says the sandbox is not serving."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        port: int = 0,
        process: bool = False,
        **overrides: Any,
    ) -> None:
        known = {f.name for f in fields(SandboxConfig)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigurationError(f"unknown sandbox settings: {', '.join(sorted(unknown))}")
        self.config = replace(config or SandboxConfig(), **overrides)
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._process_mode = process
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._died: BaseException | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs with ``process=True``, else ``None``.

        For pinning it to a core of its own in a benchmark, say.
        """
        return self._proc.pid if self._proc is not None else None

    # -- lifetime -----------------------------------------------------------------

    def start(self) -> None:
        """Start serving; returns once the server answers. Also usable from sync code."""
        if self._process_mode:
            self._start_process()
        else:
            self._start_thread()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
            self._proc = None
        if self._thread is not None and self._loop is not None and self._stop is not None:
            if self._thread.is_alive():  # else its loop is closed: nothing left to stop
                self._loop.call_soon_threadsafe(self._stop.set)
                self._thread.join(10)
            self._thread = None

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_thread(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._died = None
        runners: list[web.AppRunner] = []

        async def serve() -> None:
            self._stop = asyncio.Event()
            try:
                runner = web.AppRunner(
                    build_app(self.config), access_log=None, handler_cancellation=True
                )
                await runner.setup()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            runners.append(runner)
            try:
                await web.TCPSite(runner, HOST, self.port).start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                await runner.cleanup()
                return
            ready.set()
            try:
                await self._stop.wait()
            finally:
                await runner.cleanup()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # whatever stops the server must reach start()
                failure.append(exc)
                if ready.is_set():
                    # Died while serving: remembered for the inspection calls' errors,
                    # and the port closed so clients are refused rather than left waiting.
                    self._died = exc
                    for runner in runners:
                        with contextlib.suppress(Exception):
                            loop.run_until_complete(runner.cleanup())
            finally:
                ready.set()
                loop.close()

        self._thread = threading.Thread(
            target=run, name=f"stampsync-sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(30):
            self.stop()
            raise ConfigurationError(f"sandbox did not start on {self.url} within 30 s")
        if failure:
            self._thread.join(5)
            self._thread = None
            cause = failure[0]
            raise ConfigurationError(
                f"sandbox could not start on {self.url}: {type(cause).__name__}: {cause}"
            ) from cause

    def _start_process(self) -> None:
        self._proc = spawn(self.config, self.port)

    # -- clients ------------------------------------------------------------------

    def stamped_client(self, **kwargs: Any) -> StampedClient:
        """A :class:`StampedClient` for this sandbox's demo store (keyword overrides)."""
        c = self.config
        kwargs.setdefault("api_key", c.api_key)
        return StampedClient(c.public_key, c.private_key, c.store_hash, api_url=self.url, **kwargs)

    def stamps_token(self, store: int = 0) -> str:
        """The Stamps token of store ``store``: 0 the main one, 1..``extra_tokens`` the others."""
        if not 0 <= store <= self.config.extra_tokens:
            raise ConfigurationError(f"the sandbox has no Stamps token {store}")
        token = self.config.stamps_token
        return token if store == 0 else f"{token}-{store}"

    def stamps_client(self, **kwargs: Any) -> StampsClient:
        """A :class:`StampsClient` for this sandbox's demo merchant (store 1 by default)."""
        c = self.config
        kwargs.setdefault("merchant", c.merchant)
        kwargs.setdefault("store", c.stores[0])
        return StampsClient(c.stamps_token, api_url=self.url, **kwargs)

    # -- inspection ---------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        # Asked twice before giving up: every inspection call is safe to repeat (reads,
        # or settings put whole), and a test should not fail on one lost loopback answer
        # of a loaded machine. What is left after that is a sandbox that is not serving.
        url = f"{self.url}/__sandbox{path}"
        problem: BaseException | None = None
        for _ in range(2):
            try:
                async with (
                    aiohttp.ClientSession(timeout=self.inspection_timeout) as session,
                    session.request(method, url, json=body) as response,
                ):
                    if response.status == 404:
                        return None
                    if response.status >= 400:
                        raise ConfigurationError(
                            f"the sandbox on {self.url} answered {method} /__sandbox{path} "
                            f"with HTTP {response.status}"
                        )
                    return msgspec.json.decode(await response.read())
            except (aiohttp.ClientError, TimeoutError, msgspec.DecodeError) as exc:
                problem = exc
        why = f"{type(problem).__name__}{f': {problem}' if str(problem) else ''}"
        raise ConfigurationError(
            f"the sandbox on {self.url} did not answer {method} /__sandbox{path} "
            f"({why}){await self._state()}"
        ) from problem

    async def _state(self) -> str:
        """Why the sandbox may not be serving, for an error message."""
        if self._died is not None:
            return f"; its thread stopped: {type(self._died).__name__}: {self._died}"
        if self._proc is not None and (code := self._proc.poll()) is not None:
            return f"; its process exited with code {code}"
        if self._thread is None and self._proc is None:
            return "; it is not running (start it first)"
        if self._thread is not None and self._loop is not None:
            # A loop that cannot run a callback is blocked; one that can lost the answer.
            ran = threading.Event()
            with contextlib.suppress(RuntimeError):  # closed under us: said above next time
                self._loop.call_soon_threadsafe(ran.set)
            if not await asyncio.to_thread(ran.wait, 5):
                return "; its event loop has not run for 5 s (blocked)"
            return "; its event loop is running"
        return ""

    async def arrivals(self) -> list[float]:
        """Arrival times (``time.monotonic()``) of every API request, in order."""
        times: list[float] = await self._call("GET", "/arrivals")
        return times

    async def arrivals_by_credential(self) -> dict[str, list[float]]:
        """Arrival times per credential: ``stamps:<merchant>`` for the main token,
        ``stamps:<merchant>:token-<i>`` for the extra ones, ``stamped:<hash>:<key>``."""
        times: dict[str, list[float]] = await self._call("GET", "/arrivals-by-credential")
        return times

    async def counters(self) -> dict[str, int]:
        """Counts: arrivals, ok, rate_limited, unauthorized, fault:KIND, status:CODE, and
        per credential ``arrivals:stamped:<store hash>:<public key>`` and
        ``arrivals:stamps:<merchant>`` (``rate_limited:...`` likewise)."""
        counts: dict[str, int] = await self._call("GET", "/counters")
        return counts

    async def requests(self) -> list[RequestRecord]:
        """The last 10 000 requests: method, path, status, injected fault, credential."""
        log: list[RequestRecord] = await self._call("GET", "/requests")
        return log

    async def awards(self) -> list[AwardRecord]:
        """Every stamps award the server applied: id, pk, email, store, stamps, notes,
        status."""
        awards: list[AwardRecord] = await self._call("GET", "/awards")
        return awards

    async def transactions(self) -> list[TransactionRecord]:
        """Every transaction recorded: id, user, store, invoice_number, day, value,
        stamps, status (1 new, 2 canceled, 3 open), items (their count)."""
        found: list[TransactionRecord] = await self._call("GET", "/transactions")
        return found

    async def deductions(self) -> list[DeductionRecord]:
        """Every stamps deduction the server applied."""
        items: list[DeductionRecord] = await self._call("GET", "/deductions")
        return items

    async def member(self, ref: str | int) -> MemberRecord | None:
        """A Stamps member's state (stamps, level, tags, ...) by any reference."""
        found: MemberRecord | None = await self._call("GET", f"/members/{quote(str(ref), safe='')}")
        return found

    async def customer(self, email: str) -> CustomerRecord | None:
        """A Stamped.io customer's stored record (plus ``subscribed``), by email."""
        found: CustomerRecord | None = await self._call(
            "GET", f"/customers/{quote(email, safe='')}"
        )
        return found

    async def set_faults(self, *faults: Fault | str) -> None:
        """Replace the fault rules, e.g. ``await sb.set_faults("503:0.5@POST /api/stamps/add")``."""
        await self._call("PUT", "/faults", [f if isinstance(f, str) else f.spec() for f in faults])

    @overload
    async def v3(self, what: Literal["customers"]) -> list[V3CustomerRecord]: ...
    @overload
    async def v3(self, what: Literal["orders"]) -> list[V3OrderRecord]: ...
    @overload
    async def v3(self, what: Literal["products"]) -> list[V3ProductRecord]: ...
    @overload
    async def v3(self, what: Literal["activities"]) -> list[V3ActivityRecord]: ...
    @overload
    async def v3(self, what: Literal["rewards"]) -> list[V3RewardRecord]: ...

    async def v3(self, what: str) -> Any:
        """The sandbox's Stamped V3 records: ``"customers"``, ``"orders"`` (each with
        ``writes``, how many times it was pushed), ``"products"``, ``"activities"``,
        ``"rewards"``; typed by which (see :mod:`stampsync.sandbox.records`)."""
        return await self._call("GET", f"/v3/{what}")

    async def write_review(
        self,
        email: str,
        rating: int = 5,
        title: str | None = None,
        body: str | None = None,
        *,
        author: str | None = None,
        product_id: str | int | None = None,
    ) -> ReviewRecord:
        """A shopper writes a review: the sandbox pushes ``review.created`` to its
        ``webhook_url`` (the APIs have no route that writes a review)."""
        review = {"email": email, "rating": rating, "title": title, "body": body}
        review |= {"author": author, "product_id": product_id}
        written: ReviewRecord = await self._call("POST", "/write-review", review)
        return written

    async def webhooks(self) -> WebhooksRecord:
        """The webhook pushes made so far, and how many are still queued or delayed."""
        found: WebhooksRecord = await self._call("GET", "/webhooks")
        return found

    async def clear(self) -> None:
        """Forget arrivals, requests, counters and quota windows (state is kept)."""
        await self._call("POST", "/clear")

    def __repr__(self) -> str:
        mode = "process" if self._process_mode else "thread"
        return f"Sandbox(url={self.url!r}, mode={mode!r})"
