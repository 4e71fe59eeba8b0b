"""Argument checks run before anything is sent: a clear error that names the field."""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from typing import Required, TypedDict, TypeVar, Unpack

import msgspec

from .errors import ConfigurationError

E = TypeVar("E", bound=enum.Enum)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: The most stamps (or points) one write may carry unless the caller raises it (client
#: setting ``max_stamps``): a guard against a price typed into a count.
DEFAULT_MAX_STAMPS = 10_000
#: The largest money value (in the currency's unit) a write may carry unless the caller
#: raises it (client setting ``max_value``): a guard against a unit mix-up or garbage.
DEFAULT_MAX_VALUE = 10**12
#: The most people one sale may be for; a larger count is a typo, not a sale.
MAX_PEOPLE = 100_000


def _shown(value: object) -> str:
    """``value`` for a message, kept short (a 5,000-digit integer cannot even be printed)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return f"{float(value) if value.bit_length() < 1024 else float('inf'):.3g}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def finite(
    value: object,
    name: str,
    *,
    limit: int | float,
    signed: bool = False,
    setting: str = "max_value",
) -> int | float:
    """A finite number (no NaN, no Infinity), at most ``limit`` in size, and not negative
    unless ``signed``: what the API means by an amount. JSON cannot carry NaN or Infinity
    (they would reach the server as ``null``), and a value past ``limit`` is refused as a
    likely mistake; ``setting`` names the client setting that raises the limit."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number, got {_shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a finite number, got {_shown(value)}")
    if value < 0 and not signed:
        raise ConfigurationError(f"{name} must not be negative, got {_shown(value)}")
    if abs(value) > limit:
        raise ConfigurationError(
            f"{name} {_shown(value)} is over the limit of {limit:,} ({setting}; raise it if "
            "the value is right)"
        )
    return value


class AmountLimits(TypedDict, total=False):
    """How :func:`finite` bounds an amount: ``limit`` (required), ``signed``, ``setting``."""

    limit: Required[int | float]
    signed: bool
    setting: str


def optional_finite(value: object, name: str, **limits: Unpack[AmountLimits]) -> int | float | None:
    """``None`` or :func:`finite`."""
    return None if value is None else finite(value, name, **limits)


def positive_amount(
    value: object, name: str, *, limit: int | float, setting: str = "max_value"
) -> int | float:
    """A :func:`finite` amount above zero (a credit, a voucher's value)."""
    number = finite(value, name, limit=limit, setting=setting)
    if number == 0:
        raise ConfigurationError(f"{name} must be a positive number, got 0")
    return number


def amount_text(
    value: object, name: str, *, limit: int | float, setting: str = "max_value"
) -> None:
    """``None``, or an amount given as text (``"19.90"``, as Stamped V3 spells money) or as
    a number: it must read as a finite number, not negative, at most ``limit``."""
    if value is None:
        return
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ConfigurationError(
                f"{name} must be a number written as text, got {_shown(value)}"
            ) from None
        if not math.isfinite(number):
            raise ConfigurationError(f"{name} must be a finite number, got {_shown(value)}")
        finite(number, name, limit=limit, setting=setting)
        return
    finite(value, name, limit=limit, setting=setting)


def bounded(value: object, name: str, *, limit: int, setting: str | None = "max_stamps") -> int:
    """An integer >= 1 and at most ``limit`` (a count of stamps, say); ``setting`` names
    the client setting that raises the limit (``None``: a fixed one)."""
    count = positive(value, name)
    if count > limit:
        why = f" ({setting}; raise it if the count is right)" if setting else ""
        raise ConfigurationError(f"{name} {_shown(count)} is over the limit of {limit:,}{why}")
    return count


def user_ref(value: object, name: str = "user") -> str | int:
    """A customer reference: email, member id, phone number or primary key."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigurationError(f"{name} must be a string or an integer, got {value!r}")
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ConfigurationError(f"{name} must not be empty")
        if any(ch in value for ch in "\r\n\x00"):
            raise ConfigurationError(f"{name} must not contain line breaks or NUL")
    return value


def encodable(value: str, name: str) -> str:
    """``value``, if it can be sent (encoded as UTF-8); else a ConfigurationError naming
    ``name`` and the character, never the value (it may be a secret)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise ConfigurationError(
            f"{name} contains a character that cannot be sent (U+{ord(bad):04X}, a lone "
            "surrogate: text decoded with errors='surrogateescape' or a broken escape?)"
        ) from None
    return value


def text(value: object, name: str) -> str:
    """A required, non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} is required and must be a non-empty string")
    return value


def optional_text(value: object, name: str) -> str | None:
    """``None`` or a string."""
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {value!r}")
    return value


def email(value: object, name: str = "email") -> str:
    """A required email address (a light shape check; the server has the last word)."""
    address = text(value, name).strip()
    if not _EMAIL.match(address):
        raise ConfigurationError(f"{name} is not a valid email address: {address!r}")
    return address


def positive(value: object, name: str) -> int:
    """An integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {_shown(value)}")
    return value


def positive_seconds(value: object, name: str) -> float:
    """A number of seconds above zero (a delay, a lease, a poll interval)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number, got {_shown(value)}")
    return float(value)


def non_negative(value: object, name: str) -> int:
    """An integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def optional_id(value: object, name: str) -> int | None:
    """``None`` or a positive integer id."""
    return None if value is None else positive(value, name)


def iso_date(value: object, name: str) -> str | None:
    """``None``, a ``date``, or a ``YYYY-MM-DD`` string; returned as ``YYYY-MM-DD``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise ConfigurationError(f"{name} must be a date (YYYY-MM-DD), not a datetime")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ConfigurationError(f"{name} must be a date as YYYY-MM-DD, got {value!r}")


def choice(value: object, enum_type: type[E], name: str) -> E | None:
    """``None`` or one of ``enum_type``'s values (the member or its raw value)."""
    if value is None:
        return None
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum_type)
        raise ConfigurationError(f"{name} must be one of {allowed}; got {value!r}") from None


def pin_pair(pin: object, confirm_pin: object) -> tuple[str | None, str | None]:
    """``pin`` and ``confirm_pin``: both or neither, and equal."""
    if pin is None and confirm_pin is None:
        return None, None
    if pin is None or confirm_pin is None:
        raise ConfigurationError("pin and confirm_pin must be given together")
    if not isinstance(pin, str) or not pin.isdigit():
        raise ConfigurationError("pin must be a string of digits")
    if pin != confirm_pin:
        raise ConfigurationError("confirm_pin does not match pin")
    return pin, confirm_pin


_EXPECTED = re.compile(r"Expected `(?P<want>[^`]+)`, got `[^`]+`(?: - at `\$\.?(?P<at>[^`]*)`)?")
_MISSING = re.compile(
    r"Object missing required field `(?P<name>[^`]+)`(?: - at `\$\.?(?P<at>[^`]*)`)?"
)
_AT = re.compile(r" - at `\$\.?(?P<at>[^`]*)`")
_KINDS = {
    "int": "a whole number",
    "float": "a number",
    "int | float": "a number",
    "str": "text",
    "bool": "true or false",
    "array": "a list",
    "object": "an object",
}


def field_problem(exc: msgspec.ValidationError) -> str:
    """A row's conversion error in the input file's words: ``total_value must be a
    number``, ``invoice_number is missing``, ``items[0].quantity must be a whole number``
    (msgspec says ``Expected `int | float`, got `str` - at `$.total_value```)."""
    text = str(exc)
    if expected := _EXPECTED.fullmatch(text):
        want = expected["want"].removesuffix(" | null")
        kind = _KINDS.get(want, want.replace("str", "text").replace(" | ", " or "))
        return f"{expected['at'] or 'the row'} must be {kind}"
    if missing := _MISSING.fullmatch(text):
        where = f"{missing['at']}." if missing["at"] else ""
        return f"{where}{missing['name']} is missing"
    return _AT.sub(lambda at: f" (at {at['at'] or 'the row'})", text)
