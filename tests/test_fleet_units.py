"""Fleet parts without servers: accounts, credentials providers, reprs, campaign files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

import stampsync
from stampsync import StampsClient
from stampsync._engine.journal import client_account, is_database_url
from stampsync.errors import ConfigurationError
from stampsync.fleet import FleetSettings, json_credentials, load_provider, read_campaign
from stampsync.fleet.credentials import CREDENTIALS_ENV
from stampsync.fleet.queue import AwardJobArgs, BadJob, JobRow, decode_job, encode_job
from stampsync.fleet.status import eta_seconds, store_eta
from stampsync.fleet.worker import MAX_RETRY_DELAY, retry_delay
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


def test_job_arguments_are_json_checked_when_read() -> None:
    good = AwardJobArgs(
        v=1,
        id="c:s1:1",
        campaign="c",
        account="s1",
        rows=[JobRow(row=2, key="k1", user="m@example.com", number_of_stamps="1")],
    )
    assert decode_job(encode_job(good)) == good
    hostile = [
        pickle.dumps({"account": "s1"}),  # what arq stored: refused unread
        b"not json",
        b'{"v": 1, "id": "x", "campaign": "c", "account": "s1", "rows": "rm -rf"}',
        b'{"v": 1, "id": "x", "campaign": "c", "account": "s1", "rows": [{"row": 2}],'
        b' "__reduce__": "os.system"}',
        b'{"v": 2, "id": "x", "campaign": "c", "account": "s1", "rows": [{"row": 2}]}',
        b'{"v": 1, "id": "x", "campaign": "c", "account": "", "rows": [{"row": 2}]}',
        b'{"v": 1, "id": "x", "campaign": "c", "account": "s1", "rows": []}',
        b'{"v": 1, "id": "x", "campaign": "c", "account": "s1", "rows": [{"row": 2, "key": 7}]}',
        None,
    ]
    for payload in hostile:
        with pytest.raises(BadJob) as refused:
            decode_job(payload)
        assert isinstance(refused.value, ConfigurationError)
    with pytest.raises(BadJob, match=r"rows\[0\]\.key"):
        decode_job(hostile[7])


def test_no_pickle_in_stampsync() -> None:
    root = Path(stampsync.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import pickle" not in text, path
        assert "from pickle" not in text, path


def test_retries_wait_longer_each_time_up_to_a_cap() -> None:
    waits = [retry_delay(n, lease_seconds=3.0) for n in range(1, 12)]
    assert waits == sorted(waits)
    assert waits[0] >= 1.0
    assert max(waits) == MAX_RETRY_DELAY
    assert retry_delay(1, lease_seconds=30.0) >= 10.0  # a held row's lease renews that often


def test_an_eta_is_the_pending_rows_at_the_last_minutes_rate() -> None:
    assert eta_seconds(100, 60) == 100.0
    assert eta_seconds(30, 120) == 15.0
    assert eta_seconds(0, 0) == 0.0
    assert eta_seconds(5, 0) is None  # nothing applied lately: no rate to go by


def test_a_store_with_nothing_applied_lately_gets_the_planners_eta() -> None:
    assert store_eta(100, 60, limit=500, seconds=60) == (100.0, "rate")
    assert store_eta(0, 0, limit=500, seconds=60) == (0.0, "rate")
    eta, source = store_eta(900, 0, limit=500, seconds=60)
    assert source == "plan"
    # 900 rows at the bulk lane's 450 per 60 s (the reserve kept for people): two minutes.
    assert eta == pytest.approx(120, abs=1)
    assert store_eta(900, 0, limit=1000, seconds=60)[0] == pytest.approx(60, abs=1)
