"""Celery task instrumentation, in process: per-task cost of a task run with ``task.apply()``.

``apply()`` runs the task in the calling process the way a worker's pool does (Celery's task
tracer, with ``task_prerun`` / ``task_postrun`` sent around the body), without a broker or a
worker: no message is published or consumed, so what is measured is the run's own cost (the
tracer ``apply()`` builds per call included, in every variant alike). The task adds two numbers.

Celery's signals are process-wide, so each variant connects its receivers before its batch and
disconnects them after it (outside the timed part). Variants:

- ``bare``: no receivers.
- ``otelkit metrics+spans``: otelkit's receivers (``install_auto()``, what ``init_telemetry()``
  connects), with otelkit configured once per process (spans to the discarding exporter plugin,
  see bench/_http.py): the task metrics and a ``process {task}`` CONSUMER span.
- ``otelkit metrics``: the same receivers with spans off: Celery's instrumentation has no
  ``spans=False``, so the bench clears the span factory of otelkit's task recorder for its batch.
- ``otel-celery metrics+spans``: opentelemetry-instrumentation-celery (``CeleryInstrumentor``)
  with its own SDK providers, spans batched to the discarding exporter, if it is installed.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench._harness import Result, allocations
from bench._http import (
    OTELKIT_METRICS,
    OTELKIT_SPANS,
    Providers,
    otelkit_spans,
    otelkit_telemetry,
)
from bench._otlp import prometheus_total
from otelkit.instrumentation.celery import install_auto, uninstall_auto
from otelkit.instrumentation.celery._recorder import CURRENT

if TYPE_CHECKING:
    from collections.abc import Callable

BATCH = 200
"""Tasks per measured batch."""
CONTRIB = "otel-celery metrics+spans"


def _nothing() -> None:
    pass


@dataclass
class Subject:
    name: str
    connect: Callable[[], object] = _nothing
    disconnect: Callable[[], object] = _nothing
    runs: Callable[[], float] = lambda: 0.0
    spans: Callable[[], float] = lambda: 0.0


def make_task() -> Any:
    from celery import Celery

    app = Celery("bench", set_as_current=False)

    @app.task(name="bench.add")
    def add(x: int, y: int) -> int:
        return x + y

    return add


def tasks(task: Any, n: int) -> None:
    for index in range(n):
        result = task.apply((index, 1))
        if result.get() != index + 1:
            raise RuntimeError(f"bad task result {result.result!r} (state {result.state})")


def _otelkit(spans: bool) -> Subject:
    telemetry = otelkit_telemetry()
    saved: list[Any] = []

    def connect() -> None:
        install_auto()
        recorder = CURRENT.get()
        if recorder is not None and not spans:
            saved.append(recorder.spans)
            recorder.spans = None

    def disconnect() -> None:
        recorder = CURRENT.get()
        if recorder is not None and saved:
            recorder.spans = saved.pop()
        uninstall_auto()

    def runs() -> float:
        telemetry.force_flush()
        return prometheus_total("celery_task_runs_total")

    name = OTELKIT_SPANS if spans else OTELKIT_METRICS
    return Subject(name, connect, disconnect, runs, otelkit_spans)


def _contrib() -> Subject | None:
    try:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
    except ImportError:
        print(f"note: opentelemetry-instrumentation-celery is not installed; no {CONTRIB!r}")
        return None
    providers = Providers.create(spans=True)
    instrumentor = CeleryInstrumentor()

    def connect() -> None:
        instrumentor.instrument(
            tracer_provider=providers.tracer_provider,
            meter_provider=providers.meter_provider,
            skip_dep_check=True,
        )

    return Subject(CONTRIB, connect, instrumentor.uninstrument, spans=providers.spans)


def _timed(subject: Subject, run: Callable[[], object]) -> float:
    subject.connect()
    try:
        started = time.perf_counter()
        run()
        return time.perf_counter() - started
    finally:
        subject.disconnect()


def _check(subject: Subject, task: Any, n: int = 100) -> tuple[str, bool]:
    """otelkit counts each run once; the span variants export one span per run (or more)."""
    subject.connect()
    try:
        before = (subject.runs(), subject.spans())
        tasks(task, n)
        after = (subject.runs(), subject.spans())
    finally:
        subject.disconnect()
    counted = (after[0] - before[0]) / n
    spans = (after[1] - before[1]) / n
    problems = []
    if subject.name.startswith("otelkit") and counted != 1:
        problems.append(f"otelkit counted {counted:g} runs per task")
    wants_spans = "spans" in subject.name
    if wants_spans != (spans >= 1):
        problems.append("spans expected" if wants_spans else "spans not expected")
    verdict = "ok" if not problems else "PROBLEM: " + "; ".join(problems)
    runs = f"{counted:g} runs counted by otelkit, " if subject.name.startswith("otelkit") else ""
    line = f"check {subject.name}: {runs}{spans:g} span(s) per task — {verdict}"
    return line, not problems


def run(rounds: int) -> list[Result]:
    otelkit_telemetry()
    task = make_task()
    built = [Subject("bare"), _otelkit(spans=False), _otelkit(spans=True), _contrib()]
    subjects = [s for s in built if s is not None]
    samples: dict[str, list[float]] = {s.name: [] for s in subjects}
    for index in range(1 + rounds):  # the first round warms up
        for subject in subjects:
            elapsed = _timed(subject, lambda: tasks(task, BATCH))
            if index:
                samples[subject.name].append(elapsed / BATCH * 1e6)
    result = Result(
        "Celery task.apply() in process (no broker), µs per task",
        unit="us",
        baseline="bare",
        medians={name: statistics.median(values) for name, values in samples.items()},
        rounds=rounds,
        references=(OTELKIT_METRICS, OTELKIT_SPANS, CONTRIB),
    )
    columns: dict[str, dict[str, float]] = {}
    for subject in subjects:
        subject.connect()
        try:
            memory = allocations(lambda: tasks(task, 1))
        finally:
            subject.disconnect()
        for column, value in memory.items():
            columns.setdefault(column, {})[subject.name] = value
    result.columns = columns
    for subject in subjects:
        line, ok = _check(subject, task)
        result.notes.append(line)
        result.ok = result.ok and ok
    return [result]
