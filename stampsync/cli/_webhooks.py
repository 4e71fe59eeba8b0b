"""``stampsync webhooks ...``: receive Stamped.io pushes into an inbox, and look after it.

``serve`` runs the receiver (:func:`stampsync.stamped.webhooks.app`) over an inbox, a
SQLite file for one process or a ``postgresql://`` URL for many; ``list`` shows what the
inbox holds; ``retry`` queues failed events again and ``replay`` any event (a handler that
must run again over events it already handled).
"""

from __future__ import annotations

import asyncio
import fnmatch
import importlib
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import api_errors, err, fail, printable
from ._secrets import file_option, resolve_secret, secret_option

if TYPE_CHECKING:
    from ..stamped.webhooks import InboxEntry, WebhookEvent

app = typer.Typer(
    help="Stamped.io webhooks: a receiver that stores each push once and runs your handler "
    "once per event, and the tools to look after its inbox.",
    no_args_is_help=True,
)

log = logging.getLogger("stampsync.webhooks")

InboxOption = Annotated[
    str,
    typer.Option(
        "--inbox",
        envvar="STAMPSYNC_WEBHOOK_INBOX",
        help="The inbox: a SQLite file (one receiver process) or postgresql://... (many).",
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only events received since then: an ISO 8601 time, or seconds, minutes, "
        "hours or days ago (90s, 15m, 2h, 1d).",
    ),
]
Topic = Annotated[
    str | None, typer.Option("--topic", help="Only events of these topics (a glob: review.*).")
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since_time(value: str | None, now: float | None = None) -> float | None:
    """``--since`` as a UNIX time: ``2h`` (ago) or an ISO 8601 time (UTC if no zone)."""
    if value is None:
        return None
    text = value.strip()
    now = time.time() if now is None else now
    if text[:-1].replace(".", "", 1).isdigit() and text[-1:] in _UNITS:
        return now - float(text[:-1]) * _UNITS[text[-1]]
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since must be an ISO 8601 time or an age such as 15m, 2h, 1d; got {value!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def chosen(entries: list[InboxEntry], since: float | None, topic: str | None) -> list[InboxEntry]:
    return [
        e
        for e in entries
        if (since is None or e.received_at >= since)
        and (topic is None or fnmatch.fnmatchcase(e.topic, topic.lower()))
    ]


def _load_handler(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        fail(f"--handler must be module:attribute, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        fail(f"--handler: cannot import {module_name!r}: {exc}")
    except Exception as exc:  # the module itself failed as it loaded (a setting missing)
        fail(f"--handler: importing {module_name!r} failed: {type(exc).__name__}: {exc}")
    handler = getattr(module, attribute, None)
    if not callable(handler):
        fail(f"--handler: {spec!r} is not callable (an async function of the event)")
    return handler


async def _log_event(event: WebhookEvent) -> None:
    # Topic and key only: a payload carries shoppers' emails.
    log.info("webhook %s %s", event.topic, event.key)


@app.command()
def serve(
    inbox: InboxOption,
    secret: Annotated[
        str | None,
        secret_option("--secret", "STAMPED_WEBHOOK_SECRET", "The dashboard's webhook secret"),
    ] = None,
    secret_file: Annotated[Path | None, file_option("--secret", "webhook secret")] = None,
    handler: Annotated[
        str | None,
        typer.Option(
            "--handler",
            envvar="STAMPSYNC_WEBHOOK_HANDLER",
            help="module:function, an async function of each event (or a webhooks.Handlers); "
            "without it each event is logged by topic and key.",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(envvar="STAMPSYNC_WEBHOOK_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(min=1, max=65535, envvar="STAMPSYNC_WEBHOOK_PORT", help="Port to listen on."),
    ] = 8080,
    path: Annotated[
        str, typer.Option(envvar="STAMPSYNC_WEBHOOK_PATH", help="The path pushes arrive at.")
    ] = "/stamped/webhooks",
    max_attempts: Annotated[
        int, typer.Option(min=1, help="Tries of the handler before an event is parked as failed.")
    ] = 5,
) -> None:
    """Receive pushes into the inbox and run the handler once per event, until Ctrl-C.

    A push is answered 204 only once it is stored. Put TLS in front of it (a reverse
    proxy): the secret travels in a header. Exit codes: 0 stopped; 2 bad options or
    an inbox that cannot be opened.
    """
    from aiohttp import web

    from ..stamped.webhooks import app as receiver
    from ..stamped.webhooks import open_inbox

    the_secret = resolve_secret(
        secret,
        secret_file,
        flag="--secret",
        env="STAMPED_WEBHOOK_SECRET",
        what="Webhook secret",
    )
    run = _load_handler(handler) if handler else _log_event
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with api_errors():
        store = open_inbox(inbox, secret=the_secret, max_attempts=max_attempts)

    async def make() -> web.Application:
        with api_errors():
            await store.__aenter__()
        application = receiver(store, run, path=path)

        async def close(_: web.Application) -> None:
            await store.aclose()

        application.on_cleanup.append(close)
        return application

    err.print(f"receiving on http://{host}:{port}{path} into {store!r}", markup=False)
    # No access log: a line per push says nothing the handler's own lines do not.
    web.run_app(make(), host=host, port=port, print=None, access_log=None)


def _existing(inbox: str) -> None:
    """The tools look after an inbox; they never make one (a mistyped path would)."""
    from .._engine.journal import is_database_url

    if not is_database_url(inbox) and not Path(inbox).is_file():
        fail(f"no inbox at {inbox}: give the file a receiver stores into")


def _entries(inbox: str) -> list[InboxEntry]:
    from ..stamped.webhooks import open_inbox

    _existing(inbox)

    async def read() -> list[InboxEntry]:
        async with open_inbox(inbox, secret=None) as store:
            return await store.entries()

    with api_errors():
        return asyncio.run(read())


@app.command("list")
def list_events(
    inbox: InboxOption,
    status: Annotated[
        str | None, typer.Option(help="Only events of this status: new, running, done, failed.")
    ] = None,
    since: Since = None,
    topic: Topic = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the inbox's events, oldest first (key, topic, status, tries, last error)."""
    if status is not None and status not in ("new", "running", "done", "failed"):
        fail(f"--status must be new, running, done or failed; got {status!r}")
    found = [
        e
        for e in chosen(_entries(inbox), since_time(since), topic)
        if status is None or e.status == status
    ]
    for e in found:
        if as_json:
            fields = {"key": e.key, "topic": e.topic, "status": e.status, "attempts": e.attempts}
            fields |= {"received_at": e.received_at, "error": e.error}
            typer.echo(json.dumps(fields))
        else:
            when = datetime.fromtimestamp(e.received_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
            error = f"  {printable(e.error)}" if e.error else ""
            typer.echo(
                f"{when}  {e.status:<7} {e.attempts:>2}  {printable(e.topic)}  "
                f"{printable(e.key)}{error}"
            )
    if not as_json:
        err.print(f"{len(found)} event(s)", markup=False)


def _requeue(inbox: str, keys: list[str]) -> int:
    from ..stamped.webhooks import open_inbox

    async def again() -> int:
        async with open_inbox(inbox, secret=None) as store:
            return sum([await store.replay(key) for key in keys])

    with api_errors():
        return asyncio.run(again())


@app.command()
def retry(inbox: InboxOption, since: Since = None, topic: Topic = None) -> None:
    """Queue the failed events again (their tries start over); a running receiver takes
    them at its next look (within a second)."""
    failed = [e for e in chosen(_entries(inbox), since_time(since), topic) if e.status == "failed"]
    done = _requeue(inbox, [e.key for e in failed])
    err.print(f"queued {done} failed event(s) again", markup=False)


@app.command()
def replay(
    inbox: InboxOption,
    keys: Annotated[
        list[str] | None, typer.Argument(help="Event keys (as list shows them); or filter.")
    ] = None,
    since: Since = None,
    topic: Topic = None,
) -> None:
    """Run the handler again over events it handled (or that failed): by key, or all
    that match --since and --topic."""
    if not keys and since is None and topic is None:
        fail("name event keys, or choose events with --since and/or --topic")
    entries = _entries(inbox)
    if keys:
        known = {e.key for e in entries}
        unknown = [k for k in keys if k not in known]
        if unknown:
            fail(f"no such event in the inbox: {printable(unknown[0])}")
        entries = [e for e in entries if e.key in set(keys)]
    picked = [e.key for e in chosen(entries, since_time(since), topic) if e.status != "new"]
    done = _requeue(inbox, picked)
    err.print(f"queued {done} event(s) again", markup=False)
