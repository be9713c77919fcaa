"""``OTELKIT_HISTOGRAM_AGGREGATION``: two accepted values; anything else names them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelkit import ConfigError
from otelkit.config._histogram import HISTOGRAM_AGGREGATIONS
from otelkit.runtime import _load

ENVIRON = {"OTEL_METRICS_EXPORTER": "none", "OTEL_TRACES_EXPORTER": "none"}


def test_explicit_buckets_by_default_and_when_empty() -> None:
    loaded = _load.load_settings({}, {**ENVIRON, "OTELKIT_HISTOGRAM_AGGREGATION": ""})
    assert loaded.settings.histogram_aggregation == "explicit_bucket_histogram"


@pytest.mark.parametrize("name", HISTOGRAM_AGGREGATIONS)
def test_each_accepted_value_from_the_variable_or_the_keyword(name: str) -> None:
    by_variable = _load.load_settings({}, {**ENVIRON, "OTELKIT_HISTOGRAM_AGGREGATION": name})
    by_keyword = _load.load_settings({"histogram_aggregation": name.upper()}, ENVIRON)
    assert by_variable.settings.histogram_aggregation == name
    assert by_keyword.settings.histogram_aggregation == name


@settings(deadline=None)
@given(st.text().filter(lambda v: v.strip() and v.strip().lower() not in HISTOGRAM_AGGREGATIONS))
def test_a_bad_value_names_the_variable_and_the_accepted_values(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load.load_settings({}, {**ENVIRON, "OTELKIT_HISTOGRAM_AGGREGATION": value})
    message = str(raised.value)
    assert "OTELKIT_HISTOGRAM_AGGREGATION" in message
    assert all(name in message for name in HISTOGRAM_AGGREGATIONS)


@settings(deadline=None)
@given(st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.text(), max_size=2)))
def test_a_keyword_of_another_type_names_the_keyword(value: object) -> None:
    with pytest.raises(ConfigError, match="histogram_aggregation"):
        _load.load_settings({"histogram_aggregation": value}, ENVIRON)
