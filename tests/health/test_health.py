"""Readiness and liveness: checks, their timeouts and cache, the HTTP transports, the gauge.

Unit tests drive the ASGI app through httpx's ASGITransport and the WSGI app with a hand-made
environ, in this process. The integration tests serve health from real servers (uvicorn,
gunicorn, the Prometheus plugin's listener) and check a real PostgreSQL going down and up.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import pytest
import requests

import otelkit
from otelkit import ConfigError, _errors, testing
from otelkit.health import checks as health_checks
from otelkit.health._http import health_app, health_blueprint, health_router, health_wsgi
from otelkit.health._registry import HEALTH, add_health_check, register_status_source
from tests.fixtures.servers import free_port, wait_until

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.fixtures.postgres import PostgresServer

APPS_DIR = Path(__file__).parent / "apps"
GUNICORN_CONF = Path(__file__).parents[1] / "e2e" / "apps" / "gunicorn_conf.py"


@pytest.fixture(autouse=True)
def _no_checks_left() -> Iterator[None]:
    """Each test starts with an empty registry and leaves none of its checks behind."""
    HEALTH.clear()
    yield
    HEALTH.clear()


# -- transports, driven in process ------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def asgi(app: Any, path: str, method: str = "GET") -> Reply:
    """One request to an ASGI app, on a fresh event loop."""
    return asgi_many(app, [path], method)[0]


def asgi_many(app: Any, paths: list[str], method: str = "GET") -> list[Reply]:
    """Concurrent requests to an ASGI app."""

    async def go() -> list[Reply]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            responses = await asyncio.gather(*(client.request(method, p) for p in paths))
        return [Reply(r.status_code, dict(r.headers), r.content) for r in responses]

    return asyncio.run(go())


def wsgi(app: Any, path: str, method: str = "GET") -> Reply:
    """One request to a WSGI app, with a hand-made environ."""
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started["status"] = int(status.split()[0])
        started["headers"] = {k.lower(): v for k, v in headers}

    body = b"".join(app(environ, start_response))
    return Reply(started["status"], started["headers"], body)


TRANSPORTS: dict[str, Callable[[str], Reply]] = {
    "asgi": lambda path: asgi(health_app(), path),
    "wsgi": lambda path: wsgi(health_wsgi(), path),
}


@pytest.fixture(params=list(TRANSPORTS))
def probe(request: pytest.FixtureRequest) -> Callable[[str], Reply]:
    """GET a path of the health app, served over ASGI or over WSGI."""
    return TRANSPORTS[request.param]


def passes() -> None:
    pass


def fails() -> None:
    raise ConnectionRefusedError("db:5432 refused")


# -- liveness and readiness -------------------------------------------------------------------


def test_liveness_answers_alive_without_running_a_check(probe: Callable[[str], Reply]) -> None:
    calls: list[int] = []
    add_health_check("db", lambda: calls.append(1))

    reply = probe("/healthz")

    assert (reply.status, reply.json()) == (200, {"status": "alive"})
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["cache-control"] == "no-store"
    assert calls == []


def test_readiness_with_every_check_passing_is_200_healthy(probe: Callable[[str], Reply]) -> None:
    """The body lists each check with its status, criticality, latency (ms) and error."""

    async def cache() -> None:
        await asyncio.sleep(0.01)

    add_health_check("db", passes)
    add_health_check("cache", cache, critical=False)

    reply = probe("/readyz")

    assert reply.status == 200
    body = reply.json()
    assert (body["status"], body["ready"]) == ("healthy", True)
    assert list(body["checks"]) == ["db", "cache"]  # registration order
    assert body["checks"]["db"] == {
        "status": "pass",
        "critical": True,
        "latency_ms": body["checks"]["db"]["latency_ms"],
        "error": None,
    }
    assert body["checks"]["cache"]["critical"] is False
    assert 10 <= body["checks"]["cache"]["latency_ms"] < 5000


def test_no_check_registered_means_ready(probe: Callable[[str], Reply]) -> None:
    reply = probe("/readyz")
    assert (reply.status, reply.json()) == (200, {"status": "healthy", "ready": True, "checks": {}})


def test_a_failing_non_critical_check_degrades_but_stays_ready(
    probe: Callable[[str], Reply],
) -> None:
    add_health_check("db", passes)
    add_health_check("search", fails, critical=False)

    reply = probe("/readyz")

    assert reply.status == 200
    body = reply.json()
    assert (body["status"], body["ready"]) == ("degraded", True)
    assert body["checks"]["search"]["status"] == "fail"
    assert body["checks"]["search"]["error"] == "ConnectionRefusedError"


def test_a_failing_critical_check_is_503_unhealthy(probe: Callable[[str], Reply]) -> None:
    add_health_check("db", fails)
    add_health_check("search", fails, critical=False)

    reply = probe("/readyz")

    assert reply.status == 503
    assert (reply.json()["status"], reply.json()["ready"]) == ("unhealthy", False)


def test_a_check_returning_false_fails_without_an_error_class(
    probe: Callable[[str], Reply],
) -> None:
    """Anything else a check returns, None included, counts as passing."""
    add_health_check("disk", lambda: False)
    add_health_check("queue", lambda: 0)

    body = probe("/readyz").json()

    assert body["checks"]["disk"]["status"] == "fail"
    assert body["checks"]["disk"]["error"] is None
    assert body["checks"]["queue"]["status"] == "pass"


def test_a_lambda_returning_a_coroutine_is_awaited(probe: Callable[[str], Reply]) -> None:
    """``lambda: client.ping()`` on an async client is a check too."""

    async def ping() -> bool:
        await asyncio.sleep(0)
        return False

    add_health_check("redis", lambda: ping())

    body = probe("/readyz").json()

    assert body["checks"]["redis"] == {**body["checks"]["redis"], "status": "fail", "error": None}


def test_errors_show_the_exception_class_never_its_message(
    probe: Callable[[str], Reply], caplog: pytest.LogCaptureFixture
) -> None:
    """A message may hold a secret (a DSN, a password): neither the body nor the log has it."""

    def leaky() -> None:
        raise RuntimeError("password=hunter2")

    async def leaky_async() -> None:
        raise ValueError("postgresql://app:hunter2@db/prod")

    add_health_check("db", leaky)
    add_health_check("replica", leaky_async)

    reply = probe("/readyz")

    assert reply.status == 503
    assert reply.json()["checks"]["db"]["error"] == "RuntimeError"
    assert reply.json()["checks"]["replica"]["error"] == "ValueError"
    assert b"hunter2" not in reply.body
    assert "hunter2" not in caplog.text


# -- concurrency, timeouts, cache -------------------------------------------------------------


@pytest.mark.parametrize("kinds", [("sync", "sync"), ("async", "async"), ("sync", "async")])
def test_checks_run_concurrently(probe: Callable[[str], Reply], kinds: tuple[str, str]) -> None:
    """Two checks of 0.5 s each: their execution windows overlap, whatever their kind."""
    windows: dict[str, tuple[float, float]] = {}

    def sleeper(name: str, kind: str) -> Callable[[], Any]:
        if kind == "sync":

            def check() -> None:
                started = time.perf_counter()
                time.sleep(0.5)
                windows[name] = (started, time.perf_counter())

            return check

        async def acheck() -> None:
            started = time.perf_counter()
            await asyncio.sleep(0.5)
            windows[name] = (started, time.perf_counter())

        return acheck

    for index, kind in enumerate(kinds):
        add_health_check(f"check-{index}", sleeper(f"check-{index}", kind))

    assert probe("/readyz").status == 200

    (start_a, end_a), (start_b, end_b) = windows.values()
    assert max(start_a, start_b) < min(end_a, end_b)


def test_a_hanging_check_fails_at_its_timeout_and_never_holds_the_endpoint(
    probe: Callable[[str], Reply],
) -> None:
    """A sync check sleeping 10 s with a 0.3 s timeout: 503 with ``timeout``, answered at once.

    It is not called again while it hangs: the next run waits for the same call, so a hanging
    check holds one thread, not one per probe.
    """
    calls: list[float] = []

    def stuck() -> None:
        calls.append(time.monotonic())
        time.sleep(10)

    add_health_check("stuck", stuck, timeout=0.3)
    add_health_check("db", passes)

    started = time.perf_counter()
    reply = probe("/readyz")
    answered_in = time.perf_counter() - started

    assert reply.status == 503
    result = reply.json()["checks"]["stuck"]
    assert (result["status"], result["error"]) == ("fail", "timeout")
    assert 250 <= result["latency_ms"] < 5000
    assert reply.json()["checks"]["db"]["status"] == "pass"
    assert answered_in < 5  # far below the 10 s the check sleeps

    time.sleep(1.05)  # past the cache
    again = probe("/readyz")
    assert again.json()["checks"]["stuck"]["error"] == "timeout"
    assert len(calls) == 1


def test_a_hanging_async_check_is_cancelled_at_its_timeout(probe: Callable[[str], Reply]) -> None:
    cancelled = threading.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    add_health_check("stuck", stuck, timeout=0.3)

    reply = probe("/readyz")

    assert reply.status == 503
    assert reply.json()["checks"]["stuck"]["error"] == "timeout"
    assert cancelled.wait(5)


def test_a_probe_storm_runs_the_checks_once_per_second(probe: Callable[[str], Reply]) -> None:
    """20 quick probes, one run; a probe after the second has passed runs them again."""
    calls: list[int] = []
    add_health_check("db", lambda: calls.append(1))

    replies = [probe("/readyz") for _ in range(20)]

    assert {reply.status for reply in replies} == {200}
    assert len(calls) == 1
    time.sleep(1.05)
    probe("/readyz")
    assert len(calls) == 2


def test_concurrent_probes_share_one_run() -> None:
    """20 probes arriving while the checks run wait for that run instead of starting another:
    from 20 threads (WSGI), and from 20 tasks on one event loop (ASGI)."""
    calls: list[int] = []

    def slow() -> None:
        calls.append(1)
        time.sleep(0.3)

    add_health_check("db", slow)
    app = health_wsgi()
    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda _: wsgi(app, "/readyz").status, range(20)))
    assert statuses == [200] * 20
    assert len(calls) == 1

    add_health_check("db", slow)  # replacing a check forgets the cached report
    replies = asgi_many(health_app(), ["/readyz"] * 20)
    assert [reply.status for reply in replies] == [200] * 20
    assert len(calls) == 2


def test_an_async_check_runs_on_the_event_loop_serving_health() -> None:
    """Through ASGI, an async check runs on the server's loop (loop-bound clients work)."""
    seen: list[asyncio.AbstractEventLoop] = []

    async def which_loop() -> None:
        seen.append(asyncio.get_running_loop())

    add_health_check("loop", which_loop)
    serving: list[asyncio.AbstractEventLoop] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        serving.append(asyncio.get_running_loop())
        await health_app()(scope, receive, send)

    asgi(app, "/readyz")

    assert seen == serving


# -- registration -----------------------------------------------------------------------------


def test_add_health_check_returns_the_registered_check() -> None:
    check = add_health_check("db", passes, critical=False, timeout=0.5)

    assert (check.name, check.fn, check.critical, check.timeout) == ("db", passes, False, 0.5)
    assert HEALTH.checks == (check,)
    assert "passes" not in repr(check)  # a check's repr is its name and options


def test_registering_a_name_again_replaces_the_check(probe: Callable[[str], Reply]) -> None:
    add_health_check("db", fails)
    add_health_check("db", passes)

    assert [check.fn for check in HEALTH.checks] == [passes]
    assert probe("/readyz").status == 200


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("", passes), "not a valid check name"),
        (("db\nx", passes), "not a valid check name"),
        ((42, passes), "not a valid check name"),
        (("db", "SELECT 1"), "must be a callable"),
        (("db", passes, "yes"), "Accepted: True or False"),
        (("db", passes, True, 0), "positive number of seconds"),
        (("db", passes, True, float("inf")), "positive number of seconds"),
        (("db", passes, True, "2"), "positive number of seconds"),
        (("db", passes, True, True), "positive number of seconds"),
    ],
)
def test_bad_arguments_raise_config_error(arguments: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        add_health_check(*arguments)
    assert HEALTH.checks == ()


# -- status sources (the alerting engine's hook) ----------------------------------------------


def test_a_status_source_raises_the_status_but_never_changes_readiness(
    probe: Callable[[str], Reply],
) -> None:
    """Alerts are reported in the body; only critical checks take an instance out of service."""
    add_health_check("db", passes)
    state: dict[str, Any] = {"alerts": "unhealthy"}
    unregister = register_status_source("alerts", lambda: state["alerts"])

    reply = probe("/readyz")
    assert reply.status == 200
    assert reply.json()["status"] == "unhealthy"
    assert reply.json()["ready"] is True
    assert reply.json()["sources"] == {"alerts": "unhealthy"}

    state["alerts"] = None  # no opinion
    unregister_then_reregister = register_status_source("alerts", lambda: state["alerts"])
    assert probe("/readyz").json()["status"] == "healthy"
    assert "sources" not in probe("/readyz").json()

    unregister()  # removing a replaced source is harmless
    unregister_then_reregister()
    assert HEALTH.check().sources == ()


def test_the_worst_contribution_wins(probe: Callable[[str], Reply]) -> None:
    add_health_check("search", fails, critical=False)
    register_status_source("alerts", lambda: "healthy")

    assert probe("/readyz").json()["status"] == "degraded"


def test_a_broken_status_source_is_ignored_outside_our_test_suite() -> None:
    """A source returning an unknown status is logged once and skipped, not served as 500."""
    add_health_check("db", passes)
    register_status_source("alerts", lambda: "on fire")  # type: ignore[arg-type, return-value]
    _errors.raise_internal_errors(False)
    try:
        report = HEALTH.check()
    finally:
        _errors.raise_internal_errors(True)

    assert (report.status, report.sources) == ("healthy", ())
    assert _errors.internal_error_count("health.status_source") >= 1


# -- HTTP details ------------------------------------------------------------------------------


def test_details_false_serves_only_status_and_readiness() -> None:
    add_health_check("payments-db", fails)

    for reply in (
        asgi(health_app(details=False), "/readyz"),
        wsgi(health_wsgi(details=False), "/readyz"),
    ):
        assert (reply.status, reply.json()) == (503, {"status": "unhealthy", "ready": False})


def test_head_has_the_status_and_headers_but_no_body() -> None:
    add_health_check("db", fails)

    for reply in (
        asgi(health_app(), "/readyz", method="HEAD"),
        wsgi(health_wsgi(), "/readyz", method="HEAD"),
    ):
        assert (reply.status, reply.body) == (503, b"")
        assert reply.headers["content-type"] == "application/json"


def test_other_methods_and_paths() -> None:
    """POST is 405 with ``Allow``; an unknown path is 404."""
    for app, send in ((health_app(), asgi), (health_wsgi(), wsgi)):
        not_allowed = send(app, "/readyz", "POST")
        assert (not_allowed.status, not_allowed.headers["allow"]) == (405, "GET, HEAD")
        assert send(app, "/ready", "GET").status == 404


def test_wrapping_an_app_serves_health_and_passes_everything_else_through() -> None:
    """The Django form: ``health_wsgi(get_wsgi_application())`` (and ``health_app`` for ASGI)."""

    def inner_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"inner " + environ["PATH_INFO"].encode()]

    async def inner_asgi(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"inner " + scope["path"].encode()})

    add_health_check("db", fails)
    wrapped_wsgi, wrapped_asgi = health_wsgi(inner_wsgi), health_app(inner_asgi)

    assert wsgi(wrapped_wsgi, "/items/1").body == b"inner /items/1"
    assert asgi(wrapped_asgi, "/items/1").body == b"inner /items/1"
    assert wsgi(wrapped_wsgi, "/readyz").status == 503
    assert asgi(wrapped_asgi, "/readyz").status == 503
    assert asgi(wrapped_asgi, "/healthz").json() == {"status": "alive"}


def test_mounted_under_a_prefix_in_starlette() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = Starlette(routes=[Mount("/health", app=health_app())])
    add_health_check("db", passes)

    assert asgi(app, "/health/readyz").json()["checks"]["db"]["status"] == "pass"
    assert asgi(app, "/health/healthz").json() == {"status": "alive"}
    assert asgi(app, "/health/metrics").status == 404


def test_fastapi_router() -> None:
    """Both routes, under the router's prefix, left out of the OpenAPI schema."""
    from fastapi import FastAPI

    app = FastAPI()
    app.include_router(health_router(), prefix="/ops")
    add_health_check("db", fails)

    ready = asgi(app, "/ops/readyz")
    assert (ready.status, ready.json()["checks"]["db"]["error"]) == (503, "ConnectionRefusedError")
    assert ready.headers["content-type"] == "application/json"
    assert asgi(app, "/ops/healthz").json() == {"status": "alive"}
    assert "/ops/readyz" not in asgi(app, "/openapi.json").json()["paths"]


def test_flask_blueprint() -> None:
    from flask import Flask

    app = Flask("blueprint-test")
    app.register_blueprint(health_blueprint(details=False), url_prefix="/ops")
    add_health_check("db", fails)

    client = app.test_client()
    ready = client.get("/ops/readyz")
    assert (ready.status_code, ready.get_json()) == (503, {"status": "unhealthy", "ready": False})
    assert ready.headers["Content-Type"] == "application/json"
    assert client.get("/ops/healthz").get_json() == {"status": "alive"}


# -- built-in checks -------------------------------------------------------------------------


def test_builtin_checks_refuse_what_they_cannot_check() -> None:
    with pytest.raises(ConfigError, match="not a SQLAlchemy engine"):
        health_checks.sqlalchemy("postgresql://db/app")
    with pytest.raises(ConfigError, match=r"redis:// or rediss:// URL"):
        health_checks.redis(6379)
    with pytest.raises(ConfigError, match="not a Celery app"):
        health_checks.celery_broker(object())


def test_sqlalchemy_check_on_sqlite(tmp_path: Path, probe: Callable[[str], Reply]) -> None:
    """``SELECT 1`` through the engine; a database that cannot be opened fails the check."""
    import sqlalchemy

    good = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    bad = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'missing' / 'app.db'}")
    add_health_check("db", health_checks.sqlalchemy(good))
    add_health_check("other", health_checks.sqlalchemy(bad), critical=False)
    try:
        body = probe("/readyz").json()
    finally:
        good.dispose()
        bad.dispose()

    assert body["checks"]["db"]["status"] == "pass"
    assert body["checks"]["other"]["error"] == "OperationalError"


@pytest.mark.integration
def test_redis_check_against_a_real_server(redis_url: str, probe: Callable[[str], Reply]) -> None:
    """A URL, a client and an asyncio client pass; a port nobody listens on fails."""
    import redis
    import redis.asyncio

    client = redis.Redis.from_url(redis_url)
    async_client = redis.asyncio.Redis.from_url(redis_url)
    add_health_check("url", health_checks.redis(redis_url))
    add_health_check("client", health_checks.redis(client))
    add_health_check("async-client", health_checks.redis(async_client))
    add_health_check(
        "down", health_checks.redis(f"redis://127.0.0.1:{free_port()}/0"), critical=False
    )
    try:
        body = probe("/readyz").json()
    finally:
        client.close()

    statuses = {name: check["status"] for name, check in body["checks"].items()}
    assert statuses == {"url": "pass", "client": "pass", "async-client": "pass", "down": "fail"}
    assert body["checks"]["down"]["error"] == "ConnectionError"


@pytest.mark.integration
def test_celery_broker_check_against_a_real_redis(redis_url: str) -> None:
    from celery import Celery  # type: ignore[import-untyped]

    up = Celery("up", broker=redis_url)
    down = Celery("down", broker=f"redis://127.0.0.1:{free_port()}/0")
    add_health_check("broker", health_checks.celery_broker(up))
    add_health_check("other-broker", health_checks.celery_broker(down), critical=False)

    body = wsgi(health_wsgi(), "/readyz").json()

    assert body["checks"]["broker"]["status"] == "pass"
    assert body["checks"]["other-broker"]["status"] == "fail"
    assert body["checks"]["other-broker"]["error"] == "OperationalError"


# -- the otelkit.health.status gauge -----------------------------------------------------------


# These tests use the ``telemetry`` fixture of otelkit's own pytest plugin (otelkit.testing).


def gauge_values(telemetry: otelkit.Telemetry) -> dict[str, float]:
    points = testing.points(telemetry, "otelkit.health.status")
    return {point.attributes["otelkit.health.check"]: point.value for point in points}


def test_health_status_gauge_is_1_per_passing_and_0_per_failing_check(
    telemetry: testing.CapturedTelemetry,
) -> None:
    add_health_check("db", passes)
    add_health_check("search", fails, critical=False)

    status = telemetry.gauge("otelkit.health.status")
    assert status.value(otelkit_health_check="db") == 1
    assert status.value(otelkit_health_check="search") == 0

    add_health_check("search", passes, critical=False)
    assert telemetry.gauge("otelkit.health.status").value(otelkit_health_check="search") == 1


def test_health_status_gauge_reads_the_cached_report(telemetry: testing.CapturedTelemetry) -> None:
    """A collection right after a probe does not run the checks again."""
    calls: list[int] = []
    add_health_check("db", lambda: calls.append(1))

    wsgi(health_wsgi(), "/readyz")
    status = telemetry.gauge("otelkit.health.status")
    assert status.value(otelkit_health_check="db") == 1
    assert status.series() == [{"otelkit.health.check": "db"}]
    assert len(calls) == 1


def test_checks_registered_before_init_telemetry_are_reported() -> None:
    add_health_check("db", passes)
    handle = otelkit.init_telemetry("health", exporters="memory", instrument="none")
    try:
        assert gauge_values(handle) == {"db": 1}
    finally:
        handle.shutdown()


def test_the_public_names_are_exported() -> None:
    from otelkit.health import _http as _health_http
    from otelkit.health import _registry as _health

    assert otelkit.HealthCheck is _health.HealthCheck
    assert otelkit.add_health_check is _health.add_health_check
    assert otelkit.health_app is _health_http.health_app
    assert otelkit.health_wsgi is _health_http.health_wsgi


# -- the Prometheus plugin's listener -----------------------------------------------------------


@pytest.mark.integration
def test_the_prometheus_port_serves_health_next_to_metrics() -> None:
    port = free_port()
    otelkit.init_telemetry(
        "health-port", exporters="prometheus", prometheus_port=port, instrument="none"
    )
    add_health_check("db", passes)
    add_health_check("search", fails, critical=False)
    base = f"http://127.0.0.1:{port}"

    live = requests.get(f"{base}/healthz", timeout=10)
    ready = requests.get(f"{base}/readyz", timeout=10)
    metrics = requests.get(f"{base}/metrics", timeout=10)

    assert (live.status_code, live.json()) == (200, {"status": "alive"})
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["search"]["error"] == "ConnectionRefusedError"
    lines = metrics.text.splitlines()
    assert any(
        line.startswith("otelkit_health_status{")
        and 'otelkit_health_check="db"' in line
        and line.endswith(" 1")
        for line in lines
    ), metrics.text
    assert any('otelkit_health_check="search"' in line and line.endswith(" 0") for line in lines)


@pytest.mark.integration
def test_with_a_token_the_prometheus_port_answers_probes_but_names_checks_only_with_it() -> None:
    """No token is needed for health (probes must pass); without it /readyz names no check."""
    port = free_port()
    otelkit.init_telemetry(
        "health-token",
        exporters="prometheus",
        prometheus_port=port,
        prometheus_token="s3cret",
        instrument="none",
    )
    add_health_check("payments-db", fails)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": "Bearer s3cret"}

    anonymous = requests.get(f"{base}/readyz", timeout=10)
    with_token = requests.get(f"{base}/readyz", headers=auth, timeout=10)

    assert (anonymous.status_code, anonymous.json()) == (
        503,
        {"status": "unhealthy", "ready": False},
    )
    assert with_token.status_code == 503
    assert with_token.json()["checks"]["payments-db"]["status"] == "fail"
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    assert requests.get(f"{base}/metrics", timeout=10).status_code == 401


# -- real servers ---------------------------------------------------------------------------


class HealthServer:
    """An app of tests/health/apps served by uvicorn or gunicorn in a subprocess."""

    COMMANDS: ClassVar[dict[str, list[str]]] = {
        "uvicorn-fastapi": [
            "uvicorn", "health_fastapi:app", "--workers", "1", "--no-access-log",
            "--log-level", "warning", "--host", "127.0.0.1", "--port",
        ],
        "gunicorn-flask": [
            "gunicorn", "health_flask:create_app()", "--config", str(GUNICORN_CONF), "--bind",
        ],
    }  # fmt: skip

    def __init__(self, name: str, workdir: Path, flag: Path) -> None:
        self.name = name
        port, metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.metrics_url = f"http://127.0.0.1:{metrics_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(APPS_DIR), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            OTEL_SERVICE_NAME=f"health-{name}",
            OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port),
            HEALTH_FLAG_FILE=str(flag),
        )
        address = str(port) if name.startswith("uvicorn") else f"127.0.0.1:{port}"
        self._log = workdir / f"{name}.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", *self.COMMANDS[name], address],
                env=env,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._serving, timeout=30, what=f"{name} to serve /healthz")
        except AssertionError:
            self.stop()
            raise AssertionError(f"{name} did not start:\n{self.output()}") from None

    def _serving(self) -> bool:
        if self._process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self._process.returncode}")
        return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200

    def get(self, url: str) -> requests.Response:
        return requests.get(url, timeout=10)

    def output(self) -> str:
        return self._log.read_text(errors="replace")[-10_000:] or "(no output)"

    def report_section(self) -> tuple[str, str]:
        return f"output of {self.name}", self.output()

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()


@pytest.fixture(params=list(HealthServer.COMMANDS))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[HealthServer, Path]]:
    flag = tmp_path / "ready"
    flag.touch()
    running = HealthServer(request.param, tmp_path, flag)
    try:
        yield running, flag
    finally:
        running.stop()


@pytest.mark.integration
def test_readiness_through_a_real_server_and_its_prometheus_port(
    server: tuple[HealthServer, Path],
) -> None:
    """uvicorn + FastAPI router and gunicorn + Flask blueprint: readiness follows the check,
    on the app's port and on the Prometheus listener's, with the gauge in /metrics."""
    running, flag = server
    for base in (running.url, running.metrics_url):
        ready = running.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["flag"]["status"] == "pass"
        assert running.get(f"{base}/healthz").json() == {"status": "alive"}

    flag.unlink()
    for base in (running.url, running.metrics_url):
        url = f"{base}/readyz"
        wait_until(lambda url=url: running.get(url).status_code == 503, 10)  # type: ignore[misc]
    body = running.get(f"{running.url}/readyz").json()
    assert body == {**body, "status": "unhealthy", "ready": False}
    assert (body["checks"]["flag"]["status"], body["checks"]["flag"]["error"]) == ("fail", None)
    assert _flag_gauge(running.get(f"{running.metrics_url}/metrics").text) == "0"

    flag.touch()
    wait_until(lambda: running.get(f"{running.url}/readyz").status_code == 200, 10)
    assert _flag_gauge(running.get(f"{running.metrics_url}/metrics").text) == "1"


def _flag_gauge(body: str) -> str | None:
    """The value of the flag check's gauge (under gunicorn, a pre-fork server, it carries the
    worker's ``process_pid`` too)."""
    found = re.search(
        r'^otelkit_health_status\{[^}]*otelkit_health_check="flag"[^}]*\} (\S+)$', body, re.M
    )
    return found.group(1) if found else None


# -- a real PostgreSQL ----------------------------------------------------------------------


@pytest.mark.integration
def test_readiness_follows_a_real_postgresql_going_down_and_coming_back(
    postgres: PostgresServer, postgres_db: str
) -> None:
    """503 while the server is stopped, 200 once it runs again; sync and async engines,
    through the WSGI app (checks in threads) and the ASGI app (async check on its loop)."""
    import sqlalchemy
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = sqlalchemy.create_engine(postgres.url("psycopg", database=postgres_db))
    async_engine = create_async_engine(postgres.url("asyncpg", database=postgres_db))
    add_health_check("postgres", health_checks.sqlalchemy(engine), timeout=5)
    add_health_check("postgres-async", health_checks.sqlalchemy(async_engine), timeout=5)
    app_wsgi, app_asgi = health_wsgi(), health_app()

    def statuses() -> set[int]:
        return {wsgi(app_wsgi, "/readyz").status, asgi(app_asgi, "/readyz").status}

    try:
        assert statuses() == {200}
        postgres.stop()
        try:
            wait_until(lambda: statuses() == {503}, timeout=10, what="readiness to fail")
            down = wsgi(app_wsgi, "/readyz")
            for name in ("postgres", "postgres-async"):
                check = down.json()["checks"][name]
                assert check["status"] == "fail"
                assert check["error"] is not None
                assert check["error"].isidentifier()  # a class name, nothing of the message
            assert str(postgres.port).encode() not in down.body
        finally:
            postgres.start()
        wait_until(lambda: statuses() == {200}, timeout=20, what="readiness to come back")
    finally:
        engine.dispose()
        asyncio.run(async_engine.dispose())
