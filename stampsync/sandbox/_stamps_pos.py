"""The sandbox's point-of-sale routes: transactions, redemptions, rewards, vouchers,
balances, stores, activities and expiration journals, with the business rules the
vendor's reference documents (or that a simple, stated rule can stand in for).

Rules kept, beyond field checks:

- an invoice number is unique per store and day (the day of ``created``, in its own
  offset): a second ``add`` answers 400 in the documented list shape;
- ``add-or-update`` is keyed on (store, invoice_number), as the vendor's update payload
  (which names no day) implies: it completes the latest transaction of that invoice in
  that store, whatever its day or customer, and adds one only when none exists;
- ``by-user`` shows ``created`` as a Unix time, or (``listing_created``) leaves it out
  or writes it as non-ISO text, so clients can be tested against listings they cannot
  match on;
- a transaction earns ``stamps`` if given, else the ``stamps_subtotal`` of its eligible
  items if any item has one, else one stamp per :data:`RP_PER_STAMP` of its value less
  the items marked ineligible; an open transaction (no customer) earns nobody stamps;
- cancelling takes the stamps back (400 ``info`` when the customer has spent them);
  modifying re-computes them from the new value;
- redeeming a reward deducts its stamps (voucher-type rewards issue a voucher);
  redeeming a voucher uses one of its quantity; a dynamic voucher's value is deducted;
- rewards and activities are keyset-paged; balances move and cancel.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from .._endpoint import Endpoint
from ..stamps import (
    activities,
    auth,
    balances,
    diagnostics,
    redemptions,
    rewards,
    stores,
    transactions,
    vouchers,
)
from ._data import Member, StampsStore
from ._middleware import Gate, json_response
from ._stamps import Invalid, Refused, _int, _required, json_route

#: The sandbox's earning rule: one stamp per this much of a transaction's value.
RP_PER_STAMP = 10_000
#: Transactions per page of ``by-user`` (small, so pagination is exercised).
BY_USER_PAGE = 10
#: Activities per page, as the documents fix it.
ACTIVITY_PAGE = 20
REWARDS = 60
PROMO_CODES = frozenset({"PROMO10", "WELCOME"})
#: The PIN every sandbox customer has, for ``redemptions/authorize``.
SANDBOX_PIN = "123456"
PIN_ATTEMPTS = 3
LEGACY_DETAIL = "Your transaction cannot be completed due to the following error(s)"


class Answer(Refused):
    """An answer other than 200, in whatever shape the documents show for it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body

    def response(self) -> web.Response:
        return json_response(self.body, self.status)


def _params(request: web.Request) -> dict[str, Any]:
    """The query (a repeated parameter as a list) and the path's parameters."""
    data: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        data[key] = values if len(values) > 1 else values[0]
    data.update(request.match_info)
    return data


def legacy(field_name: str, message: str) -> Answer:
    """400 in the list shape the transaction documents show."""
    return Answer(400, {"detail": LEGACY_DETAIL, "errors": [{field_name: message}]})


def not_found(what: str) -> Answer:
    return Answer(404, {"detail": f"{what} not found"})


def _number(data: dict[str, Any], name: str, *, required: bool = True) -> float | None:
    value = data.get(name)
    if value is None:
        if required:
            raise legacy(name, "This field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise legacy(name, "A valid number is required.")
    return float(value)


def _created(data: dict[str, Any]) -> dt.datetime:
    value = data.get("created")
    if not isinstance(value, str):
        raise legacy("created", "This field is required.")
    try:
        created = dt.datetime.fromisoformat(value)
    except ValueError:
        raise legacy("created", "Datetime has wrong format.") from None
    if created.tzinfo is None:
        raise legacy("created", "Datetime must carry an offset.")
    return created


@dataclass
class Tx:
    id: int
    pk: int | None
    store: int
    invoice: str
    day: str
    created: int
    value: float
    stamps: int
    number_of_people: int | None
    discount: float | None
    subtotal: float | None
    channel: int | None
    items: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    status: int = 1  # 1 new, 2 canceled, 3 open

    def short(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "value": self.value,
            "stamps_earned": self.stamps,
            "number_of_people": self.number_of_people,
            "discount": self.discount,
        }


@dataclass
class VoucherRecord:
    id: int
    code: str
    pk: int
    template: int
    value: float | None
    quantity: int
    start: str
    end: str
    notes: str = ""

    def view(self, template: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "name": template["name"],
            "is_active": self.quantity > 0,
            "quantity": self.quantity,
            "value": self.value,
            "notes": self.notes,
            "start_date": self.start,
            "end_date": self.end,
            "constraint": {"channels": [1, 2, 3, 4]},
            "template": {**template, "merchant_id": 1, "merchant_code": "SANDBOX"},
        }


TEMPLATES: dict[int, dict[str, Any]] = {
    1: {"id": 1, "name": "Rp 50,000 off", "type": 2, "value": 50000.0, "dynamic": False},
    2: {"id": 2, "name": "Gift card", "type": 2, "value": None, "dynamic": True},
    3: {"id": 3, "name": "Free drink", "type": 3, "value": None, "dynamic": False},
}


def _template_view(template_id: int) -> dict[str, Any]:
    t = TEMPLATES[template_id]
    return {"id": t["id"], "name": t["name"], "type": t["type"], "extra_data": {}}


def _reward(i: int) -> dict[str, Any]:
    kind = 4 if i % 10 == 0 else (5 if i % 10 == 5 else 3)
    return {
        "id": i,
        "name": f"Reward {i}",
        "code": f"RW{i:03d}",
        "stamps_to_redeem": 5 + (i * 7) % 50,
        "type": kind,
        "description": f"Sandbox reward {i}",
        "membership": "Silver",
        "price": None,
        "image_url": None,
        "landscape_url": None,
        "merchant_code": None,
        "is_visible": True,
        "terms": "",
        "extra_data": {},
    }


class PosState:
    """Point-of-sale state of the sandbox merchant, beside the members of ``StampsStore``."""

    def __init__(self, members: StampsStore) -> None:
        self.members = members
        self.txs: dict[int, Tx] = {}
        self.by_key: dict[tuple[int, str, str], int] = {}
        self.next_tx = 5000
        self.balances: dict[int, float] = {}
        self.balance_updates: dict[int, dict[str, Any]] = {}
        self.vouchers: dict[int, VoucherRecord] = {}
        self.redemptions: dict[int, dict[str, Any]] = {}
        self.activities: dict[int, list[dict[str, Any]]] = {}
        self.stores: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
        self.pin_attempts: dict[int, int] = {}
        self.authorized: dict[str, float] = {}
        self.next_id = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def log(self, member: Member | None, kind: int, **parts: Any) -> None:
        if member is None:
            return
        entry = {"id": self.new_id(), "type": kind, "created": _now(), "notes": "", **parts}
        self.activities.setdefault(member.pk, []).append(entry)

    def customer(self, member: Member | None) -> dict[str, Any] | None:
        if member is None:
            return None
        return {
            "id": member.pk,
            "mobile_phone": member.phone,
            "stamps_remaining": member.stamps,
            "balance": self.balances.get(member.pk, 0.0),
            "status": member.level_text(),
        }

    def membership(self, member: Member) -> dict[str, Any]:
        return {**member.membership(), "balance": self.balances.get(member.pk, 0.0)}

    def issue_voucher(
        self, member: Member, template: int, quantity: int = 1, value: float | None = None
    ) -> VoucherRecord:
        vid = self.new_id()
        start = dt.date.today()
        record = VoucherRecord(
            id=vid,
            code=f"VC{vid:06d}",
            pk=member.pk,
            template=template,
            value=value if value is not None else TEMPLATES[template]["value"],
            quantity=quantity,
            start=start.isoformat(),
            end=(start + dt.timedelta(days=30)).isoformat(),
        )
        self.vouchers[vid] = record
        return record


def _now() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp())


def earned(data: dict[str, Any], value: float) -> int:
    """The sandbox's earning rule (see the module docstring)."""
    custom = data.get("stamps")
    if isinstance(custom, int) and not isinstance(custom, bool) and custom >= 0:
        return custom
    items = data.get("items") or []
    eligible = [i for i in items if isinstance(i, dict) and i.get("eligible_for_stamps", True)]
    if any("stamps_subtotal" in i for i in eligible):
        return sum(int(i.get("stamps_subtotal") or 0) for i in eligible)
    ineligible = sum(
        float(i.get("subtotal") or i.get("price") or 0)
        for i in items
        if isinstance(i, dict) and i.get("eligible_for_stamps", True) is False
    )
    return max(0, int((value - ineligible) // RP_PER_STAMP))


def _items(data: dict[str, Any]) -> list[dict[str, Any]]:
    items = data.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise legacy("items", "Expected a list of items.")
    for item in items:
        if not isinstance(item, dict) or not item.get("product_name"):
            raise legacy("product_name", "This field is required.")
        if not isinstance(item.get("quantity"), int | float):
            raise legacy("quantity", "This field is required.")
    return items


class PosRoutes:
    """Handlers of the point-of-sale endpoints."""

    def __init__(self, members: StampsStore, gate: Gate) -> None:
        self.store = members
        self.gate = gate
        self.merchant = gate.config.merchant
        self.pos = PosState(members)

    def table(self) -> list[tuple[Endpoint[Any], Any]]:
        h = self._wrap
        t, r, v = transactions, redemptions, vouchers
        return [
            (t.TRANSACTIONS_ADD, h(self.add)),
            (t.TRANSACTIONS_ADD_WITH_REDEMPTIONS, h(self.add_with_redemptions)),
            (t.TRANSACTIONS_ADD_OR_UPDATE, h(self.add_or_update)),
            (t.TRANSACTIONS_CANCEL, h(self.cancel)),
            (t.TRANSACTIONS_MODIFY, h(self.modify)),
            (t.TRANSACTIONS_DETAILS, h(self.details)),
            (t.TRANSACTIONS_BY_USER, h(self.by_user)),
            (t.TRANSACTIONS_PREVIEW_EARNINGS, h(self.preview)),
            (r.REDEMPTIONS_REDEEM_REWARD, h(self.redeem_reward)),
            (r.REDEMPTIONS_REDEEM_VOUCHER, h(self.redeem_voucher)),
            (r.REDEMPTIONS_REDEEM_MULTIPLE_REWARDS, h(self.redeem_multiple)),
            (r.REDEMPTIONS_REDEEM_PROMO_CODE, h(self.redeem_promo)),
            (r.REDEMPTIONS_BY_VOUCHER_CODE, h(self.by_voucher_code)),
            (r.REDEMPTIONS_CANCEL, h(self.cancel_redemption)),
            (r.REDEMPTIONS_AUTHORIZE, h(self.authorize)),
            (rewards.REWARDS_LIST, h(self.rewards)),
            (rewards.REWARDS_DETAILS, h(self.reward_details)),
            (rewards.REWARDS_BY_MERCHANT_GROUP, h(self.rewards_by_group)),
            (v.VOUCHERS_ISSUE, h(self.issue)),
            (v.VOUCHERS_VALIDATE, h(self.validate)),
            (v.VOUCHERS_DETAILS, h(self.voucher_details)),
            (v.VOUCHERS_BY_MERCHANT_GROUP, h(self.vouchers_by_group)),
            (v.VOUCHERS_COUNT_BY_MERCHANT_GROUP, h(self.vouchers_count)),
            (v.VOUCHERS_DEDUCT_VALUE, h(self.deduct_value)),
            (balances.BALANCES_CREDIT, h(self.credit)),
            (balances.BALANCES_DEBIT, h(self.debit)),
            (balances.BALANCES_CANCEL, h(self.cancel_balance)),
            (stores.STORES_ADD_OR_UPDATE, h(self.store_upsert)),
            (stores.MERCHANTS_ADD_OR_UPDATE_PAYMENT_METHOD, h(self.payment_method)),
            (activities.ACTIVITIES_LIST, h(self.activities)),
            (activities.ACTIVITIES_BY_MERCHANT_GROUP, h(self.activities)),
            (activities.EXPIRATION_JOURNALS_LIST, h(self.journals)),
            (auth.AUTH_VERIFY_TOKEN, self.verify_token),
            (diagnostics.TESTING_500, _html(500, "Server error - 500")),
            (diagnostics.TESTING_400, _html(400, "Bad request - 400")),
        ]

    def inspection_routes(self) -> list[web.RouteDef]:
        """``GET /__sandbox/transactions``: every transaction recorded, for tests."""

        async def listing(request: web.Request) -> web.Response:
            return json_response(
                [
                    {
                        "id": tx.id,
                        "user": tx.pk,
                        "store": tx.store,
                        "invoice_number": tx.invoice,
                        "day": tx.day,
                        "value": tx.value,
                        "stamps": tx.stamps,
                        "status": tx.status,
                        "items": len(tx.items),
                    }
                    for tx in self.pos.txs.values()
                ]
            )

        return [web.get("/__sandbox/transactions", listing)]

    def _wrap(self, handler: Any) -> Any:
        return json_route(handler, _params)

    # -- helpers ------------------------------------------------------------------

    def _member(self, data: dict[str, Any], name: str = "user") -> Member:
        member = self.store.find(_required(data, name))
        if member is None or member.anonymized:
            raise Invalid(name, "User not found", "invalid_data")
        return member

    def _store_id(self, data: dict[str, Any], name: str = "store") -> int:
        value = data.get(name)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if value is None:
            raise legacy(name, "This field is required.")
        if value not in self.store.stores:
            raise legacy(name, "Store does not exist")
        assert isinstance(value, int)
        return value

    def _merchant(self, data: dict[str, Any], name: str = "merchant") -> None:
        if _int(data, name) != self.merchant:
            raise Invalid(name, "Merchant not found", "invalid_data")

    # -- transactions -------------------------------------------------------------

    def _new_tx(self, data: dict[str, Any]) -> tuple[Tx, Member | None]:
        store = self._store_id(data)
        invoice = data.get("invoice_number")
        if not isinstance(invoice, str) or not invoice:
            raise legacy("invoice_number", "This field is required.")
        value = _number(data, "total_value")
        assert value is not None
        people = data.get("number_of_people")
        if isinstance(people, bool) or not isinstance(people, int):
            raise legacy("number_of_people", "This field is required.")
        created = _created(data)
        member = None
        if data.get("user") not in (None, ""):
            member = self._member(data)
        items = _items(data)
        day = created.date().isoformat()
        if (store, invoice, day) in self.by_key:
            raise legacy("invoice_number", "Transaction with this invoice number already exists")
        tx = Tx(
            id=self.pos.next_tx,
            pk=None if member is None else member.pk,
            store=store,
            invoice=invoice,
            day=day,
            created=int(created.timestamp()),
            value=value,
            stamps=earned(data, value),
            number_of_people=people,
            discount=_number(data, "discount", required=False),
            subtotal=_number(data, "sub_total", required=False),
            channel=data.get("channel") if isinstance(data.get("channel"), int) else None,
            items=items,
            payments=list(data.get("payments") or []),
            status=1 if member is not None else 3,
        )
        return tx, member

    @property
    def by_key(self) -> dict[tuple[int, str, str], int]:
        return self.pos.by_key

    def _apply_tx(self, tx: Tx, member: Member | None) -> None:
        self.pos.next_tx += 1
        self.pos.txs[tx.id] = tx
        self.by_key[(tx.store, tx.invoice, tx.day)] = tx.id
        if member is not None:
            member.stamps += tx.stamps
            self.pos.log(
                member,
                0,
                store={"name": str(tx.store), "display_name": f"Store {tx.store}"},
                transaction={
                    "stamps": tx.stamps,
                    "name": f"Transaction #{tx.id}",
                    "status": tx.status,
                    "invoice_number": tx.invoice,
                    "channel": "POS",
                },
            )

    def add(self, data: dict[str, Any]) -> dict[str, Any]:
        tx, member = self._new_tx(data)
        self._apply_tx(tx, member)
        return {"customer": self.pos.customer(member), "transaction": tx.short()}

    def add_or_update(self, data: dict[str, Any]) -> dict[str, Any]:
        store = self._store_id(data)
        invoice = data.get("invoice_number")
        if not isinstance(invoice, str) or not invoice:
            raise legacy("invoice_number", "This field is required.")
        # Keyed on (store, invoice) alone, as the vendor's reference has it: a ``created``
        # in the body does not pick the day, so the upsert may land on another day's sale.
        ids = [i for (s, inv, _), i in self.by_key.items() if (s, inv) == (store, invoice)]
        existing = self.pos.txs[max(ids)] if ids else None
        if existing is None:
            return self.add(data)
        if existing.items:
            raise legacy("invoice_number", "This Transaction's detail is already complete.")
        items = _items(data)
        if not items:
            raise legacy("items", "This field is required.")
        total = sum(float(i.get("subtotal") or i.get("price") or 0) for i in items)
        if abs(total - existing.value) > 0.005:
            raise Answer(
                400,
                {
                    "error_code": "invalid_total_item_price",
                    "detail": "Total item price need to equal transaction value",
                },
            )
        existing.items = items
        member = None if existing.pk is None else self.store.get(existing.pk)
        return {"customer": self.pos.customer(member), "transaction": existing.short()}

    def add_with_redemptions(self, data: dict[str, Any]) -> dict[str, Any]:
        tx, member = self._new_tx(data)
        wanted = list(data.get("reward_redemptions") or [])
        codes = list(data.get("voucher_redemptions") or [])
        issue = data.get("issue_voucher")
        if (wanted or codes or issue) and member is None:
            raise legacy("user", "A customer is required to redeem or issue vouchers.")
        plan = [self._reward_cost(r.get("reward"), r.get("stamps"), 1) for r in wanted]
        used = [self._owned_voucher_by_code(member, c.get("voucher_code")) for c in codes]
        if member is not None and sum(cost for _, cost in plan) > member.stamps + tx.stamps:
            raise legacy("reward_redemptions", "Insufficient stamps")
        if issue is not None and (
            not isinstance(issue, dict) or issue.get("template_id") not in TEMPLATES
        ):
            raise legacy("issue_voucher", "Voucher template not found")
        self._apply_tx(tx, member)
        assert member is not None or not (wanted or codes or issue)
        issued = None
        if member is not None:
            for reward, cost in plan:
                self._redeem(member, reward, cost)
            for record in used:
                record.quantity -= 1
            if issue is not None:
                record = self.pos.issue_voucher(member, issue["template_id"], 1, issue.get("value"))
                issued = record.view(_template_view(record.template))
        answer: dict[str, Any] = {
            "membership": None if member is None else self.pos.membership(member),
            "transaction": tx.short(),
        }
        if issued is not None:
            answer["issued_voucher"] = issued
        return answer

    def _tx_by_invoice(self, invoice: str, day: str) -> Tx:
        for (_, inv, d), tx_id in self.by_key.items():
            if inv == invoice and d == day:
                return self.pos.txs[tx_id]
        raise not_found("Transaction")

    def cancel(self, data: dict[str, Any]) -> dict[str, Any]:
        invoice = _required(data, "invoice_number")
        day = _required(data, "date")
        tx = self._tx_by_invoice(str(invoice), str(day))
        member = None if tx.pk is None else self.store.get(tx.pk)
        if tx.status != 2:
            if member is not None and member.stamps < tx.stamps:
                raise Answer(
                    400,
                    {
                        "errors": {
                            "info": "Transaction can't be canceled due to insufficient Stamps"
                        }
                    },
                )
            if member is not None:
                member.stamps -= tx.stamps
            tx.status = 2
        return {
            "transaction": {
                "stamps_earned": tx.stamps,
                "id": tx.id,
                "value": tx.value,
                "status": "Canceled",
            },
            "membership": None if member is None else self.pos.membership(member),
        }

    def modify(self, data: dict[str, Any]) -> dict[str, Any]:
        tx = self.pos.txs.get(_int(data, "id") or 0)
        if tx is None:
            raise not_found("Transaction")
        delta = data.get("total_value")
        if isinstance(delta, bool) or not isinstance(delta, int | float):
            raise Invalid("total_value", "This field is required.", "required")
        items = data.get("items")
        if not isinstance(items, list):
            raise Invalid("items", "This field is required.", "required")
        names = {i.get("product_name") for i in tx.items}
        for item in items:
            if tx.items and item.get("product_name") not in names:
                raise Invalid("product_name", "Product does not exists", "product_not_found")
        new_value = tx.value + float(delta)
        if new_value < 0:
            raise Invalid(
                "total_value", "The transaction's value cannot go below 0", "invalid_data"
            )
        member = None if tx.pk is None else self.store.get(tx.pk)
        stamps = max(0, int(new_value // RP_PER_STAMP))
        if member is not None:
            member.stamps = max(0, member.stamps - (tx.stamps - stamps))
        tx.value, tx.stamps = new_value, stamps
        return {
            "transaction": {
                "id": tx.id,
                "value": tx.value,
                "stamps_earned": tx.stamps,
                "number_of_people": tx.number_of_people,
            },
            "customer": self.pos.customer(member),
        }

    def _tx_view(self, tx: Tx) -> dict[str, Any]:
        return {
            "id": tx.id,
            "value": tx.value,
            "stamps_earned": tx.stamps,
            "number_of_people": tx.number_of_people,
            "discount": tx.discount,
            "subtotal": tx.subtotal,
            "invoice_number": tx.invoice,
            **self._listed_created(tx),
            "merchant": "Sandbox Merchant",
            "merchant_id": self.merchant,
            "status": tx.status,
            "meta": {"channel": tx.channel or 2, "channel_text": "POS"},
            "store": {"name": str(tx.store), "display_name": f"Store {tx.store}"},
        }

    def _listed_created(self, tx: Tx) -> dict[str, Any]:
        mode = self.gate.config.listing_created
        if mode == "missing":
            return {}
        if mode == "text":  # a day-first local form, not ISO 8601
            return {
                "created": dt.datetime.fromtimestamp(tx.created, dt.UTC).strftime("%d/%m/%Y %H:%M")
            }
        return {"created": tx.created}

    def details(self, data: dict[str, Any]) -> dict[str, Any]:
        tx = self.pos.txs.get(_int(data, "transaction_id") or 0)
        if tx is None:
            raise not_found("Transaction")
        return {
            "transaction": {
                "created": tx.created,
                "discount": tx.discount,
                "items": [
                    {"id": n + 1, "name": i.get("product_name"), "quantity": i.get("quantity")}
                    for n, i in enumerate(tx.items)
                ],
                "notes": "",
                "service_charge": None,
                "stamps": tx.stamps,
                "status": {1: "Created", 2: "Canceled", 3: "Open"}[tx.status],
                "store": {
                    "display_name": f"Store {tx.store}",
                    "id": tx.store,
                    "name": str(tx.store),
                },
                "subtotal": tx.subtotal,
                "tax": None,
                "type": None,
                "value": tx.value,
                "payments": [
                    {
                        "id": n + 1,
                        "value": p.get("value"),
                        "payment_method_code": str(p.get("payment_method")),
                    }
                    for n, p in enumerate(tx.payments)
                    if isinstance(p, dict)
                ],
            }
        }

    def by_user(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        last = _int(data, "last_transaction_id", required=False)
        start, end = data.get("start_date"), data.get("end_date")
        channels = data.get("channel")
        if channels is not None:
            channels = {int(c) for c in (channels if isinstance(channels, list) else [channels])}
        found = [
            tx
            for tx in sorted(self.pos.txs.values(), key=lambda t: -t.id)
            if tx.pk == member.pk
            and (last is None or tx.id < last)
            and (start is None or tx.day >= start)
            and (end is None or tx.day <= end)
            and (channels is None or (tx.channel or 2) in channels)
        ]
        page = found[:BY_USER_PAGE]
        return {
            "transactions": [self._tx_view(tx) for tx in page],
            "has_next": len(found) > BY_USER_PAGE,
        }

    def preview(self, data: dict[str, Any]) -> dict[str, Any]:
        self._store_id(data)
        value = _number(data, "total_value")
        assert value is not None
        _items(data)
        return {"stamps": earned(data, value)}

    # -- redemptions --------------------------------------------------------------

    def _find_reward(self, ref: object) -> dict[str, Any]:
        if isinstance(ref, str) and ref.startswith("RW") and ref[2:].isdigit():
            ref = int(ref[2:])
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        if isinstance(ref, bool) or not isinstance(ref, int) or not 1 <= ref <= REWARDS:
            raise Invalid("reward", "Reward not found", "reward_not_found")
        return _reward(ref)

    def _reward_cost(self, ref: object, stamps: object, qty: object) -> tuple[dict[str, Any], int]:
        reward = self._find_reward(ref)
        count = qty if isinstance(qty, int) and not isinstance(qty, bool) and qty > 0 else 1
        if reward["type"] == 5:
            if not isinstance(stamps, int) or isinstance(stamps, bool) or stamps < 1:
                raise Invalid("stamps", "Stamps is required for a flexible reward", "required")
            return reward, stamps * count
        return reward, reward["stamps_to_redeem"] * count

    def _redeem(self, member: Member, reward: dict[str, Any], cost: int) -> dict[str, Any]:
        member.stamps -= cost
        rid = self.pos.new_id()
        voucher = None
        if reward["type"] == 4:
            voucher = self.pos.issue_voucher(member, 3)
        self.pos.redemptions[rid] = {
            "id": rid,
            "pk": member.pk,
            "reward": reward["name"],
            "stamps_used": cost,
            "status": "Created",
            "voucher": None if voucher is None else voucher.id,
            "used_voucher": None,
        }
        self.pos.log(member, 1, redemption={"stamps": cost, "name": reward["name"], "status": 1})
        answer = {
            "redemption": {"id": rid, "reward": reward["name"], "stamps_used": cost},
            "reward": {k: reward[k] for k in ("id", "name", "stamps_to_redeem", "code")}
            | {"type": "reward", "extra_data": {}},
        }
        if voucher is not None:
            answer["voucher"] = voucher.view(_template_view(voucher.template))
        return answer

    def _check_pin(self, member: Member, data: dict[str, Any]) -> None:
        request_id = data.get("request_id")
        if request_id is not None and request_id not in self.pos.authorized:
            raise Invalid("request_id", "Redemption is not authorized", "unauthorized_redemption")

    def redeem_reward(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        self._store_id(data)
        self._check_pin(member, data)
        reward, cost = self._reward_cost(
            _required(data, "reward"), data.get("stamps"), data.get("qty")
        )
        if cost > member.stamps:
            raise Invalid("stamps", "Insufficient stamps", "insufficient_stamps")
        answer = self._redeem(member, reward, cost)
        answer["redemption"]["extra_data"] = data.get("extra_data") or {}
        return {**answer, "membership": self.pos.membership(member)}

    def redeem_multiple(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        self._store_id(data)
        wanted = data.get("rewards")
        if not isinstance(wanted, list) or not wanted:
            raise Invalid("rewards", "This field is required.", "required")
        plan = [
            self._reward_cost(w.get("code"), w.get("stamps"), w.get("qty"))
            for w in wanted
            if isinstance(w, dict)
        ]
        if sum(cost for _, cost in plan) > member.stamps:
            raise Invalid("stamps", "Insufficient stamps", "insufficient_stamps")
        last: dict[str, Any] = {}
        for reward, cost in plan:
            answer = self._redeem(member, reward, cost)
            last = {**answer["redemption"], "reward": answer["reward"]}
            if "voucher" in answer:
                last["voucher"] = answer["voucher"]
        return {"redemption": last, "membership": self.pos.membership(member)}

    def _owned_voucher(self, member: Member, voucher_id: object) -> VoucherRecord:
        record = self.pos.vouchers.get(voucher_id if isinstance(voucher_id, int) else -1)
        if record is None or record.pk != member.pk:
            raise Invalid("voucher", "Voucher not found", "voucher_not_found")
        if record.quantity < 1:
            raise Invalid("voucher", "Voucher is no longer active", "inactive_voucher")
        return record

    def _owned_voucher_by_code(self, member: Member | None, code: object) -> VoucherRecord:
        for record in self.pos.vouchers.values():
            if record.code == code and member is not None and record.pk == member.pk:
                if record.quantity < 1:
                    raise legacy("voucher_code", "Voucher is no longer active")
                return record
        raise legacy("voucher_code", "Voucher not found")

    def _use_voucher(
        self, member: Member, record: VoucherRecord, stamps_used: int = 0
    ) -> dict[str, Any]:
        rid = self.pos.new_id()
        name = TEMPLATES[record.template]["name"]
        self.pos.redemptions[rid] = {
            "id": rid,
            "pk": member.pk,
            "reward": name,
            "stamps_used": stamps_used,
            "status": "Created",
            "voucher": None,
            "used_voucher": record.id,
        }
        self.pos.log(member, 1, redemption={"stamps": 0, "name": name, "status": 1})
        return {
            "redemption": {"id": rid, "reward": name, "stamps_used": stamps_used, "extra_data": {}},
            "membership": self.pos.membership(member),
            "voucher": {"id": record.id, "name": name, "code": record.code, "type": "voucher"},
        }

    def redeem_voucher(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        self._store_id(data)
        self._check_pin(member, data)
        record = self._owned_voucher(member, _int(data, "voucher"))
        if TEMPLATES[record.template]["dynamic"]:
            raise Invalid("voucher", "Use deduct-value for a dynamic voucher", "invalid_data")
        record.quantity -= 1
        return self._use_voucher(member, record)

    def deduct_value(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        self._store_id(data)
        record = self._owned_voucher(member, _int(data, "voucher"))
        value = data.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise Invalid("value", "A positive value is required.", "invalid_data")
        if not TEMPLATES[record.template]["dynamic"] or record.value is None:
            raise Invalid("voucher", "Voucher value is not dynamic", "invalid_data")
        if value > record.value:
            raise Invalid("value", "Value exceeds the voucher's remaining value", "invalid_data")
        record.value -= float(value)
        if record.value <= 0:
            record.quantity = 0
        return self._use_voucher(member, record)

    def redeem_promo(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        self._store_id(data)
        code = _required(data, "promo_code")
        _required(data, "invoice_number")
        if code not in PROMO_CODES:
            raise Invalid("promo_code", "Promo code not found", "promo_code_not_found")
        rid = self.pos.new_id()
        self.pos.redemptions[rid] = {
            "id": rid,
            "pk": member.pk,
            "reward": code,
            "stamps_used": 0,
            "status": "Created",
            "voucher": None,
            "used_voucher": None,
        }
        return {
            "redemption": {"id": rid, "reward": code, "stamps_used": 0, "extra_data": {}},
            "user": member.user(),
            "membership": self.pos.membership(member),
        }

    def by_voucher_code(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data, "identifier")
        self._store_id(data)
        code = _required(data, "voucher_code")
        template = _int(data, "voucher_template")
        record = next(
            (
                v
                for v in self.pos.vouchers.values()
                if v.code == code and v.template == template and v.pk == member.pk
            ),
            None,
        )
        if record is None or record.quantity < 1:
            raise Invalid("voucher_code", "Voucher not found", "voucher_not_found")
        record.quantity -= 1
        answer = self._use_voucher(member, record)
        return {
            "redemption": {"id": answer["redemption"]["id"], "status": "Created"},
            "customer": {
                "id": member.pk,
                "status": member.level_text(),
                "stamps_remaining": member.stamps,
            },
        }

    def cancel_redemption(self, data: dict[str, Any]) -> dict[str, Any]:
        record = self.pos.redemptions.get(_int(data, "id") or 0)
        if record is None:
            raise not_found("Redemption")
        member = self.store.get(record["pk"])
        assert member is not None
        if record["status"] != "Canceled":
            record["status"] = "Canceled"
            member.stamps += record["stamps_used"]
            used = self.pos.vouchers.get(record["used_voucher"] or -1)
            if used is not None:
                used.quantity += 1
        return {
            "redemption": {"id": record["id"], "status": "Canceled"},
            "customer": {
                "status": member.level_text(),
                "id": member.pk,
                "stamps_remaining": member.stamps,
            },
        }

    def authorize(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        pin = str(_required(data, "pin"))
        request_id = str(_required(data, "request_id"))
        timeout = _int(data, "timeout")
        left = self.pos.pin_attempts.get(member.pk, PIN_ATTEMPTS)
        if left <= 0:
            raise Invalid("pin", "PIN is blocked", "pin_blocked")
        if pin != SANDBOX_PIN:
            left -= 1
            self.pos.pin_attempts[member.pk] = left
            raise Invalid("pin", f"Invalid PIN, {left} attempt(s) left", "invalid_pin")
        self.pos.pin_attempts[member.pk] = PIN_ATTEMPTS
        self.pos.authorized[request_id] = _now() + float(timeout or 0)
        return {"status": "ok"}

    # -- rewards ------------------------------------------------------------------

    def _reward_page(self, data: dict[str, Any], member: Member | None) -> list[dict[str, Any]]:
        last = _int(data, "last_reward_id", required=False) or 0
        per_page = _int(data, "per_page", required=False) or 20
        kind = _int(data, "type", required=False)
        out = []
        for i in range(last + 1, REWARDS + 1):
            reward = _reward(i)
            if kind is not None and reward["type"] != kind:
                continue
            if member is not None:
                reward["redeemable"] = member.stamps >= reward["stamps_to_redeem"]
            out.append(reward)
            if len(out) == per_page:
                break
        return out

    def rewards(self, data: dict[str, Any]) -> dict[str, Any]:
        self._merchant(data)
        self._store_id(data)
        member = self._member(data) if data.get("user") else None
        answer: dict[str, Any] = {"rewards": self._reward_page(data, member), "vouchers": []}
        if member is not None:
            last_voucher = _int(data, "last_voucher_id", required=False) or 0
            answer["vouchers"] = [
                {
                    "id": v.id,
                    "name": TEMPLATES[v.template]["name"],
                    "code": v.code,
                    "type": "promotion",
                    "quantity": v.quantity,
                    "expires_on": v.end,
                    "constraint": {"channels": [1, 2]},
                    "extra_data": {},
                }
                for v in self.pos.vouchers.values()
                if v.pk == member.pk and v.id > last_voucher and v.quantity > 0
            ]
            answer["customer"] = {
                "id": member.pk,
                "stamps": member.stamps,
                "membership_status": member.level_text(),
            }
        return answer

    def reward_details(self, data: dict[str, Any]) -> dict[str, Any]:
        code = str(data.get("reward_code", ""))
        if not (code.startswith("RW") and code[2:].isdigit() and 1 <= int(code[2:]) <= REWARDS):
            raise not_found("Reward")
        reward = _reward(int(code[2:]))
        return {**reward, "is_active": True, "available_at": ["Store 1"], "is_cross_promo": False}

    def rewards_by_group(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data) if data.get("user") else None
        return {"rewards": self._reward_page(data, member)}

    # -- vouchers -----------------------------------------------------------------

    def issue(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        template = _int(data, "voucher_template")
        if template not in TEMPLATES:
            raise Invalid("voucher_template", "Voucher template not found", "invalid_data")
        start = _required(data, "start_date")
        quantity = _int(data, "quantity")
        value = data.get("value")
        if TEMPLATES[template]["dynamic"] and not isinstance(value, int | float):
            raise Invalid("value", "Value is required for a dynamic voucher", "required")
        assert quantity is not None
        record = self.pos.issue_voucher(
            member, template, quantity, None if value is None else float(value)
        )
        record.start = str(start)
        record.notes = str(data.get("notes") or "")
        return {
            "voucher": {
                "id": record.id,
                "start_date": record.start,
                "end_date": record.end,
                "quantity": record.quantity,
                "notes": record.notes,
                "value": record.value,
            },
            "customer": {"id": member.pk, "email": member.email},
        }

    def _voucher_by_code(self, code: object) -> VoucherRecord:
        for record in self.pos.vouchers.values():
            if record.code == code:
                return record
        raise Invalid("voucher_code", "Voucher not found", "voucher_not_found")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        self._merchant(data)
        self._store_id(data)
        record = self._voucher_by_code(_required(data, "voucher_code"))
        owner = self.store.get(record.pk)
        assert owner is not None
        if data.get("user"):
            member = self._member(data)
            if member.pk != record.pk:
                raise Invalid(
                    "user", f"This voucher is not owned by {member.name}", "invalid_voucher_owner"
                )
        return {
            "is_redeemable": record.quantity > 0,
            "user": {"email": owner.email, "name": owner.name, "phone": owner.phone},
            "voucher": {
                "extra_data": {},
                "id": record.id,
                "name": TEMPLATES[record.template]["name"],
                "value": record.value,
                "start_date": record.start,
                "end_date": record.end,
                "validity": "Dynamic" if TEMPLATES[record.template]["dynamic"] else "Fixed",
            },
        }

    def voucher_details(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        code = _required(data, "code")
        for record in self.pos.vouchers.values():
            if record.code == code and record.pk == member.pk:
                return record.view(_template_view(record.template))
        raise not_found("Voucher")

    def _member_vouchers(self, member: Member) -> list[VoucherRecord]:
        return [v for v in self.pos.vouchers.values() if v.pk == member.pk and v.quantity > 0]

    def vouchers_by_group(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        return {
            "vouchers": [v.view(_template_view(v.template)) for v in self._member_vouchers(member)]
        }

    def vouchers_count(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"count": len(self._member_vouchers(self._member(data)))}

    # -- balances -----------------------------------------------------------------

    def _balance_move(self, data: dict[str, Any], sign: int) -> dict[str, Any]:
        member = self._member(data)
        amount = data.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            raise Invalid("amount", "Ensure this value is a positive number.", "invalid_data")
        if data.get("type") != "stamps":
            raise Invalid("type", f'"{data.get("type")}" is not a valid choice.', "invalid_choice")
        self._merchant(data)
        self._store_id(data)
        balance = self.pos.balances.get(member.pk, 0.0)
        if sign < 0 and amount > balance:
            raise Invalid("amount", "Insufficient balance", "insufficient_balance")
        self.pos.balances[member.pk] = balance + sign * float(amount)
        uid = self.pos.new_id()
        self.pos.balance_updates[uid] = {
            "pk": member.pk,
            "amount": sign * float(amount),
            "status": 1,
        }
        self.pos.log(
            member,
            7,
            balance_update={
                "transaction_number": f"BU{uid}",
                "amount": amount,
                "status": 1,
                "balance_type": 1,
            },
        )
        return {
            "customer": {
                "id": member.pk,
                "balance": self.pos.balances[member.pk],
                "status": member.level_text(),
            },
            "balance_update": {"id": uid, "amount": amount},
        }

    def credit(self, data: dict[str, Any]) -> dict[str, Any]:
        return self._balance_move(data, 1)

    def debit(self, data: dict[str, Any]) -> dict[str, Any]:
        return self._balance_move(data, -1)

    def cancel_balance(self, data: dict[str, Any]) -> dict[str, Any]:
        uid = _int(data, "id")
        update = self.pos.balance_updates.get(uid or 0)
        if update is None:
            raise not_found("Balance update")
        member = self.store.get(update["pk"])
        assert member is not None
        assert uid is not None
        if update["status"] != 2:
            update["status"] = 2
            self.pos.balances[member.pk] = self.pos.balances.get(member.pk, 0.0) - update["amount"]
        return {
            "customer": {
                "id": member.pk,
                "balance": self.pos.balances[member.pk],
                "status": member.level_text(),
            },
            "balance_update": {"id": uid, "amount": abs(update["amount"]), "status": "Canceled"},
        }

    # -- stores, merchants ---------------------------------------------------------

    def store_upsert(self, data: dict[str, Any]) -> dict[str, Any]:
        self._merchant(data, "merchant_id")
        fields = {
            k: _required(data, k) for k in ("name", "display_name", "code", "address", "area")
        }
        active = data.get("is_active")
        if not isinstance(active, bool):
            raise Invalid("is_active", "Must be a valid boolean.", "invalid_data")
        code = str(fields["code"])
        record = self.pos.stores.get(code)
        if record is None:
            new_id = max(self.store.stores) + 1
            self.store.stores = (*self.store.stores, new_id)
            record = {
                "id": str(new_id),
                "phone": "",
                "email": "",
                "latitude": None,
                "longitude": None,
                "photo_url": "",
            }
            self.pos.stores[code] = record
        record.update(fields, is_active=active, slug=code.lower())
        return {"store": dict(record)}

    def payment_method(self, data: dict[str, Any]) -> dict[str, Any]:
        code = str(_required(data, "code"))
        name = str(_required(data, "name"))
        eligible = data.get("eligible_for_points")
        if not isinstance(eligible, bool):
            raise Invalid("eligible_for_points", "Must be a valid boolean.", "invalid_data")
        self.pos.payment_methods[code] = {"name": name, "eligible_for_points": eligible}
        return {"status": "ok"}

    # -- activities, journals ------------------------------------------------------

    def activities(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        older = _int(data, "older_than", required=False)
        entries = [
            a
            for a in reversed(self.pos.activities.get(member.pk, []))
            if older is None or a["id"] < older
        ]
        return {"activities": entries[:ACTIVITY_PAGE]}

    def journals(self, data: dict[str, Any]) -> dict[str, Any]:
        member = self._member(data)
        minimum = data.get("minimum_expiration_date")
        out = []
        for tx in self.pos.txs.values():
            if tx.pk != member.pk or tx.status == 2 or tx.stamps == 0:
                continue
            expires = (dt.date.fromisoformat(tx.day) + dt.timedelta(days=365)).isoformat()
            if minimum is None or expires >= minimum:
                out.append({"id": tx.id, "stamps_to_expire": tx.stamps, "expiration_date": expires})
        return {"expiration_journals": out}

    # -- auth ---------------------------------------------------------------------

    async def verify_token(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if token not in self.gate.jwts:
            return json_response(
                {
                    "detail": "Given token not valid for any token type",
                    "error_code": "token_not_valid",
                },
                400,
            )
        claims = msgspec.json.decode(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        return json_response(
            {
                "token_type": "access",
                "exp": claims["exp"],
                "iat": claims["exp"] - 24 * 3600,
                "jti": f"sandbox{claims['n']:08d}",
                "user_id": 1,
                "merchant_id": claims["merchant"],
            }
        )


def _html(status: int, text: str) -> Any:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html")

    return answer
