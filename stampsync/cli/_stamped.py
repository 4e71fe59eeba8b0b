"""``stampsync stamped ...``: bulk export and customer sync."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from pathlib import Path
from typing import IO, Annotated

import msgspec
import typer

from ..batch.sync import SyncReport, sync_customers
from ..stamped.client import StampedClient
from ..stamped.models import Customer
from ._common import (
    Batch,
    Connections,
    RedisUrl,
    ThrottleKey,
    ThrottleLimit,
    ThrottleSeconds,
    Tuning,
    api_errors,
    err,
    fail,
    progress,
    release,
    require,
)
from ._inputs import check_text_file, read_records

app = typer.Typer(help="Stamped.io: bulk customer export and customer sync.", no_args_is_help=True)

ApiUrl = Annotated[str, typer.Option("--api-url", envvar="STAMPED_API_URL", help="Base URL.")]
PublicKey = Annotated[
    str | None, typer.Option("--public-key", envvar="STAMPED_PUBLIC_KEY", show_default=False)
]
PrivateKey = Annotated[
    str | None,
    typer.Option(
        "--private-key",
        envvar="STAMPED_PRIVATE_KEY",
        show_default=False,
        help="API private key (never printed).",
    ),
]
StoreHash = Annotated[
    str | None, typer.Option("--store-hash", envvar="STAMPED_STORE_HASH", show_default=False)
]

CSV_FIELDS = list(Customer.__struct_fields__)
_encoder = msgspec.json.Encoder()


def make_client(
    tuning: Tuning,
    api_url: str,
    public_key: str | None,
    private_key: str | None,
    store_hash: str | None,
) -> StampedClient:
    return tuning.stamped(
        api_url,
        require(public_key, "--public-key", "STAMPED_PUBLIC_KEY"),
        require(private_key, "--private-key", "STAMPED_PRIVATE_KEY"),
        require(store_hash, "--store-hash", "STAMPED_STORE_HASH"),
    )


class ExportWriter:
    """Writes customers as JSONL or CSV and remembers where a resume should start."""

    def __init__(self, out: Path, resume: bool) -> None:
        self.out = out
        self.state_path = out.with_name(out.name + ".state")
        self.csv = out.suffix.lower() == ".csv"
        self.start_page = 1
        self.count = 0
        if resume and self.state_path.exists() and out.exists():
            state = json.loads(self.state_path.read_text())
            self.start_page, self.count = int(state["next_page"]), int(state["count"])
            with out.open("r+b") as fh:
                fh.truncate(int(state["offset"]))  # drop a partly written page
        elif not resume:
            self.state_path.unlink(missing_ok=True)
        mode = "a" if self.start_page > 1 else "w"
        self.fh: IO[str] = out.open(mode, encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.fh, CSV_FIELDS) if self.csv else None
        if self.writer is not None and mode == "w":
            self.writer.writeheader()

    def write(self, customer: Customer) -> None:
        if self.writer is not None:
            row = msgspec.structs.asdict(customer)
            row["tags"] = ";".join(customer.tags or [])
            self.writer.writerow(row)
        else:
            self.fh.write(_encoder.encode(customer).decode() + "\n")
        self.count += 1

    def checkpoint(self, next_page: int) -> None:
        """Everything before ``next_page`` is written: remember it for ``--resume``."""
        self.fh.flush()
        state = {"next_page": next_page, "count": self.count, "offset": self.fh.tell()}
        self.state_path.write_text(json.dumps(state))

    def close(self, complete: bool) -> None:
        self.fh.close()
        if complete:
            self.state_path.unlink(missing_ok=True)


async def export(client: StampedClient, writer: ExportWriter, page_size: int) -> None:
    """Export every customer through ``writer``, with progress and a closing summary."""
    try:
        await _export(client, writer, page_size)
    finally:
        await release(client)


async def _export(client: StampedClient, writer: ExportWriter, page_size: int) -> None:
    started = time.monotonic()
    async with client:
        first = await client.customers.list(page=1, limit=1)
        total = first.total
        with progress() as bar:
            task = bar.add_task("exporting", total=total, completed=writer.count, rate="")
            async with client.customers.export(
                page_size=page_size, start_page=writer.start_page
            ) as customers:
                page = writer.start_page
                async for customer in customers:
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
def export_customers(
    out: Annotated[Path, typer.Option("--out", help="customers.jsonl or customers.csv")],
    resume: Annotated[bool, typer.Option(help="continue an interrupted export")] = False,
    page_size: Annotated[int, typer.Option(min=1, max=100)] = 100,
    api_url: ApiUrl = "https://stamped.io",
    public_key: PublicKey = None,
    private_key: PrivateKey = None,
    store_hash: StoreHash = None,
    throttle_limit: ThrottleLimit = 500,
    throttle_seconds: ThrottleSeconds = 60.0,
    connections: Connections = 2,
    batch: Batch = 10,
    redis_url: RedisUrl = None,
    throttle_key: ThrottleKey = None,
) -> None:
    """Export every customer to JSONL (Stamped's field names) or CSV."""
    if out.suffix.lower() not in (".jsonl", ".csv", ".ndjson"):
        fail("--out must end in .jsonl or .csv")
    tuning = Tuning(throttle_limit, throttle_seconds, connections, batch, redis_url, throttle_key)
    with api_errors():
        client = make_client(tuning, api_url, public_key, private_key, store_hash)
        writer = ExportWriter(out, resume)
        complete = False
        try:
            asyncio.run(export(client, writer, page_size))
            complete = True
        finally:
            writer.close(complete)


@app.command("sync-customers")
def sync_customers_command(
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            help="CSV or JSONL: email, first_name, last_name, customer_id, tags, subscribed",
        ),
    ],
    state: Annotated[Path, typer.Option("--state", help="SQLite file of what was sent")],
    dry_run: Annotated[bool, typer.Option(help="send nothing; say what would be sent")] = False,
    report: Annotated[Path | None, typer.Option(help="JSONL: one outcome per row")] = None,
    api_url: ApiUrl = "https://stamped.io",
    public_key: PublicKey = None,
    private_key: PrivateKey = None,
    store_hash: StoreHash = None,
    throttle_limit: ThrottleLimit = 500,
    throttle_seconds: ThrottleSeconds = 60.0,
    connections: Connections = 2,
    batch: Batch = 10,
    redis_url: RedisUrl = None,
    throttle_key: ThrottleKey = None,
) -> None:
    """Upsert the customers whose row changed since the last sync; apply subscriptions.

    Exit codes: 0 all sent or unchanged, 1 some rows failed, 2 usage error.
    """
    check_text_file(input)
    tuning = Tuning(throttle_limit, throttle_seconds, connections, batch, redis_url, throttle_key)
    with api_errors():
        client = make_client(tuning, api_url, public_key, private_key, store_hash)
        fh = report.open("w", encoding="utf-8") if report else None

        async def _sync(client: StampedClient) -> SyncReport:
            return await sync_customers(
                client,
                read_records(input),
                state=state,
                dry_run=dry_run,
                on_outcome=(lambda o: print(json.dumps(o.as_dict()), file=fh, flush=True))
                if fh
                else None,
                keep_outcomes=False,
            )

        async def run() -> None:
            try:
                async with client:
                    result = await _sync(client)
            finally:
                await release(client)
            c = result.counts
            verb = "would send" if dry_run else "sent"
            err.print(
                f"{verb} {c['would_send'] if dry_run else c['sent']}, unchanged "
                f"{c['unchanged']}, failed {c['failed']} ({result.requests} requests)"
            )
            if c["failed"]:
                raise typer.Exit(1)

        try:
            asyncio.run(run())
        finally:
            if fh:
                fh.close()
