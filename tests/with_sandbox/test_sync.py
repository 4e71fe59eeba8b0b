"""Customer sync as a library call: row checks, failures that stay with their row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from stampsync.batch.sync import SyncOutcome, normalise, sync_customers
from stampsync.errors import ConfigurationError
from stampsync.sandbox import Fault, Sandbox
from stampsync.testing import no_backoff


@pytest.mark.parametrize(
    ("raw", "fields", "subscribed"),
    [
        ({"Email": " Ann@X.co ", "First Name": " Ann "}, {"first_name": "Ann"}, None),
        (
            {"email": "a@x.co", "lastname": "Lee", "CustomerID": 7},
            {"last_name": "Lee", "customer_id": "7"},
            None,
        ),
        ({"email": "a@x.co", "tags": "vip, new;vip"}, {"tags": ["new", "vip"]}, None),
        ({"email": "a@x.co", "tags": ["b", "a", "b"]}, {"tags": ["a", "b"]}, None),
        ({"email": "a@x.co", "tags": "  "}, {}, None),
        ({"email": "a@x.co", "subscribed": "Yes"}, {}, True),
        ({"email": "a@x.co", "subscribed": "unsubscribed"}, {}, False),
        ({"email": "a@x.co", "subscribed": False}, {}, False),
        ({"email": "a@x.co", "subscribed": 1}, {}, True),
        ({"email": "a@x.co", "subscribed": " "}, {}, None),
        ({"email": "a@x.co", "first_name": ""}, {}, None),
    ],
)
def test_rows_are_normalised(
    raw: dict[str, Any], fields: dict[str, Any], subscribed: bool | None
) -> None:
    row = normalise(raw)
    assert row.email == str(raw.get("email") or raw.get("Email")).strip().lower()
    assert row.fields == fields
    assert row.subscribed is subscribed


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"email": "a@x.co", "colour": "blue"}, "colour"),
        ({"email": "a@x.co", "subscribed": "maybe"}, "subscribed"),
        ({"email": "not-an-email"}, "email"),
        ({"first_name": "Ann"}, "email"),
        ({"__error__": "line 7: NUL byte"}, "line 7"),
    ],
)
def test_bad_rows_are_refused_with_what_is_wrong(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        normalise(raw)


def test_the_digest_changes_with_the_data_and_only_with_it() -> None:
    a = normalise({"email": "a@x.co", "tags": "x;y", "subscribed": "yes"})
    same = normalise({"Email": "A@X.CO", "tags": "y, x", "subscribed": "true"})
    other = normalise({"email": "a@x.co", "tags": "x;y", "subscribed": "no"})
    assert a.digest() == same.digest()
    assert a.digest() != other.digest()


async def rows(items: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for item in items:
        yield item


@pytest.mark.stampsync_sandbox(customers=10)
async def test_a_failing_row_is_reported_and_the_sync_goes_on(
    stampsync_sandbox: Sandbox, tmp_path: Path
) -> None:
    sb = stampsync_sandbox
    # The one upsert of bob is answered 500; with no retries allowed, his row fails.
    await sb.set_faults(Fault("500", route="POST /api/v2/*/customers", times=1))
    items = [
        {"email": "bob@x.co", "first_name": "Bob"},
        {"email": "ann@x.co", "first_name": "Ann", "subscribed": "no"},
        {"email": "ANN@x.co", "first_name": "Twice"},
        {"email": "broken"},
        {"email": "cy@x.co", "tags": "a;b", "subscribed": "yes"},
    ]
    seen: list[SyncOutcome] = []

    async def collect(outcome: SyncOutcome) -> None:
        seen.append(outcome)

    state = tmp_path / "state.sqlite"
    with no_backoff():
        async with sb.stamped_client(
            throttle_limit=1000, throttle_seconds=1, max_retries=0
        ) as client:
            report = await sync_customers(client, rows(items), state=state, on_outcome=collect)
    by_email = {o.email: o for o in report}
    assert report.counts == {"sent": 2, "unchanged": 0, "would_send": 0, "failed": 3}
    assert [o.email for o in seen] == [o.email for o in report]
    assert by_email["bob@x.co"].status == "failed"
    assert "500" in str(by_email["bob@x.co"].error)
    assert by_email["broken"].status == "failed"
    assert "email" in str(by_email["broken"].error)
    assert any(o.error == "duplicate email in this input" for o in report)
    ann, cy = await sb.customer("ann@x.co"), await sb.customer("cy@x.co")
    assert ann is not None
    assert cy is not None
    assert (ann["firstName"], ann["subscribed"]) == ("Ann", False)
    assert (cy["tags"], cy["subscribed"]) == (["a", "b"], True)
    assert report.requests == 4  # two upserts and two subscription choices

    # Bob failed, so his row was not recorded: the next run sends him and only him.
    async with sb.stamped_client(throttle_limit=1000, throttle_seconds=1) as client:
        again = await sync_customers(client, rows(items[:2] + items[4:]), state=state)
    assert again.counts == {"sent": 1, "unchanged": 2, "would_send": 0, "failed": 0}
    bob = await sb.customer("bob@x.co")
    assert bob is not None
    assert bob["firstName"] == "Bob"
