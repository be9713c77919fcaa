"""Render OpenTelemetry metric data as the Prometheus text exposition format (0.0.4).

Names follow the OpenTelemetry → Prometheus compatibility rules (``metric_name`` and
``label_name`` of ``otelkit.metrics._prometheus_names``, shared with the fast registry's
collision check and the operations catalog): invalid characters become ``_``, the unit is
appended as a word (``s`` → ``_seconds``), monotonic sums get ``_total``. Every series
carries ``otel_scope_name`` (and ``otel_scope_version``), so two libraries emitting the same
metric name never produce duplicate series; the resource goes into ``target_info``.

The output is always valid UTF-8 that parsers accept, whatever the data holds: a name of which
nothing can be kept becomes ``unnamed_…``, and lone surrogates (``os.fsdecode`` of a non-UTF-8
file name in a label value, a scope or a description) become U+FFFD, counted as an internal
error of ``prometheus.exposition`` (once per scrape that needed it) instead of failing it.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    MetricsData,
    Sum,
)

from otelkit._errors import record_internal_error
from otelkit.metrics._prometheus_names import label_name, metric_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.util.types import AttributeValue

__all__ = ["CONTENT_TYPE", "format_value", "label_name", "labels", "metric_name", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_HISTOGRAM_RESERVED = frozenset({"le"})
_SURROGATES = re.compile("[\ud800-\udfff]")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_label_value(v) for v in value) + "]"
    return str(value)


def format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def labels(
    attributes: Mapping[str, AttributeValue] | None,
    extra: Sequence[str] = (),
    reserved: frozenset[str] = frozenset(),
) -> str:
    """``{a="1",b="2"}`` with keys sanitized; keys that collide after it get their values joined.

    ``extra`` are ready-made ``name="value"`` pairs (the scope); an attribute whose name clashes
    with them or with ``reserved`` (``le`` of a histogram) becomes ``exported_<name>``, as
    Prometheus itself does, so one odd attribute can never make the whole scrape invalid.
    """
    taken = reserved | {pair.partition("=")[0] for pair in extra}
    merged: dict[str, list[str]] = {}
    for key, value in sorted((attributes or {}).items()):
        name = label_name(key)
        if name in taken:
            name = "exported_" + name
        merged.setdefault(name, []).append(_label_value(value))
    parts = [*extra, *(f'{k}="{_escape(";".join(v))}"' for k, v in merged.items())]
    return "{" + ",".join(parts) + "}" if parts else ""


class _Family:
    __slots__ = ("help", "kind", "lines")

    def __init__(self, kind: str, help_text: str) -> None:
        self.kind = kind
        self.help = help_text
        self.lines: list[str] = []


def _scope_labels(name: str, version: str | None) -> tuple[str, ...]:
    scope = [f'otel_scope_name="{_escape(name)}"']
    if version:
        scope.append(f'otel_scope_version="{_escape(version)}"')
    return tuple(scope)


def render(data: MetricsData | None, resource: Resource) -> bytes:
    """The whole exposition: ``target_info`` first, then one family per metric name."""
    families: dict[str, _Family] = {}
    target = _Family("gauge", "Target metadata")
    target.lines.append(f"target_info{labels(resource.attributes)} 1")
    families["target_info"] = target
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            scope = _scope_labels(scope_metrics.scope.name, scope_metrics.scope.version)
            for metric in scope_metrics.metrics:
                try:
                    _add_metric(
                        families,
                        metric.name,
                        metric.unit or "",
                        metric.description or "",
                        metric.data,
                        scope,
                    )
                except Exception as exc:
                    record_internal_error("prometheus.render", exc)
    return _encode(_join(families))


def _encode(text: str) -> bytes:
    """UTF-8 bytes of ``text``; lone surrogates (``os.fsdecode`` of a non-UTF-8 file name, in
    a label value, the scope, a description) become U+FFFD, counted once per scrape."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        record_internal_error("prometheus.exposition", exc)
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def _add_metric(
    families: dict[str, _Family],
    name: str,
    unit: str,
    description: str,
    data: object,
    scope: tuple[str, ...],
) -> None:
    if isinstance(data, Sum):
        kind = "counter" if data.is_monotonic else "gauge"
    elif isinstance(data, Gauge):
        kind = "gauge"
    elif isinstance(data, Histogram):
        kind = "histogram"
    else:
        raise TypeError(f"{name}: {type(data).__name__} has no Prometheus text form")
    family_name = metric_name(name, unit, kind)
    family = families.get(family_name)
    if family is None:
        family = families[family_name] = _Family(kind, description)
    elif family.kind != kind:
        raise TypeError(f"{name}: {family_name} is already a {family.kind}, not a {kind}")
    lines = family.lines
    if isinstance(data, Histogram):
        base = family_name
        for point in data.data_points:
            tail = labels(point.attributes, scope, _HISTOGRAM_RESERVED)[1:]  # without the "{"
            cumulative = 0
            for bound, count in zip(
                _bounds(point.explicit_bounds), point.bucket_counts, strict=True
            ):
                cumulative += count
                lines.append(f'{base}_bucket{{le="{bound}",{tail} {cumulative}')
            lines.append(f"{base}_sum{{{tail} {format_value(point.sum)}")
            lines.append(f"{base}_count{{{tail} {point.count}")
        return
    for number in data.data_points:
        lines.append(
            f"{family_name}{labels(number.attributes, scope)} {format_value(number.value)}"
        )


def _bounds(explicit: Iterable[float]) -> list[str]:
    return [format_value(float(b)) for b in explicit] + ["+Inf"]


def _join(families: Mapping[str, _Family]) -> str:
    out: list[str] = []
    for name, family in families.items():
        if family.help:
            escaped = family.help.replace("\\", "\\\\").replace("\n", "\\n")
            out.append(f"# HELP {name} {escaped}")
        out.append(f"# TYPE {name} {family.kind}")
        out.extend(family.lines)
    out.append("")
    return "\n".join(out)
