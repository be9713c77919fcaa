"""HTTP server metrics and spans for ASGI apps (FastAPI, Starlette, bare ASGI), in process."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import APIRouter, BackgroundTasks, FastAPI, HTTPException, WebSocket
from fastapi.responses import StreamingResponse
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import otelkit
from otelkit import testing

DURATION = "http.server.request.duration"
ACTIVE = "http.server.active_requests"


def shop() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("the secret is 1234")

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise HTTPException(status_code=503)

    @app.get("/healthz")
    async def healthz() -> str:
        return "ok"

    return app


async def get(app: object, *paths: str, **kwargs: object) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        return [await client.get(path, **kwargs) for path in paths]  # type: ignore[arg-type]


def series(telemetry: otelkit.Telemetry, name: str = DURATION) -> dict[tuple, object]:
    """Data points by their attributes (sorted), for readable assertions."""
    return {
        tuple(sorted(point.attributes.items())): point for point in testing.points(telemetry, name)
    }


def test_requests_to_a_templated_route_are_counted_under_the_template(
    telemetry: otelkit.Telemetry,
) -> None:
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, *[f"/items/{i}" for i in range(7)]))
    (point,) = series(telemetry).values()
    assert dict(point.attributes) == {
        "http.request.method": "GET",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
        "url.scheme": "http",
        "network.protocol.version": "1.1",
    }
    assert point.count == 7
    assert list(point.explicit_bounds) == list(telemetry.settings.http_buckets)


def test_each_request_is_counted_once_even_with_fastapi_native_telemetry(
    telemetry: otelkit.Telemetry,
) -> None:
    """FastAPI >= 0.142 would measure too (global providers are set); otelkit switches it off."""
    sub = FastAPI()

    @sub.get("/users/{user_id}")
    async def user(user_id: int) -> int:
        return user_id

    app = shop()
    app.mount("/v1", sub)
    otelkit.instrument_app(app)
    asyncio.run(get(app, "/items/1", "/items/2", "/v1/users/3"))
    points = testing.points(telemetry, DURATION)
    assert sum(p.count for p in points) == 3
    active = testing.points(telemetry, ACTIVE)
    assert {tuple(sorted(p.attributes.items())) for p in active} == {
        (("http.request.method", "GET"), ("url.scheme", "http"))
    }
    assert len(testing.spans(telemetry)) == 3


def test_mounted_apps_and_routers_report_the_full_template(telemetry: otelkit.Telemetry) -> None:
    async def user(request: object) -> PlainTextResponse:
        return PlainTextResponse("u")

    inner = Starlette(routes=[Route("/users/{user_id:int}", user)])
    router = APIRouter(prefix="/orders")

    @router.get("/{order_id}/lines/{line}")
    async def line(order_id: str, line: int) -> int:
        return line

    app = shop()
    app.include_router(router)
    app.mount("/tenants/{tenant}", inner)
    otelkit.instrument_app(app)
    asyncio.run(get(app, "/orders/a1/lines/2", "/tenants/acme/users/7"))
    routes = {p.attributes.get("http.route") for p in testing.points(telemetry, DURATION)}
    assert routes == {"/orders/{order_id}/lines/{line}", "/tenants/{tenant}/users/{user_id}"}


def test_unmatched_paths_create_no_per_path_series(telemetry: otelkit.Telemetry) -> None:
    """1,000 distinct unknown paths: one 404 series without http.route."""
    app = otelkit.instrument_app(shop())
    responses = asyncio.run(get(app, *[f"/nothing/{i}" for i in range(1000)]))
    assert {r.status_code for r in responses} == {404}
    (point,) = series(telemetry).values()
    assert "http.route" not in point.attributes
    assert point.attributes["http.response.status_code"] == 404
    assert point.count == 1000


def test_unknown_methods_become_other(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop())

    async def purge() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            await client.request("PURGE", "/items/1")

    asyncio.run(purge())
    (point,) = series(telemetry).values()
    assert point.attributes["http.request.method"] == "_OTHER"
    (span,) = testing.spans(telemetry)
    assert span.attributes["http.request.method_original"] == "PURGE"
    assert span.name == "HTTP /items/{item_id}"


def test_an_exception_propagates_unchanged_and_is_recorded(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop())
    with pytest.raises(ValueError, match="the secret is 1234"):
        asyncio.run(get(app, "/boom"))
    (point,) = series(telemetry).values()
    assert point.attributes["http.response.status_code"] == 500
    assert point.attributes["error.type"] == "ValueError"
    (span,) = testing.spans(telemetry)
    assert span.status.status_code.name == "ERROR"
    assert "1234" not in repr(span.attributes) + repr(span.events)


def test_a_5xx_response_carries_its_status_as_error_type(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, "/unavailable"))
    (point,) = series(telemetry).values()
    assert point.attributes["http.response.status_code"] == 503
    assert point.attributes["error.type"] == "503"


def test_excluded_paths_are_not_measured(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, "/healthz", "/healthz", "/items/1"))
    assert [p.count for p in testing.points(telemetry, DURATION)] == [1]


def test_query_strings_never_reach_telemetry(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, "/items/1?token=hunter2", headers={"Authorization": "Bearer hunter2"}))
    (span,) = testing.spans(telemetry)
    recorded = repr(span.attributes) + repr(testing.metrics(telemetry))
    assert "hunter2" not in recorded
    assert span.attributes["url.path"] == "/items/1"


def test_streaming_is_timed_until_the_last_chunk(telemetry: otelkit.Telemetry) -> None:
    app = shop()

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> object:
            for _ in range(3):
                await asyncio.sleep(0.1)
                yield b"chunk"

        return StreamingResponse(chunks())

    otelkit.instrument_app(app)
    asyncio.run(get(app, "/stream"))
    (point,) = series(telemetry).values()
    assert point.sum >= 0.3


def test_background_tasks_are_not_counted_in_request_time(telemetry: otelkit.Telemetry) -> None:
    app = shop()

    @app.get("/later")
    async def later(tasks: BackgroundTasks) -> str:
        tasks.add_task(asyncio.sleep, 1.0)
        return "accepted"

    otelkit.instrument_app(app)
    started = time.perf_counter()
    asyncio.run(get(app, "/later"))
    assert time.perf_counter() - started >= 1.0  # the task did run inside the app call
    (point,) = series(telemetry).values()
    assert point.sum < 0.9


def test_websocket_and_lifespan_scopes_pass_through(telemetry: otelkit.Telemetry) -> None:
    app = shop()

    @app.websocket("/ws")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    otelkit.instrument_app(app)

    async def talk(scope: dict, incoming: list[dict]) -> list[dict]:
        sent: list[dict] = []

        async def receive() -> dict:
            return incoming.pop(0) if incoming else await asyncio.Event().wait()  # type: ignore[func-returns-value]

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    websocket = {
        "type": "websocket",
        "path": "/ws",
        "headers": [],
        "scheme": "ws",
        "query_string": b"",
        "root_path": "",
    }
    sent = asyncio.run(talk(websocket, [{"type": "websocket.connect"}]))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    sent = asyncio.run(
        talk(lifespan, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    )
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert testing.points(telemetry, DURATION) == []


def test_active_requests_counts_requests_in_flight(telemetry: otelkit.Telemetry) -> None:
    app = shop()
    entered, release = asyncio.Event(), asyncio.Event()

    @app.get("/slow")
    async def slow() -> str:
        entered.set()
        await release.wait()
        return "done"

    otelkit.instrument_app(app)

    async def scenario() -> tuple[float, float]:
        task = asyncio.create_task(get(app, "/slow"))
        await entered.wait()
        during = sum(p.value for p in testing.points(telemetry, ACTIVE))
        release.set()
        await task
        after = sum(p.value for p in testing.points(telemetry, ACTIVE))
        return during, after

    assert asyncio.run(scenario()) == (1, 0)


def test_a_client_that_disconnects_is_recorded_as_499(telemetry: otelkit.Telemetry) -> None:
    """Documented: status 499 (client closed request), no error.type."""

    async def app(scope: dict, receive: object, send: object) -> None:
        message = await receive()  # type: ignore[operator]
        while message["type"] != "http.disconnect":
            message = await receive()  # type: ignore[operator]

    instrumented = otelkit.instrument_app(app)

    async def disconnecting() -> None:
        messages = [
            {"type": "http.request", "body": b"", "more_body": False},
            {"type": "http.disconnect"},
        ]

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            raise AssertionError("nothing is sent")

        scope = {"type": "http", "method": "GET", "path": "/gone", "headers": [], "scheme": "http"}
        await instrumented(scope, receive, send)

    asyncio.run(disconnecting())
    (point,) = series(telemetry).values()
    assert point.attributes["http.response.status_code"] == 499
    assert "error.type" not in point.attributes


def test_incoming_traceparent_becomes_the_server_span_parent(telemetry: otelkit.Telemetry) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent_id = "00f067aa0ba902b7"
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, "/items/5", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"}))
    (span,) = testing.spans(telemetry)
    assert format(span.context.trace_id, "032x") == trace_id
    assert format(span.parent.span_id, "016x") == parent_id
    assert span.name == "GET /items/{item_id}"
    assert span.kind.name == "SERVER"
    assert span.attributes["http.route"] == "/items/{item_id}"
    assert span.attributes["http.response.status_code"] == 200


def test_metrics_and_spans_share_one_timing(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, "/items/5"))
    (span,) = testing.spans(telemetry)
    (point,) = series(telemetry).values()
    assert (span.end_time - span.start_time) / 1e9 == pytest.approx(point.sum, abs=1e-6)


def test_handler_code_runs_inside_the_server_span(telemetry: otelkit.Telemetry) -> None:
    """Outgoing calls made by the handler propagate the trace (the span is current)."""
    from opentelemetry import trace

    seen: list[int] = []
    app = shop()

    @app.get("/inside")
    async def inside() -> str:
        seen.append(trace.get_current_span().get_span_context().span_id)
        return "ok"

    otelkit.instrument_app(app)
    asyncio.run(get(app, "/inside"))
    (span,) = testing.spans(telemetry)
    assert seen == [span.context.span_id]


def test_spans_false_keeps_an_app_out_of_tracing(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop(), spans=False)
    asyncio.run(get(app, "/items/1"))
    assert testing.spans(telemetry) == ()
    assert len(testing.points(telemetry, DURATION)) == 1


def test_instrumenting_twice_counts_once(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(otelkit.instrument_app(shop()))
    asyncio.run(get(app, "/items/1"))
    assert [p.count for p in testing.points(telemetry, DURATION)] == [1]


def test_apps_created_after_init_are_instrumented_automatically(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTELKIT_INSTRUMENT", raising=False)
    telemetry = otelkit.init_telemetry("auto", exporters="memory")
    app = shop()  # no instrument_app call
    asyncio.run(get(app, "/items/1"))
    assert [p.count for p in testing.points(telemetry, DURATION)] == [1]
    telemetry.shutdown()
    untouched = shop()  # after shutdown the constructors are restored
    assert not getattr(untouched, "_otelkit_instrumented", False)


def test_an_app_instrumented_before_init_records_once_init_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, "/items/1"))  # before init: passes through, records nothing
    telemetry = otelkit.init_telemetry("late", exporters="memory", instrument="none")
    asyncio.run(get(app, "/items/1", "/items/2"))
    assert [p.count for p in testing.points(telemetry, DURATION)] == [2]
    telemetry.shutdown()


def test_body_sizes_are_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELKIT_HTTP_BODY_SIZE", "on")
    telemetry = otelkit.init_telemetry("sizes", exporters="memory", instrument="none")
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, "/items/12345"))
    (response,) = testing.points(telemetry, "http.server.response.body.size")
    assert response.sum == len(b'{"item_id":12345}')
    telemetry.shutdown()


def test_a_bare_asgi_callable_is_wrapped(telemetry: otelkit.Telemetry) -> None:
    async def app(scope: dict, receive: object, send: object) -> None:
        scope["otelkit.route"] = "/raw/{id}"
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    wrapped = otelkit.instrument_app(app)
    assert wrapped is not app
    asyncio.run(get(wrapped, "/raw/1"))
    (point,) = series(telemetry).values()
    assert point.attributes["http.route"] == "/raw/{id}"
    assert point.attributes["http.response.status_code"] == 204


def test_handler_code_can_enrich_the_server_span_and_nest_spans(
    telemetry: otelkit.Telemetry,
) -> None:
    """The light server span behaves like an SDK span for the code that runs inside it."""
    from opentelemetry import trace

    app = shop()

    @app.get("/enriched")
    async def enriched() -> str:
        current = trace.get_current_span()
        current.set_attribute("shop.user", "u1")
        current.add_event("cache.miss", {"key": "k"})
        with telemetry.tracer.start_as_current_span("load from db"):
            pass
        return "ok"

    otelkit.instrument_app(app)
    asyncio.run(get(app, "/enriched"))
    spans = {s.name: s for s in testing.spans(telemetry)}
    server, child = spans["GET /enriched"], spans["load from db"]
    assert server.attributes["shop.user"] == "u1"
    assert [e.name for e in server.events] == ["cache.miss"]
    assert child.parent.span_id == server.context.span_id
    assert child.context.trace_id == server.context.trace_id
    assert server.resource.attributes["service.name"] == "http-test"
    assert server.instrumentation_scope.name == "otelkit.http"


def test_the_sampler_decides_for_light_spans_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_TRACES_SAMPLER=always_off: no server span exported, the trace id still flows."""
    from opentelemetry import trace

    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    telemetry = otelkit.init_telemetry("sampled", exporters="memory", instrument="none")
    seen: list[int] = []
    app = shop()

    @app.get("/ids")
    async def ids() -> str:
        seen.append(trace.get_current_span().get_span_context().trace_id)
        return "ok"

    otelkit.instrument_app(app)
    asyncio.run(get(app, "/ids"))
    assert testing.spans(telemetry) == ()
    assert len(seen) == 1
    assert seen[0] != 0
    telemetry.shutdown()


def test_a_new_configuration_may_change_the_http_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTTP instruments belong to one configuration: re-init with other buckets works."""
    app = otelkit.instrument_app(shop())
    for buckets in ("0.1,1", "0.5,2,5"):
        monkeypatch.setenv("OTELKIT_HTTP_BUCKETS", buckets)
        telemetry = otelkit.init_telemetry("rebucket", exporters="memory", instrument="none")
        asyncio.run(get(app, "/items/1"))
        (point,) = testing.points(telemetry, DURATION)
        assert list(point.explicit_bounds) == [float(b) for b in buckets.split(",")]
        assert point.count == 1
        telemetry.shutdown()


def test_contrib_middleware_is_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTELKIT_HTTP_IMPLEMENTATION=contrib: contrib's middleware, stable names, counted once.

    Documented difference: contrib's ASGI middleware leaves http.route off the metric.
    """
    monkeypatch.setenv("OTELKIT_HTTP_IMPLEMENTATION", "contrib")
    telemetry = otelkit.init_telemetry("contrib", exporters="memory", instrument="none")
    app = otelkit.instrument_app(shop())
    asyncio.run(get(app, "/items/1", "/items/2", "/healthz"))
    (point,) = testing.points(telemetry, DURATION)  # stable name, in seconds
    assert point.count == 2  # once each (FastAPI native steps aside), the probe excluded
    assert point.attributes["http.response.status_code"] == 200
    scopes = {s.instrumentation_scope.name for s in testing.spans(telemetry)}
    assert scopes == {"opentelemetry.instrumentation.asgi"}
    telemetry.shutdown()


@pytest.mark.parametrize(
    "headers",
    [
        [(b"Traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")],
        [
            (b"host", b"shop"),
            (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ],
    ],
)
def test_a_traceparent_is_found_whatever_the_case_and_place_of_its_header(
    telemetry: otelkit.Telemetry, headers: list[tuple[bytes, bytes]]
) -> None:
    async def app(scope: dict, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    async def send(message: dict) -> None:
        pass

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "scheme": "http"}
    asyncio.run(otelkit.instrument_app(app)(scope, receive, send))
    (span,) = testing.spans(telemetry)
    assert format(span.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"


def test_without_propagation_headers_the_server_span_is_a_root(
    telemetry: otelkit.Telemetry,
) -> None:
    asyncio.run(get(otelkit.instrument_app(shop()), "/items/5", headers={"x-trace": "1"}))
    (span,) = testing.spans(telemetry)
    assert span.parent is None
