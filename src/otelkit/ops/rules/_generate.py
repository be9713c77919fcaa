"""``generate()``: the rule groups for the integrations a catalog covers, plus the SLOs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from otelkit._errors import ConfigError
from otelkit.ops._native import native_groups
from otelkit.ops.rules._alerting import alerting_groups
from otelkit.ops.rules._celery import celery_groups
from otelkit.ops.rules._context import Context
from otelkit.ops.rules._db import db_groups
from otelkit.ops.rules._health import health_groups
from otelkit.ops.rules._http_client import http_client_groups
from otelkit.ops.rules._red import http_groups, target_groups
from otelkit.ops.rules._render import rule_file
from otelkit.ops.rules._self import self_groups
from otelkit.ops.rules._slo_rules import slo_groups
from otelkit.ops.rules._system import process_groups, system_groups
from otelkit.ops.rules._thresholds import Thresholds

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from otelkit.ops.catalog import Catalog
    from otelkit.ops.rules._model import Group
    from otelkit.ops.rules._slo import SLO

__all__ = ["DEFAULT_RUNBOOK_URL", "INTEGRATION_GROUPS", "build_groups", "generate"]

_LABEL_VALUE = re.compile(r'[^"\\\n]+')

DEFAULT_RUNBOOK_URL = "https://github.com/otelkit/otelkit/blob/main/docs/runbooks.md"

INTEGRATION_GROUPS: tuple[tuple[str, Callable[[Context], list[Group]]], ...] = (
    ("http", http_groups),
    ("http_client", http_client_groups),
    ("db", db_groups),
    ("celery", celery_groups),
    ("system", system_groups),
    ("process", process_groups),
    ("health", health_groups),
    ("alerting", alerting_groups),
    ("otelkit", self_groups),
)
"""Which integration of the catalog brings which rule groups, in file order."""


def build_groups(
    catalog: Catalog,
    *,
    service: str | None = None,
    slos: Iterable[SLO] = (),
    thresholds: Thresholds | None = None,
    runbook_url: str = DEFAULT_RUNBOOK_URL,
    noncritical_checks: Iterable[str] = (),
    http_buckets: Iterable[float] = (),
    native_histograms: bool = False,
) -> list[Group]:
    """The rule groups, as values (``generate()`` renders them; the runbooks read them)."""
    if service is not None and not _LABEL_VALUE.fullmatch(service):
        raise ConfigError(
            f"service={service!r} is not valid. Accepted: a service name (the Prometheus job), "
            "without quotes, backslashes or line breaks."
        )
    ctx = Context(
        catalog,
        thresholds if thresholds is not None else Thresholds.load(),
        service,
        runbook_url,
        frozenset(noncritical_checks),
        tuple(http_buckets),
    )
    groups = target_groups(ctx)
    for integration, build in INTEGRATION_GROUPS:
        if ctx.has(integration):
            groups.extend(build(ctx))
    groups.extend(slo_groups(ctx, tuple(slos)))
    return native_groups(groups, catalog) if native_histograms else groups


def generate(
    catalog: Catalog,
    *,
    service: str | None = None,
    slos: Iterable[SLO] = (),
    thresholds: Thresholds | None = None,
    runbook_url: str = DEFAULT_RUNBOOK_URL,
    noncritical_checks: Iterable[str] = (),
    http_buckets: Iterable[float] = (),
    native_histograms: bool = False,
) -> dict[str, Any]:
    """A Prometheus rule file (as a dict; ``render_yaml()`` writes it) for ``catalog``.

    Only the groups of the integrations the catalog covers; ``service`` restricts every
    selector to ``job="<service>"`` (and adds ``TargetAbsent``); ``thresholds`` default to the
    ``OTELKIT_ALERT_*`` variables, then the defaults.
    """
    groups = build_groups(
        catalog,
        service=service,
        slos=slos,
        thresholds=thresholds,
        runbook_url=runbook_url,
        noncritical_checks=noncritical_checks,
        http_buckets=http_buckets,
        native_histograms=native_histograms,  # PromQL over native series (``ops._native``)
    )
    return rule_file(groups, runbook_url)
