"""Reading batch input files: checked whole before anything is sent, streamed after.

A file that cannot be used (missing, not UTF-8, wrong columns, empty) stops the command
with exit code 2 before any request. A row that cannot be used fails alone later.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..stamps.stamps import StampAward
from ._common import fail

AWARD_COLUMNS = ("key", "user", "store", "number_of_stamps")
AWARD_OPTIONAL = ("notes",)


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


def check_csv_header(path: Path, required: tuple[str, ...], optional: tuple[str, ...]) -> int:
    """Check the CSV's header names the ``required`` columns; return the number of rows."""
    check_text_file(path)
    try:
        return _check_csv(path, required, optional)
    except csv.Error as exc:
        fail(f"{path} is not valid CSV: {exc}")


def _check_csv(path: Path, required: tuple[str, ...], optional: tuple[str, ...]) -> int:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            fail(f"{path} has no header row; expected columns: {','.join(required)}")
        names = [h.strip() for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            fail(f"{path} is missing column(s) {', '.join(missing)}; found: {','.join(names)}")
        unknown = [c for c in names if c not in required + optional]
        if unknown:
            fail(
                f"{path} has unknown column(s) {', '.join(unknown)}; "
                f"expected: {','.join(required + optional)}"
            )
        rows = 0
        for row in reader:
            if "\x00" in "".join(row):
                fail(f"{path} line {reader.line_num} contains a NUL character")
            rows += any(cell.strip() for cell in row)
    if rows == 0:
        fail(f"{path} has a header but no rows")
    return rows


def _int_or_raw(value: str) -> int | str:
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        return text  # checked with the row, which then fails with a clear message


def read_awards(path: Path) -> Iterator[StampAward]:
    """Stream ``key,user,store,number_of_stamps[,notes]`` rows as :class:`StampAward`."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if not any((v or "").strip() for v in row.values()):
                continue
            store = (row.get("store") or "").strip()
            yield StampAward(
                key=(row.get("key") or "").strip(),
                user=(row.get("user") or "").strip(),
                store=_int_or_raw(store) if store else None,  # type: ignore[arg-type]
                number_of_stamps=_int_or_raw(row.get("number_of_stamps") or ""),  # type: ignore[arg-type]
                notes=(row.get("notes") or "").strip() or None,
            )


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Stream rows of a CSV or JSONL file as dicts (JSONL: one object per line)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = {"__error__": f"line {number} is not JSON"}
                if not isinstance(row, dict):
                    row = {"__error__": f"line {number} is not a JSON object"}
                yield row
    else:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                if any((v or "").strip() for v in row.values() if isinstance(v, str)):
                    yield {k.strip(): v for k, v in row.items() if k is not None}
