"""The sandbox's settings are declared once; it starts or says why not; shell use works."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from stampsync.errors import ConfigurationError
from stampsync.sandbox import Fault, Sandbox, SandboxConfig, server
from stampsync.sandbox.__main__ import banner, parser
from stampsync.sandbox._config import config_args, config_from

pytest_plugins = ["pytester"]

EVERY_FIELD_CHANGED = SandboxConfig(
    seed=7,
    customers=12,
    members=13,
    reviews_per_customer=2,
    store_hash="999",
    public_key="pubkey-other",
    private_key="key-other",
    api_key="v3-key-other",
    stamps_token="token-other",
    merchant=15,
    stores=(4, 5),
    extra_tokens=2,
    limit=40,
    seconds=2.5,
    faults=[Fault("503", route="POST /api/stamps/add", probability=0.5, times=2)],
    fault_seed=3,
    listing_created="text",
    arrival_log=False,
    webhook_url="http://127.0.0.1:9/hooks",
    webhook_secret="hook-other",
)


def test_the_example_changes_every_setting() -> None:
    for f in dataclasses.fields(SandboxConfig):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        assert getattr(EVERY_FIELD_CHANGED, f.name) != default, f.name


def test_every_setting_round_trips_through_the_command_line() -> None:
    args = parser().parse_args(config_args(EVERY_FIELD_CHANGED))
    assert config_from(args) == EVERY_FIELD_CHANGED
    assert config_from(parser().parse_args([])) == SandboxConfig()


def test_every_setting_has_a_flag_in_the_help() -> None:
    text = parser().format_help()
    for f in dataclasses.fields(SandboxConfig):
        flag = "--fault" if f.name == "faults" else "--" + f.name.replace("_", "-")
        if f.name == "arrival_log":
            flag = "--no-arrival-log"
        assert flag in text, f.name
    # The flags scripts already use keep their names.
    for flag in ("--port", "--seed", "--customers", "--members", "--limit", "--seconds"):
        assert flag in text
    assert "exit codes" in text


async def test_a_sandbox_process_serves_every_setting_it_was_given() -> None:
    config = SandboxConfig(store_hash="999", public_key="pk-x", private_key="k-x", customers=5)
    async with (
        Sandbox(config, process=True) as sb,
        sb.stamped_client(throttle_limit=1000) as stamped,
    ):
        page = await stamped.customers.list(limit=10)
    assert page.total == 5


async def test_fault_strings_are_accepted_where_faults_are() -> None:
    async with Sandbox(customers=5, faults=["503@GET /api/v2/*"]) as sb:  # strings, not Faults
        assert sb.config.faults == [Fault("503", route="GET /api/v2/*")]
        async with sb.stamped_client(max_retries=0) as stamped:
            with pytest.raises(Exception, match="503"):
                await stamped.customers.list(limit=1)
    with pytest.raises(ConfigurationError, match="unknown fault kind"):
        SandboxConfig(faults=["504x"])  # type: ignore[list-item]


def test_the_pytest_marker_takes_fault_strings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user_project="""
        import asyncio
        import pytest

        @pytest.mark.stampsync_sandbox(faults=["503@POST /api/stamps/add"])
        def test_faults_as_strings(stampsync_sandbox):
            async def run():
                async with stampsync_sandbox.stamps_client(max_retries=0) as stamps:
                    with pytest.raises(Exception):
                        await stamps.stamps.add(user="member1@example.com", number_of_stamps=1)
                return await stampsync_sandbox.counters()

            assert asyncio.run(run())["fault:503"] == 1
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)


def start_a_broken_sandbox(monkeypatch: pytest.MonkeyPatch) -> float:
    """A sandbox whose app cannot be built says why; returns the seconds that took."""

    def broken(config: SandboxConfig) -> None:
        raise ValueError("no room for the customers")

    monkeypatch.setattr(server, "build_app", broken)
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="no room for the customers"):
        Sandbox().start()
    return time.monotonic() - started


def test_a_sandbox_that_cannot_start_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    start_a_broken_sandbox(monkeypatch)


@pytest.mark.timing
def test_a_sandbox_that_cannot_start_says_why_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert start_a_broken_sandbox(monkeypatch) < 5


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_a_busy_port_is_one_line_and_exit_1(busy_port: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stampsync.cli", "sandbox", "--port", str(busy_port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""  # no "listening on" first
    assert done.stderr.strip().splitlines() == [
        f"stampsync sandbox: cannot listen on 127.0.0.1:{busy_port}: Address already in use"
    ]
    with pytest.raises(ConfigurationError, match="could not start"):
        Sandbox(port=busy_port, process=True).start()


def test_sandbox_help_lists_its_options_through_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stampsync.cli", "sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0
    for flag in ("--port", "--env", "--fault SPEC", "--customers", "--limit", "exit codes"):
        assert flag in done.stdout


def test_env_prints_only_sourceable_lines_and_leaves_the_server_running() -> None:
    script = (
        f'eval "$({sys.executable} -m stampsync.cli sandbox --env --customers 3)" && '
        'echo "$STAMPED_API_URL $STAMPED_STORE_HASH $STAMPS_TOKEN $STAMPSYNC_SANDBOX_PID"'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    url, store, token, pid = done.stdout.split()
    try:
        assert (store, token) == ("270392", "stamps-sandbox-token")
        with urllib.request.urlopen(url + "/__sandbox/info", timeout=5) as answer:  # noqa: S310
            assert b'"customers":3' in answer.read()
    finally:
        os.kill(int(pid), signal.SIGTERM)
    raw = subprocess.run(
        [sys.executable, "-m", "stampsync.cli", "sandbox", "--env", "--customers", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = raw.stdout.splitlines()
    try:
        assert all(line.startswith("export ") for line in lines)
        assert {line.split("=")[0] for line in lines} >= {
            "export STAMPED_API_URL",
            "export STAMPS_TOKEN",
            "export STAMPSYNC_SANDBOX_PID",
        }
    finally:
        os.kill(int(lines[-1].split("=")[1]), signal.SIGTERM)


def test_the_banner_can_be_sourced_as_it_is(tmp_path: Path) -> None:
    env = tmp_path / "env.sh"
    env.write_text(banner("http://127.0.0.1:8080", SandboxConfig(store_hash="a b")))
    done = subprocess.run(
        ["bash", "-c", f'source "{env}" && echo "$STAMPED_STORE_HASH|$STAMPS_API_URL"'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no line of it is run as a command
    assert done.stdout.strip() == "a b|http://127.0.0.1:8080"


def test_an_unknown_listing_created_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="listing_created must be unix, missing or text"):
        SandboxConfig(listing_created="iso")
