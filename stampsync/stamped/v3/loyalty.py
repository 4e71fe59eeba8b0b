"""Stamped V3 loyalty operations: points, VIP tiers, activities, rewards and coupons."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any, Unpack

import msgspec

from ..._admission import QuotaStart
from ..._endpoint import stamped_v3
from ..._validate import email as check_email
from ..._validate import finite, optional_text, text
from ...errors import ConfigurationError
from . import _points_batch
from ._listing import Listing
from ._resource import (
    DEFAULT_LIMIT,
    ListingKeywords,
    V3Resource,
    check_limit,
    filtered,
    query,
    record_id,
)
from .models import Activity, ActivityTriggered, PaginatedActivities, PaginatedRewards, Reward

if TYPE_CHECKING:
    from ..._engine.writes import BatchKeywords, BatchReport, Rejected

__all__ = ["Loyalty", "PointsAdjustment"]

ADJUST_POINTS = stamped_v3(
    "loyalty", "POST", "/customers/{customer_id}/adjust-points", Activity, idempotent=False
)
ADJUST_VIP_TIER = stamped_v3(
    "loyalty", "POST", "/customers/{customer_id}/adjust-vip-tier", Activity, idempotent=False
)
CREATE_CUSTOM_ACTIVITY = stamped_v3(
    "loyalty", "POST", "/activities", ActivityTriggered, idempotent=False
)
FILTER_ACTIVITIES = stamped_v3(
    "loyalty", "GET", "/activities", PaginatedActivities, idempotent=True
)
REDEEM_REWARD = stamped_v3(
    "loyalty",
    "POST",
    "/customers/{customer_id}/redeem-reward/{reward_id}",
    Activity,
    idempotent=False,
)
FILTER_REWARDS = stamped_v3("loyalty", "GET", "/rewards", PaginatedRewards, idempotent=True)
TRIGGER_ACTIVITY = stamped_v3(
    "loyalty",
    "POST",
    "/customers/{customer_id}/trigger-activity",
    ActivityTriggered,
    idempotent=False,
)
VOID_COUPON = stamped_v3(
    "loyalty",
    "POST",
    "/customers/{customer_id}/void-coupon/{coupon_code}",
    Reward,
    idempotent=True,
)


def _points(value: object, name: str, limit: int, *, signed: bool) -> int | float:
    """Points: a finite number, at most ``max_stamps`` either way."""
    return finite(value, name, limit=limit, signed=signed, setting="max_stamps")


class PointsAdjustment(msgspec.Struct, kw_only=True, frozen=True):
    """One adjustment of a points batch (:meth:`Loyalty.adjust_points_many`).

    ``key`` is yours and unique per adjustment (a campaign's name and the customer, say):
    with a journal, a key is sent at most once across runs. ``points`` adds (positive)
    or subtracts (negative).
    """

    key: str
    customer_id: str | int
    points: int | float
    reason: str | None = None
    row: int | None = None
    """Where the adjustment came from (the CLI gives the input file's line); reported back."""

    @property
    def user(self) -> str:
        """The customer, as given (for the report)."""
        return str(self.customer_id)


class AdjustPointsBody(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """What ``adjust-points`` sends: the customer (in the path), the points and reason."""

    customer_id: str | int
    points: int | float
    reason: str | None = None


class Loyalty(V3Resource):
    """``stamped.v3.loyalty``: customer actions (points, tiers, activities, rewards,
    coupons) and program reporting (activities and rewards listed)."""

    async def adjust_points(
        self, customer_id: str | int, *, points: int | float, reason: str | None = None
    ) -> Activity:
        """POST /api/v3/loyalty/shops/{store_hash}/customers/{customer_id}/adjust-points:
        add (positive) or subtract (negative) points; a finite, non-zero number, at most
        the client's ``max_stamps`` either way (refused before sending).

        **Not idempotent**: a repeat moves the balance twice, so it is never retried once
        it may have been sent (an unknown outcome raises ``AmbiguousWriteError``).
        """
        return await self.send_adjust(
            self.adjust_body(customer_id=customer_id, points=points, reason=reason)
        )

    def adjust_body(
        self, *, customer_id: str | int, points: int | float, reason: str | None = None
    ) -> AdjustPointsBody:
        """The checked request of :meth:`adjust_points` (ConfigurationError if it is not
        one): what a single call and a batch both send."""
        amount = _points(points, "points", self._client.options.max_stamps, signed=True)
        if amount == 0:  # moves nothing; a batch row that says so is likely a mistake
            raise ConfigurationError("points must not be zero")
        return AdjustPointsBody(
            customer_id=record_id(customer_id, "customer_id"),
            points=amount,
            reason=optional_text(reason, "reason"),
        )

    async def send_adjust(
        self, body: AdjustPointsBody, *, start: QuotaStart | None = None
    ) -> Activity:
        """Send a request made by :meth:`adjust_body`; ``start``, a slot and quota start
        taken ahead (:meth:`StampedClient.take_start`), if any."""
        payload: dict[str, Any] = {"points": body.points}
        if body.reason is not None:
            payload["reason"] = body.reason
        return await self._call(
            ADJUST_POINTS, params={"customer_id": body.customer_id}, body=payload, start=start
        )

    async def adjust_points_many(
        self,
        rows: Iterable[PointsAdjustment | Rejected] | AsyncIterable[PointsAdjustment | Rejected],
        *,
        key_in_reason: bool = True,
        **batch: Unpack[BatchKeywords],
    ) -> BatchReport:
        """Adjust many customers' points, each key at most once, with the guarantees of
        the mass award (the Stamped analogue of :meth:`Stamps.add_many
        <stampsync.stamps.Stamps.add_many>`).

        Runs ``concurrent_batch_executions`` adjustments at a time through the throttle.
        With ``journal`` every key's intent is recorded before its request and its
        outcome after: a rerun after a crash skips what was applied, sends again what
        provably failed, and reports what is ambiguous (sent, answer lost). The V3
        reference gives no way to look an adjustment up (activities carry no reason and
        cannot be filtered by customer), so an ambiguous row stays ambiguous until you
        check the customer's points and settle it with ``stampsync stamped journal
        resolve``. A bad row (points not a finite non-zero number, over ``max_stamps``,
        no customer) fails alone.

        Args:
            rows: :class:`PointsAdjustment` items (streamed).
            key_in_reason: send the row's key after its reason (``"Spring bonus [k-17]"``),
                so the customer's history names the row behind each adjustment.
            batch: ``journal``, ``account`` (default: this shop's store hash, as for
                order pushes), ``on_outcome``, ``keep_outcomes``, ``stop``,
                ``check_first`` and ``breaker``, as
                :class:`~stampsync.batch.writes.BatchKeywords` describes.
        """
        return await _points_batch.adjust_many(self, rows, batch, key_in_reason=key_in_reason)

    async def adjust_vip_tier(self, customer_id: str | int, *, tier_name: str) -> Activity:
        """POST /api/v3/loyalty/shops/{store_hash}/customers/{customer_id}/adjust-vip-tier:
        put the customer in the tier of this name (exact match).

        Not retried once sent: the answer is an activity, and each call records one.
        """
        return await self._call(
            ADJUST_VIP_TIER,
            params={"customer_id": record_id(customer_id, "customer_id")},
            body={"tierName": text(tier_name, "tier_name")},
        )

    async def create_custom_activity(
        self, *, email: str, campaign_id: str | int
    ) -> ActivityTriggered:
        """POST /api/v3/loyalty/shops/{store_hash}/activities: record a custom activity
        (the rule ``campaign_id``) for the customer with this email.

        **Not idempotent**: a repeat records (and rewards) the activity twice.
        """
        return await self._call(
            CREATE_CUSTOM_ACTIVITY,
            query={
                "email": check_email(email, "email"),
                "campaignId": record_id(campaign_id, "campaign_id"),
            },
        )

    async def filter_activities(
        self, *, page: int | None = None, limit: int = DEFAULT_LIMIT
    ) -> PaginatedActivities:
        """GET /api/v3/loyalty/shops/{store_hash}/activities: one page of the program's
        activities (``page`` left out: the first)."""
        return await self._call(FILTER_ACTIVITIES, query=query(page=page, limit=check_limit(limit)))

    def list_activities(self, **pages: Unpack[ListingKeywords]) -> Listing[Activity]:
        """GET /api/v3/loyalty/shops/{store_hash}/activities, every page: an async
        iterator over every activity, pages fetched at most ``prefetch`` ahead (``pages``:
        :class:`~stampsync.stamped.v3.ListingKeywords`)."""
        return self._listing(
            filtered(self.filter_activities),
            key=lambda a: a.activity_id,
            what="activities",
            **pages,
        )

    async def redeem_reward(
        self, customer_id: str | int, reward_id: str | int, *, points: int | float | None = None
    ) -> Activity:
        """POST /api/v3/loyalty/shops/{store_hash}/customers/{customer_id}/redeem-reward/{reward_id}:
        spend the customer's points on a reward (``points``: how many, where the reward
        lets the customer choose).

        **Not idempotent**: a repeat redeems (and spends) twice.
        """  # noqa: E501
        q: dict[str, object] | None = (
            None
            if points is None
            else {
                "points": _points(points, "points", self._client.options.max_stamps, signed=False)
            }
        )
        return await self._call(
            REDEEM_REWARD,
            params={
                "customer_id": record_id(customer_id, "customer_id"),
                "reward_id": record_id(reward_id, "reward_id"),
            },
            query=q,
        )

    async def filter_rewards(
        self, *, page: int | None = None, limit: int = DEFAULT_LIMIT
    ) -> PaginatedRewards:
        """GET /api/v3/loyalty/shops/{store_hash}/rewards: one page of redeemed rewards."""
        return await self._call(FILTER_REWARDS, query=query(page=page, limit=check_limit(limit)))

    def list_rewards(self, **pages: Unpack[ListingKeywords]) -> Listing[Reward]:
        """GET /api/v3/loyalty/shops/{store_hash}/rewards, every page: an async iterator
        over every redeemed reward (``pages``: :class:`~stampsync.stamped.v3.ListingKeywords`)."""
        return self._listing(
            filtered(self.filter_rewards), key=lambda r: r.reward_id, what="rewards", **pages
        )

    async def trigger_activity(
        self, customer_id: str | int, *, rule_id: str | int | None = None, title: str | None = None
    ) -> ActivityTriggered:
        """POST /api/v3/loyalty/shops/{store_hash}/customers/{customer_id}/trigger-activity:
        trigger a rule (by ``rule_id`` or ``title``) for the customer.

        **Not idempotent**: a repeat triggers (and rewards) twice.
        """
        if rule_id is None and title is None:
            raise ConfigurationError("trigger_activity needs rule_id or title")
        return await self._call(
            TRIGGER_ACTIVITY,
            params={"customer_id": record_id(customer_id, "customer_id")},
            query=query(
                rule_id=None if rule_id is None else record_id(rule_id, "rule_id"),
                title=optional_text(title, "title"),
            ),
        )

    async def void_coupon(self, customer_id: str | int, coupon_code: str) -> Reward:
        """POST /api/v3/loyalty/shops/{store_hash}/customers/{customer_id}/void-coupon/{coupon_code}:
        void a reward's coupon.

        Idempotent: voiding a voided coupon leaves it voided, so failures are retried.
        """  # noqa: E501
        return await self._call(
            VOID_COUPON,
            params={
                "customer_id": record_id(customer_id, "customer_id"),
                "coupon_code": text(coupon_code, "coupon_code"),
            },
        )
