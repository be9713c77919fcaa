"""Scrapes and probes answered inside the user's app leave no broken traces behind.

A request for one of otelkit's endpoints is not app traffic: no server span, no metrics. But
spans do get made while such a request runs (the user's inner middleware opens a database
session, a health check pings the database): each exported span's parent must be exported too.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from werkzeug.test import Client

import otelkit
from otelkit import testing
from otelkit.health._registry import HEALTH
from otelkit.instrumentation.http.asgi import OtelkitMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterator

DURATION = "http.server.request.duration"


@pytest.fixture
def engine(telemetry: otelkit.Telemetry) -> Iterator[sa.Engine]:
    """An instrumented database, pinged by a health check: its queries are CLIENT spans."""
    engine = otelkit.instrument_sqlalchemy(
        sa.create_engine(
            "sqlite://", connect_args={"check_same_thread": False}, poolclass=sa.StaticPool
        )
    )
    HEALTH.clear()
    otelkit.add_health_check("database", lambda: ping(engine))
    yield engine
    HEALTH.clear()
    engine.dispose()


def ping(engine: sa.Engine) -> bool:
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    return True


def orphans(telemetry: otelkit.Telemetry) -> list[str]:
    """Exported spans whose parent was not exported."""
    spans = testing.spans(telemetry)
    exported = {span.context.span_id for span in spans}
    return [
        span.name
        for span in spans
        if span.parent is not None and span.parent.span_id not in exported
    ]


def server_spans(telemetry: otelkit.Telemetry) -> list[str]:
    return [span.name for span in testing.spans(telemetry) if span.kind.name == "SERVER"]


def queries(telemetry: otelkit.Telemetry) -> int:
    return sum(span.name.startswith("SELECT") for span in testing.spans(telemetry))


def routes_measured(telemetry: otelkit.Telemetry) -> dict[str | None, int]:
    points = testing.points(telemetry, DURATION)
    return {point.attributes.get("http.route"): point.count for point in points}


async def _get(app: Any, paths: tuple[str, ...], root_path: str) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        return [await client.get(root_path + path) for path in paths]


def get(app: Any, *paths: str, root_path: str = "") -> list[httpx.Response]:
    return asyncio.run(_get(app, paths, root_path))


def shop_with_a_database_session(engine: sa.Engine) -> FastAPI:
    """Every request, the endpoints' too, goes through a middleware that uses the database."""
    app = FastAPI()

    @app.middleware("http")
    async def session(request: Any, call_next: Any) -> Any:
        ping(engine)
        return await call_next(request)

    @app.get("/hello")
    async def hello() -> str:
        return "hello"

    return app


class Session:
    """The user's ASGI middleware that uses the database for every request."""

    def __init__(self, app: Any, engine: sa.Engine) -> None:
        self.inner = app
        self.engine = engine

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        ping(self.engine)
        await self.inner(scope, receive, send)


def test_endpoints_in_the_routes_get_no_server_span_and_their_children_no_parent(
    telemetry: otelkit.Telemetry, engine: sa.Engine
) -> None:
    app = shop_with_a_database_session(engine)
    app.include_router(otelkit.health_router(), prefix="/ops")
    app.mount("/internal/metrics", otelkit.metrics_app())
    app.mount("/internal/health", otelkit.health_app())
    paths = ("/ops/readyz", "/ops/healthz", "/internal/metrics", "/internal/health", "/hello")
    responses = get(otelkit.instrument_app(app), *paths)
    assert [r.status_code for r in responses] == [200, 200, 503, 200, 200]
    assert queries(telemetry) >= len(paths)  # the middleware's, and the checks' pings
    assert orphans(telemetry) == []
    assert server_spans(telemetry) == ["GET /hello"]
    assert routes_measured(telemetry) == {"/hello": 1}


def test_an_endpoint_only_the_app_could_tell_keeps_its_span_once_then_is_left_out(
    telemetry: otelkit.Telemetry, engine: sa.Engine
) -> None:
    """Behind a proxy's root_path, ``health_app`` wrapping the app: the middleware cannot know
    beforehand that ``/shop/readyz`` is a probe. The server span of the first one ends, with
    its children; from then on that path starts no span."""
    app = shop_with_a_database_session(engine)
    wrapped = OtelkitMiddleware(Session(otelkit.health_app(app), engine))
    first, second, hello = get(wrapped, "/readyz", "/readyz", "/hello", root_path="/shop")
    assert (first.status_code, second.status_code, hello.status_code) == (200, 200, 200)
    assert queries(telemetry) >= 4
    assert orphans(telemetry) == []
    assert server_spans(telemetry) == ["GET", "GET /hello"]  # the first probe, then /hello
    assert routes_measured(telemetry) == {"/hello": 1}


def test_a_flask_blueprint_under_a_prefix_leaves_no_orphans(
    telemetry: otelkit.Telemetry, engine: sa.Engine
) -> None:
    app = Flask("shop")
    app.before_request(lambda: ping(engine) and None)
    app.register_blueprint(otelkit.health_blueprint(), url_prefix="/ops")
    client = Client(otelkit.instrument_app(app))
    for _ in range(3):
        response = client.get("/ops/readyz", buffered=True)
        assert response.status_code == 200
    assert queries(telemetry) >= 3
    assert orphans(telemetry) == []
    assert server_spans(telemetry) == ["GET /ops/readyz"]  # the first one only
    assert routes_measured(telemetry) == {}


# --- the bare mount path: a trailing slash only where nothing else answers -------------------


async def user_status(request: Any) -> PlainTextResponse:
    return PlainTextResponse("the user's status page")


def test_a_user_route_at_the_mount_path_keeps_answering_it(telemetry: otelkit.Telemetry) -> None:
    app = Starlette(routes=[Route("/status", user_status), Mount("/status", otelkit.metrics_app())])
    user, below = get(otelkit.instrument_app(app), "/status", "/status/")
    assert (user.status_code, user.text) == (200, "the user's status page")
    assert below.status_code == 503  # the metrics app: no prometheus exporter configured here
    assert routes_measured(telemetry) == {"/status": 1}


def test_a_user_route_declared_after_the_mount_keeps_it_too(telemetry: otelkit.Telemetry) -> None:
    app = FastAPI()
    app.mount("/status", otelkit.metrics_app())

    @app.get("/status")
    async def status() -> str:
        return "the user's status page"

    (user,) = get(otelkit.instrument_app(app), "/status")
    assert user.json() == "the user's status page"


def test_a_user_catch_all_mount_answers_the_bare_path(telemetry: otelkit.Telemetry) -> None:
    fallback = Starlette(routes=[Route("/{anything:path}", user_status)])
    app = Starlette(routes=[Mount("/metrics", otelkit.metrics_app()), Mount("", fallback)])
    user, metrics = get(otelkit.instrument_app(app), "/metrics", "/metrics/")
    assert user.text == "the user's status page"
    assert metrics.status_code == 503


# --- wrapping order: the routes are found whichever way the middleware is put in -------------


def starlette_with_metrics() -> Starlette:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/hello", hello), Mount("/metrics", otelkit.metrics_app())])


def test_the_middleware_wrapping_the_app_from_outside_finds_the_mount(
    telemetry: otelkit.Telemetry,
) -> None:
    hello, bare = get(OtelkitMiddleware(starlette_with_metrics()), "/hello", "/metrics")
    assert (hello.status_code, bare.status_code) == (200, 503)  # no 307 to /metrics/
    assert routes_measured(telemetry) == {"/hello": 1}


class PassThrough:
    """A user's middleware keeping the next app under a name of its own: the app behind it
    is not visible from outside."""

    def __init__(self, app: Any) -> None:
        self.inner = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.inner(scope, receive, send)


def test_routes_behind_another_middleware_are_found_through_its_app_attribute(
    telemetry: otelkit.Telemetry,
) -> None:
    app = OtelkitMiddleware(GZipMiddleware(starlette_with_metrics()))
    hello, bare = get(app, "/hello", "/metrics")
    assert (hello.status_code, bare.status_code) == (200, 503)
    assert routes_measured(telemetry) == {"/hello": 1}


def test_routes_hidden_behind_another_middleware_are_found_after_the_first_request(
    telemetry: otelkit.Telemetry,
) -> None:
    app = OtelkitMiddleware(PassThrough(starlette_with_metrics()))
    hello, bare, again = get(app, "/hello", "/metrics", "/metrics")
    assert (hello.status_code, bare.status_code, again.status_code) == (200, 503, 503)
    assert routes_measured(telemetry) == {"/hello": 1}


def test_a_mounted_sub_app_is_not_taken_for_the_app_after_a_request(
    telemetry: otelkit.Telemetry,
) -> None:
    app = starlette_with_metrics()
    app.mount("/api", Starlette(routes=[Route("/status", user_status)]))
    hidden = OtelkitMiddleware(PassThrough(app))
    sub, hello, bare = get(hidden, "/api/status", "/hello", "/metrics")
    assert (sub.status_code, hello.status_code, bare.status_code) == (200, 200, 503)


def test_a_user_route_below_the_mount_path_declared_first_is_app_traffic(
    telemetry: otelkit.Telemetry,
) -> None:
    app = Starlette(
        routes=[Route("/metrics/custom", user_status), Mount("/metrics", otelkit.metrics_app())]
    )
    user, metrics = get(otelkit.instrument_app(app), "/metrics/custom", "/metrics")
    assert (user.text, metrics.status_code) == ("the user's status page", 503)
    assert routes_measured(telemetry) == {"/metrics/custom": 1}


def test_health_mounted_at_the_root_leaves_the_user_routes_measured(
    telemetry: otelkit.Telemetry,
) -> None:
    app = Starlette(routes=[Route("/hello", user_status), Mount("/", otelkit.health_app())])
    hello, ready = get(otelkit.instrument_app(app), "/hello", "/readyz")
    assert (hello.status_code, ready.json()["ready"]) == (200, True)
    assert routes_measured(telemetry) == {"/hello": 1}


def test_an_instrumented_sub_app_finds_its_own_mounts(telemetry: otelkit.Telemetry) -> None:
    outer = Starlette(routes=[Mount("/api", OtelkitMiddleware(starlette_with_metrics()))])
    hello, bare = get(outer, "/api/hello", "/api/metrics")
    assert (hello.status_code, bare.status_code) == (200, 503)
    assert routes_measured(telemetry) == {"/hello": 1}
