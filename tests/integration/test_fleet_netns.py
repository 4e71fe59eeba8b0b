"""The fleet where users run it: two worker hosts and a services host, joined by links
that a test can cut.

Each worker host is a network namespace of its own, joined to the services host (this
test's own namespace, where PostgreSQL, Redis and the sandbox run) by a veth pair with
addresses only inside the namespaces made here. Cutting a worker host's link (link down)
mid-campaign is a host cut off: its jobs stop beating, the other host runs them, and
when the link comes back the cut worker is still running. Needs root (``ip netns``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stampsync.fleet import queue_campaign
from stampsync.sandbox import Sandbox, free_port
from tests._fleet import (
    Fleet,
    ledger,
    totals,
    wait_settled,
    worst_windows,
    write_campaign,
    write_credentials,
)
from tests._postgres import PgCluster
from tests._redis import redis_binary
from tests.integration.test_fleet import ambiguous_hosts, wait_until_sending

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

LIMIT = 10  # per store, per second
# How long the host stays cut off: longer than the default 30 s after which a silent
# job runs again on another worker.
CUT = 45.0


def need_root() -> None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        message = "network namespaces need root and the ip command"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: the namespace test must run in CI")
        pytest.skip(message)


def ip(*argv: str) -> None:
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"ip {' '.join(argv)}: {done.stderr}"


@dataclass(frozen=True)
class Host:
    """A worker host: its namespace, its link's two ends and their addresses."""

    name: str
    namespace: str
    link: str  # the services host's end of the veth pair
    server: str  # the services host's address on this link
    client: str  # the worker host's address

    def wrap(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.namespace)

    def cut(self) -> None:
        ip("link", "set", self.link, "down")

    def restore(self) -> None:
        ip("link", "set", self.link, "up")


@contextlib.contextmanager
def worker_hosts(names: tuple[str, ...]) -> Iterator[list[Host]]:
    """One namespace per name, each joined to this one by a /30 veth pair in
    10.213.<n>.0/24 (n from this process, so parallel runs do not meet); removed after."""
    tag = os.getpid() % 100_000
    subnet = 20 + os.getpid() % 200
    hosts = [
        Host(
            name,
            namespace=f"sf{tag}{name}",
            link=f"sf{tag}{name}r",
            server=f"10.213.{subnet}.{4 * i + 1}",
            client=f"10.213.{subnet}.{4 * i + 2}",
        )
        for i, name in enumerate(names)
    ]
    try:
        for host in hosts:
            ip("netns", "add", host.namespace)
            ip(
                "link",
                "add",
                host.link,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                host.namespace,
            )
            ip("addr", "add", f"{host.server}/30", "dev", host.link)
            ip("link", "set", host.link, "up")
            inside = ("-n", host.namespace)
            ip(*inside, "addr", "add", f"{host.client}/30", "dev", "eth0")
            ip(*inside, "link", "set", "eth0", "up")
            ip(*inside, "link", "set", "lo", "up")
        yield hosts
    finally:
        for host in hosts:
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True, check=False)
            subprocess.run(["ip", "link", "del", host.link], capture_output=True, check=False)


@contextlib.asynccontextmanager
async def forward(addresses: list[str], port: int, target: int) -> AsyncIterator[None]:
    """``addresses``:``port`` forwarded to 127.0.0.1:``target`` (the sandbox listens on
    the loopback only), byte for byte."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    servers = [await asyncio.start_server(handle, address, port) for address in addresses]
    try:
        yield
    finally:
        for server in servers:
            server.close()
            # Connections of a cut host hang until their peers give up: do not wait.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2)


@contextlib.contextmanager
def redis_on(addresses: list[str]) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            redis_binary(),
            *("--port", str(port), "--bind", "127.0.0.1", *addresses),
            *("--protected-mode", "no", "--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                import socket

                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def start_forwarder(host: Host, port: int, target_port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "tests._forward", "127.0.0.1", str(port)]
    return subprocess.Popen([*host.wrap(), *argv, host.server, str(target_port)])


async def cut_off_mid_campaign(tmp_path: Path) -> tuple[float, float]:
    """Host a's link cut mid-campaign: host b settles every row while a is cut off (the
    link comes back only then), nothing applied twice, no window over the limit, only
    what a was sending ambiguous, and a's worker goes on once back. Returns the seconds
    the campaign took and those after which a was cut."""
    need_root()
    stores, per_store = 4, 100
    total = write_campaign(tmp_path / "c.csv", stores, per_store)
    ideal = per_store / LIMIT
    with worker_hosts(("a", "b")) as hosts:
        cluster = PgCluster()
        try:
            for host in hosts:
                cluster.allow(host.server, host.client)
            cluster.start()
            with (
                redis_on([h.server for h in hosts]) as redis_port,
                Sandbox(process=True, extra_tokens=stores, limit=LIMIT, seconds=1.0) as sb,
            ):
                proxy_port = free_port()
                async with forward([h.server for h in hosts], proxy_port, sb.port):
                    fleet = Fleet(
                        tmp_path,
                        f"redis://127.0.0.1:{redis_port}/0",
                        cluster.dsn,
                        sb,
                        LIMIT,
                        job_timeout=6.0,
                        lease_seconds=6.0,
                    )
                    procs = []
                    forwarders: list[subprocess.Popen[bytes]] = []
                    for host in hosts:
                        home = tmp_path / host.name
                        home.mkdir()
                        write_credentials(home / "credentials.json", sb, stores)
                        creds = json.loads((home / "credentials.json").read_text())
                        # The host's own loopback forwards to the sandbox (plain http is
                        # for loopback addresses only), through its link.
                        local = free_port()
                        forwarders.append(start_forwarder(host, local, proxy_port))
                        for entry in creds.values():
                            entry["api_url"] = f"http://127.0.0.1:{local}"
                        (home / "credentials.json").write_text(json.dumps(creds))
                        env = {
                            "STAMPSYNC_FLEET_CREDENTIALS": str(home / "credentials.json"),
                            "STAMPSYNC_JOURNAL": cluster.dsn.replace("127.0.0.1", host.server),
                            "STAMPSYNC_REDIS_URL": f"redis://{host.server}:{redis_port}/0",
                        }
                        extra = ("--max-jobs", "4")
                        procs.append(
                            fleet.start_worker(
                                f"host-{host.name}", *extra, wrap=host.wrap(), env=env
                            )
                        )
                    cut, other = procs
                    try:
                        await fleet.wait_ready()
                        started = time.monotonic()
                        done = await queue_campaign(tmp_path / "c.csv", cluster.dsn, job_rows=25)
                        assert done.jobs == 16
                        await wait_until_sending(cluster.dsn, cut.pid, within=30)
                        hosts[0].cut()
                        cut_at = time.monotonic() - started
                        # Cut for longer than a job may stay silent: the other host takes
                        # the cut host's jobs for stalled and finishes the campaign.
                        by = await wait_settled(fleet, total, within=120)
                        elapsed = time.monotonic() - started
                        await asyncio.sleep(max(0.0, started + cut_at + CUT - time.monotonic()))
                        assert cut.poll() is None, "the cut host's worker exited"
                        hosts[0].restore()
                        # Its link back, the cut host's worker goes on: it records what it
                        # was sending, hands on the rows it had not taken (applied by now).
                        await asyncio.sleep(10.0)
                        by = await wait_settled(fleet, total, within=60)
                        assert cut.poll() is None, fleet.logs()[-3000:]
                        assert other.poll() is None
                    finally:
                        fleet.stop_all()
                        for proc in forwarders:
                            proc.terminate()
                            proc.wait(10)
                applied_on_server = await ledger(sb)
                windows = await worst_windows(sb, 1.0)
            hosts_of_ambiguous = await ambiguous_hosts(cluster.dsn)
        finally:
            cluster.destroy()
    print(f"campaign {elapsed:.1f} s (ideal {ideal:.0f} s), host-a cut at {cut_at:.1f} s")
    assert max(applied_on_server.values()) == 1, "an award was applied twice"
    assert all(worst <= LIMIT for worst in windows.values()), windows
    t = totals(by)
    assert t["failed"] == 0, by
    assert t["applied"] + t["ambiguous"] == total
    assert t["applied"] <= len(applied_on_server) <= total
    # Ambiguous only what the cut host was sending when its link went down.
    assert {host for host, _ in hosts_of_ambiguous} <= {"host-a"}
    assert len(hosts_of_ambiguous) <= stores
    # The other host carried on: every row settled while host-a was still cut off (its
    # link comes back only after wait_settled), so host-b ran host-a's stalled jobs.
    return elapsed, cut_at


async def test_a_worker_host_cut_off_mid_campaign_the_other_carries_on(tmp_path: Path) -> None:
    await cut_off_mid_campaign(tmp_path)


@pytest.mark.timing
async def test_a_worker_host_cut_off_mid_campaign_the_other_finishes_within_the_cut(
    tmp_path: Path,
) -> None:
    # The cut lasts CUT (45 s, longer than the 30 s after which a silent job runs again
    # elsewhere): host-b took the stalled jobs and finished before it was over (the
    # campaign's own timing figures are the benchmark's).
    elapsed, cut_at = await cut_off_mid_campaign(tmp_path)
    assert elapsed < cut_at + CUT, (elapsed, cut_at)
