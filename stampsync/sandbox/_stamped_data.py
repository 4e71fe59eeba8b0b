"""The Stamped.io sandbox's state: customers (lazily generated), reviews, loyalty."""

from __future__ import annotations

import bisect
from typing import Any

from ._data_common import FIRST, LAST, _h, now_iso

TIERS = [("Bronze", 0), ("Silver", 200), ("Gold", 500), ("Platinum", 1500)]


class StampedStore:
    """Customers, reviews, subscriptions and loyalty transactions of one store."""

    def __init__(self, seed: int, customers: int, reviews_per_customer: int = 1) -> None:
        self.seed = seed
        self.generated = customers
        self.overrides: dict[int, dict[str, Any]] = {}
        self.deleted: list[int] = []  # sorted ids of deleted generated customers
        self.deleted_extra: set[int] = set()
        self.extra: dict[int, dict[str, Any]] = {}  # created after start, ids > generated
        self.by_email: dict[str, int] = {}  # emails that differ from the generated pattern
        self.next_id = customers + 1
        self.subscribed: dict[str, bool] = {}
        self.transactions: list[dict[str, Any]] = []
        self.reviews_per_customer = reviews_per_customer

    # customers ---------------------------------------------------------------

    def _generated(self, i: int) -> dict[str, Any]:
        h = _h(self.seed, "stamped", i)
        points = h % 2000
        tier = next(name for name, floor in reversed(TIERS) if points >= floor)
        return {
            "id": i,
            "email": f"customer{i}@example.com",
            "firstName": FIRST[h % len(FIRST)],
            "lastName": LAST[(h >> 8) % len(LAST)],
            "customerId": f"shop-{i}",
            "points": points,
            "tier": tier,
            "totalSpend": round((h >> 16) % 500000 / 100, 2),
            "totalOrders": (h >> 24) % 40,
            "tags": [],
            "createdAt": "2024-01-01T00:00:00Z",
            "updatedAt": "2024-01-01T00:00:00Z",
        }

    def _is_deleted(self, i: int) -> bool:
        if i > self.generated:
            return i in self.deleted_extra or i not in self.extra
        pos = bisect.bisect_left(self.deleted, i)
        return pos < len(self.deleted) and self.deleted[pos] == i

    def get(self, i: int) -> dict[str, Any] | None:
        """The customer with Stamped id ``i``, or None."""
        if i < 1 or self._is_deleted(i):
            return None
        if i > self.generated:
            return self.extra[i]
        if i in self.overrides:
            return self.overrides[i]
        return self._generated(i)

    def id_for_email(self, email: str) -> int | None:
        email = email.lower()
        if email in self.by_email:
            i = self.by_email[email]
            return None if self._is_deleted(i) else i
        if email.startswith("customer") and email.endswith("@example.com"):
            digits = email[len("customer") : -len("@example.com")]
            if digits.isdigit() and not digits.startswith("0"):
                i = int(digits)
                record = self.get(i)
                if record is not None and record["email"].lower() == email:
                    return i
        return None

    def count(self) -> int:
        return self.generated - len(self.deleted) + len(self.extra) - len(self.deleted_extra)

    def page(self, page: int, limit: int) -> list[dict[str, Any]]:
        """Live customers in id order, page ``page`` of ``limit``."""
        return self.window((page - 1) * limit, limit)

    def window(self, start: int, limit: int) -> list[dict[str, Any]]:
        """``limit`` live customers in id order from offset ``start``."""
        live_generated = self.generated - len(self.deleted)
        out: list[dict[str, Any]] = []
        if start < live_generated:
            i = self._nth_generated(start)
            while len(out) < limit and i <= self.generated:
                record = self.get(i)
                if record is not None:
                    out.append(record)
                i += 1
        if len(out) < limit and self.extra:
            live_extra = [i for i in sorted(self.extra) if i not in self.deleted_extra]
            first = max(0, start - live_generated)
            out.extend(self.extra[i] for i in live_extra[first : first + limit - len(out)])
        return out

    def _nth_generated(self, n: int) -> int:
        """The id of the n-th (0-based) live generated customer."""
        lo, hi = 1, self.generated
        while lo < hi:  # smallest id with (id - deleted_up_to_id) > n
            mid = (lo + hi) // 2
            if mid - bisect.bisect_right(self.deleted, mid) > n:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def save(self, i: int, record: dict[str, Any]) -> dict[str, Any]:
        record["updatedAt"] = now_iso()
        if i > self.generated:
            self.extra[i] = record
        else:
            self.overrides[i] = record
        email = str(record.get("email", "")).lower()
        if email:
            self.by_email[email] = i
        return record

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        i = self.next_id
        self.next_id += 1
        record = {"id": i, "points": 0, "tags": [], "createdAt": now_iso(), **fields}
        return self.save(i, record)

    def delete(self, i: int) -> None:
        if i > self.generated:
            self.deleted_extra.add(i)
        else:
            bisect.insort(self.deleted, i)
        self.overrides.pop(i, None)

    # reviews -----------------------------------------------------------------

    def reviews_of(self, i: int) -> list[dict[str, Any]]:
        record = self.get(i)
        if record is None:
            return []
        h = _h(self.seed, "review", i)
        return [
            {
                "reviewId": f"r{i}-{k}",
                "rating": 1 + (h >> (k * 3)) % 5,
                "title": "Review",
                "body": f"Review {k + 1} by {record['firstName']}",
                "author": f"{record['firstName']} {record.get('lastName', '')}".strip(),
                "email": record["email"],
                "productId": str(100 + (h >> 20) % 50),
                "dateCreated": "2024-06-01T00:00:00Z",
            }
            for k in range(self.reviews_per_customer)
        ]
