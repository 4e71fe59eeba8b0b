"""The success examples of the vendor's Stamps reference (stamps-official/*.rst), as
JSON. Where an example is not valid JSON as printed (trailing or missing commas,
``nil``, an unquoted ``ABC``, a stray ``{``), the smallest repair is made and noted."""

from __future__ import annotations

from typing import Any

ADD = {
    "customer": {
        "status": "Blue",
        "balance": 150000,
        "mobile_phone": "+6281314811365",
        "id": 8120,
        "stamps_remaining": 401,
    },
    "transaction": {
        "stamps_earned": 5,
        "id": 2374815,
        "value": 50000.0,
        "number_of_people": 8,
        "discount": 5000.0,
    },
}

MEMBERSHIP = {
    "tags": [],
    "status": 10,
    "status_text": "Blue",
    "stamps": 10,
    "balance": 20,
    "is_blocked": False,
    "referral_code": "asd",
    "start_date": "2020-01-01",
    "created": "2020-01-01",
}

# Repaired: trailing commas after "created", "channels" and "extra_data".
ADD_WITH_REDEMPTIONS = {
    "membership": MEMBERSHIP,
    "transaction": ADD["transaction"],
    "issued_voucher": {
        "id": 1,
        "code": "VC-ABC",
        "is_active": True,
        "quantity": 1,
        "value": 200,
        "notes": "",
        "start_date": "2022-03-28",
        "end_date": "2022-04-28",
        "constraint": {"channels": [1, 2, 3, 4]},
        "template": {
            "id": 1,
            "name": "March Surprise Voucher",
            "type": 1,
            "short_description": "Get 50% off on your next purchase",
            "picture_url": "foo.png",
            "landscape_picture_url": "foo_landscape.png",
            "merchant_id": 1,
            "merchant_code": "M-ABC",
            "extra_data": None,
        },
    },
}

# Repaired: a missing comma after "value", a stray "{" before "membership".
CANCEL = {
    "transaction": {"stamps_earned": 3, "id": 1, "value": 30000, "status": "Canceled"},
    "membership": MEMBERSHIP,
}

MODIFY = {
    "transaction": {"id": 1, "value": 30000, "stamps_earned": 3, "number_of_people": 1},
    "customer": {
        "id": 5,
        "mobile_phone": None,
        "stamps_remaining": 62,
        "status": "Blue",
        "balance": 0,
    },
}

# Repaired: trailing commas after the items' "quantity"; ABC quoted.
DETAILS = {
    "transaction": {
        "created": 1619734844,
        "discount": None,
        "items": [
            {"id": 1, "name": "Cafe Latte", "quantity": 1.0},
            {"id": 2, "name": "Fried Rice", "quantity": 1.0},
        ],
        "notes": "",
        "service_charge": None,
        "stamps": 150,
        "status": "Created",
        "store": {"display_name": "My Favorite Store", "id": 1, "name": "Fav Store"},
        "subtotal": None,
        "tax": None,
        "type": None,
        "value": 1500000.0,
        "payments": [
            {
                "id": 1,
                "value": 1500000.0,
                "eligible_for_stamps": 150,
                "payment_method_code": "ABC",
            }
        ],
    }
}

PREVIEW = {"stamps": 10}

BY_USER = {
    "transactions": [
        {
            "id": 20,
            "value": 200000.0,
            "stamps_earned": 1,
            "number_of_people": None,
            "discount": None,
            "subtotal": None,
            "invoice_number": "0020014795:1:001",
            "created": 1661075448,
            "merchant": "Merchant Test",
            "merchant_id": 2,
            "status": 1,
            "meta": {"channel": 2, "channel_text": "POS"},
            "store": {"name": "0020014795", "display_name": "TEST STORE"},
        },
        {
            "id": 15,
            "value": 10000.0,
            "stamps_earned": 20,
            "number_of_people": None,
            "discount": None,
            "subtotal": 102.0,
            "invoice_number": "0020014795:1:002",
            "created": 1661075448,
            "merchant": "Merchant Test",
            "status": 2,
            "merchant_id": 3,
            "meta": {"channel": 2, "channel_text": "POS"},
            "store": {"name": "0020014795", "display_name": "TEST STORE"},
        },
    ],
    "has_next": True,
}

REDEMPTION_MEMBERSHIP = {
    "tags": [],
    "status": 100,
    "stamps": 250,
    "balance": 0,
    "referral_code": "9121682",
    "start_date": "2016-07-25",
    "created": "2016-07-25",
}

REDEEM_REWARD = {
    "redemption": {
        "id": 3,
        "reward": "Kaya Bun",
        "stamps_used": 2,
        "extra_data": {"discount": "10%"},
    },
    "membership": REDEMPTION_MEMBERSHIP,
    "reward": {
        "id": 1,
        "name": "Kaya Bun",
        "stamps_to_redeem": 2,
        "extra_data": {},
        "code": "MI0017",
        "type": "reward",
    },
    "voucher": {
        "id": 1,
        "name": "Free Kaya Bun",
        "code": "ABCD12345",
        "is_active": True,
        "start_date": "2016-07-25",
        "end_date": "2016-08-25",
        "value": None,
        "picture_url": "http://foo.com",
        "short_description": "Free Kaya Bun",
        "description": "Free Kaya Bun with no minimum purchase",
        "instructions": "Show the voucher QR at the counter",
        "terms_and_conditions": "",
    },
}

REDEEM_VOUCHER = {
    "redemption": {
        "id": 2,
        "reward": "Discount Rp 100,000",
        "stamps_used": 0,
        "extra_data": {"discount": "10%"},
    },
    "membership": REDEMPTION_MEMBERSHIP,
    "voucher": {"id": 4, "name": "Discount Rp 100,000", "code": "PZ633ECV", "type": "voucher"},
}

DEDUCT_VALUE = REDEEM_VOUCHER  # the document shows the same example

BY_VOUCHER_CODE = {
    "redemption": {"id": 199061, "status": "Created"},
    "customer": {"id": 401791, "status": "Blue", "stamps_remaining": 0},
}

# Repaired: a trailing comma after "birthday".
REDEEM_PROMO_CODE = {
    "redemption": REDEEM_VOUCHER["redemption"],
    "user": {
        "id": "123",
        "name": "Customer",
        "gender": "male",
        "address": "Jl MK raya",
        "is_active": True,
        "email": "customer@stamps.co.id",
        "phone": "+62812398712",
        "picture_url": "https://media.stamps.co.id/thumb/profile_photos/x_size_80.png",
        "birthday": "1989-10-1",
    },
    "membership": {
        "tags": [],
        "level": 100,
        "stamps": 250,
        "balance": 0,
        "referral_code": "9121682",
        "start_date": "2016-07-25",
        "created": "2016-07-25",
    },
}

CANCEL_REDEMPTION = {
    "redemption": {"id": 1, "status": "Canceled"},
    "customer": {"status": "Blue", "id": 6, "stamps_remaining": 60},
}

AUTHORIZE = {"status": "ok"}

# As printed, "reward" appears twice in "redemption" (a name, then an object): JSON
# keeps the last. Repaired: a trailing comma after "membership".
REDEEM_MULTIPLE = (
    '{"redemption": {"id": 3, "reward": "Kaya Bun", "stamps_used": 2,'
    ' "extra_data": {"discount": "10%"},'
    ' "reward": {"id": 1, "name": "Kaya Bun", "stamps_to_redeem": 2, "extra_data": {},'
    ' "code": "MI0017", "type": "reward"},'
    ' "voucher": {"id": 1, "name": "Free Kaya Bun", "code": "ABCD12345", "is_active": true,'
    ' "start_date": "2016-07-25", "end_date": "2016-08-25", "picture_url": "http://foo.com",'
    ' "short_description": "Free Kaya Bun",'
    ' "description": "Free Kaya Bun with no minimum purchase",'
    ' "instructions": "Show the voucher QR at the counter", "terms_and_conditions": ""}},'
    ' "membership": {"level": 100, "level_text": "Blue", "status": "Active", "stamps": 0,'
    ' "balance": 0, "is_blocked": false, "referral_code": "7LXJ7",'
    ' "start_date": "2022-09-16", "created": "2022-09-16"}}'
)


def _reward(
    i: int, stamps: int, membership: str, name: str, code: str, **extra: object
) -> dict[str, Any]:
    return {
        "stamps_to_redeem": stamps,
        "image_url": "http://foo.com",
        "landscape_url": None,
        "id": i,
        "membership": membership,
        "name": name,
        "description": "reward description",
        "price": None,
        "extra_data": extra.pop("extra_data", {}),
        "merchant_code": None,
        "redeemable": extra.pop("redeemable", True),
        "is_visible": True,
        "terms": "",
        "code": code,
        "type": 3,
    }


# Repaired: trailing commas after the vouchers' "extra_data" and "constraint".
REWARDS = {
    "rewards": [
        _reward(6, 20, "Blue", "Mee Goreng", "A001", extra_data={"SKU": "A001SKU"}),
        _reward(5, 60, "Blue", "Curry Chicken", "A002"),
        _reward(8, 120, "Silver", "Nasi Lemak", "A003", redeemable=False),
        _reward(7, 10, "Gold", "Nasi Lemak", "A004", redeemable=False),
    ],
    "vouchers": [
        {
            "id": 9,
            "name": "Birthday Voucher",
            "code": "BD0201",
            "landscape_url": "foo-landscape.png",
            "image_url": "foo.png",
            "type": "promotion 1",
            "expires_on": "13-02-2013 00:00",
            "terms": "input your birthday for get voucher on your birthday",
            "quantity": 1,
            "constraint": {"channels": [1, 2]},
            "extra_data": {"SKU": "PROMO-birthday-20-off"},
        },
        {
            "id": 10,
            "name": "10 Year celebration promo",
            "code": "P010",
            "landscape_url": "foo-landscape.png",
            "image_url": "foo.png",
            "type": "promotion 1",
            "expires_on": "24-01-2014 00:00",
            "terms": "sign up at stamps and get Free product A",
            "quantity": 2,
            "extra_data": {},
            "constraint": {"channels": [1, 2, 3, 4, 5, 6]},
        },
    ],
    "customer": {"id": 114807, "stamps": 18, "membership_status": "Blue"},
}

REWARD_DETAILS = {
    "id": 1,
    "name": "Example Reward",
    "stamps_to_redeem": 100,
    "get_absolute_url": "/merchant/rewards/abcde1",
    "is_cross_promo": False,
    "description": "An example description of a reward",
    "redemption_url": "",
    "membership": "Blue",
    "picture_url": "/foo.png",
    "is_active": True,
    "code": "ABCDE1",
    "extra_data": {},
    "available_at": ["store A", "store B"],
}

# Repaired: a trailing comma after the only reward.
REWARDS_BY_GROUP = {
    "rewards": [_reward(6, 20, "Blue", "Mee Goreng", "A001", extra_data={"SKU": "A001SKU"})]
}

ISSUE_VOUCHER = {
    "voucher": {
        "id": 123054,
        "start_date": "2014-11-20",
        "end_date": "2014-11-30",
        "quantity": 1,
        "notes": "Special voucher for e-magazine readers",
        "value": 200,
    },
    "customer": {"id": 6, "email": "customer@stamps.co.id"},
}

# Repaired: a trailing comma after "discount".
VALIDATE = {
    "is_redeemable": True,
    "user": {"email": "foo@bar.com", "name": "Alice", "phone": "+628123123123"},
    "voucher": {
        "extra_data": {"discount": 1000},
        "id": 123,
        "name": "Rp. 100,000 Discount",
        "value": 100000,
        "start_date": "2021-04-26",
        "end_date": "2021-05-24",
        "validity": "Dynamic",
    },
}

VOUCHER_TEMPLATE = {
    "id": 2,
    "name": "Valentine Voucher",
    "type": 1,
    "short_description": "Get 50% off on your next purchase",
    "picture_url": "foo.png",
    "landscape_picture_url": "foo_landscape.png",
    "merchant_id": 1,
    "merchant_code": "M-ABC",
    "extra_data": {},
}

# Repaired: a trailing comma after the first voucher's "template".
VOUCHERS_BY_GROUP = {
    "vouchers": [
        ADD_WITH_REDEMPTIONS["issued_voucher"],
        {
            "id": 2,
            "code": "VC-DEF",
            "is_active": True,
            "quantity": 2,
            "notes": "",
            "value": 200,
            "start_date": "2022-02-14",
            "end_date": "2022-02-28",
            "constraint": {"channels": [1, 2, 3, 6]},
            "template": VOUCHER_TEMPLATE,
        },
    ]
}

# Repaired: a trailing comma after "count".
VOUCHER_COUNT = {"count": 12}

VOUCHER_DETAILS = {
    "id": 2,
    "code": "VC-DEF",
    "is_active": True,
    "quantity": 2,
    "notes": "",
    "value": 200,
    "terms_and_conditions": "",
    "start_date": "2022-02-14",
    "end_date": "2022-02-28",
    "constraint": {"channels": [1, 2, 3, 6]},
    "template": {
        **VOUCHER_TEMPLATE,
        "description": "Get 50% off on your next purchase",
        "instructions": "",
        "terms_and_conditions": "",
    },
}

CREDIT = {
    "customer": {"id": 6, "balance": 1000, "status": "Blue"},
    "balance_update": {"id": 2, "amount": 10000},
}
DEBIT = {
    "customer": {"id": 6, "balance": 900, "status": "Blue"},
    "balance_update": {"id": 2, "amount": 10000},
}
BALANCE_CANCEL = {
    "customer": {"id": 6, "balance": 900, "status": "Blue"},
    "balance_update": {"id": 2, "amount": 10000, "status": "Canceled"},
}

# Repaired: a missing comma after "id".
STORE = {
    "store": {
        "id": "1",
        "name": "store-1",
        "code": "store-1",
        "display_name": "Store 1",
        "area": "Jakarta",
        "address": "Example street",
        "phone": "",
        "email": "",
        "slug": "test-store",
        "latitude": None,
        "longitude": None,
        "photo_url": "",
        "is_active": True,
    }
}

PAYMENT_METHOD = {"status": "ok"}

EXPIRATION_JOURNALS = {
    "expiration_journals": [
        {"id": 284614, "stamps_to_expire": 10, "expiration_date": "2023-03-30"},
        {"id": 284615, "stamps_to_expire": 10, "expiration_date": "2023-03-30"},
        {"id": 284616, "stamps_to_expire": 10, "expiration_date": "2023-03-30"},
    ]
}

_MERCHANT = {"id": 2, "name": "Levi's"}
_STORE = {"name": "L123", "display_name": "Levi Store"}


def _modification(
    root: int, original: int, modified: int | None, refund: int, total: int, inv: str
) -> dict[str, Any]:
    return {
        "root_transaction": {"id": root, "invoice_number": "ABC"},
        "original_transaction": {"id": original, "invoice_number": "ABC"},
        "modified_transaction": None
        if modified is None
        else {"id": modified, "invoice_number": inv},
        "stamps_delta": -10,
        "stamps_delta_override": 0,
        "stamps_refund_from_payments": refund,
        "total_stamps_delta": total,
        "subtotal_delta": -100000,
        "grand_total_delta": -100000,
        "invoice_number": inv,
        "channel": "POS",
    }


# Repaired: missing commas after "type": 5, "type": 6, "modified_transaction" and
# "stamps_delta"; trailing commas; ``nil`` read as null.
ACTIVITIES = {
    "activities": [
        {
            "id": 704,
            "type": 0,
            "created": 1661925661,
            "notes": "Acvitity notes",
            "merchant": {"id": 5, "name": "Ace Hardware"},
            "store": {"name": "A301", "display_name": "ST ACE KARAWACI MAL"},
            "transaction": {
                "stamps": 20,
                "name": "Transaction #493",
                "status": 2,
                "invoice_number": "INV-17",
                "channel": "Mobile App",
            },
        },
        {
            "id": 2590959,
            "type": 1,
            "created": 1607049764,
            "notes": "",
            "merchant": _MERCHANT,
            "store": _STORE,
            "redemption": {
                "stamps": 0,
                "name": "Update Database Voucher IDR 100,000",
                "status": 2,
                "channel": "POS",
            },
        },
        {
            "id": 2590960,
            "type": 2,
            "created": 1607049764,
            "notes": "",
            "merchant": _MERCHANT,
            "award": {"stamps": 0, "name": "Update Database Voucher IDR 100,000", "status": 2},
        },
        {
            "id": 25909601,
            "type": 5,
            "created": 1607049764,
            "notes": "Upgraded to Silver",
            "stamps": 0,
        },
        {"id": 25909602, "type": 6, "created": 1607049764, "notes": "Downgraded to Blue"},
        {
            "id": 2590961,
            "type": 7,
            "created": 1607049764,
            "notes": "",
            "merchant": _MERCHANT,
            "store": _STORE,
            "balance_update": {
                "transaction_number": "ABCDE123",
                "amount": 120000,
                "status": 1,
                "balance_type": 1,
            },
        },
        {
            "id": 2590962,
            "type": 8,
            "created": 1607049764,
            "notes": "",
            "survey": {"name": "Test Survey", "transaction_id": None},
        },
        {"id": 2590963, "type": 9, "created": 1607049764, "notes": ""},
        {
            "id": 2590964,
            "type": 10,
            "created": 1607049764,
            "notes": "",
            "stamps_deduction": {"stamps": 100, "status": 1, "notes": ""},
        },
        {
            "id": 2590965,
            "type": 11,
            "created": 1607049764,
            "notes": "",
            "merchant": _MERCHANT,
            "store": _STORE,
            "transaction_modification": _modification(12, 13, 14, 0, -10, "ABC-123.2"),
        },
        {
            "id": 2590966,
            "type": 11,
            "created": 1607049764,
            "notes": "",
            "merchant": _MERCHANT,
            "store": _STORE,
            "transaction_modification": _modification(20, 20, None, 0, -10, "ABC-2.2"),
        },
        {
            "id": 2590967,
            "type": 12,
            "created": 1607049764,
            "notes": "Overriden to Gold",
            "stamps": 0,
        },
        {"id": 2590968, "type": 13, "notes": ""},
        {"id": 2590969, "type": 14, "notes": ""},
        {"id": 25909610, "type": 15, "created": 1607049764, "expired_stamps": 102, "notes": ""},
        {
            "id": 25909611,
            "type": 16,
            "created": 1607049764,
            "notes": "",
            "merchant": _MERCHANT,
            "store": _STORE,
            "transaction_modification": _modification(30, 30, 31, 100, 90, "ABC-16.2"),
        },
    ]
}

ACTIVITIES_BY_GROUP = {"activities": ACTIVITIES["activities"][:2]}

VERIFY_TOKEN = {
    "token_type": "access",
    "exp": 1657332616,
    "iat": 1657246216,
    "jti": "4eadc4014d0d4d778691b84d570a6daf",
    "user_id": 5870,
    "merchant_id": 1,
}
