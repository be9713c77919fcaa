"""Development process models work with default settings: each starts, serves, and each
process's metrics can be read where its start-up line says."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.process.conftest import (
    BIN,
    default_environment,
    get,
    listening_ports,
    scrape,
    serving_pid,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.fixtures.redis import RedisServer
    from tests.process.conftest import Started

pytestmark = pytest.mark.integration

REQUESTS = "http_server_request_duration_seconds_count"


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def test_flask_run_debug_serves_from_the_reloaded_child(
    start: Callable[..., Started], app_port: int
) -> None:
    """`flask run --debug`: the watching parent never binds the metrics port; the child does,
    and its metrics count the requests it served."""
    server = start(
        [
            str(BIN / "flask"),
            "--app",
            "flask_shop",
            "run",
            "--debug",
            "--port",
            str(app_port),
            "--exclude-patterns",
            "*/otelkit/*",
        ],
    )
    server.wait_for(r"metrics served by the reloaded process \(flask run --reload")
    (url,) = server.metrics_urls()

    assert get(f"http://127.0.0.1:{app_port}/orders/7") == '{\n  "order_id": 7\n}\n'
    result = scrape(url)

    assert result.total(REQUESTS, http_route="/orders/<int:order_id>") == 1
    assert serving_pid(result) != server.pid  # the reloaded child answers
    assert _port(url) not in listening_ports(server.pid)
    assert "Traceback" not in server.log()


def test_uvicorn_reload_serves_from_the_reloaded_child(
    start: Callable[..., Started], app_port: int
) -> None:
    """`uvicorn --reload`: the supervisor never loads the app; the child serves the metrics."""
    server = start([str(BIN / "uvicorn"), "fastapi_shop:app", "--reload", "--port", str(app_port)])
    (url,) = server.metrics_urls()

    assert get(f"http://127.0.0.1:{app_port}/orders/7") == '{"order_id":7}'
    result = scrape(url)

    assert result.total(REQUESTS, http_route="/orders/{order_id}") == 1
    assert _port(url) not in listening_ports(server.pid)


def test_django_runserver_serves_from_the_reloaded_child(
    start: Callable[..., Started], app_port: int, apps: Path
) -> None:
    """`manage.py runserver` with settings that configure otelkit: the autoreloader's parent
    loads the settings too but leaves the port to the child; a management command run beside
    it serves its metrics elsewhere and does its work."""
    server = start([str(BIN / "python"), "manage.py", "runserver", f"127.0.0.1:{app_port}"])
    server.wait_for(r"metrics served by the reloaded process \(Django runserver")
    (url,) = server.metrics_urls()

    assert get(f"http://127.0.0.1:{app_port}/orders/7") == '{"order_id": 7}'
    result = scrape(url)

    assert result.total(REQUESTS, http_route="/orders/<int:order_id>") == 1
    assert serving_pid(result) != server.pid
    assert _port(url) not in listening_ports(server.pid)

    # A management command beside it (settings configure otelkit there too) runs as usual.
    command = subprocess.run(
        [str(BIN / "python"), "manage.py", "check"],
        cwd=apps,
        env=default_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert command.returncode == 0, command.stderr
    assert "System check identified no issues" in command.stdout
    assert "127.0.0.1:9464 is already in use" in command.stderr  # by the server (or another)


def test_a_celery_worker_and_its_publisher_both_serve_their_metrics(
    start: Callable[..., Started], redis_server: RedisServer
) -> None:
    """A Celery worker and the script that publishes to it, on one machine with default
    settings: the second to start serves on another port and says where; both answer."""
    broker = redis_server.fresh_url()
    worker = start(
        [str(BIN / "celery"), "-A", "tasks", "worker", "--pool", "solo", "--loglevel", "INFO"],
        SHOP_BROKER_URL=broker,
    )
    (worker_url,) = worker.metrics_urls()
    worker.wait_for(r"ready\.")

    publisher = start([str(BIN / "python"), "publisher.py", "publish"], SHOP_BROKER_URL=broker)
    (publisher_url,) = publisher.metrics_urls()
    publisher.wait_for("published")
    worker.wait_for(r"Task shop\.add\[.*\] succeeded", count=3)

    assert publisher_url != worker_url
    if _port(worker_url) == 9464:  # unless another process on the machine already held it
        publisher.wait_for(r":9464 is already in use .* serves its metrics at http://\S+/metrics")
    runs = scrape(worker_url).total("celery_task_runs_total", celery_task_state="SUCCESS")
    assert runs == 3
    assert scrape(publisher_url).total("shop_publish_runs_total") == 1


def test_a_script_beside_a_running_server_gets_a_port_of_its_own(
    start: Callable[..., Started], app_port: int
) -> None:
    """A script (a management command, a notebook) next to a running server: the server keeps
    its metrics, the script serves its own elsewhere."""
    server = start([str(BIN / "uvicorn"), "fastapi_shop:app", "--port", str(app_port)])
    (server_url,) = server.metrics_urls()
    script = start([str(BIN / "python"), "publisher.py"])
    (script_url,) = script.metrics_urls()
    script.wait_for("published")
    get(f"http://127.0.0.1:{app_port}/orders/1")

    assert script_url != server_url
    assert scrape(server_url).total(REQUESTS) == 1
    assert scrape(script_url).total("shop_publish_runs_total") == 1
    assert scrape(script_url).total(REQUESTS) == 0  # each process's own numbers
