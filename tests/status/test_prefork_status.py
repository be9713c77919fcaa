"""Under a pre-fork server, whichever worker answers ``/status.json`` reports the whole server.

``uvicorn --workers 2`` serves the shop; both workers listen on the one metrics port and
share a directory of per-process files (``OTELKIT_PROMETHEUS_MULTIPROCESS_DIR``). Requests go
to both workers; every read of ``/status.json``, each on a new connection that either worker
may accept, must count all of them.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import requests

from otelkit.status import _document
from tests.fixtures.servers import free_port, spawn_logged, stop_process, wait_until
from tests.status.conftest import APPS_DIR

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

WORKERS = 2
REQUESTS = 80


def accepts(port: int) -> bool:
    """Whether the app's port takes connections (without a request, which would count)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        return True


def status(metrics: str) -> dict[str, Any]:
    response = requests.get(f"{metrics}/status.json", headers={"Connection": "close"}, timeout=10)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def test_every_worker_answers_with_the_sum_of_all(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    metrics = f"http://127.0.0.1:{metrics_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(APPS_DIR), env.get("PYTHONPATH")])),
        OTEL_SERVICE_NAME="status-prefork",
        OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port),
        OTELKIT_PROMETHEUS_MULTIPROCESS_DIR=str(tmp_path / "shared"),
    )
    command = [sys.executable, "-m", "uvicorn", "status_shop:app", "--workers", str(WORKERS)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = tmp_path / "server.log"
    process = spawn_logged(command, env=env, cwd=tmp_path, log_path=log)
    try:
        wait_until(
            lambda: accepts(port) and status(metrics)["service"]["processes"] == WORKERS,
            timeout=40,
            what=f"{WORKERS} workers to report",
        )

        def some(start: int) -> None:
            with requests.Session() as session:
                for n in range(start, REQUESTS, 4):
                    url = f"http://127.0.0.1:{port}/items/{n}"
                    session.get(url, headers={"Connection": "close"}, timeout=10).raise_for_status()

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(some, range(4)))
        time.sleep(_document.CACHE_SECONDS + 0.1)  # each worker's last document is older
        answered_by = set()
        for _ in range(40):  # until both workers have answered (each read: either one)
            if len(answered_by) == WORKERS:
                break
            document = status(metrics)
            answered_by.add(document["service"]["pid"])
            assert document["service"]["shared"] is True
            assert document["service"]["processes"] == WORKERS
            routes = {row["route"]: row for row in document["routes"]}
            assert routes["/items/{item_id}"]["requests"] == REQUESTS
            assert document["totals"]["requests"] == REQUESTS
        assert len(answered_by) == WORKERS
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-5000:]}") from None
    finally:
        stop_process(process)
