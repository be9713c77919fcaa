"""The OpenTelemetry → Prometheus name translation, in one place.

The exposition writes its families with it, the fast registry refuses two instruments whose
exposed names would meet with it, and the operations catalog names its queries with it: a
rule, a dashboard or a collision check never works from a copy of the rules.

Invalid characters become ``_``, the unit is appended as a word (``s`` → ``_seconds``, ``By`` →
``_bytes``, ``1`` on a gauge → ``_ratio``, ``{annotations}`` dropped), monotonic sums get
``_total``.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["exposed_kind", "label_name", "metric_name", "sample_names", "unit_words"]

_UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "%": "percent",
}
_PER_UNITS = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}
_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]+")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]+")
_ANNOTATION = re.compile(r"\{[^}]*\}")
_REPEATED_UNDERSCORES = re.compile(r"__+")
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _sanitize(name: str, pattern: re.Pattern[str]) -> str:
    cleaned = pattern.sub("_", name)
    cleaned = _REPEATED_UNDERSCORES.sub("_", cleaned)
    if cleaned and cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned or "_"


def _unit_words(unit: str, is_gauge: bool) -> str:
    unit = _ANNOTATION.sub("", unit).strip()
    if unit == "1":
        return "ratio" if is_gauge else ""
    if not unit:
        return ""
    main, _, per = unit.partition("/")
    words = _UNITS.get(main, main)
    if per:
        words = f"{words}_per_{_PER_UNITS.get(per, per)}"
    return _sanitize(words, _INVALID_NAME).strip("_")


def unit_words(unit: str, kind: str) -> str:
    """The unit as the word the family name ends with (``s`` → ``seconds``), or ``""``."""
    return _unit_words(unit or "", kind == "gauge")


@lru_cache(maxsize=4096)
def metric_name(name: str, unit: str, kind: str) -> str:
    """The Prometheus family name of an OTel metric; ``kind`` is counter, gauge or histogram."""
    base = _sanitize(name, _INVALID_NAME)
    if not base.removesuffix("_total").strip("_"):
        # Nothing of the name could be kept: "_total" alone would be a counter without a name.
        base = "unnamed" + base
    words = _unit_words(unit or "", kind == "gauge")
    if words and not base.endswith("_" + words):
        base = f"{base}_{words}"
    if kind == "counter" and not base.endswith("_total"):
        base += "_total"
    return _REPEATED_UNDERSCORES.sub("_", base)


@lru_cache(maxsize=4096)
def label_name(key: str) -> str:
    name = _sanitize(key, _INVALID_LABEL)
    return "key" + name if name.startswith("_") and not key.startswith("_") else name


def exposed_kind(instrument: str) -> str:
    """The Prometheus type an instrument kind is exposed as: ``counter`` (monotonic sums),
    ``histogram``, or ``gauge`` (up-down counters and gauges)."""
    if instrument in ("counter", "observable_counter"):
        return "counter"
    if instrument == "histogram":
        return "histogram"
    return "gauge"


def sample_names(name: str, unit: str, instrument: str) -> tuple[str, frozenset[str]]:
    """The family name and the sample names the exposition writes for an instrument of kind
    ``instrument`` (``histogram``, ``counter``, ``up_down_counter``, ``gauge``…)."""
    kind = exposed_kind(instrument)
    family = metric_name(name, unit, kind)
    if kind == "histogram":
        return family, frozenset(family + suffix for suffix in _HISTOGRAM_SUFFIXES)
    return family, frozenset({family})
