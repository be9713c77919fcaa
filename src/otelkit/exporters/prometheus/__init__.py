"""The Prometheus exporter: a pull reader (``_plugin``), otelkit's own exposition in classic
text or OpenMetrics (``_exposition``, its sample lines and exemplars in ``_samples``, the format
chosen from the scraper's ``Accept`` by ``_negotiation``), the listener and mountable apps
(``_endpoint``) with its bounded connection handling (``_connections``), and the pre-fork store
that adds up every worker's numbers (``_multiprocess``)."""

from otelkit.exporters.prometheus._plugin import PrometheusPlugin, PrometheusReader

__all__ = ["PrometheusPlugin", "PrometheusReader"]
