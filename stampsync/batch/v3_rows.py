"""The rows of a Stamped V3 batch file (an order push, a points adjustment), read as the
CLI's commands and a fleet campaign read them: each an :class:`OrderPush` or a
:class:`PointsAdjustment`, or a :class:`~stampsync._engine.writes.Rejected` row saying
what is wrong with it. A fleet job carries a row's fields as read (:func:`order_records`,
:func:`points_records`) and converts them when it runs (:func:`to_order`,
:func:`to_points`), so a row is checked the same way on both paths."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from .._csv import csv_rows
from .._engine.writes import Rejected
from .._jsonl import json_row, jsonl_lines
from .._validate import field_problem
from ..stamped.v3 import OrderData, OrderPush
from ..stamped.v3.loyalty import PointsAdjustment
from ..stamped.v3.models import CartItemData, DiscountApplied, OrderCartData

#: Columns of a points-adjustment CSV (and fields of its JSONL objects).
POINTS_COLUMNS = ("key", "customer_id", "points")
POINTS_OPTIONAL = ("reason",)
_JSONL = (".jsonl", ".ndjson")

#: The order fields a row may carry, in the API's spelling.
ORDER_FIELDS = frozenset(f.encode_name for f in msgspec.structs.fields(OrderData))
CART_FIELDS = frozenset(f.encode_name for f in msgspec.structs.fields(OrderCartData))
LINE_FIELDS = frozenset(f.encode_name for f in msgspec.structs.fields(CartItemData))
DISCOUNT_FIELDS = frozenset(f.encode_name for f in msgspec.structs.fields(DiscountApplied))
#: Cart fields the API takes as text that a row may also give as a JSON number.
_AMOUNTS = frozenset(
    {"quantity", "price"} | {name for name in CART_FIELDS if name.startswith("shopPrice")}
)


def _cart_problem(cart: object) -> str | None:
    """Why a row's ``cart`` cannot be read as the API's (unknown or misspelt fields, at
    any depth), or None; amounts given as JSON numbers are turned into the API's text."""
    if not isinstance(cart, dict):
        return None  # the conversion names it
    parts: list[tuple[str, dict[str, Any], frozenset[str]]] = [("cart", cart, CART_FIELDS)]
    for name, fields in (("lineItems", LINE_FIELDS), ("discountsApplied", DISCOUNT_FIELDS)):
        listed = cart.get(name)
        if isinstance(listed, list):
            parts += [
                (f"cart.{name}[{at}]", one, fields)
                for at, one in enumerate(listed)
                if isinstance(one, dict)
            ]
    for where, part, fields in parts:
        unknown = set(part) - fields
        if unknown:
            return f"unknown {where} fields: {', '.join(sorted(unknown))}"
        for name in _AMOUNTS & set(part):
            value = part[name]
            if isinstance(value, int | float) and not isinstance(value, bool):
                part[name] = repr(value) if isinstance(value, float) else str(value)
    return None


def order_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(line, fields)`` for each order of a JSONL file, or ``(line, why)`` for a line
    that is not a JSON object."""
    for number, line in jsonl_lines(path):
        yield number, json_row(number, line)


def to_order(raw: dict[str, Any], number: int) -> OrderPush | Rejected:
    """One order's fields (the API's names, an optional ``key``; else the key is
    ``customOrderId``) as an :class:`OrderPush`, or the row rejected with the field named."""
    raw = dict(raw)
    key = raw.pop("key", None)
    if key is None:
        key = raw.get("customOrderId")
    key_text = key if isinstance(key, str) else "" if key is None else str(key)
    customer = raw.get("customCustomerId") or raw.get("customerId")
    user = None if customer is None else str(customer)
    unknown = set(raw) - ORDER_FIELDS
    if unknown:
        why = f"line {number}: unknown order fields: {', '.join(sorted(unknown))}"
        return Rejected(key_text, why, number, user)
    if problem := _cart_problem(raw.get("cart")):
        return Rejected(key_text, f"line {number}: {problem}", number, user)
    try:
        order = msgspec.convert(raw, OrderData)
    except msgspec.ValidationError as exc:
        return Rejected(key_text, f"line {number}: {field_problem(exc)}", number, user)
    return OrderPush(key=key_text, order=order, row=number)


def read_orders(path: Path) -> Iterator[OrderPush | Rejected]:
    """Stream JSONL rows (one order per line) as :class:`OrderPush` items (see
    :func:`to_order`)."""
    for number, raw in order_records(path):
        yield Rejected("", raw, number) if isinstance(raw, str) else to_order(raw, number)


_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _number_or_raw(text: str) -> object:
    """A CSV cell as the number it spells, in plain digits (``1_000`` is not one); else
    the text, which the row's check then refuses by name."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text) or text.lower() in ("nan", "inf", "-inf", "infinity"):
        return float(text)  # NaN and infinities are refused as not finite, by name
    return text


def read_points(path: Path) -> Iterator[PointsAdjustment | Rejected]:
    """Stream points adjustments from a CSV (``key,customer_id,points[,reason]``) or a
    JSONL file (objects with those fields; ``customerId`` is read as ``customer_id``).
    Each carries its line number as ``row``; a row that cannot be read fails alone."""
    for number, row in points_records(path):
        if isinstance(row, str | Rejected):
            yield row if isinstance(row, Rejected) else Rejected("", row, number)
        else:
            yield to_points(row, number)


def _points_csv(path: Path) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    for found in csv_rows(path):
        row: dict[str, Any] = found.stripped()
        if found.problem:  # a line that cannot be read fails under the key it names
            customer = row.get("customer_id") or None
            yield found.line, Rejected(row.get("key", ""), found.problem, found.line, customer)
            continue
        if "points" in row:
            row["points"] = _number_or_raw(row["points"])
        if not row.get("reason"):
            row["reason"] = None  # an empty cell: no reason
        yield found.line, row


def _points_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in jsonl_lines(path):
        raw = json_row(number, line)
        if isinstance(raw, dict) and "customerId" in raw and "customer_id" not in raw:
            raw["customer_id"] = raw.pop("customerId")
        yield number, raw


def points_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str | Rejected]]:
    """``(line, fields)`` for each row of a points CSV or JSONL file (CSV cells read as
    the numbers they spell), or ``(line, why)`` for a line that cannot be read as one."""
    return _points_jsonl(path) if path.suffix.lower() in _JSONL else _points_csv(path)


def to_points(row: dict[str, Any], number: int) -> PointsAdjustment | Rejected:
    """One row's fields as a :class:`PointsAdjustment` (its values checked when it is
    sent), or the row rejected with what is wrong."""
    key, customer = row.get("key"), row.get("customer_id")
    key_text = key if isinstance(key, str) else "" if key is None else str(key)
    user = None if customer in (None, "") else str(customer)
    unknown = set(row) - set(POINTS_COLUMNS + POINTS_OPTIONAL)
    if unknown:
        why = f"line {number}: unknown field(s) {', '.join(sorted(unknown))}"
        return Rejected(key_text, why, number, user)
    if not isinstance(key, str):
        return Rejected(key_text, f"line {number}: key must be text", number, user)
    if user is None:
        return Rejected(key_text, f"line {number}: customer_id is missing", number, user)
    return PointsAdjustment(
        key=key,
        customer_id=customer,  # type: ignore[arg-type]  # checked with the row
        points=row.get("points"),  # type: ignore[arg-type]  # checked with the row
        reason=row.get("reason"),  # checked with the row: text or nothing
        row=number,
    )
