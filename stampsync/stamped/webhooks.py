"""Receiving Stamped.io webhooks: verify, parse, de-duplicate.

Stamped.io signs nothing: each push carries the shared secret in a header
(``X-Stamped-Webhook-Secret``, older pushes ``X-Secret-Key``) and names its topic in
``X-Stamped-Topic``. A receiver compares the secret in constant time, parses the body,
and skips events it has already handled (delivery may repeat; retries are not
documented)::

    seen = SeenEvents()

    async def receive(request: web.Request) -> web.Response:
        try:
            event = parse_event(request.headers, await request.read(), secret=SECRET)
        except WebhookError as exc:
            return web.Response(status=exc.status)   # 401 wrong secret, 400 bad body
        if seen.add(event.key):
            handle(event)          # isinstance(event.data, ReviewPayload), ...
        return web.Response(status=204)

To act once across restarts and processes, store pushes in an :class:`Inbox` (SQLite,
one machine) or a :class:`PgInbox` (PostgreSQL, any number of receivers) and serve
``app(inbox, handler)``: each push is answered once stored, and the handler runs once per
event in the background.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from .._codec import JSON_ERRORS
from ..errors import ConfigurationError, WebhookError

__all__ = [
    "ASGIApp",
    "Accepted",
    "HandleReport",
    "Handlers",
    "Inbox",
    "InboxEntry",
    "InboxLike",
    "LoyaltyPayload",
    "PgInbox",
    "ReviewPayload",
    "SeenEvents",
    "TierChangedPayload",
    "WebhookError",
    "WebhookEvent",
    "app",
    "asgi_app",
    "handler_connection",
    "open_inbox",
    "parse_event",
    "verify_secret",
]

SECRET_HEADERS = ("x-stamped-webhook-secret", "x-secret-key")
TOPIC_HEADER = "x-stamped-topic"


class ReviewPayload(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A review event (created, published, updated, replied)."""

    id: int | str | None = None
    customer_email: str | None = None
    author: str | None = None
    review_title: str | None = None
    review_message: str | None = None
    review_rating: float | None = None
    review_date: str | None = None
    review_verified_type: int | str | None = None
    review_reply: str | None = None
    review_type: str | None = None
    product_id: int | str | None = None
    product_name: str | None = None
    product_sku: str | None = msgspec.field(default=None, name="productSKU")
    product_url: str | None = None
    date_created: str | None = None


class LoyaltyPayload(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A loyalty event: points earned, spent or adjusted, a reward, a referral."""

    id: int | str | None = None
    customer_email: str | None = None
    email: str | None = None
    points: float | None = None
    points_balance: float | None = None
    reward_id: int | str | None = None
    reward_title: str | None = None
    coupon_code: str | None = None
    reason: str | None = None
    date_created: str | None = None


class TierChangedPayload(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A VIP tier change."""

    id: int | str | None = None
    customer_email: str | None = None
    email: str | None = None
    old_tier: str | None = None
    new_tier: str | None = None
    date_created: str | None = None


Payload = ReviewPayload | LoyaltyPayload | TierChangedPayload


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One webhook push.

    Attributes:
        topic: the ``X-Stamped-Topic`` header (lower-cased), ``""`` if absent.
        key: a stable id for de-duplication: the payload's ``id`` with the topic, or
            a hash of the body when there is none.
        data: the typed payload for known topics, ``None`` for others.
        raw: the body as decoded JSON, whatever the topic.
        store_url, shop_id: from the ``X-Stamped-Store-Url`` and ``X-Shopify-Shop-ID``
            headers.
    """

    topic: str
    key: str
    data: Payload | None
    raw: Any
    store_url: str | None = None
    shop_id: str | None = None


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _header_bytes(value: object) -> bytes | None:
    """A header's bytes as they arrived; ``None`` if they cannot be recovered."""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        return None
    try:
        # aiohttp decodes header bytes as UTF-8 with surrogateescape: undo it exactly,
        # so a stray 0xff is a mismatch, not a UnicodeEncodeError (an HTTP 500).
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None


def verify_secret(headers: Mapping[str, str], secret: str) -> bool:
    """True if a secret header equals ``secret`` (compared in constant time).

    A header that is not valid text (a non-UTF-8 byte) is a mismatch, never an error.

    Raises:
        ConfigurationError: ``secret`` is empty or not a string.
    """
    if not isinstance(secret, str) or not secret:
        raise ConfigurationError("the webhook secret must be a non-empty string")
    lowered = _lower(headers)
    expected = secret.encode("utf-8", "surrogateescape")
    for name in SECRET_HEADERS:
        got = _header_bytes(lowered.get(name))
        if got is not None and hmac.compare_digest(got, expected):
            return True
    return False


def _payload_type(topic: str) -> type[Payload] | None:
    if "review" in topic:
        return ReviewPayload
    if "tier" in topic or "vip" in topic:
        return TierChangedPayload
    if any(word in topic for word in ("point", "reward", "referral", "loyalty", "spent", "earned")):
        return LoyaltyPayload
    return None


def parse_event(headers: Mapping[str, str], body: bytes, *, secret: str | None) -> WebhookEvent:
    """Verify and parse one webhook request.

    Args:
        headers: the request's headers (any case).
        body: the raw request body.
        secret: the shared secret configured in the Stamped dashboard. ``None`` skips
            the check; only do that behind another authentication.

    Raises:
        WebhookError: the secret does not match (``status`` 401), or the body is not a
            JSON object (``status`` 400: malformed, not UTF-8, or nested too deep).
        ConfigurationError: ``secret`` is an empty string.
    """
    if secret is not None and not verify_secret(headers, secret):
        raise WebhookError("webhook secret does not match", status=401)
    lowered = _lower(headers)
    topic = lowered.get(TOPIC_HEADER, "").strip().lower()
    try:
        raw = msgspec.json.decode(body)
    except JSON_ERRORS:
        raise WebhookError(f"webhook body for topic {topic!r} is not valid JSON") from None
    if not isinstance(raw, dict):
        raise WebhookError(f"webhook body for topic {topic!r} is not a JSON object")
    kind = _payload_type(topic)
    data: Payload | None = None
    if kind is not None:
        try:
            data = msgspec.convert(raw, kind, strict=False)
        except msgspec.ValidationError:
            data = None  # an unexpected shape: keep the raw body rather than fail
    ident = raw.get("id")
    if isinstance(ident, int | str) and not isinstance(ident, bool) and str(ident):
        key = f"{topic}:{ident}"
    else:
        key = f"{topic}:sha256:{hashlib.sha256(body).hexdigest()}"
    return WebhookEvent(
        topic=topic,
        key=key,
        data=data,
        raw=raw,
        store_url=lowered.get("x-stamped-store-url"),
        shop_id=lowered.get("x-shopify-shop-id"),
    )


@dataclass(frozen=True, slots=True)
class Handlers:
    """A handler for an :class:`Inbox` (or your own receiver) that routes each event by
    its payload's type: ``on_review`` gets reviews, ``on_points`` points, rewards and
    referrals, ``on_tier_changed`` VIP tier changes, each with the typed payload;
    ``other`` gets the rest (unknown topics, payloads of an unexpected shape) and the
    events whose own handler is not given. An event no handler takes is done as it is.
    """

    on_review: Callable[[WebhookEvent, ReviewPayload], Awaitable[None]] | None = None
    on_points: Callable[[WebhookEvent, LoyaltyPayload], Awaitable[None]] | None = None
    on_tier_changed: Callable[[WebhookEvent, TierChangedPayload], Awaitable[None]] | None = None
    other: Callable[[WebhookEvent], Awaitable[None]] | None = None

    async def __call__(self, event: WebhookEvent) -> None:
        data = event.data
        if isinstance(data, ReviewPayload) and self.on_review is not None:
            await self.on_review(event, data)
        elif isinstance(data, LoyaltyPayload) and self.on_points is not None:
            await self.on_points(event, data)
        elif isinstance(data, TierChangedPayload) and self.on_tier_changed is not None:
            await self.on_tier_changed(event, data)
        elif self.other is not None:
            await self.other(event)


class SeenEvents:
    """Remembers the last ``capacity`` event keys, for receivers that must act once.

    ``add(key)`` returns True the first time a key is seen and False afterwards. Keep
    one per process; for several processes, record keys in your database instead.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ConfigurationError(f"capacity must be a positive integer, got {capacity!r}")
        self._capacity = capacity
        self._keys: collections.OrderedDict[str, None] = collections.OrderedDict()

    def add(self, key: str) -> bool:
        """Record ``key``; True if it was new."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


# The durable inbox builds on the parsing above (imported last: it imports this module).
from ._inbox import Accepted, HandleReport, Inbox, InboxEntry, open_inbox  # noqa: E402
from ._pg_inbox import PgInbox, handler_connection  # noqa: E402
from ._receivers import ASGIApp, InboxLike, app, asgi_app  # noqa: E402
