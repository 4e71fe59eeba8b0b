"""CSV input rows: the one loop every reader of a CSV file uses (the commands' inputs,
the point of sale import, the fleet's campaigns), so every one numbers rows, skips blank
lines and refuses a row with more cells than its header the same way."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple


class CsvRow(NamedTuple):
    """One row that is not blank."""

    line: int
    """The line the row starts on (a quoted value may span more)."""
    cells: dict[str, str]
    """The row's values by column name (names stripped, values as written)."""
    problem: str | None
    """Why the row cannot be read (more cells than the header has), or None."""

    def stripped(self) -> dict[str, str]:
        """The values with surrounding spaces removed."""
        return {name: value.strip() for name, value in self.cells.items()}


def csv_header(path: Path) -> list[str] | None:
    """The column names of ``path`` (stripped), or None for an empty file."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), None)
    return None if header is None else [name.strip() for name in header]


def csv_rows(path: Path) -> Iterator[CsvRow]:
    """The rows of ``path`` after its header, blank ones skipped. Raises what reading
    raises (``csv.Error``, ``UnicodeDecodeError``): each reader says what it means."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        names = [name.strip() for name in header]
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            problem = None
            if len(cells) > len(names):
                problem = (
                    f"line {line} has {len(cells)} cells but the header has {len(names)} "
                    "(more cells than the header): a comma inside a value needs quotes"
                )
            yield CsvRow(line, dict(zip(names, cells, strict=False)), problem)
