"""The Prometheus listener under idle connections, lower-case auth schemes and keep-alive scrapes.

Real sockets on 127.0.0.1 only, bounded traffic: every loop has a fixed count and a deadline.
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import threading
import time
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import pytest

import otelkit
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

TOKEN = "s3cret"
IDLE_CONNECTIONS = 300
# The listener's documented bounds: at most 64 handler threads whatever the number of
# connections, and a connection that sends nothing is closed within a few seconds.
MAX_HANDLER_THREADS = 64
IDLE_CLOSE_WITHIN = 10.0


@pytest.fixture(autouse=True)
def _no_configuration_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its configuration: OTEL_* and OTELKIT_* variables of the shell are unset."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


@contextmanager
def _listener(**options: object) -> Iterator[int]:
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="listener", prometheus_port=port, **options)  # type: ignore[arg-type]
    try:
        yield port
    finally:
        telemetry.shutdown()


def _scrape(port: int, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/metrics", headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_idle_connections_do_not_take_a_thread_each_and_a_scrape_still_succeeds() -> None:
    """300 connections that send nothing leave the thread count bounded; a scrape gets through."""
    with _listener() as port, ExitStack() as stack:
        _scrape(port)  # let the listener start whatever it starts for a first request
        start = threading.active_count()
        for _ in range(IDLE_CONNECTIONS):
            stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)  # the server has accepted them (and, unbounded, started their threads)
        peak = threading.active_count()

        status, body = _scrape(port)

        assert peak <= start + MAX_HANDLER_THREADS + 4, (start, peak)
        assert status == 200
        assert b"target_info" in body


def test_a_connection_that_sends_nothing_is_closed_by_the_server() -> None:
    """The server closes a connection that sends no request within its idle timeout."""
    with _listener() as port, socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        deadline = time.monotonic() + IDLE_CLOSE_WITHIN + 5
        closed_after: float | None = None
        opened = time.monotonic()
        while time.monotonic() < deadline:
            try:
                data = sock.recv(1)
            except TimeoutError:
                continue
            except ConnectionResetError:
                data = b""
            assert data == b""  # nothing was asked, nothing may be answered
            closed_after = time.monotonic() - opened
            break
        assert closed_after is not None, "the idle connection was still open"
        assert closed_after <= IDLE_CLOSE_WITHIN


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_the_auth_scheme_is_case_insensitive(scheme: str) -> None:
    """RFC 9110: the scheme name is case-insensitive; the token still has to match."""
    with _listener(prometheus_token=TOKEN) as port:
        status, body = _scrape(port, {"Authorization": f"{scheme} {TOKEN}"})
        assert status == 200
        assert b"target_info" in body
        assert _scrape(port, {"Authorization": f"{scheme} guess"})[0] == 401
        assert _scrape(port, {"Authorization": f"{scheme} {TOKEN.upper()}"})[0] == 401
        assert _scrape(port, {"Authorization": f"Basic {TOKEN}"})[0] == 401
        assert _scrape(port)[0] == 401


def test_keep_alive_scrapes_are_not_delayed() -> None:
    """20 scrapes over one kept-alive connection: each in a few ms (no Nagle/delayed-ACK stall)."""
    with _listener() as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            took = []
            for _ in range(20):
                began = time.perf_counter()
                connection.request("GET", "/metrics")
                response = connection.getresponse()
                assert response.status == 200
                assert response.read()
                took.append(time.perf_counter() - began)
        finally:
            connection.close()
        median_ms = statistics.median(took[1:]) * 1000  # the first one opens the connection
        print(f"keep-alive scrape: median {median_ms:.2f} ms, max {max(took) * 1000:.2f} ms")
        assert median_ms < 10, took


def test_connections_stuck_in_a_request_hold_a_bounded_number_of_threads() -> None:
    """100 connections that send half a request (a worker reads each) take at most the cap."""
    with _listener() as port, ExitStack() as stack:
        _scrape(port)
        start = threading.active_count()
        for _ in range(100):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # no blank line: incomplete
        time.sleep(0.5)
        peak = threading.active_count()
        assert peak <= start + MAX_HANDLER_THREADS + 4, (start, peak)


def test_a_kept_alive_connection_idle_too_long_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a scrape, a kept-alive connection that stays idle past the keep-alive timeout ends."""
    from otelkit.exporters.prometheus import _connections

    monkeypatch.setattr(_connections, "KEEPALIVE_TIMEOUT", 1.0)
    with _listener() as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/metrics")
            assert connection.getresponse().read()
            sock = connection.sock
            assert sock is not None
            sock.settimeout(5)
            began = time.monotonic()
            try:
                data = sock.recv(1)
            except ConnectionResetError:
                data = b""
            assert data == b""  # closed by the server, not answered
            assert time.monotonic() - began < 4
        finally:
            connection.close()
