"""``with_options`` as a service meets it: hooks kept, a store per call, refusals that say why."""

from __future__ import annotations

import pytest

from stampsync import Hook, StampsClient
from stampsync.errors import ConfigurationError
from stampsync.testing import HTTPRequest, HTTPResponse, MockTransport

ADDED = {"award": {"id": 7, "number_of_stamps": 2}}


def _answer(request: HTTPRequest) -> HTTPResponse:
    return HTTPResponse.json(ADDED)


async def test_hooks_given_to_with_options_run_beside_the_clients_own() -> None:
    tracing: list[str] = []
    audit: list[str] = []
    hooks: list[Hook] = [lambda e: tracing.append(e.kind)]
    async with StampsClient(
        "secret-token", store=3, transport=MockTransport(_answer), hooks=hooks
    ) as c:
        audited = c.with_options(hooks=[lambda e: audit.append(e.kind)])
        await audited.stamps.add(user="a@b.co", number_of_stamps=2)
        assert tracing == audit != []  # the client's tracing still saw the call
        tracing.clear()
        audit.clear()
        alone = c.with_options(hooks=[lambda e: audit.append(e.kind)], replace_hooks=True)
        await alone.stamps.add(user="a@b.co", number_of_stamps=2)
        assert (tracing, bool(audit)) == ([], True)
        await c.stamps.add(user="a@b.co", number_of_stamps=2)
        assert tracing != []
        assert len(audit) == len(tracing)  # the parent kept only its own hooks


async def test_with_options_changes_the_store_for_the_derived_client_only() -> None:
    mock = MockTransport(_answer)
    async with StampsClient("secret-token", store=3, transport=mock) as c:
        other = c.with_options(store=9)
        await other.stamps.add(user="a@b.co", number_of_stamps=2)
        await c.stamps.add(user="a@b.co", number_of_stamps=2)
    assert [mock.json(0), mock.json(1)] == [
        {"user": "a@b.co", "store": 9, "number_of_stamps": 2},
        {"user": "a@b.co", "store": 3, "number_of_stamps": 2},
    ]
    assert (other.store, c.store) == (9, 3)
    with pytest.raises(ConfigurationError, match="store must be an integer id"):
        c.with_options(store="nine")  # type: ignore[arg-type]


def test_each_refusal_names_its_own_reason() -> None:
    c = StampsClient("secret-token", store=3, transport=MockTransport(_answer))
    with pytest.raises(
        ConfigurationError, match="throttle_limit belong to the connections and quota"
    ):
        c.with_options(throttle_limit=5)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="merchant: the credentials") as refused:
        c.with_options(merchant=4)  # type: ignore[call-arg]
    assert "quota" not in str(refused.value)
    with pytest.raises(ConfigurationError, match="colour: not a setting with_options takes"):
        c.with_options(colour="red")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="replace_hooks must be True or False"):
        c.with_options(replace_hooks="yes")  # type: ignore[arg-type]
