"""Clients built with no credentials read the names the CLI and the sandbox print."""

from __future__ import annotations

from typing import get_type_hints

import pytest

from stampsync import ClientOptions, RedisThrottle, StampedClient, StampsClient
from stampsync._environment import TUNING_VARIABLES
from stampsync.errors import ConfigurationError
from stampsync.sandbox import Sandbox


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch) -> object:
    with Sandbox() as sb:
        c = sb.config
        for name, value in {
            "STAMPED_PUBLIC_KEY": c.public_key,
            "STAMPED_PRIVATE_KEY": c.private_key,
            "STAMPED_STORE_HASH": c.store_hash,
            "STAMPED_API_URL": sb.url,
            "STAMPS_TOKEN": c.stamps_token,
            "STAMPS_API_URL": sb.url,
            "STAMPS_MERCHANT": str(c.merchant),
        }.items():
            monkeypatch.setenv(name, value)
        yield sb


async def test_clients_without_arguments_use_the_environment(sandbox_env: Sandbox) -> None:
    async with StampedClient() as stamped:
        assert stamped.api_url == sandbox_env.url
        assert ((await stamped.customers.list(limit=1)).total or 0) > 0
    async with StampsClient() as stamps:
        assert stamps.merchant == sandbox_env.config.merchant
        assert (await stamps.auth.ping()).merchant_id is not None


def test_an_argument_wins_over_the_environment(
    sandbox_env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = StampsClient("given-token", api_url="https://stamps.co.id", merchant=7)
    assert (client.api_url, client.merchant) == ("https://stamps.co.id", 7)
    stamped = StampedClient("pub", "given-key", "99", api_url="https://stamped.io")
    assert (stamped.api_url, stamped.store_hash) == ("https://stamped.io", "99")


def test_missing_credentials_name_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STAMPS_TOKEN", "STAMPED_PUBLIC_KEY", "STAMPED_PRIVATE_KEY", "STAMPED_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="STAMPS_TOKEN"):
        StampsClient()
    with pytest.raises(ConfigurationError, match="STAMPED_PUBLIC_KEY and STAMPED_PRIVATE_KEY"):
        StampedClient(store_hash="1")
    monkeypatch.setenv("STAMPS_TOKEN", "a-token")
    monkeypatch.setenv("STAMPS_MERCHANT", "fourteen")
    with pytest.raises(ConfigurationError, match="STAMPS_MERCHANT must be an integer"):
        StampsClient()


@pytest.fixture
def no_tuning(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No STAMPSYNC_* setting from the developer's shell reaches these tests."""
    for name in TUNING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_clients_read_the_command_lines_tuning(no_tuning: pytest.MonkeyPatch) -> None:
    no_tuning.setenv("STAMPSYNC_THROTTLE_LIMIT", "40")
    no_tuning.setenv("STAMPSYNC_THROTTLE_SECONDS", "2.5")
    no_tuning.setenv("STAMPSYNC_CONNECTIONS", "6")
    no_tuning.setenv("STAMPSYNC_BATCH", "3")
    no_tuning.setenv("STAMPSYNC_TRUST_ENV", "yes")
    for client in (StampsClient("tok-123456"), StampedClient("pub", "key-PRIVATE", "1")):
        o = client.options
        assert (o.throttle_limit, o.throttle_seconds) == (40, 2.5)
        assert (o.concurrent_connections, o.concurrent_batch_executions) == (6, 3)
        assert o.trust_env is True
        assert (client.throttle.limit, client.throttle.seconds) == (40, 2.5)  # the quota held
    given = StampsClient("tok-123456", throttle_limit=9, concurrent_connections=1)
    assert (given.options.throttle_limit, given.options.concurrent_connections) == (9, 1)
    assert given.options.throttle_seconds == 2.5  # what was not given still comes from it
    explicit = StampsClient("tok-123456", options=ClientOptions())
    assert explicit.options.throttle_limit == 500  # an options object is a whole choice


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STAMPSYNC_THROTTLE_LIMIT", "many"),
        ("STAMPSYNC_THROTTLE_LIMIT", "0"),
        ("STAMPSYNC_THROTTLE_SECONDS", "nan"),
        ("STAMPSYNC_CONNECTIONS", "-2"),
        ("STAMPSYNC_TRUST_ENV", "maybe"),
        ("STAMPSYNC_CA_FILE", "/nonexistent/ca.pem"),
    ],
)
def test_a_bad_tuning_variable_is_refused_by_name(
    no_tuning: pytest.MonkeyPatch, name: str, value: str
) -> None:
    no_tuning.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        StampsClient("tok-123456")


async def test_a_redis_url_in_the_environment_shares_the_quota_and_closes_with_the_client(
    no_tuning: pytest.MonkeyPatch,
) -> None:
    no_tuning.setenv("STAMPSYNC_REDIS_URL", "redis://127.0.0.1:1/0")
    no_tuning.setenv("STAMPSYNC_THROTTLE_LIMIT", "30")
    client = StampsClient("tok-123456", api_url="https://stamps.co.id")
    throttle = client.throttle
    assert isinstance(throttle, RedisThrottle)
    # The command line's name for the same API's quota: a service and a script share it.
    assert (throttle.key, throttle.limit) == ("stamps:stamps.co.id", 30)
    closed: list[bool] = []
    no_tuning.setattr(throttle, "aclose", lambda: _record(closed))
    await client.with_options(timeout=5).aclose()
    assert closed == []  # a derived client leaves it to the one it came from
    await client.aclose()
    assert closed == [True]
    no_tuning.setenv("STAMPSYNC_THROTTLE_KEY", "shared-7")
    stamped = StampedClient("pub", "key-PRIVATE", "270392")
    assert isinstance(stamped.throttle, RedisThrottle)
    assert stamped.throttle.key == "shared-7"
    await stamped.throttle.aclose()
    mine = StampsClient("tok-123456", throttle=throttle)
    assert mine.throttle is throttle  # a throttle given wins


async def _record(closed: list[bool]) -> None:
    closed.append(True)


def test_every_variable_the_command_line_reads_the_clients_read_too() -> None:
    from stampsync.cli._common import Tuning

    read_by_cli = set()
    for hint in get_type_hints(Tuning, include_extras=True).values():
        for meta in getattr(hint, "__metadata__", ()):
            read_by_cli.add(getattr(meta, "envvar", None))
    read_by_cli.discard(None)
    assert read_by_cli == set(TUNING_VARIABLES)


def test_both_clients_word_a_missing_credential_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STAMPS_TOKEN", "STAMPED_PUBLIC_KEY", "STAMPED_PRIVATE_KEY", "STAMPED_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    pattern = r"Client needs [a-z ]+: pass .+=\.\.\..* or set STAMP.+ in the environment$"
    with pytest.raises(ConfigurationError, match=pattern):
        StampsClient()
    with pytest.raises(ConfigurationError, match=pattern):
        StampedClient(store_hash="1")


def test_a_malformed_api_url_with_a_redis_url_in_the_environment_is_a_configuration_error(
    no_tuning: pytest.MonkeyPatch,
) -> None:
    no_tuning.setenv("STAMPSYNC_REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(ConfigurationError, match="api_url"):
        StampsClient("tok-123456", api_url="http://[bad")
