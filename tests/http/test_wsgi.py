"""HTTP server metrics and spans for WSGI apps (Flask, bare WSGI) and Django, in process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask, Response, stream_with_context

import otelkit
from otelkit import testing

if TYPE_CHECKING:
    from collections.abc import Iterator

DURATION = "http.server.request.duration"


def shop() -> Flask:
    app = Flask("shop")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/boom")
    def boom() -> None:
        raise ValueError("the secret is 1234")

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(3):
                time.sleep(0.1)
                yield b"chunk"

        return Response(stream_with_context(chunks()))

    return app


def fetch(app: Flask, path: str, **kwargs: Any) -> Any:
    """A request as a server makes it: the whole body is read and the iterable closed."""
    return app.test_client().get(path, buffered=True, **kwargs)


def only_point(telemetry: otelkit.Telemetry) -> Any:
    (point,) = testing.points(telemetry, DURATION)
    return point


def test_flask_requests_are_counted_under_flasks_route_template(
    telemetry: otelkit.Telemetry,
) -> None:
    """The route is Flask's own rule, as the semantic conventions ask."""
    app = otelkit.instrument_app(shop())
    for i in range(5):
        assert fetch(app, f"/items/{i}").status_code == 200
    point = only_point(telemetry)
    assert dict(point.attributes) == {
        "http.request.method": "GET",
        "http.route": "/items/<int:item_id>",
        "http.response.status_code": 200,
        "url.scheme": "http",
        "network.protocol.version": "1.1",
    }
    assert point.count == 5


def test_a_flask_error_is_recorded_with_the_exception_class(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop())
    assert fetch(app, "/boom").status_code == 500
    point = only_point(telemetry)
    assert point.attributes["http.response.status_code"] == 500
    assert point.attributes["error.type"] == "ValueError"


def test_unmatched_flask_paths_have_no_route(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop())
    for i in range(50):
        fetch(app, f"/missing/{i}")
    point = only_point(telemetry)
    assert "http.route" not in point.attributes
    assert point.count == 50


def test_streaming_is_timed_until_the_last_chunk(telemetry: otelkit.Telemetry) -> None:
    app = otelkit.instrument_app(shop())
    assert fetch(app, "/stream").data == b"chunk" * 3
    assert only_point(telemetry).sum >= 0.3


def test_incoming_traceparent_is_the_parent(telemetry: otelkit.Telemetry) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    app = otelkit.instrument_app(shop())
    fetch(app, "/items/1?token=hunter2", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    (span,) = testing.spans(telemetry)
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.name == "GET /items/<int:item_id>"
    assert "hunter2" not in repr(span.attributes)


def test_a_bare_wsgi_app_is_wrapped_and_its_exceptions_propagate(
    telemetry: otelkit.Telemetry,
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/fail":
            raise KeyError("nope")
        environ["otelkit.route"] = "/raw"
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"made"]

    wrapped = otelkit.instrument_app(app)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/raw",
        "wsgi.url_scheme": "https",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "shop",
        "SERVER_PORT": "443",
    }
    body = wrapped(environ, lambda status, headers, exc_info=None: None)
    assert b"".join(body) == b"made"
    body.close()  # type: ignore[attr-defined]
    with pytest.raises(KeyError, match="nope"):
        wrapped({**environ, "PATH_INFO": "/fail"}, lambda *a: None)
    points = {
        p.attributes["http.response.status_code"]: p for p in testing.points(telemetry, DURATION)
    }
    assert points[201].attributes["http.route"] == "/raw"
    assert points[201].attributes["url.scheme"] == "https"
    assert points[500].attributes["error.type"] == "KeyError"


def test_flask_apps_created_after_init_are_instrumented(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTELKIT_INSTRUMENT", raising=False)
    telemetry = otelkit.init_telemetry("auto-flask", exporters="memory", instrument="wsgi")
    fetch(shop(), "/items/3")
    assert only_point(telemetry).count == 1
    telemetry.shutdown()


@pytest.fixture(scope="module")
def django_client() -> Any:
    """A minimal Django project configured in process, with otelkit's middleware first."""
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
    from django.test import Client

    return Client(raise_request_exception=False)


def test_django_requests_carry_djangos_route(
    telemetry: otelkit.Telemetry, django_client: Any
) -> None:
    for i in range(3):
        assert django_client.get(f"/items/{i}").status_code == 200
    assert django_client.get("/boom").status_code == 500
    points = {
        p.attributes["http.response.status_code"]: p for p in testing.points(telemetry, DURATION)
    }
    assert points[200].attributes["http.route"] == "/items/<int:item_id>"
    assert points[200].count == 3
    assert points[500].attributes["error.type"] == "ValueError"
    assert points[500].attributes["http.route"] == "/boom"


def test_django_4xx_raised_by_a_view_is_not_a_server_error(
    telemetry: otelkit.Telemetry, django_client: Any
) -> None:
    """Http404 and PermissionDenied become 404/403 answers: no error.type, as under ASGI."""
    assert django_client.get("/missing").status_code == 404
    assert django_client.get("/forbidden").status_code == 403
    points = {
        p.attributes["http.response.status_code"]: p for p in testing.points(telemetry, DURATION)
    }
    assert set(points) >= {403, 404}
    for status in (403, 404):
        assert "error.type" not in points[status].attributes, points[status].attributes


def test_baggage_alone_reaches_the_app(telemetry: otelkit.Telemetry) -> None:
    from opentelemetry import baggage

    seen: list[dict[str, object]] = []
    app = Flask("baggage")

    @app.get("/")
    def index() -> str:
        seen.append(dict(baggage.get_all()))
        return "ok"

    otelkit.instrument_app(app)
    fetch(app, "/", headers={"baggage": "tenant=acme"})
    assert seen == [{"tenant": "acme"}]
    (span,) = testing.spans(telemetry)
    assert span.parent is None


def test_flask_still_reads_its_url_rule_and_an_unmatched_url_has_none(
    telemetry: otelkit.Telemetry,
) -> None:
    from flask import request

    seen: list[object] = []
    app = Flask("rules")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        seen.append(request.url_rule.rule if request.url_rule else None)
        return "ok"

    @app.errorhandler(404)
    def missing(error: Exception) -> tuple[str, int]:
        seen.append(request.url_rule)
        return "missing", 404

    otelkit.instrument_app(app)
    assert fetch(app, "/items/3").status_code == 200
    assert fetch(app, "/nowhere").status_code == 404
    assert seen == ["/items/<int:item_id>", None]
    routes = {span.attributes.get("http.route") for span in testing.spans(telemetry)}
    assert routes == {"/items/<int:item_id>", None}
