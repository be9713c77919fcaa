"""The ``none`` exporter: a real plugin so that ``none`` is listed and documented like the rest.

``init_telemetry()`` treats the name specially (the signal is simply not exported), so the
factories are never called.
"""

from __future__ import annotations

from otelkit.exporters._plugin import ExporterPlugin


class NonePlugin(ExporterPlugin):
    name = "none"
    signals = frozenset({"metrics", "traces", "logs"})
