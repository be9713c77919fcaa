"""The dashboard's variables: data source, service, instance and (for HTTP) route.

``$service`` is the Prometheus ``job`` (the scrape job, or ``service.name`` for metrics pushed
over OTLP), listed from ``target_info``, which every otelkit process exposes. ``$instance`` and
``$route`` are multi-valued with an "All" of ``.*``, so every query filters with ``=~``.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import DatasourceVariable, QueryVariable
from grafana_foundation_sdk.models.dashboard import VariableOption, VariableRefresh, VariableSort

from otelkit.ops.dashboard._panels import DATASOURCE
from otelkit.ops.dashboard._promql import INSTANCE_LABEL, SERVICE_LABEL, selector

ALL = ".*"


def variables(
    service: str | None, route_series: str | None, route_label: str
) -> list[DatasourceVariable | QueryVariable]:
    """The variables in the order Grafana shows them; ``route_series`` None: no ``$route``."""
    found: list[DatasourceVariable | QueryVariable] = [
        DatasourceVariable("datasource").label("Data source").type("prometheus"),
        _listed(
            "service",
            "Service",
            f"label_values(target_info, {SERVICE_LABEL})",
            selected=service,
        ),
        _listed(
            "instance",
            "Instance",
            f'label_values(target_info{{{SERVICE_LABEL}=~"$service"}}, {INSTANCE_LABEL})',
        ),
    ]
    if route_series is not None:
        found.append(
            _listed("route", "Route", f"label_values({selector(route_series)}, {route_label})")
        )
    return found


def _listed(name: str, title: str, query: str, selected: str | None = None) -> QueryVariable:
    """A variable listing label values, several of them selectable, "All" by default."""
    variable = QueryVariable(name)
    variable.label(title).datasource(DATASOURCE).query(query)
    variable.refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
    variable.multi(True).include_all(True).all_value(ALL)
    if selected is None:
        variable.current(VariableOption(selected=True, text=["All"], value=["$__all"]))
    else:
        variable.current(VariableOption(selected=True, text=[selected], value=[selected]))
    return variable
