"""Driving the installed ``otelkit`` command in subprocesses, and the real peers it talks to.

``run_otelkit`` starts the entry point installed beside this interpreter with a clean
environment (no ``OTEL_*``/``OTELKIT_*`` variable of the test run leaks in) plus the variables a
test gives; ``webhook`` is a loopback HTTP server that records what is POSTed to it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

OTELKIT = shutil.which("otelkit", path=os.path.dirname(sys.executable))


def clean_environment(variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without telemetry variables, plus ``variables``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    environ["COLUMNS"] = "200"  # wide tables: a URL or a message stays on one line
    environ.update(variables or {})
    return environ


def run_otelkit(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``otelkit ARGS…`` as a user runs it: ``returncode``, ``stdout`` and ``stderr``."""
    if OTELKIT is None:
        pytest.fail(f"the otelkit command is not installed beside {sys.executable}")
    return subprocess.run(
        [OTELKIT, *args],
        env=clean_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def metrics_port() -> int:
    """A free port for the Prometheus listener, so a busy 9464 on this machine changes nothing."""
    return free_port()


class Webhook:
    """A loopback HTTP server: records each POSTed JSON body, answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.paths.append(self.path)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hooks/alerts") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()
