"""Failures before a byte is sent are `failed` rows (a rerun sends them), never ambiguous.

Each cause here once escaped as a raw exception (ValueError, UnicodeEncodeError,
ZeroDivisionError, redis.ReadOnlyError, RecursionError) and the batch journaled the row as
ambiguous, needing a person to resolve it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import ReadOnlyError

from stampsync import StampedClient, StampsClient
from stampsync._codec import parse_error_body
from stampsync.batch import Journal
from stampsync.batch.sync import sync_customers
from stampsync.errors import (
    AmbiguousWriteError,
    ConfigurationError,
    StampsyncError,
    ThrottleUnavailableError,
)
from stampsync.stamps import StampAward
from stampsync.testing import no_backoff
from stampsync.throttle import LocalThrottle, RedisThrottle
from tests._server import RecordingServer

AWARD = {"award": {"id": 1}, "membership": {"id": 1, "stamps": 1}}


def awards(n: int) -> list[StampAward]:
    return [StampAward(key=f"k{i}", user="a@b.co", number_of_stamps=1, store=1) for i in range(n)]


@pytest.mark.parametrize("bad", ["\x0b", "\x7f", "\x1b", "\u0085", "\u20ac"])
def test_a_secret_aiohttp_could_not_send_is_refused_when_the_client_is_built(bad: str) -> None:
    with pytest.raises(ConfigurationError, match=r"token contains a character .* \(U\+") as exc:
        StampsClient(f"tok{bad}123456")
    assert bad not in str(exc.value)
    with pytest.raises(ConfigurationError, match="private_key contains a character"):
        StampedClient("pub", f"key{bad}123", "1")


@pytest.mark.parametrize("bad", ["\x0b", "\n", "\x7f", "\u20ac", "\ud800"])
def test_a_public_key_with_a_character_no_header_carries_is_refused_typed(bad: str) -> None:
    with pytest.raises(ConfigurationError, match=r"public_key contains a character .* \(U\+"):
        StampedClient(f"pub{bad}", "key-123456", "1")


def test_a_window_that_is_not_finite_is_refused() -> None:
    for seconds in (math.inf, math.nan):
        with pytest.raises(ConfigurationError, match="positive, finite"):
            LocalThrottle(10, seconds)
        with pytest.raises(ConfigurationError, match="positive, finite"):
            StampsClient("tok-123456", throttle_seconds=seconds)


@pytest.mark.parametrize(
    "first_answer",
    [
        {"access_token": "bad\x0btoken"},  # a token no header can carry
        {"token": "good-token"},  # a shape the client does not know
    ],
    ids=["unsendable-token", "unreadable-exchange"],
)
async def test_a_failed_token_exchange_fails_the_rows_unsent_and_a_rerun_sends_them(
    server: RecordingServer, tmp_path: Path, first_answer: dict[str, str]
) -> None:
    broken = [True]

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        if request.path.startswith("/api/auth/get-access-token"):
            return web.json_response(first_answer if broken[0] else {"access_token": "good"})
        return web.json_response(AWARD)

    server.responder = respond
    journal = tmp_path / "j.sqlite"
    async with StampsClient("static-token-1", api_url=server.url, jwt=True, merchant=1) as sp:
        first = await sp.stamps.add_many(awards(3), journal=journal, check_first=False)
    # Once this answer was read as the award's own 2xx: "applied", and never sent.
    assert [o.status for o in first] == ["failed"] * 3
    assert all("access token could not be obtained" in str(o.error) for o in first)
    assert "/api/stamps/add" not in {a.path for a in server.arrivals}
    broken[0] = False
    async with StampsClient("static-token-1", api_url=server.url, jwt=True, merchant=1) as sp:
        again = await sp.stamps.add_many(awards(3), journal=journal, check_first=False)
    assert [o.status for o in again] == ["applied"] * 3
    assert [a.path for a in server.arrivals].count("/api/stamps/add") == 3
    with Journal(journal) as j:
        assert j.counts()["ambiguous"] == 0


async def test_a_row_with_a_lone_surrogate_fails_alone_and_sends_nothing(
    server: RecordingServer, tmp_path: Path
) -> None:
    server.responder = lambda request, n: _json({"ok": True})
    rows: list[dict[str, Any]] = [
        json.loads('{"email": "one@x.co", "first_name": "Ann\\ud800"}'),
        {"email": "two@x.co", "first_name": "Bo"},
    ]
    async with StampedClient("pub", "key-PRIVATE", "1", api_url=server.url) as sd:
        report = await sync_customers(sd, rows, state=tmp_path / "state.sqlite")
    outcomes = {o.email: o for o in report}
    assert outcomes["one@x.co"].status == "failed"
    assert "first_name is not valid Unicode" in str(outcomes["one@x.co"].error)
    assert outcomes["two@x.co"].status == "sent"
    writes = [a for a in server.arrivals if a.method == "POST"]  # not the credentials check
    assert writes
    assert all(b"two@x.co" in a.body for a in writes)


async def test_an_unencodable_body_is_a_configuration_error_not_a_unicode_error(
    server: RecordingServer,
) -> None:
    async with StampsClient("tok-123456", api_url=server.url) as sp:
        with pytest.raises(ConfigurationError, match="cannot be sent as JSON"):
            await sp.stamps.add(user="a@b.co", number_of_stamps=1, store=1, notes="x\ud800")
    assert server.arrivals == []


async def _json(body: object) -> web.StreamResponse:
    return web.json_response(body)


class ReadOnlyReplica(Redis):
    """A Redis client whose every script call meets a read-only replica."""

    def register_script(self, script: str) -> Any:  # type: ignore[override]
        async def refuse(*args: object, **kwargs: object) -> object:
            raise ReadOnlyError("You can't write against a read only replica.")

        return refuse


async def test_a_read_only_redis_fails_the_rows_typed_and_unsent(
    server: RecordingServer, tmp_path: Path
) -> None:
    throttle = RedisThrottle(
        "redis://:hunter2-SECRET@127.0.0.1:1/0?password=hunter2-SECRET",
        key="k",
        limit=10,
        seconds=1,
        redis=ReadOnlyReplica(),
    )
    async with StampsClient("tok-123456", api_url=server.url, throttle=throttle) as sp:
        with pytest.raises(ThrottleUnavailableError) as exc:
            await sp.stamps.add(user="a@b.co", number_of_stamps=1, store=1)
        assert "hunter2-SECRET" not in str(exc.value)
        assert "hunter2-SECRET" not in repr(throttle)
        with no_backoff():
            report = await sp.stamps.add_many(awards(20), journal=tmp_path / "j.sqlite")
    assert server.arrivals == []
    assert report.stopped is not None
    assert "shared throttle is unavailable" in report.stopped
    assert report.exit_code == 4
    assert all(o.status == "failed" for o in report)
    assert len(report.outcomes) <= 10  # stopped by the preflight: the rest untried


@pytest.mark.parametrize("depth", [50, 5000, 100_000])
def test_an_error_body_nested_deep_parses_without_raising(depth: int) -> None:
    body = b'{"errors": ' + b'{"a": ' * depth + b'"x"' + b"}" * depth + b', "detail": "no"}'
    parsed = parse_error_body(body)
    assert isinstance(parsed.message, str)
    lists = b'{"errors": [' + b"[" * depth + b"]" * depth + b"]}"
    assert isinstance(parse_error_body(lists).errors, dict)


async def test_a_deep_error_answer_is_a_typed_error(server: RecordingServer) -> None:
    depth = 100_000
    body = b'{"detail": ' + b"[" * depth + b"]" * depth + b"}"

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=400, body=body, content_type="application/json")

    server.responder = respond
    async with StampsClient("tok-123456", api_url=server.url) as sp:
        with pytest.raises(StampsyncError):
            await sp.stamps.add(user="a@b.co", number_of_stamps=1, store=1)


async def test_a_local_failure_after_the_answer_began_is_ambiguous_never_unsent(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only a ValueError before the request left means "not sent": after the server
    answered, the award may exist, and calling it unsent would make a rerun send it twice."""

    async def broken_read(self: aiohttp.ClientResponse) -> bytes:
        raise ValueError("a local failure reading an answer")

    monkeypatch.setattr(aiohttp.ClientResponse, "read", broken_read)
    async with StampsClient("tok-123456", api_url=server.url) as sp:
        with pytest.raises(AmbiguousWriteError, match="ValueError"):
            await sp.stamps.add(user="a@b.co", number_of_stamps=1, store=1)
        assert len(server.arrivals) == 1
        with no_backoff():
            report = await sp.stamps.add_many(awards(3), journal=tmp_path / "j.sqlite")
            assert report.counts["ambiguous"] == 3
            assert report.exit_code == 3
            sent = len(server.arrivals)
            rerun = await sp.stamps.add_many(awards(3), journal=tmp_path / "j.sqlite")
    assert rerun.counts["ambiguous"] == 3
    assert len(server.arrivals) == sent  # ambiguous keys are never sent again
