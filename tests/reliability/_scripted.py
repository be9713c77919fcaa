"""A collector that answers OTLP exports by script, over HTTP or gRPC, and records each answer.

An ``Answer`` is an HTTP status, with a ``Retry-After`` in seconds or not; over gRPC the status
becomes its usual code (``GRPC_CODES``: 429 is ``RESOURCE_EXHAUSTED``, 503 ``UNAVAILABLE``…)
and ``Retry-After`` a ``google.rpc.RetryInfo`` in the trailing metadata, as collectors send
them. ``Scripted`` holds the script and what happened; ``serve_http`` / ``serve_grpc`` serve it
on 127.0.0.1 until the ``with`` block ends (a slow answer still pending is given at once then).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

if TYPE_CHECKING:
    from collections.abc import Iterator

TEST_SPAN = "faults-checkout"
"""The span a test ends itself, to tell its exports from those of stray spans."""

GRPC_CODES = {
    200: grpc.StatusCode.OK,
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: float | None = None


@dataclass(frozen=True)
class Hit:
    at: float  # time.monotonic() when the export arrived
    answer: Answer
    spans: int


class Scripted:
    """The script, and every export it answered, by signal (``traces``, ``metrics``, ``logs``)."""

    endpoint = ""

    def __init__(self, answers: list[Answer], delay: float, only_test_span: bool) -> None:
        self.answers = answers
        self.delay = delay
        self.only_test_span = only_test_span
        self.released = threading.Event()  # set on close: pending slow answers go at once
        self._hits: dict[str, list[Hit]] = {}
        self._lock = threading.Lock()

    def answer(self, signal: str, request: Any) -> Answer:
        spans = _span_names(request) if signal == "traces" else []
        if self.only_test_span and TEST_SPAN not in spans:
            return Answer(200)
        with self._lock:
            hits = self._hits.setdefault(signal, [])
            answer = self.answers[len(hits) % len(self.answers)]
            hits.append(Hit(time.monotonic(), answer, len(spans)))
        self.released.wait(self.delay)
        return answer

    def hits(self, signal: str) -> list[Hit]:
        with self._lock:
            return list(self._hits.get(signal, []))

    def delivered_spans(self) -> int:
        """Spans of the trace exports answered with success."""
        return sum(hit.spans for hit in self.hits("traces") if hit.answer.status == 200)


def _span_names(request: Any) -> list[str]:
    return [
        span.name
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


# -- HTTP ------------------------------------------------------------------------------------

_REQUESTS = {
    "/v1/traces": ("traces", trace_service_pb2.ExportTraceServiceRequest),
    "/v1/metrics": ("metrics", metrics_service_pb2.ExportMetricsServiceRequest),
    "/v1/logs": ("logs", logs_service_pb2.ExportLogsServiceRequest),
}


class _HttpServer(ThreadingHTTPServer):
    block_on_close = False
    daemon_threads = True

    def __init__(self, scripted: Scripted) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripted = scripted

    def process_request(self, request: Any, client_address: Any) -> None:
        threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="collector-http",
            daemon=True,
        ).start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # an exporter that gave up on a slow answer closed its end: routine here


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        signal, message = _REQUESTS[self.path]
        request = message.FromString(body) if signal == "traces" else None  # spans counted
        answer = self.server.scripted.answer(signal, request)
        self.send_response(answer.status)
        if answer.retry_after is not None:
            self.send_header("Retry-After", f"{answer.retry_after:g}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_http(scripted: Scripted) -> Iterator[None]:
    server = _HttpServer(scripted)
    thread = threading.Thread(target=server.serve_forever, name="collector", daemon=True)
    thread.start()
    scripted.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield
    finally:
        scripted.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- gRPC ------------------------------------------------------------------------------------


class _Export:
    signal = ""
    response: Any = None

    def __init__(self, scripted: Scripted) -> None:
        self.scripted = scripted

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC)
        answer = self.scripted.answer(self.signal, request)
        code = GRPC_CODES[answer.status]
        if code is grpc.StatusCode.OK:
            return self.response()
        if answer.retry_after is not None:
            delay = Duration()
            delay.FromNanoseconds(int(answer.retry_after * 1e9))
            info = RetryInfo(retry_delay=delay).SerializeToString()
            context.set_trailing_metadata((("google.rpc.retryinfo-bin", info),))
        context.abort(code, f"collector says {answer.status}")  # raises: the call ends here
        return None


class _Traces(_Export, trace_service_pb2_grpc.TraceServiceServicer):
    signal, response = "traces", trace_service_pb2.ExportTraceServiceResponse


class _Metrics(_Export, metrics_service_pb2_grpc.MetricsServiceServicer):
    signal, response = "metrics", metrics_service_pb2.ExportMetricsServiceResponse


class _Logs(_Export, logs_service_pb2_grpc.LogsServiceServicer):
    signal, response = "logs", logs_service_pb2.ExportLogsServiceResponse


@contextmanager
def serve_grpc(scripted: Scripted) -> Iterator[None]:
    server = grpc.server(ThreadPoolExecutor(max_workers=16, thread_name_prefix="collector"))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(scripted), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(scripted), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(scripted), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    scripted.endpoint = f"http://127.0.0.1:{port}"
    try:
        yield
    finally:
        scripted.released.set()
        server.stop(grace=None)
