"""The Prometheus protobuf exposition: length-delimited ``io.prometheus.client.MetricFamily``.

The only exposition that carries native histograms (Prometheus asks for it first when started
with ``--enable-feature=native-histograms``). The few messages needed are encoded by hand
(varints, zigzag, length-delimited fields, little-endian doubles) rather than through a
generated module: a dependency and a code generator for five messages. Field numbers are those
of prometheus/client_model's ``metrics.proto``:

- ``MetricFamily``: name 1, help 2, type 3 (counter 0, gauge 1, histogram 4), metric 4;
- ``Metric``: label 1, gauge 2, counter 3, histogram 7; ``LabelPair``: name 1, value 2;
- ``Counter``/``Gauge``: value 1 (a counter's exemplar 2, created_timestamp 3);
- ``Histogram``: sample_count 1, sample_sum 2, bucket 3, schema 5 (sint32), zero_threshold 6,
  zero_count 7, negative_span 9, negative_delta 10 (sint64), positive_span 12,
  positive_delta 13, created_timestamp 15, exemplars 16; ``Bucket``: cumulative_count 1,
  upper_bound 2, exemplar 3;
  ``BucketSpan``: offset 1 (sint32), length 2;
- ``Exemplar``: label 1, value 2, timestamp 3 (``google.protobuf.Timestamp``: seconds 1,
  nanos 2).

Names, labels and the series written are the classic text's (``_samples``): escaped names, or
with ``utf8`` (``escaping=allow-utf-8``) the OpenTelemetry names as they are. A counter's and a
histogram's start goes into ``created_timestamp`` (what OpenMetrics writes as ``_created``).
"""

from __future__ import annotations

import math
import re
import struct
from bisect import bisect_left
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Sum,
)

from otelkit._errors import record_internal_error
from otelkit.exporters._protobuf import field, varint
from otelkit.exporters.prometheus._native import classic_point, native
from otelkit.exporters.prometheus._samples import (
    HISTOGRAM_RESERVED,
    latest,
    pairs,
    utf8_metric_name,
)
from otelkit.metrics._prometheus_names import metric_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from opentelemetry.sdk.metrics import Exemplar
    from opentelemetry.sdk.metrics.export import MetricsData
    from opentelemetry.sdk.resources import Resource

__all__ = ["CONTENT_TYPE", "render_protobuf"]

CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)
_COUNTER, _GAUGE, _HISTOGRAM = 0, 1, 4
_PAIR = re.compile(r'(?:"((?:[^"\\]|\\.)*)"|([^="]+))="((?:[^"\\]|\\.)*)"')
"""``name="value"``, or ``"quoted.name"="value"`` (a UTF-8 name the legacy syntax cannot hold)."""
_UNESCAPE = re.compile(r"\\(.)")
_Families = dict[str, tuple[int, str, list[bytes], set[tuple[str, ...]]]]
"""Family name -> type, help, its encoded ``Metric``s, the label sets written."""


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def _uint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def _sint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(_zigzag(value))


def _double(number: int, value: float) -> bytes:
    return varint((number << 3) | 1) + struct.pack("<d", value)


def _bytes(number: int, payload: bytes) -> bytes:
    return field(varint((number << 3) | 2), payload)


def _text(number: int, value: str) -> bytes:
    return _bytes(number, value.encode("utf-8", "replace"))


def _labels(label_pairs: Sequence[str]) -> bytes:
    """``LabelPair``s from the text form's ``name="escaped value"`` pairs."""
    out = bytearray()
    for pair in label_pairs:
        found = _PAIR.fullmatch(pair)
        if found is None:
            continue
        name = _unescape(found[1]) if found[1] is not None else found[2]
        out += _bytes(1, _text(1, name) + _text(2, _unescape(found[3])))
    return bytes(out)


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m[1] == "n" else m[1], text)


def _timestamp(unix_nano: int) -> bytes:
    """A ``google.protobuf.Timestamp``: seconds 1, nanos 2."""
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    return _uint(1, seconds) + _uint(2, nanos)


def _created(number: int, point: Any) -> bytes:
    """The series' start as ``created_timestamp`` (none when unknown: a pre-fork sum)."""
    start = point.start_time_unix_nano
    return _bytes(number, _timestamp(start)) if start else b""


def _exemplar(exemplar: Exemplar) -> bytes:
    ids = []
    if exemplar.trace_id:
        ids.append(f'trace_id="{exemplar.trace_id:032x}"')
    if exemplar.span_id:
        ids.append(f'span_id="{exemplar.span_id:016x}"')
    timestamp = _timestamp(exemplar.time_unix_nano)
    return _labels(ids) + _double(2, float(exemplar.value)) + _bytes(3, timestamp)


def _spans(number: int, spans: Iterable[tuple[int, int]]) -> bytes:
    return b"".join(_bytes(number, _sint(1, offset) + _uint(2, length)) for offset, length in spans)


def _bucket_exemplars(point: HistogramDataPoint) -> dict[int, Exemplar]:
    """The latest exemplar of each bucket (a value equal to a bound is in that bucket)."""
    chosen: dict[int, Exemplar] = {}
    for exemplar in point.exemplars or ():
        if math.isnan(exemplar.value):
            continue
        index = bisect_left(point.explicit_bounds, exemplar.value)
        seen = chosen.get(index)
        if seen is None or exemplar.time_unix_nano >= seen.time_unix_nano:
            chosen[index] = exemplar
    return chosen


@lru_cache(maxsize=256)
def _upper_bounds(bounds: tuple[float, ...]) -> tuple[bytes, ...]:
    """Each bucket's ``upper_bound`` field, ``+Inf`` last: the same for every series."""
    return tuple(_double(2, float(bound)) for bound in (*bounds, math.inf))


def _classic(point: HistogramDataPoint) -> bytes:
    out = bytearray(_uint(1, int(point.count)) + _double(2, float(point.sum)))
    cumulative = 0
    upper_bounds = _upper_bounds(tuple(point.explicit_bounds))
    exemplars = _bucket_exemplars(point) if point.exemplars else {}
    for index, (bound, count) in enumerate(zip(upper_bounds, point.bucket_counts, strict=True)):
        cumulative += int(count)
        bucket = b"\x08" + varint(cumulative) + bound  # cumulative_count 1, upper_bound 2
        if index in exemplars:
            bucket += _bytes(3, _exemplar(exemplars[index]))
        out += field(b"\x1a", bucket)  # bucket 3
    return bytes(out + _created(15, point))


def _histogram(point: HistogramDataPoint | ExponentialHistogramDataPoint) -> bytes:
    if isinstance(point, HistogramDataPoint):
        return _classic(point)
    buckets = native(point)
    if buckets is None:
        return _classic(classic_point(point))
    out = bytearray(_uint(1, int(point.count)) + _double(2, float(point.sum)))
    out += _sint(5, buckets.schema) + _double(6, 0.0) + _uint(7, buckets.zero_count)
    out += _spans(9, buckets.negative_spans)
    out += b"".join(_sint(10, delta) for delta in buckets.negative_deltas)
    out += _spans(12, buckets.positive_spans)
    out += b"".join(_sint(13, delta) for delta in buckets.positive_deltas)
    for exemplar in point.exemplars or ():
        out += _bytes(16, _exemplar(exemplar))
    return bytes(out + _created(15, point))


def _metric(kind: int, point: Any, label_pairs: Sequence[str]) -> bytes:
    labels = _labels(label_pairs)
    if kind == _HISTOGRAM:
        return labels + _bytes(7, _histogram(point))
    value = _double(1, float(point.value))
    if kind == _GAUGE:
        return labels + _bytes(2, value)
    found = latest(point.exemplars)
    exemplar = _bytes(2, _exemplar(found)) if found else b""
    return labels + _bytes(3, value + exemplar + _created(3, point))


def _kind(data: object) -> tuple[int, str] | None:
    if isinstance(data, Sum):
        return (_COUNTER, "counter") if data.is_monotonic else (_GAUGE, "gauge")
    if isinstance(data, Gauge):
        return _GAUGE, "gauge"
    if isinstance(data, (Histogram, ExponentialHistogram)):
        return _HISTOGRAM, "histogram"
    return None


def render_protobuf(data: MetricsData | None, resource: Resource, *, utf8: bool = False) -> bytes:
    """Every family as a varint-length-prefixed ``MetricFamily``, ``target_info`` first (with
    ``utf8``, names as OpenTelemetry writes them)."""
    families: _Families = {}
    target = _labels(pairs(resource.attributes, utf8=utf8)) + _bytes(2, _double(1, 1.0))
    families["target_info"] = (_GAUGE, "Target metadata", [target], set())
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            scope = [f'otel_scope_name="{_escape(scope_metrics.scope.name)}"']
            if scope_metrics.scope.version:
                scope.append(f'otel_scope_version="{_escape(scope_metrics.scope.version)}"')
            for metric in scope_metrics.metrics:
                try:
                    unit, description = metric.unit or "", metric.description or ""
                    _add(families, metric.name, unit, description, metric.data, scope, utf8)
                except Exception as exc:
                    record_internal_error("prometheus.render", exc)
    out = bytearray()
    for name, (kind, help_text, metrics, _) in families.items():
        body = _text(1, name) + (_text(2, help_text) if help_text else b"") + _uint(3, kind)
        body += b"".join(_bytes(4, metric) for metric in metrics)
        out += varint(len(body)) + body
    return bytes(out)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _add(
    families: _Families,
    name: str,
    unit: str,
    description: str,
    data: object,
    scope: Sequence[str],
    utf8: bool,
) -> None:
    found = _kind(data)
    if found is None:
        return
    kind, word = found
    full = utf8_metric_name(name, unit, word) if utf8 else metric_name(name, unit, word)
    family = families.setdefault(full, (kind, description, [], set()))
    if family[0] != kind:
        return  # another metric of this name and another type: the first one counts
    reserved = HISTOGRAM_RESERVED if kind == _HISTOGRAM else frozenset()
    for point in data.data_points:  # type: ignore[attr-defined]
        label_pairs = pairs(point.attributes, scope, reserved, utf8=utf8)
        if label_pairs in family[3]:
            continue
        family[3].add(label_pairs)
        family[2].append(_metric(kind, point, label_pairs))
