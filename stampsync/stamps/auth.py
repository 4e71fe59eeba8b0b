"""Credentials: the JWT exchange and the ping that checks a token."""

from __future__ import annotations

import msgspec

from .._endpoint import stamps
from ._resource import StampsResource
from .models import AccessToken
from .pos_models import TokenPayload

__all__ = ["Auth", "Pong"]

AUTH_GET_ACCESS_TOKEN = stamps(
    "POST", "/api/auth/get-access-token/", AccessToken, idempotent=True, authenticate=False
)


class Pong(msgspec.Struct, frozen=True, kw_only=True):
    """Who the token belongs to."""

    merchant: str | None = None
    merchant_id: int | str | None = None


class _PingAnswer(msgspec.Struct, frozen=True):
    pong: Pong


PING = stamps("POST", "/api/ping", _PingAnswer, idempotent=True)
AUTH_VERIFY_TOKEN = stamps("POST", "/api/auth/verify-token/", TokenPayload, idempotent=True)


class Auth(StampsResource):
    """``stamps.auth``: exchange the static token for a JWT; check credentials."""

    async def get_access_token(self, *, merchant: int | None = None) -> AccessToken:
        """POST /api/auth/get-access-token/: a 24-hour JWT for the static token.

        Sent without an Authorization header; the static token travels in the body.
        Clients built with ``jwt=True`` call this for you and renew before expiry.
        """
        body = {
            "token": self._client._static_token.reveal(),
            "crm_merchant_id": self._merchant(merchant),
        }
        return await self._call(
            AUTH_GET_ACCESS_TOKEN,
            body=body,
        )

    async def ping(self) -> Pong:
        """POST /api/ping: check the credentials; answers with the merchant they belong to."""
        answer = await self._call(PING)
        return answer.pong

    async def verify_token(self) -> TokenPayload:
        """POST /api/auth/verify-token/: the claims of the JWT the client sends (its
        expiry, merchant). Only meaningful with a JWT (``jwt=True`` or
        ``token_type="Bearer"``)."""
        return await self._call(AUTH_VERIFY_TOKEN)
