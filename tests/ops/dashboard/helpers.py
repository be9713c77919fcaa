"""Reading a generated dashboard the way a person reads it: rows, their panels, the queries."""

from __future__ import annotations

from typing import Any

from otelkit.ops.catalog import Catalog, MetricSpec
from otelkit.ops.catalog._catalog import builtin


def rows(dashboard: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Row title -> the panels under it, in dashboard order."""
    found: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            current = found.setdefault(panel["title"], [])
        else:
            current.append(panel)
    return found


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in panels(dashboard) for target in panel["targets"]]


def variable_names(dashboard: dict[str, Any]) -> list[str]:
    return [variable["name"] for variable in dashboard["templating"]["list"]]


def catalog_of(integrations: set[str], *business: MetricSpec) -> Catalog:
    """otelkit's own metrics of ``integrations``, plus ``business`` metrics."""
    own = [spec for spec in builtin() if spec.integration in integrations]
    return Catalog([*own, *business])
