"""The metric catalog: every metric otelkit can emit, and the application's own.

One source of truth in code: each integration declares its metrics where it creates its
instruments (``otelkit.metrics._spec``), the business API adds the user's as their decorators
run, and this package collects them. ``otelkit metrics``, ``docs/metrics.md``, the Prometheus
rules and the Grafana dashboards all read it.

- ``_spec``: ``MetricSpec`` (a declaration plus its Prometheus names) and ``AttributeSpec``;
- ``_self``: otelkit's metrics about itself (errors, failed exports, dropped data);
- ``_catalog``: ``Catalog``, and the collection of the built-in declarations;
- ``_app``: importing an application and telling which integrations it uses;
- ``_markdown``: the generated ``docs/metrics.md``.
"""

from __future__ import annotations

from otelkit.ops.catalog._app import import_app, used_integrations
from otelkit.ops.catalog._catalog import Catalog, builtin, everything
from otelkit.ops.catalog._spec import AttributeSpec, MetricSpec

__all__ = ["AttributeSpec", "Catalog", "MetricSpec", "load_catalog"]


def load_catalog(app: str | None = None) -> Catalog:
    """The catalog: otelkit's own metrics, or with ``app`` that application's.

    Without ``app``: every metric otelkit itself can emit, whichever integrations run (the
    same in every process, so what is generated from it is reproducible). With ``app``
    (``"module:attr"`` or ``"module"``): the application is imported first, its decorators
    declaring its business metrics, and the catalog keeps only the integrations it uses, plus
    ``business`` when it declared any (the rule is in ``_app``).
    """
    if app is None:
        return Catalog(builtin())
    imported = import_app(app)
    used = set(used_integrations(imported))
    catalog = everything()
    if catalog.business():
        used.add("business")
    return catalog.only(used)
