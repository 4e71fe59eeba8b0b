"""``stampsync stamped push-orders`` and ``export-customers --api v3``: Stamped V3."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any, NoReturn

import msgspec
import typer

from .._engine._runs import exclusive
from .._engine.journal import Journal, WriteJournal, is_database_url
from .._engine.writes import BatchReport, Outcome
from .._files import open_private
from ..batch.v3_rows import read_orders
from ..stamped.client import StampedClient
from ._common import (
    Tuning,
    api_errors,
    err,
    fail,
    progress,
    release,
    require,
    with_options,
)
from ._inputs import check_text_file
from ._report import Aborted, ReportFile, run_batch_file
from ._secrets import file_option, resolve_secret, secret_option
from ._signals import GracefulStop
from ._stamps import (
    Account,
    JournalSpec,
    ResolveApplied,
    ResolveKey,
    StatusFilter,
    check_database,
    from_option,
    list_entries,
    pg_journal,
    run_journaled,
    settle,
    summary,
)

ApiUrl = Annotated[str, typer.Option("--api-url", envvar="STAMPED_API_URL", help="Base URL.")]
ApiKey = Annotated[
    str | None, secret_option("--api-key", "STAMPED_API_KEY", "Stamped V3 private API key")
]
ApiKeyFile = Annotated[Path | None, file_option("--api-key", "Stamped V3 private API key")]
StoreHash = Annotated[
    str | None,
    typer.Option(
        "--store-hash", envvar="STAMPED_STORE_HASH", show_default=False, help="The shop id."
    ),
]

journal_app = typer.Typer(
    help="Inspect and resolve a push-orders or adjust-points journal.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@dataclass(frozen=True)
class StampedV3Access:
    """The Stamped V3 endpoint, shop and key, declared once for every V3 command."""

    api_url: ApiUrl = "https://stamped.io"
    api_key: ApiKey = field(default=None, repr=False)
    api_key_file: ApiKeyFile = None
    store_hash: StoreHash = None

    def client(self, tuning: Tuning) -> StampedClient:
        """A client with only the V3 key, and ``tuning``."""
        return v3_client(tuning, self.api_url, self.api_key, self.api_key_file, self.store_hash)


def v3_client(
    tuning: Tuning, api_url: str, api_key: str | None, key_file: Path | None, store_hash: str | None
) -> StampedClient:
    """A Stamped client with only the V3 key, tuned from the command line."""
    store = require(store_hash, "--store-hash", "STAMPED_STORE_HASH")
    key = resolve_secret(
        api_key, key_file, flag="--api-key", env="STAMPED_API_KEY", what="Stamped V3 API key"
    )
    return StampedClient(
        store_hash=store,
        api_key=key,
        api_url=api_url,
        **tuning.settings(f"stamped:{store}"),
    )


def order_row(outcome: Outcome, order_id: str | None) -> dict[str, object]:
    """A push-orders report line: row, key, status, the Stamped ``order_id`` (``null``
    when this run did not push it: skipped as pushed by an earlier run, or failed), error."""
    return {
        "row": outcome.row,
        "key": outcome.key,
        "status": outcome.status,
        "order_id": order_id,
        "error": outcome.error,
    }


def finish_journaled(result: BatchReport, journal: str, done: str, what: str) -> NoReturn:
    """Print a V3 batch's summary (as every journaled command does) and exit with its code."""
    summary(
        result,
        journal,
        done=done,
        ambiguous=f"{what}(s) are ambiguous: sent, outcome unknown.",
        settle="Look them up on Stamped, then: stampsync stamped journal resolve",
    )
    raise typer.Exit(result.exit_code)


@with_options(access=StampedV3Access, tuning=Tuning)
def push_orders(
    input: Annotated[
        Path, typer.Option("--input", help="JSONL: one order per line, the API's field names")
    ],
    journal: JournalSpec,
    report: Annotated[Path, typer.Option("--report", help="JSONL: one outcome per row")],
    account: Account = None,
    *,
    access: StampedV3Access,
    tuning: Tuning,
) -> None:
    """Push every order of a JSONL file to Stamped V3, each key at most once.

    A row is an order as the API spells it (``customOrderId``, ``customCustomerId`` or
    ``customerId``, ``cart``, ``tags``) with an optional ``key`` (default: its
    ``customOrderId``). The report has one line per row: row, key, status, the Stamped
    order_id, error. Exit codes: 0 all pushed; 1 some rows failed (a rerun retries
    them); 2 refused before anything was sent; 3 some ambiguous (resolve them with
    ``stampsync stamped journal resolve``); 4 stopped early (key refused or server
    unreachable); 130/143 interrupted (rerun to finish); 70 internal error.
    """
    total = check_text_file(input)
    with api_errors():
        client = access.client(tuning)
        jrn = shop_journal(journal, client, account)

    async def run(out: ReportFile) -> BatchReport:
        order_ids: dict[str, str] = {}

        def line(outcome: Outcome) -> dict[str, object]:
            return order_row(outcome, order_ids.pop(outcome.key, None))

        push = partial(
            client.v3.orders.push_many, read_orders(input), account=account, order_ids=order_ids
        )
        return await run_journaled(client, jrn, out, total, ("pushing", "pushes"), line, push)

    result = run_batch_file(jrn, report, run, "pushes")
    finish_journaled(result, journal, "pushed", "order")


@journal_app.command("list")
def journal_list(
    journal: JournalSpec,
    status: StatusFilter = None,
    account: Account = None,
) -> None:
    """List a push-orders or adjust-points journal's entries as JSON lines (key,
    status, error, request).

    A PostgreSQL journal lists every account's entries (each shop's are under
    ``stamped:store:<store hash>`` unless pushed with --account) unless ``--account``
    picks one. Exit codes: 0 listed; 2 no such journal, a bad --status, or a file that
    is not a journal.
    """
    list_entries(journal, status, account, None)


@journal_app.command("resolve")
def journal_resolve(
    journal: JournalSpec,
    key: ResolveKey = None,
    applied: ResolveApplied = None,
    from_file: Annotated[Path | None, from_option("key,outcome")] = None,
    account: Account = None,
) -> None:
    """Settle ambiguous order pushes after checking Stamped: one KEY, or many --from a CSV.

    Exit codes: 0 all settled; 1 some keys could not be settled (named; the others
    were); 2 bad usage, a bad --from file or no such journal (nothing settled).
    """
    settle(journal, key, applied, from_file, account, ids_in_file=False)


def shop_journal(journal: str, client: StampedClient, account: str | None = None) -> WriteJournal:
    """The journal of ``push-orders`` and ``adjust-points``: a SQLite file (opened now) or
    a PostgreSQL database (checked now, keys filed under ``--account``, else the shop's
    store hash)."""
    if is_database_url(journal):
        jrn = pg_journal(journal, account or client.v3.orders._journal_account)
        check_database(jrn)
        return jrn
    return Journal(journal).open()


def parse_filters(pairs: list[str]) -> dict[str, Any]:
    """``--filter vip_tier=Gold --filter tags=a --filter tags=b`` as keyword filters."""
    from ..stamped.v3 import Customers

    known = set(Customers.filter.__annotations__) - {"return", "self", "page", "limit"}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or name not in known:
            fail(f"--filter takes NAME=VALUE with NAME one of {', '.join(sorted(known))}")
        if name == "tags":
            out.setdefault("tags", []).append(value)
        elif name in ("reviews_min", "reviews_max", "points_min", "points_max"):
            try:
                out[name] = float(value)
            except ValueError:
                fail(f"--filter {name} needs a number, got {value!r}")
        elif name == "last_first":
            out[name] = value.lower() in ("1", "true", "yes")
        else:
            out[name] = value
    return out


async def export_v3(
    client: StampedClient, out: Path, page_size: int, filters: dict[str, Any]
) -> int:
    """Write every matching V3 customer to ``out`` as JSONL; the signal that stopped it, or 0.

    The file is written aside (``out.partial``) and renamed over ``out`` only once the
    listing ends (or a signal stops it: then ``out`` holds what was read), so a refused
    key or a failure part way leaves the last export whole.
    """
    count = 0
    started = time.monotonic()
    partial = out.with_name(out.name + ".partial")
    with GracefulStop("stopping the export") as signals:
        try:
            async with client:
                listing = client.v3.customers.list(limit=page_size, **filters)
                fd = open_private(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as fh, progress() as bar:
                        task = bar.add_task("exporting (V3)", total=None, rate="")
                        async with listing:
                            async for customer in listing:
                                if signals.event.is_set():
                                    err.print("[yellow]interrupted: the file holds what was read")
                                    break
                                fh.write(msgspec.json.encode(customer).decode() + "\n")
                                count += 1
                                rate = count / max(time.monotonic() - started, 1e-6)
                                bar.update(task, completed=count, rate=f"{rate:.0f}/s")
                except BaseException:
                    partial.unlink(missing_ok=True)
                    raise
                os.replace(partial, out)
        finally:
            await release(client)
    err.print(
        f"exported {count} customers to {out} ({listing.stats.pages} pages, "
        f"{listing.stats.duplicates} duplicates skipped)"
    )
    return signals.signum or 0


def export_customers_v3(
    *,
    out: Path,
    page_size: int,
    api_url: str,
    api_key: str | None,
    api_key_file: Path | None,
    store_hash: str | None,
    filters: list[str],
    tuning: Tuning,
) -> None:
    """``export-customers --api v3``: the V3 customer listing, its filters, to JSONL."""
    if out.suffix.lower() not in (".jsonl", ".ndjson"):
        fail("--api v3 writes JSONL: --out must end in .jsonl")
    parsed = parse_filters(filters)
    with api_errors():
        client = v3_client(tuning, api_url, api_key, api_key_file, store_hash)
        with exclusive(out, "export file"):
            try:
                signum = asyncio.run(export_v3(client, out, page_size, parsed))
            except Aborted as aborted:
                signum = aborted.signum
    if signum:
        raise typer.Exit(128 + signum)
