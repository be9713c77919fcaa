"""HTTP server metrics and spans end to end: real servers, real requests, a real Prometheus.

Each app of tests/e2e/apps runs in its own server process (uvicorn for FastAPI and Starlette,
gunicorn with one sync worker for Flask and Django) on free loopback ports, configured only
through the environment, as in production. The session's Prometheus (tests/fixtures/prometheus.py)
scrapes otelkit's ``/metrics`` listener in the server process, and PromQL reads back what the
requests produced.

A server and its scrape job live for the whole module (Prometheus takes about 5 s to pick up a
new job), and every test filters its queries by route, so that the tests of one server do not
see each other's requests, whatever their order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from tests.fixtures.servers import free_port, spawn_logged, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from tests.fixtures.otlp_receiver import HttpReceiver
    from tests.fixtures.prometheus import PrometheusServer, Sample

pytestmark = pytest.mark.integration

APPS_DIR = Path(__file__).parent / "apps"
DURATION = "http_server_request_duration_seconds"
ITEM_REQUESTS = 25


@dataclass(frozen=True)
class App:
    """One of the shop apps: how to serve it, and the route templates otelkit should report."""

    server: str
    """``uvicorn`` or ``gunicorn``."""
    target: str
    """The app as the server's command line names it."""
    item_route: str
    status_route: str


APPS: Mapping[str, App] = {
    "uvicorn-fastapi": App("uvicorn", "shop_fastapi:app", "/items/{item_id}", "/status/{code}"),
    "uvicorn-fastapi-auto": App(
        "uvicorn", "shop_fastapi_auto:app", "/items/{item_id}", "/status/{code}"
    ),
    "uvicorn-starlette": App("uvicorn", "shop_starlette:app", "/items/{item_id}", "/status/{code}"),
    "gunicorn-flask": App(
        "gunicorn", "shop_flask:create_app()", "/items/<int:item_id>", "/status/<int:code>"
    ),
    "gunicorn-django": App(
        "gunicorn",
        "shop_django.wsgi:create_app()",
        "/items/<int:item_id>",
        "/status/<int:code>",
    ),
}


def _command(app: App, port: int) -> list[str]:
    if app.server == "uvicorn":
        server = ["uvicorn", app.target, "--host", "127.0.0.1", "--port", str(port)]
        options = ["--workers", "1", "--no-access-log", "--log-level", "warning"]
    else:
        server = ["gunicorn", app.target, "--bind", f"127.0.0.1:{port}"]
        options = ["--workers", "1", "--config", str(APPS_DIR / "gunicorn_conf.py")]
    return [sys.executable, "-m", *server, *options]


def _environment(name: str, metrics_port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """The test process' environment without its OpenTelemetry settings, plus the server's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "OTELKIT_")) and key != "DJANGO_SETTINGS_MODULE"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(APPS_DIR), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["OTEL_SERVICE_NAME"] = f"e2e-{name}"
    env["OTEL_EXPORTER_PROMETHEUS_PORT"] = str(metrics_port)
    env.update(extra)
    return env


class ServerProcess:
    """One app served by a real server in a subprocess, its output kept in a file."""

    def __init__(self, name: str, workdir: Path, extra_env: Mapping[str, str] | None = None):
        self.name = name
        self.app = APPS[name]
        self.port = free_port()
        self.metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_target = f"127.0.0.1:{self.metrics_port}"
        self._log_path = workdir / f"{name}.log"
        self._process = spawn_logged(
            _command(self.app, self.port),
            env=_environment(name, self.metrics_port, extra_env or {}),
            cwd=workdir,
            log_path=self._log_path,
        )
        try:
            wait_until(self._ready_or_exited, timeout=30, what=f"{name} to serve")
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"{exc}\n{self.output()}") from None
        if self._process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {self._process.returncode} on start\n{self.output()}"
            )

    def _ready_or_exited(self) -> bool:
        if self._process.poll() is not None:
            return True
        app = requests.get(f"{self.url}/healthz", timeout=2)
        metrics = requests.get(f"http://{self.metrics_target}/metrics", timeout=2)
        return app.status_code == 200 and metrics.status_code == 200

    def output(self) -> str:
        """What the server wrote to stdout and stderr so far (the last 200 lines)."""
        lines = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-200:]) or "(no output)"

    def report_section(self) -> tuple[str, str]:
        """For tests/e2e/conftest.py: the section shown when a test using this server fails."""
        state = "running" if self._process.poll() is None else f"exited {self._process.returncode}"
        return f"output of {self.name} ({state})", self.output()

    def stop(self) -> None:
        """SIGTERM (a graceful stop); after 10 s, SIGKILL to the server's process group."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} {self.url} metrics={self.metrics_target}>"


class Servers:
    """The module's servers, each started on first use and scraped under its own job."""

    def __init__(self, workdir: Path, prometheus: PrometheusServer) -> None:
        self._workdir = workdir
        self._prometheus = prometheus
        self._running: dict[str, ServerProcess] = {}

    def get(self, name: str) -> ServerProcess:
        server = self._running.get(name)
        if server is None:
            server = self._running[name] = ServerProcess(name, self._workdir)
            self._prometheus.scrape(job_of(server), target=server.metrics_target)
        return server

    def close(self) -> None:
        try:
            for server in self._running.values():
                server.stop()
        finally:
            for server in self._running.values():
                self._prometheus.remove(job_of(server))


def job_of(server: ServerProcess) -> str:
    return f"e2e-{server.name}"


@pytest.fixture(scope="module")
def servers(
    prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    running = Servers(tmp_path_factory.mktemp("servers"), prometheus)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(autouse=True)
def _prometheus_jobs_removed() -> None:
    """Overrides the suite's per-test removal of scrape jobs: here they outlive a test.

    The ``servers`` fixture removes its jobs when the module is done.
    """


@pytest.fixture
def server(request: pytest.FixtureRequest, servers: Servers) -> ServerProcess:
    """The running server of the app named by the indirect parameter."""
    return servers.get(request.param)


def get_all(server: ServerProcess, paths: list[str]) -> list[requests.Response]:
    """GET each path in turn, over one kept-alive connection where the server allows it.

    After an app raised, uvicorn closes the connection (the response is already sent), so
    those requests ask for a connection of their own.
    """
    with requests.Session() as session:
        return [
            session.get(
                server.url + path,
                headers={"Connection": "close"} if path == "/boom" else None,
                timeout=10,
            )
            for path in paths
        ]


def by_labels(samples: list[Sample], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels.get(label, "") for label in labels): s.value for s in samples}


@pytest.mark.parametrize("server", list(APPS), indirect=True)
def test_requests_are_counted_under_the_route_template_with_their_status_and_error(
    server: ServerProcess, prometheus: PrometheusServer
) -> None:
    """25 requests to the item route count 25 under its template; 5xx carry error.type.

    None is in flight afterwards: http.server.active_requests is back at 0.
    """
    paths = [f"/items/{i}" for i in range(ITEM_REQUESTS)]
    paths += ["/status/500"] * 3 + ["/status/503"] * 4 + ["/boom"] * 2
    statuses = [response.status_code for response in get_all(server, paths)]
    assert statuses == [200] * ITEM_REQUESTS + [500] * 3 + [503] * 4 + [500] * 2

    job, app = job_of(server), server.app
    prometheus.wait_for(
        f'sum({DURATION}_count{{job="{job}",http_route="{app.item_route}"}})', ITEM_REQUESTS
    )
    routes = "|".join([app.item_route, app.status_route, "/boom"])
    prometheus.wait_for(f'sum({DURATION}_count{{job="{job}",http_route=~"{routes}"}})', len(paths))
    samples = prometheus.query(
        f"sum by (http_route, http_response_status_code, error_type) "
        f'({DURATION}_count{{job="{job}",http_route=~"{routes}"}})'
    )
    assert by_labels(samples, "http_route", "http_response_status_code", "error_type") == {
        (app.item_route, "200", ""): ITEM_REQUESTS,
        (app.status_route, "500", "500"): 3,
        (app.status_route, "503", "503"): 4,
        ("/boom", "500", "ValueError"): 2,
    }
    (series,) = prometheus.query(f'{DURATION}_count{{job="{job}",http_route="{app.item_route}"}}')
    assert series.labels["http_request_method"] == "GET"
    assert series.labels["url_scheme"] == "http"
    assert series.labels["network_protocol_version"] == "1.1"
    prometheus.wait_for(f'sum(http_server_active_requests{{job="{job}"}})', 0)


@pytest.mark.parametrize("server", list(APPS), indirect=True)
def test_unmatched_paths_create_no_per_path_series(
    server: ServerProcess, prometheus: PrometheusServer
) -> None:
    """1,000 distinct unknown paths: one series without http_route, whatever the path."""
    responses = get_all(server, [f"/no/such/page/{i}" for i in range(1000)])
    assert {response.status_code for response in responses} == {404}

    job = job_of(server)
    unrouted = f'{DURATION}_count{{job="{job}",http_route=""}}'
    prometheus.wait_for(f"sum({unrouted})", 1000)
    per_status = prometheus.wait_for(f"count by (http_response_status_code) ({unrouted})", 1)
    assert [s.labels["http_response_status_code"] for s in per_status] == ["404"]
    buckets = prometheus.query(f'count({DURATION}_bucket{{job="{job}",http_route=""}})')
    assert buckets[0].value == 15  # the 14 default boundaries and +Inf, once
    (total,) = prometheus.query(f'count({DURATION}_count{{job="{job}"}})')
    assert total.value <= 6  # the routes the other tests request, at most, and the 404s


@pytest.mark.parametrize(
    "server",
    [
        "uvicorn-fastapi",
        "gunicorn-flask",
        "gunicorn-django",
    ],
    indirect=True,
)
def test_a_streaming_response_is_measured_to_its_last_chunk(
    server: ServerProcess, prometheus: PrometheusServer
) -> None:
    """Three chunks 100 ms apart: the recorded duration is at least 0.3 s."""
    started = time.perf_counter()
    (response,) = get_all(server, ["/stream"])
    assert response.content == b"chunk\n" * 3
    assert time.perf_counter() - started >= 0.3

    selector = f'{{job="{job_of(server)}",http_route="/stream"}}'
    prometheus.wait_for(f"sum({DURATION}_count{selector})", 1)
    (recorded,) = prometheus.query(f"sum({DURATION}_sum{selector})")
    assert 0.3 <= recorded.value < 5


@pytest.fixture
def traced_fastapi(otlp_http: HttpReceiver, tmp_path: Path) -> Iterator[ServerProcess]:
    """The FastAPI app exporting its spans over OTLP/HTTP to the test receiver."""
    server = ServerProcess(
        "uvicorn-fastapi",
        tmp_path,
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_http.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # export spans within 0.1 s, not 5 s
        },
    )
    try:
        yield server
    finally:
        server.stop()


def test_an_incoming_traceparent_is_the_parent_of_the_server_span(
    traced_fastapi: ServerProcess, otlp_http: HttpReceiver
) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = requests.get(
        f"{traced_fastapi.url}/items/42",
        headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
        timeout=10,
    )
    assert response.json() == {"item_id": 42}

    (span,) = otlp_http.wait_for(lambda: otlp_http.spans("GET /items/{item_id}"))
    assert span["trace_id"] == trace_id
    assert span["parent_span_id"] == parent_id
    assert span["kind"] == "SPAN_KIND_SERVER"
    assert span["attributes"]["http.route"] == "/items/{item_id}"
    assert span["attributes"]["http.response.status_code"] == 200
    assert span["resource"]["service.name"] == "e2e-uvicorn-fastapi"
