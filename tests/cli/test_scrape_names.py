"""``otelkit scrape`` reads the series otelkit serves: each metric it reads is in the metric
catalog, under the same series name and with the labels it reads."""

from __future__ import annotations

import pytest

from otelkit.cli._scrape_figures import READS, family
from otelkit.ops.catalog import load_catalog


@pytest.mark.parametrize("name", sorted(READS))
def test_each_metric_read_is_served_under_that_name(name: str) -> None:
    spec = load_catalog().get(name)
    assert spec is not None, f"{name} is not in the metric catalog"
    assert spec.prometheus_series()[0].removesuffix("_bucket") == family(name)
    labels_read = READS[name][2]
    assert set(labels_read) <= set(spec.prometheus_labels())
