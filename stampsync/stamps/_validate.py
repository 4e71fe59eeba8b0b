"""Checks on arguments, before anything is sent: a clear error naming the field."""

from __future__ import annotations

import datetime as dt

from ..errors import ConfigurationError


def user_ref(value: object, name: str = "user") -> str | int:
    """A customer reference: email, member id, phone, or primary key."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigurationError(f"{name} must be a string or an integer, got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise ConfigurationError(f"{name} must not be empty")
    return value.strip() if isinstance(value, str) else value


def positive(value: object, name: str) -> int:
    """An integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


def iso_date(value: object, name: str) -> str | None:
    """``None``, a ``date``, or a ``YYYY-MM-DD`` string, as ``YYYY-MM-DD``."""
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
