"""``stampsync doctor``: check the configured APIs (Stamps, Stamped V2, Stamped V3) in a
few requests.

It first prints the effective configuration of each API it checks (``info`` lines: the
URL, the store, where the credential came from; never a secret). Each check then ends in
one line, in plain words: ``ok``, ``problem`` (this configuration will not work) or
``note`` (it works, but read this), with a hint for the usual mistakes (a URL with a
path the client adds again, a TLS failure, a host that cannot be reached, a refused
credential). Requests sent: three Stamps pings and one read per optional check (the
store, the JWT), one read each for Stamped V2 and V3. Nothing is written.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from .._redis_throttle import safe_url
from ..errors import (
    AuthenticationError,
    CertificateError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    StampsyncError,
    ThrottleUnavailableError,
    TokenExchangeError,
    TransportError,
    ValidationError,
)
from ..stamped.client import StampedClient
from ..stamps.client import StampsClient
from ._common import Tuning, err, printable, release, with_options
from ._stamps import StampsAccess

Verdict = Literal["ok", "problem", "note", "info"]
PINGS = 3


@dataclass(frozen=True)
class Finding:
    """One check's verdict, in plain words."""

    check: str
    verdict: Verdict
    message: str


def _why(exc: BaseException, api_url: str = "", credential: str = "the token") -> str:
    """What went wrong, with a hint for the usual causes."""
    api_url = safe_url(api_url) if api_url else api_url  # a password in it stays unsaid
    if isinstance(exc, AuthenticationError):
        return f"the server refused {credential} ({exc}): check it is this API's and current"
    if isinstance(exc, TokenExchangeError):
        return f"the static token could not be exchanged for a JWT ({exc})"
    if isinstance(exc, NotFoundError) and (path := urlsplit(api_url).path.rstrip("/")):
        site = api_url[: len(api_url) - len(urlsplit(api_url).path)]
        return (
            f"the server answered 404 ({exc}): the URL {api_url} ends in a path ({path}) "
            f"and the client adds /api/... itself, so the path is doubled; give the site "
            f"only: {site}"
        )
    if isinstance(exc, NotFoundError):
        return f"the server answered 404 ({exc}): is {api_url} this API's URL?"
    if isinstance(exc, CertificateError) or (isinstance(exc, TransportError) and "SSL" in str(exc)):
        return (
            f"TLS failed ({exc}): an https URL to a server that speaks plain http, or a "
            "certificate not trusted (behind a proxy that inspects TLS, give its authority "
            "with --ca-file or STAMPSYNC_CA_FILE)"
        )
    if isinstance(exc, TransportError):
        host = urlsplit(api_url).netloc or api_url
        return (
            f"the server could not be reached ({exc}): check the host {host} (the URL, DNS, "
            "a firewall; a proxy with --proxy or STAMPSYNC_PROXY)"
        )
    if isinstance(exc, ThrottleUnavailableError):
        return f"the shared throttle is unavailable ({exc})"
    return str(exc)


def _failure_check(exc: BaseException) -> str:
    """Which check a failed first request belongs to: the credentials only when the
    server answered about them."""
    if isinstance(exc, TransportError | NotFoundError):
        return "connection"
    return "credentials"


async def diagnose(
    client: StampsClient,
    *,
    merchant: int | None,
    store: int | None,
    jwt: bool,
    api_url: str = "",
    source: str = "the token",
) -> list[Finding]:
    """Run the Stamps checks with ``client``; stop after the first one the rest depend on."""
    found: list[Finding] = []
    latencies: list[float] = []
    pong = None
    for _ in range(PINGS):
        started = time.perf_counter()
        try:
            pong = await client.auth.ping()
        except RateLimitError:
            found.append(
                Finding(
                    "quota",
                    "problem",
                    "the server answered 429 to a ping: this token's quota is used up right "
                    "now (another process is using it?); lower --throttle-limit or share "
                    "the quota through --redis-url",
                )
            )
            return found
        except StampsyncError as exc:
            found.append(Finding(_failure_check(exc), "problem", _why(exc, api_url, source)))
            return found
        latencies.append(time.perf_counter() - started)
    assert pong is not None
    who = f"{pong.merchant or 'a merchant'} (id {pong.merchant_id})"
    found.append(Finding("credentials", "ok", f"the token is accepted; it belongs to {who}"))
    if merchant is not None and str(pong.merchant_id) != str(merchant):
        found.append(
            Finding(
                "merchant",
                "problem",
                f"--merchant is {merchant} but the token belongs to merchant {pong.merchant_id}",
            )
        )
    if jwt:
        try:
            claims = await client.auth.verify_token()
        except StampsyncError as exc:
            why = _why(exc, api_url, source)
            found.append(Finding("token", "problem", f"the JWT was not verified: {why}"))
        else:
            hours = ((claims.exp or 0) - time.time()) / 3600
            found.append(
                Finding(
                    "token",
                    "ok" if hours > 1 else "note",
                    f"the JWT is valid for {hours:.1f} more hours (renewed before it expires)",
                )
            )
    else:
        found.append(Finding("token", "ok", "a static token: it does not expire"))
    if store is not None:
        if merchant is None and pong.merchant_id is None:
            found.append(Finding("store", "note", "give --merchant to check --store"))
        else:
            owner = merchant if merchant is not None else int(pong.merchant_id or 0)
            try:
                await client.rewards.list(store=store, merchant=owner, per_page=1)
            except ValidationError as exc:
                found.append(Finding("store", "problem", f"store {store} was refused: {exc}"))
            except StampsyncError as exc:
                found.append(Finding("store", "problem", _why(exc, api_url, source)))
            else:
                found.append(Finding("store", "ok", f"store {store} is known to the merchant"))
    found.append(headroom(client, latencies))
    return found


def headroom(client: StampsClient, latencies: list[float]) -> Finding:
    """What the throttle and the connections allow, at the round trip measured."""
    limit, seconds = client.throttle.limit, client.throttle.seconds
    quota_rate = limit / seconds
    trip = statistics.median(latencies)
    connections = client.options.concurrent_connections
    reachable = connections / max(trip, 1e-6)
    shared = type(client.throttle).__name__ == "RedisThrottle"
    where = "shared through Redis by every process using it" if shared else "for this process"
    text = (
        f"round trip {trip * 1000:.0f} ms; the throttle allows {limit} requests per "
        f"{seconds:g} s ({quota_rate:.1f}/s, {where}); {connections} connection(s) reach "
        f"about {reachable:.1f}/s at this round trip"
    )
    if reachable < quota_rate:
        return Finding(
            "quota",
            "note",
            text + f": the connections, not the quota, are the limit (raise --connections to "
            f"about {int(quota_rate * trip) + 1} to use the whole quota)",
        )
    return Finding("quota", "ok", text + ": the quota is the limit, as intended")


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _source(flag_value: str | None, env: str, flag: str, file: Path | None = None) -> str:
    """Where a credential came from, by name: never its value."""
    if file is not None:
        return f"{flag}-file {file}"
    if flag_value is not None and flag_value == os.environ.get(env):
        return env
    return flag


@dataclass(frozen=True)
class StampedSetup:
    """The Stamped credentials the environment sets (``STAMPED_*``), for doctor."""

    api_url: str
    store_hash: str | None
    public_key: str | None
    private_key: str | None
    api_key: str | None

    @classmethod
    def from_env(cls) -> StampedSetup:
        """Read ``STAMPED_API_URL``, ``STAMPED_STORE_HASH`` and the keys."""
        return cls(
            _env("STAMPED_API_URL") or "https://stamped.io",
            _env("STAMPED_STORE_HASH"),
            _env("STAMPED_PUBLIC_KEY"),
            _env("STAMPED_PRIVATE_KEY"),
            _env("STAMPED_API_KEY"),
        )

    @property
    def v2(self) -> bool:
        """Whether any V2 credential is set (then all must be)."""
        return self.public_key is not None or self.private_key is not None

    @property
    def v3(self) -> bool:
        """Whether the V3 key is set."""
        return self.api_key is not None

    def missing(self, version: str) -> list[str]:
        """The variables ``version`` (``v2``, ``v3``) still needs."""
        need = {"STAMPED_STORE_HASH": self.store_hash}
        if version == "v2":
            need |= {"STAMPED_PUBLIC_KEY": self.public_key, "STAMPED_PRIVATE_KEY": self.private_key}
        return [name for name, value in need.items() if value is None]

    def describe(self, version: str) -> str:
        """The effective configuration, no secret."""
        key = "STAMPED_PUBLIC_KEY and STAMPED_PRIVATE_KEY" if version == "v2" else "STAMPED_API_KEY"
        return f"url {safe_url(self.api_url)}, store hash {self.store_hash}, keys from {key}"


async def diagnose_stamped(client: StampedClient, setup: StampedSetup, version: str) -> Finding:
    """One read with the Stamped ``version`` (``v2``, ``v3``) credentials."""
    check = f"stamped {version}"
    credential = "the public and private keys" if version == "v2" else "the API key"
    try:
        if version == "v2":
            await client.customers.list(page=1, limit=1)
        else:
            await client.v3.orders.filter(limit=1)
    except StampsyncError as exc:
        return Finding(check, "problem", _why(exc, setup.api_url, credential))
    verb = "are" if version == "v2" else "is"
    return Finding(check, "ok", f"{credential} {verb} accepted for store {setup.store_hash}")


@with_options(access=StampsAccess, tuning=Tuning)
def doctor(
    merchant: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="STAMPS_MERCHANT",
            show_default=False,
            help="the merchant id you expect the token to have (--jwt needs it)",
        ),
    ] = None,
    store: Annotated[int | None, typer.Option(min=1, help="a store id to check")] = None,
    jwt: Annotated[
        bool, typer.Option("--jwt", help="exchange the token for a JWT and verify it")
    ] = False,
    *,
    access: StampsAccess,
    tuning: Tuning,
) -> None:
    """Check each configured API in a few requests and say what is wrong, if anything.

    Stamps (with a token: --token, --token-file or STAMPS_TOKEN): the server is
    reachable and accepts the token (ping), whose merchant it is, the JWT (with --jwt),
    a store (with --store), and what the throttle and the connections allow at the
    round trip measured. Stamped V2 (STAMPED_PUBLIC_KEY, STAMPED_PRIVATE_KEY and
    STAMPED_STORE_HASH set) and Stamped V3 (STAMPED_API_KEY and STAMPED_STORE_HASH): one
    read each. The effective configuration is printed first (never a secret). Exit code
    0 when nothing is wrong, 1 when a check found a problem, 2 for a configuration
    refused before sending (or nothing to check).
    """
    api_url = access.api_url
    stamped = StampedSetup.from_env()
    has_stamps = access.token is not None or access.token_file is not None
    if not (has_stamps or stamped.v2 or stamped.v3):
        err.print(
            "[bold red]problem[/] configuration: nothing to check: give a Stamps token "
            "(--token, --token-file or STAMPS_TOKEN), or set STAMPED_PUBLIC_KEY, "
            "STAMPED_PRIVATE_KEY and STAMPED_STORE_HASH (Stamped V2), or STAMPED_API_KEY "
            "and STAMPED_STORE_HASH (Stamped V3)"
        )
        raise typer.Exit(2)
    info: list[Finding] = []
    found: list[Finding] = []
    client: StampsClient | None = None
    source = _source(access.token, "STAMPS_TOKEN", "--token", access.token_file)
    try:
        if has_stamps:
            secret = access.secret()
            if jwt and merchant is None:
                raise ConfigurationError(
                    "--jwt needs --merchant (or STAMPS_MERCHANT): the CRM merchant id"
                )
            client = tuning.stamps(api_url, secret, merchant=merchant, jwt=jwt)
            described = f"url {safe_url(api_url)}, token from {source}"
            if merchant is not None:
                described += f", merchant {merchant}"
            if store is not None:
                described += f", store {store}"
            info.append(Finding("stamps", "info", described))
        elif jwt:
            raise ConfigurationError("--jwt checks a Stamps token, and none is set")
        stamped_client: StampedClient | None = None
        versions: list[str] = []
        for version, wanted in (("v2", stamped.v2), ("v3", stamped.v3)):
            if not wanted:
                continue
            if missing := stamped.missing(version):
                found.append(
                    Finding(f"stamped {version}", "problem", f"{', '.join(missing)} not set")
                )
                continue
            info.append(Finding(f"stamped {version}", "info", stamped.describe(version)))
            versions.append(version)
        if versions:
            stamped_client = StampedClient(
                stamped.public_key if "v2" in versions else None,
                stamped.private_key if "v2" in versions else None,
                stamped.store_hash,
                api_key=stamped.api_key if "v3" in versions else None,
                api_url=stamped.api_url,
                **tuning.settings(f"stamped:{stamped.store_hash}"),
            )
    except ConfigurationError as exc:
        err.print(f"[bold red]problem[/] configuration: {escape(printable(str(exc)))}")
        raise typer.Exit(2) from None

    async def run() -> list[Finding]:
        out: list[Finding] = []
        if client is not None:
            try:
                async with client:
                    out += await diagnose(
                        client,
                        merchant=merchant,
                        store=store,
                        jwt=jwt,
                        api_url=api_url,
                        source=f"the token (from {source})",
                    )
            finally:
                await release(client)
        if stamped_client is not None:
            try:
                async with stamped_client:
                    for version in versions:
                        out.append(await diagnose_stamped(stamped_client, stamped, version))
            finally:
                await release(stamped_client)
        return out

    findings = info + found + asyncio.run(run())
    for f in findings:
        # Findings quote the server (its errors, the merchant's name): printed inert.
        typer.echo(f"{f.verdict:8} {f.check:12} {printable(f.message)}")
    problems = sum(f.verdict == "problem" for f in findings)
    if problems:
        err.print(f"[bold red]{problems} problem(s) found[/]")
        raise typer.Exit(1)
    err.print("[green]no problems found[/]")
