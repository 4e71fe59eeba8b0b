"""The rows of a point of sale's day-end file (JSONL, or the flat CSV form), read as the
CLI's import and a fleet campaign read them: each a :class:`PosTransaction`, or a
:class:`~stampsync._engine.writes.Rejected` row saying what is wrong with it."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from .._csv import csv_rows
from .._engine.writes import Rejected
from .._jsonl import json_row, jsonl_lines
from ..stamps.transactions import PosTransaction

NUMBERS = ("total_value", "sub_total", "discount", "service_charge", "tax")
INTEGERS = ("number_of_people", "store", "channel", "type", "stamps")


def is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # the row then fails with the field named


def _flat_items(text: str) -> list[dict[str, Any]]:
    items = []
    for part in filter(None, (p.strip() for p in text.split("|"))):
        head, _, subtotal = part.rpartition("=")
        name, _, quantity = head.rpartition("*")
        if not name or not quantity or not subtotal:
            raise ValueError(f"item {part!r} is not name*quantity=subtotal")
        items.append(
            {"product_name": name, "quantity": _number(quantity), "subtotal": _number(subtotal)}
        )
    return items


def _flat_payments(text: str) -> list[dict[str, Any]]:
    payments = []
    for part in filter(None, (p.strip() for p in text.split("|"))):
        method, _, value = part.rpartition("=")
        if not method or not value:
            raise ValueError(f"payment {part!r} is not method=value")
        payments.append({"payment_method": _number(method), "value": _number(value)})
    return payments


def csv_fields(cells: dict[str, str]) -> dict[str, Any]:
    """A flat-CSV row's cells as the fields of a transaction (numbers, items, payments)."""
    row: dict[str, Any] = {}
    for name, raw in cells.items():
        value = raw.strip()
        if not value:
            continue
        if name in NUMBERS or name in INTEGERS:
            row[name] = _number(value)
        elif name == "items":
            row[name] = _flat_items(value)
        elif name == "payments":
            row[name] = _flat_payments(value)
        else:
            row[name] = value
    return row


def to_transaction(data: dict[str, Any], number: int) -> PosTransaction | Rejected:
    """One row's fields as a transaction, or the row rejected with the field named."""
    key = data.get("key")
    user = data.get("user")
    try:
        parsed = msgspec.convert({**data, "row": number}, PosTransaction, strict=False)
    except msgspec.ValidationError as exc:
        return Rejected(
            key if isinstance(key, str) and key else f"line-{number}",
            f"line {number}: {exc}",
            number,
            None if user is None else str(user),
        )
    return parsed


def pos_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(line, fields)`` for each row of a JSONL or flat-CSV file, or ``(line, why)``
    for a line that cannot be read as one."""
    if is_jsonl(path):
        for number, line in jsonl_lines(path):
            yield number, json_row(number, line)
        return
    try:
        yield from _csv_records(path)
    except (UnicodeDecodeError, csv.Error) as exc:
        # A file that stops being readable part way: the rest cannot be told apart.
        what = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        yield 0, f"the rest of {path.name} cannot be read ({what})"


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for found in csv_rows(path):
        if found.problem:
            yield found.line, found.problem
            continue
        try:
            yield found.line, csv_fields(found.cells)
        except ValueError as exc:
            yield found.line, f"line {found.line}: {exc}"


def read_transactions(path: Path) -> Iterator[PosTransaction | Rejected]:
    """Stream the rows of a JSONL or flat-CSV import file, each with its line number."""
    for number, data in pos_records(path):
        if isinstance(data, str):
            yield Rejected(f"line-{number}", data, number)
        else:
            yield to_transaction(data, number)
