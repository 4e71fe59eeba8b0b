"""``stampsync stamps ...``: mass awards and their journal."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._client import BaseClient
from .._engine.journal import (
    STATUSES,
    EntryStatus,
    Journal,
    WriteJournal,
    client_account,
    is_database_url,
    normal_account,
)
from .._engine.writes import BatchReport, ExitCode, Outcome, Rejected, key_problem, normal_key
from ..errors import ConfigurationError
from ..stamps.client import StampsClient
from ..stamps.stamps import DEFAULT_MAX_STAMPS

if TYPE_CHECKING:
    from .._engine.postgres import PgJournal
from ._common import Tuning, announce_plan, api_errors, err, fail, progress, release, with_options
from ._inputs import check_awards_file, read_awards
from ._report import ReportFile, run_batch_file
from ._secrets import TokenFile, resolve_secret, secret_option
from ._signals import GracefulStop

app = typer.Typer(
    help="Stamps (stamps.co.id): mass awards and their journal.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
journal_app = typer.Typer(
    help="Inspect and resolve a mass-award journal.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(journal_app, name="journal")

ApiUrl = Annotated[str, typer.Option("--api-url", envvar="STAMPS_API_URL", help="Base URL.")]
Token = Annotated[str | None, secret_option("--token", "STAMPS_TOKEN", "API token")]
JournalSpec = Annotated[
    str,
    typer.Option(
        "--journal",
        help="SQLite journal file, or postgresql://... (a journal shared by a fleet)",
    ),
]
Account = Annotated[
    str | None,
    typer.Option(
        "--account",
        envvar="STAMPSYNC_ACCOUNT",
        show_default=False,
        help="PostgreSQL journals: the account the keys are filed under, the same on every "
        "run (a store's name, say); writes: default the merchant's, else required; "
        "list and resolve: default every account. A SQLite file needs none.",
    ),
]
Merchant = Annotated[
    int | None,
    typer.Option(
        "--merchant",
        envvar="STAMPS_MERCHANT",
        min=1,
        show_default=False,
        help="The Stamps merchant id: a PostgreSQL journal's default account, and the "
        "merchant whose other accounts' keys a run refuses to send again.",
    ),
]

#: How to name an account on the command line, for the refusal without one.
NEED_ACCOUNT = (
    "a PostgreSQL journal needs an account to file its keys under: give --account NAME "
    "(or STAMPSYNC_ACCOUNT=NAME), the same on every run, such as the store's name, or "
    "--merchant ID (STAMPS_MERCHANT); nothing was sent"
)


def shown(journal: str) -> str:
    """The journal as it may be printed: a database URL without its password."""
    if is_database_url(journal):
        from .._engine.postgres import safe_dsn

        return safe_dsn(journal)
    return journal


def pg_journal(url: str, account: str | None, merchant: int | None = None) -> PgJournal:
    """A PostgreSQL journal of ``account`` (or of every account, to read)."""
    from .._engine.postgres import PgJournal

    return PgJournal(url, account=account, merchant=merchant)


def write_journal(
    journal: str, client: StampsClient, account: str | None, keys: Iterable[str] = ()
) -> WriteJournal:
    """The journal a write command names: a SQLite file (opened now, its own scope) or a
    PostgreSQL database (checked now: reachable, an account named, none of ``keys``
    another account's); either way a refusal comes here, before anything is sent (exit 2).
    """
    if is_database_url(journal):
        name = account if account is not None else client_account(client)
        if name is None:
            fail(NEED_ACCOUNT)
        jrn = pg_journal(journal, normal_account(name), client.merchant)
        check_database(jrn, keys)
        return jrn
    return Journal(journal).open()


#: Keys checked against other accounts per statement, before a run.
_CHECK_CHUNK = 5000


def check_database(journal: WriteJournal, keys: Iterable[str] = ()) -> None:
    """Open ``journal`` now, so an unusable database refuses the run (exit 2), and refuse
    a run whose ``keys`` another account of the database answers for."""
    from .._engine.postgres import PgJournal

    async def check() -> None:
        async with journal:
            if not isinstance(journal, PgJournal):
                return
            chunk: list[str] = []
            for raw in keys:
                key = normal_key(raw)
                if key and key_problem(key) is None:
                    chunk.append(key)
                if len(chunk) >= _CHECK_CHUNK:
                    await journal.acheck_scope(chunk)
                    chunk = []
            await journal.acheck_scope(chunk)

    asyncio.run(check())


@dataclass(frozen=True)
class StampsAccess:
    """The Stamps endpoint and token, declared once for every command."""

    api_url: ApiUrl = "https://stamps.co.id"
    token: Token = field(default=None, repr=False)
    token_file: TokenFile = None

    def client(
        self,
        tuning: Tuning,
        store: int | None = None,
        merchant: int | None = None,
        limits: dict[str, int | float] | None = None,
    ) -> StampsClient:
        """A client with this token and ``tuning`` (and ``merchant``, ``limits``, see
        :meth:`Tuning.stamps`); a usage error if there is no token."""
        return tuning.stamps(
            self.api_url, self.secret(), store=store, merchant=merchant, limits=limits
        )

    def secret(self) -> str:
        """The token (--token, --token-file or STAMPS_TOKEN); a usage error if there is none."""
        return resolve_secret(
            self.token, self.token_file, flag="--token", env="STAMPS_TOKEN", what="Stamps API token"
        )


async def award_file(
    client: StampsClient,
    rows_path: Path,
    journal: WriteJournal,
    report: ReportFile,
    total: int,
    max_stamps: int,
    default_store: int | None = None,
) -> BatchReport:
    """Award every row of ``rows_path``; stream the report; SIGINT/SIGTERM stop gracefully.

    The first signal stops taking rows (those in flight finish and are journaled); a
    second one aborts at once, quietly (what was in flight becomes ambiguous).
    """
    rows = read_awards(rows_path, default_store=default_store)
    add = partial(client.stamps.add_many, rows, max_stamps=max_stamps)
    return await run_journaled(
        client, journal, report, total, ("awarding", "awards"), Outcome.as_dict, add
    )


async def run_journaled(
    client: BaseClient,
    journal: WriteJournal,
    report: ReportFile,
    total: int,
    doing: tuple[str, str],
    line: Callable[[Outcome], dict[str, Any]],
    batch: Callable[..., Awaitable[BatchReport]],
) -> BatchReport:
    """Run one journaled ``batch`` (a ``*_many`` call given its rows and options) from a
    file: progress, one report ``line`` per outcome, the journal opened on this loop.
    ``doing``: what the progress bar says, and what is in flight ("pushing", "pushes").

    The first SIGINT/SIGTERM stops taking rows (those in flight finish and are
    journaled); a second one aborts at once, quietly (what was in flight becomes
    ambiguous).
    """
    plan = await announce_plan(client, total)
    started = time.monotonic()
    with GracefulStop(f"finishing {doing[1]} in flight") as signals:
        try:
            with progress(plan) as bar:
                task = bar.add_task(doing[0], total=total, rate="")

                def record(outcome: Outcome) -> None:
                    report.write(line(outcome))
                    done = bar.tasks[0].completed + 1
                    rate = done / max(time.monotonic() - started, 1e-6)
                    bar.update(task, advance=1, rate=f"{rate:.1f}/s")

                async with contextlib.AsyncExitStack() as stack:
                    if not isinstance(journal, Journal):  # a database: open it on this loop
                        await stack.enter_async_context(journal)
                    await stack.enter_async_context(client)
                    result = await batch(
                        journal=journal, on_outcome=record, keep_outcomes=False, stop=signals.event
                    )
        finally:
            await release(client)
    if result.interrupted:
        result.interrupted_by = signals.signum
    return result


def summary(
    report: BatchReport,
    journal: str,
    *,
    done: str = "applied",
    more: str = "",
    ambiguous: str = "award(s) are ambiguous: sent, outcome unknown.",
    settle: str = "Check them on Stamps, then: stampsync stamps journal resolve",
) -> None:
    """Print a journaled batch's outcome counts and what to do next, the same for every
    command: ``done`` names the applied rows, ``more`` adds to the skipped count, and
    ``ambiguous`` and ``settle`` say what the ambiguous rows are and how to settle them."""
    c = report.counts
    err.print(
        f"{done} {c['applied']} (of which {c['skipped']} already in the journal{more}), "
        f"failed {c['failed']}, ambiguous {c['ambiguous']}; sent {report.sent} requests"
    )
    if report.held:
        err.print(
            f"[yellow]{report.held} row(s) held by another run on {shown(journal)}: not sent; "
            "rerun when it has finished"
        )
    if report.stopped:
        err.print(f"[bold red]stopped early:[/] {report.stopped}; rows not tried are untouched")
    if report.interrupted:
        err.print("[yellow]interrupted: rerun the same command to finish the rest")
    if c["ambiguous"]:
        err.print(
            f"[yellow]{c['ambiguous']} {ambiguous}[/] {settle} --journal "
            f"{shown(journal)} KEY --applied | --not-applied"
        )


@app.command()
@with_options(access=StampsAccess, tuning=Tuning)
def award(
    input: Annotated[
        Path, typer.Option("--input", help="CSV: key,user,store,number_of_stamps[,notes]")
    ],
    journal: Annotated[
        str,
        typer.Option(
            "--journal",
            help="SQLite journal file, or postgresql://... shared by a fleet: at most once "
            "per key, across runs",
        ),
    ],
    report: Annotated[
        Path, typer.Option("--report", help="JSONL: one outcome per row (written at the end)")
    ],
    ignore_extra_columns: Annotated[
        bool, typer.Option(help="accept columns other than the award's (they are not sent)")
    ] = False,
    max_stamps: Annotated[
        int, typer.Option(min=1, help="most stamps one row may award; a row over it fails")
    ] = DEFAULT_MAX_STAMPS,
    account: Account = None,
    store: Annotated[
        int | None,
        typer.Option(
            "--store",
            min=1,
            show_default=False,
            help="the store of rows whose store cell is blank (else such a row fails)",
        ),
    ] = None,
    merchant: Merchant = None,
    *,
    access: StampsAccess,
    tuning: Tuning,
) -> None:
    """Award stamps to every row of a CSV, each key at most once.

    Exit codes: 0 all applied; 1 some rows failed (a rerun retries them); 2 refused
    before anything was sent (bad input, usage); 3 some ambiguous (resolve them first);
    4 stopped early (credentials refused or server unreachable); 130/143 interrupted by
    SIGINT/SIGTERM (rerun to finish); 70 internal error.

    A PostgreSQL journal files the keys under --account (or the merchant's account);
    a run whose keys are already under another account of the same merchant is refused.
    """
    total = check_awards_file(input, ignore_extra_columns=ignore_extra_columns)
    with api_errors():
        client = access.client(tuning, store, merchant)
        rows = read_awards(input, default_store=store)
        keys = (row.key for row in rows if not isinstance(row, Rejected))
        jrn = write_journal(journal, client, account, keys)

    async def run(out: ReportFile) -> BatchReport:
        return await award_file(client, input, jrn, out, total, max_stamps, store)

    result = run_batch_file(jrn, report, run, "awards")
    summary(result, journal)
    raise typer.Exit(result.exit_code)


def open_for_tools(journal: str, account: str | None) -> WriteJournal:
    """The journal ``--journal`` names, refusing a file that does not exist."""
    if is_database_url(journal):
        return pg_journal(journal, account)
    if not Path(journal).exists():
        fail(f"journal {journal} does not exist")
    return Journal(journal)


def from_option(columns: str) -> Any:
    """``--from FILE`` of a ``journal resolve``: a CSV of ``columns``."""
    return typer.Option(
        "--from",
        help=f"CSV of many: {columns} (outcome: applied or not_applied)",
        show_default=False,
    )


StatusFilter = Annotated[str | None, typer.Option(help="only this status: " + ", ".join(STATUSES))]
ResolveKey = Annotated[
    str | None, typer.Argument(help="the key of an ambiguous entry (or use --from)")
]
ResolveApplied = Annotated[
    bool | None,
    typer.Option(
        "--applied/--not-applied",
        help="applied: a rerun skips it; not applied: a rerun sends it again",
    ),
]


@journal_app.command("list")
def journal_list(
    journal: JournalSpec,
    status: StatusFilter = None,
    account: Account = None,
) -> None:
    """List journal entries as JSON lines (key, status, award id, error, request).

    Runs that died first have their pending keys made ambiguous (sent, outcome unknown),
    as the next run would; a key still pending is being sent by a live run.

    A PostgreSQL journal lists every account's entries (each line names its account)
    unless ``--account`` picks one, and ends with each account's counts: an account
    ``stamps:token:...`` is a scope an older stampsync made from the token (move it with
    ``journal rescope``).

    Exit codes: 0 listed; 2 no such journal, a bad --status, or a file that is not a
    journal.
    """
    list_entries(journal, status, account, "award_id")


def list_entries(
    journal: str, status: str | None, account: str | None, id_name: str | None
) -> None:
    """``journal list`` of any journaled batch: each entry as a JSON line (its result id
    named ``id_name``, or left out when the journal keeps none), then the counts."""
    if status is not None and status not in STATUSES:
        fail(f"--status must be one of {', '.join(STATUSES)}")
    wanted: EntryStatus | None = next((s for s in STATUSES if s == status), None)
    jrn = open_for_tools(journal, account)

    async def read() -> dict[str, int]:
        from .._engine.postgres import PgJournal

        async with jrn:
            if isinstance(jrn, Journal | PgJournal):
                # A dead run's claims are ambiguous (sent, outcome unknown), as the next
                # run would find them: listed so, and resolvable now.
                await jrn.aend_dead_runs()
            if isinstance(jrn, PgJournal):
                for name, by in (await jrn.acounts_by_account()).items():
                    counted = ", ".join(f"{k} {v}" for k, v in by.items())
                    err.print(f"account {name}: {counted}", highlight=False, markup=False)
            for e in await jrn.aentries(wanted):
                line: dict[str, object] = {"key": e.key, "status": e.status}
                if id_name is not None:
                    line[id_name] = e.result_id
                line |= {"error": e.error, "attempts": e.attempts, "request": e.request}
                if e.account is not None:
                    line = {"account": e.account, **line}
                typer.echo(json.dumps(line))
            return await jrn.acounts()

    with api_errors():
        counts = asyncio.run(read())
    err.print(", ".join(f"{k} {v}" for k, v in counts.items()))
    if counts.get("pending"):
        err.print(
            f"{counts['pending']} pending: claimed by a run that is still running, which "
            "records their outcome; if it dies, they are listed as ambiguous (sent, "
            "outcome unknown) to be checked and resolved with journal resolve",
            highlight=False,
            markup=False,
        )


@journal_app.command("rescope")
def journal_rescope(
    journal: JournalSpec,
    old: Annotated[
        str,
        typer.Option(
            "--from",
            help="the scope to empty: an account, or a stamps:token:... scope of an older "
            "stampsync (see journal list)",
        ),
    ],
    new: Annotated[str, typer.Option("--to", help="the account its entries belong to from now on")],
) -> None:
    """Move every entry of a PostgreSQL journal's scope --from to the account --to.

    Older stampsyncs filed keys under a digest of the API URL and token when no merchant
    was set; runs now name their account, so those keys must be moved to it, once and
    explicitly, or a run would refuse them. All or nothing.

    Exit codes: 0 moved; 2 refused, nothing moved (a SQLite journal, no such scope, a key
    in both, a live run sending one of its keys, the database unusable).
    """
    if not is_database_url(journal):
        fail(f"journal {journal} is a SQLite file: it is its own scope, nothing to move")
    jrn = pg_journal(journal, None)

    async def move() -> int:
        async with jrn:
            return await jrn.arescope(old, new)

    with api_errors():
        moved = asyncio.run(move())
    err.print(f"moved {moved} entries from {old} to {new}", highlight=False, markup=False)


RESOLUTIONS = {"applied": True, "not_applied": False, "not-applied": False}


def resolutions(path: Path) -> list[tuple[str, bool, int | None]]:
    """``key,outcome[,award_id]`` rows (a header line first; outcome: applied or
    not_applied), all checked before any is used."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        fail(f"cannot read --from {path}: {exc}")
    out: list[tuple[str, bool, int | None]] = []
    for line, row in enumerate(rows, 2):
        key = normal_key((row.get("key") or "").strip())
        outcome = (row.get("outcome") or "").strip().lower()
        award = (row.get("award_id") or "").strip()
        if not key or outcome not in RESOLUTIONS:
            fail(
                f"{path} line {line}: needs columns key,outcome[,award_id] with outcome "
                "applied or not_applied"
            )
        if award and not award.isdigit():
            fail(f"{path} line {line}: award_id {award!r} is not a number")
        out.append((key, RESOLUTIONS[outcome], int(award) if award else None))
    if not out:
        fail(f"{path} has no rows to resolve")
    return out


@journal_app.command("resolve")
def journal_resolve(
    journal: JournalSpec,
    key: ResolveKey = None,
    applied: ResolveApplied = None,
    award_id: Annotated[int | None, typer.Option(help="the award id, if applied")] = None,
    from_file: Annotated[Path | None, from_option("key,outcome[,award_id]")] = None,
    account: Account = None,
) -> None:
    """Settle ambiguous entries after checking Stamps: one KEY, or many --from a CSV.

    In a PostgreSQL journal, ``--account`` names the account when the key is in several.

    Exit codes: 0 all settled; 1 some keys could not be settled (named; the others
    were); 2 bad usage, a bad --from file or no such journal (nothing settled).
    """
    settle(journal, key, applied, from_file, account, result_id=award_id)


def settle(
    journal: str,
    key: str | None,
    applied: bool | None,
    from_file: Path | None,
    account: str | None,
    *,
    result_id: int | None = None,
    ids_in_file: bool = True,
) -> None:
    """What every ``journal resolve`` does with its options: one KEY, or many --from."""
    if from_file is not None:
        if key is not None or applied is not None or result_id is not None:
            fail("give KEY with --applied/--not-applied, or --from FILE, not both")
        todo = [(k, done, i if ids_in_file else None) for k, done, i in resolutions(from_file)]
    else:
        if key is None:
            fail("give the KEY to settle (or --from FILE)")
        if applied is None:
            fail("say --applied or --not-applied")
        # As the write compared and journaled it: "café" typed decomposed (as macOS input
        # methods do) is the same key.
        todo = [(normal_key(key), applied, result_id)]
    resolve_entries(journal, todo, account)


def resolve_entries(
    journal: str, todo: list[tuple[str, bool, int | None]], account: str | None
) -> None:
    """``journal resolve`` of any journaled batch: settle each ``(key, applied, id)``;
    exit 1 if some of many could not be settled (each named)."""
    jrn = open_for_tools(journal, account)

    async def resolve() -> int:
        failed = 0
        async with jrn:
            for k, done, award in todo:
                try:
                    await jrn.aresolve(k, applied=done, result_id=award)
                except ConfigurationError as exc:
                    if len(todo) == 1:
                        raise
                    failed += 1
                    err.print(f"[red]{k}: not settled:[/] {exc}", highlight=False)
                    continue
                err.print(f"{k}: {'applied' if done else 'not applied'}", highlight=False)
        return failed

    with api_errors():
        failed = asyncio.run(resolve())
    if failed:
        raise typer.Exit(ExitCode.FAILED)
