"""A real Prometheus scrapes what otelkit serves, and PromQL reads back what the app recorded.

Each test configures otelkit as an application would, points the session's Prometheus server
at it (the ``prometheus`` fixture in tests/fixtures/prometheus.py) and checks the result through
the Prometheus HTTP API, or requests the endpoint directly where the HTTP rules are the point.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import math
import os
import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

import otelkit
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from email.message import Message

    from tests.fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

TOKEN = "s3cret"
EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture(autouse=True)
def _no_configuration_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its configuration: OTEL_* and OTELKIT_* variables of the shell are unset."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


# -- the listener of init_telemetry() -------------------------------------------------------


def test_prometheus_scrapes_the_app_and_reads_its_counter(prometheus: PrometheusServer) -> None:
    """An app that called init_telemetry() is up in Prometheus, and its counter reads 7 there."""
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="checkout", prometheus_port=port)
    orders = telemetry.meter.create_counter("orders.placed")
    for _ in range(7):
        orders.add(1)

    prometheus.scrape("counter-app", target=f"127.0.0.1:{port}")

    prometheus.wait_for('up{job="counter-app"}', 1)
    prometheus.wait_for('orders_placed_total{job="counter-app"}', 7)
    telemetry.shutdown()


def test_a_histogram_arrives_with_its_count_sum_and_cumulative_buckets(
    prometheus: PrometheusServer,
) -> None:
    """A histogram recorded 6 times has _count 6, the exact _sum and cumulative buckets."""
    boundaries = [0.1, 0.5, 1.0, 5.0]
    durations = [0.05, 0.2, 0.2, 0.75, 3.0, 8.0]
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="checkout", prometheus_port=port)
    checkout = telemetry.meter.create_histogram(
        "checkout.duration", unit="s", explicit_bucket_boundaries_advisory=boundaries
    )
    for seconds in durations:
        checkout.record(seconds)

    prometheus.scrape("histogram-app", target=f"127.0.0.1:{port}")

    prometheus.wait_for('checkout_duration_seconds_count{job="histogram-app"}', len(durations))
    prometheus.wait_for('checkout_duration_seconds_sum{job="histogram-app"}', sum(durations))
    buckets = prometheus.query('checkout_duration_seconds_bucket{job="histogram-app"}')
    assert {float(b.labels["le"]): b.value for b in buckets} == {
        bound: sum(seconds <= bound for seconds in durations) for bound in [*boundaries, math.inf]
    }
    [median] = prometheus.query(
        'histogram_quantile(0.5, checkout_duration_seconds_bucket{job="histogram-app"})'
    )
    assert 0.1 < median.value <= 0.5  # the 3rd of 6 values falls in the (0.1, 0.5] bucket
    telemetry.shutdown()


def test_target_info_carries_the_resource_attributes(
    prometheus: PrometheusServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """target_info carries the service, the environment and the OTEL_RESOURCE_ATTRIBUTES."""
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=payments,cloud.region=eu-west-1")
    port = free_port()
    telemetry = otelkit.init_telemetry(
        service_name="billing", environment="staging", exporters="prometheus", prometheus_port=port
    )

    prometheus.scrape("resource-app", target=f"127.0.0.1:{port}")

    [info] = prometheus.wait_for('target_info{job="resource-app"}', 1)
    assert info.labels["service_name"] == "billing"
    assert info.labels["deployment_environment_name"] == "staging"
    assert info.labels["team"] == "payments"
    assert info.labels["cloud_region"] == "eu-west-1"
    telemetry.shutdown()


def test_with_a_token_prometheus_must_send_it(prometheus: PrometheusServer) -> None:
    """With prometheus_token, Prometheus scrapes with that Bearer token; a wrong one sees 401."""
    port = free_port()
    telemetry = otelkit.init_telemetry(
        service_name="secured", prometheus_port=port, prometheus_token=TOKEN
    )

    prometheus.scrape("right-token", target=f"127.0.0.1:{port}", token=TOKEN)
    prometheus.scrape("wrong-token", target=f"127.0.0.1:{port}", token="guess")

    prometheus.wait_for('up{job="right-token"}', 1)
    prometheus.wait_for('up{job="wrong-token"}', 0)
    assert "401" in prometheus.target("wrong-token")["lastError"]
    telemetry.shutdown()


def test_with_a_token_a_request_without_it_gets_401() -> None:
    """With prometheus_token, a GET without the token or with a wrong one gets 401 Unauthorized."""
    port = free_port()
    telemetry = otelkit.init_telemetry(
        service_name="secured", prometheus_port=port, prometheus_token=TOKEN
    )
    url = f"http://127.0.0.1:{port}/metrics"

    anonymous = _get(url)
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert _get(url, token="guess").status == 401
    assert _get(url, token=TOKEN).status == 200
    telemetry.shutdown()


def test_the_listener_binds_to_loopback_by_default() -> None:
    """Without OTEL_EXPORTER_PROMETHEUS_HOST, the only socket listening on the port is 127.0.0.1."""
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="private", prometheus_port=port)

    assert {address for address, p in _listening_sockets() if p == port} == {"127.0.0.1"}
    telemetry.shutdown()


def test_the_listener_is_unreachable_through_the_network_address() -> None:
    """By default the metrics cannot be fetched through the machine's non-loopback address."""
    address = _network_address()
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="private", prometheus_port=port)

    assert _connects("127.0.0.1", port)
    assert not _connects(address, port)
    telemetry.shutdown()


def test_a_taken_port_is_a_config_error_naming_the_address_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A taken port makes init_telemetry() raise ConfigError naming host:port and the variable."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))

        with pytest.raises(otelkit.ConfigError) as error:
            otelkit.init_telemetry(service_name="clash")

    assert f"127.0.0.1:{port}" in str(error.value)
    assert "OTEL_EXPORTER_PROMETHEUS_PORT" in str(error.value)
    # The failed call left nothing configured: the next one (on a free port) simply works.
    telemetry = otelkit.init_telemetry(service_name="clash", prometheus_port=free_port())
    assert telemetry.enabled
    telemetry.shutdown()


def test_a_taken_port_given_as_keyword_names_the_keyword() -> None:
    """When the port came from a keyword argument, the error names that keyword."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(otelkit.ConfigError) as error:
            otelkit.init_telemetry(service_name="clash", prometheus_port=port)
    assert f"init_telemetry(prometheus_port=...)={port}" in str(error.value)


def test_the_listener_serves_gzip_when_asked() -> None:
    """A request with Accept-Encoding: gzip (as Prometheus sends) gets the exposition gzipped."""
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="compressed", prometheus_port=port)
    telemetry.meter.create_counter("orders.placed").add(5)
    url = f"http://127.0.0.1:{port}/metrics"

    compressed = _get(url, accept_encoding="gzip")
    plain = _get(url)

    assert compressed.headers["Content-Encoding"] == "gzip"
    assert plain.headers["Content-Encoding"] is None
    assert _sample(gzip.decompress(compressed.body), "orders_placed_total") == "5"
    assert _sample(plain.body, "orders_placed_total") == "5"
    telemetry.shutdown()


def test_after_shutdown_an_open_scrape_connection_gets_no_metrics() -> None:
    """After shutdown(), even the keep-alive connection a scraper holds open gets no metrics."""
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="stopping", prometheus_port=port)
    scraper = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # reused, like Prometheus
    scraper.request("GET", "/metrics")
    assert scraper.getresponse().read()

    telemetry.shutdown()

    try:
        scraper.request("GET", "/metrics")
        status: int | None = scraper.getresponse().status
    except (http.client.HTTPException, OSError):
        status = None  # the connection was closed: no metrics either
    finally:
        scraper.close()
    assert status != 200


# -- port 0: metrics_wsgi() and metrics_app() in the application's own server ------------------


def test_port_0_opens_no_listener() -> None:
    """With prometheus_port=0, init_telemetry() opens no listening socket at all."""
    before = _listening_sockets()
    telemetry = otelkit.init_telemetry(service_name="mounted", prometheus_port=0)

    assert _listening_sockets() == before
    telemetry.shutdown()


def test_metrics_wsgi_mounted_at_a_custom_path_is_scraped(prometheus: PrometheusServer) -> None:
    """With port 0, Prometheus scrapes metrics_wsgi() mounted at /api/v1/metrics of a WSGI app."""
    telemetry = otelkit.init_telemetry(service_name="mounted", prometheus_port=0)
    telemetry.meter.create_counter("orders.placed").add(3)
    app = _mount("/api/v1/metrics", otelkit.metrics_wsgi())

    with _wsgi_server(app) as port:
        prometheus.scrape("wsgi-app", target=f"127.0.0.1:{port}", metrics_path="/api/v1/metrics")

        prometheus.wait_for('up{job="wsgi-app"}', 1)
        prometheus.wait_for('orders_placed_total{job="wsgi-app"}', 3)
        prometheus.remove("wsgi-app")
    telemetry.shutdown()


def test_metrics_wsgi_applies_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """With OTELKIT_PROMETHEUS_TOKEN, metrics_wsgi() answers 401 without it or with a wrong one."""
    monkeypatch.setenv("OTELKIT_PROMETHEUS_TOKEN", TOKEN)
    telemetry = otelkit.init_telemetry(service_name="mounted", prometheus_port=0)

    with _wsgi_server(otelkit.metrics_wsgi()) as port:
        url = f"http://127.0.0.1:{port}/metrics"
        assert _get(url).status == 401
        assert _get(url, token="guess").status == 401
        granted = _get(url, token=TOKEN)
    assert granted.status == 200
    assert granted.headers["Content-Type"] == EXPOSITION_CONTENT_TYPE
    telemetry.shutdown()


def test_metrics_app_serves_the_exposition_over_asgi() -> None:
    """With port 0, the ASGI metrics_app() answers 200 with the Prometheus text content type."""
    telemetry = otelkit.init_telemetry(service_name="mounted", prometheus_port=0)
    telemetry.meter.create_counter("orders.placed").add(2)

    status, headers, body = _call_asgi(otelkit.metrics_app())

    assert status == 200
    assert headers["content-type"] == EXPOSITION_CONTENT_TYPE
    assert _sample(body, "orders_placed_total") == "2"
    telemetry.shutdown()


def test_metrics_app_applies_the_token() -> None:
    """With prometheus_token, metrics_app() answers 401 without the token or with a wrong one."""
    telemetry = otelkit.init_telemetry(
        service_name="mounted", prometheus_port=0, prometheus_token=TOKEN
    )
    app = otelkit.metrics_app()

    assert _call_asgi(app)[0] == 401
    assert _call_asgi(app, authorization="Bearer guess")[0] == 401
    assert _call_asgi(app, authorization=f"Bearer {TOKEN}")[0] == 200
    telemetry.shutdown()


def test_the_mounted_apps_answer_503_before_init_telemetry() -> None:
    """Before init_telemetry() (and after shutdown), metrics_app() and metrics_wsgi() answer 503."""
    assert _call_asgi(otelkit.metrics_app())[0] == 503
    with _wsgi_server(otelkit.metrics_wsgi()) as port:
        assert _get(f"http://127.0.0.1:{port}/metrics").status == 503


# -- helpers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Message
    body: bytes


def _get(url: str, *, token: str | None = None, accept_encoding: str | None = None) -> _Response:
    """A plain GET (urllib sends no Accept-Encoding and decompresses nothing)."""
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return _Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return _Response(error.code, error.headers, error.read())


def _sample(exposition: bytes, name: str) -> str:
    """The value of the one sample of ``name`` in a text exposition."""
    [value] = [
        line.rsplit(" ", 1)[1]
        for line in exposition.decode().splitlines()
        if line.startswith((name + "{", name + " "))
    ]
    return value


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _mount(path: str, metrics: WsgiApp) -> WsgiApp:
    """A minimal application that serves ``metrics`` at ``path`` and 404 everywhere else."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == path:
            return metrics(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _wsgi_server(app: WsgiApp) -> Iterator[int]:
    """Serve ``app`` with wsgiref on a free loopback port (in a thread); yield the port."""
    server: WSGIServer = make_server("127.0.0.1", free_port(), app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _call_asgi(app: Any, *, authorization: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET /metrics through an ASGI app, as an ASGI server would drive it."""
    headers = [(b"host", b"127.0.0.1:8000")]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode("latin-1")))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/metrics",
        "raw_path": b"/metrics",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))

    start, *body = sent
    assert start["type"] == "http.response.start"
    assert [m["type"] for m in body] == ["http.response.body"] * len(body)
    assert body
    assert not body[-1].get("more_body", False)
    response_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], response_headers, b"".join(m.get("body", b"") for m in body)


def _listening_sockets() -> set[tuple[str, int]]:
    """(address, port) of each TCP socket this process listens on, read from /proc (Linux)."""
    if not Path("/proc/self/net/tcp").exists():
        pytest.skip("needs /proc/self/net/tcp (Linux) to inspect listening sockets")
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/self/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            hex_address, hex_port = local.split(":")
            # The kernel prints each 32-bit word of the address as a host-order integer.
            words = [int(hex_address[i : i + 8], 16) for i in range(0, len(hex_address), 8)]
            packed = b"".join(struct.pack("=I", word) for word in words)
            found.add((socket.inet_ntop(family, packed), int(hex_port, 16)))
    return found


def _network_address() -> str:
    """An IPv4 address of this machine other than loopback that accepts local connections."""
    candidates: set[str] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: a UDP connect sends nothing
            candidates.add(probe.getsockname()[0])
        except OSError:
            pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        candidates.update(str(info[4][0]) for info in infos)
    except OSError:
        pass
    for address in sorted(candidates):
        if address.startswith("127.") or address == "0.0.0.0":
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
            try:
                server.bind((address, 0))
                server.listen()
            except OSError:
                continue  # not an address of this machine
            if _connects(address, server.getsockname()[1]):
                return address
    pytest.skip("this machine has no usable non-loopback IPv4 address")


def _connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False
