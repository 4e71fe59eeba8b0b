"""Stamps (stamps.co.id, loyalty and CRM): the client, its API sections and models."""

from . import pos_models
from .accounts import Accounts
from .activities import Activities, ExpirationJournals
from .auth import Auth, Pong
from .balances import Balances
from .client import StampsCallSettings, StampsClient
from .diagnostics import Testing
from .memberships import Memberships
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
from .pos_models import *  # noqa: F403
from .redemptions import Redemptions
from .rewards import Rewards
from .stamps import StampAward, StampDeduction, Stamps
from .stores import Merchants, Stores
from .transactions import PosTransaction, TransactionBody, Transactions
from .vouchers import Vouchers

__all__ = [
    "Accounts",
    "Activities",
    "AddStampsResult",
    "Auth",
    "Award",
    "Balances",
    "DeductStampsResult",
    "ExpirationJournals",
    "FullProfileResult",
    "Gender",
    "MemberDetails",
    "Membership",
    "Memberships",
    "Merchants",
    "Otp",
    "OtpChannel",
    "PartialRegistration",
    "Pong",
    "PosTransaction",
    "Redemptions",
    "RegistrationMethod",
    "Rewards",
    "StampAward",
    "StampDeduction",
    "Stamps",
    "StampsCallSettings",
    "StampsClient",
    "StampsCustomer",
    "Status",
    "Stores",
    "Suggestions",
    "Testing",
    "TransactionBody",
    "Transactions",
    "UpgradeRequirement",
    "User",
    "Vouchers",
]
# The point-of-sale models are listed once, in their module's __all__.
__all__ += pos_models.__all__
