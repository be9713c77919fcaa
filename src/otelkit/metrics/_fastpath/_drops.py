"""otelkit's own loss accounting: ``otelkit.dropped`` and ``otelkit.export.failures``.

Whatever otelkit (or the SDK under it) throws away is counted here, so that nothing is lost
without a number on ``/metrics`` and over OTLP: spans and log records a full queue refused,
failed exports, attribute sets folded into a cardinality overflow series (once each), invalid
attribute values, names refused by the run-time name cap or a Prometheus name collision.

Counts name an internal ``component`` string and a ``reason``; the counters carry them as
``otel.component.type`` / ``otel.component.name`` / ``error.type`` (the mapping:
``_components``). ``zero`` creates a series at 0, so that ``rate()`` and ``increase()`` work from
the first scrape.

This module imports nothing of otelkit: the instruments that hold the counts live in the fast
registry, which binds its ``count`` here when it is created (``bind``), so that the instruments
themselves can report an overflow without importing the registry back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = [
    "DROPPED",
    "EXPORT_FAILURES",
    "INTERNAL_ERRORS",
    "bind",
    "count",
    "dropped",
    "export_failed",
    "zero",
]

DROPPED = "otelkit.dropped"
"""Items (spans, log records, measurements, attribute values) otelkit did not deliver."""
EXPORT_FAILURES = "otelkit.export.failures"
"""Exports that failed, by exporter (``otel.component.type``/``.name``) and ``error.type``."""
INTERNAL_ERRORS = "otelkit.internal.errors"
"""Errors otelkit logged and swallowed, by the part of otelkit (``otel.component.type``) and
``error.type`` (the exception's kind)."""

Sink = Callable[[str, str, str, int], None]
_sink: Sink | None = None
_counting = threading.local()
"""``active`` while this thread is inside ``count``: a count that itself causes a count (the
counter's own overflow, a store failure of its series) is not counted, never recursed into."""


def bind(sink: Sink) -> None:
    """Where counts go from now on: ``sink(metric, component, reason, amount)``."""
    global _sink
    _sink = sink


def count(metric: str, component: str, reason: str, amount: int = 1) -> None:
    """Add ``amount`` to ``metric`` for ``component``/``reason``; never raises, never
    re-enters itself on one thread."""
    sink = _sink
    if sink is None or amount <= 0 or getattr(_counting, "active", False):
        return
    _counting.active = True
    try:
        sink(metric, component, reason, amount)
    except Exception:  # the loss accounting must not become a loss of its own
        return
    finally:
        _counting.active = False


def zero(metric: str, component: str, reason: str) -> None:
    """Make ``metric``'s series of ``component``/``reason`` exist (at 0 until counted)."""
    sink = _sink
    if sink is None or getattr(_counting, "active", False):
        return
    _counting.active = True
    try:
        sink(metric, component, reason, 0)
    except Exception:  # the loss accounting must not become a loss of its own
        return
    finally:
        _counting.active = False


def dropped(component: str, reason: str, amount: int = 1) -> None:
    """``amount`` items of ``component`` (``traces/otlp``, ``metrics``…) were dropped."""
    count(DROPPED, component, reason, amount)


def export_failed(component: str, reason: str) -> None:
    """One export of ``component`` (``traces/otlp``) failed for ``reason``."""
    count(EXPORT_FAILURES, component, reason)
