"""The metrics listener over TLS, and against clients that trickle their request in.

Real sockets on 127.0.0.1 and a real self-signed certificate made by ``openssl`` for each test
run; every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

import otelkit
from otelkit.exporters.prometheus import _connections
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

TRICKLERS = _connections.MAX_WORKERS + 4  # more than there are handler threads
SLACK = 2.5  # seconds beyond the deadline for the loop turn, the close and a loaded machine
SCRAPE_BOUND = 1.0  # seconds a scrape may take among them (a handler thread is free at once)


@pytest.fixture(autouse=True)
def _no_configuration_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextmanager
def _listener(**options: object) -> Iterator[int]:
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="listener", prometheus_port=port, **options)  # type: ignore[arg-type]
    try:
        yield port
    finally:
        telemetry.shutdown()


def _get(connection: http.client.HTTPConnection) -> tuple[int, bytes]:
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_listener_serves_https_with_the_configured_certificate(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    trusted = ssl.create_default_context(cafile=str(cert))
    with _listener(prometheus_tls_cert=str(cert), prometheus_tls_key=str(key)) as port:
        first = _get(http.client.HTTPSConnection("127.0.0.1", port, context=trusted, timeout=5))
        again = _get(http.client.HTTPSConnection("127.0.0.1", port, context=trusted, timeout=5))

    assert first[0] == again[0] == 200
    assert b"target_info" in first[1]


def test_a_real_prometheus_scrapes_the_https_listener(
    certificate: tuple[Path, Path], prometheus: PrometheusServer
) -> None:
    cert, key = certificate
    with _listener(prometheus_tls_cert=str(cert), prometheus_tls_key=str(key)) as port:
        prometheus.scrape("listener-tls", f"127.0.0.1:{port}", tls_ca=cert)
        prometheus.wait_for('up{job="listener-tls"}', 1)
        prometheus.wait_for('target_info{job="listener-tls"}', 1)


def test_a_plain_http_request_to_the_https_listener_gets_no_metrics(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    with _listener(prometheus_tls_cert=str(cert), prometheus_tls_key=str(key)) as port:
        with pytest.raises((http.client.HTTPException, OSError)):
            _get(http.client.HTTPConnection("127.0.0.1", port, timeout=5))
        trusted = ssl.create_default_context(cafile=str(cert))
        status, _ = _get(http.client.HTTPSConnection("127.0.0.1", port, context=trusted, timeout=5))
    assert status == 200  # the listener is still serving


def test_a_certificate_without_its_key_is_refused_naming_both_variables(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTELKIT_PROMETHEUS_TLS_CERT", str(certificate[0]))
    with pytest.raises(otelkit.ConfigError, match="OTELKIT_PROMETHEUS_TLS_KEY"):
        otelkit.init_telemetry(service_name="listener", prometheus_port=free_port())


def test_a_key_that_does_not_match_the_certificate_is_a_config_error(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    other = tmp_path / "other.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-out", str(other)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(otelkit.ConfigError, match="prometheus_tls_cert"):
        otelkit.init_telemetry(
            service_name="listener",
            prometheus_port=free_port(),
            prometheus_tls_cert=str(certificate[0]),
            prometheus_tls_key=str(other),
        )


def _trickle(port: int, closed_after: list[float], stop: threading.Event) -> None:
    """Send a request one byte a second; note when the server closed the connection."""
    request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 64
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for byte in request:
            if stop.is_set():
                return
            try:
                sock.sendall(bytes([byte]))
                sock.settimeout(1.0)
                if sock.recv(1024) == b"":  # the server closed the connection
                    closed_after.append(time.monotonic() - start)
                    return
            except TimeoutError:
                continue  # nothing from the server: send the next byte
            except OSError:
                closed_after.append(time.monotonic() - start)
                return


def test_clients_trickling_their_headers_hold_no_handler_and_are_cut_at_the_deadline() -> None:
    """More trickling clients than handler threads: a scrape sent meanwhile is answered at
    once (the heads are read without a handler thread), and each trickler is cut off at the
    header deadline, counted from its first byte, whatever it kept sending."""
    with _listener() as port:
        closed_after: list[float] = []
        stop = threading.Event()
        tricklers = [
            threading.Thread(target=_trickle, args=(port, closed_after, stop), daemon=True)
            for _ in range(TRICKLERS)
        ]
        for thread in tricklers:
            thread.start()
        time.sleep(1.5)  # every handler thread is now busy with a trickler
        start = time.monotonic()
        status, _ = _get(http.client.HTTPConnection("127.0.0.1", port, timeout=30))
        scrape_took = time.monotonic() - start
        for thread in tricklers:
            thread.join(timeout=_connections.HEADER_DEADLINE + 2 * SLACK)
        stop.set()

    cut = f"{min(closed_after, default=0):.2f} to {max(closed_after, default=0):.2f} s"
    print(f"\nscrape among {TRICKLERS} tricklers: {scrape_took * 1000:.1f} ms; cut after {cut}")
    assert status == 200
    assert scrape_took < SCRAPE_BOUND, scrape_took
    assert len(closed_after) == TRICKLERS
    assert min(closed_after) >= _connections.HEADER_DEADLINE - 0.5, closed_after
    assert max(closed_after) < _connections.HEADER_DEADLINE + SLACK, closed_after


def test_clients_that_never_finish_the_tls_handshake_hold_no_handler(
    certificate: tuple[Path, Path],
) -> None:
    """Connections that send half a ClientHello and wait: an https scrape among them is
    answered at once, and they are closed after the idle timeout."""
    cert, key = certificate
    trusted = ssl.create_default_context(cafile=str(cert))
    with _listener(prometheus_tls_cert=str(cert), prometheus_tls_key=str(key)) as port:
        stalled = [
            socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(TRICKLERS)
        ]
        try:
            for sock in stalled:
                sock.sendall(
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                )  # a ClientHello's start
            time.sleep(0.5)
            start = time.monotonic()
            status, _ = _get(
                http.client.HTTPSConnection("127.0.0.1", port, context=trusted, timeout=10)
            )
            scrape_took = time.monotonic() - start
            closed = 0
            for sock in stalled:
                sock.settimeout(_connections.IDLE_TIMEOUT + SLACK)
                try:
                    closed += sock.recv(1024) == b""
                except ConnectionResetError:
                    closed += 1
        finally:
            for sock in stalled:
                sock.close()

    print(f"\nhttps scrape among {TRICKLERS} stalled handshakes: {scrape_took * 1000:.1f} ms")
    assert status == 200
    assert scrape_took < SCRAPE_BOUND, scrape_took
    assert closed == TRICKLERS
