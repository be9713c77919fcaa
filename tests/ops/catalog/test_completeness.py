"""Everything otelkit emits is in the catalog, exactly as the catalog describes it.

One module-wide run drives every integration for real, in this process, into the in-memory
exporter: a FastAPI app (ASGI) and a Flask app (WSGI) with the opt-in body sizes on,
SQLAlchemy on the session's PostgreSQL (queries, a failing query, a pool timeout), a Celery
worker consuming from the session's Redis (a success, a failure, a retry), system and process
metrics, outgoing HTTP calls (httpx, requests, aiohttp to a loopback server), a health
check, in-process alerting (the error-rate alert fires on the HTTP errors),
and business metrics declared by decorators at import; then the HTTP apps again under
contrib's middlewares (``OTELKIT_HTTP_IMPLEMENTATION=contrib``). Then every metric collected
must be in the catalog with the same instrument kind and unit, carry only attribute keys the
catalog lists and only the values it lists where it lists them; and every metric the catalog
declares must have been emitted (otelkit's self-metrics only appear on a failure the run does
not cause), so a new instrument without a catalog entry, or a catalog entry this run does not
reach, fails here.

The Celery worker is Celery's own (``celery.contrib.testing.worker``: the worker of
``celery worker --pool solo``) on a thread of this process, so that its metrics reach this
process' in-memory exporter; tests/tasks runs workers as subprocesses over OTLP.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy
from celery import Celery, Task, signals
from celery.contrib.testing.worker import start_worker
from fastapi import FastAPI, Request
from flask import Flask
from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum

import otelkit
from otelkit import testing
from otelkit.health._registry import HEALTH
from otelkit.ops.catalog._catalog import builtin, everything
from tests.fixtures.servers import free_port, wait_until

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric, MetricsData, ScopeMetrics

    from otelkit.ops.catalog import MetricSpec
    from tests.fixtures.postgres import PostgresServer
    from tests.fixtures.redis import RedisServer

pytestmark = pytest.mark.integration

QUEUE = "catalog-completeness"
SELF_METRICS = frozenset({"otelkit.internal.errors", "otelkit.export.failures"})
# (tests/reliability checks both on /metrics and over OTLP)
"""Emitted only when otelkit swallows an error or an export fails; the run causes neither (it
causes a drop: an invalid attribute value, so ``otelkit.dropped`` is checked)."""


# Business metrics, declared as an application declares them: at import.
@otelkit.timed("catalog.test.checkout.duration", attributes={"channel": "web"})
def checkout(fail: bool = False) -> None:
    if fail:
        raise ValueError("declined")


@otelkit.counted("catalog.test.orders", unit="{order}", attributes={"tier": "gold"})
def place() -> None:
    pass


@otelkit.counted("catalog.test.lookups", attributes=lambda kind: {"lookup.kind": kind})
def lookup(kind: str) -> None:
    pass


@otelkit.track_inprogress("catalog.test.picking", attributes={"warehouse": "north"})
def pick() -> None:
    pass


@otelkit.counted("catalog.test.predictions", attributes_from_result=lambda tier: {"tier": tier})
def predict() -> str:
    return "gold"


def _http() -> None:
    api = FastAPI()

    @api.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @api.post("/orders")
    async def order(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @api.get("/boom")
    async def boom() -> None:
        raise RuntimeError("expected by the test")

    otelkit.instrument_app(api)

    async def send() -> None:
        transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            await client.get("/items/1")
            await client.post("/orders", content=b"x" * 300)
            await client.get("/boom")
            await client.get("/nowhere")

    asyncio.run(send())

    web = Flask("catalog")

    @web.get("/health/<name>")
    def health(name: str) -> str:
        return name

    otelkit.instrument_app(web)
    client = web.test_client()
    client.get("/health/db", buffered=True)
    client.post("/health/db", data=b"y" * 50, buffered=True)


def _outgoing_calls() -> None:
    """Outgoing calls through httpx (sync and async), requests and aiohttp to a loopback
    server: answers 200 and 503, and a refused connection (``error.type``, no status)."""
    import aiohttp
    import requests

    class Answer(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(503 if self.path == "/down" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    async def calls() -> None:
        async with httpx.AsyncClient() as client:
            await client.get(f"{base}/")
        async with aiohttp.ClientSession() as session, session.get(f"{base}/down") as response:
            await response.read()

    try:
        httpx.get(f"{base}/")
        requests.get(f"{base}/down", timeout=5)
        asyncio.run(calls())
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{free_port()}/")
    finally:
        server.shutdown()
        server.server_close()


def _database(url: str) -> None:
    engine = sqlalchemy.create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    otelkit.instrument_sqlalchemy(engine)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE orders (id int)"))
        connection.execute(sqlalchemy.text("INSERT INTO orders VALUES (1)"))
        connection.execute(sqlalchemy.text("SELECT id FROM orders")).all()
    with engine.connect() as connection, pytest.raises(sqlalchemy.exc.ProgrammingError):
        connection.execute(sqlalchemy.text("SELECT id FROM missing_table"))
    with engine.connect(), pytest.raises(sqlalchemy.exc.TimeoutError):
        engine.connect()  # the only connection is taken: the pool times out
    engine.dispose()


def _tasks(broker_url: str) -> None:
    app = Celery("catalog", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )

    @app.task(name="catalog.ok", shared=False)
    def ok() -> int:
        return 1

    @app.task(name="catalog.fail", shared=False)
    def fail() -> None:
        raise ValueError("expected by the test")

    @app.task(name="catalog.flaky", bind=True, max_retries=2, shared=False)
    def flaky(self: Task) -> None:
        if self.request.retries == 0:
            raise self.retry(countdown=0)

    otelkit.instrument_celery(app)
    # A receiver of setup_logging tells the worker to leave this process' logging alone
    # (otherwise it sets the root logger to ERROR for the rest of the session).
    signals.setup_logging.connect(_keep_logging)
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, queues=[QUEUE], shutdown_timeout=10
        ):
            for task in (ok, fail, flaky):
                task.delay()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _celery_runs() < 4:
                time.sleep(0.05)
    finally:
        signals.setup_logging.disconnect(_keep_logging)


def _keep_logging(**_: object) -> None:
    """Celery configures logging only when nobody receives ``setup_logging``."""


_telemetry: list[otelkit.Telemetry] = []


def _celery_runs() -> int:
    return sum(int(p.value) for p in testing.points(_telemetry[0], "celery.task.runs"))


def _business() -> None:
    checkout()
    with pytest.raises(ValueError, match="declined"):
        checkout(fail=True)
    place()
    lookup("sku")
    pick()
    otelkit.record("catalog.test.amount", 12.5, currency="EUR")
    otelkit.record("catalog.test.amount", 1.0, basket={"not": "an attribute"})  # dropped
    otelkit.gauge("catalog.test.queue.depth", lambda: {(("queue", "high"),): 3})
    otelkit.count("catalog.test.cost", 0.25, unit="{USD}", model="large")
    otelkit.set_gauge("catalog.test.backlog", 7, unit="{order}", queue="high")
    predict()


@pytest.fixture(scope="module")
def emitted(postgres: PostgresServer, redis_server: RedisServer) -> list[ScopeMetrics]:
    """What one run of every integration emits (collected once, cumulative), then what
    contrib's HTTP middlewares emit when they are chosen instead of otelkit's."""
    telemetry = otelkit.init_telemetry(
        "catalog-completeness",
        exporters="memory",
        http_body_size=True,
        system_metrics=True,
        system_metrics_detail=True,  # the opt-in per-CPU, packets and errors instruments
        alerts=True,  # the error-rate rule fires on the HTTP errors below
        alert_default_rules="error_rate",
        alert_error_rate_for=0,
        alert_interval=0.1,
        alert_window=1.0,
    )
    _telemetry[:] = [telemetry]
    check = otelkit.add_health_check("always", lambda: True)
    try:
        _http()
        wait_until(
            lambda: testing.points(telemetry, "otelkit.alert.notifications"),
            timeout=10,
            what="an alert notification",
        )
        _outgoing_calls()
        _database(postgres.url())
        _tasks(redis_server.fresh_url())
        _business()
        scopes = _scopes(testing.metrics(telemetry))
    finally:
        telemetry.shutdown(timeout=5)
        HEALTH.remove(check.name)
    contrib = otelkit.init_telemetry(
        "catalog-contrib",
        exporters="memory",
        http_implementation="contrib",
        instrument="asgi,wsgi",
        system_metrics=False,
    )
    try:
        _http()
        return scopes + _scopes(testing.metrics(contrib))
    finally:
        contrib.shutdown(timeout=5)


def _scopes(data: MetricsData | None) -> list[ScopeMetrics]:
    assert data is not None
    return [scope for resource in data.resource_metrics for scope in resource.scope_metrics]


def _metrics(scopes: list[ScopeMetrics]) -> list[Metric]:
    return [metric for scope in scopes for metric in scope.metrics]


def _kinds(metric: Metric) -> frozenset[str]:
    """The catalog instruments that export data of this metric's kind."""
    data = metric.data
    if isinstance(data, Histogram):
        return frozenset({"histogram"})
    if isinstance(data, Gauge):
        return frozenset({"gauge", "observable_gauge"})
    if isinstance(data, Sum) and data.is_monotonic:
        return frozenset({"counter", "observable_counter"})
    if isinstance(data, Sum):
        return frozenset({"updowncounter", "observable_updowncounter"})
    return frozenset()


def _differences(metric: Metric, spec: MetricSpec, scope: str) -> list[str]:
    found: list[str] = []
    if spec.instrument not in _kinds(metric):
        found.append(f"{type(metric.data).__name__} data, catalog says {spec.instrument}")
    if (metric.unit or "") != spec.unit:
        found.append(f"unit {metric.unit!r}, catalog says {spec.unit!r}")
    own = scope.startswith("otelkit") and spec.integration != "business"
    if own and (metric.description or "") != spec.description:
        found.append(f"description {metric.description!r}, catalog says {spec.description!r}")
    declared = {a.name: a for a in spec.attributes}
    for point in metric.data.data_points:
        attributes: dict[str, Any] = dict(point.attributes or {})
        unknown = set(attributes) - set(declared)
        if unknown and not spec.open_attributes:
            found.append(f"attributes {sorted(unknown)} not in the catalog")
        for key, value in attributes.items():
            known = declared.get(key)
            if known is not None and known.values and str(value) not in known.values:
                found.append(f"{key}={value!r} not among {known.values}")
    return sorted(set(found))


def test_every_emitted_metric_is_in_the_catalog_as_emitted(emitted: list[ScopeMetrics]) -> None:
    """Name, instrument kind, unit, attribute keys and known values all agree, for otelkit's
    own instruments and for contrib's HTTP middlewares; so do the descriptions of otelkit's
    own metrics (a business metric's is its author's, contrib's are contrib's)."""
    catalog = everything()
    contrib = {"opentelemetry.instrumentation.asgi", "opentelemetry.instrumentation.wsgi"}
    assert contrib <= {scope.scope.name for scope in emitted}
    problems = {}
    for scope in emitted:
        for metric in scope.metrics:
            if scope.scope.name == "otelkit.business" and not metric.name.startswith("catalog."):
                continue  # another test's business metric: instruments outlive configurations
            where = f"{metric.name} ({scope.scope.name})"
            spec = catalog.get(metric.name)
            if spec is None:
                problems[where] = ["not in the catalog"]
            elif differences := _differences(metric, spec, scope.scope.name):
                problems[where] = differences
    assert problems == {}


def test_every_catalog_metric_was_emitted_by_the_run(emitted: list[ScopeMetrics]) -> None:
    """The run reaches every metric otelkit declares, opt-in ones included, so the check above
    covers the whole catalog."""
    names = {metric.name for metric in _metrics(emitted)}
    missing = {spec.name for spec in builtin()} - names - SELF_METRICS
    assert missing == set()


def test_business_metrics_carry_their_declared_attributes(emitted: list[ScopeMetrics]) -> None:
    """The decorators' static attributes and ``error.type`` are listed; computed attributes,
    ``record()`` and ``gauge()`` are marked open."""
    catalog = everything()
    checkout_spec = catalog.get("catalog.test.checkout.duration")
    assert checkout_spec is not None
    assert checkout_spec.attribute_names() == {"channel", "error.type"}
    assert not checkout_spec.open_attributes
    open_ones = (
        "catalog.test.lookups",
        "catalog.test.amount",
        "catalog.test.queue.depth",
        "catalog.test.cost",
        "catalog.test.backlog",
        "catalog.test.predictions",
    )
    for name in open_ones:
        spec = catalog.get(name)
        assert spec is not None, name
        assert spec.open_attributes, name
    ours = {spec.name for spec in catalog.business() if spec.name.startswith("catalog.test.")}
    assert len(ours) == 9
    assert ours <= {metric.name for metric in _metrics(emitted)}
