"""What the HTTP benchmarks share: a discarding span exporter, otelkit's process configuration,
SDK providers for the peers, and the check that every variant really records.

Spans go to ``DiscardSpanExporter`` everywhere: through a ``BatchSpanProcessor`` for the peers,
and through otelkit's own pipeline via the ``bench-discard`` exporter plugin, registered at run
time the way a third-party distribution registers one (a ``*.dist-info`` with an entry point).
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from opentelemetry import trace as trace_api
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otelkit
from bench._harness import Result, Variant, allocations, measure
from otelkit.exporters import ExporterPlugin

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from prometheus_client import CollectorRegistry

    from otelkit import Telemetry

OTELKIT_METRICS = "otelkit metrics"
OTELKIT_SPANS = "otelkit metrics+spans"
DURATIONS = ("http.server.request.duration", "http.server.duration")
"""The OTel duration histograms: the stable semconv name and the one before it (the contrib
instrumentations still default to the old one)."""


class DiscardSpanExporter(SpanExporter):
    """Counts the spans it is given and drops them."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class DiscardPlugin(ExporterPlugin):
    """``bench-discard``: otelkit's spans to a ``DiscardSpanExporter``."""

    name = "bench-discard"
    signals = frozenset({"traces"})
    exporter: ClassVar[DiscardSpanExporter | None] = None

    def span_exporter(self, resource: Resource) -> SpanExporter:
        DiscardPlugin.exporter = DiscardSpanExporter()
        return DiscardPlugin.exporter


@contextmanager
def plugin_installed() -> Iterator[None]:
    """``bench-discard`` installed as a third-party distribution is: an entry point in a
    ``*.dist-info`` on sys.path. Removed on exit (otelkit loads plugins at ``init_telemetry()``)."""
    folder = Path(tempfile.mkdtemp(prefix="otelkit-bench-"))
    try:
        dist = folder / "otelkit_bench_discard-0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: otelkit-bench-discard\nVersion: 0\n"
        )
        (dist / "entry_points.txt").write_text(
            f"[otelkit.exporters]\nbench-discard = {__name__}:DiscardPlugin\n"
        )
        sys.path.append(str(folder))
        importlib.invalidate_caches()
        yield
    finally:
        if str(folder) in sys.path:
            sys.path.remove(str(folder))
        importlib.invalidate_caches()
        shutil.rmtree(folder, ignore_errors=True)


_telemetry: Telemetry | None = None


def otelkit_telemetry() -> Telemetry:
    """otelkit configured once per process: Prometheus (no listener) and discarded spans.

    ``instrument="none"``: by default ``init_telemetry()`` instruments every FastAPI, Starlette
    and Flask app created afterwards, the bare and peer apps included; here only the otelkit
    variants are instrumented, explicitly.
    """
    global _telemetry
    if _telemetry is None:
        with plugin_installed():
            _telemetry = otelkit.init_telemetry(
                service_name="bench",
                prometheus_port=0,
                exporters={"metrics": "prometheus", "traces": "bench-discard"},
                instrument="none",
            )
    return _telemetry


@dataclass
class Counts:
    requests: float
    """Requests counted by the variant's own duration histogram."""
    spans: float
    """Spans it exported."""
    otelkit: float
    """Requests counted by otelkit's (global) providers."""


def otelkit_requests() -> float:
    """The count of otelkit's duration histogram, read through its public Prometheus endpoint."""
    if _telemetry is None:
        return 0.0
    out: list[bytes] = []
    body = otelkit.metrics_wsgi()({}, lambda status, headers: out.append(status.encode()))
    total = 0.0
    for line in b"".join(body).decode().splitlines():
        if line.startswith("http_server_request_duration_seconds_count"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def otelkit_spans() -> float:
    return DiscardPlugin.exporter.spans if DiscardPlugin.exporter is not None else 0


@dataclass
class Providers:
    """A peer's own SDK providers, not the global ones: one in-memory reader (a pull reader
    costs the same when recording); with spans, an SDK tracer provider batching them to a
    ``DiscardSpanExporter``, else the API's no-op tracer provider (what a metrics-only user
    without an SDK tracer provider gets: the cheapest configuration for the peer)."""

    meter_provider: MeterProvider
    tracer_provider: trace_api.TracerProvider
    reader: InMemoryMetricReader
    exporter: DiscardSpanExporter

    @classmethod
    def create(cls, *, spans: bool) -> Providers:
        reader = InMemoryMetricReader()
        exporter = DiscardSpanExporter()
        tracer_provider: trace_api.TracerProvider = trace_api.NoOpTracerProvider()
        if spans:
            tracer_provider = TracerProvider(shutdown_on_exit=False)
            tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
        return cls(meter_provider, tracer_provider, reader, exporter)

    def requests(self) -> float:
        """The count of its request-duration histogram (whichever semconv name it uses)."""
        data = self.reader.get_metrics_data()
        counts: dict[str, float] = {}
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name in DURATIONS:
                        points: Any = metric.data.data_points
                        counts[metric.name] = counts.get(metric.name, 0) + sum(
                            p.count for p in points
                        )
        return max(counts.values(), default=0.0)

    def spans(self) -> float:
        if isinstance(self.tracer_provider, TracerProvider):
            self.tracer_provider.force_flush()
        return self.exporter.spans


def prometheus_requests(registry: CollectorRegistry, sample: str) -> float:
    """The sum of one sample (e.g. a histogram's ``_count``) over all its label sets."""
    return sum(s.value for metric in registry.collect() for s in metric.samples if s.name == sample)


@dataclass
class Subject:
    """One variant with its means of driving it and of reading what it recorded."""

    name: str
    batch: Callable[[int], object]
    """Sends n requests through the app and checks the responses."""
    requests: Callable[[], float] = lambda: 0.0
    spans: Callable[[], float] = lambda: 0.0

    def counts(self) -> Counts:
        if _telemetry is not None:
            _telemetry.force_flush()
        return Counts(self.requests(), self.spans(), otelkit_requests())


def check(subject: Subject, requests: int = 100) -> tuple[str, bool]:
    """Send ``requests``, say what the variant recorded per request and whether that is right.

    An instrumented variant should count each request once in its own metrics and record
    nothing in otelkit's global providers (unless it is otelkit).
    """
    before = subject.counts()
    subject.batch(requests)
    after = subject.counts()
    counted = (after.requests - before.requests) / requests
    spans = (after.spans - before.spans) / requests
    in_otelkit = (after.otelkit - before.otelkit) / requests
    problems = []
    if in_otelkit and not subject.name.startswith("otelkit"):
        problems.append(f"otelkit's global providers counted {in_otelkit:g} per request")
    if subject.name != "bare" and counted != 1:
        problems.append(f"its metrics counted {counted:g} per request")
    wants_spans = "spans" in subject.name
    if wants_spans != (spans > 0):
        problems.append("spans expected" if wants_spans else "spans not expected")
    verdict = "ok" if not problems else "PROBLEM: " + "; ".join(problems)
    line = (
        f"check {subject.name}: {counted:g} request(s) counted and {spans:g} span(s) "
        f"per request — {verdict}"
    )
    return line, not problems


SPANS_TARGET = 0.5
"""otelkit's metrics + spans overhead at most this fraction of the metrics-only peer's."""


def run_subjects(
    benchmark: str, subjects: list[Subject], *, rounds: int, batch: int, peer: str | None = None
) -> Result:
    """Timed interleaved rounds, then per variant an allocation pass and a recording check.

    ``peer``: the metrics-only peer whose overhead otelkit's metrics + spans is held to
    (``SPANS_TARGET``), measured in the same rounds; a column and a line of its own."""
    variants = [Variant(s.name, lambda s=s: s.batch(batch), per_call=batch) for s in subjects]
    references = tuple(s.name for s in subjects if s.name in (OTELKIT_METRICS, OTELKIT_SPANS))
    result = measure(benchmark, variants, rounds=rounds, baseline="bare", unit="us")
    result.references = references + ((peer,) if peer is not None else ())
    ratio = result.overhead_ratio(OTELKIT_SPANS, peer) if peer in result.medians else None
    if ratio is not None and OTELKIT_SPANS in result.medians:
        result.notes.append(
            f"{OTELKIT_SPANS} overhead ÷ {peer}'s (metrics only): {ratio:.2f}x "
            f"(target ≤ {SPANS_TARGET}x: {'met' if ratio <= SPANS_TARGET else 'missed'})"
        )
    columns: dict[str, dict[str, float]] = {}
    for subject in subjects:
        for column, value in allocations(lambda s=subject: s.batch(1)).items():
            columns.setdefault(column, {})[subject.name] = value
    result.columns = columns
    for subject in subjects:
        line, ok = check(subject)
        result.notes.append(line)
        result.ok = result.ok and ok
    return result
