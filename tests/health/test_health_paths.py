"""Configurable health paths, and a mounted health app answering at its mount point."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import otelkit
from otelkit.health._mark import ENDPOINT_KEY
from otelkit.health._registry import HEALTH

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _no_checks_left() -> Iterator[None]:
    HEALTH.clear()
    yield
    HEALTH.clear()


@pytest.fixture
def custom_paths() -> Iterator[otelkit.Telemetry]:
    handle = otelkit.init_telemetry(
        "paths",
        exporters="memory",
        instrument="none",
        health_liveness_path="/health",
        health_readiness_path="/api/health",
    )
    yield handle
    handle.shutdown()


def asgi(app: Any, path: str) -> tuple[int, Any]:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path)

    response = asyncio.run(go())
    return response.status_code, response.json()


def wsgi(app: Any, path: str) -> tuple[int, Any, dict[str, Any]]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
    }
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
    return int(statuses[0].split()[0]), json.loads(body), environ


def test_the_apps_answer_the_configured_paths(custom_paths: otelkit.Telemetry) -> None:
    app = otelkit.health_app()
    assert asgi(app, "/health") == (200, {"status": "alive"})
    assert asgi(app, "/api/health")[1]["ready"] is True
    status, body = asgi(app, "/healthz")
    assert status == 404
    assert body == {"error": "not found; health is served at /health and /api/health"}


def test_the_wsgi_app_answers_the_configured_paths_and_marks_them(
    custom_paths: otelkit.Telemetry,
) -> None:
    status, body, environ = wsgi(otelkit.health_wsgi(), "/health")
    assert (status, body) == (200, {"status": "alive"})
    assert environ[ENDPOINT_KEY] == "health"


def test_a_wrapped_app_keeps_its_root_and_every_other_path() -> None:
    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [json.dumps({"inner": environ["PATH_INFO"]}).encode()]

    wrapped = otelkit.health_wsgi(inner)
    assert wsgi(wrapped, "/")[1] == {"inner": "/"}
    assert wsgi(wrapped, "/readyz")[1]["ready"] is True


def test_a_health_app_alone_answers_readiness_at_its_root() -> None:
    """Mounted at /api/health, it serves /api/health itself: the full report."""
    otelkit.add_health_check("db", lambda: False)
    status, body = asgi(otelkit.health_app(), "/")
    assert (status, body["ready"], body["checks"]["db"]["status"]) == (503, False, "fail")
