"""A loopback Application Insights ingestion endpoint, and a runner for the app under test.

``serve()`` starts an HTTP server on 127.0.0.1 that answers ``POST /v2.1/track`` as the Breeze
ingestion service does: it decodes the body (gzip or plain JSON; an array of envelopes, or one
envelope per line), keeps every request with the status it answered, and replies with a
``TrackResponse``. ``fail_next(status, count)`` makes it answer ``status`` to the next ``count``
requests (a ``Retry-After`` header only if asked).

``run_app`` starts ``app.py`` in a fresh interpreter (OpenTelemetry's global providers are set
once per process) with the connection string pointing at the server.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

APP = Path(__file__).with_name("app.py")
IKEY = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@dataclass
class Track:
    """One ``POST /v2.1/track`` as it arrived, and what the server answered."""

    path: str
    status: int
    content_encoding: str | None
    envelopes: list[dict[str, Any]]


@dataclass
class Ingestion:
    endpoint: str = ""
    tracks: list[Track] = field(default_factory=list)
    _failures: list[tuple[int, str | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={IKEY};IngestionEndpoint={self.endpoint}/"

    def fail_next(self, status: int, count: int, retry_after: str | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def answer(self, envelopes: list[dict[str, Any]], track: Track) -> tuple[int, str | None]:
        with self._lock:
            status, retry_after = self._failures.pop(0) if self._failures else (200, None)
            track.status = status
            self.tracks.append(track)
        return status, retry_after

    def accepted(self) -> list[dict[str, Any]]:
        """Every envelope of every request answered 200."""
        return [e for t in self.tracks if t.status == 200 for e in t.envelopes]

    def failed(self) -> list[Track]:
        return [t for t in self.tracks if t.status != 200]


def decode(body: bytes, encoding: str | None) -> list[dict[str, Any]]:
    if encoding == "gzip" or body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    text = body.decode("utf-8").strip()
    if text.startswith("["):
        loaded: list[dict[str, Any]] = json.loads(text)
        return loaded
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _handler(ingestion: Ingestion) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path.rstrip("/") != "/v2.1/track":
                self._reply(404, {"error": f"no route {self.path}"})
                return
            encoding = self.headers.get("Content-Encoding")
            envelopes = decode(body, encoding)
            status, retry_after = ingestion.answer(
                envelopes, Track(self.path, 0, encoding, envelopes)
            )
            accepted = len(envelopes) if status == 200 else 0
            errors = (
                []
                if status == 200
                else [
                    {"index": i, "statusCode": status, "message": "try again"}
                    for i in range(len(envelopes))
                ]
            )
            response = {"itemsReceived": len(envelopes), "itemsAccepted": accepted}
            self._reply(status, {**response, "errors": errors}, retry_after)

        def _reply(self, status: int, payload: object, retry_after: str | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


def clean_environment() -> dict[str, str]:
    """The current environment without any OpenTelemetry, otelkit or Azure Monitor variable."""
    prefixes = ("OTEL_", "OTELKIT_", "APPLICATIONINSIGHTS_", "APPINSIGHTS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def azure_environment(ingestion: Ingestion, storage: Path) -> dict[str, str]:
    return {
        **clean_environment(),
        "OTEL_METRICS_EXPORTER": "azure_monitor",
        "OTEL_TRACES_EXPORTER": "azure_monitor",
        "OTEL_LOGS_EXPORTER": "azure_monitor",
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",  # only force_flush exports
        "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
        "OTELKIT_AZURE_MONITOR_STORAGE_DIRECTORY": str(storage),
        # No traffic to Microsoft's own endpoints (usage statistics, remote feature flags), and
        # no SDK self-telemetry among the envelopes the tests count.
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
        "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    }


def run_app(environment: dict[str, str], *phases: int, pause: float = 0.0) -> dict[str, Any]:
    """Run app.py: each phase serves that many requests, then flushes; JSON report back."""
    args = [sys.executable, str(APP), *(str(p) for p in phases), "--pause", str(pause)]
    done = subprocess.run(args, env=environment, capture_output=True, text=True, timeout=45)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["stderr"] = done.stderr
    return report


@contextmanager
def serve() -> Iterator[Ingestion]:
    """An ingestion endpoint on a free loopback port, for the duration of the block."""
    state = Ingestion()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
