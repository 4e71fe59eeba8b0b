"""JSONL input read line by line within a cap: what every importer of JSONL files uses."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["MAX_JSONL_LINE", "json_row", "jsonl_lines", "too_long"]

#: The longest JSONL line read, in bytes (1 MiB). As the csv module's field cap bounds a
#: CSV cell, this bounds a JSONL row: a longer line is that row's error, read past in
#: chunks and never held whole, so one huge line cannot take the memory of a run.
MAX_JSONL_LINE = 1 << 20
_SKIP_CHUNK = 1 << 16


def jsonl_lines(path: Path, limit: int = MAX_JSONL_LINE) -> Iterator[tuple[int, str | None]]:
    """Each non-blank line of a UTF-8 JSONL file with its number (from 1); the text is
    ``None`` for a line longer than ``limit`` bytes, which is skipped up to its end."""
    with path.open("rb") as fh:
        number = 0
        while raw := fh.readline(limit + 1):
            number += 1
            if len(raw) > limit and not raw.endswith(b"\n"):
                while (chunk := fh.readline(_SKIP_CHUNK)) and not chunk.endswith(b"\n"):
                    pass
                yield number, None
                continue
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            text = raw.decode("utf-8", errors="replace")
            if text.strip():
                yield number, text


def too_long(number: int, limit: int = MAX_JSONL_LINE) -> str:
    """The error of a JSONL line over the cap."""
    return f"line {number} is longer than {limit:,} bytes (the JSONL line cap); not read"


def json_row(number: int, text: str | None) -> dict[str, Any] | str:
    """A JSONL line parsed as an object, or the row's error (too long, not JSON, not an
    object, a number too long to read)."""
    if text is None:
        return too_long(number)
    try:
        row = json.loads(text)
    except (ValueError, RecursionError):
        # JSONDecodeError, an integer of more digits than Python reads, a document nested
        # deeper than the interpreter recurses.
        return f"line {number} is not JSON"
    if not isinstance(row, dict):
        return f"line {number} is not a JSON object"
    return row
