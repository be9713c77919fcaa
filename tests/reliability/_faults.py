"""Collectors that fail in the ways real ones do, on 127.0.0.1: for the fault suite.

* ``refused``: nothing listens on the port (the collector is down);
* ``black_hole``: the kernel accepts connections into the backlog and nothing ever answers (a
  firewall dropping packets, a hung collector);
* ``failing``: a server that answers every export with an error: HTTP 500, or gRPC
  ``INTERNAL``.

Each is a context manager yielding the ``http://`` endpoint to give otelkit.
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

FAULTS = ("refused", "black_hole", "failing")


@contextmanager
def refused(protocol: str) -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}"


@contextmanager
def black_hole(protocol: str) -> Iterator[str]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1024)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


class _Failing(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"collector error"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _FailingHttpServer(ThreadingHTTPServer):
    block_on_close = False
    daemon_threads = True


class _Abort:
    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC)
        context.abort(grpc.StatusCode.INTERNAL, "collector error")


class _AbortMetrics(_Abort, metrics_service_pb2_grpc.MetricsServiceServicer):
    pass


class _AbortTraces(_Abort, trace_service_pb2_grpc.TraceServiceServicer):
    pass


class _AbortLogs(_Abort, logs_service_pb2_grpc.LogsServiceServicer):
    pass


@contextmanager
def failing(protocol: str) -> Iterator[str]:
    if protocol == "grpc":
        server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix="failing"))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_AbortMetrics(), server)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_AbortTraces(), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_AbortLogs(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop(grace=None)
        return
    http_server = _FailingHttpServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=http_server.serve_forever, name="failing", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http_server.server_address[1]}"
    finally:
        http_server.shutdown()
        http_server.server_close()


COLLECTORS = {"refused": refused, "black_hole": black_hole, "failing": failing}
