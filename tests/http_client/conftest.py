"""A loopback HTTP server the client tests call, and an in-memory configuration."""

from __future__ import annotations

import http.server
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

import otelkit

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Loopback:
    """The server's address and the headers of every request it received."""

    port: int
    received: list[dict[str, str]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    """The request target of every request (path and query)."""

    def url(self, path: str = "/status/200") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def last(self, header: str) -> str | None:
        return self.received[-1].get(header) if self.received else None


def _handler(loopback: Loopback) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        """``/status/<code>`` answers that code, ``/slow`` after a second, ``/redirect`` sends
        to ``/status/200``."""

        protocol_version = "HTTP/1.1"
        wbufsize = 65536  # headers and body in one write
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            loopback.received.append({k.lower(): v for k, v in self.headers.items()})
            loopback.targets.append(self.path)
            path = self.path.split("?", 1)[0]
            if path == "/slow":
                time.sleep(1.0)
            if path == "/redirect":
                self._answer(302, location="/status/200")
            elif path.startswith("/status/"):
                self._answer(int(path.rsplit("/", 1)[1]))
            else:
                self._answer(200)

        do_POST = do_GET  # noqa: N815

        def _answer(self, status: int, location: str | None = None) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def loopback() -> Iterator[Loopback]:
    """A threading HTTP/1.1 server on 127.0.0.1, for the whole session."""
    state = Loopback(0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    """Everything in memory, the HTTP clients instrumented (and nothing else)."""
    for name in ("OTELKIT_INSTRUMENT", "OTELKIT_HTTP_CLIENT"):
        monkeypatch.delenv(name, raising=False)
    handle = otelkit.init_telemetry(
        "client-test", exporters="memory", instrument="httpx,requests,aiohttp"
    )
    yield handle
    handle.shutdown()
