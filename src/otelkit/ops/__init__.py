"""What operators load beside the metrics: the metric catalog, Prometheus rules and SLOs,
Alertmanager routing and Grafana dashboards, all generated from what otelkit emits."""
