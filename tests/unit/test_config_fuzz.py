"""The settings parser is total: any value gives valid Settings or a ConfigError, never a crash."""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otelkit import ConfigError
from otelkit.config import _settings as _config
from otelkit.exporters.otlp import OtlpPlugin
from otelkit.exporters.prometheus import PrometheusPlugin
from otelkit.runtime import _load

_ALL_SETTINGS = (*_config.CORE_SETTINGS, *PrometheusPlugin.settings, *OtlpPlugin.settings)
VARIABLES = sorted({s.env for s in _ALL_SETTINGS if s.env})
KEYWORDS = sorted({s.kwarg for s in _ALL_SETTINGS})

# Values that look like what people type, plus anything at all.
near_misses = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e999",
        "nan",
        "true",
        "otlp",
        "prometheus,otlp",
        "none,otlp",
        "a=b",
        "a=%",
        "=",
        ",",
        "grpc",
        "http/json",
        "0.1,0.05",
        "65536",
        "ab c=d",
        "\t",
    ]
)
values = st.one_of(near_misses, st.text(), st.text(alphabet=",=%.-0123456789abcdefghijk "))
python_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.lists(st.one_of(st.text(), st.floats(), st.integers()), max_size=4),
    st.dictionaries(
        st.text(max_size=5), st.one_of(st.text(), st.integers(), st.none()), max_size=3
    ),
)

# Choose exporters that validate their variables but start nothing (no port, no thread).
_BASE = {
    "OTEL_METRICS_EXPORTER": "prometheus,otlp",
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
}


def parse(keywords: dict[str, object], environ: dict[str, str]) -> None:
    try:
        with warnings.catch_warnings():  # advice (a timeout in ms under 100) is not a failure
            warnings.filterwarnings("ignore", "otelkit: ", UserWarning)
            loaded = _load.load_settings(keywords, environ)
            _load.instantiate(loaded)
    except ConfigError:
        return
    assert isinstance(loaded.settings, _config.Settings)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(VARIABLES), values, max_size=6))
def test_any_environment_gives_settings_or_config_error(environment: dict[str, str]) -> None:
    parse({}, {**_BASE, **environment})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([*KEYWORDS, "exporters"]), python_values, max_size=4))
def test_any_keywords_give_settings_or_config_error(keywords: dict[str, object]) -> None:
    parse({k: v for k, v in keywords.items() if v is not None}, dict(_BASE))
