"""Reading the exposition back, as ``otelkit scrape`` does: the samples prometheus_client's own
parser reads, and quantiles that land where Prometheus' ``histogram_quantile`` puts them."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from otelkit.cli._exposition_text import histogram_quantile, parse

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
label_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=20
)


@given(
    routes=st.lists(label_values, min_size=1, max_size=4, unique=True),
    durations=st.lists(st.floats(0, 20, allow_nan=False), max_size=20),
)
def test_samples_match_prometheus_clients_parser(routes: list[str], durations: list[float]) -> None:
    """Label values with quotes, backslashes and newlines included."""
    registry = CollectorRegistry()
    requests = Counter("requests", "Requests.", ["route"], registry=registry)
    latency = Histogram("latency_seconds", "Latency.", ["route"], buckets=BOUNDS, registry=registry)
    for index, route in enumerate(routes):
        requests.labels(route).inc(index + 1)
        for duration in durations:
            latency.labels(route).observe(duration)
    text = generate_latest(registry).decode()
    expected = sorted(
        (sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    )
    ours = sorted((s.name, tuple(sorted(s.labels)), s.value) for s in parse(text))
    assert ours == expected


@given(
    observations=st.lists(st.floats(0.0, 12.0, allow_nan=False), min_size=1, max_size=200),
    q=st.sampled_from((0.5, 0.9, 0.95, 0.99)),
)
def test_a_quantile_lies_in_the_bucket_of_the_true_one(observations: list[float], q: float) -> None:
    bounds = (*BOUNDS, math.inf)
    cumulative = [(le, float(sum(o <= le for o in observations))) for le in bounds]
    estimate = histogram_quantile(q, cumulative)
    rank = max(math.ceil(q * len(observations)), 1)
    true = sorted(observations)[rank - 1]
    upper_index = next(i for i, le in enumerate(bounds) if true <= le)
    if math.isinf(bounds[upper_index]):  # Prometheus answers the highest finite bound
        assert estimate == bounds[-2]
        return
    lower = bounds[upper_index - 1] if upper_index else 0.0
    assert estimate is not None
    assert lower <= estimate <= bounds[upper_index]


def test_no_observations_have_no_quantile() -> None:
    assert histogram_quantile(0.95, [(0.1, 0.0), (math.inf, 0.0)]) is None
