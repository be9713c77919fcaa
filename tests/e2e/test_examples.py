"""Every example starts with the one command its README gives, serves, and is measured.

Each runs as a subprocess from its own directory (``python app.py``), on free ports, with the
environment of a fresh shell; the test calls a route and scrapes ``/metrics`` for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest

from tests.fixtures.servers import free_port, stop_process, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.fixtures.redis import RedisServer

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _environment(**variables: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    return {**environ, **variables}


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).read()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []

    def run(example: str, *args: str, **variables: str) -> subprocess.Popen[bytes]:
        logs.append((tmp_path / f"{example}.log").open("wb"))
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=EXAMPLES / example,
            env=_environment(**variables),
            stdout=logs[-1],
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        return process

    yield run
    for process in processes:
        stop_process(process)
    for log in logs:
        log.close()


@pytest.mark.parametrize(
    ("example", "route"),
    [
        ("fastapi_app", "/items/{item_id}"),
        ("flask_app", "/items/<int:item_id>"),
        ("django_app", "/items/<int:item_id>"),
    ],
)
def test_a_web_example_serves_and_measures_its_routes(
    start: object, example: str, route: str
) -> None:
    port, metrics_port = free_port(), free_port()
    start(  # type: ignore[operator]
        example, "app.py", PORT=str(port), OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port)
    )
    app = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(f"{app}/items/1"), timeout=60, what=f"{example} answering")
    for item_id in (1, 2, 3):
        _answers(f"{app}/items/{item_id}")
    exposition = _scrape(metrics_port)
    counts = [
        line
        for line in exposition.splitlines()
        if line.startswith("http_server_request_duration_seconds_count")
        and f'http_route="{route}"' in line
    ]
    # Four requests (the first one waited for) on one route: three 200s, one 404.
    assert sum(float(line.rsplit(" ", 1)[1]) for line in counts) == 4, exposition
    assert any('http_response_status_code="404"' in line for line in counts)
    assert "inventory_lookup_duration_seconds_count" in exposition


def test_the_celery_example_runs_the_tasks_it_is_sent(
    start: object, redis_server: RedisServer
) -> None:
    broker, metrics_port = redis_server.fresh_url(), free_port()
    variables = {"CELERY_BROKER_URL": broker, "OTEL_EXPORTER_PROMETHEUS_PORT": str(metrics_port)}
    start("celery_worker", "worker.py", **variables)  # type: ignore[operator]
    sender = subprocess.run(
        [sys.executable, "worker.py", "send", "20"],
        cwd=EXAMPLES / "celery_worker",
        env=_environment(CELERY_BROKER_URL=broker, OTEL_METRICS_EXPORTER="none"),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert sender.returncode == 0, sender.stderr

    def runs() -> dict[str, float]:
        totals: dict[str, float] = {}
        try:
            exposition = _scrape(metrics_port)
        except OSError:
            return totals
        for line in exposition.splitlines():
            if line.startswith("celery_task_runs_total{"):
                state = line.split('celery_task_state="')[1].split('"')[0]
                totals[state] = totals.get(state, 0.0) + float(line.rsplit(" ", 1)[1])
        return totals

    wait_until(lambda: sum(runs().values()) == 20, timeout=60, what="20 task runs measured")
    assert runs() == {"SUCCESS": 18, "FAILURE": 2}  # image 10 and 20 are "corrupt"
