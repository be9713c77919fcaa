"""Thresholds: flags over the OTELKIT_ALERT_* variables (shared with in-process alerts) over
defaults; a bad value is a ConfigError naming the flag or the variable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otelkit import ConfigError
from otelkit.config._alerting import alert_settings
from otelkit.ops.catalog import load_catalog
from otelkit.ops.rules import THRESHOLD_FLAGS, Thresholds, generate


def _alert(rules: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name)


def test_the_defaults_are_those_of_the_in_process_alerts() -> None:
    """Without flags and variables, the shared thresholds equal the in-process defaults."""
    thresholds = Thresholds.load(environ={})
    for spec in THRESHOLD_FLAGS:
        if spec.variable_key is not None:
            setting = next(s for s in alert_settings() if s.key == spec.variable_key)
            assert getattr(thresholds, spec.field) == setting.default, spec.field


def test_variables_tune_the_generated_alerts() -> None:
    """OTELKIT_ALERT_CPU_THRESHOLD=90% and _CPU_FOR=10m become HighCpuUsage's > 0.9, for 10m."""
    thresholds = Thresholds.load(
        environ={"OTELKIT_ALERT_CPU_THRESHOLD": "90%", "OTELKIT_ALERT_CPU_FOR": "10m"}
    )
    alert = _alert(generate(load_catalog(None), thresholds=thresholds), "HighCpuUsage")
    assert alert["expr"].endswith("> 0.9")
    assert alert["for"] == "10m"


def test_a_flag_wins_over_the_variable() -> None:
    thresholds = Thresholds.load(
        {"error_rate": "2%"}, environ={"OTELKIT_ALERT_ERROR_RATE_THRESHOLD": "0.1"}
    )
    assert thresholds.error_rate == 0.02
    alert = _alert(generate(load_catalog(None), thresholds=thresholds), "HighErrorRate")
    assert alert["expr"] == "job:http_server_error_ratio:ratio_rate5m > 0.02"


def test_the_window_renames_the_recording_rules() -> None:
    """OTELKIT_ALERT_WINDOW=10m: rates over 10m, recorded as ...:rate10m and read as such."""
    thresholds = Thresholds.load(environ={"OTELKIT_ALERT_WINDOW": "10m"})
    alert = _alert(generate(load_catalog(None), thresholds=thresholds), "HighErrorRate")
    assert alert["expr"].startswith("job:http_server_error_ratio:ratio_rate10m >")


def test_the_p99_threshold_follows_the_p95_one_unless_given() -> None:
    assert Thresholds.load({"latency_p95_s": "2s"}, environ={}).latency_p99_s == 5.0
    assert Thresholds.load({"latency_p99_s": "3s"}, environ={}).latency_p99_s == 3.0


@given(st.sampled_from(["80", "1.5", "-0.1", "high", "", "nan"]))
def test_a_bad_variable_is_named(value: str) -> None:
    with pytest.raises(ConfigError, match="OTELKIT_ALERT_DISK_THRESHOLD"):
        Thresholds.load(environ={"OTELKIT_ALERT_DISK_THRESHOLD": value or " x"})


@given(
    st.sampled_from([s for s in THRESHOLD_FLAGS if s.field != "window_s"]),
    st.text(alphabet="abcxyz!?", min_size=1, max_size=8),
)
def test_a_bad_flag_is_named_with_what_it_accepts(spec: object, value: str) -> None:
    flag = spec.flag  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=f"{flag}=.*Accepted: "):
        Thresholds.load({spec.field: value}, environ={})  # type: ignore[attr-defined]


def test_an_unknown_threshold_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown threshold 'cpu_threshold'"):
        Thresholds.load({"cpu_threshold": "0.9"}, environ={})
