"""The export of a batch of 512 server spans, off the request path: encoding and OTLP export.

A loopback OTLP/HTTP receiver (bench/apps/otlp_sink.py) and the measuring process
(bench/apps/export_batch.py: otelkit configured with its ``otlp`` exporter) each run in their
own process, pinned to separate CPUs when there are two, so that decoding does not slow the
export being timed. The spans are real: those otelkit's WSGI instrumentation records for
``GET /items/<id>`` on Flask. Reported per batch (ms, median of interleaved rounds) and per
span (µs): the SDK's encoding only, otelkit's own encoding only (the same bytes), otelkit's
configured OTLP span exporter, and the SDK's ``OTLPSpanExporter`` (the baseline) on the same
batch. Afterwards the receiver must hold every
span of every export.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench._harness import Result
from bench._otlp import ROOT, Sink, pin
from bench.apps.export_batch import BATCH, SERVICE

BASELINE = "SDK OTLPSpanExporter"


def run(rounds: int) -> list[Result]:
    sink = Sink.start(pin(1))
    try:
        output = subprocess.run(
            [*pin(0), sys.executable, "-m", "bench.apps.export_batch", sink.endpoint, str(rounds)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if output.returncode != 0:
            raise RuntimeError(f"span_export's measuring process failed:\n{output.stderr}")
        figures = json.loads(output.stdout.strip().splitlines()[-1])
        received = sink.spans(SERVICE)
    finally:
        sink.stop()
    medians: dict[str, float] = figures["medians_ms"]
    result = Result(
        f"export of a batch of {BATCH} server spans over OTLP http/protobuf to a loopback "
        "receiver, ms per batch",
        unit="ms",
        baseline=BASELINE,
        medians=medians,
        rounds=rounds,
    )
    result.columns = {"us_per_span": {name: ms * 1e3 / BATCH for name, ms in medians.items()}}
    # The pipeline exported the batch once when it was recorded, then each timed export did.
    expected = BATCH * (1 + figures["exports"])
    verdict = "ok" if received == expected else "PROBLEM: spans missing or extra"
    result.ok = received == expected
    result.notes += [
        f"encoded request: {figures['encoded_bytes']:,} bytes "
        f"({figures['encoded_bytes'] / BATCH:.0f} per span); a span's attributes: "
        + ", ".join(figures["sample_attributes"]),
        f"check: the receiver got {received} spans, {expected} sent — {verdict}",
    ]
    return [result]
