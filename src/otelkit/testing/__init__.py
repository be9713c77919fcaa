"""Helpers for the test suites of applications that use otelkit (and for otelkit's own).

The pytest plugin (``_plugin``, registered under ``pytest11``, so no conftest is needed) gives
each test that asks for it a ``telemetry`` fixture: a fresh configuration whose metrics, spans
and logs stay in memory, read with assertions that look like the test's own
(``telemetry.counter("orders.placed").value(tier="gold") == 3``). The package's modules:

- ``_readers``: ``metrics``, ``points``, ``spans``, ``logs``: what a configuration with the
  ``memory`` exporter recorded, read directly.
- ``_capture``: ``CapturedTelemetry``, what the fixture yields; ``_metrics`` the metric
  readings it returns, ``_match`` how keywords name attributes, ``_secrets`` the secret search.
- ``_swap``: setting the application's own running configuration aside for a test.
- ``_plugin``: the fixture and its marker. Importing it (pytest does, at start-up) loads
  nothing of the SDK: that happens when a test first asks for the fixture.
"""

from __future__ import annotations

from otelkit.testing._capture import CapturedTelemetry
from otelkit.testing._metrics import Counter, Gauge, Histogram, MetricReading, UpDownCounter
from otelkit.testing._readers import logs, metrics, points, spans

__all__ = [
    "CapturedTelemetry",
    "Counter",
    "Gauge",
    "Histogram",
    "MetricReading",
    "UpDownCounter",
    "logs",
    "metrics",
    "points",
    "spans",
]
