"""Sample lines of the exposition: names, label pairs, values, histogram buckets, exemplars.

A name the legacy syntax cannot hold (a UTF-8 name, served only to scrapers that asked for
them) is quoted: ``{"http.server.request.duration_seconds","http.route"="/"} 1``. Exemplars
(OpenMetrics only) follow a bucket or a counter's ``_total`` as
``# {trace_id="…",span_id="…"} value timestamp``: per bucket the latest exemplar whose value
falls in it, per counter the latest.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from functools import lru_cache
from typing import TYPE_CHECKING

from otelkit.metrics._prometheus_names import label_name, metric_name, unit_words

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from opentelemetry.sdk.metrics import Exemplar
    from opentelemetry.sdk.metrics.export import HistogramDataPoint
    from opentelemetry.util.types import AttributeValue

    from otelkit.exporters.prometheus._negotiation import Format

__all__ = [
    "Lines",
    "escape",
    "exemplar_text",
    "format_value",
    "histogram_lines",
    "label_name",
    "labels",
    "latest",
    "name_token",
    "pairs",
    "sample",
    "utf8_metric_name",
]

Lines = list[str]

_SURROGATES = re.compile("[\ud800-\udfff]")
_LEGACY_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LEGACY_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
HISTOGRAM_RESERVED = frozenset({"le"})


def escape(value: str) -> str:
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


def _utf8_label(key: str) -> str:
    kept = _SURROGATES.sub("\ufffd", key)
    return kept if kept else label_name(key)


def pairs(
    attributes: Mapping[str, AttributeValue] | None,
    extra: Sequence[str] = (),
    reserved: frozenset[str] = frozenset(),
    *,
    utf8: bool = False,
) -> tuple[str, ...]:
    """``a="1"``, ``b="2"``…: keys sanitized (or, with ``utf8``, kept and quoted where they
    must be); keys that collide after it get their values joined.

    ``extra`` are ready-made ``name="value"`` pairs (the scope); an attribute whose name clashes
    with them or with ``reserved`` (``le`` of a histogram) becomes ``exported_<name>``, as
    Prometheus itself does, so one odd attribute can never make the whole scrape invalid.
    """
    taken = reserved | {pair.partition("=")[0] for pair in extra}
    merged: dict[str, list[str]] = {}
    for key, value in sorted((attributes or {}).items()):
        name = _utf8_label(key) if utf8 else label_name(key)
        if name.startswith("__"):  # reserved for Prometheus's own labels
            name = "key" + name
        if name in taken:
            name = "exported_" + name
        merged.setdefault(name, []).append(_label_value(value))
    own = (f'{_label_token(k)}="{escape(";".join(v))}"' for k, v in merged.items())
    return (*extra, *own)


def labels(
    attributes: Mapping[str, AttributeValue] | None,
    extra: Sequence[str] = (),
    reserved: frozenset[str] = frozenset(),
) -> str:
    """``{a="1",b="2"}`` (the escaped names of ``pairs``), or ``""`` without any."""
    found = pairs(attributes, extra, reserved)
    return "{" + ",".join(found) + "}" if found else ""


def _label_token(name: str) -> str:
    return name if _LEGACY_LABEL.fullmatch(name) else f'"{escape(name)}"'


def name_token(name: str) -> str:
    """A metric name as HELP/TYPE/UNIT lines write it: quoted unless legacy."""
    return name if _LEGACY_NAME.fullmatch(name) else f'"{escape(name)}"'


@lru_cache(maxsize=4096)
def _legacy_name(name: str) -> bool:
    return bool(_LEGACY_NAME.fullmatch(name))


def sample(name: str, label_pairs: Sequence[str], value: str, exemplar: str = "") -> str:
    if not _legacy_name(name):
        inside = ",".join((f'"{escape(name)}"', *label_pairs))
        return f"{{{inside}}} {value}{exemplar}"
    if label_pairs:
        return f"{name}{{{','.join(label_pairs)}}} {value}{exemplar}"
    return f"{name} {value}{exemplar}"


@lru_cache(maxsize=256)
def _bounds(explicit: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """A histogram's bounds as floats and as ``le`` values, ``+Inf`` last (computed once per
    set of bounds, not per series)."""
    bounds = tuple(float(b) for b in explicit)
    return bounds, (*(format_value(b) for b in bounds), "+Inf")


def _bucket_parts(base: str, label_pairs: Sequence[str]) -> tuple[str, str]:
    """What comes before and after the ``le`` value on each bucket line of one series (built
    once per series: a scrape writes thousands of bucket lines)."""
    name = base + "_bucket"
    rest = "".join("," + pair for pair in label_pairs)
    opening = f'{name}{{le="' if _legacy_name(name) else f'{{"{escape(name)}",le="'
    return opening, f'"{rest}}} '


def latest(exemplars: Iterable[Exemplar] | None) -> Exemplar | None:
    found = None
    for exemplar in exemplars or ():
        if found is None or exemplar.time_unix_nano >= found.time_unix_nano:
            found = exemplar
    return found


def exemplar_text(exemplar: Exemplar | None) -> str:
    """`` # {trace_id="…",span_id="…"} value timestamp`` (OpenMetrics), or ``""``."""
    if exemplar is None:
        return ""
    ids = []
    if exemplar.trace_id:
        ids.append(f'trace_id="{exemplar.trace_id:032x}"')
    if exemplar.span_id:
        ids.append(f'span_id="{exemplar.span_id:016x}"')
    value = format_value(exemplar.value)
    seconds = exemplar.time_unix_nano / 1e9
    return f" # {{{','.join(ids)}}} {value} {seconds:.3f}"


def _by_bucket(exemplars: Iterable[Exemplar] | None, bounds: Sequence[float]) -> dict[int, str]:
    """The latest exemplar of each bucket (a value equal to a bound is in that bucket)."""
    chosen: dict[int, Exemplar] = {}
    for exemplar in exemplars or ():
        if math.isnan(exemplar.value):
            continue
        index = bisect_left(bounds, exemplar.value)
        seen = chosen.get(index)
        if seen is None or exemplar.time_unix_nano >= seen.time_unix_nano:
            chosen[index] = exemplar
    return {index: exemplar_text(exemplar) for index, exemplar in chosen.items()}


def histogram_lines(
    lines: Lines,
    seen: set[tuple[str, ...]],
    base: str,
    point: HistogramDataPoint,
    scope: Sequence[str],
    fmt: Format,
) -> int:
    """One histogram point's samples; 1 if it was left out (its series was written already:
    ``seen``) or OpenMetrics could not take its ``_sum`` (NaN or negative), else 0.

    OpenMetrics allows no ``_sum`` beside negative buckets, and no ``_count`` without a
    ``_sum``: both are left out then (the buckets say it all)."""
    label_pairs = pairs(point.attributes, scope, HISTOGRAM_RESERVED, utf8=fmt.utf8)
    if label_pairs in seen:
        return 1  # two points of one series (two metrics of one name): the first one counts
    seen.add(label_pairs)
    bounds, les = _bounds(tuple(point.explicit_bounds))
    exemplars = _by_bucket(point.exemplars, bounds) if fmt.openmetrics else {}
    cumulative = 0
    opening, closing = _bucket_parts(base, label_pairs)
    for index, (le, count) in enumerate(zip(les, point.bucket_counts, strict=True)):
        cumulative += count
        line = f"{opening}{le}{closing}{cumulative}"
        lines.append(line + exemplars[index] if index in exemplars else line)
    if not fmt.openmetrics:
        lines.append(sample(base + "_sum", label_pairs, format_value(point.sum)))
        lines.append(sample(base + "_count", label_pairs, str(point.count)))
        return 0
    refused = 0
    if not (bounds and bounds[0] < 0):
        if point.sum >= 0:
            lines.append(sample(base + "_sum", label_pairs, format_value(point.sum)))
            lines.append(sample(base + "_count", label_pairs, str(cumulative)))
        else:
            refused = 1
    if point.start_time_unix_nano:
        created = format_value(point.start_time_unix_nano / 1e9)
        lines.append(sample(base + "_created", label_pairs, created))
    return refused


def utf8_metric_name(name: str, unit: str, kind: str) -> str:
    """The family name for a scraper that takes UTF-8 names: the OpenTelemetry name as it is,
    with the same unit word and ``_total`` as the escaped one (``metric_name``)."""
    kept = _SURROGATES.sub("\ufffd", name)
    if not kept.removesuffix("_total").strip("_"):
        return metric_name(name, unit, kind)
    words = unit_words(unit, kind)
    if words and not kept.endswith("_" + words):
        kept = f"{kept}_{words}"
    if kind == "counter" and not kept.endswith("_total"):
        kept += "_total"
    return kept
