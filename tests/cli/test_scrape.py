"""``otelkit scrape URL``: two readings of a live /metrics, a few seconds apart, as RED per
route; against a real FastAPI app under uvicorn, serving real traffic while it is read."""

from __future__ import annotations

import itertools
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from tests.cli.apps import QueryLoop, Shop
from tests.cli.conftest import json_of, run_otelkit
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ROUTE = "GET /items/{item_id}"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    app = Shop(tmp_path)
    yield app
    app.stop()


class Traffic:
    """Requests to ``/items/1``, ``/items/2``, … on a thread: every fourth one is a 500."""

    def __init__(self, base: str) -> None:
        self.sent = 0
        self._stop = threading.Event()
        self._base = base
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for item in itertools.count(1):
            if self._stop.is_set():
                return
            try:
                with urllib.request.urlopen(f"{self._base}/items/{item}", timeout=5):
                    pass
            except urllib.error.HTTPError:
                pass
            self.sent += 1

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.integration
def test_the_route_shows_its_rate_errors_and_latency(shop: Shop) -> None:
    with Traffic(shop.url) as traffic:
        result = run_otelkit("scrape", shop.listener, "--interval", "2", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert traffic.sent > 20
    report = json_of(result)
    assert report["url"] == f"{shop.listener}/metrics"
    (route,) = [r for r in report["http_routes"] if r["name"] == ROUTE]
    assert 0 < route["rate_per_s"] * report["interval_s"] <= traffic.sent
    assert 0.15 < route["error_ratio"] < 0.35  # one request in four fails
    assert 0 < route["p50_s"] <= route["p95_s"] <= route["p99_s"] < 10
    assert route["total"] <= traffic.sent
    assert report["system"]["process_threads"] >= 1


@pytest.mark.integration
def test_the_tables_name_the_route(shop: Shop) -> None:
    with Traffic(shop.url):
        result = run_otelkit("scrape", f"127.0.0.1:{shop.metrics_port}", "--interval", "1")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if ROUTE in line)
    assert " ms " in line or " s " in line  # the quantiles
    assert "%" in line  # the error ratio
    assert "System and process" in result.stdout


@pytest.mark.integration
def test_a_protected_endpoint_needs_the_token(tmp_path: Path) -> None:
    app = Shop(tmp_path, {"OTELKIT_PROMETHEUS_TOKEN": "scrape-secret"})
    try:
        refused = run_otelkit("scrape", app.listener, "--interval", "0.2")
        assert refused.returncode == 1
        assert "answered HTTP 401 (give --token or OTELKIT_PROMETHEUS_TOKEN)" in refused.stderr
        allowed = run_otelkit(
            "scrape",
            app.listener,
            "--interval",
            "0.2",
            env={"OTELKIT_PROMETHEUS_TOKEN": "scrape-secret"},
        )
        assert allowed.returncode == 0, allowed.stderr
    finally:
        app.stop()


def test_nothing_answering_exits_1() -> None:
    result = run_otelkit("scrape", f"127.0.0.1:{free_port()}", "--interval", "0.1")
    assert result.returncode == 1
    assert "cannot read http://127.0.0.1:" in result.stderr


@pytest.mark.integration
def test_database_operations_and_the_pool_are_shown(tmp_path: Path) -> None:
    """SQLAlchemy over SQLite: per operation and table, and the pool's connections."""
    service = QueryLoop(tmp_path)
    try:
        result = run_otelkit("scrape", service.listener, "--interval", "1", "-o", "json")
    finally:
        service.stop()
    assert result.returncode == 0, result.stderr
    report = json_of(result)
    operations = {row["name"]: row for row in report["db_operations"]}
    inserts, failures = operations["sqlite INSERT orders"], operations["sqlite SELECT missing"]
    assert inserts["rate_per_s"] > 0
    assert inserts["error_ratio"] == 0
    assert failures["error_ratio"] == 1
    assert inserts["p50_s"] <= inserts["p99_s"]
    (pool,) = report["db_pools"]
    assert str(tmp_path / "orders.db") in pool["pool"]
    assert pool["max"] >= 1
