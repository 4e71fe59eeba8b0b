"""The sandbox's own behaviour: strict quota, faults, auth, inspection, process mode."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import threading

import aiohttp
import pytest

from stampsync import StampedClient
from stampsync.errors import (
    AmbiguousWriteError,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    RateLimitError,
    ServerError,
    StampsyncError,
    TransportError,
)
from stampsync.sandbox import Fault, Sandbox
from stampsync.testing import max_in_window, no_backoff


@pytest.mark.stampsync_sandbox(limit=5, seconds=0.5)
async def test_strict_quota_answers_429_past_the_limit(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamped_client(
        throttle_limit=1000, throttle_seconds=1, max_retries=0, concurrent_connections=8
    ) as st:
        results = await asyncio.gather(
            *(st.customers.get(i) for i in range(1, 9)), return_exceptions=True
        )
    limited = [r for r in results if isinstance(r, RateLimitError)]
    assert len(limited) == 3
    counters = await stampsync_sandbox.counters()
    assert counters["rate_limited"] == 3
    assert counters["arrivals"] == 8


@pytest.mark.stampsync_sandbox(limit=10, seconds=0.5)
async def test_client_throttle_meets_the_strict_quota(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamped_client(
        throttle_limit=10, throttle_seconds=0.5, concurrent_connections=4
    ) as st:
        await asyncio.gather(*(st.customers.get(i) for i in range(1, 41)))
    assert (await stampsync_sandbox.counters()).get("rate_limited", 0) == 0
    assert max_in_window(await stampsync_sandbox.arrivals(), 0.5) <= 10


async def test_auth_errors_use_the_documented_bodies(stampsync_sandbox: Sandbox) -> None:
    url = stampsync_sandbox.url
    async with aiohttp.ClientSession() as s:
        async with s.post(url + "/api/stamps/add", json={}) as r:
            assert r.status == 403
            assert await r.json() == {"detail": "Authentication credentials were not provided."}
        async with s.post(
            url + "/api/stamps/add", json={}, headers={"Authorization": "Token wrong"}
        ) as r:
            assert r.status == 401
            assert await r.json() == {"detail": "Invalid token"}
    bad = StampedClient("pubkey-sandbox", "wrong-key", "270392", api_url=url)
    async with bad:
        with pytest.raises(AuthenticationError):
            await bad.customers.get(1)


@pytest.mark.stampsync_sandbox(faults=[Fault("503", route="POST /api/stamps/add", times=2)])
async def test_503_is_not_applied_and_the_client_retries(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamps_client() as sp:
        with no_backoff():
            added = await sp.stamps.add(user=1, number_of_stamps=4)
    awards = await stampsync_sandbox.awards()
    assert [a["id"] for a in awards] == [added.award.id]
    assert (await stampsync_sandbox.counters())["fault:503"] == 2


@pytest.mark.stampsync_sandbox(faults=[Fault("drop_after", route="POST /api/stamps/add")])
async def test_drop_after_apply_is_ambiguous_and_applied(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamps_client() as sp:
        with no_backoff(), pytest.raises(AmbiguousWriteError):
            await sp.stamps.add(user=1, number_of_stamps=4)
    awards = await stampsync_sandbox.awards()
    assert len(awards) == 1  # applied exactly once, never retried


@pytest.mark.stampsync_sandbox(faults=[Fault("drop_before", route="GET *", times=1)])
async def test_drop_before_a_read_is_retried(stampsync_sandbox: Sandbox) -> None:
    async with stampsync_sandbox.stamped_client() as st:
        with no_backoff():
            assert (await st.customers.get(1)).id == 1
    assert (await stampsync_sandbox.counters())["arrivals"] == 2


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("malformed", DecodeError),
        ("truncated", DecodeError),
        ("wrong_content_type", DecodeError),
        ("html", ServerError),
        ("empty", ServerError),
        ("500", ServerError),
    ],
)
async def test_spoiled_answers_map_to_typed_errors(kind: str, error: type[Exception]) -> None:
    sb = Sandbox(customers=10, members=10, faults=[Fault(kind, route="GET *")])
    async with sb, sb.stamped_client(max_retries=1) as st:
        with no_backoff(), pytest.raises(error):
            await st.customers.get(1)


async def test_latency_and_timeout_faults() -> None:
    async with (
        Sandbox(
            customers=10,
            members=10,
            faults=[
                Fault("timeout", route="GET *", seconds=2, times=1),
                Fault("latency", route="GET *", seconds=0.2),
            ],
        ) as sb,
        sb.stamped_client(timeout=0.5, max_retries=1) as st,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        with no_backoff():
            assert (await st.customers.get(1)).id == 1  # timed out once, then slow
        assert loop.time() - started >= 0.5 + 0.2
        with no_backoff(), pytest.raises(TransportError):
            async with sb.stamped_client(timeout=0.1, max_retries=0) as quick:
                await quick.customers.get(1)


async def test_faults_can_be_changed_at_run_time(stampsync_sandbox: Sandbox) -> None:
    await stampsync_sandbox.set_faults("429:1@GET *")
    async with stampsync_sandbox.stamped_client(max_retries=0) as st:
        with pytest.raises(RateLimitError):
            await st.customers.get(1)
        await stampsync_sandbox.set_faults()
        assert (await st.customers.get(1)).id == 1


def test_fault_specs_parse_and_round_trip() -> None:
    fault = Fault.parse("latency:0.5:2@GET /api/*")
    assert (fault.kind, fault.probability, fault.seconds, fault.route) == (
        "latency",
        0.5,
        2.0,
        "GET /api/*",
    )
    assert Fault.parse(fault.spec()) == fault
    capped = Fault.parse("500:1:1:2@POST /api/stamps/add")
    assert (capped.kind, capped.times, capped.route) == ("500", 2, "POST /api/stamps/add")
    assert Fault.parse(capped.spec()) == capped
    with pytest.raises(ConfigurationError, match="times"):
        Fault.parse("500:1:1:-1")
    with pytest.raises(ConfigurationError, match="bad number"):
        Fault.parse("500:1:1:twice")
    with pytest.raises(ConfigurationError, match="unknown fault kind"):
        Fault.parse("explode")
    with pytest.raises(ConfigurationError, match="probability"):
        Fault.parse("503:2")


async def test_faults_are_reproducible_with_a_seed() -> None:
    async def run() -> list[object]:
        async with (
            Sandbox(
                customers=10,
                members=10,
                fault_seed=7,
                faults=[Fault("500", probability=0.5, route="GET *")],
            ) as sb,
            sb.stamped_client(max_retries=0) as st,
        ):
            # One at a time: the seed fixes the faults in the order requests arrive, and
            # requests sent at once arrive in any order (CI once saw two swap places).
            seen: list[object] = []
            for _ in range(20):
                try:
                    seen.append(type(await st.customers.get(1)).__name__)
                except StampsyncError as exc:
                    seen.append(type(exc).__name__)
            return seen

    first, second = await run(), await run()
    assert first == second
    assert "ServerError" in first
    assert "Customer" in first


async def test_process_mode_serves_and_stops_by_pid() -> None:
    sb = Sandbox(customers=100, members=10, process=True)
    assert sb.pid is None
    await asyncio.to_thread(sb.start)
    try:
        pid = sb.pid
        assert pid is not None
        assert pid != os.getpid()
        async with sb.stamped_client() as st:
            assert (await st.customers.list(limit=5)).total == 100
    finally:
        await asyncio.to_thread(sb.stop)
    assert sb.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="colour"):
        Sandbox(colour="blue")


def listening_on(port: int) -> set[str]:
    """The local addresses with a socket listening on TCP ``port``, as the kernel lists
    them (``/proc/net/tcp``, ``tcp6``): what is bound, whatever the URL says."""
    assert os.path.exists("/proc/net/tcp"), "this check reads /proc/net/tcp: run it on Linux"
    found: set[str] = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not os.path.exists(table):
            continue
        with open(table) as fh:
            next(fh)
            for line in fh:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                    continue
                raw = bytes.fromhex(address)
                # The kernel prints each 32-bit word in host (little-endian) order.
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, raw))
    return found


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
async def test_sandbox_listens_on_loopback_only(process: bool) -> None:
    async with Sandbox(customers=1, members=1, process=process) as sb:
        port = int(sb.url.rsplit(":", 1)[1])
        bound = listening_on(port)
        async with sb.stamped_client() as st:  # and it does serve there
            assert (await st.customers.get(1)).id == 1
    assert bound == {"127.0.0.1"}


async def test_a_capped_fault_keeps_its_cap_through_set_faults_and_process_mode() -> None:
    capped = Fault("503", route="GET /api/v2/*/dashboard/customers/*", times=2)
    for process in (False, True):
        async with Sandbox(customers=10, members=10, process=process) as sb:
            await sb.set_faults(capped)
            async with sb.stamped_client(max_retries=0) as st:
                outcomes = []
                for _ in range(4):
                    try:
                        outcomes.append((await st.customers.get(1)).id)
                    except ServerError as exc:
                        outcomes.append(exc.status)
            assert outcomes == [503, 503, 1, 1], process
        async with Sandbox(customers=10, members=10, process=process, faults=[capped]) as sb:
            async with sb.stamped_client(max_retries=0) as st:
                statuses = []
                for _ in range(3):
                    try:
                        await st.customers.get(1)
                        statuses.append(200)
                    except ServerError as exc:
                        statuses.append(exc.status)
            assert statuses == [503, 503, 200], process


async def test_a_fault_object_can_serve_several_sandboxes() -> None:
    once = Fault("503", route="GET /api/v2/*/dashboard/customers/*", times=1)
    for _ in range(2):
        async with (
            Sandbox(customers=10, members=10, faults=[once]) as sb,
            sb.stamped_client(max_retries=0) as st,
        ):
            with pytest.raises(ServerError):
                await st.customers.get(1)
            assert (await st.customers.get(1)).id == 1
    assert once.injected == 0  # the caller's object is not the server's counter


async def test_bodies_with_invalid_utf8_get_a_400_not_a_500(stampsync_sandbox: Sandbox) -> None:
    c = stampsync_sandbox.config
    stamped = f"{stampsync_sandbox.url}/api/v2/{c.store_hash}/customers"
    basic = {
        "Authorization": "Basic "
        + base64.b64encode(f"{c.public_key}:{c.private_key}".encode()).decode()
    }
    token = {"Authorization": f"Token {c.stamps_token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s:
        async with s.post(stamped, data=b'{"email": "\x80"}', headers=basic) as r:
            assert r.status == 400
        async with s.post(
            stampsync_sandbox.url + "/api/stamps/add", data=b'{"user": "\xff"}', headers=token
        ) as r:
            assert r.status == 400


async def _swallow_first_connection() -> tuple[
    asyncio.Server, list[int], list[asyncio.StreamWriter]
]:
    """A server on a free loopback port that reads the first request and never answers
    it (a lost answer on a loaded machine), then answers every later one with ``{"ok": 1}``."""
    seen: list[int] = []
    held: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        seen.append(len(seen) + 1)
        if len(seen) == 1:
            held.append(writer)  # kept open, never answered
            return
        body = b'{"ok": 1}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, seen, held


async def test_an_inspection_call_whose_answer_is_lost_is_asked_again() -> None:
    server, seen, held = await _swallow_first_connection()
    port = server.sockets[0].getsockname()[1]
    sandbox = Sandbox(port=port)  # not started: its inspection calls meet the server above
    sandbox.inspection_timeout = aiohttp.ClientTimeout(total=0.5)
    try:
        assert await sandbox.counters() == {"ok": 1}
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert seen == [1, 2]


async def test_a_sandbox_that_does_not_answer_raises_a_stampsync_error_naming_it() -> None:
    # Listening, never accepting: every inspection call waits out its timeout.
    with socket.socket() as quiet:
        quiet.bind(("127.0.0.1", 0))
        quiet.listen(8)
        sandbox = Sandbox(port=quiet.getsockname()[1])
        sandbox.inspection_timeout = aiohttp.ClientTimeout(total=0.3)
        with pytest.raises(ConfigurationError) as caught:
            await sandbox.awards()
    message = str(caught.value)
    assert sandbox.url in message
    assert "did not answer GET /__sandbox/awards" in message
    assert "not running" in message  # it was never started


async def test_a_sandbox_whose_thread_died_says_so_and_refuses_connections() -> None:
    async with Sandbox() as sandbox:
        assert sandbox._loop is not None
        # Its loop stopped under it, as an error inside the thread would.
        sandbox._loop.call_soon_threadsafe(sandbox._loop.stop)
        assert sandbox._thread is not None
        await asyncio.to_thread(sandbox._thread.join, 10)
        with pytest.raises(ConfigurationError, match="its thread stopped: RuntimeError") as caught:
            await sandbox.counters()
        # Refused (the port was closed), not left to wait out two timeouts.
        assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


async def test_a_sandbox_whose_loop_is_blocked_is_named_blocked() -> None:
    async with Sandbox() as sandbox:
        assert sandbox._loop is not None
        release = threading.Event()
        # A handler that blocks its loop (what a lost answer looks like from outside).
        sandbox._loop.call_soon_threadsafe(release.wait, 30)
        sandbox.inspection_timeout = aiohttp.ClientTimeout(total=0.3)
        try:
            with pytest.raises(ConfigurationError, match=r"event loop has not run .* \(blocked\)"):
                await sandbox.counters()
        finally:
            release.set()
        # Unblocked, it answers again.
        sandbox.inspection_timeout = aiohttp.ClientTimeout(total=30)
        assert isinstance(await sandbox.counters(), dict)
