"""Properties that must hold for any input: throttle windows, retry safety, decoding."""

from __future__ import annotations

import asyncio
import contextlib
import inspect

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stampsync._codec import JSON_ERRORS, decode, parse_error_body
from stampsync._retry import RetryPolicy
from stampsync.errors import (
    AmbiguousWriteError,
    APIError,
    AuthenticationError,
    DecodeError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StampsyncError,
    TransportError,
    ValidationError,
)
from stampsync.stamped import models as stamped_models
from stampsync.stamps import models as stamps_models
from stampsync.testing import max_in_window
from stampsync.throttle import LocalThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    limit=st.integers(1, 20),
    seconds=st.floats(0.05, 10.0),
    gaps=st.lists(st.one_of(st.just(0.0), st.floats(0.0, 3.0)), min_size=1, max_size=120),
    burst=st.booleans(),
)
def test_throttle_never_admits_more_than_limit_in_any_window(
    limit: int, seconds: float, gaps: list[float], burst: bool
) -> None:
    async def run() -> list[float]:
        clock = FakeClock()
        throttle = LocalThrottle(limit, seconds, burst=limit, clock=clock, sleep=clock.sleep)
        starts: list[float] = []

        async def one() -> None:
            await throttle.acquire()
            starts.append(clock())

        if burst:  # everyone at once, served by the FIFO queue
            await asyncio.gather(*(one() for _ in gaps))
        else:  # arrivals spread by the drawn gaps
            for gap in gaps:
                clock.now += gap
                await one()
        return starts

    starts = asyncio.run(run())
    assert len(starts) == len(gaps)
    assert max_in_window(starts, seconds) <= limit


failures = st.one_of(
    st.builds(
        TransportError, st.just("x"), method=st.just("POST"), path=st.just("/p"), sent=st.booleans()
    ),
    st.builds(AmbiguousWriteError, st.just("x"), method=st.just("POST"), path=st.just("/p")),
    st.sampled_from([400, 401, 403, 404, 409, 422, 429, 500, 501, 502, 503, 504, 599]).map(
        lambda status: {
            400: ValidationError,
            401: AuthenticationError,
            403: AuthenticationError,
            404: NotFoundError,
            429: RateLimitError,
        }.get(
            status, ServerError if status >= 500 else APIError
        )("x", status=status, method="POST", path="/p")
    ),
)


@settings(max_examples=300)
@given(exc=failures, retry=st.integers(1, 10))
def test_a_non_idempotent_write_is_never_retried_after_it_may_have_applied(
    exc: StampsyncError, retry: int
) -> None:
    policy = RetryPolicy()
    retried = policy.retryable(exc, idempotent=False)
    provably_not_applied = (isinstance(exc, TransportError) and not exc.sent) or (
        isinstance(exc, APIError) and exc.status in (429, 503)
    )
    assert retried == provably_not_applied


@settings(max_examples=300)
@given(exc=failures, retry=st.integers(1, 12))
def test_backoff_is_full_jitter_under_an_exponential_ceiling_and_none_after_a_429(
    exc: StampsyncError, retry: int
) -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=20.0)
    waits = [policy.wait_before(retry, exc) for _ in range(40)]
    if isinstance(exc, RateLimitError):
        # The throttle's shared pause already holds the caller: no second wait on top.
        assert waits == [0.0] * 40
        return
    ceiling = min(20.0, 0.5 * 2 ** (retry - 1))
    assert all(0.0 <= w <= ceiling for w in waits)
    # Jittered over the whole range, not a fixed delay: 40 draws spread over most of it.
    assert max(waits) - min(waits) > ceiling / 4


MODELS = [
    obj
    for module in (stamped_models, stamps_models)
    for _, obj in inspect.getmembers(module, inspect.isclass)
    if issubclass(obj, msgspec.Struct) and obj.__module__ == module.__name__
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=25,
)


def test_every_model_is_fuzzed() -> None:
    assert len(MODELS) >= 25


def decodes_as_msgspec_says(data: bytes, model: type) -> str:
    """Decode ``data`` into ``model`` and check the outcome against msgspec's own verdict:
    the same value when the bytes fit the model, otherwise a DecodeError, flagged
    ``malformed`` (worth a retry) only for bytes that are not JSON at all. Returns which."""
    verdict: BaseException | None = None
    try:
        expected: object = msgspec.json.decode(data, type=model)
    except JSON_ERRORS as exc:
        verdict = exc
    if verdict is not None:
        with pytest.raises(DecodeError) as raised:
            decode(data, model, method="GET", path="/x", status=200)
        error = raised.value
        assert isinstance(error, StampsyncError)
        assert (error.method, error.path, error.status) == ("GET", "/x", 200)
        assert error.malformed == (
            not isinstance(verdict, msgspec.ValidationError | RecursionError)
        )
        assert len(str(error)) <= 400  # the server's bytes are cut, not echoed whole
        return "malformed" if error.malformed else "invalid"
    got: object = decode(data, model, method="GET", path="/x", status=200)
    assert type(got) is model
    assert got == expected
    return "decoded"


def test_the_fuzz_oracle_sees_each_outcome() -> None:
    """The three outcomes the fuzz tests below tell apart all occur."""
    assert decodes_as_msgspec_says(b'{"id": 7}', stamps_models.Award) == "decoded"
    assert decodes_as_msgspec_says(b'{"id": "x"}', stamps_models.Award) == "invalid"
    assert decodes_as_msgspec_says(b'{"id": 7', stamps_models.Award) == "malformed"


@settings(max_examples=400, deadline=None)
@given(model=st.sampled_from(MODELS), value=json_values)
def test_random_json_decodes_or_raises_decode_error(model: type, value: object) -> None:
    decodes_as_msgspec_says(msgspec.json.encode(value), model)


@settings(max_examples=400, deadline=None)
@given(model=st.sampled_from(MODELS), data=st.binary(max_size=300))
def test_random_bytes_decode_or_raise_decode_error(model: type, data: bytes) -> None:
    decodes_as_msgspec_says(data, model)


VALID = msgspec.json.encode(
    {
        "customer": {"id": 1, "stamps": 3, "status": "Blue"},
        "award": {"id": 7, "number_of_stamps": 3},
        "membership": {"tags": ["a", {"group": "g", "tag": "t"}], "level": 1, "stamps": 3},
        "user": {"id": "5", "email": "a@x.co", "gender": 1},
        "data": [{"id": 1, "firstName": "A", "points": 3}],
        "total": 1,
    }
)


@settings(max_examples=400, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    cut=st.integers(0, len(VALID)),
    flips=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=4),
)
def test_mutated_bodies_decode_or_raise_decode_error(
    model: type, cut: int, flips: list[tuple[int, int]]
) -> None:
    body = bytearray(VALID)
    for at, byte in flips:
        body[at] = byte
    decodes_as_msgspec_says(bytes(body[:cut]), model)


@settings(max_examples=400)
@given(data=st.binary(max_size=400) | json_values.map(msgspec.json.encode))
def test_error_bodies_never_break_error_mapping(data: bytes) -> None:
    parsed = parse_error_body(data)
    assert isinstance(parsed.message, str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.errors.items())


@given(st.one_of(st.text(min_size=1), st.integers()))
def test_path_segment_fast_paths_match_full_percent_encoding(value: str | int) -> None:
    from urllib.parse import quote

    from stampsync._request import path_segment
    from stampsync.errors import ConfigurationError

    text = str(value)
    if not text.strip():
        with contextlib.suppress(ConfigurationError):
            path_segment(value)
            raise AssertionError(f"blank {value!r} was accepted")
        return
    expected = quote(text, safe="")
    if expected in (".", ".."):
        expected = expected.replace(".", "%2E")
    assert path_segment(value) == expected


# msgspec raises UnicodeDecodeError, not DecodeError, for invalid UTF-8 in a string it
# reads (msgspec#714); strings of unknown fields it skips without reading.
@pytest.mark.parametrize(
    ("body", "readable"),
    [
        (b'{"id": 1, "email": "\x80"}', False),
        (b'{"id": 1, "membership": {"tags": ["\x80"', False),  # found by hypothesis
        (b'{"id": 1, "unknown": ["\xff"]}', True),
    ],
)
def test_invalid_utf8_inside_strings_is_a_decode_error(body: bytes, readable: bool) -> None:
    try:
        user = decode(body, stamps_models.User, method="GET", path="/x", status=200)
    except DecodeError:
        assert not readable
    else:
        assert readable
        assert user.id == 1
    assert isinstance(parse_error_body(body).message, str)
    assert isinstance(parse_error_body(b'{"message": "\xff"}').message, str)
