"""``stampsync doctor``: check a Stamps configuration against the API in a few requests.

Each check ends in one line, in plain words: ``ok``, ``problem`` (this configuration
will not work) or ``note`` (it works, but read this). Requests sent: three pings, and
one read per optional check (the store, the JWT). Nothing is written.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Annotated, Literal

import typer
from rich.markup import escape

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
    StampsyncError,
    ThrottleUnavailableError,
    TokenExchangeError,
    TransportError,
    ValidationError,
)
from ..stamps.client import StampsClient
from ._common import Tuning, err, printable, release, with_options
from ._secrets import resolve_secret
from ._stamps import StampsAccess

Verdict = Literal["ok", "problem", "note"]
PINGS = 3


@dataclass(frozen=True)
class Finding:
    """One check's verdict, in plain words."""

    check: str
    verdict: Verdict
    message: str


def _why(exc: BaseException) -> str:
    if isinstance(exc, AuthenticationError):
        return f"the server refused the token ({exc})"
    if isinstance(exc, TokenExchangeError):
        return f"the static token could not be exchanged for a JWT ({exc})"
    if isinstance(exc, TransportError):
        return f"the server could not be reached ({exc})"
    if isinstance(exc, ThrottleUnavailableError):
        return f"the shared throttle is unavailable ({exc})"
    return str(exc)


async def diagnose(
    client: StampsClient, *, merchant: int | None, store: int | None, jwt: bool
) -> list[Finding]:
    """Run the checks with ``client``; stop after the first one the rest depend on."""
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
            found.append(Finding("credentials", "problem", _why(exc)))
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
            found.append(Finding("token", "problem", f"the JWT was not verified: {_why(exc)}"))
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
                found.append(Finding("store", "problem", _why(exc)))
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


@with_options(access=StampsAccess, tuning=Tuning)
def doctor(
    merchant: Annotated[
        int | None, typer.Option(min=1, help="the merchant id you expect the token to have")
    ] = None,
    store: Annotated[int | None, typer.Option(min=1, help="a store id to check")] = None,
    jwt: Annotated[
        bool, typer.Option("--jwt", help="exchange the token for a JWT and verify it")
    ] = False,
    *,
    access: StampsAccess,
    tuning: Tuning,
) -> None:
    """Check a Stamps configuration in a few requests and say what is wrong, if anything.

    Checks: the server is reachable and accepts the token (ping), whose merchant it is,
    the JWT (with --jwt), a store (with --store), and what the throttle and the
    connections allow at the round trip measured. Exit code 0 when nothing is wrong,
    1 when a check found a problem, 2 for a configuration refused before sending.
    """
    api_url = access.api_url
    secret = resolve_secret(
        access.token, access.token_file, flag="--token", env="STAMPS_TOKEN", what="Stamps API token"
    )
    try:
        client = tuning.stamps(api_url, secret)
        if jwt:
            if merchant is None:
                raise ConfigurationError("--jwt needs --merchant (the CRM merchant id)")
            client = StampsClient(
                secret,
                api_url=api_url,
                jwt=True,
                merchant=merchant,
                options=client.options,  # the same network settings
                throttle=client.throttle,
            )
    except ConfigurationError as exc:
        err.print(f"[bold red]problem[/] configuration: {escape(printable(str(exc)))}")
        raise typer.Exit(2) from None

    async def run() -> list[Finding]:
        try:
            async with client:
                return await diagnose(client, merchant=merchant, store=store, jwt=jwt)
        finally:
            await release(client)

    findings = asyncio.run(run())
    for f in findings:
        # Findings quote the server (its errors, the merchant's name): printed inert.
        typer.echo(f"{f.verdict:8} {f.check:12} {printable(f.message)}")
    problems = sum(f.verdict == "problem" for f in findings)
    if problems:
        err.print(f"[bold red]{problems} problem(s) found[/]")
        raise typer.Exit(1)
    err.print("[green]no problems found[/]")
