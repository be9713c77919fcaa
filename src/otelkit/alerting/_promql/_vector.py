"""Instant vectors: label sets to values, and the label arithmetic PromQL does on them.

A vector is a dict from ``Labels`` (sorted pairs) to a float. Arithmetic and aggregation drop
``__name__``; a comparison used as a filter keeps the left side's labels and values. Vector
matching follows PromQL's one-to-one rules: the signature is every label but ``__name__``, or
the ``on(...)`` labels, or all but the ``ignoring(...)`` ones; a one-to-one result keeps the
``on`` labels only (with ``on``) or the left side's labels without the ignored ones.
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from otelkit.alerting._promql._samples import Labels

__all__ = [
    "ARITHMETIC",
    "COMPARISON",
    "Matching",
    "Vector",
    "aggregate",
    "binary",
    "drop_name",
    "set_operation",
]

Vector = dict["Labels", float]


def _div(a: float, b: float) -> float:
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
    return a / b


def _mod(a: float, b: float) -> float:
    return math.nan if b == 0 else math.fmod(a, b)


def _pow(a: float, b: float) -> float:
    try:
        return float(a**b)
    except (OverflowError, ZeroDivisionError):
        return math.inf


ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _div,
    "%": _mod,
    "^": _pow,
}
COMPARISON: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


def drop_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != "__name__")


class Matching:
    """How two vectors are matched: ``on`` (True) or ``ignoring`` the ``labels``."""

    __slots__ = ("labels", "on")

    def __init__(self, on: bool = False, labels: Iterable[str] = ()) -> None:
        self.on = on
        self.labels = frozenset(labels)

    def signature(self, labels: Labels) -> Labels:
        if self.on:
            return tuple(pair for pair in labels if pair[0] in self.labels)
        return tuple(p for p in labels if p[0] != "__name__" and p[0] not in self.labels)

    def result(self, labels: Labels) -> Labels:
        """The labels of a one-to-one arithmetic result, from the left side's."""
        if self.on:
            return tuple(pair for pair in labels if pair[0] in self.labels)
        return tuple(p for p in labels if p[0] != "__name__" and p[0] not in self.labels)


def binary(op: str, left: Vector, right: Vector, matching: Matching, *, keep_bool: bool) -> Vector:
    """``left op right`` for two vectors, one-to-one (a side with duplicates drops them)."""
    by_signature: dict[Labels, float] = {}
    duplicated: set[Labels] = set()
    for labels, value in right.items():
        signature = matching.signature(labels)
        if signature in by_signature:
            duplicated.add(signature)
        by_signature[signature] = value
    out: Vector = {}
    arithmetic = ARITHMETIC.get(op)
    compare = COMPARISON.get(op)
    for labels, value in left.items():
        signature = matching.signature(labels)
        if signature not in by_signature or signature in duplicated:
            continue  # PromQL errors on many-to-one without group_left; the rules never do it
        other = by_signature[signature]
        if arithmetic is not None:
            out[matching.result(labels)] = arithmetic(value, other)
        elif compare is not None:
            holds = compare(value, other)
            if keep_bool:
                out[matching.result(labels)] = 1.0 if holds else 0.0
            elif holds:
                out[labels] = value
    return out


def set_operation(op: str, left: Vector, right: Vector, matching: Matching) -> Vector:
    """``and``, ``or``, ``unless``: elements by signature, values from the side they come from."""
    signatures = {matching.signature(labels) for labels in right}
    if op == "and":
        return {k: v for k, v in left.items() if matching.signature(k) in signatures}
    if op == "unless":
        return {k: v for k, v in left.items() if matching.signature(k) not in signatures}
    mine = {matching.signature(labels) for labels in left}
    out = dict(left)
    for labels, value in right.items():
        if matching.signature(labels) not in mine:
            out[labels] = value
    return out


def aggregate(op: str, vector: Vector, labels: frozenset[str], without: bool) -> Vector:
    """``sum``, ``avg``, ``min``, ``max``, ``count`` ``by``/``without`` the labels."""
    groups: dict[Labels, list[float]] = {}
    for series, value in vector.items():
        if without:
            key = tuple(p for p in series if p[0] != "__name__" and p[0] not in labels)
        else:
            key = tuple(p for p in series if p[0] in labels)
        groups.setdefault(key, []).append(value)
    out: Vector = {}
    for key, values in groups.items():
        if op == "sum":
            out[key] = math.fsum(values)
        elif op == "avg":
            out[key] = math.fsum(values) / len(values)
        elif op == "max":
            out[key] = max(values, key=lambda v: -math.inf if math.isnan(v) else v)
        elif op == "min":
            out[key] = min(values, key=lambda v: math.inf if math.isnan(v) else v)
        else:  # count
            out[key] = float(len(values))
    return out
