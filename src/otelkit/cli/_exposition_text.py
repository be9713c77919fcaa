"""Reading the Prometheus text exposition (0.0.4) back: samples, deltas, quantiles.

``otelkit scrape`` compares two readings of a live ``/metrics``; it needs the samples (name,
labels, value), the increase of a counter between two readings, and ``histogram_quantile`` over
the increase of the buckets, computed as Prometheus computes it. Comments and timestamps are
ignored; a line that cannot be read is skipped rather than failing the whole reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = ["Reading", "Sample", "histogram_quantile", "parse"]

Labels = tuple[tuple[str, str], ...]
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float

    def label(self, name: str, default: str = "") -> str:
        return dict(self.labels).get(name, default)


def _labels(text: str, start: int) -> tuple[Labels, int]:
    """The ``{a="x",b="y"}`` block starting at ``text[start] == "{"``; returns the end index."""
    pairs: list[tuple[str, str]] = []
    i = start + 1
    while True:
        while i < len(text) and text[i] in " ,":
            i += 1
        if text[i] == "}":
            return tuple(pairs), i + 1
        equals = text.index("=", i)
        name = text[i:equals].strip()
        i = text.index('"', equals) + 1
        value: list[str] = []
        while text[i] != '"':
            if text[i] == "\\":
                value.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
                i += 2
            else:
                value.append(text[i])
                i += 1
        pairs.append((name, "".join(value)))
        i += 1


def _sample(line: str) -> Sample | None:
    end = 0
    while end < len(line) and line[end] not in "{ \t":
        end += 1
    name = line[:end]
    labels: Labels = ()
    if end < len(line) and line[end] == "{":
        labels, end = _labels(line, end)
    words = line[end:].split()
    if not name or not words:
        return None
    return Sample(name, labels, float(words[0]))


def parse(text: str) -> list[Sample]:
    samples = []
    for line in text.split("\n"):  # only \n ends a line: a label value may hold \r or U+2028
        line = line.strip(" \t")
        if not line or line.startswith("#"):
            continue
        try:
            sample = _sample(line)
        except (ValueError, IndexError):
            continue
        if sample is not None:
            samples.append(sample)
    return samples


@dataclass
class Reading:
    """One scrape: its samples by name, and when it was taken (monotonic seconds)."""

    at: float
    samples: list[Sample]
    by_name: dict[str, list[Sample]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {}
        for sample in self.samples:
            self.by_name.setdefault(sample.name, []).append(sample)

    def get(self, name: str) -> list[Sample]:
        return self.by_name.get(name, [])

    def grouped(
        self, name: str, key: Callable[[Sample], str | None], *, per_le: bool = False
    ) -> dict[tuple[str, ...], float]:
        """Sum of the samples of ``name`` per ``key`` (and per ``le`` bound with ``per_le``)."""
        totals: dict[tuple[str, ...], float] = {}
        for sample in self.get(name):
            group = key(sample)
            if group is None:
                continue
            index = (group, sample.label("le")) if per_le else (group,)
            totals[index] = totals.get(index, 0.0) + sample.value
        return totals


def increase(
    before: Mapping[tuple[str, ...], float], after: Mapping[tuple[str, ...], float]
) -> dict[tuple[str, ...], float]:
    """Per key, how much a counter grew (a reset counts from zero, as Prometheus does)."""
    grown = {}
    for key, value in after.items():
        previous = before.get(key, 0.0)
        grown[key] = value - previous if value >= previous else value
    return grown


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of cumulative ``(upper bound, count)`` buckets, interpolating
    linearly inside the bucket as Prometheus does; None without observations."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0 or not math.isinf(ordered[-1][0]):
        return None
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for index, (upper, count) in enumerate(ordered):
        if count >= rank:
            if math.isinf(upper):
                return ordered[index - 1][0] if index > 0 else None
            if count == below:
                return upper
            if index == 0 and upper <= 0:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return None
