"""The first hour without sharp edges: environments, misspelt variables, durations, errors."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import traceback
import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import otelkit
from otelkit import ConfigError
from otelkit.config import _environ
from otelkit.config import _settings as _config
from otelkit.exporters.otlp import OtlpPlugin
from otelkit.exporters.prometheus import PrometheusPlugin
from otelkit.runtime import _load

# Exporters that validate their variables but start nothing.
QUIET = {"OTEL_METRICS_EXPORTER": "memory", "OTEL_TRACES_EXPORTER": "none"}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(environ: dict[str, str], **keywords: object) -> _config.Settings:
    return _load.load_settings(keywords, {**QUIET, **environ}).settings


def error_of(environ: dict[str, str], **keywords: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load(environ, **keywords)
    return str(caught.value)


def accepted_list(message: str) -> list[str]:
    return [name.strip() for name in message.rsplit("Accepted: ", 1)[1].rstrip(".").split(",")]


# --- OTELKIT_ENVIRONMENT ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "environment"),
    [
        ("development", "development"),
        ("dev", "development"),
        ("staging", "staging"),
        ("Stage", "staging"),
        ("production", "production"),
        ("PROD", "production"),
        (" prod ", "production"),
    ],
)
def test_environment_accepts_its_names_and_short_aliases(given: str, environment: str) -> None:
    assert load({"OTELKIT_ENVIRONMENT": given}).environment == environment


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_staging_has_productions_exporter_defaults(environment: str) -> None:
    settings = _load.load_settings({}, {"OTELKIT_ENVIRONMENT": environment}).settings
    assert settings.production_like
    assert (settings.metrics_exporters, settings.traces_exporters) == (("otlp",), ("otlp",))


def test_development_keeps_the_local_defaults() -> None:
    settings = _load.load_settings({}, {}).settings
    assert not settings.production_like
    assert (settings.metrics_exporters, settings.traces_exporters) == (("prometheus",), ("none",))


@FUZZ
@given(st.text(max_size=20))
def test_any_other_environment_is_a_config_error_naming_the_accepted_ones(name: str) -> None:
    normalized = name.strip().lower()
    assume(normalized and normalized not in {*_config.ENVIRONMENTS, "dev", "stage", "prod"})
    message = error_of({"OTELKIT_ENVIRONMENT": name})
    assert message.startswith("OTELKIT_ENVIRONMENT=")
    assert "`development` (or `dev`), `staging` (or `stage`), `production` (or `prod`)" in message


def test_a_near_miss_of_an_environment_is_named() -> None:
    assert "(did you mean 'production'?)" in error_of({"OTELKIT_ENVIRONMENT": "producton"})


# --- misspelt OTEL_* variables -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("misspelt", "meant"),
    [
        ("OTEL_TRACE_EXPORTER", "OTEL_TRACES_EXPORTER"),
        ("OTEL_EXPORTER_OTLP_ENDPIONT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ("OTEL_SERVICE_NAM", "OTEL_SERVICE_NAME"),
        ("OTEL_RESOURCE_ATTRIBUTE", "OTEL_RESOURCE_ATTRIBUTES"),
    ],
)
def test_a_misspelt_standard_variable_warns_with_the_one_meant(misspelt: str, meant: str) -> None:
    with pytest.warns(UserWarning, match=f"{misspelt} is not an OpenTelemetry variable") as got:
        load({misspelt: "x"})
    assert f"(did you mean {meant!r}?)" in str(got[0].message)


def _known_variables() -> list[str]:
    tables = (*_config.CORE_SETTINGS, *PrometheusPlugin.settings, *OtlpPlugin.settings)
    return [s.env for s in tables if s.env]


def test_no_correct_variable_ever_warns() -> None:
    """Every variable of the SDK's constants, otelkit's table and other tools' namespaces."""
    others = [
        "OTEL_PYTHON_LOG_CORRELATION",
        "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
        "OTEL_NODE_RESOURCE_DETECTORS",
        "OTEL_DOTNET_AUTO_TRACES_ENABLED",
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "OTEL_RESOURCE_DETECTORS",
        "OTEL_TOTALLY_DIFFERENT_THING",  # no near miss: another tool's, left alone
    ]
    names = [*_environ.standard_variables(), *_known_variables(), *others]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _environ.warn_unknown_variables(dict.fromkeys(names, "x"), _known_variables())


_OURS = sorted(
    name
    for name in _environ.standard_variables()
    if not name.startswith(("OTEL_PYTHON_", "OTEL_SEMCONV_"))
)


@st.composite
def misspellings(draw: st.DrawFn) -> str:
    """A standard name with one letter dropped, doubled, replaced, or two letters swapped."""
    name = draw(st.sampled_from(_OURS))
    tail = name.removeprefix("OTEL_")
    at = draw(st.integers(0, len(tail) - 2))
    kind = draw(st.sampled_from(["drop", "double", "swap", "replace"]))
    if kind == "drop":
        tail = tail[:at] + tail[at + 1 :]
    elif kind == "double":
        tail = tail[:at] + tail[at] + tail[at:]
    elif kind == "swap":
        tail = tail[:at] + tail[at + 1] + tail[at] + tail[at + 2 :]
    else:
        tail = tail[:at] + draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")) + tail[at + 1 :]
    return "OTEL_" + tail


@FUZZ
@given(misspellings())
def test_any_one_letter_slip_in_a_standard_variable_warns(misspelt: str) -> None:
    known = _known_variables()
    assume(misspelt not in _environ.standard_variables() and misspelt not in known)
    assume(not misspelt.startswith(("OTEL_PYTHON_", "OTEL_SEMCONV_", "OTEL_INSTRUMENTATION_")))
    with pytest.warns(UserWarning, match="did you mean 'OTEL_") as got:
        _environ.warn_unknown_variables({misspelt: "x"}, known)
    assert misspelt in str(got[0].message)


# --- one duration syntax ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "key", "expected"),
    [
        ("OTELKIT_SHUTDOWN_TIMEOUT", "5s", "shutdown_timeout_s", 5.0),
        ("OTELKIT_SHUTDOWN_TIMEOUT", "500ms", "shutdown_timeout_s", 0.5),
        ("OTELKIT_SHUTDOWN_TIMEOUT", "2", "shutdown_timeout_s", 2.0),
        ("OTELKIT_SHUTDOWN_TIMEOUT", "1m30s", "shutdown_timeout_s", 90.0),
        ("OTEL_METRIC_EXPORT_INTERVAL", "5s", "metric_export_interval_ms", 5000.0),
        ("OTEL_METRIC_EXPORT_INTERVAL", "250", "metric_export_interval_ms", 250.0),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "1m", "metric_export_timeout_ms", 60000.0),
        ("OTELKIT_ALERT_INTERVAL", "1m", "alert_interval_s", 60.0),
    ],
)
def test_durations_take_units_and_plain_numbers_keep_the_documented_one(
    variable: str, value: str, key: str, expected: float
) -> None:
    assert getattr(load({variable: value}), key) == pytest.approx(expected)


def test_the_otlp_timeout_takes_units_too() -> None:
    loaded = _load.load_settings(
        {}, {"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}
    )
    assert loaded.settings.exporter_options["otlp"]["timeout"] == pytest.approx(10000.0)


DURATIONS = [
    "OTELKIT_SHUTDOWN_TIMEOUT",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "OTELKIT_ALERT_WINDOW",
]
# A character outside digits, signs, dots, exponents and unit letters makes any text invalid.
not_a_duration = st.text(min_size=1, max_size=12).filter(
    lambda text: bool(text.strip()) and bool(re.search(r"[^0-9.+\-emshd\s]", text.lower()))
)


@FUZZ
@given(st.sampled_from(DURATIONS), st.one_of(not_a_duration, st.sampled_from(["0", "-5s", "0ms"])))
def test_a_bad_duration_is_a_config_error_naming_the_variable_and_the_syntax(
    variable: str, value: str
) -> None:
    message = error_of({variable: value})
    assert message.startswith(f"{variable}=")
    assert "as a number, or a duration such as `500ms`" in message


# --- accepted exporters, per signal ------------------------------------------------------------


@FUZZ
@given(st.sampled_from(_config.SIGNALS), st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True))
def test_an_unknown_exporter_lists_each_accepted_name_once_for_its_signal(
    signal: str, name: str
) -> None:
    assume(name not in _load._Exporters().names)
    message = error_of({f"OTEL_{signal.upper()}_EXPORTER": name})
    assert message.startswith(f"OTEL_{signal.upper()}_EXPORTER={name!r}")
    accepted = accepted_list(message)
    assert len(accepted) == len(set(accepted))
    assert {"none", "otlp", "console", "memory"} <= set(accepted)
    assert ("prometheus" in accepted) == (signal == "metrics")


# --- ConfigError itself -----------------------------------------------------------------------


def test_config_error_is_shown_under_the_name_users_import() -> None:
    error = ConfigError("OTELKIT_ENVIRONMENT='qa' is not valid")
    assert otelkit.ConfigError.__module__ == "otelkit"
    assert traceback.format_exception_only(error)[0].startswith("otelkit.ConfigError: ")
    assert type(pickle.loads(pickle.dumps(error))) is ConfigError


SCRIPT = "import otelkit\notelkit.init_telemetry()\n"


def run_script(tmp_path: object, **variables: str) -> list[str]:
    script = os.path.join(str(tmp_path), "app.py")
    with open(script, "w") as handle:
        handle.write(SCRIPT)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL", "PYTEST"))}
    result = subprocess.run(
        [sys.executable, script],
        env={**environ, **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    # without the caret lines (`~~~~^^`) that Python 3.13 draws under a call, 3.11 not always
    return [line for line in result.stderr.strip().splitlines() if line.strip(" ~^")]


@pytest.mark.parametrize(
    "variables",
    [
        {"OTELKIT_ENVIRONMENT": "qa"},
        {"OTELKIT_SHUTDOWN_TIMEOUT": "soon"},
        {"OTEL_METRICS_EXPORTER": "prometheusx"},
        {"OTEL_EXPORTER_PROMETHEUS_PORT": "abc"},
    ],
)
def test_a_bad_variable_in_a_script_ends_in_a_short_traceback(
    tmp_path: object, variables: dict[str, str]
) -> None:
    """The script's line, one line of otelkit, the error (measured: 11 to 18 lines before)."""
    lines = run_script(tmp_path, **variables)
    (variable,) = variables
    assert lines[-1].startswith(f"otelkit.ConfigError: {variable}=")
    assert lines[0] == "Traceback (most recent call last):"
    assert len(lines) <= 6, "\n".join(lines)
    assert "_settings.py" not in "\n".join(lines)


# --- OTLP timeouts in milliseconds --------------------------------------------------------------


@pytest.mark.parametrize("variable", _environ.OTLP_TIMEOUT_VARIABLES)
def test_an_otlp_timeout_under_100_warns_that_the_unit_is_milliseconds(variable: str) -> None:
    with pytest.warns(UserWarning, match=f"{variable}='10' is in milliseconds .* 10000 or 10s"):
        load({variable: "10"})


def test_an_otlp_timeout_keyword_under_100_warns_too() -> None:
    with pytest.warns(UserWarning, match=r"init_telemetry\(otlp_timeout=...\)=5 is in millis"):
        load({}, otlp_timeout=5)


@pytest.mark.parametrize("value", ["100", "10000", "5s", "500ms"])
def test_a_plausible_otlp_timeout_is_quiet(value: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load({"OTEL_EXPORTER_OTLP_TIMEOUT": value})


# --- health paths -----------------------------------------------------------------------------


def test_health_paths_are_configurable() -> None:
    settings = load(
        {"OTELKIT_HEALTH_LIVENESS_PATH": "/health", "OTELKIT_HEALTH_READINESS_PATH": "/api/health/"}
    )
    assert (settings.health_liveness_path, settings.health_readiness_path) == (
        "/health",
        "/api/health",
    )


def test_one_path_for_liveness_and_readiness_is_a_config_error() -> None:
    message = error_of({"OTELKIT_HEALTH_LIVENESS_PATH": "/health"}, health_readiness_path="/health")
    assert message.startswith("init_telemetry(health_readiness_path=...)='/health' is not valid")


@FUZZ
@given(
    st.sampled_from(["OTELKIT_HEALTH_LIVENESS_PATH", "OTELKIT_HEALTH_READINESS_PATH"]),
    st.text(min_size=1, max_size=12).filter(
        lambda text: bool(text.strip()) and not text.strip().startswith("/")
    ),
)
def test_a_health_path_not_starting_with_a_slash_is_a_config_error(
    variable: str, value: str
) -> None:
    message = error_of({variable: value})
    assert message.startswith(f"{variable}=")
    assert "is not a path starting with '/'. Accepted: a path starting with `/`" in message


@FUZZ
@given(
    st.sampled_from(_environ.OTLP_TIMEOUT_VARIABLES),
    st.floats(min_value=0.001, max_value=99.99, allow_nan=False),
)
def test_any_otlp_timeout_under_100_warns(variable: str, milliseconds: float) -> None:
    with pytest.warns(UserWarning, match=f"{variable}=.* is in milliseconds"):
        load({variable: repr(milliseconds)})


@FUZZ
@given(st.floats(min_value=100, max_value=1e9, allow_nan=False))
def test_no_otlp_timeout_of_100_or_more_warns(milliseconds: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load({"OTEL_EXPORTER_OTLP_TIMEOUT": repr(milliseconds)})
