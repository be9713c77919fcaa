"""`otelkit run -- COMMAND`: the installed command starts real servers whose applications never
mention otelkit, and their real requests show in their metrics."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from celery import Celery

from otelkit.cli._run import BOOTSTRAP, environment_for
from tests.process.conftest import BIN, default_environment, get, listening_ports, scrape

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fixtures.redis import RedisServer
    from tests.process.conftest import Started

pytestmark = pytest.mark.integration

OTELKIT = shutil.which("otelkit", path=str(BIN)) or str(BIN / "otelkit")
REQUESTS = "http_server_request_duration_seconds_count"


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _orders(app_port: int, count: int) -> None:
    for order in range(count):
        assert '"order_id":' in get(f"http://127.0.0.1:{app_port}/orders/{order}")


def test_uvicorn(start: Callable[..., Started], app_port: int) -> None:
    """A FastAPI app under uvicorn: instrumented, its metrics where the start-up line says."""
    server = start([OTELKIT, "run", "--", "uvicorn", "asgi_shop:app", "--port", str(app_port)])
    (url,) = server.metrics_urls()
    _orders(app_port, 3)

    assert scrape(url).total(REQUESTS, http_route="/orders/{order_id}") == 3
    assert "otelkit: service 'uvicorn' in development" in server.log()


def test_uvicorn_workers_add_up_on_one_port(start: Callable[..., Started], app_port: int) -> None:
    """`--workers 2`: each spawned worker is configured, they share one port, a scrape of either
    returns the total; the supervisor itself is not configured."""
    server = start(
        [OTELKIT, "run", "uvicorn", "asgi_shop:app", "--workers", "2", "--port", str(app_port)]
    )
    first, second = server.metrics_urls(count=2)
    _orders(app_port, 6)

    assert first == second
    for _ in range(4):  # whichever worker answers
        assert scrape(first).total(REQUESTS, http_route="/orders/{order_id}") == 6
    assert _port(first) not in listening_ports(server.pid)


def test_uvicorn_reload(start: Callable[..., Started], app_port: int) -> None:
    """`--reload`: the reloaded child is configured and serves; the watcher is not."""
    server = start(
        [OTELKIT, "run", "--", "uvicorn", "asgi_shop:app", "--reload", "--port", str(app_port)]
    )
    (url,) = server.metrics_urls()
    _orders(app_port, 2)

    assert scrape(url).total(REQUESTS, http_route="/orders/{order_id}") == 2
    assert _port(url) not in listening_ports(server.pid)


def test_gunicorn(start: Callable[..., Started], app_port: int) -> None:
    """gunicorn with two sync workers: the master is configured before it forks, the workers
    inherit it, one port answers with the total."""
    server = start(
        [
            OTELKIT,
            "run",
            "--",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{app_port}",
            "plain_shop:app",
        ]
    )
    (url,) = server.metrics_urls()
    server.wait_for(r"Booting worker", count=2)
    _orders(app_port, 5)

    for _ in range(4):
        assert scrape(url).total(REQUESTS, http_route="/orders/<int:order_id>") == 5


def test_celery_worker(start: Callable[..., Started], redis_server: RedisServer) -> None:
    """A prefork Celery worker whose code never configures otelkit: tasks are counted."""
    broker = redis_server.fresh_url()
    worker = start(
        [
            OTELKIT,
            "run",
            "--",
            "celery",
            "-A",
            "tasks",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
        ],
        SHOP_BROKER_URL=broker,
        SHOP_CONFIGURE="0",
    )
    (url,) = worker.metrics_urls()
    worker.wait_for(r"ready\.")
    client = Celery("publisher", broker=broker)
    for i in range(3):
        client.send_task("shop.add", args=(i, i))
    worker.wait_for(r"Task shop\.add\[.*\] succeeded", count=3)

    assert scrape(url).total("celery_task_runs_total", celery_task_state="SUCCESS") == 3


def test_flask_run_debug(start: Callable[..., Started], app_port: int) -> None:
    """`flask run --debug`: configured where the app loads; the watcher leaves the port to the
    reloaded child."""
    server = start(
        [
            OTELKIT,
            "run",
            "--",
            "flask",
            "--app",
            "plain_shop",
            "run",
            "--debug",
            "--port",
            str(app_port),
            "--exclude-patterns",
            "*/otelkit/*",
        ]
    )
    server.wait_for(r"metrics served by the reloaded process \(flask run --reload")
    (url,) = server.metrics_urls()
    _orders(app_port, 2)

    assert scrape(url).total(REQUESTS, http_route="/orders/<int:order_id>") == 2
    assert _port(url) not in listening_ports(server.pid)


def test_python_script(start: Callable[..., Started], app_port: int) -> None:
    """`python script.py`: configured before the script's first line."""
    server = start([OTELKIT, "run", "python", "plain_shop.py", str(app_port)])
    (url,) = server.metrics_urls()
    _orders(app_port, 4)

    assert scrape(url).total(REQUESTS, http_route="/orders/<int:order_id>") == 4
    assert "otelkit: service 'plain_shop' in development" in server.log()


def _run(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OTELKIT, "run", *arguments],
        env=default_environment(**env),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parent / "apps",
        check=False,
    )


def test_a_configuration_error_stops_before_the_command_starts(tmp_path: Path) -> None:
    """Exit code 2 and the ConfigError's message; the command never ran."""
    marker = tmp_path / "ran"
    result = _run(
        "--", "python", "-c", f"open({str(marker)!r}, 'w')", OTEL_METRICS_EXPORTER="bogus"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("otelkit run: OTEL_METRICS_EXPORTER")
    assert not marker.exists()


def test_the_command_exit_code_and_service_name_come_through() -> None:
    """The command's own exit code is the run's; --service-name names the service, and the
    start-up line (on stderr, logging being unconfigured) says so."""
    result = _run(
        "--service-name",
        "billing",
        "--",
        "python",
        "-c",
        "import sys; sys.exit(3)",
        OTEL_METRICS_EXPORTER="none",
        OTELKIT_INSTRUMENT="none",
    )
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        "otelkit: service 'billing' in development: metrics off (set OTEL_METRICS_EXPORTER); "
        "traces off (set OTEL_TRACES_EXPORTER); logs off (set OTEL_LOGS_EXPORTER)"
    ]


def test_an_unknown_command_is_exit_code_127() -> None:
    result = _run("--", "no-such-command-here")
    assert result.returncode == 127
    assert "no-such-command-here: command not found" in result.stderr


def test_the_bootstrap_goes_first_on_the_path_once() -> None:
    """The command's PYTHONPATH: otelkit's bootstrap first, the user's entries kept, in order,
    and a nested `otelkit run` does not add it twice."""
    env = environment_for(["uvicorn", "shop:app"], {"PYTHONPATH": f"/srv/a{os.pathsep}/srv/b"})
    again = environment_for(["python", "-m", "flask", "run"], env)

    assert again["PYTHONPATH"].split(os.pathsep) == [BOOTSTRAP, "/srv/a", "/srv/b"]
    assert env["_OTELKIT_RUN_SERVER"] == "uvicorn"
    assert again["_OTELKIT_RUN_SERVER"] == "flask"
    assert environment_for(["celery", "-A", "t", "worker"], {})["_OTELKIT_RUN_SERVER"] == ""
