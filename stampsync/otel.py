"""OpenTelemetry for stampsync: a span per call and request metrics (``stampsync[otel]``).

::

    from stampsync import StampsClient
    from stampsync.otel import OpenTelemetryHook

    async with StampsClient(token, hooks=[OpenTelemetryHook()]) as stamps:
        ...

Each call is one ``CLIENT`` span named ``{method} {path template}``, a child of the
span current when the call was made; its attempts, throttle waits and retries are span
events; the throttle wait and the retry count are attributes. Attributes follow the
HTTP client semantic conventions (``http.request.method``, ``url.template``,
``server.address``, ``http.response.status_code``, ``error.type``). Nothing else is
recorded: no filled path (it may hold an email), no query, no header, no body.

Metrics: ``http.client.request.duration`` (seconds per call), ``stampsync.requests``
(attempts), ``stampsync.rate_limited`` (429 answers), ``stampsync.throttle.wait``
(seconds per wait) and ``stampsync.ambiguous_writes``.
"""

from __future__ import annotations

from typing import Any

from ._events import RequestEvent
from .errors import ConfigurationError

try:
    from opentelemetry import metrics, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ConfigurationError(
        "stampsync.otel needs OpenTelemetry: pip install 'stampsync[otel]'"
    ) from exc

__all__ = ["OpenTelemetryHook"]

SCOPE = "stampsync"


class OpenTelemetryHook:
    """A client hook that records calls as OpenTelemetry spans and metrics.

    Args:
        tracer_provider: where spans go; the global provider by default.
        meter_provider: where metrics go; the global provider by default.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        from . import __version__

        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self._duration = meter.create_histogram(
            "http.client.request.duration", unit="s", description="Duration of API calls"
        )
        self._attempts = meter.create_counter(
            "stampsync.requests", unit="{request}", description="Requests sent (attempts)"
        )
        self._limited = meter.create_counter(
            "stampsync.rate_limited", unit="{response}", description="429 answers received"
        )
        self._waits = meter.create_histogram(
            "stampsync.throttle.wait", unit="s", description="Time waiting for the quota"
        )
        self._ambiguous = meter.create_counter(
            "stampsync.ambiguous_writes", unit="{request}", description="Writes of unknown outcome"
        )
        self._calls: dict[int, _Call] = {}

    def __call__(self, event: RequestEvent) -> None:
        """Record one event of a call."""
        base = {
            "http.request.method": event.method,
            "url.template": event.path,
            "server.address": event.host,
        }
        call = self._calls.get(event.call)
        if event.kind == "attempt":
            if call is None:
                span = self._tracer.start_span(
                    f"{event.method} {event.path}", kind=SpanKind.CLIENT, attributes=base
                )
                call = self._calls[event.call] = _Call(span)
            call.span.add_event("attempt", {"attempt": event.attempt})
            self._attempts.add(1, base)
        elif event.kind == "throttle_wait":
            self._waits.record(event.throttle_wait, base)
            if call is not None:
                call.waited += event.throttle_wait
        elif event.kind == "response":
            if event.status == 429:
                self._limited.add(1, base)
            if call is not None:
                call.status = event.status
                call.span.add_event(
                    "response",
                    {
                        "attempt": event.attempt,
                        "http.response.status_code": event.status or 0,
                        "stampsync.network": event.network,
                    },
                )
        elif event.kind == "retry":
            if call is not None:
                call.retries += 1
                call.span.add_event(
                    "retry",
                    {"attempt": event.attempt, "error.type": event.error or "", "wait": event.wait},
                )
        elif event.kind == "ambiguous":
            self._ambiguous.add(1, base)
            if call is not None:
                call.span.add_event("ambiguous", {"error.type": event.error or ""})
        elif event.kind == "end":
            self._end(event, base)

    def _end(self, event: RequestEvent, base: dict[str, Any]) -> None:
        call = self._calls.pop(event.call, None)
        attributes = dict(base)
        status = event.status if event.status is not None else call and call.status
        if status:
            attributes["http.response.status_code"] = status
        if event.error is not None:
            attributes["error.type"] = event.error
        self._duration.record(event.elapsed, attributes)
        if call is None:
            return
        call.span.set_attributes(attributes)
        call.span.set_attribute("stampsync.throttle_wait", call.waited)
        call.span.set_attribute("stampsync.retries", call.retries)
        if event.error is not None:
            call.span.set_status(Status(StatusCode.ERROR, event.error))
        call.span.end()


class _Call:
    """What the hook keeps of a call in flight."""

    __slots__ = ("retries", "span", "status", "waited")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.waited = 0.0
        self.retries = 0
        self.status: int | None = None
