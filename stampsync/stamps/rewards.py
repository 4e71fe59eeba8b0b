"""Rewards: what customers can spend their stamps on."""

from __future__ import annotations

from .._endpoint import stamps
from .._paging import KeysetPages
from .._request import compact
from .._validate import optional_id, positive, text, user_ref
from ._resource import StampsResource
from .pos_models import Channel, Reward, RewardList, RewardType

__all__ = ["Rewards"]

REWARDS_LIST = stamps("GET", "/api/rewards/", RewardList, idempotent=True)
REWARDS_DETAILS = stamps("GET", "/api/rewards/{reward_code}", Reward, idempotent=True)
REWARDS_BY_MERCHANT_GROUP = stamps(
    "GET", "/api/rewards/by-merchant-group", RewardList, idempotent=True
)


def _last_reward(page: RewardList, per_page: int | None) -> int | None:
    """The cursor after ``page``, or None when it was the last (empty, or short of
    ``per_page``: the documents give no ``has_next`` for rewards)."""
    if not page.rewards or page.rewards[-1].id is None:
        return None
    if per_page is not None and len(page.rewards) < per_page:
        return None
    return page.rewards[-1].id


class Rewards(StampsResource):
    """``stamps.rewards``: list rewards (keyset pages), read one."""

    async def list(
        self,
        *,
        store: int | None = None,
        merchant: int | None = None,
        user: str | int | None = None,
        only_redeemable_in_this_store: bool | None = None,
        include_inactive_vouchers: bool | None = None,
        channel: Channel | int | None = None,
        last_reward_id: int | None = None,
        last_voucher_id: int | None = None,
        per_page: int | None = None,
    ) -> RewardList:
        """GET /api/rewards/: one page of the rewards (and vouchers) available, with
        ``redeemable`` filled in when ``user`` is given. The next page starts after
        ``last_reward_id``."""
        query = compact(
            user=None if user is None else user_ref(user),
            merchant=self._merchant(merchant),
            store=self._store(store, required=True),
            only_redeemable_in_this_store=only_redeemable_in_this_store,
            include_inactive_vouchers=include_inactive_vouchers,
            channel=None if channel is None else int(channel),
            last_reward_id=optional_id(last_reward_id, "last_reward_id"),
            last_voucher_id=optional_id(last_voucher_id, "last_voucher_id"),
            per_page=optional_id(per_page, "per_page"),
        )
        return await self._call(REWARDS_LIST, query=query)

    def all(
        self,
        *,
        store: int | None = None,
        merchant: int | None = None,
        user: str | int | None = None,
        only_redeemable_in_this_store: bool | None = None,
        channel: Channel | int | None = None,
        per_page: int = 50,
        prefetch: int = 2,
    ) -> KeysetPages[Reward, int]:
        """GET /api/rewards/, every page: an async iterator over all rewards, following
        ``last_reward_id``, up to ``prefetch`` pages ahead."""
        positive(per_page, "per_page")
        store_id, merchant_id = self._store(store, required=True), self._merchant(merchant)

        async def fetch(cursor: int | None) -> tuple[list[Reward], int | None]:
            page = await self.list(
                store=store_id,
                merchant=merchant_id,
                user=user,
                only_redeemable_in_this_store=only_redeemable_in_this_store,
                channel=channel,
                last_reward_id=cursor,
                per_page=per_page,
            )
            return page.rewards, _last_reward(page, per_page)

        return KeysetPages(fetch, prefetch=prefetch, what="rewards")

    async def details(self, reward_code: str) -> Reward:
        """GET /api/rewards/{reward_code}: one reward by its code."""
        # The one Stamps path with a parameter: the client's call fills it in as one
        # percent-encoded segment.
        return await self._client._call(
            REWARDS_DETAILS, {"reward_code": text(reward_code, "reward_code")}
        )

    async def by_merchant_group(
        self,
        *,
        user: str | int | None = None,
        channel: Channel | int | None = None,
        type: RewardType | int | None = None,
        last_reward_id: int | None = None,
        per_page: int | None = None,
    ) -> RewardList:
        """GET /api/rewards/by-merchant-group: one page of the rewards of the whole
        merchant group."""
        query = compact(
            user=None if user is None else user_ref(user),
            channel=None if channel is None else int(channel),
            type=None if type is None else int(type),
            last_reward_id=optional_id(last_reward_id, "last_reward_id"),
            per_page=optional_id(per_page, "per_page"),
        )
        return await self._call(REWARDS_BY_MERCHANT_GROUP, query=query)

    def all_by_merchant_group(
        self,
        *,
        user: str | int | None = None,
        channel: Channel | int | None = None,
        type: RewardType | int | None = None,
        per_page: int = 50,
        prefetch: int = 2,
    ) -> KeysetPages[Reward, int]:
        """GET /api/rewards/by-merchant-group, every page (an async iterator)."""
        positive(per_page, "per_page")

        async def fetch(cursor: int | None) -> tuple[list[Reward], int | None]:
            page = await self.by_merchant_group(
                user=user, channel=channel, type=type, last_reward_id=cursor, per_page=per_page
            )
            return page.rewards, _last_reward(page, per_page)

        return KeysetPages(fetch, prefetch=prefetch, what="rewards by merchant group")
