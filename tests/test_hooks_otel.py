"""Hooks and OpenTelemetry see every attempt, retry, 429 and ambiguous write, no secret."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stampsync import RequestEvent, StampedClient, StampsClient
from stampsync.errors import AmbiguousWriteError
from stampsync.otel import OpenTelemetryHook
from stampsync.testing import HTTPResponse, MockTransport, no_backoff

EMAIL = "ann@example.com"
SECRET = "private-key-SECRET"
CUSTOMER = {"id": 1, "email": EMAIL}


def answers() -> Iterator[HTTPResponse]:
    yield HTTPResponse.json({"message": "busy"}, status=503)
    yield HTTPResponse.json({"message": "slow down"}, status=429, headers={"Retry-After": "0.01"})
    yield HTTPResponse.json(CUSTOMER)


async def run_calls(hooks: list[Callable[[RequestEvent], object]]) -> None:
    script = answers()
    stamped = MockTransport(lambda request: next(script))
    async with StampedClient("pub", SECRET, "1", transport=stamped, hooks=hooks) as client:
        with no_backoff():
            await client.customers.get_by_email(EMAIL)
    broken = MockTransport(lambda request: HTTPResponse.json({"message": "bad gw"}, status=502))
    async with StampsClient(SECRET, store=2, transport=broken, hooks=hooks) as stamps:
        with pytest.raises(AmbiguousWriteError):
            await stamps.stamps.add(user=EMAIL, number_of_stamps=1)


async def test_hooks_see_each_step_of_each_call() -> None:
    events: list[RequestEvent] = []
    await run_calls([events.append])
    kinds = [(e.kind, e.attempt, e.status) for e in events if e.path.endswith("{email}")]
    assert kinds == [
        ("attempt", 1, None), ("response", 1, 503), ("retry", 1, None),
        ("attempt", 2, None), ("response", 2, 429), ("retry", 2, None),
        # The 429's Retry-After pauses the throttle, above the seam: a mock waits too.
        ("attempt", 3, None), ("throttle_wait", 3, None), ("response", 3, 200), ("end", 0, None),
    ]  # fmt: skip
    write = [e.kind for e in events if e.path == "/api/stamps/add"]
    assert write == ["attempt", "response", "ambiguous", "end"]
    end = events[-1]
    assert (end.error, end.status) == ("AmbiguousWriteError", 502)
    assert len({e.call for e in events}) == 2
    for event in events:
        assert EMAIL not in repr(event)
        assert SECRET not in repr(event)


async def test_a_hook_that_raises_never_breaks_a_request(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: RequestEvent) -> None:
        raise RuntimeError("hook bug")

    mock = MockTransport(lambda request: HTTPResponse.json(CUSTOMER))
    async with StampedClient("pub", SECRET, "1", transport=mock, hooks=[broken]) as client:
        for _ in range(3):
            assert (await client.customers.get_by_email(EMAIL)).id == 1
    assert len([r for r in caplog.records if "raised" in r.getMessage()]) == 1


def test_a_hook_must_be_callable() -> None:
    from stampsync.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="hooks must be"):
        StampsClient(SECRET, hooks=["print"])  # type: ignore[list-item]


async def test_opentelemetry_records_spans_and_metrics_without_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    hook = OpenTelemetryHook(tracer_provider, MeterProvider(metric_readers=[reader]))
    await run_calls([hook])

    read, write = exporter.get_finished_spans()
    assert read.name == "GET /api/v2/1/customers/{email}"
    assert read.attributes is not None
    assert read.attributes["http.response.status_code"] == 200
    assert read.attributes["stampsync.retries"] == 2
    assert [e.name for e in read.events].count("attempt") == 3
    assert write.attributes is not None
    assert write.attributes["error.type"] == "AmbiguousWriteError"
    assert write.status.status_code.name == "ERROR"

    metrics = reader.get_metrics_data()
    assert metrics is not None
    points = {
        m.name: sum(getattr(p, "value", getattr(p, "count", 0)) for p in m.data.data_points)
        for rm in metrics.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert points["stampsync.requests"] == 4
    assert points["stampsync.rate_limited"] == 1
    assert points["stampsync.ambiguous_writes"] == 1
    assert points["http.client.request.duration"] == 2

    recorded = [str(v) for s in (read, write) for v in (s.attributes or {}).values()]
    recorded += [
        str(v) for s in (read, write) for e in s.events for v in (e.attributes or {}).values()
    ]
    assert not [v for v in recorded if EMAIL in v or SECRET in v]
