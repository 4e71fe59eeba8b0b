"""Stamped.io webhooks: secret check, typed payloads, unknown topics, de-duplication."""

from __future__ import annotations

import json

import pytest

from stampsync.stamped.webhooks import (
    LoyaltyPayload,
    ReviewPayload,
    SeenEvents,
    TierChangedPayload,
    WebhookError,
    parse_event,
    verify_secret,
)

SECRET = "whsec-0123456789"
REVIEW = {
    "id": 555,
    "customerEmail": "ann@x.co",
    "reviewRating": 5,
    "reviewTitle": "Great",
    "productSKU": "SKU-1",
    "productId": "99",
    "somethingNew": {"x": 1},
}


def headers(
    topic: str, secret: str = SECRET, name: str = "X-Stamped-Webhook-Secret"
) -> dict[str, str]:
    return {
        name: secret,
        "X-Stamped-Topic": topic,
        "X-Stamped-Store-Url": "shop.example",
        "X-Shopify-Shop-ID": "123",
    }


def test_review_event_is_typed() -> None:
    event = parse_event(headers("review.created"), json.dumps(REVIEW).encode(), secret=SECRET)
    assert isinstance(event.data, ReviewPayload)
    assert event.data.review_rating == 5
    assert event.data.product_sku == "SKU-1"
    assert event.key == "review.created:555"
    assert event.store_url == "shop.example"
    assert event.shop_id == "123"
    assert event.raw["somethingNew"] == {"x": 1}


@pytest.mark.parametrize(
    ("topic", "body", "kind"),
    [
        ("loyalty.points_earned", {"customerEmail": "a@x.co", "points": 25}, LoyaltyPayload),
        ("rewards.spent", {"email": "a@x.co", "rewardTitle": "10% off"}, LoyaltyPayload),
        (
            "loyalty.tier_changed",
            {"email": "a@x.co", "oldTier": "Silver", "newTier": "Gold"},
            TierChangedPayload,
        ),
        ("vip.changed", {"newTier": "Gold"}, TierChangedPayload),
        ("referral.completed", {"customerEmail": "a@x.co"}, LoyaltyPayload),
    ],
)
def test_loyalty_topics(topic: str, body: dict[str, object], kind: type) -> None:
    event = parse_event(headers(topic), json.dumps(body).encode(), secret=SECRET)
    assert isinstance(event.data, kind)


def test_tier_change_fields() -> None:
    body = {"email": "a@x.co", "oldTier": "Silver", "newTier": "Gold"}
    event = parse_event(headers("loyalty.tier_changed"), json.dumps(body).encode(), secret=SECRET)
    assert isinstance(event.data, TierChangedPayload)
    assert (event.data.old_tier, event.data.new_tier) == ("Silver", "Gold")


def test_unknown_topic_is_a_generic_event_not_a_crash() -> None:
    event = parse_event(headers("questions.answered"), b'{"q": 1}', secret=SECRET)
    assert event.data is None
    assert event.raw == {"q": 1}
    assert event.key.startswith("questions.answered:sha256:")


def test_a_known_topic_with_an_odd_shape_keeps_the_raw_body() -> None:
    event = parse_event(headers("review.created"), b'{"reviewRating": "five"}', secret=SECRET)
    assert event.data is None
    assert event.raw == {"reviewRating": "five"}


@pytest.mark.parametrize("bad", ["wrong", "", SECRET + "x", SECRET[:-1]])
def test_a_wrong_secret_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(WebhookError) as info:
        parse_event(headers("review.created", secret=bad), b"{}", secret=SECRET)
    assert SECRET not in str(info.value)
    assert (not bad) or bad not in str(info.value)


def test_missing_secret_header_is_refused() -> None:
    with pytest.raises(WebhookError):
        parse_event({"X-Stamped-Topic": "review.created"}, b"{}", secret=SECRET)


def test_legacy_secret_header_and_any_case() -> None:
    assert verify_secret({"x-secret-key": SECRET}, SECRET)
    assert verify_secret({"X-STAMPED-WEBHOOK-SECRET": SECRET}, SECRET)
    assert not verify_secret({"X-Other": SECRET}, SECRET)


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'"text"', b""])
def test_bodies_that_are_not_objects_are_refused(body: bytes) -> None:
    with pytest.raises(WebhookError):
        parse_event(headers("review.created"), body, secret=SECRET)


def test_seen_events_deduplicates_and_forgets_the_oldest() -> None:
    seen = SeenEvents(capacity=2)
    assert seen.add("a")
    assert not seen.add("a")
    assert seen.add("b")
    assert seen.add("c")  # "a" is evicted
    assert "a" not in seen
    assert seen.add("a")
    assert len(seen) == 2


def test_redelivery_has_the_same_key() -> None:
    body = json.dumps(REVIEW).encode()
    first = parse_event(headers("review.created"), body, secret=SECRET)
    again = parse_event(headers("review.created"), body, secret=SECRET)
    seen = SeenEvents()
    assert seen.add(first.key)
    assert not seen.add(again.key)


def test_a_body_with_invalid_utf8_is_a_webhook_error() -> None:
    with pytest.raises(WebhookError, match="not valid JSON"):
        parse_event(headers("review.created"), b'{"id": "\x80"}', secret=SECRET)
