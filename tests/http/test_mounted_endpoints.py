"""otelkit's endpoints mounted in the user's app: answered where mounted, never app traffic."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client as _Client

import otelkit
from otelkit import ConfigError, testing
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

DURATION = "http.server.request.duration"
EXPOSITION = "text/plain; version=0.0.4"


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    """Metrics both scraped (no listener: mounted apps only) and in memory; spans in memory."""
    for name in ("OTELKIT_HTTP_EXCLUDED_URLS", "OTELKIT_INSTRUMENT", "OTELKIT_HTTP_IMPLEMENTATION"):
        monkeypatch.delenv(name, raising=False)
    handle = otelkit.init_telemetry(
        "mounts",
        metrics_exporters="prometheus,memory",
        traces_exporters="memory",
        logs_exporters="none",
        prometheus_port=0,
        instrument="asgi,wsgi",
    )
    yield handle
    handle.shutdown()


def routes_measured(telemetry: otelkit.Telemetry) -> dict[str | None, int]:
    """Requests counted in http.server.request.duration, by route."""
    return {
        point.attributes.get("http.route"): point.count
        for point in testing.points(telemetry, DURATION)
    }


def span_paths(telemetry: otelkit.Telemetry) -> list[str]:
    return [str(span.attributes.get("url.path")) for span in testing.spans(telemetry)]


async def _get(app: Any, paths: tuple[str, ...]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        return [await client.get(path) for path in paths]


def get(app: Any, *paths: str) -> list[httpx.Response]:
    return asyncio.run(_get(app, paths))


class Client(_Client):
    """werkzeug's test client, reading each body whole and closing it, as a server does."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return super().get(*args, buffered=True, **kwargs)


def fastapi_shop() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> str:
        return "hello"

    return app


def starlette_shop() -> Starlette:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/hello", hello)])


@pytest.mark.parametrize("make_app", [fastapi_shop, starlette_shop])
def test_metrics_mounted_at_a_path_answer_that_path_with_no_redirect(
    telemetry: otelkit.Telemetry, make_app: Any
) -> None:
    app = make_app()
    app.mount("/api/v1/metrics", otelkit.metrics_app())
    hello, bare, slashed = get(app, "/hello", "/api/v1/metrics", "/api/v1/metrics/")
    assert hello.status_code == 200
    assert (bare.status_code, slashed.status_code) == (200, 200)
    assert bare.headers["content-type"].startswith(EXPOSITION)
    assert 'http_route="/hello"' in bare.text
    assert routes_measured(telemetry) == {"/hello": 1}
    assert span_paths(telemetry) == ["/hello"]


def test_an_app_instrumented_explicitly_after_the_mount_behaves_the_same(
    telemetry: otelkit.Telemetry,
) -> None:
    app = Starlette(routes=[])
    app.mount("/api/v1/metrics", otelkit.metrics_app())
    app = otelkit.instrument_app(app)
    (bare,) = get(app, "/api/v1/metrics")
    assert bare.status_code == 200
    assert routes_measured(telemetry) == {}


def test_metrics_mounted_in_a_mounted_sub_app_answer_with_no_redirect(
    telemetry: otelkit.Telemetry,
) -> None:
    api = Starlette()
    api.mount("/metrics", otelkit.metrics_app())
    app = fastapi_shop()
    app.mount("/api/v1", api)
    (bare,) = get(app, "/api/v1/metrics")
    assert bare.status_code == 200
    assert routes_measured(telemetry) == {}


def test_metrics_added_as_a_route_are_not_app_traffic(telemetry: otelkit.Telemetry) -> None:
    app = starlette_shop()
    app.add_route("/metrics", otelkit.metrics_app())
    hello, metrics = get(app, "/hello", "/metrics")
    assert (hello.status_code, metrics.status_code) == (200, 200)
    assert routes_measured(telemetry) == {"/hello": 1}


def test_health_mounted_at_a_path_answers_readiness_there(telemetry: otelkit.Telemetry) -> None:
    app = fastapi_shop()
    app.mount("/api/health", otelkit.health_app())
    ready, alive, _ = get(app, "/api/health", "/api/health/healthz", "/hello")
    assert (ready.status_code, ready.json()["status"]) == (200, "healthy")
    assert alive.json() == {"status": "alive"}
    assert routes_measured(telemetry) == {"/hello": 1}
    assert span_paths(telemetry) == ["/hello"]


def test_configured_health_paths_are_served_and_never_measured(
    monkeypatch: pytest.MonkeyPatch, telemetry: otelkit.Telemetry
) -> None:
    telemetry.shutdown()
    monkeypatch.setenv("OTELKIT_HEALTH_LIVENESS_PATH", "/health")
    monkeypatch.setenv("OTELKIT_HEALTH_READINESS_PATH", "/api/health")
    handle = otelkit.init_telemetry(
        "mounts", metrics_exporters="memory", traces_exporters="memory", instrument="asgi"
    )
    try:
        app = fastapi_shop()
        app.include_router(otelkit.health_router())
        app.include_router(otelkit.health_router(), prefix="/ops")
        responses = get(app, "/health", "/api/health", "/ops/health", "/ops/api/health", "/hello")
        assert [r.status_code for r in responses] == [200] * 5
        assert responses[0].json() == {"status": "alive"}
        assert responses[1].json()["ready"] is True
        assert routes_measured(handle) == {"/hello": 1}
        assert span_paths(handle) == ["/hello"]
    finally:
        handle.shutdown()


def flask_shop() -> Flask:
    app = Flask("shop")

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    return app


def test_flask_mounts_through_the_dispatcher_middleware(telemetry: otelkit.Telemetry) -> None:
    app = flask_shop()  # instrumented when created
    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        {"/api/v1/metrics": otelkit.metrics_wsgi(), "/api/health": otelkit.health_wsgi()},
    )
    client = Client(app)
    assert client.get("/hello").status_code == 200
    metrics = client.get("/api/v1/metrics")
    assert (metrics.status_code, metrics.headers["Content-Type"][:25]) == (200, EXPOSITION)
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/health/healthz").json == {"status": "alive"}
    assert routes_measured(telemetry) == {"/hello": 1}


def test_a_health_blueprint_under_a_prefix_is_left_out(telemetry: otelkit.Telemetry) -> None:
    app = flask_shop()
    app.register_blueprint(otelkit.health_blueprint(), url_prefix="/ops")
    client = Client(app)
    assert client.get("/ops/healthz").status_code == 200
    assert client.get("/ops/readyz").status_code == 200
    assert client.get("/hello").status_code == 200
    assert routes_measured(telemetry) == {"/hello": 1}


def hello_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_a_dispatcher_inside_the_measured_app_is_left_out(telemetry: otelkit.Telemetry) -> None:
    dispatcher = DispatcherMiddleware(hello_wsgi, {"/api/v1/metrics": otelkit.metrics_wsgi()})
    client = Client(otelkit.instrument_app(dispatcher))
    assert client.get("/api/v1/metrics").status_code == 200
    assert client.get("/hello").status_code == 200
    assert routes_measured(telemetry) == {None: 1}  # /hello: a bare WSGI app has no routes


@pytest.fixture(scope="module")
def django_wsgi() -> Any:
    """The in-process Django project of test_wsgi.py, with otelkit's middleware first."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF="tests.http.django_urls",
            MIDDLEWARE=["otelkit.instrumentation.http.django.Middleware"],
            SECRET_KEY="tests-only",
            LOGGING_CONFIG=None,
        )
        django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


def test_django_serves_metrics_and_health_by_wrapping_its_application(
    telemetry: otelkit.Telemetry, django_wsgi: Any
) -> None:
    application = otelkit.metrics_wsgi(otelkit.health_wsgi(django_wsgi), path="/api/v1/metrics")
    client = Client(application)
    assert client.get("/items/1").status_code == 200
    assert client.get("/api/v1/metrics").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert routes_measured(telemetry) == {"/items/<int:item_id>": 1}


def test_a_mount_path_must_be_a_path() -> None:
    with pytest.raises(ConfigError, match=r"metrics_app\(path='metrics'\) is not valid"):
        otelkit.metrics_app(path="metrics")
    with pytest.raises(ConfigError, match=r"metrics_wsgi\(path=None\) is not valid"):
        otelkit.metrics_wsgi(path=None)  # type: ignore[arg-type]


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_metrics_listener_serves_the_configured_health_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTELKIT_HEALTH_LIVENESS_PATH", "/health")
    monkeypatch.setenv("OTELKIT_HEALTH_READINESS_PATH", "/api/health")
    port = free_port()
    handle = otelkit.init_telemetry(
        "listener", metrics_exporters="prometheus", prometheus_port=port, instrument="none"
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert fetch(base + "/health") == (200, b'{"status":"alive"}\n')
        assert fetch(base + "/api/health")[0] == 200
        status, body = fetch(base + "/healthz")
        assert status == 404
        assert b"health at /health and /api/health" in body
    finally:
        handle.shutdown()


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([otelkit.metrics_app, otelkit.metrics_wsgi]),
    st.one_of(
        st.text(max_size=10).filter(lambda text: not text.startswith("/")),
        st.from_regex(r"/[a-z]*\s[a-z]*", fullmatch=True),
        st.integers(),
        st.none(),
    ),
)
def test_any_bad_mount_path_is_a_config_error_naming_the_argument(make: Any, path: object) -> None:
    with pytest.raises(ConfigError) as caught:
        make(path=path)
    message = str(caught.value)
    assert message.startswith(f"{make.__name__}(path={path!r}) is not valid")
    assert message.endswith("Accepted: a path starting with '/'.")
