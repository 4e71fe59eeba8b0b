"""What both APIs' sandbox stores share: seeded names, stable hashing, timestamps.

Every record is a pure function of the seed and its number, generated when read; only
records that were written are kept (see ``_stamped_data`` and ``_stamps_data``).
"""

from __future__ import annotations

import datetime as dt
import hashlib

FIRST = [
    "Ann",
    "Budi",
    "Citra",
    "Dewi",
    "Eko",
    "Fajar",
    "Gita",
    "Hadi",
    "Intan",
    "Joko",
    "Kartika",
    "Lestari",
    "Made",
    "Nadia",
    "Oka",
    "Putri",
    "Rizky",
    "Sari",
    "Tono",
    "Wati",
]
LAST = [
    "Santoso",
    "Wijaya",
    "Halim",
    "Pratama",
    "Kusuma",
    "Saputra",
    "Hidayat",
    "Lim",
    "Tan",
    "Gunawan",
    "Susanto",
    "Siregar",
]


def _h(seed: int, kind: str, i: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{kind}:{i}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def today() -> str:
    """Today's date, ``YYYY-MM-DD``."""
    return dt.date.today().isoformat()


def now_iso() -> str:
    """Now, in UTC, as the APIs write times (``2026-11-23T12:00:00Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
