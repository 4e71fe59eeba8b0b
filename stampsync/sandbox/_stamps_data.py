"""The Stamps sandbox's state: members (lazily generated), awards, deductions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._data_common import FIRST, LAST, _h

LEVELS = [(0, "Silver"), (100, "Blue"), (200, "Gold"), (300, "Platinum")]


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
            email = ref.lower()
            digits = ""
            if email.startswith("member") and email.endswith("@example.com"):
                digits = ref[len("member") : -len("@example.com")]
            if digits.startswith("0"):
                digits = ""
            return self._lookup(
                self.by_email.get(email), digits, lambda m: m.email.lower() == email
            )
        if ref.startswith("+"):
            digits = ref[6:] if ref.startswith("+62811") else ""
            return self._lookup(self.by_phone.get(ref), digits, lambda m: m.phone == ref)
        digits = ref[2:] if ref.startswith("RR") else ""
        return self._lookup(self.by_member_id.get(ref), digits, lambda m: m.member_id == ref)

    def _lookup(self, pk: int | None, digits: str, same: Callable[[Member], bool]) -> Member | None:
        """The member indexed at ``pk``; if none is, the generated one numbered by the
        reference's ``digits``, when its own field still is that reference (``same``)."""
        if pk is None and digits.isdigit():
            candidate = self.get(int(digits))
            if candidate is not None and same(candidate):
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
