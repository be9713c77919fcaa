"""Prometheus rules, SLOs and Alertmanager routing, generated from the metric catalog.

- ``_model``: ``Record``, ``Alert`` (with its ``Runbook``) and ``Group`` values;
- ``_context``: what every rule module gets, and series names taken from the catalog;
- ``_thresholds``: flags over ``OTELKIT_ALERT_*`` over defaults;
- ``_red``, ``_db``, ``_celery``, ``_system``, ``_health``, ``_self``: one module per
  integration's rule group;
- ``_slo`` (the ``SLO`` value, its registry, ``--slo``) and ``_slo_rules`` (SLIs, burn rates);
- ``_generate``, ``_render``: the rule file; ``_alertmanager``: the routing file;
- ``_runbooks``: docs/runbooks.md; ``_docs``: every committed generated file.
"""

from __future__ import annotations

from otelkit.ops.rules._alertmanager import generate_alertmanager, render_alertmanager
from otelkit.ops.rules._generate import DEFAULT_RUNBOOK_URL, build_groups, generate
from otelkit.ops.rules._render import render_yaml
from otelkit.ops.rules._runbooks import render_runbooks
from otelkit.ops.rules._slo import SLO, clear_slos, parse_slo_flag, register_slo, registered_slos
from otelkit.ops.rules._thresholds import THRESHOLD_FLAGS, Thresholds

__all__ = [
    "DEFAULT_RUNBOOK_URL",
    "SLO",
    "THRESHOLD_FLAGS",
    "Thresholds",
    "build_groups",
    "clear_slos",
    "generate",
    "generate_alertmanager",
    "parse_slo_flag",
    "register_slo",
    "registered_slos",
    "render_alertmanager",
    "render_runbooks",
    "render_yaml",
]
