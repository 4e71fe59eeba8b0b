"""Clients built with no credentials read the names the CLI and the sandbox print."""

from __future__ import annotations

import pytest

from stampsync import StampedClient, StampsClient
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
    with pytest.raises(ConfigurationError, match="public_key and private_key"):
        StampedClient(store_hash="1")
    monkeypatch.setenv("STAMPS_TOKEN", "a-token")
    monkeypatch.setenv("STAMPS_MERCHANT", "fourteen")
    with pytest.raises(ConfigurationError, match="STAMPS_MERCHANT must be an integer"):
        StampsClient()
