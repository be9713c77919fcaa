"""Per-request cost of exemplars: FastAPI through the ASGI callable, exemplars on vs off.

The app and driver are ``http_asgi``'s (``GET /items/{item_id}``, no sockets). Variants:

- ``bare``: FastAPI with no telemetry, the baseline of the overhead;
- ``otelkit+spans exemplars on``: ``instrument_app(app)`` with every request sampled
  (otelkit's default sampler, spans to the discarding exporter) and the exemplar filter
  ``trace_based`` (the default): each duration measurement keeps the trace and span id;
- ``otelkit+spans exemplars off``: the same with ``always_off``.

otelkit is configured once per process (``_http.otelkit_telemetry``: the global providers can
be set once), so the filter is switched per variant, around each batch, by the call
``init_telemetry()`` makes from ``OTEL_METRICS_EXEMPLAR_FILTER``
(``otelkit.metrics._fastpath.use_filter``, the hot path's one filter check). That is exact for
this path: the HTTP measurements go to otelkit's fast instruments only (checked below), never
through the SDK provider, whose own filter is fixed at configuration. A subprocess per variant
would configure each from the environment instead, but lose the interleaved rounds that make
the variants comparable on a shared machine.

Under the table: the exemplars' cost per request (on minus off) and the ratio of the overheads; a
check per variant that exemplars were (on) or were not (off) kept for its requests, read from
otelkit's OpenMetrics exposition (their timestamps against the batch's start).

The second table isolates the filter, steadier than a difference of two request times: µs per
``record()`` on one fast histogram series with a sampled span current, the filter off
(``always_off``) and on (``trace_based``), and on with no span current (what a request that no
span covers pays).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import otelkit
from bench._harness import Variant, measure
from bench._http import Subject, otelkit_requests, otelkit_spans, otelkit_telemetry, run_subjects
from bench.http_asgi import BATCH, bare, driver, make_app
from otelkit.metrics._fastpath import REGISTRY, _series, use_filter
from otelkit.metrics._fastpath._instruments import FastHistogram

if TYPE_CHECKING:
    from bench._harness import Result

ON = "otelkit+spans exemplars on"
OFF = "otelkit+spans exemplars off"
DURATION = "http.server.request.duration"
OPENMETRICS = "application/openmetrics-text;version=1.0.0"
SCOPE = InstrumentationScope("bench")
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
RECORDS = 20_000
"""Measurements per batch of the filter table."""
_EXEMPLAR = re.compile(
    rb'^http_server_request_duration_seconds_bucket\{.*\} \S+ # \{trace_id="([0-9a-f]+)",'
    rb'span_id="[0-9a-f]+"\} \S+ (\S+)$'
)


def otelkit_with_filter(name: str, exemplar_filter: str) -> Subject:
    """otelkit on FastAPI, its requests measured under ``exemplar_filter``."""
    app = make_app(telemetry=None)
    otelkit.instrument_app(app)
    send = driver(app)

    def batch(n: int) -> None:
        previous = _series.TAKE
        use_filter(exemplar_filter)
        try:
            send(n)
        finally:
            _series.TAKE = previous

    return Subject(name, batch, otelkit_requests, otelkit_spans)


def newest_exemplar() -> tuple[float, str]:
    """The newest exemplar of the duration histogram in otelkit's OpenMetrics exposition:
    its time (seconds) and trace id; (0, "") when there is none."""
    body = otelkit.metrics_wsgi()({"HTTP_ACCEPT": OPENMETRICS}, lambda status, headers: None)
    newest = (0.0, "")
    for line in b"".join(body).splitlines():
        found = _EXEMPLAR.match(line)
        if found is not None and float(found[2]) > newest[0]:
            newest = (float(found[2]), found[1].decode())
    return newest


def check_exemplars(subject: Subject, keeps: bool, requests: int = 20) -> tuple[str, bool]:
    time.sleep(0.01)  # the exposition's timestamps are in milliseconds: clear of earlier ones
    started = time.time()
    subject.batch(requests)
    taken, trace_id = newest_exemplar()
    fresh = taken >= started - 0.001 and trace_id.strip("0") != ""
    ok = fresh == keeps
    verdict = "ok" if ok else "PROBLEM: " + ("none kept" if keeps else "kept while off")
    said = "an exemplar with a trace id" if fresh else "no exemplar"
    return f"check {subject.name}: {said} for its requests — {verdict}", ok


def _recording(name: str, exemplar_filter: str, *, in_span: bool) -> tuple[Variant, Any]:
    """``RECORDS`` measurements into one fast histogram series under ``exemplar_filter``; the
    variant and its series."""
    series = FastHistogram("bench.exemplars", "s", "", SCOPE, BOUNDS).series(name, {})
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("bench")  # samples every span

    def records() -> None:
        record = series.record
        for index in range(RECORDS):
            record(index * 1e-5)

    def run() -> None:
        previous = _series.TAKE
        use_filter(exemplar_filter)
        try:
            if in_span:
                with tracer.start_as_current_span("request"):
                    records()
            else:
                records()
        finally:
            _series.TAKE = previous

    return Variant(name, run, per_call=RECORDS), series


def filter_cost(rounds: int) -> Result:
    recordings = [
        (_recording("record, exemplars off", "always_off", in_span=True), False),
        (_recording("record, exemplars on", "trace_based", in_span=True), True),
        (_recording("record, exemplars on, no span", "trace_based", in_span=False), False),
    ]
    result = measure(
        "exemplar filter: µs per histogram record() with a sampled span current",
        [variant for (variant, _), _ in recordings],
        rounds=rounds,
        baseline="record, exemplars off",
        unit="us",
    )
    for (variant, series), keeps in recordings:
        kept = any(slot is not None for slot in series.exemplars or ())
        verdict = "ok" if kept == keeps else "PROBLEM: expected " + ("some" if keeps else "none")
        said = "exemplars kept" if kept else "no exemplar kept"
        result.notes.append(f"check {variant.name}: {said} — {verdict}")
        result.ok = result.ok and kept == keeps
    return result


def run(rounds: int) -> list[Result]:
    otelkit_telemetry()
    subjects = [
        bare(),
        otelkit_with_filter(ON, "trace_based"),
        otelkit_with_filter(OFF, "always_off"),
    ]
    result = run_subjects(
        "exemplars on vs off: FastAPI through the ASGI callable, µs per request",
        subjects,
        rounds=rounds,
        batch=BATCH,
    )
    result.references = (OFF,)
    cost = result.medians[ON] - result.medians[OFF]
    ratio = result.overhead_ratio(ON, OFF)
    result.notes.insert(
        0,
        f"exemplars cost {cost:+.2f} µs per request; overhead on ÷ off: "
        + ("n/a" if ratio is None else f"{ratio:.2f}x")
        + f"; time per request on ÷ off: {result.medians[ON] / result.medians[OFF]:.3f}x",
    )
    fast = REGISTRY.has(DURATION)
    result.notes.append(
        f"check {DURATION} is a fast instrument (the filter switch reaches it): "
        + ("ok" if fast else "PROBLEM: it is not")
    )
    result.ok = result.ok and fast
    for subject, keeps in ((subjects[1], True), (subjects[2], False)):
        line, ok = check_exemplars(subject, keeps)
        result.notes.append(line)
        result.ok = result.ok and ok
    return [result, filter_cost(rounds)]
