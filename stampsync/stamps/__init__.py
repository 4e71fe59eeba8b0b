"""Stamps (stamps.co.id, loyalty and CRM): the client, its API sections and models."""

from .client import StampsClient
from .models import (
    AddStampsResult,
    Award,
    DeductStampsResult,
    FullProfileResult,
    Gender,
    MemberDetails,
    Membership,
    Otp,
    OtpChannel,
    PartialRegistration,
    RegistrationMethod,
    StampsCustomer,
    Status,
    Suggestions,
    UpgradeRequirement,
    User,
)
from .stamps import StampAward, StampDeduction

__all__ = [
    "AddStampsResult",
    "Award",
    "DeductStampsResult",
    "FullProfileResult",
    "Gender",
    "MemberDetails",
    "Membership",
    "Otp",
    "OtpChannel",
    "PartialRegistration",
    "RegistrationMethod",
    "StampAward",
    "StampDeduction",
    "StampsClient",
    "StampsCustomer",
    "Status",
    "Suggestions",
    "UpgradeRequirement",
    "User",
]
