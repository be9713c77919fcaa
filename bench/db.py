"""SQLAlchemy instrumentation: per-query cost on a real PostgreSQL (``SELECT 1`` over loopback).

A PostgreSQL server is started for the run (``tests/fixtures/_pg.py``: ``initdb`` + ``pg_ctl``
in a temp dir, the same code as the test fixture). Each variant is its own psycopg engine; one
measured batch is ``BATCH`` queries. Two benchmarks:

- ``one query``: ``connection.execute(text("SELECT 1")).scalar()`` on a connection held open,
  so only the query events run (before/after cursor execute);
- ``checkout + query + checkin``: ``with engine.connect() as c: c.execute(...)``, so the pool
  events (and otelkit's pending/wait measurement) run as well.

Variants:

- ``bare``: an uninstrumented engine.
- ``otelkit metrics`` / ``otelkit metrics+spans``: ``instrument_sqlalchemy(engine, spans=False)``
  / ``instrument_sqlalchemy(engine)``, otelkit configured once per process (Prometheus without a
  listener, spans to a discarding exporter plugin).
- ``otel-sqlalchemy spans``: opentelemetry-instrumentation-sqlalchemy's ``EngineTracer`` on the
  engine with its own SDK providers (a ``BatchSpanProcessor`` to the discarding exporter; it
  records spans and a connection-usage counter, and no query-duration metric). It is attached
  to its engine only, not through ``SQLAlchemyInstrumentor().instrument()``, which would also
  patch ``create_engine`` and ``Engine.connect`` for every other variant.

The medians are µs per query; "overhead" is above ``bare``, which includes the round trip to
the server (the part every variant shares).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from tests.fixtures._pg import PostgresError, PostgresServer, find_bin_dir

import otelkit
from bench._harness import Result, Variant, measure
from bench._http import OTELKIT_METRICS, OTELKIT_SPANS, Providers, otelkit_spans, otelkit_telemetry
from otelkit.instrumentation.sqlalchemy import instrument_sqlalchemy

if TYPE_CHECKING:
    from collections.abc import Callable

BATCH = 200
"""Queries per measured batch."""
CONTRIB = "otel-sqlalchemy spans"
SELECT_1 = sa.text("SELECT 1")


@dataclass
class Subject:
    """One variant: its engine, how it records, how to read what it recorded."""

    name: str
    engine: sa.Engine
    queries: Callable[[], float] = lambda: 0.0
    spans: Callable[[], float] = lambda: 0.0
    flush: Callable[[], object] = lambda: None
    """Exports the variant's spans now, so that its export thread runs in its own batch."""
    connection: sa.Connection | None = None

    def held(self) -> sa.Connection:
        if self.connection is None:
            self.connection = self.engine.connect()
        return self.connection

    def one_query(self, n: int) -> None:
        connection = self.held()
        for _ in range(n):
            if connection.execute(SELECT_1).scalar() != 1:
                raise RuntimeError(f"{self.name}: SELECT 1 did not return 1")
        self.flush()

    def checkout_query(self, n: int) -> None:
        engine = self.engine
        for _ in range(n):
            with engine.connect() as connection:
                if connection.execute(SELECT_1).scalar() != 1:
                    raise RuntimeError(f"{self.name}: SELECT 1 did not return 1")
        self.flush()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.engine.dispose()


def otelkit_queries() -> float:
    """The count of otelkit's query-duration histogram, read through its Prometheus endpoint."""
    out: list[str] = []
    body = otelkit.metrics_wsgi()({}, lambda status, headers: out.append(status))
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in b"".join(body).decode().splitlines()
        if line.startswith("db_client_operation_duration_seconds_count")
    )


def _subjects(url: str, **options: Any) -> list[Subject]:
    telemetry = otelkit_telemetry()
    pipeline = telemetry._pipeline
    assert pipeline is not None
    flush_otelkit = pipeline.tracer_provider.force_flush
    bare = Subject("bare", sa.create_engine(url, **options))
    metrics = Subject(
        OTELKIT_METRICS,
        instrument_sqlalchemy(sa.create_engine(url, **options), spans=False),
        otelkit_queries,
        otelkit_spans,
    )
    spans = Subject(
        OTELKIT_SPANS,
        instrument_sqlalchemy(sa.create_engine(url, **options)),
        otelkit_queries,
        otelkit_spans,
        flush_otelkit,
    )
    try:
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    except ImportError:
        print(f"note: opentelemetry-instrumentation-sqlalchemy is not installed; no {CONTRIB!r}")
        return [bare, metrics, spans]
    providers = Providers.create(spans=True)
    contrib_engine = sa.create_engine(url, **options)
    usage = providers.meter_provider.get_meter("bench").create_up_down_counter(
        "db.client.connections.usage"
    )
    EngineTracer(providers.tracer_provider.get_tracer("bench"), contrib_engine, usage)
    contrib = Subject(
        CONTRIB, contrib_engine, spans=providers.spans, flush=providers.tracer_provider.force_flush
    )
    return [bare, metrics, spans, contrib]


def _check(subject: Subject, queries: int = 100) -> tuple[str, bool]:
    """Each instrumented variant records each query once (metrics, or spans where it should)."""
    before = (subject.queries(), subject.spans())
    subject.one_query(queries)
    telemetry = otelkit_telemetry()
    telemetry.force_flush()
    after = (subject.queries(), subject.spans())
    counted = (after[0] - before[0]) / queries
    spans = (after[1] - before[1]) / queries
    problems = []
    if subject.name.startswith("otelkit") and counted != 1:
        problems.append(f"otelkit counted {counted:g} per query")
    wants_spans = "spans" in subject.name
    if wants_spans != (spans >= 1):
        problems.append("spans expected" if wants_spans else "spans not expected")
    verdict = "ok" if not problems else "PROBLEM: " + "; ".join(problems)
    line = f"check {subject.name}: {counted:g} counted and {spans:g} span(s) per query — {verdict}"
    return line, not problems


def _run(benchmark: str, subjects: list[Subject], method: str, rounds: int) -> Result:
    variants = [
        Variant(s.name, lambda s=s: getattr(s, method)(BATCH), per_call=BATCH) for s in subjects
    ]
    result = measure(benchmark, variants, rounds=rounds, baseline="bare", unit="us", warmup=2)
    result.references = (OTELKIT_METRICS, OTELKIT_SPANS)
    return result


def _both(where: str, subjects: list[Subject], rounds: int) -> list[Result]:
    held = _run(f"db ({where}): one SELECT 1 on an open connection", subjects, "one_query", rounds)
    for subject in subjects:
        line, ok = _check(subject)
        held.notes.append(line)
        held.ok = held.ok and ok
    pooled = _run(
        f"db ({where}): checkout + SELECT 1 + checkin", subjects, "checkout_query", rounds
    )
    return [held, pooled]


def _postgresql(rounds: int) -> list[Result]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("note: PostgreSQL (initdb, pg_ctl) is not installed; its db benchmark is skipped")
        return []
    try:
        server = PostgresServer(bin_dir)
        server.start()
    except PostgresError as exc:
        print(f"note: PostgreSQL cannot be started; its db benchmark is skipped: {exc}")
        return []
    subjects: list[Subject] = []
    try:
        subjects = _subjects(server.url("psycopg"))
        return _both("PostgreSQL, psycopg", subjects, rounds)
    finally:
        for subject in subjects:
            subject.close()
        server.close()


def _sqlite(rounds: int) -> list[Result]:
    """The same without a server: what remains is the instrumentation's own cost."""
    folder = Path(tempfile.mkdtemp(prefix="otelkit-bench-sqlite-"))
    subjects: list[Subject] = []
    try:
        subjects = _subjects(f"sqlite:///{folder / 'bench.db'}", poolclass=sa.QueuePool)
        return _both("SQLite file, no server", subjects, rounds)
    finally:
        for subject in subjects:
            subject.close()
        shutil.rmtree(folder, ignore_errors=True)


def run(rounds: int) -> list[Result]:
    return [*_postgresql(rounds), *_sqlite(rounds)]
