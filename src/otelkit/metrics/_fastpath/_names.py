"""The Prometheus names an instrument will be exposed under, to refuse two that would clash.

OpenTelemetry names allow ``.``, ``-`` and ``/``; Prometheus names do not, so ``a.b`` and
``a_b`` become one family, and a histogram ``req`` (no unit) writes ``req_count``, which a gauge
``req_count`` would repeat. Prometheus silently keeps half of such series. The names compared
are those the exposition writes (``otelkit.metrics._prometheus_names``: unit word and
``_total`` included), so ``orders.checkout`` in seconds (``orders_checkout_seconds_*``) and a
counter ``orders.checkout.count`` (``orders_checkout_count_total``) do not clash.
"""

from __future__ import annotations

from otelkit.metrics._prometheus_names import sample_names

__all__ = ["NameCollision", "prometheus_samples"]


class NameCollision(ValueError):
    """Two instruments would be exposed under one Prometheus name."""


def prometheus_samples(name: str, unit: str, kind: str) -> frozenset[str]:
    """Every name ``name`` of ``unit`` and ``kind`` (``histogram``, ``counter``,
    ``up_down_counter``, ``gauge``) takes in the exposition: its family (``# TYPE`` line) and
    its sample names. Two instruments sharing any of them would clash."""
    family, samples = sample_names(name, unit, kind)
    return samples | {family}
