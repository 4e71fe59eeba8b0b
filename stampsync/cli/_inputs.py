"""Reading batch input files: checked whole before anything is sent, streamed after.

A file that cannot be used (missing, not UTF-8, wrong columns, empty) stops the command
with exit code 2 before any request. A row that cannot be used fails alone later.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._csv import csv_rows
from .._engine.writes import Rejected, normal_key
from .._jsonl import json_row, jsonl_lines
from ..batch.sync import LINE_KEY, canonical_column
from ..batch.v3_rows import POINTS_COLUMNS, POINTS_OPTIONAL
from ..stamps.stamps import StampAward
from ._common import fail

AWARD_COLUMNS = ("key", "user", "store", "number_of_stamps")
AWARD_OPTIONAL = ("notes",)
_JSONL = (".jsonl", ".ndjson")


def check_text_file(path: Path) -> int:
    """Check ``path`` is a readable UTF-8 file; return its number of lines."""
    if not path.exists():
        fail(f"input file {path} does not exist")
    if not path.is_file():
        fail(f"input {path} is not a file")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    lines = 0
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                fail(f"{path} is not UTF-8 text (bad byte at offset {offset + exc.start})")
            lines += chunk.count(b"\n")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            fail(f"{path} is not UTF-8 text (it ends inside a character)")
    if offset == 0:
        fail(f"{path} is empty")
    return lines


def check_csv_header(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    *,
    ignore_extra_columns: bool = False,
) -> int:
    """Check the CSV's header names the ``required`` columns; return the number of rows."""
    check_text_file(path)
    try:
        return _check_csv(path, required, optional, ignore_extra_columns).rows
    except csv.Error as exc:
        fail(f"{path} is not valid CSV: {exc}")


def check_awards_file(path: Path, *, ignore_extra_columns: bool = False) -> int:
    """Check a mass-award CSV whole before anything is sent; return its number of rows.

    Refused (exit 2, naming the line and column): blank or repeated header cells, a
    missing required column, an unknown one (unless ``ignore_extra_columns``), a row
    without a key, and a key given twice (after Unicode NFC normalisation), naming both
    rows. A row that is merely wrong (bad number, too many cells) fails alone later.
    """
    check_text_file(path)
    try:
        checked = _check_csv(path, AWARD_COLUMNS, AWARD_OPTIONAL, ignore_extra_columns, "key")
    except csv.Error as exc:
        fail(f"{path} is not valid CSV: {exc}")
    return checked.rows


def check_records_file(path: Path) -> None:
    """Check a customer-sync input (CSV or JSONL) before anything is sent.

    A CSV is refused (exit 2, naming line 1 and the column) when a header cell is blank,
    when two cells name one field (``first_name`` twice, or ``firstname`` beside
    ``first_name``: which to send would be a guess), or when there is no ``email``
    column. JSONL rows are checked one by one as they are read, and fail alone.
    """
    check_text_file(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return
    with path.open(newline="", encoding="utf-8-sig") as fh:
        try:
            header = next(csv.reader(fh), None)
        except csv.Error as exc:
            fail(f"{path} is not valid CSV: {exc}")
    if not header:
        fail(f"{path} has no header row; expected at least the column email")
    seen: dict[str, tuple[int, str]] = {}
    for column, cell in enumerate(header, 1):
        if not cell.strip():
            fail(f"{path} line 1: header cell {column} is blank; every column needs a name")
        name = canonical_column(cell)
        if name in seen:
            first, as_given = seen[name]
            fail(
                f"{path} line 1: columns {first} ({as_given!r}) and {column} ({cell!r}) both "
                f"give {name}; which one to send would be a guess"
            )
        seen[name] = (column, cell)
    if "email" not in seen:
        fail(f"{path} has no email column; found: {','.join(header)}")


class KeyLines:
    """The line each key of an input file is on: a key given twice (after Unicode NFC
    normalisation) refuses the file whole (exit 2), naming both lines, before anything
    is sent, whichever command reads it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lines: dict[str, int] = {}

    def add(self, raw: str, line: int) -> str:
        """Note ``raw`` (normalised) on ``line``; refuse the file if another line has it."""
        key = normal_key(raw)
        first = self._lines.setdefault(key, line)
        if first != line:
            fail(
                f"{self._path} line {line}: key {key!r} is also on line {first}; "
                "each row needs its own key"
            )
        return key

    def keys(self) -> list[str]:
        """The keys noted, in the order of their lines."""
        return list(self._lines)


@dataclass(frozen=True)
class _Checked:
    rows: int
    names: list[str]


def _header(path: Path, header: list[str] | None, required: tuple[str, ...]) -> list[str]:
    if not header:
        fail(f"{path} has no header row; expected columns: {','.join(required)}")
    names = [h.strip() for h in header]
    seen: dict[str, int] = {}
    for column, name in enumerate(names, 1):
        if not name:
            fail(f"{path} line 1: header cell {column} is blank; every column needs a name")
        if name in seen:
            fail(
                f"{path} line 1: column {name!r} appears twice (columns {seen[name]} and "
                f"{column}); which one to use would be a guess"
            )
        seen[name] = column
    return names


def _check_csv(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    ignore_extra_columns: bool,
    key_column: str | None = None,
) -> _Checked:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        names = _header(path, next(reader, None), required)
        missing = [c for c in required if c not in names]
        if missing:
            fail(f"{path} is missing column(s) {', '.join(missing)}; found: {','.join(names)}")
        unknown = [c for c in names if c not in required + optional]
        if unknown and not ignore_extra_columns:
            fail(
                f"{path} has unknown column(s) {', '.join(unknown)}; expected: "
                f"{','.join(required + optional)} (or pass --ignore-extra-columns)"
            )
        key_at = names.index(key_column) if key_column else None
        keys = KeyLines(path)
        rows = 0
        line = reader.line_num + 1
        for row in reader:
            if "\x00" in "".join(row):
                fail(f"{path} line {line} contains a NUL character")
            if any(cell.strip() for cell in row):
                rows += 1
                if key_at is not None:
                    key = normal_key(row[key_at]) if key_at < len(row) else ""
                    if not key:
                        fail(f"{path} line {line}: the key (column {key_at + 1}) is empty")
                    keys.add(key, line)
            line = reader.line_num + 1
    if rows == 0:
        fail(f"{path} has a header but no rows")
    return _Checked(rows, names)


def _int_or_raw(value: str) -> int | str:
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        return text  # checked with the row, which then fails with a clear message


def read_awards(path: Path, *, default_store: int | None = None) -> Iterator[StampAward | Rejected]:
    """Stream ``key,user,store,number_of_stamps[,notes]`` rows as :class:`StampAward`.

    Each carries its line number as ``row``; a row with more cells than the header, or
    a blank store and no ``default_store`` (``--store``), becomes a :class:`Rejected`
    row, so it fails alone.
    """
    for found in csv_rows(path):
        number, row = found.line, found.stripped()
        key, user = row.get("key", ""), row.get("user", "")
        if found.problem:
            yield Rejected(key, found.problem, number, user or None)
            continue
        store = row.get("store", "")
        if not store and default_store is None:
            yield Rejected(
                key,
                f"line {number}: the store is blank; fill the store column or give "
                "--store N (the store of rows without one)",
                number,
                user or None,
            )
            continue
        yield StampAward(
            key=key,
            user=user,
            store=_int_or_raw(store) if store else default_store,  # type: ignore[arg-type]
            number_of_stamps=_int_or_raw(row.get("number_of_stamps", "")),  # type: ignore[arg-type]
            notes=row.get("notes") or None,
            row=number,
        )


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Stream rows of a CSV or JSONL file as dicts (JSONL: one object per line).

    Each carries its line in the file under :data:`~stampsync.batch.sync.LINE_KEY`, so
    the report can name it.
    """
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for number, line in jsonl_lines(path):
            row = json_row(number, line)
            yield {**(row if isinstance(row, dict) else {"__error__": row}), LINE_KEY: number}
    else:
        for found in csv_rows(path):
            record: dict[str, Any] = dict(found.cells)
            if found.problem:
                record["__error__"] = found.problem
            yield {**record, LINE_KEY: found.line}


def check_points_file(path: Path) -> int:
    """Check a points-adjustment input whole before anything is sent; return its number
    of rows. A CSV (``key,customer_id,points[,reason]``) is refused as an award file is
    (columns, empty or repeated keys); JSONL rows are checked one by one as they are read."""
    lines = check_text_file(path)
    if path.suffix.lower() in _JSONL:
        return lines
    try:
        return _check_csv(path, POINTS_COLUMNS, POINTS_OPTIONAL, False, "key").rows
    except csv.Error as exc:
        fail(f"{path} is not valid CSV: {exc}")
