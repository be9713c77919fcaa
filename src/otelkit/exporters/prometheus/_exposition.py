"""Render OpenTelemetry metric data as a Prometheus exposition: classic text or OpenMetrics
(or the protobuf format, ``_protobuf``: the one with native histograms).

Names follow the OpenTelemetry → Prometheus compatibility rules (``metric_name`` and
``label_name`` of ``otelkit.metrics._prometheus_names``, shared with the fast registry's
collision check and the operations catalog): invalid characters become ``_``, the unit is
appended as a word (``s`` → ``_seconds``), monotonic sums get ``_total``. A scraper that takes
UTF-8 names (``_negotiation``) gets the OpenTelemetry names as they are, with the same suffixes,
quoted where the legacy syntax cannot hold them. Every series carries ``otel_scope_name`` (and
``otel_scope_version``), so two libraries emitting the same metric name never produce duplicate
series; the resource goes into ``target_info``.

OpenMetrics adds what the classic text cannot say: ``# UNIT``, ``_created`` (the series' start),
exemplars (``_samples``) and ``# EOF``; it forbids what the classic text lets through (a negative
or NaN counter, a histogram ``_sum`` beside negative buckets), which is left out, counted.

The output is always valid UTF-8 that parsers accept, whatever the data holds: a name of which
nothing can be kept becomes ``unnamed_…``, a family whose names would clash with an earlier one
is left out, and lone surrogates (``os.fsdecode`` of a non-UTF-8 file name in a label value, a
scope or a description) become U+FFFD, counted as an internal error of ``prometheus.exposition``
(once per scrape that needed it) instead of failing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    Gauge,
    Histogram,
    MetricsData,
    Sum,
)

from otelkit._errors import record_internal_error
from otelkit.exporters.prometheus._native import classic_point
from otelkit.exporters.prometheus._negotiation import CLASSIC, Format
from otelkit.exporters.prometheus._protobuf import render_protobuf
from otelkit.exporters.prometheus._samples import (
    _SURROGATES,
    Lines,
    escape,
    exemplar_text,
    format_value,
    histogram_lines,
    label_name,
    labels,
    latest,
    name_token,
    pairs,
    sample,
    utf8_metric_name,
)
from otelkit.metrics._prometheus_names import metric_name, unit_words

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opentelemetry.sdk.metrics.export import NumberDataPoint
    from opentelemetry.sdk.resources import Resource

__all__ = [
    "CONTENT_TYPE",
    "format_value",
    "label_name",
    "labels",
    "metric_name",
    "render",
    "utf8_metric_name",
]

CONTENT_TYPE = CLASSIC.content_type

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


class _Family:
    __slots__ = ("help", "kind", "lines", "seen", "unit")

    def __init__(self, kind: str, help_text: str, unit: str) -> None:
        self.kind = kind
        self.help = help_text
        self.unit = unit
        self.lines: Lines = []
        self.seen: set[tuple[str, ...]] = set()
        """The label sets written: a series is written once (the parsers refuse repeats)."""


class _Render:
    """One exposition being built, in one format."""

    def __init__(self, fmt: Format) -> None:
        self.fmt = fmt
        self.families: dict[str, _Family] = {}
        self.taken: dict[str, str] = {}
        """Sample name -> the family it belongs to: a family that would write another's
        sample names is left out (the parsers refuse the whole scrape otherwise)."""
        self.refused = 0

    def family(self, base: str, kind: str, help_text: str, unit: str) -> _Family:
        family = self.families.get(base)
        if family is not None:
            if family.kind != kind:
                raise TypeError(f"{base} is already a {family.kind}, not a {kind}")
            return family
        names = {base + suffix for suffix in (*_SUFFIXES[kind], "")}
        clash = sorted(n for n in names if n in self.taken)
        if clash:
            raise TypeError(f"{base} would write {clash[0]}, already of {self.taken[clash[0]]}")
        self.taken.update(dict.fromkeys(names, base))
        family = self.families[base] = _Family(kind, help_text, unit)
        return family


def render(data: MetricsData | None, resource: Resource, fmt: Format = CLASSIC) -> bytes:
    """The whole exposition: ``target_info`` first, then one family per metric name."""
    if fmt.protobuf:
        return render_protobuf(data, resource, utf8=fmt.utf8)
    out = _Render(fmt)
    utf8 = fmt.utf8
    if fmt.openmetrics:
        target = out.family("target", "info", "Target metadata", "")
    else:
        target = out.family("target_info", "gauge", "Target metadata", "")
    target.lines.append(sample("target_info", pairs(resource.attributes, utf8=utf8), "1"))
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            scope = _scope_pairs(scope_metrics.scope.name, scope_metrics.scope.version)
            for metric in scope_metrics.metrics:
                try:
                    unit, description = metric.unit or "", metric.description or ""
                    _add_metric(out, metric.name, unit, description, metric.data, scope)
                except Exception as exc:
                    record_internal_error("prometheus.render", exc)
    if out.refused:
        record_internal_error(
            "prometheus.exposition",
            ValueError(
                f"{out.refused} series left out (one series twice, or a value the format "
                "cannot hold)"
            ),
        )
    return _encode(_join(out))


def _scope_pairs(name: str, version: str | None) -> tuple[str, ...]:
    scope = [f'otel_scope_name="{escape(name)}"']
    if version:
        scope.append(f'otel_scope_version="{escape(version)}"')
    return tuple(scope)


def _encode(text: str) -> bytes:
    """UTF-8 bytes of ``text``; lone surrogates (``os.fsdecode`` of a non-UTF-8 file name, in
    a label value, the scope, a description) become U+FFFD, counted once per scrape."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        record_internal_error("prometheus.exposition", exc)
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def _kind_of(name: str, data: object) -> str:
    if isinstance(data, Sum):
        return "counter" if data.is_monotonic else "gauge"
    if isinstance(data, Gauge):
        return "gauge"
    if isinstance(data, (Histogram, ExponentialHistogram)):
        return "histogram"
    raise TypeError(f"{name}: {type(data).__name__} has no Prometheus text form")


def _add_metric(
    out: _Render, name: str, unit: str, description: str, data: object, scope: tuple[str, ...]
) -> None:
    kind = _kind_of(name, data)
    fmt = out.fmt
    full = utf8_metric_name(name, unit, kind) if fmt.utf8 else metric_name(name, unit, kind)
    # OpenMetrics names a counter's family without its ``_total`` (its sample has it).
    base = full.removesuffix("_total") if fmt.openmetrics and kind == "counter" else full
    words = unit_words(unit, kind)
    om_unit = words if fmt.openmetrics and words and base.endswith("_" + words) else ""
    family = out.family(base, kind, description, om_unit)
    if isinstance(data, ExponentialHistogram):  # no native form in text: classic (``_native``)
        data = Histogram([classic_point(p) for p in data.data_points], data.aggregation_temporality)
    if isinstance(data, Histogram):
        for point in data.data_points:
            out.refused += histogram_lines(family.lines, family.seen, base, point, scope, fmt)
        return
    numbers: Sequence[NumberDataPoint] = data.data_points  # type: ignore[attr-defined]
    for number in numbers:
        out.refused += _number_lines(family, base, full, kind, number, scope, fmt)


def _number_lines(
    family: _Family,
    base: str,
    full: str,
    kind: str,
    point: NumberDataPoint,
    scope: tuple[str, ...],
    fmt: Format,
) -> int:
    """A counter's or gauge's sample (with ``_created`` and an exemplar in OpenMetrics); 1 if
    OpenMetrics cannot hold it (a negative or NaN counter) or its series was written already
    (two metrics of one name), else 0."""
    value = point.value
    label_pairs = pairs(point.attributes, scope, utf8=fmt.utf8)
    if label_pairs in family.seen:
        return 1
    family.seen.add(label_pairs)
    lines = family.lines
    if not (fmt.openmetrics and kind == "counter"):
        lines.append(sample(full, label_pairs, format_value(value)))
        return 0
    if not value >= 0:  # NaN too
        return 1
    exemplar = exemplar_text(latest(point.exemplars))
    lines.append(sample(full, label_pairs, format_value(value), exemplar))
    start = point.start_time_unix_nano
    if start:
        lines.append(sample(base + "_created", label_pairs, format_value(start / 1e9)))
    return 0


def _help(text: str, openmetrics: bool) -> str:
    escaped = text.replace("\\", "\\\\").replace("\n", "\\n")
    return escaped.replace('"', '\\"') if openmetrics else escaped


def _join(out: _Render) -> str:
    lines: list[str] = []
    openmetrics = out.fmt.openmetrics
    for name, family in out.families.items():
        token = name_token(name)
        if family.help.strip():
            lines.append(f"# HELP {token} {_help(family.help, openmetrics)}")
        lines.append(f"# TYPE {token} {family.kind}")
        if family.unit:
            lines.append(f"# UNIT {token} {family.unit}")
        lines.extend(family.lines)
    lines.append("# EOF" if openmetrics else "")
    text = "\n".join(lines)
    return text + "\n" if openmetrics else text
