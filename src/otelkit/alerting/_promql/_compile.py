"""A PromQL expression, compiled into a function of one evaluation's series.

``compile_expression(text)`` parses with ``promql-parser`` and walks the tree once; anything
outside the subset raises ``Unsupported`` with the reason, so a rule is refused when the file
loads, never when it runs. The subset: selectors with ``=``, ``!=``, ``=~``, ``!~``; range
selectors inside ``rate`` and ``increase``; ``sum``, ``avg``, ``min``, ``max``, ``count``
``by``/``without``; ``histogram_quantile``; ``vector``; arithmetic, comparisons (as filters, or
with ``bool``) and ``and``/``or``/``unless`` with ``on``/``ignoring`` one-to-one matching;
parentheses and unary minus. Not: ``offset``, ``@``, subqueries, ``group_left``/``group_right``,
other functions and aggregations, ranges longer than ``MAX_RANGE``, and ``up`` (Prometheus
writes it per scrape; a process cannot see its own absence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import promql_parser as pp

from otelkit.alerting._promql._functions import RangeStore, extrapolated, quantile_vector
from otelkit.alerting._promql._vector import (
    ARITHMETIC,
    COMPARISON,
    Matching,
    Vector,
    aggregate,
    binary,
    drop_name,
    set_operation,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from otelkit.alerting._promql._samples import Labels, Series

__all__ = ["MAX_RANGE", "Compiled", "Context", "Unsupported", "compile_expression"]

MAX_RANGE = 6 * 3600.0
"""The longest range a rule may read: every evaluation in it is kept in memory."""
_SCRAPED_BY_PROMETHEUS = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
_AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "count"})
_SET_OPERATORS = frozenset({"and", "or", "unless"})
_MEMO_LIMIT = 100_000

Value = float | Vector


class Unsupported(Exception):
    """The expression is valid PromQL but outside the in-process subset; ``str()`` says why."""


@dataclass
class Context:
    """One evaluation: its time and every series (scraped and recorded) by name."""

    now: float
    series: Series
    selected: dict[object, Vector] = field(default_factory=dict)
    """What each distinct selector selected in this evaluation (read again, not recomputed)."""


@dataclass
class Compiled:
    """An expression ready to run, and what it reads."""

    text: str
    run: Callable[[Context], Value]
    scalar: bool
    metrics: set[str] = field(default_factory=set)
    """The metric names its selectors read."""
    ranges: list[float] = field(default_factory=list)
    comparison: tuple[str, float] | None = None
    """The top-level ``op threshold`` when the expression ends in one (for notifications)."""

    def vector(self, context: Context) -> Vector:
        value = self.run(context)
        return value if isinstance(value, dict) else {(): value}


def compile_expression(text: str) -> Compiled:
    """Parse and compile ``text``; ``ValueError`` on bad PromQL, ``Unsupported`` beyond us."""
    tree = pp.parse(text)
    builder = _Builder()
    run, scalar = builder.build(tree)
    compiled = Compiled(text, run, scalar, builder.metrics, builder.ranges)
    top = tree
    while isinstance(top, pp.ParenExpr):
        top = top.expr
    if (
        isinstance(top, pp.BinaryExpr)
        and str(top.op) in COMPARISON
        and isinstance(top.rhs, pp.NumberLiteral)
    ):
        compiled.comparison = (str(top.op), float(top.rhs.val))
    return compiled


Run = tuple["Callable[[Context], Value]", bool]  # the function, and whether it gives a scalar


class _Builder:
    def __init__(self) -> None:
        self.metrics: set[str] = set()
        self.ranges: list[float] = []

    def build(self, node: pp.Expr) -> Run:
        if isinstance(node, pp.NumberLiteral):
            number = float(node.val)
            return (lambda context: number), True
        if isinstance(node, pp.ParenExpr):
            return self.build(node.expr)
        if isinstance(node, pp.UnaryExpr):
            return self._negate(node)
        if isinstance(node, pp.VectorSelector):
            return self._selector(node), False
        if isinstance(node, pp.AggregateExpr):
            return self._aggregate(node), False
        if isinstance(node, pp.Call):
            return self._call(node)
        if isinstance(node, pp.BinaryExpr):
            return self._binary(node)
        if isinstance(node, pp.MatrixSelector):
            raise Unsupported("a range selector is read only inside rate() or increase()")
        if isinstance(node, pp.SubqueryExpr):
            raise Unsupported("subqueries are not in the in-process subset")
        raise Unsupported(f"{type(node).__name__} is not in the in-process subset")

    # -- leaves -----------------------------------------------------------------------------

    def _selector(self, node: pp.VectorSelector) -> Callable[[Context], Vector]:
        if node.offset is not None or node.at is not None:
            raise Unsupported("offset and @ modifiers are not in the in-process subset")
        if node.matchers.or_matchers:
            raise Unsupported("`or` inside a selector is not in the in-process subset")
        name = node.name
        tests: list[tuple[str, Callable[[str], bool]]] = []
        for matcher in node.matchers.matchers:
            if matcher.name == "__name__" and matcher.op == pp.MatchOp.Equal and name is None:
                name = matcher.value
                continue
            tests.append((matcher.name, _test(matcher)))
        if name is None:
            raise Unsupported("a selector without a metric name is not in the in-process subset")
        if name in _SCRAPED_BY_PROMETHEUS:
            raise Unsupported(
                f"{name!r} is written by the Prometheus server for each scrape; a process "
                "cannot observe its own absence (alert on it in Prometheus)"
            )
        self.metrics.add(name)
        wanted = name
        key = (name, tuple(sorted((m.name, str(m.op), m.value) for m in node.matchers.matchers)))
        memo: dict[Labels, bool] = {}

        def matches(labels: Labels) -> bool:
            found = dict(labels)
            return all(test(found.get(label, "")) for label, test in tests)

        def select(context: Context) -> Vector:
            cached = context.selected.get(key)
            if cached is not None:
                return cached  # the same selector elsewhere in this evaluation
            if len(memo) > _MEMO_LIMIT:
                memo.clear()
            out: Vector = {}
            for labels, value in context.series.get(wanted, ()):
                hit = memo.get(labels)
                if hit is None:
                    hit = memo[labels] = matches(labels)
                if hit:
                    out[labels] = out.get(labels, 0.0) + value
            context.selected[key] = out
            return out

        return select

    def _negate(self, node: pp.UnaryExpr) -> Run:
        inner, scalar = self.build(node.expr)
        if scalar:
            return (lambda context: -inner(context)), True  # type: ignore[operator]
        return (
            lambda context: {drop_name(k): -v for k, v in inner(context).items()}  # type: ignore[union-attr]
        ), False

    # -- aggregations and calls -------------------------------------------------------------

    def _aggregate(self, node: pp.AggregateExpr) -> Callable[[Context], Vector]:
        op = str(node.op)
        if op not in _AGGREGATIONS:
            raise Unsupported(f"aggregation {op}() is not in the in-process subset")
        inner, scalar = self.build(node.expr)
        if scalar:
            raise Unsupported(f"{op}() of a scalar")
        modifier = node.modifier
        without = modifier is not None and modifier.type == pp.AggModifierType.Without
        labels = frozenset(modifier.labels if modifier is not None else ())
        return lambda context: aggregate(op, inner(context), labels, without)  # type: ignore[arg-type]

    def _call(self, node: pp.Call) -> Run:
        name = node.func.name
        args = list(node.args)
        if name in ("rate", "increase"):
            return self._range_function(name, args[0]), False
        if name == "histogram_quantile":
            q_run, q_scalar = self.build(args[0])
            inner, scalar = self.build(args[1])
            if not q_scalar or scalar:
                raise Unsupported("histogram_quantile() needs a number and a vector")
            return (
                lambda context: quantile_vector(q_run(context), inner(context))  # type: ignore[arg-type]
            ), False
        if name == "vector":
            inner, scalar = self.build(args[0])
            return (lambda context: {(): inner(context)}), False  # type: ignore[dict-item]
        raise Unsupported(f"function {name}() is not in the in-process subset")

    def _range_function(self, name: str, node: pp.Expr) -> Callable[[Context], Vector]:
        if not isinstance(node, pp.MatrixSelector):
            raise Unsupported(f"{name}() of anything but a range selector (a subquery?)")
        seconds = node.range.total_seconds()
        if seconds > MAX_RANGE:
            raise Unsupported(
                f"the range [{pp.display_duration(node.range)}] is longer than the "
                f"{MAX_RANGE / 3600:g}h the in-process engine keeps in memory"
            )
        self.ranges.append(seconds)
        select = self._selector(node.vector_selector)
        store = RangeStore(seconds)
        per_second = name == "rate"

        names: dict[Labels, Labels] = {}  # each series' labels without __name__, computed once

        def run(context: Context) -> Vector:
            store.observe(context.now, select(context))
            start = context.now - seconds
            out: Vector = {}
            samples_of = store.samples()
            if len(names) > len(samples_of) * 2:
                names.clear()  # forget series that are gone
            for labels, samples in samples_of.items():
                value = extrapolated(samples, start, context.now, per_second=per_second)
                if value is not None:
                    dropped = names.get(labels)
                    if dropped is None:
                        dropped = names[labels] = drop_name(labels)
                    out[dropped] = value
            return out

        return run

    # -- binary operators -------------------------------------------------------------------

    def _binary(self, node: pp.BinaryExpr) -> Run:
        op = str(node.op)
        left, left_scalar = self.build(node.lhs)
        right, right_scalar = self.build(node.rhs)
        modifier = node.modifier
        keep_bool = bool(modifier is not None and modifier.return_bool)
        matching = Matching()
        if modifier is not None:
            if modifier.card not in (None, pp.VectorMatchCardinality.OneToOne) and (
                op not in _SET_OPERATORS
            ):
                raise Unsupported("group_left/group_right is not in the in-process subset")
            if modifier.matching is not None:
                on = modifier.matching.type == pp.LabelModifierType.Include
                matching = Matching(on, modifier.matching.labels)
        if op in _SET_OPERATORS:
            if left_scalar or right_scalar:
                raise Unsupported(f"`{op}` between a scalar and a vector")
            return (
                lambda context: set_operation(op, left(context), right(context), matching)  # type: ignore[arg-type]
            ), False
        if op not in ARITHMETIC and op not in COMPARISON:
            raise Unsupported(f"operator {op!r} is not in the in-process subset")
        if left_scalar and right_scalar:
            if op in COMPARISON and not keep_bool:
                raise Unsupported("a comparison between two numbers needs `bool`")
            return (lambda context: _scalars(op, left(context), right(context))), True  # type: ignore[arg-type]
        if left_scalar or right_scalar:
            return self._with_scalar(op, left, right, left_scalar, keep_bool), False
        return (
            lambda context: binary(op, left(context), right(context), matching, keep_bool=keep_bool)  # type: ignore[arg-type]
        ), False

    @staticmethod
    def _with_scalar(
        op: str,
        left: Callable[[Context], Value],
        right: Callable[[Context], Value],
        scalar_left: bool,
        keep_bool: bool,
    ) -> Callable[[Context], Vector]:
        arithmetic = ARITHMETIC.get(op)
        compare = COMPARISON.get(op)

        def run(context: Context) -> Vector:
            a, b = left(context), right(context)
            vector: Vector = b if scalar_left else a  # type: ignore[assignment]
            number: float = a if scalar_left else b  # type: ignore[assignment]
            out: Vector = {}
            for labels, value in vector.items():
                x, y = (number, value) if scalar_left else (value, number)
                if arithmetic is not None:
                    out[drop_name(labels)] = arithmetic(x, y)
                elif compare is not None:
                    holds = compare(x, y)
                    if keep_bool:
                        out[drop_name(labels)] = 1.0 if holds else 0.0
                    elif holds:
                        out[labels] = value
            return out

        return run


def _scalars(op: str, a: float, b: float) -> float:
    arithmetic = ARITHMETIC.get(op)
    if arithmetic is not None:
        return arithmetic(a, b)
    return 1.0 if COMPARISON[op](a, b) else 0.0


def _test(matcher: pp.Matcher) -> Callable[[str], bool]:
    value = matcher.value
    if matcher.op == pp.MatchOp.Equal:
        return lambda found: found == value
    if matcher.op == pp.MatchOp.NotEqual:
        return lambda found: found != value
    pattern = re.compile(f"(?:{value})\\Z", re.DOTALL)
    if matcher.op == pp.MatchOp.Re:
        return lambda found: pattern.match(found) is not None
    return lambda found: pattern.match(found) is None
