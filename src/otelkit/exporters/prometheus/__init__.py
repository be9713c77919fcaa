"""The Prometheus exporter: a pull reader (``_plugin``), otelkit's own text exposition
(``_exposition``), the listener and mountable apps (``_endpoint``) with its bounded connection
handling (``_connections``), and the pre-fork store that
adds up every worker's numbers (``_multiprocess``)."""

from otelkit.exporters.prometheus._plugin import PrometheusPlugin, PrometheusReader

__all__ = ["PrometheusPlugin", "PrometheusReader"]
