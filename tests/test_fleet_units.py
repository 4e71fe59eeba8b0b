"""Fleet parts without servers: accounts, credentials providers, reprs, campaign files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stampsync import StampsClient
from stampsync.batch.journal import client_account, is_database_url
from stampsync.errors import ConfigurationError
from stampsync.fleet import FleetSettings, json_credentials, load_provider, read_campaign
from stampsync.fleet.credentials import CREDENTIALS_ENV
from stampsync.fleet.worker import UNEXPECTED_TRIES, FleetState, award_job
from stampsync.throttle import RedisThrottles

SECRET = "tok-SECRET-abcdef"


def test_a_clients_account_is_its_merchant_or_none_never_from_the_token() -> None:
    with_merchant = StampsClient(SECRET, merchant=14)
    assert client_account(with_merchant) == "stamps:merchant:14"
    # The token or API URL change while the keys stay the same: no scope from them.
    assert client_account(StampsClient(SECRET)) is None
    assert client_account(StampsClient(SECRET, api_url="http://127.0.0.1:9")) is None
    assert is_database_url("postgresql://u@h/db")
    assert is_database_url("POSTGRES://u@h/db")
    assert not is_database_url("awards.sqlite")
    assert not is_database_url(Path("postgresql:/x"))


def test_json_credentials_reads_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stores.json"
    path.write_text(json.dumps({"store-1": {"token": SECRET, "merchant": 3}}))
    monkeypatch.setenv(CREDENTIALS_ENV, str(path))
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        json_credentials("store-1")
    path.chmod(0o600)
    assert json_credentials("store-1") == {"token": SECRET, "merchant": 3}
    with pytest.raises(ConfigurationError, match="no credentials") as raised:
        json_credentials("store-2")
    assert SECRET not in str(raised.value)
    assert load_provider("stampsync.fleet:json_credentials") is json_credentials
    for bad in ("nocolon", "no_such_module_x:f", "stampsync.fleet:nothing_here"):
        with pytest.raises(ConfigurationError):
            load_provider(bad)


def test_reprs_hide_every_password() -> None:
    settings = FleetSettings(
        redis_url="redis://:redis-SECRET@127.0.0.1:1/0",
        journal="postgresql://u:pg-SECRET@127.0.0.1:1/db",
        credentials=json_credentials,
    )
    shown = repr(settings)
    assert "SECRET" not in shown
    assert "u:***@" in shown
    throttles = RedisThrottles(
        "redis://:redis-SECRET@127.0.0.1:1/0", key="stamps:{account}", limit=5, seconds=1
    )
    assert "SECRET" not in repr(throttles)
    assert throttles.key_for("store-9") == "stamps:store-9"
    with pytest.raises(ConfigurationError):
        throttles.key_for("")


def test_a_campaign_file_is_checked_before_anything_is_queued(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("key,user,number_of_stamps\nk1,a@b.co,1\n")
    with pytest.raises(ConfigurationError, match="lacks column"):
        list(read_campaign(bad))
    extra = tmp_path / "extra.csv"
    extra.write_text("account,key,user,number_of_stamps,price\ns,k,a@b.co,1,9\n")
    with pytest.raises(ConfigurationError, match="unknown column"):
        list(read_campaign(extra))
    noacc = tmp_path / "noacc.csv"
    noacc.write_text("account,key,user,number_of_stamps\n,k,a@b.co,1\n")
    with pytest.raises(ConfigurationError, match="names no account"):
        list(read_campaign(noacc))
    wide = tmp_path / "wide.csv"
    wide.write_text("account,key,user,number_of_stamps\ns,k,a@b.co,1,surplus\n")
    [row] = read_campaign(wide)
    assert "header has 4" in row["rejected"]
    with pytest.raises(ConfigurationError, match="cannot read"):
        list(read_campaign(tmp_path / "missing.csv"))


def _job_context(provider: Any, job_try: int) -> dict[str, Any]:
    settings = FleetSettings(
        redis_url="redis://127.0.0.1:1/0",
        journal="postgresql://u:pw@127.0.0.1:1/db",
        credentials=provider,
    )
    return {"stampsync_fleet": FleetState(settings), "job_try": job_try, "job_id": "j"}


ROWS = [{"account": "s1", "key": "k1", "user": "m@example.com", "number_of_stamps": "1"}]


async def test_a_job_that_fails_unexpectedly_is_run_again_then_given_up() -> None:
    from arq.worker import Retry

    def flaky(account: str) -> dict[str, Any]:
        raise RuntimeError("secrets store timed out")

    # A rerun is safe (the journal skips what was settled), so arq is asked for one...
    with pytest.raises(Retry):
        await award_job(_job_context(flaky, 1), "s1", ROWS)
    # ...until the job has had its tries: then arq records it failed (fleet status lists it).
    with pytest.raises(RuntimeError, match="secrets store"):
        await award_job(_job_context(flaky, UNEXPECTED_TRIES), "s1", ROWS)


async def test_a_job_with_bad_settings_fails_at_once() -> None:
    def no_token(account: str) -> dict[str, Any]:
        return {"private_key": "x"}

    with pytest.raises(ConfigurationError, match="no token for account 's1'"):
        await award_job(_job_context(no_token, 1), "s1", ROWS)


class _Counter:
    """The few Redis calls the job makes to count its failures."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def incr(self, key: str) -> int:
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    async def expire(self, key: str, seconds: int) -> bool:
        return True


async def test_unexpected_failures_are_counted_apart_from_arqs_tries() -> None:
    """arq's try count also grows with held rows and journal outages: a job retried ten
    times for held rows still gets its reruns after a first fault."""
    from arq.worker import Retry

    def flaky(account: str) -> dict[str, Any]:
        raise RuntimeError("secrets store timed out")

    redis = _Counter()
    for _ in range(UNEXPECTED_TRIES - 1):
        ctx = {**_job_context(flaky, 10), "redis": redis}
        with pytest.raises(Retry):
            await award_job(ctx, "s1", ROWS)
    with pytest.raises(RuntimeError):
        await award_job({**_job_context(flaky, 10), "redis": redis}, "s1", ROWS)
    assert redis.counts == {"stampsync:failures:j": UNEXPECTED_TRIES}


async def test_a_providers_own_timeout_is_not_taken_for_the_jobs() -> None:
    """Only the job's deadline means "outlived its time" (retried up to arq's tries);
    a TimeoutError from the credentials provider is a fault like any other."""

    def slow_store(account: str) -> dict[str, Any]:
        raise TimeoutError("secrets store")

    ctx = {**_job_context(slow_store, 1), "redis": _Counter()}
    ctx["redis"].counts["stampsync:failures:j"] = UNEXPECTED_TRIES - 1
    with pytest.raises(TimeoutError, match="secrets store"):
        await award_job(ctx, "s1", ROWS)
