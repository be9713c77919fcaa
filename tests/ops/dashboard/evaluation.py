"""Evaluate a Grafana dashboard's queries in a real Prometheus, as Grafana would send them.

``panel_queries(dashboard)`` lists every query of every panel; ``substitute()`` replaces the
variables the way Grafana's Prometheus data source does (a multi-value or "All" variable becomes
a regex: each value escaped, several joined as ``(a|b)``, "All" its ``allValue``), and the
built-ins ``$__rate_interval``, ``$__interval`` and ``$__range`` as Grafana computes them for
the range; ``evaluate()`` runs a range query (time series, stats) or an instant query at the end
of the range (tables) against any Prometheus URL and says how many series came back, or why
Prometheus refused the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]+?.()|]")
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


@dataclass(frozen=True)
class Query:
    """One target of one panel."""

    row: str
    panel: str
    panel_type: str
    ref: str
    expr: str
    instant: bool


@dataclass(frozen=True)
class Result:
    query: Query
    promql: str
    """The query as sent, variables substituted."""
    series: int
    error: str | None
    last: tuple[float, ...] = ()
    """The last value of each series returned."""


def panel_queries(dashboard: Mapping[str, Any]) -> list[Query]:
    """Every query of every panel, rows' own and collapsed rows' nested panels included."""
    found: list[Query] = []
    row = ""
    for panel in _panels(dashboard["panels"]):
        if panel["type"] == "row":
            row = panel["title"]
            continue
        for target in panel.get("targets", []):
            found.append(
                Query(
                    row,
                    panel["title"],
                    panel["type"],
                    target["refId"],
                    target["expr"],
                    bool(target.get("instant")),
                )
            )
    return found


def _panels(panels: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from panel.get("panels", [])


def regex_value(values: Sequence[str] | None) -> str:
    """A multi-value variable as Grafana writes it into a PromQL regex (None: "All", ``.*``)."""
    if values is None:
        return ".*"
    escaped = [_REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(), v.replace("\\", "\\\\\\\\"))
               for v in values]  # fmt: skip
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def grafana_intervals(step: float, scrape_interval: float, range_seconds: float) -> dict[str, str]:
    """The built-in interval variables Grafana substitutes for a panel of ``step`` seconds."""
    rate_interval = max(step + scrape_interval, 4 * scrape_interval)
    return {
        "__rate_interval": f"{rate_interval:g}s",
        "__interval": f"{step:g}s",
        "__range": f"{range_seconds:g}s",
    }


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """``expr`` with every ``$name``/``${name}`` replaced; an unknown variable is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"the query uses ${name}, which has no value: {expr}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def evaluate(
    url: str,
    query: Query,
    values: Mapping[str, str],
    *,
    start: float,
    end: float,
    step: float,
) -> Result:
    """Run ``query`` over [start, end] (instant queries at ``end``) in the Prometheus at ``url``."""
    promql = substitute(query.expr, values)
    if query.instant:
        params: dict[str, str | float] = {"query": promql, "time": end}
        endpoint = "query"
    else:
        params = {"query": promql, "start": start, "end": end, "step": step}
        endpoint = "query_range"
    body = requests.get(f"{url}/api/v1/{endpoint}", params=params, timeout=30).json()
    if body.get("status") != "success":
        return Result(query, promql, 0, f"{body.get('errorType')}: {body.get('error')}")
    found = body["data"]["result"]
    last = tuple(float(s["value"][1] if query.instant else s["values"][-1][1]) for s in found)
    return Result(query, promql, len(found), None, last)
