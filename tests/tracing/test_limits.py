"""Span limits from the environment: a light span keeps and drops what an SDK span would."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanContext, SpanKind, StatusCode

import otelkit
from otelkit import testing
from otelkit.tracing._spans import LightSpan, SpanFactory
from tests.tracing.conftest import LIMIT_VARIABLES

SCOPE = InstrumentationScope("otelkit.test", "1")
LINKED = SpanContext(0x1234, 0x5678, is_remote=True)


def view(span: ReadableSpan) -> dict[str, Any]:
    """Everything the limits decide, in order (eviction keeps the newest)."""
    return {
        "name": span.name,
        "kind": span.kind,
        "status": (span.status.status_code, span.status.description),
        "times": (span.start_time, span.end_time),
        "trace_flags": span.context.trace_flags if span.context else None,
        "attributes": list((span.attributes or {}).items()),
        "dropped_attributes": span.dropped_attributes,
        "events": [
            (e.name, e.timestamp, list((e.attributes or {}).items()), e.dropped_attributes)
            for e in span.events
        ],
        "dropped_events": span.dropped_events,
        "links": [
            (link.context, list((link.attributes or {}).items()), link.dropped_attributes)
            for link in span.links
        ],
        "dropped_links": span.dropped_links,
    }


def apply(span: trace.Span, operations: list[tuple[Any, ...]]) -> None:
    for operation, *args in operations:
        if operation == "set":
            span.set_attribute(*args)
        elif operation == "set_many":
            span.set_attributes(*args)
        elif operation == "event":
            span.add_event(*args)
        elif operation == "link":
            span.add_link(*args)
        elif operation == "exception":
            span.record_exception(ValueError(args[0]), timestamp=7)
        elif operation == "status":
            span.set_status(*args)
        else:
            span.update_name(*args)


def light_and_sdk(
    initial: dict[str, Any], operations: list[tuple[Any, ...]]
) -> tuple[ReadableSpan, ReadableSpan]:
    """The same inputs through a light span and an SDK span of one provider (limits from env)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    light = SpanFactory(provider, SCOPE).start("op", None, SpanKind.SERVER, dict(initial), 10)
    assert isinstance(light, LightSpan)
    apply(light, operations)
    light.end(20)
    sdk = provider.get_tracer("otelkit.test", "1").start_span(
        "op", None, SpanKind.SERVER, dict(initial), start_time=10
    )
    apply(sdk, operations)
    sdk.end(20)
    provider.shutdown()
    light_span, sdk_span = exporter.get_finished_spans()
    return light_span, sdk_span


KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
TEXT = st.text(alphabet="xyzé", max_size=8)
PLAIN = st.one_of(TEXT, st.integers(), st.booleans(), st.floats(allow_nan=False))
VALUES = st.one_of(
    PLAIN,
    st.lists(TEXT, max_size=3),
    st.tuples(TEXT, TEXT),
    st.lists(st.integers(), max_size=3),
    st.binary(max_size=3),
    st.none(),
)
ODD_KEYS = st.one_of(KEYS, st.just(""), st.just(1))
ATTRIBUTES = st.dictionaries(KEYS, VALUES, max_size=5)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), ODD_KEYS, VALUES),
        st.tuples(st.just("set_many"), st.dictionaries(ODD_KEYS, VALUES, max_size=4)),
        st.tuples(st.just("event"), TEXT, ATTRIBUTES, st.integers(1, 10**18)),
        st.tuples(st.just("link"), st.sampled_from([LINKED, INVALID_SPAN_CONTEXT]), ATTRIBUTES),
        st.tuples(st.just("exception"), TEXT),
        st.tuples(st.just("status"), st.sampled_from(list(StatusCode))),
        st.tuples(st.just("name"), TEXT),
    ),
    max_size=12,
)
LIMITS = st.fixed_dictionaries(
    {name: st.none() | st.integers(0, 4).map(str) for name in LIMIT_VARIABLES}
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    limits=LIMITS,
    initial=st.dictionaries(KEYS, PLAIN, max_size=6),
    operations=OPERATIONS,
)
def test_a_light_span_applies_the_environments_limits_as_an_sdk_span_does(
    limits: dict[str, str | None], initial: dict[str, Any], operations: list[tuple[Any, ...]]
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in limits.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        light, sdk = light_and_sdk(initial, operations)
    assert view(light) == view(sdk)


@pytest.mark.parametrize(
    ("variables", "initial", "operations"),
    [
        pytest.param(
            {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2"},
            {"a": 1, "b": 2, "c": 3},
            [("set", "d", 4), ("set", "c", 5)],
            id="count: the oldest go",
        ),
        pytest.param(
            {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "3"},
            {"a": "abcdef"},
            [("set", "b", ["long", "er", 1]), ("event", "e", {"k": "vwxyz"}, 5)],
            id="global length: strings and sequences of strings",
        ),
        pytest.param(
            {
                "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "2",
                "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4",
            },
            {"a": "abcdef"},
            [("event", "e", {"k": "vwxyz"}, 5), ("link", LINKED, {"k": "vwxyz"})],
            id="span length; events and links keep the global one",
        ),
        pytest.param(
            {"OTEL_SPAN_EVENT_COUNT_LIMIT": "1", "OTEL_SPAN_LINK_COUNT_LIMIT": "1"},
            {},
            [
                ("event", "e1", {}, 1),
                ("event", "e2", {}, 2),
                ("link", LINKED, {}),
                ("link", LINKED, {"n": 2}),
            ],
            id="events and links: the oldest go",
        ),
        pytest.param(
            {"OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "1", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "1"},
            {},
            [("event", "e", {"a": 1, "b": 2}, 1), ("link", LINKED, {"a": 1, "b": 2})],
            id="event and link attributes",
        ),
        pytest.param(
            {"OTEL_ATTRIBUTE_COUNT_LIMIT": "1"},
            {"a": 1, "b": 2},
            [("event", "e", {"a": 1, "b": 2}, 1), ("link", LINKED, {"a": 1, "b": 2})],
            id="the global count limit for all three",
        ),
        pytest.param(
            {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "0"},
            {"a": 1},
            [("set", "b", 1), ("set_many", {"c": 1, "d": 2})],
            id="zero attributes",
        ),
    ],
)
def test_each_limit_variable_is_applied_as_the_sdk_applies_it(
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    initial: dict[str, Any],
    operations: list[tuple[Any, ...]],
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    light, sdk = light_and_sdk(initial, operations)
    assert view(light) == view(sdk)
    drops: tuple[int, ...] = (light.dropped_attributes, light.dropped_events)
    drops += (light.dropped_links,)
    drops += tuple(e.dropped_attributes for e in light.events)
    drops += tuple(link.dropped_attributes for link in light.links)
    assert any(drops) or any(
        isinstance(v, str) and len(v) < 5 for v in (light.attributes or {}).values()
    )


def shop(events: int) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        span = trace.get_current_span()
        for n in range(events):
            span.add_event(f"step {n}", {"n": n, "detail": "long detail"}, timestamp=n + 1)
        span.set_attribute("shop.customer", "a long customer name")
        return {"item_id": item_id}

    return app


def request(path: str, events: int = 0) -> None:
    async def run() -> None:
        app = otelkit.instrument_app(shop(events))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as c:
            assert (await c.get(path)).status_code == 200

    asyncio.run(run())


def test_the_server_span_of_a_request_keeps_the_environments_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through init_telemetry and the HTTP middleware, compared with an SDK span given the
    same inputs in the same configuration."""
    unlimited = otelkit.init_telemetry("limits", exporters="memory", instrument="none")
    request("/items/12345")
    (full,) = testing.spans(unlimited)
    unlimited.shutdown()
    at_start = [
        (k, v)
        for k, v in (full.attributes or {}).items()
        if k not in {"http.route", "http.response.status_code", "shop.customer"}
    ]

    for name, value in {
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "4",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "5",
        "OTEL_SPAN_EVENT_COUNT_LIMIT": "2",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "1",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "3",
    }.items():
        monkeypatch.setenv(name, value)
    telemetry = otelkit.init_telemetry("limits", exporters="memory", instrument="none")
    request("/items/12345", events=3)
    (light,) = testing.spans(telemetry)

    sdk = telemetry.tracer.start_span(
        "GET", kind=SpanKind.SERVER, attributes=dict(at_start), start_time=light.start_time
    )
    for n in range(3):
        sdk.add_event(f"step {n}", {"n": n, "detail": "long detail"}, timestamp=n + 1)
    sdk.set_attribute("shop.customer", "a long customer name")
    sdk.update_name("GET /items/{item_id}")
    sdk.set_attribute("http.route", "/items/{item_id}")
    sdk.set_attribute("http.response.status_code", 200)
    sdk.end(light.end_time)
    expected = testing.spans(telemetry)[-1]

    assert view(light) | {"trace_flags": None} == view(expected) | {"trace_flags": None}
    assert len(light.attributes or {}) == 4
    assert light.dropped_attributes == len(at_start) + 3 - 4
    assert light.dropped_events == 1
    assert (light.attributes or {})["http.route"] == "/item"
    telemetry.shutdown()
