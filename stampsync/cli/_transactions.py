"""``stampsync stamps transactions import``: a point of sale's day-end import.

Input, one transaction per row:

- **JSONL** (``.jsonl``/``.ndjson``): one object per line with the fields of
  ``POST /api/v2/transactions/add`` (``store``, ``invoice_number``, ``total_value``,
  ``number_of_people``, ``created``, ``user``, ``items``, ``payments``, ...) and an
  optional ``key``.
- **CSV**, a flat form: columns ``invoice_number,total_value,number_of_people,created``
  (required) and ``key,store,user,sub_total,discount,service_charge,tax,channel,type,
  stamps,employee_code,items,payments`` (optional). ``items`` holds
  ``name*quantity=subtotal`` lines joined by ``|`` (``Latte*2=50000|Tea*1=15000``);
  ``payments`` holds ``method=value`` joined by ``|`` (``10=30000|43=20000``).

A row without ``key`` is journaled by its invoice's natural key,
``<store>:<invoice_number>:<day of created>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from .._csv import csv_rows
from .._engine.journal import WriteJournal
from .._engine.writes import BatchReport, Outcome, Rejected
from .._jsonl import json_row, jsonl_lines
from .._validate import DEFAULT_MAX_STAMPS, DEFAULT_MAX_VALUE, field_problem
from ..batch.pos_rows import csv_fields, is_jsonl
from ..stamps.client import StampsClient
from ..stamps.transactions import PosTransaction
from ._common import Tuning, api_errors, fail, with_options
from ._inputs import (
    KeyLines,
    check_csv_header,
    check_text_file,
)
from ._report import ReportFile, run_batch_file
from ._stamps import (
    Account,
    JournalSpec,
    Merchant,
    StampsAccess,
    run_journaled,
    summary,
    write_journal,
)

app = typer.Typer(help="Transactions: a point of sale's day-end import.", no_args_is_help=True)

CSV_REQUIRED = ("invoice_number", "total_value", "number_of_people", "created")
CSV_OPTIONAL = (
    "key",
    "store",
    "user",
    "sub_total",
    "discount",
    "service_charge",
    "tax",
    "channel",
    "type",
    "stamps",
    "employee_code",
    "items",
    "payments",
)

#: Why a row without a store cannot be used, in the command line's words.
NO_STORE = (
    "the store is blank; fill the store field or give --store N (the store of rows without one)"
)


def _row_key(data: dict[str, Any], number: int, default_store: int | None) -> str:
    """The row's key as the report and the journal show it, the same whether or not the
    row is valid: its ``key``, else its natural key, else (unusable) ``line-N``."""
    key = data.get("key")
    if isinstance(key, str) and key.strip():
        return key
    store = data.get("store", default_store)
    invoice, created = data.get("invoice_number"), data.get("created")
    if store is not None and isinstance(invoice, str) and isinstance(created, str):
        sketch = PosTransaction(
            invoice_number=invoice, total_value=0, number_of_people=0, created=created
        )
        return sketch.natural_key(store)
    return f"line-{number}"


def _row(data: dict[str, Any], number: int, default_store: int | None) -> PosTransaction | Rejected:
    key = _row_key(data, number, default_store)
    user = data.get("user")
    shown_user = None if user is None else str(user)
    try:
        parsed = msgspec.convert({**data, "row": number}, PosTransaction, strict=False)
    except msgspec.ValidationError as exc:
        return Rejected(key, f"line {number}: {field_problem(exc)}", number, shown_user)
    if parsed.store is None and default_store is None:
        return Rejected(key, f"line {number}: {NO_STORE}", number, shown_user)
    return parsed


def _numbered(
    path: Path, default_store: int | None
) -> Iterator[tuple[int, PosTransaction | Rejected]]:
    if is_jsonl(path):
        for number, line in jsonl_lines(path):
            data = json_row(number, line)
            if isinstance(data, str):
                yield number, Rejected(f"line-{number}", data, number)
                continue
            yield number, _row(data, number, default_store)
        return
    for found in csv_rows(path):
        number = found.line
        # The row's key is read from its cells before anything else can fail, so a bad
        # row is reported under the key it names, as a good one would be.
        key = _row_key({k: v for k, v in found.stripped().items() if v}, number, default_store)
        if found.problem:
            yield number, Rejected(key, found.problem, number)
            continue
        try:
            data = csv_fields(found.cells)
        except ValueError as exc:
            yield number, Rejected(key, f"line {number}: {exc}", number)
            continue
        yield number, _row(data, number, default_store)


def read_transactions(
    path: Path, default_store: int | None = None
) -> Iterator[PosTransaction | Rejected]:
    """Stream the rows of a JSONL or flat-CSV import file, each with its line number.

    A row without a store, when there is no ``default_store`` (``--store``), fails alone.
    """
    for _, row in _numbered(path, default_store):
        yield row


def check_keys(path: Path, default_store: int | None) -> list[str]:
    """Every key of the import file (given, or the invoice's natural key), in order; a
    key on two lines refuses the file whole (exit 2) naming both, as ``award`` does."""
    keys = KeyLines(path)
    for number, row in _numbered(path, default_store):
        if isinstance(row, PosTransaction):
            keys.add(row.journal_key(default_store), number)
        elif row.key != f"line-{number}":
            keys.add(row.key, number)
    return keys.keys()


def check_transactions_file(path: Path) -> int:
    """Check an import file before anything is sent; return its number of rows."""
    if is_jsonl(path):
        check_text_file(path)
        rows = sum(1 for _ in jsonl_lines(path))
        if rows == 0:
            fail(f"{path} has no rows")
        return rows
    return check_csv_header(path, CSV_REQUIRED, CSV_OPTIONAL)


async def import_file(
    client: StampsClient, path: Path, journal: WriteJournal, report: ReportFile, total: int
) -> BatchReport:
    """Add every row of ``path``; stream the report; SIGINT/SIGTERM stop gracefully."""
    recovered: set[str] = set()

    def line(outcome: Outcome) -> dict[str, Any]:
        row = outcome.as_dict()
        row["transaction_id"] = row.pop("award_id")
        row["recovered"] = outcome.key in recovered
        return row

    rows = read_transactions(path, client.store)
    add = partial(client.transactions.add_many, rows, recovered=recovered)
    return await run_journaled(
        client, journal, report, total, ("importing", "transactions"), line, add
    )


@app.command("import")
@with_options(access=StampsAccess, tuning=Tuning)
def import_(
    input: Annotated[Path, typer.Option("--input", help="day.jsonl, or day.csv in the flat form")],
    journal: JournalSpec,
    report: Annotated[Path, typer.Option("--report", help="JSONL: one outcome per row")],
    store: Annotated[
        int | None, typer.Option(min=1, help="store id for rows that name none")
    ] = None,
    account: Account = None,
    merchant: Merchant = None,
    max_stamps: Annotated[
        int,
        typer.Option(min=1, help="most stamps one row may give (its stamps field); over it fails"),
    ] = DEFAULT_MAX_STAMPS,
    max_value: Annotated[
        float,
        typer.Option(
            min=1, help="largest money value of a row (totals, items, payments); over it fails"
        ),
    ] = DEFAULT_MAX_VALUE,
    *,
    access: StampsAccess,
    tuning: Tuning,
) -> None:
    """Add every transaction of a day's file, each key at most once.

    Every amount must be a finite number, not negative, and at most ``--max-value``; a
    row's ``stamps`` at most ``--max-stamps``: a row over them fails alone, unsent.

    A lost answer is resolved by the invoice when the server proves the sale is this
    row's (the row is applied, ``recovered`` in the report); otherwise it stays
    ambiguous. A key on two lines (given twice, or one invoice's natural key twice) refuses
    the file, naming both lines. Exit codes: 0 all applied; 1 some rows failed (a rerun
    retries them); 2 refused before anything was sent; 3 some ambiguous (resolve them
    first: stampsync stamps journal resolve); 4 stopped early; 130/143 interrupted; 70
    internal error.
    """
    total = check_transactions_file(input)
    with api_errors():
        client = access.client(
            tuning,
            store,
            merchant,
            limits={"max_stamps": max_stamps, "max_value": max_value},
        )
        keys = check_keys(input, client.store)
        jrn = write_journal(journal, client, account, keys)

    async def run(out: ReportFile) -> BatchReport:
        return await import_file(client, input, jrn, out, total)

    result = run_batch_file(jrn, report, run, "transactions")
    summary(
        result,
        journal,
        more=f", {result.counts.get('recovered', 0)} recovered after a lost answer",
        ambiguous="transaction(s) are ambiguous: the invoice lookup failed or could not "
        "prove them (see the report's errors).",
    )
    raise typer.Exit(result.exit_code)
