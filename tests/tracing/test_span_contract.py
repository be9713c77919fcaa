"""What a span processor reads on a light span: what ReadableSpan offers, in on_start and on_end."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

import otelkit
from otelkit import _errors, testing
from otelkit.tracing._spans import LightSpan

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"

FIELDS = (
    "name",
    "context",
    "attributes",
    "resource",
    "instrumentation_scope",
    "start_time",
    "end_time",
    "parent",
    "kind",
    "status",
    "events",
    "links",
    "dropped_attributes",
    "dropped_events",
    "dropped_links",
)


def read(span: ReadableSpan) -> dict[str, Any]:
    """Every field a processor may read, copied (a view would change under us)."""
    seen: dict[str, Any] = {field: getattr(span, field) for field in FIELDS}
    seen["get_span_context()"] = span.get_span_context()
    seen["attributes"] = dict(seen["attributes"])
    seen["events"] = [(e.name, dict(e.attributes or {})) for e in seen["events"]]
    seen["links"] = list(seen["links"])
    return seen


class Reader(SpanProcessor):
    """A user's processor that looks at every field, at start and at end."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.ended: list[dict[str, Any]] = []
        self.start_types: list[type] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.start_types.append(type(span))
        self.started.append(read(span))

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(read(span))


def shop() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    return app


async def get(app: object, path: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        return await client.get(path, headers=headers)


def test_a_processor_reads_the_server_span_as_an_sdk_span_in_on_start_and_on_end(
    telemetry: otelkit.Telemetry,
) -> None:
    reader = Reader()
    assert telemetry._pipeline is not None
    telemetry._pipeline.tracer_provider.add_span_processor(reader)
    app = otelkit.instrument_app(shop())
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    response = asyncio.run(get(app, "/items/7", {"traceparent": traceparent}))
    assert response.status_code == 200

    (exported,) = testing.spans(telemetry)
    assert reader.start_types == [LightSpan]  # the light path is what this test is about
    (started,) = reader.started
    (ended,) = reader.ended
    assert _errors.internal_error_count("spans") == 0

    # At the start: what the span is so far, as an SDK span would show it.
    assert started["name"] == "GET"  # the route is known at the end
    assert started["context"] == started["get_span_context()"] == exported.context
    assert format(started["context"].trace_id, "032x") == TRACE_ID
    assert format(started["parent"].span_id, "016x") == PARENT_ID
    assert started["parent"].is_remote
    assert started["kind"] is SpanKind.SERVER
    assert started["start_time"] == exported.start_time
    assert started["end_time"] is None
    assert started["status"].status_code is StatusCode.UNSET
    assert started["attributes"]["http.request.method"] == "GET"
    assert started["attributes"]["url.path"] == "/items/7"
    assert "http.route" not in started["attributes"]
    assert started["resource"] is exported.resource
    assert started["resource"].attributes["service.name"] == "http-test"
    assert started["instrumentation_scope"] == exported.instrumentation_scope
    assert started["instrumentation_scope"].name == "otelkit.http"
    assert (started["events"], started["links"]) == ([], [])
    assert (started["dropped_attributes"], started["dropped_events"]) == (0, 0)
    assert started["dropped_links"] == 0

    # At the end: everything, and the same as what the exporter got.
    assert ended == read(exported)
    assert ended["name"] == "GET /items/{item_id}"
    assert ended["attributes"]["http.route"] == "/items/{item_id}"
    assert ended["attributes"]["http.response.status_code"] == 200
    assert ended["end_time"] is not None
    assert ended["end_time"] >= ended["start_time"]


def test_a_light_span_offers_every_field_readable_span_offers(
    telemetry: otelkit.Telemetry,
) -> None:
    """Same names, same kinds of values (read-only views, tuples) as the SDK's ReadableSpan."""
    offered = {
        name
        for name, member in vars(ReadableSpan).items()
        if isinstance(member, property) and not name.startswith("_")
    }
    offered.discard("instrumentation_info")  # deprecated since SDK 1.11.1
    assert set(FIELDS) <= offered
    reader = Reader()
    assert telemetry._pipeline is not None
    telemetry._pipeline.tracer_provider.add_span_processor(reader)
    seen: list[LightSpan] = []

    class Keep(SpanProcessor):
        def on_start(self, span: Span, parent_context: Context | None = None) -> None:
            seen.append(span)  # type: ignore[arg-type]

    telemetry._pipeline.tracer_provider.add_span_processor(Keep())
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, "/items/1", {}))
    (span,) = seen
    assert isinstance(span, LightSpan)
    for name in offered:
        getattr(span, name)  # none raises
    assert span.to_json()  # what the console exporter calls
    attributes = span.attributes
    assert dict(attributes) == dict(testing.spans(telemetry)[0].attributes or {})
    try:
        attributes["x"] = 1  # type: ignore[index]
    except TypeError:
        pass
    else:
        raise AssertionError("a processor could write into the span's attributes")
    assert isinstance(span.events, tuple)
    assert isinstance(span.links, tuple)
