"""Accounts: changing a customer's mobile number or email, confirmed by OTP."""

from __future__ import annotations

from .._endpoint import stamps
from .._request import compact
from .._validate import choice, email, optional_text, text, user_ref
from ._resource import StampsResource
from .models import Otp, OtpChannel, Status

__all__ = ["Accounts"]

ACCOUNTS_REQUEST_CHANGE_MOBILE_NUMBER_OTP = stamps(
    "POST", "/api/v2/accounts/request-change-mobile-number-otp", Otp, idempotent=False
)
ACCOUNTS_CHANGE_MOBILE_NUMBER = stamps(
    "POST", "/api/v2/accounts/change-mobile-number", Status, idempotent=False
)
ACCOUNTS_REQUEST_OTP_FOR_EMAIL = stamps(
    "POST", "/api/v2/accounts/request-otp-for-email", Otp, idempotent=False
)
ACCOUNTS_CHANGE_EMAIL = stamps("POST", "/api/v2/accounts/change-email", Status, idempotent=False)


class Accounts(StampsResource):
    """``stamps.accounts``: OTP-confirmed changes of mobile number and email.

    None of these is retried once sent: an OTP request sends a message (a repeat sends
    another and may void the first), and an OTP is single-use (a repeat of a change
    that succeeded fails with ``invalid_otp``). Failures after sending raise
    :class:`~stampsync.errors.AmbiguousWriteError`.
    """

    async def request_mobile_number_otp(
        self,
        *,
        mobile_number: str,
        type: OtpChannel | str,
        template_code: str,
        identifier: str | int | None = None,
    ) -> Otp:
        """POST /api/v2/accounts/request-change-mobile-number-otp: send an OTP to a new number.

        ``type`` is the channel, ``"sms"`` or ``"whatsapp"``. The documents list
        ``mobile_number`` as the parameter and show ``identifier`` (the customer) in
        their example; both are sent when given.
        """
        body = compact(
            mobile_number=text(mobile_number, "mobile_number"),
            type=choice(type, OtpChannel, "type"),
            template_code=text(template_code, "template_code"),
            identifier=None if identifier is None else user_ref(identifier, "identifier"),
        )
        return await self._call(
            ACCOUNTS_REQUEST_CHANGE_MOBILE_NUMBER_OTP,
            body=body,
        )

    async def change_mobile_number(
        self, *, identifier: str | int, new_number: str, otp: str
    ) -> Status:
        """POST /api/v2/accounts/change-mobile-number: set a new number, confirmed by OTP."""
        body = {
            "identifier": user_ref(identifier, "identifier"),
            "new_number": text(new_number, "new_number"),
            "otp": text(otp, "otp"),
        }
        return await self._call(
            ACCOUNTS_CHANGE_MOBILE_NUMBER,
            body=body,
        )

    async def request_email_otp(self, *, new_email: str, template_code: str | None = None) -> Otp:
        """POST /api/v2/accounts/request-otp-for-email: send an OTP to a new email address."""
        body = compact(
            new_email=email(new_email, "new_email"),
            template_code=optional_text(template_code, "template_code"),
        )
        return await self._call(ACCOUNTS_REQUEST_OTP_FOR_EMAIL, body=body)

    async def change_email(self, *, user: str | int, new_email: str, otp: str) -> Status:
        """POST /api/v2/accounts/change-email: set a new email, confirmed by OTP.

        A used address fails with ``error_code == "email_already_used"``.
        """
        body = {
            "user": user_ref(user),
            "new_email": email(new_email, "new_email"),
            "otp": text(otp, "otp"),
        }
        return await self._call(ACCOUNTS_CHANGE_EMAIL, body=body)
