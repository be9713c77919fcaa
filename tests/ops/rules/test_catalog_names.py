"""Series names come from the metric catalog: a renamed metric fails generation loudly."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from otelkit.ops.catalog import Catalog, load_catalog
from otelkit.ops.rules import Thresholds, generate, render_yaml
from otelkit.ops.rules._context import MissingMetric


def test_a_metric_renamed_in_the_catalog_breaks_generation() -> None:
    """If http.server.request.duration were renamed, the rules would not silently go stale."""
    renamed = [
        dataclasses.replace(spec, name="http.server.duration")
        if spec.name == "http.server.request.duration"
        else spec
        for spec in load_catalog(None).metrics
    ]
    with pytest.raises(MissingMetric, match=r"'http\.server\.request\.duration'"):
        generate(Catalog(renamed), thresholds=Thresholds())


def test_every_series_the_rules_read_is_in_the_catalog_or_recorded_by_them() -> None:
    """Each metric name in an expression is a catalog series, a recording rule, or ``up``."""
    catalog = load_catalog(None)
    rules = yaml.safe_load(render_yaml(generate(catalog, thresholds=Thresholds())))
    exposed = {name for spec in catalog.metrics for name in spec.prometheus_series()}
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    functions = {
        *("sum", "max", "min", "rate", "deriv", "histogram_quantile", "absent", "vector", "by"),
    }
    keywords = {"and", "or", "job", "le", "without"}
    read: set[str] = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            expr = re.sub(r'"[^"]*"', '""', rule["expr"])  # label values out
            expr = re.sub(r"\{[^}]*\}|\([a-z_, ]*\)\s*\(", "(", expr)  # matchers, by-lists out
            expr = re.sub(r"\[[0-9a-z]+\]", "", expr)
            read |= {
                name
                for name in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)
                if name not in functions | keywords and not name.isdigit()
            }
    assert read - exposed - recorded - {"up"} == set()
