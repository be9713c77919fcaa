"""Panels as grafana-foundation-sdk builders, from the plain descriptions of ``_model``.

Every panel and query reads the ``$datasource`` variable; every query gets a ref id (A, B, ...)
so tables can name their columns after it.
"""

from __future__ import annotations

from string import ascii_uppercase
from typing import TYPE_CHECKING

from grafana_foundation_sdk.builders import heatmap, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders.common import VizLegendOptions
from grafana_foundation_sdk.models.common import LegendDisplayMode
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    GridPos,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

if TYPE_CHECKING:
    from otelkit.ops.dashboard._model import Panel, Target

PanelBuilder = timeseries.Panel | stat.Panel | table.Panel | heatmap.Panel

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")


def build(panel: Panel, panel_id: int) -> PanelBuilder:
    """The SDK builder of ``panel``, with ``panel_id`` (unique in the dashboard)."""
    builder = _by_kind(panel)
    builder.id(panel_id).title(panel.title).datasource(DATASOURCE)
    if panel.kind != "heatmap":
        builder.unit(panel.unit)
    builder.grid_pos(GridPos(h=panel.height, w=panel.width))
    if panel.description:
        builder.description(panel.description)
    if panel.max_value is not None:
        builder.min(0).max(panel.max_value)
    for ref, target in zip(ascii_uppercase, panel.targets, strict=False):
        builder.with_target(_query(ref, target, panel.kind))
    return builder


def _by_kind(panel: Panel) -> PanelBuilder:
    if panel.kind == "stat":
        return stat.Panel()  # the value now, over a sparkline of the range (Grafana's default)
    if panel.kind == "heatmap":
        axis = heatmap.YAxisConfig()
        axis.unit(panel.unit)  # the buckets' bounds; the cells count requests per second
        buckets = heatmap.Panel()
        buckets.calculate(False).y_axis(axis)  # the queries return the buckets already
        return buckets
    if panel.kind == "table":
        return _table(panel)
    legend = VizLegendOptions()
    legend.show_legend(True).display_mode(LegendDisplayMode.LIST)
    lines = timeseries.Panel()
    lines.legend(legend)
    return lines


def _table(panel: Panel) -> table.Panel:
    """A table of instant queries joined on their labels, one column per query."""
    builder = table.Panel()
    builder.with_transformation(DataTransformerConfig(id_val="merge", options={}))
    hidden = {"Time": True}
    builder.with_transformation(
        DataTransformerConfig(id_val="organize", options={"excludeByName": hidden})
    )
    for ref, target in zip(ascii_uppercase, panel.targets, strict=False):
        column = [DynamicConfigValue(id_val="displayName", value=target.legend)]
        if target.unit is not None:
            column.append(DynamicConfigValue(id_val="unit", value=target.unit))
        builder.override_by_name(f"Value #{ref}", column)
    return builder


def _query(ref: str, target: Target, kind: str) -> prometheus.Dataquery:
    query = prometheus.Dataquery()
    query.ref_id(ref).expr(target.expr).datasource(DATASOURCE)
    if target.instant:
        query.instant().format(PromQueryFormat.TABLE)
    elif kind == "heatmap":
        query.range().format(PromQueryFormat.HEATMAP).legend_format(target.legend)
    else:
        query.range().legend_format(target.legend or "__auto")
    return query
