"""The fault suite's workload and measurements, shared by its test modules.

``hello`` is the instrumented app's view (a span from the middleware, one ``record()`` each);
``run`` calls it in-process as a WSGI server would, ``workload`` measures a warm-up and a
measured phase. ``own_counts`` reads otelkit's own counters by (component, reason) in one
place, so a change of their attribute names touches only ``_component_and_reason``.
"""

from __future__ import annotations

import io
import statistics
import threading
import time
from typing import TYPE_CHECKING, Any

import psutil
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

import otelkit
from otelkit import testing

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

RSS_GROWTH_MB = 8.0
"""What RSS may grow by once the queues are full (they are capped; nothing else accumulates)."""

COLLECTOR_THREAD = "collector"
"""Name prefix of the threads of the fault collectors (they run in the test's process)."""

EXPORT_THREADS = ("OtelBatch", "OtelPeriodicExportingMetricReader")
"""Name prefixes of the SDK's export threads (batch span/log processors, metric reader)."""

WSGIApp = Any


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    otelkit.record("orders.amount", 12.5, currency="EUR")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/orders",
        "QUERY_STRING": "",
        "SERVER_NAME": "shop",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
    }


def run(app: WSGIApp, requests: int) -> list[int]:
    """Each request's duration in nanoseconds, as the WSGI server would see it."""
    took = []
    for _ in range(requests):
        start = time.perf_counter_ns()
        body = app(environ(), lambda status, headers, exc_info=None: None)
        try:
            b"".join(body)
        finally:
            body.close()  # as every WSGI server does: the middleware ends the request there
        took.append(time.perf_counter_ns() - start)
    return took


def p99(samples: list[int]) -> float:
    """The 99th percentile of nanosecond samples, in milliseconds."""
    return statistics.quantiles(samples, n=100)[98] / 1e6


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def threads() -> int:
    """This process's Python threads, the fault collectors' own left out."""
    return sum(not t.name.startswith(COLLECTOR_THREAD) for t in threading.enumerate())


def workload(app: WSGIApp, requests: int) -> dict[str, float]:
    """``requests`` to warm up (the queues fill), then ``requests`` measured."""
    warm = run(app, requests)
    rss, before = rss_mb(), threads()
    measured = run(app, requests)
    return {
        "p99_ms": p99(measured),
        "median_ms": statistics.median(measured) / 1e6,
        "warm_p99_ms": p99(warm),
        "rss_growth_mb": rss_mb() - rss,
        "thread_growth": threads() - before,
    }


def configure(protocol: str, endpoint: str, *, timeout_ms: int = 500) -> otelkit.Telemetry:
    """Spans and metrics over OTLP to ``endpoint``; metrics in memory too (own counters)."""
    return otelkit.init_telemetry(
        service_name="shop",
        metrics_exporters="otlp,memory",
        traces_exporters="otlp",
        otlp_protocol=protocol,
        otlp_endpoint=endpoint,
        otlp_timeout=timeout_ms,
        metric_export_interval_ms=200,
    )


_SIGNALS = {"span": "traces", "log": "logs", "metric": "metrics"}


def _component_and_reason(attributes: Mapping[str, Any]) -> tuple[str, str]:
    """(``traces/otlp``, ``unavailable``) from a count's attributes: ``otel.component.type``
    (``otlp_http_span_exporter``, ``batching_span_processor``, ``otelkit_metric_store``),
    ``otel.component.name`` (``…/<plugin>``) and ``error.type``."""
    if "component" in attributes:  # the attribute names before the semantic conventions'
        return str(attributes["component"]), str(attributes["reason"])
    kind = str(attributes.get("otel.component.type", ""))
    reason = str(attributes.get("error.type", ""))
    name = attributes.get("otel.component.name")
    if kind == "otelkit_metric_store":
        return "metrics", reason
    if name is None:
        return kind, reason
    words = kind.split("_")
    signal = next((s for word, s in _SIGNALS.items() if word in words), kind)
    return f"{signal}/{str(name).rpartition('/')[2]}", reason


def own_counts(telemetry: otelkit.Telemetry, name: str) -> dict[tuple[str, str], int]:
    """otelkit's own counter ``name`` (process totals) by (component, reason)."""
    counts: dict[tuple[str, str], int] = {}
    for point in testing.points(telemetry, name):
        key = _component_and_reason(point.attributes)
        counts[key] = counts.get(key, 0) + point.value
    return counts


def counted_since(
    telemetry: otelkit.Telemetry, name: str, before: Mapping[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    """What ``own_counts`` grew by since ``before`` (they count process-wide)."""
    grown = {k: n - before.get(k, 0) for k, n in own_counts(telemetry, name).items()}
    return {k: n for k, n in grown.items() if n}


class EndedSpans(SpanProcessor):
    """Counts every span that ends in the pipeline: the test's own, and any a thread left
    running by an earlier test in this process still ends (its requests, its tasks)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            self.count += 1


def ended_spans(telemetry: otelkit.Telemetry) -> EndedSpans:
    """A counter of the spans that end in ``telemetry``'s pipeline from now on."""
    counter = EndedSpans()
    pipeline = telemetry._pipeline
    assert pipeline is not None
    pipeline.tracer_provider.add_span_processor(counter)
    return counter


def thread_names() -> list[str]:
    """The live threads, for an assertion's message."""
    return sorted(t.name for t in threading.enumerate())


def export_threads() -> set[threading.Thread]:
    """The SDK export threads alive now, of every pipeline in this process."""
    return {t for t in threading.enumerate() if t.name.startswith(EXPORT_THREADS)}


def wait_for_export_threads(since: set[threading.Thread], timeout: float) -> list[str]:
    """Join the export threads started after ``since``; the names of those still alive.

    A shutdown that timed out leaves its export running until the export deadline; a later
    test in this process would count that export's failure as its own."""
    deadline = time.monotonic() + timeout
    left = export_threads() - since
    for thread in left:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sorted(t.name for t in left if t.is_alive())
