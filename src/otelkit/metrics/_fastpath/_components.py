"""Which component an internal ``component`` string of the loss accounting stands for, in the
attributes of the SDK's self-observability conventions.

otelkit counts with short strings (``traces/otlp``, ``metrics``, ``prometheus.scrape``); its
own counters carry ``otel.component.type`` (the kind of component: ``batching_span_processor``,
``otlp_http_span_exporter``, or otelkit's own in the same style, ``otelkit_metric_store``),
``otel.component.name`` where an instance is meant (``batching_span_processor/otlp``: the
exporter plugin's name, stable across restarts, unlike a counter) and ``error.type`` (the
reason). This is the one place that maps the strings:

- ``<signal>/<plugin>`` is the pipeline of one exporter plugin. A drop because of a full queue
  or a shutdown that could not wait (``PROCESSOR_REASONS``) belongs to its batch processor;
  everything else (failed exports and their items) to its exporter, whose type the pipeline
  declares from the exporter it built (``declare_exporter``), or ``<plugin>_<item>_exporter``;
- ``metrics`` is the series store behind ``record()``, the decorators and the cardinality limit;
- any other string is a part of otelkit (internal errors): ``otelkit_`` and the string in
  lower case, with ``_`` for anything not a letter or a digit.
"""

from __future__ import annotations

import re
import threading

from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
    OtelComponentTypeValues,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

__all__ = [
    "ERROR_TYPE",
    "OTEL_COMPONENT_NAME",
    "OTEL_COMPONENT_TYPE",
    "PROCESSOR_REASONS",
    "attributes",
    "declare_exporter",
    "exporter_type",
    "processor_type",
]

PROCESSOR_REASONS = frozenset({"queue_full", "shutdown_timeout"})
"""The drops that happen in a batch processor, before any export."""
METRIC_STORE = "otelkit_metric_store"
_ITEMS = {"traces": "span", "logs": "log", "metrics": "metric"}
_PROCESSORS = {
    "traces": OtelComponentTypeValues.BATCHING_SPAN_PROCESSOR.value,
    "logs": OtelComponentTypeValues.BATCHING_LOG_PROCESSOR.value,
}
_PROTOCOLS = (("otlp.proto.grpc", "OTLP_GRPC"), ("otlp.proto.http", "OTLP_HTTP"))
_NOT_WORD = re.compile(r"[^a-z0-9]+")

_lock = threading.Lock()
_exporters: dict[str, str] = {}
"""``<signal>/<plugin>`` -> the exporter type the pipeline declared."""
_cache: dict[tuple[str, str], dict[str, str]] = {}
"""``attributes()`` by its arguments: a cardinality overflow counts on every measurement."""
_CACHE_SIZE = 1024


def _slug(text: str) -> str:
    return _NOT_WORD.sub("_", text.lower()).strip("_") or "unknown"


def exporter_type(signal: str, plugin: str, exporter: object | None) -> str:
    """The type of the exporter ``plugin`` built for ``signal``: the conventions' name for
    the OTLP exporters of the SDK, ``<plugin>_<item>_exporter`` for any other."""
    item = _ITEMS.get(signal, _slug(signal))
    for _ in range(3):  # a wrapper that keeps the exporter in ``_exporter`` (the OTLP plugin's)
        inner = getattr(exporter, "__dict__", {}).get("_exporter")
        if inner is None:
            break
        exporter = inner
    module = type(exporter).__module__ if exporter is not None else ""
    for fragment, prefix in _PROTOCOLS:
        if fragment in module:
            known = OtelComponentTypeValues.__members__.get(f"{prefix}_{item.upper()}_EXPORTER")
            if known is not None:
                return known.value
    return f"{_slug(plugin)}_{item}_exporter"


def processor_type(signal: str) -> str:
    """The type of the batch processor of ``signal``."""
    return _PROCESSORS.get(signal, f"batching_{_ITEMS.get(signal, _slug(signal))}_processor")


def declare_exporter(component: str, exporter: object | None) -> str:
    """Remember the type of the exporter behind ``component`` (``<signal>/<plugin>``)."""
    signal, _, plugin = component.partition("/")
    kind = exporter_type(signal, plugin, exporter)
    with _lock:
        _exporters[component] = kind
        _cache.clear()
    return kind


def attributes(component: str, reason: str) -> dict[str, str]:
    """The attributes of a count of ``component`` for ``reason`` (not to be changed)."""
    known = _cache.get((component, reason))
    if known is None:
        known = _attributes(component, reason)
        with _lock:
            if len(_cache) >= _CACHE_SIZE:
                _cache.clear()
            _cache[component, reason] = known
    return known


def _attributes(component: str, reason: str) -> dict[str, str]:
    signal, slash, plugin = component.partition("/")
    if slash and signal in _ITEMS and plugin:
        if reason in PROCESSOR_REASONS and signal in _PROCESSORS:
            kind = processor_type(signal)
        else:
            with _lock:
                kind = _exporters.get(component) or exporter_type(signal, plugin, None)
        return {
            OTEL_COMPONENT_TYPE: kind,
            OTEL_COMPONENT_NAME: f"{kind}/{plugin}",
            ERROR_TYPE: reason,
        }
    kind = METRIC_STORE if component == "metrics" else f"otelkit_{_slug(component)}"
    return {OTEL_COMPONENT_TYPE: kind, ERROR_TYPE: reason}
