"""Without the processor seam (an SDK that renamed it), spans are ordinary SDK spans: the same."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkTraceSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, StatusCode

import otelkit
from otelkit import _sdk_compat, testing
from otelkit.tracing._base import KitSpan
from otelkit.tracing._spans import LightSpan, SdkSpan, SpanFactory
from tests.fixtures.sdk_changes import rename

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.context import Context

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def without_processor_seam(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """As if an SDK release had renamed ``TracerProvider._active_span_processor`` (the SDK
    still reaches it, otelkit no longer does); probed again, and again once restored."""
    with monkeypatch.context() as patched:
        rename(TracerProvider, "_active_span_processor", patched)
        with caplog.at_level(logging.WARNING, logger="otelkit"):
            results = _sdk_compat.probe_all()
        assert results[_sdk_compat.SPAN_PROCESSOR] is False
        assert results[_sdk_compat.SPAN_LIMITS] is True
        assert _sdk_compat.SPAN_PROCESSOR in caplog.text
        yield
    assert _sdk_compat.probe_all()[_sdk_compat.SPAN_PROCESSOR]


class Starts(SpanProcessor):
    def __init__(self) -> None:
        self.types: list[type] = []
        self.parents: list[Any] = []

    def on_start(self, span: SdkTraceSpan, parent_context: Context | None = None) -> None:
        self.types.append(type(span))
        self.parents.append(span.parent)


def shop() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        span = trace.get_current_span()
        span.set_attribute("shop.item", item_id)
        span.add_event("looked up", {"id": item_id}, timestamp=1)
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("no")

    return app


def serve(monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict[str, Any]], Starts]:
    """Three requests through an instrumented app; the spans' contents, ids and times aside."""
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    telemetry = otelkit.init_telemetry("fallback", exporters="memory", instrument="none")
    starts = Starts()
    assert telemetry._pipeline is not None
    telemetry._pipeline.tracer_provider.add_span_processor(starts)
    app = otelkit.instrument_app(shop())

    async def run() -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as c:
            assert (await c.get("/items/3", headers={"traceparent": TRACEPARENT})).is_success
            assert (await c.get("/boom")).status_code == 500
            assert (await c.get("/nowhere")).status_code == 404

    asyncio.run(run())
    spans = [content(span) for span in testing.spans(telemetry)]
    telemetry.shutdown()
    return spans, starts


def content(span: ReadableSpan) -> dict[str, Any]:
    assert span.context is not None
    return {
        "name": span.name,
        "kind": span.kind,
        "status": span.status.status_code,
        "trace_flags": span.context.trace_flags,
        "parent": span.parent,
        "attributes": dict(span.attributes or {}),
        "events": [(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events],
        "scope": span.instrumentation_scope,
        "service": span.resource.attributes["service.name"],
        "duration_set": bool(span.end_time and span.start_time),
    }


def test_http_spans_without_the_processor_seam_are_sdk_spans_with_the_same_content(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    light, light_starts = serve(monkeypatch)
    assert set(light_starts.types) == {LightSpan}

    request.getfixturevalue("without_processor_seam")
    fallback, sdk_starts = serve(monkeypatch)

    assert set(sdk_starts.types) <= {SdkTraceSpan, *SdkTraceSpan.__subclasses__()}
    assert len(sdk_starts.types) == 3
    assert sdk_starts.parents == light_starts.parents
    assert fallback == light
    by_name = {span["name"]: span for span in fallback}
    assert set(by_name) == {"GET /items/{item_id}", "GET /boom", "GET"}
    item = by_name["GET /items/{item_id}"]
    assert item["attributes"]["http.route"] == "/items/{item_id}"
    assert item["attributes"]["http.response.status_code"] == 200
    assert item["attributes"]["shop.item"] == 3
    assert item["events"] == [("looked up", 1, {"id": 3})]
    assert format(item["parent"].span_id, "016x") == "00f067aa0ba902b7"
    assert by_name["GET /boom"]["status"] is StatusCode.ERROR
    assert by_name["GET /boom"]["attributes"]["error.type"] == "ValueError"
    assert by_name["GET"]["attributes"]["http.response.status_code"] == 404


@pytest.mark.usefixtures("without_processor_seam")
def test_the_factory_starts_sdk_spans_behind_the_light_span_interface() -> None:
    """What Celery and SQLAlchemy call: start, set_attribute, set_status, end(end_time)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    scope = InstrumentationScope("otelkit.sqlalchemy", "1")
    factory = SpanFactory(provider, scope)
    assert not factory.light
    span = factory.start("SELECT items", None, SpanKind.CLIENT, {"db.system.name": "x"}, 100)
    assert isinstance(span, SdkSpan)
    assert isinstance(span, KitSpan)  # what the HTTP middleware checks before end_http
    assert span.attributes == {"db.system.name": "x"}
    assert span.end_time is None
    span.set_attribute("error.type", "42P01")
    span.set_status(StatusCode.ERROR)
    span.end(end_time=250)
    (exported,) = exporter.get_finished_spans()
    assert exported.name == "SELECT items"
    assert exported.kind is SpanKind.CLIENT
    assert dict(exported.attributes or {}) == {"db.system.name": "x", "error.type": "42P01"}
    assert exported.status.status_code is StatusCode.ERROR
    assert (exported.start_time, exported.end_time) == (100, 250)
    assert exported.instrumentation_scope == scope

    dropping = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False)
    unsampled = SpanFactory(dropping, scope).start("x", None, SpanKind.CLIENT, {}, 1)
    assert not unsampled.is_recording()
    assert not isinstance(unsampled, KitSpan)
    provider.shutdown()
    dropping.shutdown()


def test_without_the_limits_seam_light_spans_read_the_limits_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As if an SDK release had renamed ``TracerProvider._span_limits``."""
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1")
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "1")
    with monkeypatch.context() as patched:
        rename(TracerProvider, "_span_limits", patched)
        assert _sdk_compat.probe_all()[_sdk_compat.SPAN_LIMITS] is False
        exporter = InMemorySpanExporter()
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        factory = SpanFactory(provider, InstrumentationScope("otelkit.test"))
        assert factory.light
        span = factory.start("x", None, SpanKind.SERVER, {"a": 1, "b": 2}, 1)
        span.add_event("one", timestamp=2)
        span.add_event("two", timestamp=3)
        span.end(4)
        provider.shutdown()
    assert _sdk_compat.probe_all()[_sdk_compat.SPAN_LIMITS]
    (exported,) = exporter.get_finished_spans()
    assert dict(exported.attributes or {}) == {"b": 2}
    assert [e.name for e in exported.events] == ["two"]
    assert (exported.dropped_attributes, exported.dropped_events) == (1, 1)


@pytest.mark.usefixtures("without_processor_seam")
def test_an_sdk_span_shares_the_interface_of_a_light_span_not_its_fields() -> None:
    """``SdkSpan`` and ``LightSpan`` are both ``KitSpan``s; an SDK span inherits nothing of a
    light span's implementation (its fields would be unset), and answers the whole interface."""
    assert not issubclass(SdkSpan, LightSpan)
    assert issubclass(LightSpan, KitSpan)
    assert issubclass(SdkSpan, KitSpan)
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = SpanFactory(provider, InstrumentationScope("otelkit.http")).start(
        "GET", None, SpanKind.SERVER, {"http.request.method": "GET"}, 100
    )
    assert isinstance(span, SdkSpan)
    for name in dir(KitSpan):  # the Span API and end_http: each one SdkSpan's own
        if not name.startswith("_"):
            assert getattr(SdkSpan, name) is not getattr(LightSpan, name, None), name
    for name in (n for n in dir(LightSpan) if not n.startswith("__")):  # light fields, helpers
        if name not in dir(KitSpan) and not hasattr(SdkTraceSpan, name):
            assert not hasattr(span, name) or name in vars(SdkSpan), name
    with span:  # the Span API's context manager ends it
        span.set_attributes({"a": 1})
        span.add_event("e", timestamp=150)
        span.update_name("GET /items")
        assert span.is_recording()
        assert span.get_span_context().is_valid
    assert not span.is_recording()
    span.end_http("GET", "/items/{id}", 200, None, 300)  # nothing once ended, as a light span
    (exported,) = exporter.get_finished_spans()
    assert exported.name == "GET /items"
    assert "http.route" not in (exported.attributes or {})
    provider.shutdown()
