"""Every dashboard query, variables substituted, evaluated by a real Prometheus after real traffic.

The dashboard is the one ``otelkit dashboard --app shop_site:app`` writes for the shop (FastAPI
+ SQLAlchemy on PostgreSQL, 20 % failing orders, a health check, a business histogram) and its
Celery tasks (a real worker on Redis: successes, failures, retries, a business counter, gauge
and up-down counter). Prometheus scrapes both and evaluates the generated alerting rules. Every
query must parse, and every panel must show data: the dashboard only has rows for what the
application emits, so an empty panel would be one that can never show anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests
import yaml

from tests.ops.conftest import JOB
from tests.ops.dashboard.conftest import POOL_PROCESSES, WORKER_JOB, apps_path
from tests.ops.dashboard.evaluation import (
    Result,
    evaluate,
    grafana_intervals,
    panel_queries,
    regex_value,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from tests.fixtures.postgres import PostgresServer
    from tests.ops.conftest import RulesPrometheus, ShopApp
    from tests.ops.dashboard.conftest import ShopWorker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

SERVICES = [JOB, WORKER_JOB]
STEP = 2.0
SCRAPE_INTERVAL = 1.0
WINDOW = 60.0
"""The range the panels are evaluated over (at most: from the first scrape on)."""
SETTLE_TIMEOUT = 100.0
"""How long every panel may take to have data (the first scrapes, the rules evaluated, a busy
machine)."""


SLO_FLAGS = ("availability=99", "latency=0.5s@99")
REGISTERED_BY_THE_SHOP = ("orders", "orders-latency", "checkout")
"""The SLOs ``apps/ops_shop.py`` registers with ``register_slo``."""


def run_for_the_shop(tmp_path: Path, database_url: str, *command: str) -> str:
    """Run ``command`` (Python arguments) as a user would, beside the shop's modules."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    env.update(PYTHONPATH=apps_path(), SHOP_DATABASE_URL=database_url, OTEL_METRICS_EXPORTER="none")
    done = subprocess.run(
        [sys.executable, *command], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def generated_dashboard(tmp_path: Path, database_url: str) -> dict[str, Any]:
    """What ``otelkit dashboard --app shop_site:app --slo ...`` writes."""
    output = tmp_path / "dashboard.json"
    run_for_the_shop(
        tmp_path, database_url, "-m", "otelkit.cli", "dashboard", "--app", "shop_site:app",
        *_slo_flags(), "--output", str(output),
    )  # fmt: skip
    loaded: dict[str, Any] = json.loads(output.read_text())
    return loaded


def generated_rules(tmp_path: Path, database_url: str) -> Path:
    """What ``otelkit rules --app shop_site:app --slo ...`` writes for the same application."""
    path = tmp_path / "rules.yaml"
    run_for_the_shop(
        tmp_path, database_url, "-m", "otelkit.cli", "rules", "--app", "shop_site:app",
        *_slo_flags(), "--output", str(path),
    )  # fmt: skip
    return path


def _slo_flags() -> list[str]:
    return [arg for flag in SLO_FLAGS for arg in ("--slo", flag)]


def evaluate_all(
    url: str, dashboard: dict[str, Any], since: float, route: Sequence[str] | None = None
) -> list[Result]:
    end = time.time()
    start = max(since, end - WINDOW)
    values = {
        "service": regex_value(SERVICES),
        "instance": regex_value(None),
        "route": regex_value(route),
        **grafana_intervals(STEP, SCRAPE_INTERVAL, end - start),
    }
    return [
        evaluate(url, query, values, start=start, end=end, step=STEP)
        for query in panel_queries(dashboard)
    ]


def empty_panels(results: Sequence[Result]) -> list[str]:
    """The panels none of whose queries returned a series."""
    shown: dict[str, bool] = {}
    for result in results:
        key = f"{result.query.row} / {result.query.panel}"
        shown[key] = shown.get(key, False) or result.series > 0
    return [panel for panel, has_data in shown.items() if not has_data]


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Path:
    return generated_rules(tmp_path_factory.mktemp("rules"), postgres.url())


@pytest.fixture(scope="module")
def prometheus_url(
    ops_prometheus: RulesPrometheus, shop_app: ShopApp, shop_worker: ShopWorker, rules_file: Path
) -> str:
    """The shared Prometheus with the generated rules, scraping the shop and the worker."""
    ops_prometheus.load_rules([rules_file])
    ops_prometheus.ensure_scraped(JOB, shop_app.metrics_target)
    ops_prometheus.ensure_scraped(WORKER_JOB, shop_worker.metrics_target)
    for job in (JOB, WORKER_JOB):
        ops_prometheus.wait_for(f'up{{job="{job}"}}', 1, timeout=60)
    return ops_prometheus.url


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> dict[str, Any]:
    return generated_dashboard(tmp_path_factory.mktemp("dashboard"), postgres.url())


@pytest.fixture(scope="module")
def results(prometheus_url: str, dashboard: dict[str, Any]) -> list[Result]:
    """Every query evaluated once every panel has data (or after ``SETTLE_TIMEOUT``)."""
    since = time.time() - WINDOW
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        found = evaluate_all(prometheus_url, dashboard, since)
        if not empty_panels(found) or time.monotonic() > deadline:
            return found
        time.sleep(3)


def test_the_dashboard_has_a_row_for_each_integration_the_shop_uses(
    dashboard: dict[str, Any],
) -> None:
    rows = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
    assert rows == [
        "Overview",
        "Routes",
        "Database",
        "Celery tasks",
        "System and process",
        "Health checks",
        "Telemetry pipeline (otelkit)",
        "Alerts",
        "SLOs: burn rate and error budget",
        "Business metrics",
    ]


def test_prometheus_accepts_every_query(results: list[Result]) -> None:
    refused = [
        f"{r.query.panel} {r.query.ref}: {r.error}\n  {r.promql}" for r in results if r.error
    ]
    assert not refused, "\n".join(refused)


def test_every_panel_shows_data_after_real_traffic(results: list[Result]) -> None:
    assert results
    assert not empty_panels(results), "panels without data:\n" + "\n".join(empty_panels(results))


def test_selecting_a_route_narrows_the_route_panels_to_it(
    prometheus_url: str, dashboard: dict[str, Any], results: list[Result]
) -> None:
    """A route template with braces goes through the variable's regex escaping intact."""
    narrowed = evaluate_all(prometheus_url, dashboard, time.time() - WINDOW, ["/orders/{order}"])
    by_route = next(r for r in narrowed if r.query.panel == "Requests per second by route")
    everything = next(r for r in results if r.query.panel == "Requests per second by route")
    assert (by_route.error, by_route.series) == (None, 1)
    assert everything.series == 2  # /orders/{order} and /items/{item}


def test_a_gauge_every_prefork_process_reports_is_shown_once(
    prometheus_url: str, dashboard: dict[str, Any]
) -> None:
    """Each process of the worker (the main one and each pool process) reports the outbox depth
    (3): a series each in Prometheus, one value of 3 on the dashboard, not 9 and not one line
    per process."""
    raw = requests.get(
        f"{prometheus_url}/api/v1/query",
        params={"query": f'shop_outbox_depth{{job="{WORKER_JOB}"}}'},
        timeout=10,
    ).json()["data"]["result"]
    assert sorted(float(s["value"][1]) for s in raw) == [3.0] * (POOL_PROCESSES + 1)
    assert len({s["metric"]["process_pid"] for s in raw}) == POOL_PROCESSES + 1
    (gauge,) = (r for r in evaluate_all(prometheus_url, dashboard, time.time() - WINDOW)
                if r.query.panel.startswith("shop.outbox.depth"))  # fmt: skip
    assert (gauge.query.panel_type, gauge.last) == ("stat", (3.0,))


def test_the_slo_row_shows_every_slo_the_rules_record(
    prometheus_url: str, dashboard: dict[str, Any], rules_file: Path
) -> None:
    """The SLOs the application registers and those given by flag, in both files alike: each
    has its budget and burn rates in the table (budgets are evaluated once a minute)."""
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    slos = {
        rule["labels"]["slo"]
        for group in groups
        for rule in group["rules"]
        if "slo" in rule.get("labels", {})
    }
    assert len(slos) == len(REGISTERED_BY_THE_SHOP) + len(SLO_FLAGS)
    deadline = time.monotonic() + 90
    while True:
        table = [
            r
            for r in evaluate_all(prometheus_url, dashboard, time.time() - WINDOW)
            if r.query.panel == "SLOs now"
        ]
        if all(r.series == len(slos) for r in table) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert [(r.query.ref, r.series) for r in table] == [(ref, len(slos)) for ref in "ABCD"]
