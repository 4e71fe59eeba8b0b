"""Network settings where users meet them: a private CA, a proxy, the environment."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from stampsync import ClientOptions, StampedClient
from stampsync.errors import CertificateError, ConfigurationError, TransportError

TIERS = "/api/v2/1/loyalty/tiers"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_app(ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, str]:
    app = web.Application()

    async def tiers(request: web.Request) -> web.Response:
        return web.json_response({"tiers": [{"name": "gold"}]})

    app.router.add_get(TIERS, tiers)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context).start()
    scheme = "https" if ssl_context else "http"
    return runner, f"{scheme}://127.0.0.1:{port}"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_a_self_signed_server_is_refused_by_default_and_served_with_its_ca(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    runner, url = await start_app(context)
    try:
        async with StampedClient("pub", "private-key", "1", api_url=url) as client:
            with pytest.raises(CertificateError, match="not trusted") as info:
                await client.loyalty.tiers()
            assert info.value.sent is False
        trusted = ssl.create_default_context(cafile=str(cert))
        async with StampedClient("pub", "private-key", "1", api_url=url, ssl=trusted) as client:
            assert (await client.loyalty.tiers()).tiers[0].name == "gold"
        async with StampedClient("pub", "private-key", "1", api_url=url, ssl=False) as client:
            assert (await client.loyalty.tiers()).tiers[0].name == "gold"  # loopback only
    finally:
        await runner.cleanup()
    with pytest.raises(ConfigurationError, match="loopback"):
        StampedClient("pub", "private-key", "1", api_url="https://stamped.io", ssl=False)


class ForwardProxy:
    """A loopback HTTP proxy: absolute-form requests and CONNECT tunnels, counted."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.authorizations: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            self.requests.append(f"{method} {target}")
            for line in lines[1:]:
                if line.lower().startswith("proxy-authorization:"):
                    self.authorizations.append(line.split(":", 1)[1].strip())
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                rest = target.split("://", 1)[1]
                authority, path = rest.split("/", 1)
                host, port = authority.rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                kept = [ln for ln in lines[1:] if not ln.lower().startswith("proxy-")]
                up_writer.write(
                    "\r\n".join([f"{method} /{path} HTTP/1.1", *kept]).encode("latin-1")
                )
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    server = ForwardProxy()
    await server.start()
    yield server
    await server.stop()


async def test_requests_go_through_a_configured_proxy(proxy: ForwardProxy) -> None:
    runner, url = await start_app()
    try:
        address = f"http://user:proxy-pass-123@127.0.0.1:{proxy.port}"
        async with StampedClient("pub", "private-key", "1", api_url=url, proxy=address) as c:
            assert (await c.loyalty.tiers()).tiers[0].name == "gold"
    finally:
        await runner.cleanup()
    assert proxy.requests == [f"GET {url}{TIERS}"]
    assert proxy.authorizations  # the credentials went to the proxy, as Basic auth
    assert "proxy-pass-123" not in repr(ClientOptions(proxy=address))


async def test_https_goes_through_the_proxy_as_a_tunnel(
    proxy: ForwardProxy, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    runner, url = await start_app(context)
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        async with StampedClient(
            "pub", "private-key", "1", api_url=url, ssl=trusted, trust_env=True
        ) as client:
            assert (await client.loyalty.tiers()).tiers[0].name == "gold"
    finally:
        await runner.cleanup()
    assert proxy.requests == [f"CONNECT {url.removeprefix('https://')}"]


async def test_trust_env_takes_the_proxy_from_the_environment_and_honours_no_proxy(
    proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, url = await start_app()
    try:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        async with StampedClient("pub", "private-key", "1", api_url=url) as c:
            await c.loyalty.tiers()
        assert proxy.requests == []  # off by default
        async with StampedClient("pub", "private-key", "1", api_url=url, trust_env=True) as c:
            await c.loyalty.tiers()
        assert len(proxy.requests) == 1
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        async with StampedClient("pub", "private-key", "1", api_url=url, trust_env=True) as c:
            await c.loyalty.tiers()
        assert len(proxy.requests) == 1  # bypassed
    finally:
        await runner.cleanup()


async def test_a_refused_proxy_says_so_and_never_shows_its_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    address = f"http://user:proxy-pass-123@127.0.0.1:{free_port()}"  # nobody listens
    async with StampedClient(
        "pub", "private-key", "1", api_url="http://127.0.0.1:9", proxy=address, max_retries=0
    ) as client:
        with pytest.raises(TransportError, match="proxy refused") as info:
            await client.loyalty.tiers()
    assert info.value.sent is False
    assert "proxy-pass-123" not in str(info.value)
    assert "proxy-pass-123" not in caplog.text


def test_bad_network_settings_are_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="proxy must be an http"):
        ClientOptions(proxy="socks5://127.0.0.1:1080")
    with pytest.raises(ConfigurationError, match="ssl must be"):
        ClientOptions(ssl="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="trace_configs"):
        ClientOptions(trace_configs=[object()])  # type: ignore[list-item]


def test_the_cli_declares_the_network_settings_once(certificate: tuple[Path, Path]) -> None:
    from stampsync.cli._common import Tuning

    cert, _ = certificate
    tuning = Tuning(ca_file=cert, proxy="http://user:proxy-pass-123@127.0.0.1:3128")
    client = tuning.stamped("https://stamped.io", "pub", "private-key", "1")
    assert isinstance(client.options.ssl, ssl.SSLContext)
    assert client.options.proxy == tuning.proxy
    assert "proxy-pass-123" not in repr(tuning)
    with pytest.raises(ConfigurationError, match="--ca-file"):
        Tuning(ca_file=cert.with_name("missing.pem")).settings("k")


async def test_the_cli_goes_through_the_proxy_it_is_given(
    proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from typer.testing import CliRunner

    from stampsync.cli._app import app
    from stampsync.sandbox import Sandbox

    monkeypatch.setenv("STAMPSYNC_PROXY", f"http://user:proxy-pass-123@127.0.0.1:{proxy.port}")
    with Sandbox() as sb:
        monkeypatch.setenv("STAMPS_TOKEN", sb.config.stamps_token)
        # The CLI runs its own event loop: in a thread, while this loop serves the proxy.
        result = await asyncio.to_thread(CliRunner().invoke, app, ["doctor", "--api-url", sb.url])
    assert result.exit_code == 0, result.output
    assert proxy.requests  # the checks went through the proxy
    assert all(r.split()[1].startswith(sb.url) for r in proxy.requests)
    assert "proxy-pass-123" not in result.output


# -- issue 26, item 6: credentials in the clear never pass a proxy ------------------------

REMOTE_PROXY = "http://user:proxy-pass-123@proxy.example:3128"


@pytest.mark.parametrize(
    ("api_url", "ssl_setting"),
    [("http://127.0.0.1:8080", None), ("https://127.0.0.1:8443", False)],
)
def test_plain_http_or_no_certificate_check_through_a_remote_proxy_is_refused(
    api_url: str, ssl_setting: bool | None
) -> None:
    from stampsync import StampsClient

    with pytest.raises(ConfigurationError, match="loopback api_url and no proxy") as info:
        StampsClient("tok-123456", api_url=api_url, ssl=ssl_setting, proxy=REMOTE_PROXY)
    assert "proxy.example" in str(info.value)
    assert "proxy-pass-123" not in str(info.value)
    with pytest.raises(ConfigurationError, match="loopback api_url and no proxy"):
        StampedClient(
            "pub", "private-key", "1", api_url=api_url, ssl=ssl_setting, proxy=REMOTE_PROXY
        )
    with pytest.raises(ConfigurationError, match="loopback api_url and no proxy"):
        StampedClient(
            store_hash="1",
            api_key="v3-key-123",
            api_url=api_url,
            proxy=REMOTE_PROXY,
            ssl=ssl_setting,
        )
    # Verified https through the same proxy is fine: the proxy sees only a tunnel.
    StampsClient("tok-123456", api_url="https://stamps.co.id", proxy=REMOTE_PROXY)


async def test_plain_http_with_a_proxy_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", REMOTE_PROXY)
    monkeypatch.setenv("http_proxy", REMOTE_PROXY)
    url = "http://127.0.0.1:8080"
    with pytest.raises(ConfigurationError, match=r"environment's proxy \(trust_env=True\)") as info:
        StampedClient("pub", "private-key", "1", api_url=url, trust_env=True)
    assert "proxy-pass-123" not in str(info.value)
    StampedClient("pub", "private-key", "1", api_url=url)  # no trust_env: no proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    client = StampedClient("pub", "private-key", "1", api_url=url, trust_env=True)  # bypassed
    # A proxy the environment gains after the client was built is refused when it opens.
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("no_proxy")
    with pytest.raises(ConfigurationError, match="loopback api_url and no proxy"):
        await client.open()
    await client.aclose()


def test_a_proxy_password_on_the_command_line_is_warned_about_like_a_token() -> None:
    from typer.testing import CliRunner

    from stampsync.cli._app import app

    # Nobody listens on the API URL: the run fails, the warning comes first.
    api = f"http://127.0.0.1:{free_port()}"
    proxy = f"http://user:proxy-pass-123@127.0.0.1:{free_port()}"
    env = {"STAMPS_TOKEN": "tok-123456", "STAMPS_API_URL": api, "STAMPSYNC_PROXY": None}
    flagged = CliRunner().invoke(app, ["doctor", "--proxy", proxy], env=env)
    warned = [line for line in flagged.stderr.splitlines() if "warning" in line]
    assert len(warned) == 1, flagged.stderr
    assert "--proxy on the command line is visible to other local users (ps)" in warned[0]
    assert "STAMPSYNC_PROXY" in warned[0]
    assert "proxy-pass-123" not in flagged.output
    from_env = CliRunner().invoke(app, ["doctor"], env={**env, "STAMPSYNC_PROXY": proxy})
    assert "warning" not in from_env.stderr
    no_password = CliRunner().invoke(
        app, ["doctor", "--proxy", f"http://127.0.0.1:{free_port()}"], env=env
    )
    assert "warning" not in no_password.stderr
