"""A loopback OTLP/HTTP trace receiver in its own process: ``python -m bench.apps.otlp_sink``.

The benchmarks send spans here over http/protobuf instead of discarding them in the measured
process, so that the export (encoding, the HTTP round trip) costs what it costs in production,
while decoding on the receiving side does not compete with the measured server for its GIL.
Each ``POST /v1/traces`` body is decoded with the real ``ExportTraceServiceRequest`` class and
its spans counted by the ``service.name`` of their resource; ``GET /counts`` answers those
counts as JSON. The first line on stdout is the port it listens on (loopback, chosen by the OS).
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_lock = threading.Lock()
_spans: Counter[str] = Counter()
_requests: Counter[str] = Counter()
_RESPONSE = ExportTraceServiceResponse().SerializeToString()


def _service(resource_spans: Any) -> str:
    for pair in resource_spans.resource.attributes:
        if pair.key == "service.name":
            return str(pair.value.string_value)
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a collector: exporters reuse the connection

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/traces":
            self._reply(404, b"", "text/plain")
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        counts: Counter[str] = Counter()
        for resource_spans in message.resource_spans:
            service = _service(resource_spans)
            counts[service] += sum(len(scope.spans) for scope in resource_spans.scope_spans)
        with _lock:
            _spans.update(counts)
            _requests.update(counts.keys())
        self._reply(200, _RESPONSE, "application/x-protobuf")

    def do_GET(self) -> None:
        with _lock:
            payload = {"spans": dict(_spans), "requests": dict(_requests)}
        self._reply(200, json.dumps(payload).encode(), "application/json")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
