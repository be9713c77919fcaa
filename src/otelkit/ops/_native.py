"""Classic-histogram PromQL rewritten for native histograms (rules and dashboards).

A native histogram is one series, without ``_bucket``, ``_count``, ``_sum`` or ``le``. The
generated rules and panels are written once, for classic histograms; with native histograms on
(``OTELKIT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram``, Prometheus with
``--enable-feature=native-histograms``) every expression over a histogram family of the
catalog is rewritten:

- ``rate(x_bucket{…}[w])`` -> ``rate(x{…}[w])`` (``histogram_quantile`` takes both; ``le``
  leaves the ``by`` clauses);
- ``rate(x_bucket{…, le="b"}[w])`` (a count under a bound: latency SLOs) ->
  ``histogram_fraction(0, b, rate(x{…}[w])) * histogram_count(rate(x{…}[w]))``;
- ``rate(x_count{…}[w])`` -> ``histogram_count(rate(x{…}[w]))``, ``_sum`` ->
  ``histogram_sum(…)`` (``increase`` alike); a bare ``x_count{…}`` -> ``histogram_count(x{…})``.

Recording rules keep their names: alerts and panels that read them stay as they are.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "histogram_families",
    "native_dashboard",
    "native_expr",
    "native_from_environment",
    "native_groups",
]

_SELECTOR = r"(?:\{(?P<sel>[^{}]*)\})?"
_LE = re.compile(r'\s*,?\s*le\s*=\s*"(?P<bound>[^"]*)"\s*,?\s*')
_LE_GROUPING = re.compile(r",\s*le\s*\)")
_ONLY_LE = re.compile(r"\bby\s*\(\s*le\s*\)\s*")


def _pattern(families: Iterable[str]) -> re.Pattern[str] | None:
    names = "|".join(sorted((re.escape(f) for f in families), key=len, reverse=True))
    if not names:
        return None
    return re.compile(
        rf"(?:(?P<fn>rate|increase|irate)\(\s*)?(?<![\w:])(?P<name>{names})_(?P<suffix>bucket|count|sum)"
        rf"(?![\w:]){_SELECTOR}(?:\s*(?P<window>\[[^\]]+\])\s*\))?"
    )


def _selector(inside: str | None) -> str:
    inside = (inside or "").strip().strip(",").strip()
    return "{" + inside + "}" if inside else ""


def _rewrite(found: re.Match[str]) -> str:
    fn, name, suffix = found["fn"], found["name"], found["suffix"]
    window = found["window"]
    if fn is not None and window is None:
        return found[0]  # not a call over this series alone: leave it
    raw = found["sel"] or ""
    bound = _LE.search(raw)
    selector = _selector(_LE.sub(",", raw) if bound else raw)
    series = f"{fn}({name}{selector}{window})" if fn else f"{name}{selector}"
    if suffix == "bucket":
        if bound is None:
            return series
        return f"(histogram_fraction(0, {bound['bound']}, {series}) * histogram_count({series}))"
    return f"histogram_{suffix}({series})"


def native_expr(expr: str, families: Iterable[str]) -> str:
    """``expr`` over the native series of the histogram ``families`` (Prometheus names)."""
    pattern = _pattern(families)
    if pattern is None:
        return expr
    rewritten = pattern.sub(_rewrite, expr)
    if rewritten == expr:
        return expr
    rewritten = _LE_GROUPING.sub(")", rewritten)
    return _ONLY_LE.sub("", rewritten)


def histogram_families(catalog: Any) -> tuple[str, ...]:
    """The Prometheus family names of the catalog's histograms."""
    return tuple(s.prometheus_family for s in catalog.metrics if s.prometheus_kind == "histogram")


def native_groups(groups: list[Any], catalog: Any) -> list[Any]:
    """Rule groups (``rules._model.Group``) with every expression over native histograms."""
    families = histogram_families(catalog)
    return [
        replace(g, rules=tuple(replace(r, expr=native_expr(r.expr, families)) for r in g.rules))
        for g in groups
    ]


def native_dashboard(model: Any, catalog: Any) -> Any:
    """A dashboard JSON model with every ``expr`` (panel targets, variables' queries) native."""
    families = histogram_families(catalog)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: native_expr(v, families)
                if k in ("expr", "query") and isinstance(v, str)
                else walk(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(model)


def native_from_environment(environ: Mapping[str, str]) -> bool:
    """Whether ``OTELKIT_HISTOGRAM_AGGREGATION`` in ``environ`` asks for native histograms:
    ``otelkit rules`` and ``otelkit dashboard`` run with the application's environment write
    queries for the series it exposes (a bad value is a ``ConfigError``, as at init)."""
    from otelkit.config._histogram import HISTOGRAM_AGGREGATION_SETTING
    from otelkit.config._setting import parse_setting

    chosen = parse_setting(HISTOGRAM_AGGREGATION_SETTING, {}, environ, {})
    return bool(chosen == "base2_exponential_bucket_histogram")
