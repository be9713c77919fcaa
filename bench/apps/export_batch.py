"""span_export's measuring process: ``python -m bench.apps.export_batch ENDPOINT ROUNDS``.

Its own process, because otelkit is configured once per process and the other benchmarks'
otelkit discards its spans: here it is configured with the ``otlp`` exporter (http/protobuf,
``ENDPOINT`` is the receiver's base URL). It serves ``BATCH`` requests through a Flask app that
``instrument_app()`` instruments, keeps the server spans that end (a ``SimpleSpanProcessor`` to
an ``InMemorySpanExporter``, added for that only), then times in interleaved rounds what the
export of that batch costs off the request path, once per round each:

- ``encode only``: ``encode_spans(batch).SerializePartialToString()``, the OTLP protobuf
  encoding the SDK's exporter runs (no network);
- ``otelkit encoder only``: ``otelkit.exporters._otlp_spans.encode_spans(batch)``, the same
  bytes written by otelkit's own encoder, which otelkit's exporter runs;
- ``otelkit OTLP exporter``: the span exporter otelkit's ``otlp`` plugin builds from its
  configuration (what otelkit's batch processor hands every batch to), to the receiver;
- ``SDK OTLPSpanExporter``: the SDK's http/protobuf exporter with its defaults, to the receiver.

Prints one JSON object: medians in ms per batch, the span count, the attributes of one span.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

BATCH = 512
SERVICE = "bench-span-export"


def _spans(telemetry: Any) -> Sequence[Any]:
    """``BATCH`` server spans as otelkit's WSGI instrumentation records them."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import otelkit
    from bench.http_wsgi import driver, make_app

    kept = InMemorySpanExporter()
    telemetry._pipeline.tracer_provider.add_span_processor(SimpleSpanProcessor(kept))
    app = make_app()
    otelkit.instrument_app(app)
    driver(app)(BATCH)
    telemetry.force_flush()  # the pipeline's own export of these spans, before any timing
    spans = kept.get_finished_spans()
    if len(spans) != BATCH:
        raise RuntimeError(f"{len(spans)} spans recorded for {BATCH} requests")
    return spans


def main() -> None:
    endpoint, rounds = sys.argv[1], int(sys.argv[2])
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    import otelkit
    from otelkit.exporters._otlp_spans import encode_spans as otelkit_encode

    telemetry = otelkit.init_telemetry(
        service_name=SERVICE,
        prometheus_port=0,
        exporters={"metrics": "prometheus", "traces": "otlp"},
        otlp_endpoint=endpoint,
        otlp_protocol="http/protobuf",
        instrument="none",
    )
    pipeline = telemetry._pipeline
    assert pipeline is not None
    spans = _spans(telemetry)
    exporters = {
        "otelkit OTLP exporter": pipeline.plugins["otlp"].span_exporter(pipeline.resource),
        "SDK OTLPSpanExporter": OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"),
    }

    if otelkit_encode(spans) != encode_spans(spans).SerializePartialToString():
        raise RuntimeError("otelkit's encoding of the batch differs from the SDK's")

    def export(exporter: Any) -> Callable[[], None]:
        def run() -> None:
            if exporter.export(spans) is not SpanExportResult.SUCCESS:
                raise RuntimeError("an export of the batch failed")

        return run

    variants: dict[str, Callable[[], object]] = {
        "encode only": lambda: encode_spans(spans).SerializePartialToString(),
        "otelkit encoder only": lambda: otelkit_encode(spans),
        **{name: export(exporter) for name, exporter in exporters.items()},
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for index in range(1 + rounds):  # the first round warms up (connections, caches)
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            if index:
                samples[name].append((time.perf_counter() - started) * 1e3)
    for exporter in exporters.values():
        exporter.shutdown()
    print(
        json.dumps(
            {
                "medians_ms": {name: statistics.median(v) for name, v in samples.items()},
                "exports": (1 + rounds) * len(exporters),
                "spans_per_export": len(spans),
                "encoded_bytes": len(encode_spans(spans).SerializePartialToString()),
                "sample_attributes": sorted(spans[0].attributes or {}),
            }
        )
    )
    telemetry.shutdown()


if __name__ == "__main__":
    main()
