"""Hostile values in paths, queries, bodies and CSV never change a request's path or headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web
from typer.testing import CliRunner

from stampsync import StampedClient, StampsClient
from stampsync.cli._app import app
from stampsync.errors import ConfigurationError
from tests._server import RecordingServer

HOSTILE = [
    "../x",
    "a/b?c",
    "..",
    ".",
    "x#y",
    "a%2Fb",
    "a&b=c",
    "\r\nX-Injected: 1",
    "nul\x00byte",
    "é/ü",
    "x" * 5000,
]
EXPECTED_HEADERS = {
    "host",
    "authorization",
    "user-agent",
    "accept",
    "accept-encoding",
    "content-type",
    "content-length",
}


def assert_clean(server: RecordingServer) -> None:
    for arrival in server.arrivals:
        assert {h.lower() for h in arrival.headers} <= EXPECTED_HEADERS, arrival.headers
        assert "x-injected" not in {h.lower() for h in arrival.headers}


async def test_path_parameters(server: RecordingServer) -> None:
    async with StampedClient("pub", "key", "store", api_url=server.url) as st:
        for value in HOSTILE:
            await st.customers.get(value)
    prefix = "/api/v2/store/dashboard/customers/"
    for arrival, value in zip(server.arrivals, HOSTILE, strict=True):
        assert arrival.raw_path.startswith(prefix)
        segment = arrival.raw_path[len(prefix) :]
        for char in "/?#\r\n\x00 ":
            assert char not in segment
        assert arrival.path == prefix + value
    assert_clean(server)


async def test_query_values_round_trip_exactly(server: RecordingServer) -> None:
    values = [v for v in HOSTILE if not any(c in v for c in "\r\n\x00")]

    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        assert sorted(request.query) == ["merchant", "user"]
        return web.json_response({"user": {"email": request.query["user"]}})

    server.responder = respond
    async with StampsClient("tok", api_url=server.url, merchant=14) as sp:
        for value in values:
            details = await sp.memberships.details(user=value)
            assert details.user is not None
            assert details.user.email == value.strip()
    assert {a.path for a in server.arrivals} == {"/api/v2/memberships/details"}
    assert_clean(server)


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "nul\x00"])
async def test_line_breaks_and_nul_in_user_references_are_refused(
    server: RecordingServer, value: str
) -> None:
    async with StampsClient("tok", api_url=server.url, merchant=14, store=1) as sp:
        with pytest.raises(ConfigurationError, match="line breaks or NUL"):
            await sp.memberships.details(user=value)
        with pytest.raises(ConfigurationError, match="line breaks or NUL"):
            await sp.stamps.add(user=value, number_of_stamps=1)
    assert server.arrivals == []


async def test_body_values_are_json_escaped(server: RecordingServer) -> None:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response({"award": {"id": 1}})

    server.responder = respond
    notes = 'line1\r\nX-Injected: 1\x00"quoted"' + "y" * 5000
    async with StampsClient("tok", api_url=server.url, store=1) as sp:
        await sp.stamps.add(user="a@b.co", number_of_stamps=1, notes=notes)
    [arrival] = server.arrivals
    assert arrival.path == "/api/stamps/add"
    assert json.loads(arrival.body)["notes"] == notes
    assert_clean(server)


def test_csv_fields_cannot_inject(server: RecordingServer, tmp_path: Path) -> None:
    async def respond(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response({"award": {"id": n + 1}})

    server.responder = respond
    src = tmp_path / "awards.csv"
    src.write_text(
        "key,user,store,number_of_stamps,notes\n"
        '"../etc/passwd",member1@example.com,1,1,"a\r\nX-Injected: 1"\n'
        '"k?#",member2@example.com,1,1,ok\n'
        '"k3","member3@example.com\r\nX-Injected: 1",1,1,bad user\n'
        f'"{"k" * 3000}",member4@example.com,1,1,long key\n',
        newline="",
    )
    result = CliRunner().invoke(
        app,
        [
            "stamps",
            "award",
            "--input",
            str(src),
            "--journal",
            str(tmp_path / "j"),
            "--report",
            str(tmp_path / "r"),
            "--api-url",
            server.url,
            "--token",
            "tok",
        ],
    )
    assert result.exit_code == 1, result.stderr  # the hostile user fails alone
    rows = [json.loads(line) for line in (tmp_path / "r").read_text().splitlines()]
    statuses = {r["key"][:20]: r["status"] for r in rows}
    assert statuses == {
        "../etc/passwd": "applied",
        "k?#": "applied",
        "k3": "failed",
        "k" * 20: "applied",
    }
    assert {a.path for a in server.arrivals} == {"/api/ping", "/api/stamps/add"}
    assert_clean(server)


def test_csv_with_a_nul_byte_is_refused_cleanly(tmp_path: Path) -> None:
    src = tmp_path / "awards.csv"
    src.write_bytes(b"key,user,store,number_of_stamps\nk1,a\x00b,1,1\n")
    result = CliRunner().invoke(
        app,
        [
            "stamps",
            "award",
            "--input",
            str(src),
            "--journal",
            str(tmp_path / "j"),
            "--report",
            str(tmp_path / "r"),
            "--token",
            "tok",
        ],
    )
    assert result.exit_code == 2
    assert "NUL" in result.stderr
    assert not (tmp_path / "r").exists()
