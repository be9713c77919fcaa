"""The status page: a person's view of the service, for setups without Grafana.

``/status`` on the metrics port (and ``otelkit.status_app()`` / ``status_wsgi()`` in the
user's app) is one HTML page, served from the package, that reads ``/status.json`` every few
seconds. One module per job:

- ``_read``: one reading of the totals (routes, tasks, pools, host) from the Prometheus
  reader's collection, the same data a scrape renders;
- ``_window``: the ring of readings the sliding window is computed from;
- ``_figures``: rates, error ratios and quantiles over the window; ``_slos``: the declared
  objectives against them;
- ``_document``: the versioned JSON document (health, alerts, the rest) and its 1 s cache;
- ``_page``: the HTML page assembled from ``_static/`` (uPlot vendored there);
- ``_http``: the responses, the mountable apps, and the listener's routes.

Placed between the runtime (which registers the routes on the listener) and ``ops`` (whose
SLO declarations it reads); it reads ``alerting``, ``exporters``, ``health`` and ``metrics``
data below that.
"""
