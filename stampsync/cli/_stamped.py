"""``stampsync stamped ...``: bulk export and customer sync."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated

import anyio
import msgspec
import typer

from .._engine._runs import exclusive
from .._engine.writes import ExitCode
from .._files import open_private
from ..batch.sync import SyncOutcome, SyncReport, sync_customers
from ..errors import ConfigurationError
from ..stamped.client import StampedClient
from ..stamped.models import Customer
from . import _stamped_v3
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
from ._inputs import check_records_file, read_records
from ._report import Aborted, ReportFile, stop_on_write_failure
from ._secrets import PrivateKeyFile, resolve_secret, secret_option
from ._signals import GracefulStop

app = typer.Typer(
    help="Stamped.io: bulk customer export and customer sync.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ApiUrl = Annotated[str, typer.Option("--api-url", envvar="STAMPED_API_URL", help="Base URL.")]
PublicKey = Annotated[
    str | None, typer.Option("--public-key", envvar="STAMPED_PUBLIC_KEY", show_default=False)
]
PrivateKey = Annotated[
    str | None, secret_option("--private-key", "STAMPED_PRIVATE_KEY", "API private key")
]
StoreHash = Annotated[
    str | None, typer.Option("--store-hash", envvar="STAMPED_STORE_HASH", show_default=False)
]

CSV_FIELDS = list(Customer.__struct_fields__)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class StampedAccess:
    """The Stamped.io endpoint and credentials, declared once for every command."""

    api_url: ApiUrl = "https://stamped.io"
    public_key: PublicKey = None
    private_key: PrivateKey = field(default=None, repr=False)
    private_key_file: PrivateKeyFile = None
    store_hash: StoreHash = None

    def client(self, tuning: Tuning) -> StampedClient:
        """A client with these credentials and ``tuning``; a usage error names a missing one."""
        public = require(self.public_key, "--public-key", "STAMPED_PUBLIC_KEY")
        store = require(self.store_hash, "--store-hash", "STAMPED_STORE_HASH")
        private = resolve_secret(
            self.private_key,
            self.private_key_file,
            flag="--private-key",
            env="STAMPED_PRIVATE_KEY",
            what="Stamped.io private key",
        )
        return tuning.stamped(self.api_url, public, private, store)


#: Field names in exports: ``python`` (``first_name``, as the SDK, the CSV of
#: ``sync-customers`` and the reports name them) or ``api`` (Stamped's ``firstName``).
FIELD_NAMES = ("python", "api")
_API_NAMES = dict(zip(Customer.__struct_fields__, Customer.__struct_encode_fields__, strict=True))


class ExportWriter:
    """Writes customers as JSONL or CSV and remembers where a resume should start.

    Rows go to ``out`` + ``.partial``, renamed over ``out`` when the export is complete:
    a failed or interrupted export leaves the last complete one as it was (and its
    partial file for ``--resume``, once a page was written whole). One export at a time
    per output file (a second one is refused, naming the first); files are created
    0600. Field names are the SDK's (``first_name``) in both formats, or Stamped's
    (``firstName``) with ``field_names="api"``. CSV cells that a spreadsheet would run
    as a formula are escaped with a leading ``'`` unless ``raw_csv``.
    """

    def __init__(
        self, out: Path, resume: bool, *, raw_csv: bool = False, field_names: str = "python"
    ) -> None:
        if field_names not in FIELD_NAMES:
            raise ConfigurationError(f"field names are one of {', '.join(FIELD_NAMES)}")
        self.out = out
        self.partial = out.with_name(out.name + ".partial")
        self.state_path = out.with_name(out.name + ".state")
        self.csv = out.suffix.lower() == ".csv"
        self.raw_csv = raw_csv
        self.api_names = field_names == "api"
        self.start_page = 1
        self.count = 0
        self._resume = resume
        self._offset = 0
        self.fh: IO[str] | None = None
        self.writer: csv.DictWriter[str] | None = None
        self._lock = exclusive(out, "export file")
        self._lock.__enter__()
        try:
            if resume and self.state_path.exists() and self.partial.exists():
                self.start_page, self.count, self._offset = self._read_state()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def open(self) -> None:
        """Open the output (at the latest on the first write); the export calls it once
        the API answered, so a run refused at its first request (a wrong key, an
        unreachable host) leaves the last export as it was."""
        if self.fh is not None:
            return
        if self.start_page > 1:
            with self.partial.open("r+b") as fh:
                fh.truncate(self._offset)  # drop a partly written page
        elif not self._resume:
            self.state_path.unlink(missing_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if self.start_page > 1 else os.O_TRUNC)
        self.fh = os.fdopen(
            open_private(self.partial, flags),
            "a" if self.start_page > 1 else "w",
            encoding="utf-8",
            newline="",
        )
        names = [_API_NAMES[f] for f in CSV_FIELDS] if self.api_names else CSV_FIELDS
        self.writer = csv.DictWriter(self.fh, names) if self.csv else None
        if self.writer is not None and self.start_page == 1:
            self.writer.writeheader()

    def write(self, customer: Customer) -> None:
        self.open()
        if self.writer is not None:
            row = msgspec.structs.asdict(customer)
            row["tags"] = ";".join(customer.tags or [])
            if not self.raw_csv:
                row = {k: spreadsheet_safe(v) for k, v in row.items()}
            if self.api_names:
                row = {_API_NAMES[k]: v for k, v in row.items()}
            self.writer.writerow(row)
        else:
            assert self.fh is not None
            record: object = customer if self.api_names else msgspec.structs.asdict(customer)
            self.fh.write(_encoder.encode(record).decode() + "\n")
        self.count += 1

    def _read_state(self) -> tuple[int, int, int]:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            return int(state["next_page"]), int(state["count"]), int(state["offset"])
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ConfigurationError(
                f"cannot resume from {self.state_path} ({type(exc).__name__}: {exc}); "
                "export again without --resume"
            ) from None

    def checkpoint(self, next_page: int) -> None:
        """Everything before ``next_page`` is written: remember it for ``--resume``."""
        self.open()
        assert self.fh is not None
        self.fh.flush()
        state = {"next_page": next_page, "count": self.count, "offset": self.fh.tell()}
        # Written beside and renamed over: a kill between truncating and writing the
        # state in place left it empty, and --resume then could not start.
        partial = self.state_path.with_name(self.state_path.name + ".partial")
        fd = open_private(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(state))
        os.replace(partial, self.state_path)

    def close(self, complete: bool) -> None:
        """Finish: a complete export replaces ``out``; an incomplete one keeps its partial
        file only if ``--resume`` can continue it (a page was written whole)."""
        try:
            if self.fh is not None:
                self.fh.close()
            if complete:
                if self.fh is None:
                    self.open()  # an empty store: still a (header-only) complete export
                    assert self.fh is not None
                    self.fh.close()
                os.replace(self.partial, self.out)
                self.state_path.unlink(missing_ok=True)
            elif not self.state_path.exists():
                self.partial.unlink(missing_ok=True)
        finally:
            self._lock.__exit__(None, None, None)


#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
#: Injection"): customer-controlled text such as a name must not start one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """``value``, with a ``'`` in front if it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


async def export(client: StampedClient, writer: ExportWriter, page_size: int) -> int | None:
    """Export every customer through ``writer``, with progress and a closing summary.

    Returns ``None`` when complete, or the number of the signal (SIGINT/SIGTERM) that
    stopped it: the pages written whole are kept for ``--resume``.
    """
    with GracefulStop("keeping the pages written so far") as signals:
        try:
            await _export(client, writer, page_size, signals.event)
        finally:
            await release(client)
    return signals.signum if signals.event.is_set() else None


async def _export(
    client: StampedClient, writer: ExportWriter, page_size: int, stop: anyio.Event
) -> None:
    started = time.monotonic()
    async with client:
        first = await client.customers.list(page=1, limit=1)
        writer.open()
        total = first.total
        with progress() as bar:
            task = bar.add_task("exporting", total=total, completed=writer.count, rate="")
            async with client.customers.export(
                page_size=page_size, start_page=writer.start_page
            ) as customers:
                page = writer.start_page
                async for customer in customers:
                    if stop.is_set():
                        # Pages before the last checkpoint are whole; --resume redoes the rest.
                        err.print("[yellow]interrupted: rerun with --resume to finish")
                        return
                    if customers.stats.next_page != page:
                        # This customer opens a new page: everything before it is whole.
                        page = customers.stats.next_page
                        writer.checkpoint(page)
                    writer.write(customer)
                    rate = (writer.count) / max(time.monotonic() - started, 1e-6)
                    bar.update(task, completed=writer.count, rate=f"{rate:.0f}/s")
            writer.checkpoint(customers.stats.next_page)
            stats = customers.stats
    err.print(
        f"exported {writer.count} customers to {writer.out} "
        f"({stats.pages} pages, {stats.duplicates} duplicates skipped)"
    )
    if not stats.complete:
        err.print(
            f"[yellow]warning: the store changed during the export (total "
            f"{stats.total_first} -> {stats.total_last}, short pages "
            f"{stats.short_pages}); run it again for an exact copy"
        )


@app.command("export-customers")
@with_options(access=StampedAccess, tuning=Tuning)
def export_customers(
    out: Annotated[Path, typer.Option("--out", help="customers.jsonl or customers.csv")],
    resume: Annotated[bool, typer.Option(help="continue an interrupted export")] = False,
    raw_csv: Annotated[
        bool,
        typer.Option(
            help="write CSV cells as they are; by default a cell starting with = + - @, a "
            "tab or a carriage return gets a leading ' so a spreadsheet does not run it as a "
            "formula (OWASP); JSONL is never changed"
        ),
    ] = False,
    page_size: Annotated[int, typer.Option(min=1, max=100)] = 100,
    field_names: Annotated[
        str,
        typer.Option(
            help="python: the SDK's names (first_name), as sync-customers reads them; "
            "api: Stamped's own (firstName). The same in JSONL and CSV"
        ),
    ] = "python",
    api: Annotated[
        str, typer.Option("--api", help="v2 (the key pair) or v3 (--api-key; JSONL only)")
    ] = "v2",
    api_key: _stamped_v3.ApiKey = None,
    api_key_file: _stamped_v3.ApiKeyFile = None,
    filter: Annotated[
        list[str] | None,
        typer.Option("--filter", help="v3 only: NAME=VALUE, a filter of the V3 listing"),
    ] = None,
    *,
    access: StampedAccess,
    tuning: Tuning,
) -> None:
    """Export every customer to JSONL or CSV (field names: first_name, or --field-names api).

    ``--api v3`` reads the V3 customer listing instead (with ``--filter`` such as
    ``vip_tier=Gold``, ``points_min=100``, ``email=ann``), to JSONL.

    The file is written as OUT.partial and renamed to OUT when complete, so a failed
    export leaves the last one whole. Exit codes: 0 complete; 1 failed part way
    (``--resume`` continues); 2 refused before anything was sent (bad options, a
    directory that does not exist); 4 stopped (credentials refused or server
    unreachable); 130/143 interrupted; 70 internal error.
    """
    if api not in ("v2", "v3"):
        fail("--api must be v2 or v3")
    if api == "v3":
        if resume:
            fail("--resume is for --api v2; a V3 export starts over")
        _stamped_v3.export_customers_v3(
            out=out,
            page_size=page_size,
            api_url=access.api_url,
            api_key=api_key,
            api_key_file=api_key_file,
            store_hash=access.store_hash,
            filters=filter or [],
            tuning=tuning,
        )
        return
    if filter:
        fail("--filter is for --api v3")
    if out.suffix.lower() not in (".jsonl", ".csv", ".ndjson"):
        fail("--out must end in .jsonl or .csv")
    if field_names not in FIELD_NAMES:
        fail(f"--field-names must be one of {', '.join(FIELD_NAMES)}")
    if not out.parent.is_dir():
        fail(f"cannot write {out}: the directory {out.parent} does not exist")
    with api_errors():
        client = access.client(tuning)
        try:
            writer = ExportWriter(out, resume, raw_csv=raw_csv, field_names=field_names)
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}")
        complete = False
        try:
            interrupted_by = asyncio.run(export(client, writer, page_size))
            complete = interrupted_by is None
        except Aborted as aborted:
            interrupted_by = aborted.signum
        except OSError as exc:  # the disk filled, say: what was written whole is kept
            fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}", ExitCode.FAILED)
        finally:
            writer.close(complete)
    if interrupted_by is not None:
        raise typer.Exit(128 + interrupted_by)


@app.command("sync-customers")
@with_options(access=StampedAccess, tuning=Tuning)
def sync_customers_command(
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            help="CSV or JSONL: email, first_name, last_name, customer_id, tags, subscribed",
        ),
    ],
    state: Annotated[Path, typer.Option("--state", help="SQLite file of what was sent")],
    dry_run: Annotated[
        bool,
        typer.Option(help="send nothing; list the rows that would be sent (JSON lines, stdout)"),
    ] = False,
    report: Annotated[Path | None, typer.Option(help="JSONL: one outcome per row")] = None,
    *,
    access: StampedAccess,
    tuning: Tuning,
) -> None:
    """Upsert the customers whose row changed since the last sync; apply subscriptions.

    Exit codes: 0 all sent or unchanged; 1 some rows failed (a rerun sends them); 2
    refused before anything was sent; 4 stopped early (credentials refused or server
    unreachable); 130/143 interrupted; 70 internal error.
    """
    check_records_file(input)
    with api_errors():
        client = access.client(tuning)
        out = ReportFile(report) if report else None

        def record(outcome: SyncOutcome) -> None:
            if out is not None:
                out.write(outcome.as_dict())
            if outcome.status == "would_send":
                typer.echo(json.dumps({"row": outcome.row, "email": outcome.email}))

        async def run() -> SyncReport:
            with GracefulStop("finishing rows in flight") as signals:
                try:
                    async with client:
                        result = await sync_customers(
                            client,
                            read_records(input),
                            state=state,
                            dry_run=dry_run,
                            on_outcome=record if (out or dry_run) else None,
                            keep_outcomes=False,
                            stop=signals.event,
                        )
                finally:
                    await release(client)
            if result.interrupted:
                result.interrupted_by = signals.signum
            return result

        try:
            with stop_on_write_failure(), out if out else contextlib.nullcontext():
                result = asyncio.run(run())
        except Aborted as aborted:
            err.print("[yellow]aborted: a rerun sends the rows in flight again (upserts repeat)")
            raise typer.Exit(128 + aborted.signum) from None
    c = result.counts
    verb = "would send" if dry_run else "sent"
    err.print(
        f"{verb} {c['would_send'] if dry_run else c['sent']}, unchanged "
        f"{c['unchanged']}, failed {c['failed']} ({result.requests} requests)"
    )
    if result.stopped:
        err.print(f"[bold red]stopped early:[/] {result.stopped}; rows not tried are left")
    if result.interrupted:
        err.print("[yellow]interrupted: rerun the same command to finish the rest")
    raise typer.Exit(result.exit_code)
