"""The sandbox's state: seeded, reproducible, generated lazily.

A store of 100 000 customers costs nothing until they are read: customer ``i`` is a
pure function of the seed and ``i``. Only records that were written are kept.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

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
TIERS = [("Bronze", 0), ("Silver", 200), ("Gold", 500), ("Platinum", 1500)]
LEVELS = [(0, "Silver"), (100, "Blue"), (200, "Gold"), (300, "Platinum")]


def _h(seed: int, kind: str, i: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{kind}:{i}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def today() -> str:
    return dt.date.today().isoformat()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- Stamped.io


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


# --------------------------------------------------------------------------- Stamps


@dataclass
class Member:
    """A Stamps customer and their membership at the sandbox merchant."""

    pk: int
    name: str
    email: str
    phone: str
    member_id: str
    stamps: int
    level: int = 0
    gender: str | None = None
    birthday: str | None = None
    address: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    anonymized: bool = False
    pending_anonymization: bool = False
    registration_status: str = "Full"
    extra: dict[str, Any] = field(default_factory=dict)

    def level_text(self) -> str:
        return next((text for value, text in reversed(LEVELS) if self.level >= value), "Silver")

    def membership(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "tags": [t["tag"] for t in self.tags],
            "level": self.level,
            "level_text": self.level_text(),
            "status": self.level,
            "status_text": self.level_text(),
            "member_status": "Active",
            "stamps": self.stamps,
            "stamps_owed": 0,
            "balance": 0,
            "is_blocked": False,
            "referral_code": f"RC{self.pk:05d}",
            "start_date": "2024-01-01",
            "created": "2024-01-01",
            "primary_card": {
                "id": self.pk,
                "number": self.member_id,
                "is_active": True,
                "activated_time": None,
            },
        }

    def user(self) -> dict[str, Any]:
        return {
            "id": str(self.pk),
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "gender": self.gender,
            "birthday": self.birthday,
            "address": self.address,
            "is_active": True,
            "member_ids": [self.member_id],
            "email_is_verified": False,
            "phone_is_verified": False,
            "is_anonymized": self.anonymized,
            "registration_status": self.registration_status,
            **self.extra,
        }


@dataclass
class AwardRecord:
    id: int
    pk: int
    store: int
    stamps: int
    notes: str | None
    status: str = "Active"


class StampsStore:
    """Members, awards and deductions of one merchant."""

    def __init__(self, seed: int, members: int, stores: tuple[int, ...] = (1, 2, 3)) -> None:
        self.seed = seed
        self.generated = members
        self.stores = stores
        self.members: dict[int, Member] = {}
        self.by_email: dict[str, int] = {}
        self.by_phone: dict[str, int] = {}
        self.by_member_id: dict[str, int] = {}
        self.next_pk = members + 1
        self.awards: dict[int, AwardRecord] = {}
        self.next_award = 1000
        self.deductions: list[dict[str, Any]] = []
        self.otps: dict[str, str] = {}
        self.otp_counter = 0

    def _generate(self, pk: int) -> Member:
        h = _h(self.seed, "stamps", pk)
        member = Member(
            pk=pk,
            name=f"{FIRST[h % len(FIRST)]} {LAST[(h >> 8) % len(LAST)]}",
            email=f"member{pk}@example.com",
            phone=f"+62811{pk:07d}",
            member_id=f"RR{pk:08d}",
            stamps=h % 100,
            gender=("male", "female")[(h >> 4) % 2],
        )
        self._index(member)
        return member

    def _index(self, member: Member) -> None:
        self.members[member.pk] = member
        self.by_email[member.email.lower()] = member.pk
        self.by_phone[member.phone] = member.pk
        self.by_member_id[member.member_id] = member.pk

    def get(self, pk: int) -> Member | None:
        if pk in self.members:
            return self.members[pk]
        if 1 <= pk <= self.generated:
            return self._generate(pk)
        return None

    def find(self, ref: object) -> Member | None:
        """Look a customer up by email, member id, mobile number or primary key."""
        if isinstance(ref, bool):
            return None
        if isinstance(ref, int):
            return self.get(ref)
        if not isinstance(ref, str) or not ref:
            return None
        ref = ref.strip()
        if ref.isdigit():
            return self.get(int(ref))
        if "@" in ref:
            pk = self.by_email.get(ref.lower())
            if (
                pk is None
                and ref.lower().startswith("member")
                and ref.lower().endswith("@example.com")
            ):
                digits = ref[len("member") : -len("@example.com")]
                if digits.isdigit() and not digits.startswith("0"):
                    candidate = self.get(int(digits))
                    if candidate is not None and candidate.email.lower() == ref.lower():
                        return candidate
            return self.get(pk) if pk is not None else None
        if ref.startswith("+"):
            pk = self.by_phone.get(ref)
            if pk is None and ref.startswith("+62811") and ref[6:].isdigit():
                candidate = self.get(int(ref[6:]))
                if candidate is not None and candidate.phone == ref:
                    return candidate
            return self.get(pk) if pk is not None else None
        pk = self.by_member_id.get(ref)
        if pk is None and ref.startswith("RR") and ref[2:].isdigit():
            candidate = self.get(int(ref[2:]))
            if candidate is not None and candidate.member_id == ref:
                return candidate
        return self.get(pk) if pk is not None else None

    def email_in_use(self, email: str) -> bool:
        return self.find(email) is not None

    def register(self, name: str, email: str, phone: str, **extra: Any) -> Member:
        pk = self.next_pk
        self.next_pk += 1
        member = Member(
            pk=pk, name=name, email=email, phone=phone, member_id=f"RN{pk:08d}", stamps=0, **extra
        )
        self._index(member)
        return member

    def rename_email(self, member: Member, email: str) -> None:
        self.by_email.pop(member.email.lower(), None)
        member.email = email
        self.by_email[email.lower()] = member.pk

    def rename_phone(self, member: Member, phone: str) -> None:
        self.by_phone.pop(member.phone, None)
        member.phone = phone
        self.by_phone[phone] = member.pk

    def new_award(self, member: Member, store: int, stamps: int, notes: str | None) -> AwardRecord:
        award = AwardRecord(self.next_award, member.pk, store, stamps, notes)
        self.next_award += 1
        self.awards[award.id] = award
        member.stamps += stamps
        return award

    def new_otp(self, target: str) -> str:
        self.otp_counter += 1
        otp = f"{_h(self.seed, 'otp', self.otp_counter) % 1_000_000:06d}"
        self.otps[target] = otp
        return otp
